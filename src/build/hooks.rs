//! Running one PEP 517 hook of a build backend in a subprocess, through the small Python
//! runner embedded here (`runner.py`), and reading what it returned.
//!
//! The interpreter runs with `-I`: neither the current directory nor the user's site
//! directory is on `sys.path` and `PYTHON*` variables are ignored, so a backend is imported
//! from the environment or from `backend-path` alone, as PEP 517 asks. For the processes the
//! backend starts (compilers, other Pythons), `PYTHONPATH` and `PYTHONHOME` are removed from
//! the environment, `PYTHONNOUSERSITE=1` is set and the build environment's `bin` directory
//! leads `PATH`. The hook runs in the source tree, in a process group of its own, with its
//! stdout and stderr captured together; at the deadline the whole group is killed. (Being
//! its own group, it does not get the terminal's Ctrl-C: when sanctuary is interrupted, the
//! backend ends at its next write to the closed pipe.) The runner writes its result as JSON
//! to a file (stdout belongs to the backend).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use pep508_rs::Requirement;
use serde::Deserialize;

use super::BuildError;
use crate::sdist::BuildSystem;

/// The hook runner (see its docstring).
const RUNNER: &str = include_str!("runner.py");

/// How much of a failed hook's output an error quotes: its last lines, within a byte cap.
const TAIL_LINES: usize = 100;
const TAIL_BYTES: usize = 16 * 1024;

/// The PEP 517 / PEP 660 hooks sanctuary calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    GetRequiresForBuildWheel,
    GetRequiresForBuildEditable,
    PrepareMetadataForBuildWheel,
    BuildWheel,
    BuildEditable,
}

impl Hook {
    /// The backend's function name.
    pub fn name(self) -> &'static str {
        match self {
            Hook::GetRequiresForBuildWheel => "get_requires_for_build_wheel",
            Hook::GetRequiresForBuildEditable => "get_requires_for_build_editable",
            Hook::PrepareMetadataForBuildWheel => "prepare_metadata_for_build_wheel",
            Hook::BuildWheel => "build_wheel",
            Hook::BuildEditable => "build_editable",
        }
    }
}

impl std::fmt::Display for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One hook to run.
#[derive(Clone, Debug)]
pub struct HookRequest {
    /// The interpreter: the build environment's `bin/python`.
    pub python: PathBuf,
    /// The unpacked source tree: the hook's working directory.
    pub source_tree: PathBuf,
    /// The backend (`module:object`) and its `backend-path`, relative to the source tree.
    pub system: BuildSystem,
    pub hook: Hook,
    /// Where `prepare_metadata_*` writes the `.dist-info` and `build_*` the wheel.
    pub output_dir: PathBuf,
    /// Set for the hook, after everything else (the caller's word is last).
    pub env: Vec<(String, String)>,
    /// Put first on `PATH`: the build environment's `bin` directory.
    pub path_prefix: Option<PathBuf>,
    pub timeout: Duration,
    /// `flash-attn 2.8.3 (sdist)`, for messages.
    pub label: String,
}

/// What a hook returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookResult {
    /// `get_requires_*`: the extra build requirements (empty when the backend lacks the
    /// hook).
    Requires(Vec<Requirement>),
    /// `prepare_metadata_*`: the `.dist-info` directory it wrote, inside the output dir.
    Metadata(PathBuf),
    /// `build_*`: the wheel it wrote, inside the output dir.
    Wheel(PathBuf),
    /// The backend lacks this optional hook (`prepare_metadata_for_build_wheel`,
    /// `build_editable`): the caller falls back.
    Unsupported,
}

/// What a hook returned, with everything it printed.
#[derive(Clone, Debug)]
pub struct HookOutput {
    pub result: HookResult,
    /// The backend's stdout and stderr, as they came.
    pub log: Vec<u8>,
}

/// What the runner writes.
#[derive(Deserialize)]
struct RunnerResult {
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default)]
    missing: bool,
    #[serde(default)]
    unavailable: Option<String>,
}

/// Run `req.hook` (see the module documentation).
pub fn run_hook(req: &HookRequest) -> Result<HookOutput, BuildError> {
    let label = req.label.clone();
    let io = |path: &Path| {
        let (label, path) = (label.clone(), path.to_path_buf());
        move |source| BuildError::Io {
            label,
            path,
            source,
        }
    };
    let source_tree = std::path::absolute(&req.source_tree).map_err(io(&req.source_tree))?;
    let output_dir = std::path::absolute(&req.output_dir).map_err(io(&req.output_dir))?;
    std::fs::create_dir_all(&output_dir).map_err(io(&output_dir))?;
    let scratch = tempfile::tempdir().map_err(io(&std::env::temp_dir()))?;
    let result_path = scratch.path().join("result.json");

    let mut command = command(req, &source_tree, &output_dir, &result_path)?;

    let spawn_err = |source| BuildError::Spawn {
        label: label.clone(),
        python: req.python.clone(),
        source,
    };
    let child = command.spawn().map_err(spawn_err)?;
    let group = process_group(&child);
    let output = crate::process::wait_with_output_within(child, req.timeout).map_err(spawn_err)?;
    let Some(output) = output else {
        kill_group(group);
        return Err(BuildError::HookTimeout {
            label,
            hook: req.hook,
            timeout: req.timeout,
        });
    };
    let mut log = output.stdout;
    log.extend_from_slice(&output.stderr);

    let result: Option<RunnerResult> = match std::fs::read(&result_path) {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes).map_err(|e| BuildError::BadResult {
                label: label.clone(),
                hook: req.hook,
                reason: format!("the hook runner wrote an unreadable result: {e}"),
            })?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&result_path)(e)),
    };
    if let Some(RunnerResult {
        unavailable: Some(message),
        ..
    }) = &result
    {
        return Err(BuildError::BackendUnavailable {
            label,
            backend: req.system.backend.clone(),
            message: message.clone(),
            output_tail: tail(&log),
        });
    }
    if !output.status.success() {
        return Err(BuildError::HookFailed {
            label,
            hook: req.hook,
            status: output.status.to_string(),
            output_tail: tail(&log),
        });
    }
    let Some(result) = result else {
        return Err(BuildError::BadResult {
            label,
            hook: req.hook,
            reason: "the backend exited before the hook returned".to_string(),
        });
    };
    let result = interpret(req, &output_dir, result)?;
    Ok(HookOutput { result, log })
}

/// The runner's command line for `req`, in a process group of its own.
fn command(
    req: &HookRequest,
    source_tree: &Path,
    output_dir: &Path,
    result_path: &Path,
) -> Result<Command, BuildError> {
    let mut command = Command::new(&req.python);
    command
        .arg("-I")
        .arg("-c")
        .arg(RUNNER)
        .arg(result_path)
        .arg(&req.system.backend)
        .arg(req.hook.name())
        .arg(output_dir)
        .args(
            req.system
                .backend_path
                .iter()
                .map(|p| crate::install::normalize(&source_tree.join(p))),
        )
        .current_dir(source_tree)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env("PYTHONNOUSERSITE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(prefix) = &req.path_prefix {
        command.env("PATH", path_with(prefix, req)?);
    }
    // A backend is code from the package's authors: the index credentials sanctuary was
    // given are not its business.
    for (name, _) in std::env::vars_os() {
        if is_credential_variable(&name) {
            command.env_remove(name);
        }
    }
    command.envs(req.env.iter().map(|(k, v)| (k, v)));
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    Ok(command)
}

/// Whether `name` holds index credentials (`SANCTUARY_INDEX_<NAME>_USERNAME` / `_PASSWORD`,
/// or the index URLs, which may carry user info).
fn is_credential_variable(name: &std::ffi::OsStr) -> bool {
    name.to_str()
        .is_some_and(|n| n.to_ascii_uppercase().starts_with("SANCTUARY_INDEX"))
}

/// `PATH` with `prefix` first.
fn path_with(prefix: &Path, req: &HookRequest) -> Result<std::ffi::OsString, BuildError> {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(prefix.to_path_buf()).chain(std::env::split_paths(&rest));
    std::env::join_paths(dirs).map_err(|e| BuildError::Io {
        label: req.label.to_string(),
        path: prefix.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    })
}

/// What the runner's result means for `req.hook`.
fn interpret(
    req: &HookRequest,
    output_dir: &Path,
    result: RunnerResult,
) -> Result<HookResult, BuildError> {
    let bad = |reason: String| BuildError::BadResult {
        label: req.label.to_string(),
        hook: req.hook,
        reason,
    };
    if result.missing {
        return match req.hook {
            Hook::GetRequiresForBuildWheel | Hook::GetRequiresForBuildEditable => {
                Ok(HookResult::Requires(Vec::new()))
            }
            Hook::PrepareMetadataForBuildWheel | Hook::BuildEditable => Ok(HookResult::Unsupported),
            Hook::BuildWheel => Err(BuildError::MissingHook {
                label: req.label.to_string(),
                backend: req.system.backend.clone(),
                hook: req.hook,
            }),
        };
    }
    let value = result.value.unwrap_or(serde_json::Value::Null);
    match req.hook {
        Hook::GetRequiresForBuildWheel | Hook::GetRequiresForBuildEditable => {
            let strings: Vec<String> = serde_json::from_value(value.clone()).map_err(|_| {
                bad(format!(
                    "expected a list of requirement strings, got {value}"
                ))
            })?;
            let requires = strings
                .iter()
                .map(|s| {
                    crate::requirement::parse(s).map_err(|e| BuildError::BadRequirement {
                        label: req.label.to_string(),
                        backend: req.system.backend.clone(),
                        requirement: s.clone(),
                        reason: e.to_string(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(HookResult::Requires(requires))
        }
        Hook::PrepareMetadataForBuildWheel => {
            let name = plain_name(&value, ".dist-info").map_err(bad)?;
            let path = output_dir.join(name);
            if !path.join("METADATA").is_file() {
                return Err(bad(format!("{} has no METADATA", path.display())));
            }
            Ok(HookResult::Metadata(path))
        }
        Hook::BuildWheel | Hook::BuildEditable => {
            let name = plain_name(&value, ".whl").map_err(bad)?;
            if let Err(e) = name.parse::<crate::wheel::WheelFilename>() {
                return Err(bad(format!("`{name}` is not a wheel file name: {e}")));
            }
            let path = output_dir.join(name);
            if !path.is_file() {
                return Err(bad(format!(
                    "it named {}, which is not there",
                    path.display()
                )));
            }
            Ok(HookResult::Wheel(path))
        }
    }
}

/// `value` as a plain file name (one component, no `..`) ending in `suffix`.
fn plain_name<'v>(value: &'v serde_json::Value, suffix: &str) -> Result<&'v str, String> {
    let Some(name) = value.as_str() else {
        return Err(format!("expected a file name, got {value}"));
    };
    let plain = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && name.ends_with(suffix);
    if !plain {
        return Err(format!(
            "expected the name of a `*{suffix}` inside the output directory, got `{name}`"
        ));
    }
    Ok(name)
}

/// The last [`TAIL_LINES`] lines of `log`, within [`TAIL_BYTES`], as text.
pub(crate) fn tail(log: &[u8]) -> String {
    let text = String::from_utf8_lossy(log);
    let text = text.trim_end();
    let mut start = text
        .rmatch_indices('\n')
        .nth(TAIL_LINES - 1)
        .map_or(0, |(i, _)| i + 1);
    if text.len() - start > TAIL_BYTES {
        start = text.len() - TAIL_BYTES;
        while !text.is_char_boundary(start) {
            start += 1;
        }
    }
    let cut = if start > 0 { "...\n" } else { "" };
    format!("{cut}{}", &text[start..])
}

/// The hook's process group (its own: see `process_group(0)` above).
#[cfg(unix)]
fn process_group(child: &std::process::Child) -> Option<rustix::process::Pid> {
    Some(rustix::process::Pid::from_child(child))
}

#[cfg(not(unix))]
fn process_group(_child: &std::process::Child) -> Option<()> {
    None
}

/// Kill what the hook started (compilers, ninja) along with it; the hook itself is already
/// gone. A group that has ended is no error.
#[cfg(unix)]
fn kill_group(group: Option<rustix::process::Pid>) {
    if let Some(group) = group {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_group: Option<()>) {}
