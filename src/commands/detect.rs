//! `sanctuary detect`: what the machine has (driver, CUDA, GPUs, and where that came from),
//! and which of the manifest's `foundation.keys` it would take and why. Text for people on
//! stdout, or with `--json` a [`DetectReport`] (`schema/detect-report.schema.json`).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::cli::GlobalSettings;
use crate::hardware::{self, DetectReport, KeySettings, REPORT_FORMAT, Source};
use crate::manifest::Manifest;

/// Checked settings of `sanctuary detect`.
#[derive(Clone, Debug)]
pub struct DetectSettings {
    pub global: GlobalSettings,
    pub keys: KeySettings,
    /// Write the report as JSON.
    pub json: bool,
    /// The manifest was named (`--manifest`, `SANCTUARY_MANIFEST`), so a missing one is an
    /// error; the default `./sanctuary.toml` may be absent (detection only).
    pub manifest_named: bool,
}

/// Run `sanctuary detect`.
pub fn detect(settings: &DetectSettings) -> Result<ExitCode> {
    let path = &settings.global.manifest;
    let manifest = if settings.manifest_named || path.exists() {
        Some(Manifest::read(path)?)
    } else {
        tracing::info!("no {}: reporting detection only", path.display());
        None
    };
    let detection = hardware::detect(&settings.keys);
    let keys = manifest
        .as_ref()
        .and_then(|m| m.foundation.as_ref())
        .map(|f| f.keys.clone())
        .unwrap_or_default();
    let selection = if keys.is_empty() {
        None
    } else {
        Some(
            hardware::select_key(&keys, &settings.keys, &detection)
                .with_context(|| format!("cannot choose a hardware key for {}", path.display()))?,
        )
    };
    let report = DetectReport {
        format: REPORT_FORMAT,
        detection,
        manifest: manifest.as_ref().map(|m| m.path.display().to_string()),
        keys,
        requested: settings.keys.requested.as_ref().map(|r| r.to_string()),
        selection,
    };
    if settings.json {
        let mut text =
            serde_json::to_string_pretty(&report).context("cannot serialise the report")?;
        text.push('\n');
        print!("{text}");
    } else {
        print!("{}", render(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as text for people.
pub fn render(report: &DetectReport) -> String {
    let d = &report.detection;
    let mut out = String::new();
    let source = match d.source {
        Source::Nvml => "NVML",
        Source::Proc => "the kernel module",
        Source::NvidiaSmi => "nvidia-smi",
        Source::Env => "SANCTUARY_CUDA_DRIVER_VERSION",
        Source::None => "",
    };
    // Writing to a String cannot fail.
    let _ = match &d.driver_version {
        Some(v) => writeln!(out, "driver:   {v} (from {source})"),
        None => writeln!(out, "driver:   none found"),
    };
    if let Some(c) = d.cuda_version {
        let from = match d.cuda_from {
            Some(hardware::CudaSource::Nvml) => "reported by the driver through NVML",
            Some(hardware::CudaSource::NvidiaSmi) => "reported by nvidia-smi",
            Some(hardware::CudaSource::DriverTable) | None => "sanctuary's driver table",
        };
        let _ = writeln!(out, "cuda:     {c} at most ({from})");
    }
    let _ = writeln!(out, "gpus:     {}", d.gpus.len());
    for g in &d.gpus {
        let mut line = format!("  {}: {}", g.index, g.name);
        if let Some(m) = g.memory_mib {
            let _ = write!(line, ", {m} MiB");
        }
        if let Some(c) = &g.compute_capability {
            let _ = write!(line, ", compute {c}");
        }
        if let Some(u) = &g.uuid {
            let _ = write!(line, ", {u}");
        }
        let _ = writeln!(out, "{line}");
    }
    match &report.manifest {
        None => {
            let _ = writeln!(out, "manifest: none (no key to choose)");
        }
        Some(m) if report.keys.is_empty() => {
            let _ = writeln!(out, "manifest: {m} (no [foundation] keys to choose from)");
        }
        Some(m) => {
            let _ = writeln!(out, "manifest: {m}");
        }
    }
    if let Some(sel) = &report.selection {
        let _ = writeln!(out, "keys:");
        let width = sel
            .candidates
            .iter()
            .map(|c| c.key.len())
            .max()
            .unwrap_or(0);
        for c in &sel.candidates {
            let mark = if c.key == sel.key { '*' } else { ' ' };
            let runs = if c.runs { "runs" } else { "no  " };
            let _ = writeln!(out, "  {mark} {:width$}  {runs}  {}", c.key, c.why);
        }
        let _ = writeln!(out, "key:      {}", sel.key);
        let _ = writeln!(out, "why:      {}", sel.reason);
    } else if let Some(r) = &report.requested {
        let _ = writeln!(out, "asked:    {r} (nothing to choose from)");
    }
    if !d.notes.is_empty() {
        let _ = writeln!(out, "notes:");
        for n in &d.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    out
}
