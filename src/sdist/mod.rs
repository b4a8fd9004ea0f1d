//! Source distributions (`.tar.gz` / `.zip` sdists): what a build needs to know of one before
//! anything runs.
//!
//! - [`archive`]: reading an sdist, which is untrusted input: [`unpack`] extracts it (one
//!   top-level directory, safe names, no link or write leaving the tree, no device, no PAX
//!   size that Python's `tarfile` would read otherwise, size and entry limits, a cap on the
//!   decompressed stream) and [`read_static_files`] reads its `PKG-INFO` and
//!   `pyproject.toml` under the same rules without writing anything. The rules themselves
//!   live in `tree`, the formats in `tarball` and `zipfile`.
//! - [`metadata`] (pure): the core metadata an sdist states statically (PEP 643 `PKG-INFO`,
//!   PEP 621 `[project]`), so that the resolver needs no build for it, and its
//!   [`BuildSystem`] (PEP 517 / PEP 518).

pub mod archive;
pub mod metadata;
mod tarball;
mod tree;
mod zipfile;

#[cfg(test)]
mod archive_tests;
#[cfg(test)]
mod metadata_tests;

use std::path::PathBuf;

use pep508_rs::Requirement;

pub use archive::{
    Limits, MAX_PKG_INFO_BYTES, MAX_PYPROJECT_BYTES, StaticFiles, read_static_files,
    read_static_files_from_bytes, unpack, unpack_bytes,
};
pub use metadata::{build_system, from_pkg_info, from_pyproject};

/// A project's `[build-system]` (PEP 517 / PEP 518), or the legacy setuptools default for a
/// project without one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildSystem {
    /// `build-system.requires`.
    pub requires: Vec<Requirement>,
    /// `build-system.build-backend`: `module` or `module:object`.
    pub backend: String,
    /// `build-system.backend-path`: directories, relative to the source tree, put first on
    /// `sys.path` to import an in-tree backend.
    pub backend_path: Vec<String>,
}

/// Why an sdist, or what it states, is refused.
#[derive(Debug, thiserror::Error)]
pub enum SdistError {
    /// Not a format sanctuary reads.
    #[error("`{sdist}` is not a source distribution sanctuary reads: {reason}")]
    Unsupported { sdist: String, reason: String },
    /// The archive could not be read (a corrupt stream, a truncated file).
    #[error("cannot read the source distribution `{sdist}`")]
    Read {
        sdist: String,
        #[source]
        source: std::io::Error,
    },
    /// Writing the source tree failed.
    #[error("cannot unpack the source distribution `{sdist}` to `{}`", path.display())]
    Write {
        sdist: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `unpack`'s destination exists and is not an empty directory.
    #[error("cannot unpack `{sdist}` to `{}`: it is not an empty directory", path.display())]
    Destination { sdist: String, path: PathBuf },
    /// The archive as a whole (its structure, no top-level directory, a compression bomb).
    #[error("the source distribution `{sdist}` is refused: {reason}")]
    Archive { sdist: String, reason: String },
    /// One member of the archive.
    #[error("the source distribution `{sdist}` is refused: member `{member}`: {reason}")]
    Member {
        sdist: String,
        member: String,
        reason: String,
    },
    /// `PKG-INFO` or `pyproject.toml` of the sdist of `package` (`name version`).
    #[error("{file} of {package}: {reason}")]
    Metadata {
        package: String,
        file: &'static str,
        reason: String,
    },
    /// `PKG-INFO` or `pyproject.toml` names another project or version than the sdist.
    #[error("{file} describes `{found}`, but the source distribution is `{expected}`")]
    Mismatch {
        file: &'static str,
        expected: String,
        found: String,
    },
    /// `pyproject.toml`'s `[build-system]`.
    #[error("pyproject.toml: {reason}")]
    BuildSystem { reason: String },
}
