//! `sanctuary lock`: resolve the manifest and write its lockfiles ([`crate::ops::locking`]),
//! or with `--check` say which are stale or inconsistent and exit 1.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use crate::error::Result;
use crate::manifest::Manifest;
use crate::ops::indexes::trusted_indexes;
use crate::ops::locking::{self, FileCheck, LockPlan, LockRequest};
use crate::printer::{LockReporter, Printer, Timings};
use crate::settings::LockSettings;

/// Run `sanctuary lock`.
pub fn lock(settings: &LockSettings) -> Result<ExitCode> {
    let manifest = Manifest::read(&settings.global.manifest)?;
    if settings.check {
        return check(settings, &manifest);
    }
    let printer = Printer::new(settings.global.quiet);
    let started = Instant::now();
    let request = LockRequest {
        upgrade_all: settings.upgrade_all,
        upgrade: settings.upgrade.clone(),
        keys: settings.keys.clone(),
        report_width: settings.global.report_width,
        local: Vec::new(),
    };
    let timings = settings.timings.then(|| {
        Arc::new(Timings::start(
            "reading the manifest and the local projects",
        ))
    });
    let reporter = match &timings {
        Some(t) => LockReporter::timed(printer, Arc::clone(t)),
        None => LockReporter::new(printer),
    };
    let written = locking::lock_manifest(&manifest, &settings.network, &request, &reporter)?;
    printer.written(&written);
    printer.status(format_args!(
        "Locked in {:.2}s",
        started.elapsed().as_secs_f64()
    ));
    if let Some(t) = timings {
        for line in t.lines() {
            printer.always(line);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `lock --check`: every lockfile present, made from the current inputs, and naming only
/// artifacts of the declared indexes.
fn check(settings: &LockSettings, manifest: &Manifest) -> Result<ExitCode> {
    let printer = Printer::new(settings.global.quiet);
    let plan = LockPlan::new(manifest, &settings.keys)?;
    let trusted = trusted_indexes(manifest, &settings.network.index_overrides)?;
    let mut ok = true;
    for file in plan.check(manifest, &trusted) {
        match file {
            FileCheck::UpToDate(file) => printer.always(format_args!("{file} is up to date")),
            FileCheck::Stale(stale) => {
                ok = false;
                for line in stale.lines() {
                    printer.always(line);
                }
            }
            FileCheck::Inconsistent(e) => {
                ok = false;
                printer.always(format_args!(
                    "{} is inconsistent with the declared indexes:",
                    e.file
                ));
                for problem in &e.problems {
                    printer.always(format_args!("  - {problem}"));
                }
            }
            FileCheck::Invalid { file, problems } => {
                ok = false;
                printer.always(format_args!(
                    "{file} cannot be installed as it is (edited by hand?):"
                ));
                for problem in &problems {
                    printer.always(format_args!("  - {problem}"));
                }
            }
        }
    }
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        printer.always("hint: run `sanctuary lock` and commit the result");
        Ok(ExitCode::FAILURE)
    }
}
