//! `sanctuary detect`: what the machine has (driver, CUDA, GPUs, and where that came from),
//! and which of the manifest's `foundation.keys` it would take and why. Text for people on
//! stdout, or with `--json` a [`DetectReport`] (`schema/detect-report.schema.json`).

use std::process::ExitCode;

use crate::error::{Context as _, Result};
use crate::hardware::{self, DetectReport, REPORT_FORMAT};
use crate::manifest::Manifest;
use crate::printer::Printer;
use crate::settings::DetectSettings;

/// Run `sanctuary detect`.
pub fn detect(settings: &DetectSettings) -> Result<ExitCode> {
    let path = &settings.global.manifest;
    let manifest = if settings.global.manifest_named || path.exists() {
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
    let printer = Printer::new(settings.global.quiet);
    if settings.json {
        let mut text =
            serde_json::to_string_pretty(&report).context("cannot serialise the report")?;
        text.push('\n');
        printer.data(&text)?;
    } else {
        printer.data(&report.render())?;
    }
    Ok(ExitCode::SUCCESS)
}
