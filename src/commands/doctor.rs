//! `sanctuary doctor`: is the environment what the lockfiles say, and will it run on this
//! machine?
//!
//! It detects the hardware and chooses a key as `sanctuary detect` does, reads the venv
//! (`[sync] venv` beside the manifest, or `--venv`) through [`crate::environment`], and
//! compares it with the Foundation lockfile of that key and the Application lockfile:
//! packages missing, extra (the bootstrap tools pip, setuptools and wheel are only noted),
//! at other versions, at the locked version from an artifact no lockfile names (the sha256
//! of its PEP 710 `provenance_url.json`), or with installed files whose sha256 no longer
//! matches `RECORD`. It
//! checks that the installed CUDA builds (`torch 2.9.0+cu130`) run on the driver. It writes
//! `reports/environment_report.md` and `.json` ([`EnvironmentReport`],
//! `schema/environment-report.schema.json`) beside the manifest, prints a summary (or the
//! JSON with `--json`) and exits 1 when any finding is an error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use crate::environment::{Environment, FileState};
use crate::error::{Context as _, Result};
use crate::fs::{display, write_atomically};
use crate::hardware;
use crate::manifest::Manifest;
use crate::ops::examine::{EnvironmentReport, PackageReport, PackageStatus, Severity, examine};
use crate::ops::syncing::{remembered_key, venv_root};
use crate::printer::Printer;
use crate::settings::DoctorSettings;

/// Run `sanctuary doctor`.
pub fn doctor(settings: &DoctorSettings) -> Result<ExitCode> {
    let printer = Printer::new(settings.global.quiet);
    let manifest = Manifest::read(&settings.global.manifest)?;
    let base = manifest.dir().to_path_buf();
    let venv = venv_root(&manifest, settings.venv.as_deref())?;
    // Without a flag, the key the environment was synced with: is it what that key's
    // lockfiles say, and can this machine run it?
    let mut keys = settings.keys.clone();
    if keys.requested.is_none()
        && let Some(key) = remembered_key(&venv)
    {
        keys.remember(&key);
    }
    let detection = hardware::detect(&keys);
    let environment = Environment::read(&venv);
    let report = examine(&manifest, &keys, detection, &venv, environment);

    let reports = base.join("reports");
    let mut json = serde_json::to_string_pretty(&report).context("cannot serialise the report")?;
    json.push('\n');
    write_atomically(
        &reports.join("environment_report.md"),
        render_markdown(&report).as_bytes(),
    )?;
    write_atomically(&reports.join("environment_report.json"), json.as_bytes())?;
    if settings.json {
        printer.data(&json)?;
    } else if !printer.quiet() {
        printer.data(&render_summary(&report))?;
        printer.data(&format!(
            "reports:  {} and .json\n",
            display(&reports.join("environment_report.md"), &base)
        ))?;
    }
    Ok(if report.summary.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn status_word(s: PackageStatus) -> &'static str {
    match s {
        PackageStatus::Ok => "ok",
        PackageStatus::Missing => "missing",
        PackageStatus::Extra => "extra",
        PackageStatus::Bootstrap => "bootstrap",
        PackageStatus::OtherVersion => "other version",
        PackageStatus::OtherArtifact => "other artifact",
        PackageStatus::Modified => "modified",
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn verdict(report: &EnvironmentReport) -> String {
    let s = &report.summary;
    let counts = format!(
        "{} error{}, {} warning{}, {} note{}",
        s.errors,
        if s.errors == 1 { "" } else { "s" },
        s.warnings,
        if s.warnings == 1 { "" } else { "s" },
        s.infos,
        if s.infos == 1 { "" } else { "s" }
    );
    if s.ok {
        format!("ok: the environment matches the lockfiles and runs here ({counts})")
    } else {
        format!("not ok: {counts}")
    }
}

/// The summary printed on stdout.
pub fn render_summary(report: &EnvironmentReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "venv:     {}", report.venv);
    if let Some(py) = &report.python {
        let _ = writeln!(
            out,
            "python:   {py} (lockfiles target {})",
            report.target_python
        );
    }
    let d = &report.hardware.detection;
    let _ = match (&d.driver_version, d.cuda_version) {
        (Some(v), Some(c)) => writeln!(out, "driver:   {v} (CUDA {c} at most)"),
        (Some(v), None) => writeln!(out, "driver:   {v}"),
        (None, _) => writeln!(out, "driver:   none found"),
    };
    match &report.key {
        Some(k) => {
            let _ = writeln!(out, "key:      {} ({})", k.key, k.reason);
        }
        None if report.hardware.keys.is_empty() => {
            let _ = writeln!(out, "key:      none (no [foundation])");
        }
        None => {
            let _ = writeln!(out, "key:      none could be chosen");
        }
    }
    for l in &report.lockfiles {
        let _ = writeln!(out, "lockfile: {l}");
    }
    let counts = report.packages.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(status_word(p.status)).or_insert(0usize) += 1;
        m
    });
    if !counts.is_empty() {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = writeln!(out, "packages: {}", parts.join(", "));
    }
    for f in &report.findings {
        let _ = writeln!(out, "{}: {}", severity_word(f.severity), f.message);
        if let Some(h) = &f.hint {
            let _ = writeln!(out, "  hint: {h}");
        }
    }
    let _ = writeln!(out, "{}", verdict(report));
    out
}

/// `reports/environment_report.md`.
pub fn render_markdown(report: &EnvironmentReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Environment report\n");
    let _ = writeln!(out, "**{}**\n", verdict(report));
    let _ = writeln!(out, "- manifest: `{}`", report.manifest);
    let _ = writeln!(out, "- venv: `{}`", report.venv);
    if let Some(sp) = &report.site_packages {
        let _ = writeln!(out, "- site-packages: `{sp}`");
    }
    let _ = writeln!(
        out,
        "- python: {} (lockfiles target {})",
        report.python.as_deref().unwrap_or("unknown"),
        report.target_python
    );
    match &report.key {
        Some(k) => {
            let _ = writeln!(out, "- key: `{}`: {}", k.key, k.reason);
        }
        None => {
            let _ = writeln!(out, "- key: none");
        }
    }
    for l in &report.lockfiles {
        let _ = writeln!(out, "- lockfile: `{l}`");
    }
    let _ = writeln!(out, "\n## Findings\n");
    if report.findings.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for f in &report.findings {
        let _ = writeln!(out, "- **{}**: {}", severity_word(f.severity), f.message);
        if let Some(h) = &f.hint {
            let _ = writeln!(out, "  - hint: {h}");
        }
    }
    let _ = writeln!(out, "\n## Packages\n");
    let _ = writeln!(
        out,
        "| package | layer | locked | installed | installer | status |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    for p in &report.packages {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            p.name,
            cell(&p.layer),
            cell(&p.locked),
            cell(&p.installed),
            cell(&p.installer),
            status_word(p.status)
        );
    }
    let modified: Vec<&PackageReport> = report
        .packages
        .iter()
        .filter(|p| !p.files.is_empty())
        .collect();
    if !modified.is_empty() {
        let _ = writeln!(out, "\n## Files that no longer match RECORD\n");
        for p in modified {
            for f in &p.files {
                let _ = writeln!(
                    out,
                    "- `{}` {}: `{}` expected `{}`, found `{}`",
                    p.name,
                    match f.state {
                        FileState::Modified => "modified",
                        FileState::Missing => "missing",
                        FileState::Unreadable => "unreadable",
                    },
                    f.path,
                    f.expected,
                    f.actual.as_deref().unwrap_or("-")
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n## Hardware\n\n```text\n{}```",
        report.hardware.render()
    );
    out
}
