//! Source distributions (`.tar.gz` / `.zip` sdists): what a build needs to know of one before
//! anything runs. Pure types for now; the archive reader and the static-metadata parsers
//! join them here.

use pep508_rs::Requirement;

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
