//! Package indexes: what files a project has (PEP 503 HTML / PEP 691 JSON simple pages, local
//! `file://` indexes and flat `--find-links` directories) and the core metadata of a wheel
//! (PEP 658 `.metadata` files, HTTP range requests on the wheel's zip central directory, or the
//! whole wheel), behind an on-disk cache.
//!
//! The resolver sees only the [`PackageSource`] trait, so it can be tested on in-memory data.
//! [`IndexSet`] is the real implementation: the first index that has a project wins, and a
//! project pinned to an `explicit` index comes only from there.

pub mod cache;
pub mod client;
pub mod metadata;
pub mod range;
pub mod simple;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};
use url::Url;

use crate::wheel::DistFilename;

/// One configured index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IndexUrl {
    /// The name from the manifest (`pypi`, `pytorch`, ...).
    pub name: String,
    /// Simple API root (`https://pypi.org/simple`), `file://` index root, or flat directory.
    pub url: Url,
    /// Only projects pinned to this index may come from it.
    pub explicit: bool,
    pub kind: IndexKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexKind {
    /// A PEP 503 / PEP 691 simple repository: `{url}/{project}/`.
    Simple,
    /// A flat directory or HTML page of files (`--find-links`).
    Flat,
}

/// One downloadable file of a project, as the index lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    pub parsed: DistFilename,
    /// Absolute URL, without the `#sha256=` fragment.
    pub url: Url,
    /// Lowercase hex sha256, when the index gives it.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// RFC 3339 upload time, when the index gives it.
    pub upload_time: Option<String>,
    pub requires_python: Option<VersionSpecifiers>,
    /// `Some(reason)` when yanked (the reason may be empty).
    pub yanked: Option<String>,
    /// PEP 658 / 714 core metadata availability.
    pub core_metadata: CoreMetadataRef,
}

/// Whether the index serves the file's core metadata separately (`{url}.metadata`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreMetadataRef {
    Absent,
    /// Served; `sha256` of the metadata file when the index gives it.
    Available {
        sha256: Option<String>,
    },
}

/// All files of one project from the index that serves it, grouped by version (newest last).
#[derive(Clone, Debug)]
pub struct PackageFiles {
    pub name: PackageName,
    pub index: Arc<IndexUrl>,
    pub versions: BTreeMap<Version, Vec<DistFile>>,
}

/// The core metadata of one distribution (the fields the resolver needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreMetadata {
    pub name: PackageName,
    pub version: Version,
    pub requires_dist: Vec<Requirement>,
    pub requires_python: Option<VersionSpecifiers>,
    pub provides_extra: Vec<ExtraName>,
}

/// Errors from indexes, the cache and metadata.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index `{index}` at {url} is unreachable: {reason}")]
    Unreachable {
        index: String,
        url: Url,
        reason: String,
    },
    #[error("{url} answered HTTP {status}")]
    Status { url: Url, status: u16 },
    #[error("could not parse the simple page {url}: {reason}")]
    BadPage { url: Url, reason: String },
    #[error("invalid metadata in {file}: {reason}")]
    BadMetadata { file: String, reason: String },
    #[error("hash mismatch for {url}: expected sha256 {expected}, got {actual}")]
    HashMismatch {
        url: Url,
        expected: String,
        actual: String,
    },
    #[error("`{what}` is not in the cache and --offline forbids network access")]
    Offline { what: String },
    #[error("cache error at {path}: {source}")]
    Cache {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// What the resolver needs from the indexes. Implemented by [`IndexSet`] and by in-memory
/// sources in tests.
pub trait PackageSource: Send + Sync + 'static {
    /// All files of `name`, from the first index that has it (or the index it is pinned to).
    /// `Ok(None)` when no configured index knows the project.
    fn files(
        &self,
        name: &PackageName,
    ) -> impl Future<Output = Result<Option<Arc<PackageFiles>>, IndexError>> + Send;

    /// The core metadata of `file` (a wheel of `package`).
    fn metadata(
        &self,
        package: &PackageFiles,
        file: &DistFile,
    ) -> impl Future<Output = Result<Arc<CoreMetadata>, IndexError>> + Send;
}

/// Settings of the index client and its cache.
#[derive(Clone, Debug)]
pub struct IndexSettings {
    /// Root of the on-disk cache (`SANCTUARY_CACHE_DIR`, default the user cache dir).
    pub cache_dir: std::path::PathBuf,
    /// Use the cache only; make no request.
    pub offline: bool,
    /// Ignore cached simple pages and metadata.
    pub refresh: bool,
    /// Most requests in flight at once.
    pub concurrency: usize,
}

/// The configured indexes, in manifest order, with their HTTP client and cache.
pub struct IndexSet {
    _todo: (),
}

impl IndexSet {
    /// `indexes` in manifest order; `pins` maps a project to the name of the index it must
    /// come from (required for `explicit` indexes).
    pub fn new(
        indexes: Vec<IndexUrl>,
        pins: std::collections::HashMap<PackageName, String>,
        settings: IndexSettings,
    ) -> Result<Self, IndexError> {
        let _ = (indexes, pins, settings);
        todo!("index helper")
    }

    /// Fill in what the simple page did not say about `file` (size, upload time), from the
    /// cache or a HEAD request. Immutable per sha256, so cached forever.
    pub async fn complete(&self, file: &DistFile) -> Result<DistFile, IndexError> {
        let _ = file;
        todo!("index helper")
    }
}

impl PackageSource for IndexSet {
    async fn files(&self, name: &PackageName) -> Result<Option<Arc<PackageFiles>>, IndexError> {
        let _ = name;
        todo!("index helper")
    }

    async fn metadata(
        &self,
        package: &PackageFiles,
        file: &DistFile,
    ) -> Result<Arc<CoreMetadata>, IndexError> {
        let _ = (package, file);
        todo!("index helper")
    }
}
