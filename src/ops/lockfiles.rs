//! The project's lockfile set: the file names of each layer and key, choosing and reading the
//! files of a layer for a key (and seeing them from one environment: [`select_for`]), why a
//! file is stale (as values, for `lock --check`, `sync --locked` and re-locking), and writing
//! a set of lockfiles all or nothing.
//!
//! Every lockfile lives in `<manifest dir>/lockfiles/`: `pylock.foundation-<key>.toml` for
//! each hardware key, and `pylock.application.toml`, or `pylock.application-<key>.toml` when
//! the Application differs between keys.

use std::path::{Path, PathBuf};

use super::environments::{Choice, ChosenEnv};
use crate::error::{Context as _, Result};
use crate::fs::Staged;
use crate::manifest::Manifest;
use crate::pylock::origin::TrustedIndexes;
use crate::pylock::{FORMAT_VERSION, InputSummary, Lockfile};

/// The file name of the shared Application lockfile.
pub const APPLICATION_LOCKFILE: &str = "pylock.application.toml";

/// The file name of the Foundation lockfile of `key`.
pub fn foundation_lockfile(key: &str) -> String {
    format!("pylock.foundation-{key}.toml")
}

/// The file name of the Application lockfile of `key`, when the Application differs per key.
pub fn application_key_lockfile(key: &str) -> String {
    format!("pylock.application-{key}.toml")
}

/// Whether `name` is a lockfile's name (`pylock.*.toml`).
pub fn is_lockfile_name(name: &str) -> bool {
    name.starts_with("pylock.") && name.ends_with(".toml")
}

/// `<manifest dir>/lockfiles`.
pub fn lockfile_dir(manifest: &Manifest) -> PathBuf {
    manifest.dir().join("lockfiles")
}

/// The Application lockfiles that exist in `dir`: the shared one (also when none exists yet),
/// or the per-key ones of `keys`.
pub fn application_files(dir: &Path, keys: &[String]) -> Vec<(Option<String>, PathBuf)> {
    let shared = dir.join(APPLICATION_LOCKFILE);
    let per_key: Vec<(Option<String>, PathBuf)> = keys
        .iter()
        .map(|k| (Some(k.clone()), dir.join(application_key_lockfile(k))))
        .filter(|(_, p)| p.is_file())
        .collect();
    if per_key.is_empty() || shared.is_file() {
        vec![(None, shared)]
    } else {
        per_key
    }
}

/// Which lockfiles a command reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// The Foundation of one hardware key.
    Foundation,
    /// The Application (shared, or of one key).
    Application,
    /// The Foundation and the Application of one key together: the whole environment.
    All,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Foundation => "foundation",
            Layer::Application => "application",
            Layer::All => "all",
        }
    }
}

/// The lockfiles named by a layer and key could not be chosen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectError {
    #[error("{what}: {path} does not exist")]
    Missing { what: String, path: String },
    #[error(
        "--layer {layer} needs --key: the lockfiles differ per hardware key (keys: {})",
        keys.join(", ")
    )]
    NeedKey { layer: String, keys: Vec<String> },
    #[error(
        "--key {key}: the key is not declared in {manifest} (declared: {})",
        declared.join(", ")
    )]
    UnknownKey {
        key: String,
        manifest: String,
        declared: Vec<String>,
    },
    #[error("{what}: {manifest} declares no [foundation], so there are no hardware keys")]
    NoFoundation { what: String, manifest: String },
}

impl SelectError {
    /// The `hint:` line for this error.
    pub fn hint(&self) -> Option<String> {
        match self {
            SelectError::Missing { .. } => {
                Some("run `sanctuary lock` to write the lockfiles".to_string())
            }
            SelectError::NeedKey { keys, .. } => Some(format!(
                "name one, e.g. `--key {}`",
                keys.first().map_or("TAG", String::as_str)
            )),
            SelectError::UnknownKey { .. } => {
                Some("use one of the declared keys, or add it to [foundation] keys".to_string())
            }
            SelectError::NoFoundation { .. } => None,
        }
    }
}

/// One lockfile read from disk.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Relative to the manifest's directory: `lockfiles/pylock.<name>.toml`.
    pub rel: String,
    pub lock: Lockfile,
}

/// The lockfiles of a layer and key.
#[derive(Clone, Debug)]
pub struct Selection {
    pub layer: Layer,
    /// The key asked for, or the only declared one.
    pub key: Option<String>,
    /// Part of the layer (`foundation`, `all`).
    pub foundation: Option<Loaded>,
    /// Part of the layer (`application`, `all`).
    pub application: Option<Loaded>,
    /// With `--layer application` and a known key: that key's Foundation, when locked, to say
    /// which version of a Foundation package the Application builds on.
    pub beneath: Option<Loaded>,
    /// The hardware keys the manifest declares.
    pub declared: Vec<String>,
}

impl Selection {
    /// The lockfiles of the layer, Foundation first.
    pub fn files(&self) -> Vec<&Loaded> {
        self.foundation.iter().chain(&self.application).collect()
    }
}

/// Choose and read the lockfiles of `layer` for `key` (under `<manifest dir>/lockfiles/`).
pub fn select(manifest: &Manifest, layer: Layer, key: Option<&str>) -> Result<Selection> {
    let dir = manifest.dir().join("lockfiles");
    let manifest_name = manifest.path.display().to_string();
    let declared: Vec<String> = manifest
        .foundation
        .as_ref()
        .map(|f| f.keys.clone())
        .unwrap_or_default();
    if let Some(key) = key {
        if manifest.foundation.is_none() {
            return Err(SelectError::NoFoundation {
                what: format!("--key {key}"),
                manifest: manifest_name,
            }
            .into());
        }
        if !declared.iter().any(|k| k == key) {
            return Err(SelectError::UnknownKey {
                key: key.to_string(),
                manifest: manifest_name,
                declared,
            }
            .into());
        }
    }
    let key = key
        .map(str::to_string)
        .or_else(|| (declared.len() == 1).then(|| declared[0].clone()));
    let need_key = |keys: Vec<String>| SelectError::NeedKey {
        layer: layer.as_str().to_string(),
        keys,
    };
    let read = |name: String, what: String| -> Result<Loaded> {
        let path = dir.join(&name);
        let rel = format!("lockfiles/{name}");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SelectError::Missing {
                    what,
                    path: path.display().to_string(),
                }
                .into());
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let lock =
            Lockfile::parse(&text).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Loaded { rel, lock })
    };

    let foundation = match layer {
        Layer::Application => None,
        Layer::Foundation | Layer::All if manifest.foundation.is_none() => {
            if layer == Layer::Foundation {
                return Err(SelectError::NoFoundation {
                    what: "--layer foundation".to_string(),
                    manifest: manifest_name,
                }
                .into());
            }
            None
        }
        Layer::Foundation | Layer::All => {
            let Some(key) = &key else {
                return Err(need_key(declared).into());
            };
            Some(read(
                foundation_lockfile(key),
                format!("no Foundation lockfile for key {key}"),
            )?)
        }
    };
    let application = match layer {
        Layer::Foundation => None,
        Layer::Application | Layer::All => {
            let shared = dir.join(APPLICATION_LOCKFILE);
            let per_key: Vec<String> = declared
                .iter()
                .filter(|k| dir.join(application_key_lockfile(k)).is_file())
                .cloned()
                .collect();
            if shared.is_file() || per_key.is_empty() {
                Some(read(
                    APPLICATION_LOCKFILE.to_string(),
                    "no Application lockfile".to_string(),
                )?)
            } else {
                let Some(key) = &key else {
                    return Err(need_key(per_key).into());
                };
                Some(read(
                    application_key_lockfile(key),
                    format!("no Application lockfile for key {key}"),
                )?)
            }
        }
    };
    let beneath = match (&key, layer) {
        (Some(key), Layer::Application) => read(foundation_lockfile(key), String::new()).ok(),
        _ => None,
    };
    Ok(Selection {
        layer,
        key,
        foundation,
        application,
        beneath,
        declared,
    })
}

/// [`select`], seen from the environment `choice` names (see [`super::environments`]): a
/// universal lockfile's entries whose markers hold there, with the environment chosen.
pub fn select_for(
    manifest: &Manifest,
    layer: Layer,
    key: Option<&str>,
    choice: &Choice,
) -> Result<(Selection, ChosenEnv)> {
    super::environments::narrow(manifest, select(manifest, layer, key)?, choice)
}

/// Why one lockfile cannot be used as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Staleness {
    /// The file does not exist.
    Missing { file: String },
    /// The file cannot be read as a lockfile.
    Unreadable { file: String, error: String },
    /// The manifest changed since the file was written: what changed.
    Stale {
        file: String,
        manifest: String,
        reasons: Vec<String>,
    },
}

impl Staleness {
    /// The lockfile, as shown (relative to the manifest's directory).
    pub fn file(&self) -> &str {
        match self {
            Staleness::Missing { file }
            | Staleness::Unreadable { file, .. }
            | Staleness::Stale { file, .. } => file,
        }
    }

    /// A first line, then `  - reason` lines.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Staleness::Missing { file } => vec![format!("{file} is missing")],
            Staleness::Unreadable { file, error } => {
                vec![format!("{file} cannot be read: {error}")]
            }
            Staleness::Stale {
                file,
                manifest,
                reasons,
            } => std::iter::once(format!(
                "{file} is stale: {manifest} changed since it was written:"
            ))
            .chain(reasons.iter().map(|r| format!("  - {r}")))
            .collect(),
        }
    }
}

/// Why the lockfile at `path` is stale, or `None` when it was made from `inputs`, whose hash
/// is `hash`.
pub fn staleness(
    path: &Path,
    manifest: &Manifest,
    inputs: &InputSummary,
    hash: &str,
) -> Option<Staleness> {
    let file = crate::fs::display(path, manifest.dir());
    let old = match std::fs::read_to_string(path) {
        Ok(text) => match Lockfile::parse(&text) {
            Ok(lock) => lock,
            Err(e) => {
                return Some(Staleness::Unreadable {
                    file,
                    error: e.to_string(),
                });
            }
        },
        Err(_) => return Some(Staleness::Missing { file }),
    };
    if old.tool.inputs_hash == hash {
        return None;
    }
    let mut reasons = inputs.changes_from(&old.tool.inputs);
    if old.tool.python != manifest.python {
        reasons.push(format!(
            "python changed from `{}` to `{}`",
            old.tool.python, manifest.python
        ));
    }
    let platform = manifest.universe.platform_names();
    if old.tool.platform != platform {
        reasons.push(format!(
            "platform changed from `{}` to `{platform}`",
            old.tool.platform
        ));
    }
    if old.tool.format != FORMAT_VERSION {
        reasons.push(format!(
            "lockfile format {} is older than {FORMAT_VERSION}",
            old.tool.format
        ));
    }
    if reasons.is_empty() {
        reasons.push("the recorded inputs hash differs".to_string());
    }
    Some(Staleness::Stale {
        file,
        manifest: manifest.path.display().to_string(),
        reasons,
    })
}

/// `sync --locked` and stale lockfiles.
#[derive(Debug, thiserror::Error)]
#[error("--locked: the lockfiles are out of date, so nothing was installed:\n  {}", stale.iter().flat_map(Staleness::lines).collect::<Vec<_>>().join("\n  "))]
pub struct StaleLockfiles {
    pub stale: Vec<Staleness>,
}

/// Read a lockfile for preferences; a missing or unreadable one gives none.
pub fn read_existing(path: &Path) -> Option<Lockfile> {
    let text = std::fs::read_to_string(path).ok()?;
    match Lockfile::parse(&text) {
        Ok(lock) => Some(lock),
        Err(e) => {
            tracing::warn!(
                "ignoring the existing {}: {e}; it will be rewritten",
                path.display()
            );
            None
        }
    }
}

/// What one `lock` run writes and removes, committed together at the end (see
/// [`crate::fs::Staged`]): a failure anywhere before leaves every lockfile as it was.
pub struct LockfileWriter {
    trusted: TrustedIndexes,
    staged: Staged,
    /// `(path, changed)` of every lockfile written, in order.
    files: Vec<(PathBuf, bool)>,
    /// The directory paths are shown relative to.
    base: PathBuf,
}

/// What [`LockfileWriter::commit`] did, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Every lockfile of the set, relative to the manifest's directory, and whether its bytes
    /// changed (and were written).
    pub files: Vec<(String, bool)>,
    /// Lockfiles that no longer belong, removed.
    pub removed: Vec<String>,
}

impl LockfileWriter {
    /// A writer of lockfiles in `dir` whose artifacts must come from `trusted`.
    pub fn new(dir: &Path, trusted: TrustedIndexes) -> LockfileWriter {
        LockfileWriter {
            trusted,
            staged: Staged::new(),
            files: Vec::new(),
            base: dir.parent().unwrap_or(dir).to_path_buf(),
        }
    }

    /// Stage `lockfile` for `path` when its bytes changed. A lockfile `sync` would refuse (an
    /// artifact on a host no declared index serves from) is an error here already.
    pub fn write(&mut self, path: &Path, lockfile: &Lockfile) -> Result<()> {
        self.trusted
            .check_file(&crate::fs::display(path, &self.base), lockfile)?;
        let text = lockfile.render();
        let changed = std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str());
        if changed {
            self.staged.write(path, text);
        }
        self.files.push((path.to_path_buf(), changed));
        Ok(())
    }

    /// Remove a lockfile that no longer belongs, when it exists.
    pub fn remove(&mut self, path: &Path) {
        if path.is_file() {
            self.staged.remove(path);
        }
    }

    /// Remove Foundation and per-key Application lockfiles of keys the manifest no longer
    /// declares.
    pub fn remove_undeclared(&mut self, dir: &Path, keys: &[String]) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut stale: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                    return false;
                };
                let key = name
                    .strip_prefix("pylock.foundation-")
                    .or_else(|| name.strip_prefix("pylock.application-"))
                    .and_then(|rest| rest.strip_suffix(".toml"));
                key.is_some_and(|k| !keys.iter().any(|d| d == k))
            })
            .collect();
        stale.sort();
        for path in stale {
            self.remove(&path);
        }
    }

    /// Write and remove everything at once.
    pub fn commit(self) -> Result<Written> {
        let removed = self.staged.commit()?;
        let shown = |p: &Path| crate::fs::display(p, &self.base);
        Ok(Written {
            files: self
                .files
                .iter()
                .map(|(path, changed)| (shown(path), *changed))
                .collect(),
            removed: removed.iter().map(|p| shown(p)).collect(),
        })
    }
}
