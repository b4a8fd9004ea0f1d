//! What a wheel may never write, and a `RECORD` may never remove.
//!
//! - [`venv_file`]: the virtual environment's own files: `pyvenv.cfg`, the interpreters
//!   and activation scripts in `bin` (see [`venv_script`]), `lib64`, sanctuary's
//!   `.sanctuary.lock` and `.sanctuary-journal.json`, and the directories of the layout
//!   itself (the venv, `bin`, `site-packages` and the directories above it, also through
//!   `lib64`). [`super::link`]
//!   refuses a wheel that would write one (whatever the scheme: an archive file,
//!   `.data/scripts`, `.data/data`, `.data/headers`, a launcher); [`super::uninstall`] never
//!   removes one, whatever a `RECORD` lists. Paths are compared by components, lexically,
//!   the names case-insensitively.
//! - [`OwnedFiles`]: the files other installed distributions list in their `RECORD`s.
//!   A wheel may write such a file only when its content is byte-identical to what the
//!   owner's `RECORD` records (the same sha256): namespace packages such as `nvidia/`
//!   ship the same `__init__.py` in many wheels, and pip and uv overwrite it silently. Any
//!   other overlap is refused, naming both distributions, unless the owner leaves in the
//!   same sync (`sync` builds [`OwnedFiles`] from the distributions that stay). A shared
//!   file stays while any distribution listing it stays: [`super::uninstall`] is given
//!   their paths to keep.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::journal::JOURNAL_FILE;
use super::venv::{KEY_FILE, LOCK_FILE};
use super::{Venv, normalize};
use crate::environment::InstalledDistribution;

/// Why `name` in `bin` belongs to the venv itself (`it would replace ...`): an interpreter (`python`, `python3`,
/// `python3.12`, `python3.13t`, `pythonw`) or an activation script (`activate`,
/// `activate.fish`, `Activate.ps1`, `deactivate`, ...).
pub fn venv_script(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("python") {
        let rest = rest.strip_prefix('w').unwrap_or(rest);
        let rest = rest.strip_suffix('t').unwrap_or(rest);
        if rest.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Some("it would replace the venv's interpreter");
        }
    }
    if lower.starts_with("activate") || lower.starts_with("deactivate") {
        return Some("it would replace the venv's activation scripts");
    }
    None
}

/// `path` relative to the venv (`/`-separated) when it is one of the venv's own files or
/// directories; see the module documentation.
pub fn venv_file(path: &Path, venv: &Venv) -> Option<String> {
    VenvFiles::new(venv).check(path)
}

/// The venv's own files ([`venv_file`]), with the venv's directories normalized once: a wheel
/// asks about thousands of paths.
pub struct VenvFiles {
    root: PathBuf,
    bin: PathBuf,
    site: PathBuf,
    /// `site-packages` as the venv spells it (not normalized), for the quick test.
    site_as_given: PathBuf,
}

impl VenvFiles {
    pub fn new(venv: &Venv) -> VenvFiles {
        VenvFiles {
            root: normalize(&venv.root),
            bin: normalize(&venv.bin),
            site: normalize(&venv.site_packages),
            site_as_given: venv.site_packages.clone(),
        }
    }

    /// See [`venv_file`].
    pub fn check(&self, path: &Path) -> Option<String> {
        // Most paths lie below site-packages, where nothing is the venv's own; a path built
        // by joining plain names onto it needs no normalizing to tell.
        if let Ok(rest) = path.strip_prefix(&self.site_as_given)
            && !rest.as_os_str().is_empty()
            && rest
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return None;
        }
        let path = normalize(path);
        let rel = path.strip_prefix(&self.root).ok()?;
        let shown = || {
            let text = rel.to_string_lossy().replace('\\', "/");
            if text.is_empty() {
                ".".to_string()
            } else {
                text
            }
        };
        // The venv, site-packages and every directory above it (also as reached through the
        // venv's `lib64 -> lib` link), bin.
        let through_lib64 = rel
            .strip_prefix("lib64")
            .ok()
            .map(|r| self.root.join("lib").join(r));
        if self.site.starts_with(&path)
            || through_lib64.is_some_and(|p| self.site.starts_with(p))
            || path == self.bin
        {
            return Some(shown());
        }
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let top = rel.components().count() == 1;
        let own = ["pyvenv.cfg", "lib64", LOCK_FILE, JOURNAL_FILE, KEY_FILE];
        if top && (own.contains(&name.as_str()) || name.starts_with(".sanctuary-journal")) {
            return Some(shown());
        }
        if path.parent() == Some(self.bin.as_path()) && venv_script(&name).is_some() {
            return Some(shown());
        }
        None
    }
}

/// The distribution owning a file, and the sha256 its `RECORD` records for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// `name version`, for messages.
    pub dist: String,
    pub sha256: Option<Vec<u8>>,
}

/// The files installed distributions list in their `RECORD`s, by normalized absolute
/// path; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct OwnedFiles {
    files: HashMap<PathBuf, Owner>,
}

impl OwnedFiles {
    /// The files of `distributions` (installed into `site_packages`). A file two of them
    /// list keeps its first owner.
    pub fn new<'a>(
        distributions: impl IntoIterator<Item = &'a InstalledDistribution>,
        site_packages: &Path,
    ) -> OwnedFiles {
        let site = normalize(site_packages);
        let mut files = HashMap::new();
        for dist in distributions {
            let owner = format!("{} {}", dist.name, dist.version);
            for entry in &dist.record {
                let sha256 = entry
                    .hash
                    .as_ref()
                    .filter(|h| h.algorithm == "sha256")
                    .map(|h| h.digest.clone());
                files
                    .entry(normalize(&site.join(&entry.path)))
                    .or_insert_with(|| Owner {
                        dist: owner.clone(),
                        sha256,
                    });
            }
        }
        OwnedFiles { files }
    }

    /// The owner of `path` (absolute), if any.
    pub fn get(&self, path: &Path) -> Option<&Owner> {
        self.files.get(&normalize(path))
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Every owned path: what [`super::uninstall`] must keep.
    pub fn paths(&self) -> HashSet<PathBuf> {
        self.files.keys().cloned().collect()
    }
}
