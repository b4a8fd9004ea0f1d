//! What the user reads: status lines on stderr (none with `-q`), data on stdout, and the
//! spinner and progress bars of long work (drawn only when stderr is a terminal, never with
//! `-q`). Commands print through a [`Printer`] instead of checking `quiet` themselves; the
//! lock reports shared by `lock` and `sync` live here too.

use std::fmt::Display;
use std::io::Write as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Context as _, Result};
use crate::ops::lockfiles::Written;
use crate::ops::locking::LockProgress;
use crate::pylock::Lockfile;

/// See the module documentation.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    quiet: bool,
}

impl Printer {
    pub fn new(quiet: bool) -> Printer {
        Printer { quiet }
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// A line on stderr, unless quiet.
    pub fn status(&self, line: impl Display) {
        if !self.quiet {
            eprintln!("{line}");
        }
    }

    /// `warning: <line>` on stderr, unless quiet.
    pub fn warning(&self, line: impl Display) {
        if !self.quiet {
            eprintln!("warning: {line}");
        }
    }

    /// A line on stderr whatever the verbosity: the answer of a check (`lock --check`).
    pub fn always(&self, line: impl Display) {
        eprintln!("{line}");
    }

    /// Data on stdout, whatever the verbosity.
    pub fn data(&self, text: &str) -> Result<()> {
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(text.as_bytes())
            .and_then(|()| stdout.flush())
            .context("cannot write to stdout")
    }

    /// A spinner on stderr (hidden when quiet or when stderr is not a terminal).
    pub fn spinner(&self) -> ProgressBar {
        if self.quiet {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }

    /// A byte progress bar on stderr for `total` bytes (hidden as [`Printer::spinner`]).
    pub fn download_bar(&self, total: u64, message: String) -> ProgressBar {
        if self.quiet {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} downloading {msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(message);
        bar
    }

    /// What a lock wrote, removed or left as it was.
    pub fn written(&self, written: &Written) {
        for (file, changed) in &written.files {
            if *changed {
                self.status(format_args!("Wrote {file}"));
            } else {
                self.status(format_args!("{file} is up to date"));
            }
        }
        for file in &written.removed {
            self.status(format_args!("Removed {file}"));
        }
    }
}

/// A lock's progress on stderr: a spinner while resolving, then each lockfile's packages and
/// what changed in it.
pub struct LockReporter {
    printer: Printer,
    spinner: ProgressBar,
    /// `--timings`: the phases, marked as the lock reports them.
    timings: Option<std::sync::Arc<Timings>>,
}

impl LockReporter {
    pub fn new(printer: Printer) -> LockReporter {
        LockReporter {
            printer,
            spinner: printer.spinner(),
            timings: None,
        }
    }

    /// A reporter that also marks the phases in `timings`.
    pub fn timed(printer: Printer, timings: std::sync::Arc<Timings>) -> LockReporter {
        LockReporter {
            timings: Some(timings),
            ..LockReporter::new(printer)
        }
    }
}

impl LockProgress for LockReporter {
    fn resolving(&self, what: &str) {
        self.spinner.set_message(format!("resolving {what}"));
        if let Some(t) = &self.timings {
            t.mark(&format!("resolving {what}"));
        }
    }

    fn done(&self) {
        self.spinner.finish_and_clear();
        if let Some(t) = &self.timings {
            t.mark("writing the lockfiles");
        }
    }

    fn resolved(&self, lockfile: &Lockfile, existing: Option<&Lockfile>) {
        let what = match &lockfile.tool.key {
            Some(key) => format!("{} layer, key {key}", lockfile.tool.layer),
            None => format!("{} layer", lockfile.tool.layer),
        };
        let names: std::collections::BTreeSet<_> =
            lockfile.packages.iter().map(|p| &p.name).collect();
        let over = match lockfile.environments.len() {
            0 | 1 => String::new(),
            n => format!(" for {n} environments"),
        };
        self.spinner.suspend(|| {
            self.printer.status(format_args!(
                "Resolved {} packages ({what}){over}",
                names.len()
            ));
            for line in crate::pylock::diff::summary_lines(existing, lockfile) {
                self.printer.status(format_args!("  {line}"));
            }
        });
    }

    fn warning(&self, message: &str) {
        self.spinner.suspend(|| self.printer.warning(message));
    }

    fn forks(&self, what: &str, lines: &[String]) {
        self.spinner.suspend(|| {
            self.printer.status(format_args!(
                "Locked in more than one version across the environments of {what}:"
            ));
            for line in lines {
                self.printer.status(format_args!("  {line}"));
            }
        });
    }

    fn split(&self, reasons: &[String]) {
        self.printer
            .status("The Application differs between hardware keys, so it is locked per key:");
        for line in reasons {
            self.printer.status(format_args!("  {line}"));
        }
    }
}

/// `--timings`: the phases of a command, each from its mark to the next, and what the
/// network carried meanwhile (`http::counters`). Marks come from the progress callbacks the
/// operations already make, so measuring adds nothing to them.
pub struct Timings {
    started: std::time::Instant,
    network: crate::http::counters::Counters,
    spent: crate::spent::Spent,
    cpu: Option<(std::time::Duration, std::time::Duration)>,
    marks: std::sync::Mutex<Vec<(String, std::time::Instant)>>,
    /// Parts of the last phase the operation measured itself, shown under it, and the name
    /// of what the rest of that phase was.
    detail: std::sync::Mutex<(Vec<(String, std::time::Duration)>, String)>,
}

impl Timings {
    /// Timing starts now, in a first phase named `first`.
    pub fn start(first: &str) -> Timings {
        crate::spent::enable();
        let now = std::time::Instant::now();
        Timings {
            started: now,
            network: crate::http::counters::now(),
            spent: crate::spent::now(),
            cpu: crate::spent::cpu(),
            marks: std::sync::Mutex::new(vec![(first.to_string(), now)]),
            detail: std::sync::Mutex::new((Vec::new(), String::new())),
        }
    }

    /// Parts of the phase now running, as the operation measured them (`downloading 111
    /// wheels`, `installing`), shown under it, then what the rest of the phase went to
    /// (`rest`), so that the parts add up to the phase.
    pub fn detail(&self, parts: Vec<(String, std::time::Duration)>, rest: &str) {
        *self.detail.lock().unwrap_or_else(|e| e.into_inner()) = (parts, rest.to_string());
    }

    /// A new phase, `what`, starts now (the same phase marked again goes on).
    pub fn mark(&self, what: &str) {
        // A poisoned lock only means a thread panicked while marking: keep the marks.
        let mut marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        if marks.last().is_none_or(|(last, _)| last != what) {
            marks.push((what.to_string(), std::time::Instant::now()));
        }
    }

    /// The lines to print: each phase with its seconds (phases of the same name summed, in
    /// the order first seen), the network's requests and bytes, and the total.
    pub fn lines(&self) -> Vec<String> {
        let end = std::time::Instant::now();
        let marks = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        let mut phases: Vec<(String, f64)> = Vec::new();
        for (i, (what, at)) in marks.iter().enumerate() {
            let until = marks.get(i + 1).map_or(end, |(_, t)| *t);
            let secs = until.duration_since(*at).as_secs_f64();
            match phases.iter_mut().find(|(w, _)| w == what) {
                Some((_, total)) => *total += secs,
                None => phases.push((what.clone(), secs)),
            }
        }
        let now = crate::http::counters::now();
        let mut out = vec!["timings:".to_string()];
        out.extend(
            phases
                .iter()
                .map(|(what, secs)| format!("  {secs:>7.3}s  {what}")),
        );
        let detail = self.detail.lock().unwrap_or_else(|e| e.into_inner());
        let (parts, rest) = &*detail;
        out.extend(
            parts
                .iter()
                .map(|(what, d)| format!("    {:>7.3}s  {what}", d.as_secs_f64())),
        );
        if !parts.is_empty() {
            let last = phases.last().map_or(0.0, |(_, secs)| *secs);
            let measured: f64 = parts.iter().map(|(_, d)| d.as_secs_f64()).sum();
            out.push(format!("    {:>7.3}s  {rest}", (last - measured).max(0.0)));
        }
        out.push(network_line(&self.network, &now, self.started));
        if let (Some((user0, sys0)), Some((user, sys))) = (self.cpu, crate::spent::cpu()) {
            out.push(format!(
                "  cpu: {:.3}s user, {:.3}s system, on {} cores",
                user.saturating_sub(user0).as_secs_f64(),
                sys.saturating_sub(sys0).as_secs_f64(),
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            ));
        }
        let spent = crate::spent::now().since(&self.spent);
        if !spent.is_empty() {
            // Time a thread was at it, waiting for a core included: on a busy machine the
            // sums exceed the CPU time, and their proportions are what they tell.
            out.push("  work, summed over the threads doing it (they overlap):".to_string());
            out.extend(
                spent
                    .iter()
                    .map(|(work, d)| format!("    {:>7.3}s  {}", d.as_secs_f64(), work.label())),
            );
        }
        out.push(format!(
            "  {:>7.3}s  in all",
            end.duration_since(self.started).as_secs_f64()
        ));
        out
    }
}

/// `network: 111 requests, 49.4 MiB received in 0.180s busy (274 MB/s), the first answer
/// after 0.048s`: what the network carried between `before` and `now`, for how long a request
/// was in flight, and how long after `started` the first answer came (a slow mirror shows
/// in both).
fn network_line(
    before: &crate::http::counters::Counters,
    now: &crate::http::counters::Counters,
    started: std::time::Instant,
) -> String {
    let requests = now.requests - before.requests;
    let bytes = now.bytes - before.bytes;
    let mut line = format!(
        "  network: {requests} requests, {:.1} MiB received",
        bytes as f64 / (1024.0 * 1024.0)
    );
    let busy = now.busy.saturating_sub(before.busy).as_secs_f64();
    if requests > 0 && busy > 0.0 {
        line.push_str(&format!(
            " in {busy:.3}s busy ({:.0} MB/s)",
            bytes as f64 / busy / 1e6
        ));
    }
    // The process's first answer, when it came during this command.
    if let Some(first) = now.first_head.filter(|t| *t >= started) {
        line.push_str(&format!(
            ", the first answer after {:.3}s",
            first.duration_since(started).as_secs_f64()
        ));
    }
    line
}

#[cfg(test)]
mod timings_tests {
    use std::time::{Duration, Instant};

    use crate::http::counters::Counters;

    #[test]
    fn the_network_line_says_how_long_it_was_busy_and_when_it_first_answered() {
        let started = Instant::now();
        let before = Counters {
            requests: 3,
            bytes: 1000,
            busy: Duration::from_millis(100),
            first_head: None,
        };
        let now = Counters {
            requests: 114,
            bytes: 1000 + 50_000_000,
            busy: Duration::from_millis(300),
            first_head: Some(started + Duration::from_millis(48)),
        };
        assert_eq!(
            super::network_line(&before, &now, started),
            "  network: 111 requests, 47.7 MiB received in 0.200s busy (250 MB/s), \
             the first answer after 0.048s"
        );
        // Nothing sent: no rate, and an answer from before the command is not its.
        let idle = Counters {
            first_head: Some(started - Duration::from_millis(5)),
            ..before
        };
        assert_eq!(
            super::network_line(&before, &idle, started),
            "  network: 0 requests, 0.0 MiB received"
        );
    }
}
