//! Running each timed command through a small launcher process, so that the peak memory a run
//! reports is the tool's own and not the bench's.
//!
//! Linux reports a process's peak RSS (`ru_maxrss`) as the largest of the address spaces it ran
//! in, and a spawned child runs in its parent's (or a copy of it) until `exec`: every child of a
//! process whose memory once peaked at 300 MiB reports at least 300 MiB, even `/bin/true`. A
//! bench that holds a set's wheels or parses large outputs would thus raise the figure of every
//! tool it times after that, the smaller tool's most. So `measure` starts the bench's own
//! binary again, fresh (a few MiB), with [`REPORT_ENV`] set: that process spawns the tool with
//! the same arguments, environment, directory and output files, times it, reaps it with `wait4`,
//! kills it at the timeout, and writes a [`Report`] for the bench to read. Every bench's `main`
//! calls [`serve`] first.

use std::env;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

/// Where the launcher writes its [`Report`]; set only on the launcher's own process.
pub const REPORT_ENV: &str = "BENCH_LAUNCH_REPORT";
/// The tool's timeout, in milliseconds.
pub const TIMEOUT_ENV: &str = "BENCH_LAUNCH_TIMEOUT_MS";
/// How long the bench waits for the launcher beyond the tool's timeout before killing it.
pub const GRACE: Duration = Duration::from_secs(30);

/// What the launcher measured of one run.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    /// Why the tool could not be started, when it could not.
    pub not_started: Option<String>,
    pub success: bool,
    /// The exit status, as `std` prints it.
    pub status: String,
    pub timed_out: bool,
    pub wall_s: f64,
    pub cpu_s: Option<f64>,
    pub max_rss_kib: Option<u64>,
    /// The peak RSS of the launcher's address space (`VmHWM`) when it started the tool, which
    /// the tool runs in until its `exec`: no run can report less.
    pub launcher_rss_kib: Option<u64>,
}

/// In the launcher (when [`REPORT_ENV`] is set): run the command of the arguments and write the
/// report, then `Some` of how that went; `None` in the bench itself.
pub fn serve() -> Option<Result<()>> {
    let report = env::var_os(REPORT_ENV)?;
    Some(run(Path::new(&report)))
}

fn run(report_path: &Path) -> Result<()> {
    let timeout_ms: u64 = env::var(TIMEOUT_ENV)
        .with_context(|| format!("{TIMEOUT_ENV} is not set"))?
        .parse()
        .with_context(|| format!("{TIMEOUT_ENV} is not a number"))?;
    let mut args = env::args_os().skip(1);
    let program = args.next().context("the launcher was given no command")?;
    let mut cmd = Command::new(&program);
    cmd.args(args)
        .env_remove(REPORT_ENV)
        .env_remove(TIMEOUT_ENV);
    let launcher_rss_kib = address_space_peak_kib();
    let start = std::time::Instant::now();
    let report = match cmd.spawn() {
        Err(err) => Report {
            not_started: Some(format!(
                "could not start {}: {err}",
                program.to_string_lossy()
            )),
            success: false,
            status: String::new(),
            timed_out: false,
            wall_s: 0.0,
            cpu_s: None,
            max_rss_kib: None,
            launcher_rss_kib,
        },
        Ok(mut child) => {
            let (status, wall, cpu_s, max_rss_kib, timed_out) =
                super::process::wait_child(&mut child, start, Duration::from_millis(timeout_ms))?;
            Report {
                not_started: None,
                success: status.success(),
                status: status.to_string(),
                timed_out,
                wall_s: wall.as_secs_f64(),
                cpu_s,
                max_rss_kib,
                launcher_rss_kib,
            }
        }
    };
    fs::write(report_path, serde_json::to_string(&report)?)
        .with_context(|| format!("writing {}", report_path.display()))
}

/// The peak RSS of this process's address space since its `exec` (`VmHWM`), which a child
/// spawned now starts from. Not `getrusage`'s `ru_maxrss`: that one also counts the address
/// space this process was spawned from, the bench's.
fn address_space_peak_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The launcher's command for `cmd`: this binary, the program and its arguments as arguments,
/// and `cmd`'s changes to the environment and its directory. (`Command` does not tell whether
/// `env_clear` was called; no bench calls it.)
pub fn command(cmd: &Command, report: &Path, timeout: Duration) -> Result<Command> {
    let mut launcher = Command::new(env::current_exe().context("finding the bench's binary")?);
    launcher.arg(cmd.get_program()).args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => launcher.env(key, value),
            None => launcher.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        launcher.current_dir(dir);
    }
    launcher
        .env(REPORT_ENV, report)
        .env(TIMEOUT_ENV, timeout.as_millis().to_string());
    Ok(launcher)
}
