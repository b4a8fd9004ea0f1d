//! Where detection looks: the [`Probe`] trait (NVML, files, `nvidia-smi`) and
//! [`SystemProbe`], the real machine. Tests inject fakes; [`SystemProbe::with_root`] points the
//! real probe at a directory standing for `/` (`SANCTUARY_HARDWARE_ROOT`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::Gpu;
use super::cuda::{CudaVersion, DriverVersion};

/// What NVML told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvmlReport {
    /// The library that answered.
    pub library: String,
    pub driver: DriverVersion,
    /// `None` when the driver did not say (very old drivers).
    pub cuda: Option<CudaVersion>,
    pub gpus: Vec<Gpu>,
    /// Queries that failed on a GPU (the GPU is still listed with what was known).
    pub notes: Vec<String>,
}

/// Why NVML gave no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NvmlError {
    /// No candidate library could be loaded.
    #[error("NVML not found (tried {})", tried.join(", "))]
    NotFound { tried: Vec<String> },
    /// The library is there, but `nvmlInit` failed (no driver loaded, a driver/library
    /// mismatch, no permission).
    #[error("NVML in {library} failed to initialise: {message}")]
    Init { library: String, message: String },
    /// Initialised, but the driver version could not be read.
    #[error("NVML in {library} could not tell the driver version: {message}")]
    Query { library: String, message: String },
}

/// The places detection looks at, so that tests can replace the machine.
pub trait Probe {
    /// Ask NVML.
    fn nvml(&self) -> Result<NvmlReport, NvmlError>;
    /// The contents of a system file such as `/proc/driver/nvidia/version`; `None` when it
    /// does not exist or cannot be read.
    fn read_file(&self, path: &Path) -> Option<String>;
    /// Run `nvidia-smi` with `args`: `None` when it is not installed, `Err` with what it said
    /// when it failed.
    fn run_nvidia_smi(&self, args: &[&str]) -> Option<Result<String, String>>;
}

/// Where NVML may live, tried in order: the loader's search path (the `.so.1` that driver
/// packages install, then the development symlink), then the usual directories by full path
/// (for a loader cache that lacks them), then WSL's.
pub const NVML_LIBRARIES: &[&str] = &[
    "libnvidia-ml.so.1",
    "libnvidia-ml.so",
    "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
    "/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1",
    "/usr/lib64/libnvidia-ml.so.1",
    "/usr/lib/libnvidia-ml.so.1",
    "/usr/lib/wsl/lib/libnvidia-ml.so.1",
];

/// Where `nvidia-smi` may live besides `PATH`: WSL puts it with the driver libraries.
pub const NVIDIA_SMI_PATHS: &[&str] = &["/usr/bin/nvidia-smi", "/usr/lib/wsl/lib/nvidia-smi"];

/// How long `nvidia-smi` may take: it hangs on a wedged GPU.
const NVIDIA_SMI_TIMEOUT: Duration = Duration::from_secs(15);

/// The real machine.
#[derive(Clone, Debug, Default)]
pub struct SystemProbe {
    root: Option<PathBuf>,
}

impl SystemProbe {
    /// Probe this machine.
    pub fn new() -> SystemProbe {
        SystemProbe { root: None }
    }

    /// Probe a file tree standing for `/`: files are read under `root`, NVML is loaded only
    /// from `root` by full path, and `nvidia-smi` is run only from `root` (never from `PATH`).
    /// Tests use it to stand for a machine without (or with a fake) driver.
    pub fn with_root(root: impl Into<PathBuf>) -> SystemProbe {
        SystemProbe {
            root: Some(root.into()),
        }
    }

    fn rooted(&self, path: &Path) -> PathBuf {
        match &self.root {
            None => path.to_path_buf(),
            Some(root) => root.join(path.strip_prefix("/").unwrap_or(path)),
        }
    }

    fn nvml_candidates(&self) -> Vec<PathBuf> {
        NVML_LIBRARIES
            .iter()
            .map(Path::new)
            .filter(|p| self.root.is_none() || p.is_absolute())
            .map(|p| self.rooted(p))
            .collect()
    }

    fn nvidia_smi(&self) -> Option<PathBuf> {
        if self.root.is_none()
            && let Some(paths) = std::env::var_os("PATH")
            && let Some(found) = std::env::split_paths(&paths)
                .map(|d| d.join("nvidia-smi"))
                .find(|p| p.is_file())
        {
            return Some(found);
        }
        NVIDIA_SMI_PATHS
            .iter()
            .map(|p| self.rooted(Path::new(p)))
            .find(|p| p.is_file())
    }
}

impl Probe for SystemProbe {
    fn nvml(&self) -> Result<NvmlReport, NvmlError> {
        let mut tried = Vec::new();
        for candidate in self.nvml_candidates() {
            let library = candidate.display().to_string();
            // A full path that does not exist is not worth a dlopen.
            if candidate.is_absolute() && !candidate.exists() {
                tried.push(library);
                continue;
            }
            match nvml_wrapper::Nvml::builder()
                .lib_path(candidate.as_os_str())
                .init()
            {
                Ok(nvml) => return query_nvml(&nvml, library),
                Err(nvml_wrapper::error::NvmlError::LibloadingError(e)) => {
                    tracing::debug!("cannot load {library}: {e}");
                    if candidate.is_absolute() {
                        // It exists but is not a loadable NVML: broken, say so.
                        return Err(NvmlError::Init {
                            library,
                            message: e.to_string(),
                        });
                    }
                    tried.push(library);
                }
                Err(e) => {
                    return Err(NvmlError::Init {
                        library,
                        message: e.to_string(),
                    });
                }
            }
        }
        Err(NvmlError::NotFound { tried })
    }

    fn read_file(&self, path: &Path) -> Option<String> {
        let path = self.rooted(path);
        match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) => {
                tracing::debug!("cannot read {}: {e}", path.display());
                None
            }
        }
    }

    fn run_nvidia_smi(&self, args: &[&str]) -> Option<Result<String, String>> {
        let program = self.nvidia_smi()?;
        tracing::debug!("running {} {}", program.display(), args.join(" "));
        Some(run_with_timeout(&program, args, NVIDIA_SMI_TIMEOUT))
    }
}

/// Read the driver, CUDA and GPUs from an initialised NVML.
fn query_nvml(nvml: &nvml_wrapper::Nvml, library: String) -> Result<NvmlReport, NvmlError> {
    let driver = nvml
        .sys_driver_version()
        .map_err(|e| e.to_string())
        .and_then(|v| v.parse::<DriverVersion>().map_err(|e| e.to_string()))
        .map_err(|message| NvmlError::Query {
            library: library.clone(),
            message,
        })?;
    let mut notes = Vec::new();
    let cuda = match nvml.sys_cuda_driver_version() {
        Ok(v) => CudaVersion::from_driver_api(v),
        Err(e) => {
            notes.push(format!("NVML could not tell the CUDA version: {e}"));
            None
        }
    };
    let count = nvml.device_count().unwrap_or_else(|e| {
        notes.push(format!("NVML could not count the GPUs: {e}"));
        0
    });
    let mut gpus = Vec::new();
    for index in 0..count {
        let device = match nvml.device_by_index(index) {
            Ok(d) => d,
            Err(e) => {
                notes.push(format!("NVML could not open GPU {index}: {e}"));
                continue;
            }
        };
        let mut field = |what: &str, e: nvml_wrapper::error::NvmlError| {
            notes.push(format!(
                "NVML could not read the {what} of GPU {index}: {e}"
            ));
        };
        let name = device.name().unwrap_or_else(|e| {
            field("name", e);
            "unknown".to_string()
        });
        let memory_mib = device
            .memory_info()
            .map(|m| m.total / (1024 * 1024))
            .map_err(|e| field("memory", e))
            .ok();
        let compute_capability = device
            .cuda_compute_capability()
            .map(|c| format!("{}.{}", c.major, c.minor))
            .map_err(|e| field("compute capability", e))
            .ok();
        let uuid = device.uuid().map_err(|e| field("UUID", e)).ok();
        gpus.push(Gpu {
            index,
            name,
            memory_mib,
            compute_capability,
            uuid,
        });
    }
    Ok(NvmlReport {
        library,
        driver,
        cuda,
        gpus,
        notes,
    })
}

/// Run `program args`, giving up after `timeout`; `Err` carries what it said on failure.
fn run_with_timeout(program: &Path, args: &[&str], timeout: Duration) -> Result<String, String> {
    let child = Command::new(program)
        .args(args.iter().map(OsStr::new))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let Some(output) = crate::process::wait_with_output_within(child, timeout)
        .map_err(|e| format!("cannot wait for {}: {e}", program.display()))?
    else {
        return Err(format!(
            "{} did not answer within {}s",
            program.display(),
            timeout.as_secs()
        ));
    };
    let status = output.status;
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    if status.success() {
        Ok(out)
    } else {
        let said = if err.trim().is_empty() { &out } else { &err };
        let said = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        Err(format!(
            "{} exited with {status}: {}",
            program.display(),
            said.trim()
        )
        .trim_end_matches(": ")
        .to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_confines_every_look() {
        let root = tempfile::tempdir().unwrap();
        let probe = SystemProbe::with_root(root.path());
        assert_eq!(
            probe.read_file(Path::new("/proc/driver/nvidia/version")),
            None
        );
        assert!(probe.run_nvidia_smi(&["-L"]).is_none());
        match probe.nvml() {
            Err(NvmlError::NotFound { tried }) => {
                assert!(
                    tried
                        .iter()
                        .all(|t| t.starts_with(&*root.path().to_string_lossy()))
                );
                assert!(
                    tried
                        .iter()
                        .any(|t| t.ends_with("/usr/lib/wsl/lib/libnvidia-ml.so.1"))
                );
            }
            other => panic!("{other:?}"),
        }
        std::fs::create_dir_all(root.path().join("proc/driver/nvidia")).unwrap();
        std::fs::write(root.path().join("proc/driver/nvidia/version"), "x").unwrap();
        assert_eq!(
            probe
                .read_file(Path::new("/proc/driver/nvidia/version"))
                .as_deref(),
            Some("x")
        );
    }

    #[test]
    fn a_library_that_is_not_nvml_is_broken_not_missing() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("usr/lib/wsl/lib");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libnvidia-ml.so.1"), "not an ELF file").unwrap();
        match SystemProbe::with_root(root.path()).nvml() {
            Err(NvmlError::Init { library, .. }) => {
                assert!(
                    library.ends_with("usr/lib/wsl/lib/libnvidia-ml.so.1"),
                    "{library}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn nvidia_smi_output_and_failures() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("usr/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let smi = bin.join("nvidia-smi");
        let script = "#!/bin/sh\nif [ \"$1\" = fail ]; then echo 'NVIDIA-SMI has failed' >&2; exit 9; fi\nif [ \"$1\" = hang ]; then sleep 5; fi\necho \"args: $*\"\n";
        // Written by a child process: see `write_script` (this test once failed with
        // "text file busy" when another test forked while the file was open here).
        crate::test_util::write_script(&smi, script);
        let probe = SystemProbe::with_root(root.path());
        assert_eq!(
            probe.run_nvidia_smi(&["-L", "x"]),
            Some(Ok("args: -L x\n".to_string()))
        );
        let err = probe.run_nvidia_smi(&["fail"]).unwrap().unwrap_err();
        assert!(err.ends_with("NVIDIA-SMI has failed"), "{err}");
        let err = run_with_timeout(&smi, &["hang"], Duration::from_millis(200)).unwrap_err();
        assert!(err.contains("did not answer"), "{err}");
    }
}
