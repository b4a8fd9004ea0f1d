//! Hardware detection and the choice of a Foundation hardware key.
//!
//! [`detect`] finds the NVIDIA driver, the newest CUDA it runs and the GPUs: through NVML
//! (`nvml-wrapper`, loaded at run time, so the binary runs where no NVIDIA library exists;
//! WSL's library too), else `/proc/driver/nvidia/version` or `/sys/module/nvidia/version`
//! and `nvidia-smi`, with [`cuda::DRIVER_CUDA_TABLE`] for the CUDA version when the driver
//! could not say; `SANCTUARY_CUDA_DRIVER_VERSION` pretends a driver instead. No driver, no
//! GPU, a broken NVML are normal outcomes: they fall back and say so in
//! [`Detection::notes`]. [`select_key`] then chooses among the manifest's `foundation.keys`.
//! Everything that touches the machine goes through [`Probe`], so tests inject fakes.

pub mod cuda;
pub mod family;
pub mod parse;
pub mod probe;
mod render;
pub mod select;

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Serialize;

pub use cuda::{CudaVersion, DriverVersion, InvalidDriverVersion, max_cuda_for_driver};
pub use probe::{NvmlError, NvmlReport, Probe, SystemProbe};
pub use select::{
    Candidate, ChosenBy, KeyFamily, KeyRequest, KeySettings, KeySettingsError, RequestOrigin,
    Requested, SelectError, Selection, select_key,
};

/// The driver's version file of the kernel module.
pub const PROC_VERSION: &str = "/proc/driver/nvidia/version";
/// The same version, from sysfs (present where `/proc/driver/nvidia` is not mounted).
pub const SYS_MODULE_VERSION: &str = "/sys/module/nvidia/version";

/// One GPU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Gpu {
    /// Position in NVML's (or `nvidia-smi`'s) order, from 0.
    pub index: u32,
    pub name: String,
    /// Total memory in MiB.
    pub memory_mib: Option<u64>,
    /// `major.minor`, e.g. `9.0`.
    pub compute_capability: Option<String>,
    pub uuid: Option<String>,
}

/// Where the driver version came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Nvml,
    /// `/proc/driver/nvidia/version` or `/sys/module/nvidia/version`.
    Proc,
    NvidiaSmi,
    /// `SANCTUARY_CUDA_DRIVER_VERSION`.
    Env,
    /// No driver found.
    None,
}

/// Where the CUDA version came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CudaSource {
    /// The driver, through NVML.
    Nvml,
    /// The driver, through the `nvidia-smi` banner.
    NvidiaSmi,
    /// sanctuary's table from driver versions (see `DRIVER_CUDA_TABLE`).
    DriverTable,
}

/// What detection found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Detection {
    /// Where the driver version came from.
    pub source: Source,
    #[schemars(with = "Option<String>")]
    pub driver_version: Option<DriverVersion>,
    /// The newest CUDA the driver runs, `major.minor`.
    #[schemars(with = "Option<String>")]
    pub cuda_version: Option<CudaVersion>,
    pub cuda_from: Option<CudaSource>,
    /// In index order.
    pub gpus: Vec<Gpu>,
    /// What was tried and failed, and what was assumed, in the order it happened.
    pub notes: Vec<String>,
}

impl Detection {
    /// No driver, no GPU, no notes.
    pub fn nothing() -> Detection {
        Detection {
            source: Source::None,
            driver_version: None,
            cuda_version: None,
            cuda_from: None,
            gpus: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Detect on this machine, honouring `settings.pretend_driver` and `settings.hardware_root`.
pub fn detect(settings: &KeySettings) -> Detection {
    let probe = match &settings.hardware_root {
        Some(root) => SystemProbe::with_root(root),
        None => SystemProbe::new(),
    };
    let mut detection = detect_with(&probe, settings);
    if let Some(root) = &settings.hardware_root
        && settings.pretend_driver.is_none()
    {
        detection.notes.insert(
            0,
            format!(
                "probed under {} (SANCTUARY_HARDWARE_ROOT), not this machine",
                root.display()
            ),
        );
    }
    detection
}

/// Detect through `probe`: `SANCTUARY_CUDA_DRIVER_VERSION` if set, else NVML, else the
/// kernel module's version files and `nvidia-smi`.
pub fn detect_with(probe: &dyn Probe, settings: &KeySettings) -> Detection {
    if let Some(driver) = &settings.pretend_driver {
        let cuda = driver.max_cuda();
        return Detection {
            source: Source::Env,
            driver_version: Some(driver.clone()),
            cuda_version: cuda,
            cuda_from: cuda.map(|_| CudaSource::DriverTable),
            gpus: Vec::new(),
            notes: vec![format!(
                "SANCTUARY_CUDA_DRIVER_VERSION={driver}: pretending this driver; the machine was not probed"
            )],
        };
    }

    let mut notes = Vec::new();
    match probe.nvml() {
        Ok(report) => {
            tracing::debug!("NVML in {}: driver {}", report.library, report.driver);
            notes.extend(report.notes);
            let (cuda_version, cuda_from) = match report.cuda {
                Some(c) => (Some(c), Some(CudaSource::Nvml)),
                None => table(&report.driver, &mut notes),
            };
            if report.gpus.is_empty() {
                notes.push("the driver is loaded but reports no GPU".to_string());
            }
            return Detection {
                source: Source::Nvml,
                driver_version: Some(report.driver),
                cuda_version,
                cuda_from,
                gpus: report.gpus,
                notes,
            };
        }
        Err(e) => {
            tracing::debug!("{e}");
            notes.push(match e {
                NvmlError::NotFound { .. } => {
                    "NVML not found (libnvidia-ml.so.1 is not installed)".to_string()
                }
                other => format!("{other}; falling back"),
            });
        }
    }

    let (mut source, mut driver) = module_version(probe, &mut notes);
    let (gpus, smi_cuda) = nvidia_smi(probe, &mut source, &mut driver, &mut notes);

    let Some(driver) = driver else {
        notes.push("no NVIDIA driver found".to_string());
        return Detection {
            notes,
            gpus,
            ..Detection::nothing()
        };
    };
    let (cuda_version, cuda_from) = match smi_cuda {
        Some(c) => (Some(c), Some(CudaSource::NvidiaSmi)),
        None => table(&driver, &mut notes),
    };
    Detection {
        source,
        driver_version: Some(driver),
        cuda_version,
        cuda_from,
        gpus,
        notes,
    }
}

/// The driver version from the kernel module's own version files.
fn module_version(probe: &dyn Probe, notes: &mut Vec<String>) -> (Source, Option<DriverVersion>) {
    for (path, parse) in [
        (
            PROC_VERSION,
            parse::parse_proc_version as fn(&str) -> Option<DriverVersion>,
        ),
        (SYS_MODULE_VERSION, parse::parse_sys_module_version),
    ] {
        if let Some(text) = probe.read_file(Path::new(path)) {
            match parse(&text) {
                Some(v) => {
                    notes.push(format!("driver version from {path}"));
                    return (Source::Proc, Some(v));
                }
                None => notes.push(format!("{path} names no driver version")),
            }
        }
    }
    (Source::None, None)
}

/// nvidia-smi: the GPUs, the driver when nothing else gave it, and the driver's own CUDA
/// version from its banner.
fn nvidia_smi(
    probe: &dyn Probe,
    source: &mut Source,
    driver: &mut Option<DriverVersion>,
    notes: &mut Vec<String>,
) -> (Vec<Gpu>, Option<CudaVersion>) {
    let query = match probe.run_nvidia_smi(parse::SMI_QUERY_ARGS) {
        None => {
            notes.push("nvidia-smi not found".to_string());
            return (Vec::new(), None);
        }
        Some(Err(message)) => {
            notes.push(format!("nvidia-smi failed: {message}"));
            return (Vec::new(), None);
        }
        Some(Ok(text)) => match parse::parse_smi_query(&text) {
            Err(e) => {
                notes.push(e.to_string());
                return (Vec::new(), None);
            }
            Ok(query) => query,
        },
    };
    if driver.is_none()
        && let Some(v) = query.driver
    {
        *source = Source::NvidiaSmi;
        *driver = Some(v);
    }
    let mut smi_cuda = None;
    match probe.run_nvidia_smi(&[]) {
        Some(Ok(banner)) => {
            let banner = parse::parse_smi_banner(&banner);
            smi_cuda = banner.cuda;
            if driver.is_none() {
                *source = Source::NvidiaSmi;
                *driver = banner.driver;
            }
        }
        Some(Err(message)) => notes.push(format!("nvidia-smi failed: {message}")),
        None => {}
    }
    (query.gpus, smi_cuda)
}

fn table(
    driver: &DriverVersion,
    notes: &mut Vec<String>,
) -> (Option<CudaVersion>, Option<CudaSource>) {
    match driver.max_cuda() {
        Some(c) => {
            notes.push(format!(
                "CUDA {c} from sanctuary's table of driver versions (driver {driver})"
            ));
            (Some(c), Some(CudaSource::DriverTable))
        }
        None => {
            notes.push(format!(
                "driver {driver} is older than every CUDA version sanctuary knows"
            ));
            (None, None)
        }
    }
}

/// The report of `sanctuary detect --json`; its schema is `schema/detect-report.schema.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(title = "sanctuary detect report")]
pub struct DetectReport {
    /// The report format; bumped when a field changes meaning.
    pub format: u32,
    pub detection: Detection,
    /// The manifest the keys came from, as given; null when none was read.
    pub manifest: Option<String>,
    /// `foundation.keys`, best first; empty without a manifest or a `[foundation]`.
    pub keys: Vec<String>,
    /// What the user asked for (`--cuda13`, `SANCTUARY_KEY=cu128`), if anything.
    pub requested: Option<String>,
    /// The key chosen among `keys`; null when there are none.
    pub selection: Option<Selection>,
}

/// The current [`DetectReport::format`].
pub const REPORT_FORMAT: u32 = 1;

/// The JSON Schema of [`DetectReport`], as published in `schema/detect-report.schema.json`.
pub fn report_json_schema() -> String {
    let schema = schemars::schema_for!(DetectReport);
    // Serialising a schema (plain maps and strings) cannot fail.
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serialises");
    text.push('\n');
    text
}

/// Where `SANCTUARY_HARDWARE_ROOT` points the probe, if set and not empty.
pub fn hardware_root_from_env() -> Option<PathBuf> {
    std::env::var_os("SANCTUARY_HARDWARE_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
pub(crate) mod tests;
