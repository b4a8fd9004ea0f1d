//! The `sanctuary detect` report as text for people (the JSON form is the report itself).

use std::fmt::Write as _;

use super::{DetectReport, Source};

impl DetectReport {
    /// The report as text for people.
    pub fn render(&self) -> String {
        let report = self;
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
                Some(super::CudaSource::Nvml) => "reported by the driver through NVML",
                Some(super::CudaSource::NvidiaSmi) => "reported by nvidia-smi",
                Some(super::CudaSource::DriverTable) | None => "sanctuary's driver table",
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
}
