//! Writing the project's own files (lockfiles, exports, reports): each one whole or not at all,
//! and a set of them all together or not at all.
//!
//! A file is written to a temporary file beside it, flushed to disk and renamed into place, so
//! a crash never leaves a truncated file. The temporary file is created with mode `0o666`, which
//! the kernel reduces by the process umask: the result is the mode any editor or `git checkout`
//! would give the file (usually `0o644`), not `tempfile`'s private default `0o600`.
//!
//! [`Staged`] writes several files as one change: every new file is written and flushed first
//! (nothing visible changes yet), then all of them are renamed into place and the files that no
//! longer belong are removed. A failure before the renames leaves every file as it was.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A file could not be written or removed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    #[error("cannot create the directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot replace {}", path.display())]
    Replace {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove {}", path.display())]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How a write must survive a crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Flushed to disk before the rename: the project's files, the venv's journal.
    Synced,
    /// Renamed into place unflushed: cache entries, which are checked when read and made
    /// again when lost.
    Cached,
}

/// Write `bytes` to `path` through a flushed temporary file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    let tmp = write_temporary(path, bytes, Durability::Synced)?;
    tmp.persist(path).map_err(|e| FsError::Replace {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// [`write_atomically`] for the other modules' own error types: the error is the I/O error
/// alone (the caller names the path).
pub fn write_file(path: &Path, bytes: &[u8], durability: Durability) -> std::io::Result<()> {
    let tmp = write_temporary(path, bytes, durability).map_err(FsError::into_io)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

impl FsError {
    /// The I/O error underneath.
    pub fn into_io(self) -> std::io::Error {
        match self {
            FsError::CreateDir { source, .. }
            | FsError::Write { source, .. }
            | FsError::Replace { source, .. }
            | FsError::Remove { source, .. } => source,
        }
    }
}

/// A temporary file beside `path` holding `bytes` (flushed when `Synced`), removed when
/// dropped.
fn write_temporary(
    path: &Path,
    bytes: &[u8],
    durability: Durability,
) -> Result<tempfile::NamedTempFile, FsError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|source| FsError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let write_err = |source| FsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = builder.tempfile_in(dir).map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    if durability == Durability::Synced {
        tmp.as_file().sync_all().map_err(write_err)?;
    }
    Ok(tmp)
}

/// Files to write and remove together: see the module documentation.
#[derive(Debug, Default)]
pub struct Staged {
    writes: Vec<(PathBuf, Vec<u8>)>,
    removals: Vec<PathBuf>,
}

impl Staged {
    pub fn new() -> Staged {
        Staged::default()
    }

    /// Write `bytes` to `path` on [`Staged::commit`] (a later call for the same path wins).
    pub fn write(&mut self, path: &Path, bytes: impl Into<Vec<u8>>) {
        self.writes.retain(|(p, _)| p != path);
        self.removals.retain(|p| p != path);
        self.writes.push((path.to_path_buf(), bytes.into()));
    }

    /// Remove `path`, when it exists, on [`Staged::commit`].
    pub fn remove(&mut self, path: &Path) {
        self.writes.retain(|(p, _)| p != path);
        if !self.removals.iter().any(|p| p == path) {
            self.removals.push(path.to_path_buf());
        }
    }

    /// Write every file, then rename them all into place, then remove what goes. Returns the
    /// paths removed (those that existed).
    pub fn commit(self) -> Result<Vec<PathBuf>, FsError> {
        let temporaries = self
            .writes
            .iter()
            .map(|(path, bytes)| {
                write_temporary(path, bytes, Durability::Synced).map(|tmp| (path, tmp))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for (path, tmp) in temporaries {
            tmp.persist(path).map_err(|e| FsError::Replace {
                path: path.clone(),
                source: e.error,
            })?;
        }
        let mut removed = Vec::new();
        for path in self.removals {
            match std::fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(FsError::Remove { path, source }),
            }
        }
        Ok(removed)
    }
}

/// `path` relative to `base` when it lies under it, else as it is: how paths are shown.
pub fn display(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn lockfiles_get_the_mode_the_umask_gives_not_0600() {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pylock.toml");
        write_atomically(&path, b"x").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // The umask of the test process is unknown, but it is the same for this file.
        let probe = dir.path().join("probe");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&probe)
            .unwrap();
        let expected = std::fs::metadata(&probe).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, expected, "{mode:o} != {expected:o}");
        assert_ne!(
            mode, 0o600,
            "the umask of this test run makes the check void"
        );
    }

    #[test]
    fn a_staged_set_changes_nothing_until_every_file_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.toml");
        let gone = dir.path().join("gone.toml");
        std::fs::write(&a, "old").unwrap();
        std::fs::write(&gone, "old").unwrap();
        let mut staged = Staged::new();
        staged.write(&a, "new");
        staged.remove(&gone);
        // A file whose directory cannot be created (its parent is a file): the commit fails
        // before any rename, so `a` and `gone` are as they were.
        staged.write(&gone.join("sub").join("c.toml"), "c");
        assert!(staged.commit().is_err());
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old");
        assert_eq!(std::fs::read_to_string(&gone).unwrap(), "old");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 2, "no temporary file is left behind");

        let mut staged = Staged::new();
        staged.write(&a, "new");
        staged.remove(&gone);
        assert_eq!(staged.commit().unwrap(), vec![gone.clone()]);
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "new");
        assert!(!gone.exists());
    }
}
