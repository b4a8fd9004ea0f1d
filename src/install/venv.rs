//! The virtual environment itself: finding a base interpreter for the manifest's `python`,
//! creating a venv for it without pip, and the lock that keeps two sanctuary processes from
//! changing one environment at once.
//!
//! [`Interpreter::query`] runs an interpreter once (`-I -c <script>`) and reads what it says
//! about itself as JSON. [`find_interpreter`] takes `--python` when given, otherwise searches
//! `PATH` for `python3.X`, `python3` and `python`, skipping candidates that fail to run (a
//! pyenv shim for a version that is not installed) or are another version;
//! [`find_any_interpreter`] does the same for any of several versions (a manifest declaring a
//! range of minors), the newest first.
//!
//! [`create`] writes the venv the way `python -m venv --without-pip --symlinks` lays it out on
//! POSIX (`pyvenv.cfg`, `bin/python*` symlinks, `lib/pythonX.Y/site-packages`, `lib64 -> lib`,
//! `bin/activate` and `bin/activate.fish` of our own), without running Python: the venv is
//! built in a hidden sibling directory and renamed onto its final path, so it either exists
//! complete or not at all. [`EnvironmentLock`] is an exclusive file lock on
//! `<venv>/.sanctuary.lock`, held by whoever changes the environment.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::Deserialize;

use super::Venv;
use crate::environment::{self, EnvironmentError};

/// The lock file inside a venv (see [`EnvironmentLock`]).
pub const LOCK_FILE: &str = ".sanctuary.lock";

/// The hardware key the venv was last synced with (one line), so that `doctor` checks that
/// key's lockfiles and `sync` can say when it switches keys.
pub const KEY_FILE: &str = ".sanctuary-key";

/// The key recorded in the venv at `root` ([`KEY_FILE`]), if any.
pub fn synced_key(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(KEY_FILE)).ok()?;
    let key = text.trim();
    (!key.is_empty() && key.len() < 64).then(|| key.to_string())
}

/// Record `key` as the one the venv at `root` is synced with.
pub fn record_synced_key(root: &Path, key: &str) -> std::io::Result<()> {
    std::fs::write(root.join(KEY_FILE), format!("{key}\n"))
}

/// Printed by the interpreter in [`Interpreter::query`]: one line of JSON.
const QUERY_SCRIPT: &str = "\
import json, platform, sys, sysconfig
print(json.dumps({
    'base_executable': getattr(sys, '_base_executable', None) or '',
    'executable': sys.executable or '',
    'version': platform.python_version(),
    'implementation': sys.implementation.name,
    'base_prefix': sys.base_prefix,
    'platform': sysconfig.get_platform(),
}))
";

/// The most stderr an error quotes, in bytes (the end is kept: a traceback ends with the
/// exception).
const MAX_STDERR: usize = 4000;

/// Finding, querying or creating a virtual environment failed.
#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error("invalid Python version `{0}`: expected MAJOR.MINOR or MAJOR.MINOR.PATCH, e.g. 3.12")]
    BadVersion(String),
    #[error("cannot run the Python interpreter {}", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the Python interpreter {} failed ({status}){}", path.display(), stderr_suffix(stderr))]
    QueryFailed {
        path: PathBuf,
        /// How it exited, e.g. `exit status: 127`.
        status: String,
        /// Its stderr, trimmed (the last 4000 bytes).
        stderr: String,
    },
    #[error("the Python interpreter {} did not answer within {} s; it was stopped", path.display(), timeout.as_secs_f64())]
    QueryTimeout {
        path: PathBuf,
        timeout: std::time::Duration,
    },
    #[error("the Python interpreter {} did not describe itself as expected: {message}", path.display())]
    QueryOutput { path: PathBuf, message: String },
    #[error("`{name}` was not found on PATH")]
    NotOnPath { name: String },
    #[error(
        "{} is Python {found}, but the manifest asks for Python {requested}",
        path.display()
    )]
    Mismatch {
        path: PathBuf,
        found: String,
        requested: String,
    },
    #[error("{}", not_found_message(requested, tried))]
    NotFound {
        requested: String,
        /// Every candidate queried, in search order.
        tried: Vec<Candidate>,
    },
    #[error(
        "{} is a {implementation} interpreter; sanctuary only creates CPython virtual environments",
        executable.display()
    )]
    Unsupported {
        executable: PathBuf,
        implementation: String,
    },
    #[error("{} exists and is not a virtual environment ({reason}); refusing to touch it", path.display())]
    NotAVenv { path: PathBuf, reason: &'static str },
    #[error("{} cannot be written into pyvenv.cfg or an activation script (not UTF-8, or a line break in it)", .0.display())]
    UnwritablePath(PathBuf),
    #[error("cannot create the virtual environment at {}: cannot write {}", root.display(), path.display())]
    Create {
        root: PathBuf,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Environment(#[from] EnvironmentError),
}

impl VenvError {
    /// What the user can do about it, where there is something (printed as `hint:` by the
    /// CLI).
    pub fn hint(&self) -> Option<String> {
        match self {
            VenvError::NotFound { requested, .. } | VenvError::Mismatch { requested, .. } => {
                Some(format!(
                    "pass `--python PATH` to use a Python {requested} interpreter, or change \
                     `python` in sanctuary.toml"
                ))
            }
            VenvError::NotOnPath { .. } => {
                Some("pass `--python` the interpreter's full path".to_string())
            }
            VenvError::QueryTimeout { path, .. } => Some(format!(
                "check that `{} -c pass` returns, or pass `--python` another interpreter",
                path.display()
            )),
            VenvError::NotAVenv { path, .. } => Some(format!(
                "move {} away, or choose another venv directory",
                path.display()
            )),
            _ => None,
        }
    }
}

/// How long an interpreter has to describe itself: Python starts in tens of milliseconds,
/// but a cold disk or a slow shim can take seconds.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(":\n{stderr}")
    }
}

fn not_found_message(requested: &str, tried: &[Candidate]) -> String {
    if tried.is_empty() {
        return format!("no Python {requested} found: no python3.X, python3 or python on PATH");
    }
    let mut out = format!("no Python {requested} found on PATH; tried:");
    for c in tried {
        out.push_str(&format!("\n  {}: {}", c.path.display(), c.outcome));
    }
    out
}

/// One interpreter [`find_interpreter`] tried on `PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// As found on `PATH` (not resolved: a pyenv shim is named as such).
    pub path: PathBuf,
    pub outcome: CandidateOutcome,
}

/// What querying a [`Candidate`] gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CandidateOutcome {
    /// It ran and is this version (not the one asked for).
    Version(String),
    /// It did not run, or said something unexpected: why, in one line.
    Failed(String),
}

impl std::fmt::Display for CandidateOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CandidateOutcome::Version(v) => write!(f, "Python {v}"),
            CandidateOutcome::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// A base Python interpreter, as it reported itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interpreter {
    /// The real interpreter binary: `sys._base_executable` (or `sys.executable`) with every
    /// symlink resolved, so never a pyenv shim script or a venv's `bin/python`.
    pub executable: PathBuf,
    /// `python_full_version`, e.g. `3.11.7` (`platform.python_version()`).
    pub version: String,
    /// `sys.implementation.name`, e.g. `cpython`.
    pub implementation: String,
    /// `sys.base_prefix`.
    pub base_prefix: PathBuf,
    /// `sysconfig.get_platform()`, e.g. `linux-x86_64`.
    pub platform: String,
}

#[derive(Deserialize)]
struct QueryOutput {
    base_executable: String,
    executable: String,
    version: String,
    implementation: String,
    base_prefix: String,
    platform: String,
}

impl Interpreter {
    /// Run `path -I -c <script>` once and read what the interpreter says about itself.
    /// `path` may be a bare name, which the OS looks up on `PATH`. Errors name `path` and
    /// quote the interpreter's stderr.
    pub fn query(path: &Path) -> Result<Interpreter, VenvError> {
        Interpreter::query_within(path, QUERY_TIMEOUT)
    }

    /// [`Interpreter::query`], giving the interpreter `timeout` to answer (a broken install
    /// or a `sitecustomize` waiting for input must not hang a sync).
    pub fn query_within(path: &Path, timeout: Duration) -> Result<Interpreter, VenvError> {
        let spawn_err = |source| VenvError::Spawn {
            path: path.to_path_buf(),
            source,
        };
        let child = Command::new(path)
            .arg("-I")
            .arg("-c")
            .arg(QUERY_SCRIPT)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err)?;
        let output = crate::process::wait_with_output_within(child, timeout)
            .map_err(spawn_err)?
            .ok_or_else(|| VenvError::QueryTimeout {
                path: path.to_path_buf(),
                timeout,
            })?;
        if !output.status.success() {
            return Err(VenvError::QueryFailed {
                path: path.to_path_buf(),
                status: output.status.to_string(),
                stderr: tail(&String::from_utf8_lossy(&output.stderr), MAX_STDERR),
            });
        }
        let bad = |message: String| VenvError::QueryOutput {
            path: path.to_path_buf(),
            message,
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        // A `sitecustomize` may print before us: our JSON is the last line.
        let line = stdout.lines().rev().find(|l| !l.trim().is_empty());
        let Some(line) = line else {
            return Err(bad("it printed nothing".to_string()));
        };
        let reported: QueryOutput =
            serde_json::from_str(line).map_err(|e| bad(format!("{e} in `{}`", tail(line, 200))))?;
        if release(&reported.version).len() < 3 {
            return Err(bad(format!(
                "it reported the version `{}`",
                reported.version
            )));
        }
        // `_base_executable` can name a file that does not exist (a venv made from
        // `/usr/bin/python3` reports `<home>/python`); `sys.executable` resolved through its
        // symlinks is then the base binary.
        let executable = [&reported.base_executable, &reported.executable]
            .into_iter()
            .filter(|p| !p.is_empty())
            .find_map(|p| std::fs::canonicalize(p).ok())
            .ok_or_else(|| {
                bad(format!(
                    "its executable `{}` does not exist",
                    reported.executable
                ))
            })?;
        Ok(Interpreter {
            executable,
            version: reported.version,
            implementation: reported.implementation,
            base_prefix: PathBuf::from(reported.base_prefix),
            platform: reported.platform,
        })
    }

    /// Whether this interpreter is the manifest's `python`: `3.11` matches any 3.11.x,
    /// `3.11.7` only 3.11.7 (see [`python_matches`]).
    pub fn matches(&self, requested: &str) -> bool {
        python_matches(&self.version, requested)
    }

    /// `(major, minor)` of [`Interpreter::version`].
    pub fn major_minor(&self) -> (u64, u64) {
        let r = release(&self.version);
        // `query` refused versions with fewer than three release numbers.
        (
            r.first().copied().unwrap_or(3),
            r.get(1).copied().unwrap_or(0),
        )
    }
}

/// Whether the Python version `found` (`3.11.7`, `3.13.0rc1`) is the manifest's `requested`:
/// `MAJOR.MINOR` matches every release of that minor version, `MAJOR.MINOR.PATCH` only that
/// exact version (so not a pre-release of it). An invalid `requested` matches nothing.
pub fn python_matches(found: &str, requested: &str) -> bool {
    let Some(wanted) = parse_requested(requested) else {
        return false;
    };
    match wanted.len() {
        2 => release(found).get(..2) == Some(&wanted[..]),
        _ => found.trim() == requested.trim(),
    }
}

/// `3.11` or `3.11.7` as numbers; `None` unless two or three numbers.
fn parse_requested(requested: &str) -> Option<Vec<u64>> {
    let parts: Option<Vec<u64>> = requested
        .trim()
        .split('.')
        .map(|p| {
            if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse().ok()
            } else {
                None
            }
        })
        .collect();
    parts.filter(|p| (2..=3).contains(&p.len()))
}

/// The leading release numbers of a version: `3.13.0rc1` -> `[3, 13, 0]`.
fn release(version: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for part in version.trim().split('.') {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        let Ok(n) = digits.parse() else { break };
        out.push(n);
        if digits.len() != part.len() {
            break;
        }
    }
    out
}

/// The last `max` bytes of `text`, trimmed (cut at a character boundary).
fn tail(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &text[start..])
}

/// Find an interpreter for the manifest's `python` (`3.11` or `3.11.7`).
///
/// With `explicit` (`--python`), that interpreter: a path, or a bare name looked up on
/// `PATH`; it must match `requested` ([`VenvError::Mismatch`] names both versions).
/// Otherwise the first that matches of `python3.X`, then `python3`, then `python`, each
/// looked for in every `PATH` directory in order; candidates that fail to run or are another
/// version are skipped, and [`VenvError::NotFound`] lists them all.
pub fn find_interpreter(
    requested: &str,
    explicit: Option<&Path>,
) -> Result<Interpreter, VenvError> {
    find_interpreter_in(requested, explicit, std::env::var_os("PATH").as_deref())
}

/// [`find_interpreter`] for any of several versions, `requested` in order of preference
/// (newest first, for a manifest declaring a range of minors): every `python3.X` of them in
/// that order, then `python3` and `python`, the first that matches one of them winning. With
/// `explicit`, that interpreter, which must match one of them. Nothing is downloaded.
pub fn find_any_interpreter(
    requested: &[String],
    explicit: Option<&Path>,
) -> Result<Interpreter, VenvError> {
    find_any_in(requested, explicit, std::env::var_os("PATH").as_deref())
}

/// [`find_interpreter`] with the value of `PATH` given (tests do not touch the process
/// environment).
pub(crate) fn find_interpreter_in(
    requested: &str,
    explicit: Option<&Path>,
    path_var: Option<&OsStr>,
) -> Result<Interpreter, VenvError> {
    find_any_in(&[requested.to_string()], explicit, path_var)
}

/// `3.12`, or `3.13, 3.12 or 3.11`: the versions asked for, in messages.
fn requested_words(requested: &[String]) -> String {
    match requested {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// [`find_any_interpreter`] with the value of `PATH` given.
pub(crate) fn find_any_in(
    requested: &[String],
    explicit: Option<&Path>,
    path_var: Option<&OsStr>,
) -> Result<Interpreter, VenvError> {
    let mut wanted = Vec::new();
    for r in requested {
        wanted.push(parse_requested(r).ok_or_else(|| VenvError::BadVersion(r.clone()))?);
    }
    let Some(first) = wanted.first() else {
        return Err(VenvError::BadVersion(String::new()));
    };
    let shown = requested_words(requested);
    let matches = |i: &Interpreter| requested.iter().any(|r| i.matches(r));
    let dirs = path_dirs(path_var);
    if let Some(explicit) = explicit {
        // `--python 3.12`, as uv takes it: the `python3.12` on PATH.
        let versioned;
        let explicit = match explicit.to_str().and_then(parse_requested) {
            Some(_) => {
                let text = explicit.to_string_lossy();
                let minor = text.splitn(3, '.').take(2).collect::<Vec<_>>().join(".");
                versioned = PathBuf::from(format!("python{minor}"));
                versioned.as_path()
            }
            None => explicit,
        };
        let path = if is_bare_name(explicit) {
            dirs.iter()
                .map(|d| d.join(explicit))
                .find(|p| is_executable(p))
                .ok_or_else(|| VenvError::NotOnPath {
                    name: explicit.to_string_lossy().into_owned(),
                })?
        } else {
            explicit.to_path_buf()
        };
        let interpreter = Interpreter::query(&path)?;
        if !matches(&interpreter) {
            return Err(VenvError::Mismatch {
                path,
                found: interpreter.version,
                requested: shown,
            });
        }
        return Ok(interpreter);
    }
    let mut names: Vec<String> = Vec::new();
    for w in &wanted {
        let name = format!("python{}.{}", w[0], w[1]);
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.push(format!("python{}", first[0]));
    names.push("python".to_string());
    let mut seen = std::collections::HashSet::new();
    let mut tried = Vec::new();
    for name in &names {
        for dir in &dirs {
            let path = dir.join(name);
            if !is_executable(&path) {
                continue;
            }
            // `/bin/python3` and `/usr/bin/python3.11` are often one file: query it once.
            let real = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            if !seen.insert(real) {
                continue;
            }
            let outcome = match Interpreter::query(&path) {
                Ok(i) if matches(&i) => return Ok(i),
                Ok(i) => CandidateOutcome::Version(i.version),
                Err(e) => CandidateOutcome::Failed(one_line(&e)),
            };
            tried.push(Candidate { path, outcome });
        }
    }
    Err(VenvError::NotFound {
        requested: shown,
        tried,
    })
}

/// Why a candidate failed, in one line: its exit status and the telling line of its stderr
/// (the first, or the last of a traceback).
fn one_line(err: &VenvError) -> String {
    match err {
        VenvError::QueryFailed { status, stderr, .. } => {
            let lines: Vec<&str> = stderr
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let telling = match lines.first() {
                Some(first) if first.starts_with("Traceback") => lines.last(),
                first => first,
            };
            match telling {
                Some(line) => format!("{status}: {}", tail(line, 200)),
                None => status.clone(),
            }
        }
        VenvError::Spawn { source, .. } => source.to_string(),
        VenvError::QueryOutput { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The directories of a `PATH` value; empty entries (the current directory, to a shell) are
/// skipped.
fn path_dirs(path_var: Option<&OsStr>) -> Vec<PathBuf> {
    path_var
        .map(|p| {
            std::env::split_paths(p)
                .filter(|d| !d.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// A name with no directory part (`python3.11`), to be looked up on `PATH`.
fn is_bare_name(path: &Path) -> bool {
    let mut components = path.components();
    matches!(
        (components.next(), components.next()),
        (Some(std::path::Component::Normal(_)), None)
    )
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// Create a virtual environment at `root` for `interpreter`, without running pip, `python -m
/// venv` or the interpreter at all, and return its layout.
///
/// Written: `pyvenv.cfg` (`home` = the directory of [`Interpreter::executable`],
/// `include-system-site-packages = false`, `version`, `executable`, a `command` naming
/// sanctuary, `prompt`), `bin/python` as a symlink to the interpreter and `bin/python3`,
/// `bin/python3.X` as symlinks to `python`, `lib/python3.X/site-packages/`, `include/`, the
/// `lib64 -> lib` symlink (except on macOS, like CPython's venv on 64-bit POSIX),
/// `bin/activate` (bash, zsh) and `bin/activate.fish`, and a `.gitignore` of `*`.
///
/// `prompt` is shown as `(prompt)` by the activation scripts; control characters and the
/// characters a shell expands in a prompt (`` $ ` \ % ! ' " ``) become `_`, and an empty
/// prompt is the directory's name.
///
/// The venv is built in `<parent>/.<name>.tmp-XXXXXX` and renamed onto `root`, so it is never
/// seen half made (a killed process can leave that hidden directory behind, never a broken
/// venv). When `root` already is a venv (it has a `pyvenv.cfg`), nothing is written and it is
/// returned as it is; check its version with [`venv_python_version`]. When another process
/// wins the race to create it, ours is discarded. An empty directory at `root` is replaced;
/// anything else there is refused with [`VenvError::NotAVenv`].
pub fn create(root: &Path, interpreter: &Interpreter, prompt: &str) -> Result<Venv, VenvError> {
    let root = std::path::absolute(root).map_err(|source| VenvError::Create {
        root: root.to_path_buf(),
        path: root.to_path_buf(),
        source,
    })?;
    let root = super::normalize(&root);
    let create_err = |path: &Path| {
        let root = root.clone();
        let path = path.to_path_buf();
        move |source| VenvError::Create { root, path, source }
    };
    if check_existing(&root)? {
        return Ok(Venv::from_root(&root)?);
    }
    if interpreter.implementation != "cpython" {
        return Err(VenvError::Unsupported {
            executable: interpreter.executable.clone(),
            implementation: interpreter.implementation.clone(),
        });
    }
    let (Some(parent), Some(name)) = (root.parent(), root.file_name()) else {
        return Err(VenvError::NotAVenv {
            path: root.clone(),
            reason: "it is the root of the file system",
        });
    };
    std::fs::create_dir_all(parent).map_err(create_err(parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.tmp-", name.to_string_lossy()))
        .tempdir_in(parent)
        .map_err(create_err(parent))?;
    // Dropping `tmp` on an error below removes the partial venv.
    populate(tmp.path(), &root, interpreter, prompt)?;
    let tmp_path = tmp.keep();
    match std::fs::rename(&tmp_path, &root) {
        Ok(()) => {}
        Err(source) => {
            let _ = std::fs::remove_dir_all(&tmp_path);
            // Another process made the venv while we were building ours: use theirs. If
            // something else appeared at `root`, say what.
            if check_existing(&root)? {
                return Ok(Venv::from_root(&root)?);
            }
            return Err(create_err(&root)(source));
        }
    }
    Ok(Venv::from_root(&root)?)
}

/// Whether `root` is an existing venv (`true`), absent or an empty directory (`false`), or
/// something to refuse.
fn check_existing(root: &Path) -> Result<bool, VenvError> {
    let not_a_venv = |reason| VenvError::NotAVenv {
        path: root.to_path_buf(),
        reason,
    };
    let meta = match std::fs::symlink_metadata(root) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(VenvError::Read {
                path: root.to_path_buf(),
                source,
            });
        }
    };
    if root.join("pyvenv.cfg").is_file() {
        return Ok(true);
    }
    if meta.file_type().is_symlink() {
        return Err(not_a_venv(
            "it is a symbolic link to a directory without pyvenv.cfg",
        ));
    }
    if !meta.is_dir() {
        return Err(not_a_venv("it is not a directory"));
    }
    let mut entries = std::fs::read_dir(root).map_err(|source| VenvError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    if entries.next().is_some() {
        return Err(not_a_venv("it is not empty and has no pyvenv.cfg"));
    }
    Ok(false)
}

/// Write the venv's files into `dir`, which will be renamed to `root`.
fn populate(
    dir: &Path,
    root: &Path,
    interpreter: &Interpreter,
    prompt: &str,
) -> Result<(), VenvError> {
    let create_err = |path: &Path| {
        let root = root.to_path_buf();
        let path = path.to_path_buf();
        move |source| VenvError::Create { root, path, source }
    };
    let executable = writable(&interpreter.executable)?;
    let root_text = writable(root)?;
    let home = interpreter
        .executable
        .parent()
        .map(writable)
        .transpose()?
        .unwrap_or("/");
    let (major, minor) = interpreter.major_minor();
    let prompt = sanitize_prompt(prompt, root);

    let bin = dir.join("bin");
    let site_packages = dir
        .join("lib")
        .join(format!("python{major}.{minor}"))
        .join("site-packages");
    for d in [&bin, &site_packages, &dir.join("include")] {
        std::fs::create_dir_all(d).map_err(create_err(d))?;
    }
    let link = |target: &Path, at: &Path| symlink(target, at).map_err(create_err(at));
    link(&interpreter.executable, &bin.join("python"))?;
    link(Path::new("python"), &bin.join(format!("python{major}")))?;
    link(
        Path::new("python"),
        &bin.join(format!("python{major}.{minor}")),
    )?;
    // CPython's venv makes `lib64` on 64-bit POSIX except macOS; it is harmless elsewhere.
    if !interpreter.platform.starts_with("macosx") {
        link(Path::new("lib"), &dir.join("lib64"))?;
    }

    let files = [
        (
            "pyvenv.cfg",
            format!(
                "home = {home}\n\
                 include-system-site-packages = false\n\
                 version = {version}\n\
                 executable = {executable}\n\
                 command = sanctuary {ours} (a venv without pip)\n\
                 sanctuary = {ours}\n\
                 prompt = {prompt}\n",
                version = interpreter.version,
                ours = env!("CARGO_PKG_VERSION"),
            ),
        ),
        ("bin/activate", activate_sh(root_text, &prompt)),
        ("bin/activate.fish", activate_fish(root_text, &prompt)),
        (".gitignore", "# Created by sanctuary\n*\n".to_string()),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(create_err(&path))?;
    }
    Ok(())
}

/// `path` as text fit for `pyvenv.cfg` and the activation scripts.
fn writable(path: &Path) -> Result<&str, VenvError> {
    path.to_str()
        .filter(|s| !s.contains(['\n', '\r']))
        .ok_or_else(|| VenvError::UnwritablePath(path.to_path_buf()))
}

/// The prompt without what a shell would interpret in `PS1` (see [`create`]).
fn sanitize_prompt(prompt: &str, root: &Path) -> String {
    let clean: String = prompt
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || "$`\\%!'\"".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    if !clean.is_empty() {
        return clean;
    }
    match root.file_name() {
        Some(name) if !name.is_empty() => sanitize_prompt(&name.to_string_lossy(), Path::new("")),
        _ => "venv".to_string(),
    }
}

/// `text` in POSIX shell single quotes.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// `text` in fish single quotes.
fn fish_quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', r"\\").replace('\'', r"\'"))
}

/// `bin/activate` for bash and zsh. The `_OLD_VIRTUAL_*` names are the ones every venv tool
/// uses, so activating this venv while another is active restores the other's saved state.
fn activate_sh(root: &str, prompt: &str) -> String {
    format!(
        r#"# Activate the virtual environment {root} in bash or zsh:
#     source {root}/bin/activate
# `deactivate` leaves it. Written by sanctuary.

deactivate () {{
    if [ -n "${{_OLD_VIRTUAL_PATH+set}}" ]; then
        PATH="$_OLD_VIRTUAL_PATH"
        export PATH
        unset _OLD_VIRTUAL_PATH
    fi
    if [ -n "${{_OLD_VIRTUAL_PYTHONHOME+set}}" ]; then
        PYTHONHOME="$_OLD_VIRTUAL_PYTHONHOME"
        export PYTHONHOME
        unset _OLD_VIRTUAL_PYTHONHOME
    fi
    if [ -n "${{_OLD_VIRTUAL_PS1+set}}" ]; then
        PS1="$_OLD_VIRTUAL_PS1"
        unset _OLD_VIRTUAL_PS1
    fi
    unset VIRTUAL_ENV VIRTUAL_ENV_PROMPT
    # Forget the locations of commands found in the venv.
    hash -r 2>/dev/null
    if [ "${{1-}}" != nondestructive ]; then
        unset -f deactivate
    fi
}}

# Leave whatever environment is active first.
deactivate nondestructive

VIRTUAL_ENV={root_q}
export VIRTUAL_ENV
VIRTUAL_ENV_PROMPT={prompt_q}
export VIRTUAL_ENV_PROMPT

_OLD_VIRTUAL_PATH="${{PATH-}}"
PATH="$VIRTUAL_ENV/bin:${{PATH-}}"
export PATH

if [ -n "${{PYTHONHOME+set}}" ]; then
    _OLD_VIRTUAL_PYTHONHOME="$PYTHONHOME"
    unset PYTHONHOME
fi

if [ -z "${{VIRTUAL_ENV_DISABLE_PROMPT-}}" ]; then
    _OLD_VIRTUAL_PS1="${{PS1-}}"
    PS1="("{prompt_q}") ${{PS1-}}"
fi

hash -r 2>/dev/null
"#,
        root_q = sh_quote(root),
        prompt_q = sh_quote(prompt),
    )
}

/// `bin/activate.fish`, the fish version of [`activate_sh`].
fn activate_fish(root: &str, prompt: &str) -> String {
    format!(
        r#"# Activate the virtual environment {root} in fish:
#     source {root}/bin/activate.fish
# `deactivate` leaves it. Written by sanctuary.

function deactivate -d 'Leave the virtual environment'
    if set -q _OLD_VIRTUAL_PATH
        set -gx PATH $_OLD_VIRTUAL_PATH
        set -e _OLD_VIRTUAL_PATH
    end
    if set -q _OLD_VIRTUAL_PYTHONHOME
        set -gx PYTHONHOME $_OLD_VIRTUAL_PYTHONHOME
        set -e _OLD_VIRTUAL_PYTHONHOME
    end
    if set -q _OLD_FISH_PROMPT_OVERRIDE
        set -e _OLD_FISH_PROMPT_OVERRIDE
        if functions -q _old_fish_prompt
            functions -e fish_prompt
            functions -c _old_fish_prompt fish_prompt
            functions -e _old_fish_prompt
        end
    end
    set -e VIRTUAL_ENV
    set -e VIRTUAL_ENV_PROMPT
    if test "$argv[1]" != nondestructive
        functions -e deactivate
    end
end

# Leave whatever environment is active first.
deactivate nondestructive

set -gx VIRTUAL_ENV {root_q}
set -gx VIRTUAL_ENV_PROMPT {prompt_q}
set -gx _OLD_VIRTUAL_PATH $PATH
set -gx PATH "$VIRTUAL_ENV/bin" $PATH

if set -q PYTHONHOME
    set -gx _OLD_VIRTUAL_PYTHONHOME $PYTHONHOME
    set -e PYTHONHOME
end

if test -z "$VIRTUAL_ENV_DISABLE_PROMPT"
    functions -c fish_prompt _old_fish_prompt
    function fish_prompt
        # Keep the status of the last command for the original prompt.
        set -l last_status $status
        printf '(%s) ' $VIRTUAL_ENV_PROMPT
        echo "exit $last_status" | source
        _old_fish_prompt
    end
    set -gx _OLD_FISH_PROMPT_OVERRIDE "$VIRTUAL_ENV"
end
"#,
        root_q = fish_quote(root),
        prompt_q = fish_quote(prompt),
    )
}

#[cfg(unix)]
fn symlink(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _at: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "sanctuary creates virtual environments on POSIX systems only",
    ))
}

/// The base interpreter version recorded in the `pyvenv.cfg` of the venv at `root` (`version`,
/// or uv's `version_info`), to check against the manifest with [`python_matches`]. `None`
/// when `pyvenv.cfg` records none; an error when it cannot be read (no venv at `root`).
pub fn venv_python_version(root: &Path) -> Result<Option<String>, VenvError> {
    let path = root.join("pyvenv.cfg");
    let text = std::fs::read_to_string(&path).map_err(|source| VenvError::Read { path, source })?;
    Ok(environment::parse_pyvenv_version(&text))
}

/// An exclusive lock on one environment, held until dropped: `<venv>/.sanctuary.lock`,
/// locked with the OS's advisory file lock (`flock` on Linux and macOS), which the OS
/// releases when the process ends, however it ends. The file is created when missing and
/// never deleted (deleting a lock file lets a third process lock a new file while the second
/// holds the old one).
///
/// The venv must exist: create it with [`create`] (safe to race) before locking it.
#[derive(Debug)]
pub struct EnvironmentLock {
    /// Closing it releases the lock.
    _file: File,
    path: PathBuf,
}

impl EnvironmentLock {
    /// Lock the environment at `root`, waiting as long as another process holds it;
    /// `on_wait` is called once, before waiting, only when it must wait (to say so).
    pub fn acquire(root: &Path, on_wait: impl FnOnce()) -> Result<EnvironmentLock, VenvError> {
        let path = root.join(LOCK_FILE);
        let lock_err = |source| VenvError::Lock {
            path: path.clone(),
            source,
        };
        if !root.is_dir() {
            return Err(EnvironmentError::NotFound(root.to_path_buf()).into());
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                on_wait();
                file.lock().map_err(lock_err)?;
            }
            Err(TryLockError::Error(source)) => return Err(lock_err(source)),
        }
        Ok(EnvironmentLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
#[path = "venv_tests.rs"]
mod tests;
