//! The journal of a sync in progress, `<venv>/.sanctuary-journal.json`, so that a sync killed
//! at any point (SIGKILL included) is finished by the next one.
//!
//! Before a sync changes the environment it writes the journal (atomically): the dist-info
//! directories it is about to remove and, for every distribution it is about to install,
//! the dist-info it will create and the unpacked wheel it links from. The journal is removed
//! once every change is made. A sync that finds a journal first [`recover`]s:
//! - an install whose dist-info has no `RECORD` was cut short: every file it would have
//!   written ([`super::wheel::destinations`]) is removed, then its dist-info;
//! - a removal cut short after its `RECORD` went has no files left: its dist-info is removed
//!   (one that still has its `RECORD` is an ordinary installed distribution, and the new
//!   sync's plan removes or replaces it again).
//!
//! The paths recovery removed are returned: a distribution that stays and lists one of them
//! (a shared namespace `__init__.py`) must be reinstalled. Uninstalling (see
//! [`super::uninstall`]) removes `RECORD` and `METADATA` last, which is what makes the second
//! rule sound.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::wheel::{InstallOptions, UnpackedWheel, destinations};
use super::{Venv, remove_dist_info};

/// The journal's file name in the venv root.
pub const JOURNAL_FILE: &str = ".sanctuary-journal.json";

/// What a sync in progress is changing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    /// Dist-info directories being removed (distributions removed or replaced).
    pub removing: Vec<PathBuf>,
    pub installing: Vec<PendingInstall>,
}

/// One installation in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInstall {
    /// The dist-info directory it creates.
    pub dist_info: PathBuf,
    /// The unpacked wheel it links from.
    pub unpacked: PathBuf,
}

/// The journal cannot be read, written or acted on.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot write the sync journal {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the sync journal {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove {} while finishing an interrupted sync", path.display())]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What [`recover`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Files removed (normalized absolute paths).
    pub removed_files: BTreeSet<PathBuf>,
    /// Dist-info directories removed.
    pub removed_dist_infos: Vec<PathBuf>,
    /// Interrupted installs whose unpacked wheel is gone from the cache: only their
    /// dist-info could be removed.
    pub unknown_files: Vec<PathBuf>,
}

impl Journal {
    fn path(root: &Path) -> PathBuf {
        root.join(JOURNAL_FILE)
    }

    /// The journal left in the venv at `root`, if any. One that cannot be parsed (cut short
    /// while written, which the rename prevents, or edited) reads as empty.
    pub fn read(root: &Path) -> Result<Option<Journal>, JournalError> {
        let path = Journal::path(root);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(
                    "ignoring the unreadable sync journal {}: {e}",
                    path.display()
                );
                Journal::default()
            }))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(JournalError::Read { path, source }),
        }
    }

    /// Write the journal into the venv at `root`, atomically and durably.
    pub fn write(&self, root: &Path) -> Result<(), JournalError> {
        let path = Journal::path(root);
        let err = |source| JournalError::Write {
            path: path.clone(),
            source,
        };
        let json = serde_json::to_vec(self).map_err(|e| err(std::io::Error::other(e)))?;
        crate::fs::write_file(&path, &json, crate::fs::Durability::Synced).map_err(err)
    }

    /// Remove the journal of the venv at `root`: the sync it described is complete.
    pub fn clear(root: &Path) -> Result<(), JournalError> {
        let path = Journal::path(root);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(JournalError::Write { path, source: e })
            }
            _ => Ok(()),
        }
    }
}

/// Undo what the interrupted sync described by `journal` left half done in `venv`; see the
/// module documentation. The journal itself is left for the caller to clear once the new
/// sync is complete.
pub fn recover(
    journal: &Journal,
    venv: &Venv,
    options: &InstallOptions,
) -> Result<Recovery, JournalError> {
    let mut recovery = Recovery::default();
    let remove = |path: &Path| -> Result<bool, JournalError> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.is_dir() => {
                std::fs::remove_file(path).map_err(|source| JournalError::Remove {
                    path: path.to_path_buf(),
                    source,
                })?;
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    for pending in &journal.installing {
        let Some(dist_info) = inside_site_packages(&pending.dist_info, venv) else {
            continue;
        };
        if dist_info.join("RECORD").is_file() {
            continue;
        }
        match UnpackedWheel::load(&pending.unpacked)
            .and_then(|u| destinations(&u, venv, options).ok())
        {
            Some(paths) => {
                for path in paths {
                    let path = super::normalize(&path);
                    if path.starts_with(&venv.root) && remove(&path)? {
                        recovery.removed_files.insert(path);
                    }
                }
            }
            None => recovery.unknown_files.push(dist_info.clone()),
        }
        if dist_info.exists() {
            remove_dist_info(&dist_info).map_err(|source| JournalError::Remove {
                path: dist_info.clone(),
                source,
            })?;
            recovery.removed_dist_infos.push(dist_info);
        }
    }
    for dist_info in &journal.removing {
        let Some(dist_info) = inside_site_packages(dist_info, venv) else {
            continue;
        };
        if dist_info.exists() && !dist_info.join("RECORD").exists() {
            remove_dist_info(&dist_info).map_err(|source| JournalError::Remove {
                path: dist_info.clone(),
                source,
            })?;
            recovery.removed_dist_infos.push(dist_info);
        }
    }
    Ok(recovery)
}

/// `path` normalized, when it is a `*.dist-info` directly inside the venv's site-packages
/// (a journal is only trusted that far).
fn inside_site_packages(path: &Path, venv: &Venv) -> Option<PathBuf> {
    let path = super::normalize(path);
    let ok = path.parent() == Some(super::normalize(&venv.site_packages).as_path())
        && path.extension().is_some_and(|e| e == "dist-info");
    ok.then_some(path)
}
