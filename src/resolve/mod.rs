//! Dependency resolution: a PubGrub (`pubgrub` 0.4) `DependencyProvider` over an async
//! [`PackageSource`]. PubGrub runs on its own thread; index pages and metadata are fetched on
//! the tokio runtime, concurrently, and prefetched as soon as a dependency appears.
//!
//! Owns the PEP 440 -> PubGrub range conversion (local labels, pre-releases), marker and extra
//! handling for the declared [`Target`], wheel selection, yanked and pre-release rules,
//! preferences from an existing lockfile, and the plain-words conflict report.

pub mod ranges;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};

use crate::index::{DistFile, IndexError, IndexUrl, PackageSource};
use crate::target::Target;

/// Where a root requirement came from, for error messages: "application requirement
/// `peft>=0.13` (sanctuary.toml:14)".
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// `foundation`, `foundation (cu130)`, `application`, ...
    pub layer: String,
    /// `requirement` or `constraint`.
    pub kind: String,
    pub file: Option<PathBuf>,
    /// 1-based line in `file`.
    pub line: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.layer, self.kind)?;
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, " ({}:{line})", file.display()),
            (Some(file), None) => write!(f, " ({})", file.display()),
            _ => Ok(()),
        }
    }
}

/// A requirement given by the user, with where it came from.
#[derive(Clone, Debug)]
pub struct RootRequirement {
    pub requirement: Requirement,
    pub origin: Origin,
}

/// When pre-releases may be chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PrereleaseMode {
    /// Only for a package whose requirement names a pre-release, or when a package has no
    /// final release that fits (uv's `if-necessary-or-explicit`).
    #[default]
    IfNecessaryOrExplicit,
    /// Always allowed (nightly channels, `--prerelease allow`).
    Allow,
    /// Never.
    Disallow,
}

/// Everything a resolution needs besides the package source.
#[derive(Clone, Debug)]
pub struct ResolveRequest {
    pub requirements: Vec<RootRequirement>,
    /// Constrain versions of packages if they are required; never add packages.
    pub constraints: Vec<RootRequirement>,
    pub target: Target,
    pub prereleases: PrereleaseMode,
    /// Versions to prefer (from the existing lockfile), unless the package is released.
    pub preferences: HashMap<PackageName, Version>,
    /// Packages whose preference is ignored (`--upgrade-package`); `upgrade_all` ignores all.
    pub upgrade: HashSet<PackageName>,
    pub upgrade_all: bool,
    /// Packages that must not be installed from wheels (`no_binary`): they then need an sdist,
    /// which sanctuary does not build, so such versions are unavailable with a reason.
    pub no_binary: HashSet<PackageName>,
}

/// One package of a resolution.
#[derive(Clone, Debug)]
pub struct ResolvedPackage {
    pub name: PackageName,
    pub version: Version,
    pub index: Arc<IndexUrl>,
    /// Files of this version usable on the target, best first (wheels only for now).
    pub files: Vec<DistFile>,
    /// Dependencies of this package on the target (markers evaluated, extras merged).
    pub dependencies: BTreeSet<PackageName>,
    /// The extras of this package that were requested.
    pub extras: BTreeSet<ExtraName>,
    pub requires_python: Option<VersionSpecifiers>,
    /// True when a root requirement names this package.
    pub direct: bool,
}

/// A complete, consistent set of packages for the target.
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    pub packages: BTreeMap<PackageName, ResolvedPackage>,
}

/// Why a resolution failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The requirements cannot all be satisfied; the report explains why in plain words,
    /// naming each root requirement with its origin, with `hint:` lines where they help.
    #[error("{report}")]
    NoSolution { report: String },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("invalid requirement from {origin}: {reason}")]
    BadRequirement { origin: Origin, reason: String },
    #[error("the resolver stopped unexpectedly: {0}")]
    Internal(String),
}

/// Resolve `request` against `source`. Must be called within a tokio runtime; PubGrub itself
/// runs on a dedicated thread.
pub async fn resolve<S: PackageSource>(
    source: Arc<S>,
    request: ResolveRequest,
) -> Result<Resolution, ResolveError> {
    let _ = (source, request);
    todo!("resolver helper")
}
