//! `sanctuary sync`: make a virtual environment exactly what the lockfiles of one hardware
//! key say ([`crate::ops::syncing`]): say which key and why, lock first when the lockfiles
//! are stale (`--locked` refuses, `--frozen` skips the check), then install, replace and
//! remove; `--dry-run` prints the plan on stdout (`--json`: as data) and changes nothing.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use indicatif::ProgressBar;
use serde::Serialize;

use crate::error::Result;
use crate::fs::display;
use crate::install::fetch::Progress;
use crate::install::plan::{Reason, SyncPlan};
use crate::install::venv::Interpreter;
use crate::manifest::Manifest;
use crate::ops::environments;
use crate::ops::lockfiles::{Layer, StaleLockfiles, select};
use crate::ops::locking::{self, LockRequest};
use crate::ops::syncing::{self, SyncOptions, SyncProgress};
use crate::printer::{LockReporter, Printer, Timings};
use crate::settings::{Freshness, SyncSettings};

/// Run `sanctuary sync`.
pub fn sync(settings: &SyncSettings) -> Result<ExitCode> {
    let started = Instant::now();
    let timings = settings.timings.then(|| {
        Timings::start(
            "reading the manifest, choosing the key and the environment, checking the lockfiles",
        )
    });
    let printer = Printer::new(settings.global.quiet);
    let manifest = Manifest::read(&settings.global.manifest)?;
    let root = syncing::venv_root(&manifest, settings.venv.as_deref())?;
    let key = choose_key(settings, &manifest, &root, printer)?;
    ensure_fresh(settings, &manifest, key.as_deref(), printer)?;
    // The environment of this machine and the venv's Python (of a new venv's interpreter):
    // a universal lockfile is read through its markers for it.
    let choice = environments::for_venv(&manifest, &root, settings.python.as_deref())?;
    let selection = select(&manifest, Layer::All, key.as_deref())?;
    // Every entry's origin is checked, those of other environments too: a lockfile that
    // points anywhere undeclared is refused whatever machine reads it.
    syncing::check_origins(&manifest, &settings.network, &selection)?;
    let (selection, environment) = environments::narrow(&manifest, selection, &choice)?;
    if environment.universal {
        printer.status(format_args!(
            "environment: {} (of the {} the lockfiles cover)",
            environment.describe(),
            manifest.universe.targets().len()
        ));
    }
    let desired = syncing::desired(&manifest, &environment, &selection)?;
    syncing::check_host(&manifest, &environment)?;

    if settings.dry_run {
        let (plan, create) =
            syncing::plan_only(&manifest, &environment, &desired, &root, settings.exact)?;
        let shown = display(&root, manifest.dir());
        let text = if settings.json {
            dry_run_json(&plan, &shown, create, key.as_deref())?
        } else {
            dry_run_text(&plan, &shown, create)
        };
        printer.data(&text)?;
        return Ok(ExitCode::SUCCESS);
    }

    let options = SyncOptions {
        environment,
        python: settings.python.clone(),
        exact: settings.exact,
        link: settings.link,
        compile: settings.compile,
    };
    let reporter = SyncReporter {
        printer,
        manifest_dir: manifest.dir(),
        bar: Mutex::new(None),
    };
    if let Some(t) = &timings {
        t.mark("syncing the venv");
    }
    let report = syncing::sync(
        &manifest,
        &settings.network,
        key.as_deref(),
        &desired,
        &root,
        &options,
        &reporter,
    )?;
    if let Some((files, installs)) = report.recovered {
        tracing::warn!(
            "finished an interrupted sync of {}: removed {files} files of {installs} incomplete installs",
            root.display()
        );
    }
    if let Some(t) = &timings {
        t.detail(
            vec![
                (
                    format!(
                        "downloading and unpacking {} wheels ({:.1} MiB)",
                        report.downloaded.0,
                        report.downloaded.1 as f64 / (1024.0 * 1024.0)
                    ),
                    report.download_time,
                ),
                ("building from source".to_string(), report.build_time),
                ("creating the venv".to_string(), report.venv_time),
                (
                    "installing into the venv (links, removals, RECORDs)".to_string(),
                    report.install_time,
                ),
            ],
            "the rest: finding the interpreter, reading the venv and its journal, planning",
        );
    }
    let result = report_sync(&report, &root, &manifest, printer, started);
    if let Some(t) = timings {
        for line in t.lines() {
            printer.always(line);
        }
    }
    result
}

/// What a sync did, in status lines.
fn report_sync(
    report: &syncing::SyncReport,
    root: &Path,
    manifest: &Manifest,
    printer: Printer,
    started: Instant,
) -> Result<ExitCode> {
    let plan = &report.plan;
    let shown = display(root, manifest.dir());
    if plan.is_empty() {
        printer.status(format_args!(
            "{} packages in {shown} are up to date ({} ms)",
            plan.unchanged.len(),
            started.elapsed().as_millis()
        ));
        return Ok(ExitCode::SUCCESS);
    }
    for line in plan_lines(plan, false) {
        printer.status(line);
    }
    printer.status(format_args!(
        "synced {shown}: {} installed, {} removed, {} unchanged in {:.2}s (fetch {:.2}s, {} downloaded, {:.1} MiB; install {:.2}s)",
        plan.install.len(),
        plan.remove.len(),
        plan.unchanged.len(),
        started.elapsed().as_secs_f64(),
        report.fetch_time.as_secs_f64(),
        report.downloaded.0,
        report.downloaded.1 as f64 / (1024.0 * 1024.0),
        report.install_time.as_secs_f64(),
    ));
    Ok(ExitCode::SUCCESS)
}

/// The key, said with why; and when a plain sync moves the venv off the key it was synced
/// with, said so.
fn choose_key(
    settings: &SyncSettings,
    manifest: &Manifest,
    root: &Path,
    printer: Printer,
) -> Result<Option<String>> {
    let Some(selection) = syncing::choose_key(manifest, &settings.keys)? else {
        return Ok(None);
    };
    printer.status(format_args!(
        "hardware key {}: {}",
        selection.key, selection.reason
    ));
    if let Some(previous) = syncing::remembered_key(root)
        && previous != selection.key
    {
        printer.status(format_args!(
            "{} was synced with key {previous}; switching it to {}",
            display(root, manifest.dir()),
            selection.key
        ));
    }
    Ok(Some(selection.key))
}

/// Lock first when the lockfiles are stale (or refuse, with `--locked`).
fn ensure_fresh(
    settings: &SyncSettings,
    manifest: &Manifest,
    key: Option<&str>,
    printer: Printer,
) -> Result<()> {
    if settings.freshness == Freshness::Frozen {
        return Ok(());
    }
    let stale = syncing::stale(manifest, key)?;
    if stale.is_empty() {
        return Ok(());
    }
    if settings.freshness == Freshness::Locked {
        return Err(StaleLockfiles { stale }.into());
    }
    if settings.dry_run {
        // A dry run changes nothing, lockfiles included: it plans from them as they are.
        printer.warning("the lockfiles are out of date; this plan installs them as they are (run `sanctuary lock` to update them):");
        for line in stale.iter().flat_map(|s| s.lines()) {
            printer.status(format_args!("  {line}"));
        }
        return Ok(());
    }
    printer.status("the lockfiles are out of date; locking first:");
    for line in stale.iter().flat_map(|s| s.lines()) {
        printer.status(format_args!("  {line}"));
    }
    let written = locking::lock_manifest(
        manifest,
        &settings.network,
        &LockRequest {
            report_width: settings.global.report_width,
            ..LockRequest::default()
        },
        &LockReporter::new(printer),
    )?;
    printer.written(&written);
    Ok(())
}

/// What a sync tells on stderr: a new venv, a wait for another process, download progress.
struct SyncReporter<'a> {
    printer: Printer,
    manifest_dir: &'a Path,
    bar: Mutex<Option<ProgressBar>>,
}

impl SyncProgress for SyncReporter<'_> {
    fn creating(&self, root: &Path, interpreter: &Interpreter) {
        self.printer.status(format_args!(
            "creating {} with Python {} ({})",
            display(root, self.manifest_dir),
            interpreter.version,
            interpreter.executable.display()
        ));
    }

    fn waiting(&self, root: &Path) {
        self.printer.status(format_args!(
            "waiting for another sanctuary process to finish with {}",
            root.display()
        ));
    }

    fn downloading(&self, count: usize, bytes: u64) -> Option<Progress> {
        let bar = self.printer.download_bar(bytes, format!("{count} wheels"));
        let shared = bar.clone();
        *self.bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
        Some(std::sync::Arc::new(move |delta: i64| {
            if delta >= 0 {
                shared.inc(delta.unsigned_abs());
            } else {
                shared.set_position(shared.position().saturating_sub(delta.unsigned_abs()));
            }
        }))
    }

    fn downloaded(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            bar.finish_and_clear();
        }
    }

    fn building(&self, what: &str) {
        self.printer.status(format_args!("building {what}"));
    }
}

/// The plan, one line a change.
fn plan_lines(plan: &SyncPlan, dry_run: bool) -> Vec<String> {
    let (add, del) = if dry_run {
        ("would install", "would remove")
    } else {
        ("+", "-")
    };
    let mut lines: Vec<String> = plan
        .remove
        .iter()
        .map(|d| format!(" {del} {}=={}", d.name, d.version))
        .collect();
    for i in &plan.install {
        let want = &i.desired;
        lines.push(format!(
            " {add} {}=={}{}",
            want.name,
            want.version,
            reason_text(&i.reason, want)
        ));
    }
    lines
}

/// Why a distribution is (re)installed, for the plan's line (empty when it is missing).
fn reason_text(reason: &Reason, want: &crate::install::plan::Desired) -> String {
    let local = want.build.as_ref().is_some_and(|b| b.local.is_some());
    match reason {
        Reason::Missing => String::new(),
        Reason::Version(old) => format!(" (was {old})"),
        // A local project's identity is its location (and commit).
        Reason::Artifact(_) if local => " (its directory or commit moved)".to_string(),
        Reason::Rebuild if local => " (rebuilt: its sources changed)".to_string(),
        Reason::Artifact(sha) => format!(
            " (another artifact was installed: sha256 {}…)",
            &sha[..sha.len().min(12)]
        ),
        Reason::Unrecorded { installer } => format!(
            " (reinstalled: installed by {} without a record of its artifact)",
            installer.as_deref().unwrap_or("another tool")
        ),
        Reason::Broken(why) => format!(" (reinstalled: {why})"),
        Reason::Rebuild => " (rebuilt: what it was built against changed)".to_string(),
    }
}

/// `sync --dry-run`: the plan for people.
fn dry_run_text(plan: &SyncPlan, venv: &str, create: bool) -> String {
    let mut out = String::new();
    if create {
        out.push_str(&format!("would create a virtual environment at {venv}\n"));
    }
    for line in plan_lines(plan, true) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!(
        "dry run: would install {}, remove {}, leave {} unchanged\n",
        plan.install.len(),
        plan.remove.len(),
        plan.unchanged.len()
    ));
    out
}

/// `sync --dry-run --json`: the plan as data.
fn dry_run_json(plan: &SyncPlan, venv: &str, create: bool, key: Option<&str>) -> Result<String> {
    #[derive(Serialize)]
    struct Change {
        name: String,
        version: String,
        /// The installed version it replaces, if another.
        was: Option<String>,
        reason: String,
    }
    #[derive(Serialize)]
    struct DryRun<'a> {
        venv: &'a str,
        key: Option<&'a str>,
        create: bool,
        install: Vec<Change>,
        remove: Vec<Change>,
        unchanged: Vec<String>,
    }
    let report = DryRun {
        venv,
        key,
        create,
        install: plan
            .install
            .iter()
            .map(|i| Change {
                name: i.desired.name.to_string(),
                version: i.desired.version.to_string(),
                was: match &i.reason {
                    Reason::Version(old) => Some(old.to_string()),
                    _ => None,
                },
                reason: match &i.reason {
                    Reason::Missing => "missing".to_string(),
                    Reason::Version(_) => "other-version".to_string(),
                    Reason::Artifact(_) => "other-artifact".to_string(),
                    Reason::Unrecorded { .. } => "unrecorded".to_string(),
                    Reason::Broken(why) => format!("broken: {why}"),
                    Reason::Rebuild => "rebuild".to_string(),
                },
            })
            .collect(),
        remove: plan
            .remove
            .iter()
            .map(|d| Change {
                name: d.name.to_string(),
                version: d.version.to_string(),
                was: None,
                reason: "not-locked".to_string(),
            })
            .collect(),
        unchanged: plan.unchanged.iter().map(ToString::to_string).collect(),
    };
    let mut text = serde_json::to_string_pretty(&report)
        .map_err(|e| crate::error::Error::msg(format!("cannot serialise the plan: {e}")))?;
    text.push('\n');
    Ok(text)
}
