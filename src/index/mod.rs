//! Package indexes: what files a project has (PEP 503 HTML / PEP 691 JSON simple pages, local
//! `file://` indexes and flat `--find-links` directories) and the core metadata of a wheel
//! (PEP 658 `.metadata` files, HTTP range requests on the wheel's zip central directory, or the
//! whole wheel), behind an on-disk cache. Requests go through [`crate::http`]; the cache's
//! layout is [`crate::cache`]'s.
//!
//! The resolver sees only the [`PackageSource`] trait, so it can be tested on in-memory data.
//! [`IndexSet`] is the real implementation: the first index that has a project wins, and a
//! project pinned to an `explicit` index comes only from there. This file holds the data
//! types, the trait and the set's construction and views; the set's work is split by what it
//! answers: `projects` (a project's files, and the revalidation of cached pages),
//! `metadata_fetch` (core metadata) and `facts` (artifact sizes for lockfiles). The parsers
//! ([`simple`], [`metadata`]) do no I/O; `page` fetches a page, [`range`] reads a wheel's
//! metadata by range requests, [`local`] reads `file://` indexes and [`cache`] stores what
//! they learn.

// `IndexError` carries the URL at fault (a `Url` is ~90 bytes), which clippy finds large. The
// error shape is the interface shared with the resolver, and errors are rare next to the I/O
// they report, so boxing every variant would buy nothing.
#![allow(clippy::result_large_err)]

pub mod cache;
mod error;
mod facts;
pub mod local;
pub mod metadata;
mod metadata_fetch;
mod page;
mod projects;
pub mod range;
pub mod sdist_fetch;
pub mod sdist_metadata;
pub mod simple;

pub use error::IndexError;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};
use url::Url;

use crate::http::{self, auth};
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
    /// Credentials for its host, kept apart from `url` (which has none): see [`auth`].
    pub credentials: Option<auth::Credentials>,
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
    pub versions: Versions,
}

/// The files of a project by version.
pub type Versions = BTreeMap<Version, VersionFiles>;

/// The files of one version, in index order. Files read from the cache are decoded on first
/// use: a resolution looks at a handful of the thousands of versions a large project has.
pub struct VersionFiles {
    files: std::sync::OnceLock<Vec<DistFile>>,
    raw: Option<cache::RawFiles>,
}

impl VersionFiles {
    /// Files decoded already.
    pub fn new(files: Vec<DistFile>) -> Self {
        VersionFiles {
            files: std::sync::OnceLock::from(files),
            raw: None,
        }
    }

    /// Files decoded from `raw` on first use.
    pub(crate) fn lazy(raw: cache::RawFiles) -> Self {
        VersionFiles {
            files: std::sync::OnceLock::new(),
            raw: Some(raw),
        }
    }

    pub fn as_slice(&self) -> &[DistFile] {
        self.files.get_or_init(|| {
            self.raw
                .as_ref()
                .map(cache::RawFiles::decode)
                .unwrap_or_default()
        })
    }
}

impl From<Vec<DistFile>> for VersionFiles {
    fn from(files: Vec<DistFile>) -> Self {
        VersionFiles::new(files)
    }
}

impl std::ops::Deref for VersionFiles {
    type Target = [DistFile];
    fn deref(&self) -> &[DistFile] {
        self.as_slice()
    }
}

impl Clone for VersionFiles {
    fn clone(&self) -> Self {
        match (self.files.get(), &self.raw) {
            (None, Some(raw)) => VersionFiles::lazy(raw.clone()),
            _ => VersionFiles::new(self.as_slice().to_vec()),
        }
    }
}

impl std::fmt::Debug for VersionFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
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

    /// Start learning what a lockfile needs about `files` beyond the simple page (their
    /// sizes), so that it is known by the time the resolution is written. Best effort: errors
    /// are left for the caller that needs the answer.
    fn prefetch_facts(&self, files: Vec<DistFile>) -> impl Future<Output = ()> + Send {
        let _ = files;
        async {}
    }

    /// Where `name` is looked for, for messages; `None` when the source cannot say.
    fn scope(&self, name: &PackageName) -> Option<SearchScope> {
        let _ = name;
        None
    }

    /// Wait for work left running in the background; `Ok(true)` when something handed out
    /// earlier turned out stale (asking again gives the fresh answer), so a resolution built
    /// on it must be redone.
    fn settle(&self) -> impl Future<Output = Result<bool, IndexError>> + Send {
        async { Ok(false) }
    }
}

/// Where a project is looked for (see [`PackageSource::scope`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchScope {
    /// The indexes searched, in order, as `` `name` (url) ``.
    pub searched: Vec<String>,
    /// The project is restricted to the one index searched (routed there by the manifest).
    pub pinned: bool,
    /// Explicit indexes that were not searched, by name: they serve only what is routed to
    /// them.
    pub explicit: Vec<String>,
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
    /// The read timeout and deadline of requests.
    pub http: http::HttpTimeouts,
    /// The netrc file to take credentials from (`NETRC`, else `~/.netrc`), if any.
    pub netrc: Option<std::path::PathBuf>,
}

/// The configured indexes, in manifest order, with their HTTP client and cache.
///
/// `Send + Sync`: share it in an `Arc`. Concurrent callers asking for the same project or the
/// same file's metadata share one fetch, and results stay in memory for the process.
pub struct IndexSet {
    indexes: Vec<Arc<IndexUrl>>,
    /// Project -> position in `indexes` of the index it is pinned to.
    pins: HashMap<PackageName, usize>,
    settings: IndexSettings,
    client: http::HttpClient,
    cache: cache::Cache,
    /// By project and the index it is pinned to (views pin differently; see [`IndexView`]).
    projects: Memo<(PackageName, Option<usize>), Option<Arc<PackageFiles>>>,
    metadata: Memo<String, Arc<CoreMetadata>>,
    /// Artifact facts by artifact key, so that a prefetch and `complete` share one request.
    facts: Memo<String, cache::ArtifactFacts>,
    /// Size and upload time learnt while reading metadata, by artifact URL.
    learnt: Mutex<HashMap<Url, cache::ArtifactFacts>>,
    /// Hand out cached pages that need revalidation at once, revalidating in the background.
    speculate: bool,
    /// Background revalidations and cache writes, awaited by [`IndexSet::settle`].
    background: Background,
    /// Pages found changed by a background revalidation, by cache key, until asked for again.
    revalidated: Mutex<HashMap<String, Option<Versions>>>,
    /// Runs build backends for sdists without static metadata; none: such sdists are an error.
    builder: Option<Arc<dyn sdist_metadata::SdistBuilder>>,
    /// Local projects (directories, git checkouts), answered before any index: one version
    /// each, whose metadata the caller declares to the resolver.
    local: HashMap<PackageName, Arc<PackageFiles>>,
}

type Memo<K, V> = Mutex<HashMap<K, Arc<OnceCell<V>>>>;

type Background = Arc<Mutex<Vec<tokio::task::JoinHandle<Result<Option<Change>, IndexError>>>>>;

/// A page handed out from the cache that changed on the server.
struct Change {
    project: PackageName,
    key: String,
    files: Option<Versions>,
}

/// A mutex's guard; a poisoned mutex only means another task panicked while holding it, and the
/// maps behind these locks stay consistent.
fn guard<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The shared cell of `key`, created on first use.
fn memo_cell<K: Eq + Hash + Clone, V>(memo: &Memo<K, V>, key: &K) -> Arc<OnceCell<V>> {
    // A poisoned lock only means another task panicked while inserting; the map is intact.
    let mut map = memo.lock().unwrap_or_else(PoisonError::into_inner);
    map.entry(key.clone()).or_default().clone()
}

impl IndexSet {
    /// `indexes` in manifest order; `pins` maps a project to the name of the index it must
    /// come from (required for `explicit` indexes).
    pub fn new(
        indexes: Vec<IndexUrl>,
        pins: std::collections::HashMap<PackageName, String>,
        settings: IndexSettings,
    ) -> Result<Self, IndexError> {
        let indexes: Vec<Arc<IndexUrl>> = indexes.into_iter().map(Arc::new).collect();
        let by_position = pin_positions(&indexes, pins)?;
        let auth = auth::Auth::new(
            indexes
                .iter()
                .filter_map(|i| Some((&i.url, i.credentials.as_ref()?))),
            auth::Auth::read_netrc(settings.netrc.as_deref()),
        );
        let client =
            http::HttpClient::with_timeouts(settings.concurrency, settings.http)?.with_auth(auth);
        Ok(IndexSet::with_client(
            indexes,
            by_position,
            settings,
            client,
        ))
    }

    /// Another set of the same indexes, settings and HTTP client (one connection pool, and
    /// no second reading of the system's certificates), with nothing learnt yet: what the
    /// build requirements of a lock are resolved on.
    pub fn sibling(&self) -> IndexSet {
        IndexSet::with_client(
            self.indexes.clone(),
            self.pins.clone(),
            self.settings.clone(),
            self.client.clone(),
        )
    }

    fn with_client(
        indexes: Vec<Arc<IndexUrl>>,
        pins: HashMap<PackageName, usize>,
        settings: IndexSettings,
        client: http::HttpClient,
    ) -> IndexSet {
        IndexSet {
            client,
            cache: cache::Cache::new(&settings.cache_dir),
            indexes,
            pins,
            settings,
            projects: Mutex::default(),
            metadata: Mutex::default(),
            facts: Mutex::default(),
            learnt: Mutex::default(),
            speculate: true,
            background: Background::default(),
            revalidated: Mutex::default(),
            builder: None,
            local: HashMap::new(),
        }
    }

    /// Whether a cached page that needs revalidation is handed out before the server
    /// confirms it (default: yes). Callers that use this must call [`IndexSet::settle`] and
    /// ask again when it reports a change; [`crate::resolve::resolve`] does.
    pub fn with_speculation(mut self, speculate: bool) -> Self {
        self.speculate = speculate;
        self
    }

    /// Change the retry policy of the HTTP client (`retries` extra attempts, first delay
    /// `backoff`, doubling each time). The default is 3 retries from 100 ms.
    pub fn with_retries(mut self, retries: u32, backoff: std::time::Duration) -> Self {
        self.client = self.client.with_retries(retries, backoff);
        self
    }

    /// Answer `name` with the local project at `tree` (version `version`) before any index.
    pub fn with_local(
        mut self,
        name: &PackageName,
        version: &Version,
        tree: &std::path::Path,
    ) -> Result<Self, IndexError> {
        let url = Url::from_directory_path(tree).map_err(|()| {
            IndexError::Other(format!("{} is not an absolute directory", tree.display()))
        })?;
        let filename = format!("{}-{version}.tar.gz", name.as_dist_info_name());
        let file = simple::make_file(&filename, url.clone(), name).ok_or_else(|| {
            IndexError::Other(format!(
                "local project `{name}` {version}: invalid name `{filename}`"
            ))
        })?;
        let index = Arc::new(IndexUrl {
            name: format!("local project `{name}`"),
            url,
            explicit: true,
            kind: IndexKind::Flat,
            credentials: None,
        });
        let mut versions = Versions::new();
        versions.insert(version.clone(), VersionFiles::new(vec![file]));
        self.local.insert(
            name.clone(),
            Arc::new(PackageFiles {
                name: name.clone(),
                index,
                versions,
            }),
        );
        Ok(self)
    }

    /// The HTTP client of this set (its credentials included).
    pub fn client(&self) -> &http::HttpClient {
        &self.client
    }

    /// The configured indexes, in order.
    pub fn indexes(&self) -> &[Arc<IndexUrl>] {
        &self.indexes
    }

    /// A view of this set with other pins, sharing its client, cache and in-memory results:
    /// the Foundation of each hardware key pins torch to that key's index, and one set serves
    /// every key. `pins` maps a project to an index name, as in [`IndexSet::new`].
    pub fn view(
        self: &Arc<Self>,
        pins: std::collections::HashMap<PackageName, String>,
    ) -> Result<IndexView, IndexError> {
        Ok(IndexView {
            set: Arc::clone(self),
            pins: pin_positions(&self.indexes, pins)?,
        })
    }
}

/// `pins` (project -> index name) as positions in `indexes`; an error names a pin to an index
/// that is not configured.
fn pin_positions(
    indexes: &[Arc<IndexUrl>],
    pins: HashMap<PackageName, String>,
) -> Result<HashMap<PackageName, usize>, IndexError> {
    let mut by_position = HashMap::with_capacity(pins.len());
    for (project, index_name) in pins {
        let Some(position) = indexes.iter().position(|i| i.name == index_name) else {
            let known: Vec<&str> = indexes.iter().map(|i| i.name.as_str()).collect();
            return Err(IndexError::Other(format!(
                "`{project}` is pinned to index `{index_name}`, which is not configured (configured: {})",
                known.join(", ")
            )));
        };
        by_position.insert(project, position);
    }
    Ok(by_position)
}

/// An [`IndexSet`] seen with other pins (see [`IndexSet::view`]).
pub struct IndexView {
    set: Arc<IndexSet>,
    pins: HashMap<PackageName, usize>,
}

impl IndexView {
    /// The set behind this view.
    pub fn set(&self) -> &Arc<IndexSet> {
        &self.set
    }
}

impl PackageSource for IndexView {
    async fn files(&self, name: &PackageName) -> Result<Option<Arc<PackageFiles>>, IndexError> {
        self.set
            .files_pinned(name, self.pins.get(name).copied())
            .await
    }

    fn scope(&self, name: &PackageName) -> Option<SearchScope> {
        Some(self.set.scope_pinned(self.pins.get(name).copied()))
    }

    async fn settle(&self) -> Result<bool, IndexError> {
        self.set.settle().await
    }

    async fn metadata(
        &self,
        package: &PackageFiles,
        file: &DistFile,
    ) -> Result<Arc<CoreMetadata>, IndexError> {
        self.set.metadata(package, file).await
    }
}

impl PackageSource for IndexSet {
    async fn files(&self, name: &PackageName) -> Result<Option<Arc<PackageFiles>>, IndexError> {
        self.files_pinned(name, self.pins.get(name).copied()).await
    }

    fn scope(&self, name: &PackageName) -> Option<SearchScope> {
        Some(self.scope_pinned(self.pins.get(name).copied()))
    }

    async fn settle(&self) -> Result<bool, IndexError> {
        IndexSet::settle(self).await
    }

    async fn prefetch_facts(&self, files: Vec<DistFile>) {
        let pending = files
            .iter()
            .filter(|f| f.size.is_none() && f.url.scheme() != "file")
            .map(|f| self.complete(f));
        for result in futures::future::join_all(pending).await {
            if let Err(err) = result {
                tracing::debug!(%err, "prefetching artifact facts failed");
            }
        }
    }

    async fn metadata(
        &self,
        package: &PackageFiles,
        file: &DistFile,
    ) -> Result<Arc<CoreMetadata>, IndexError> {
        let key = cache::artifact_key(file.sha256.as_deref(), &file.url);
        let cell = memo_cell(&self.metadata, &key);
        cell.get_or_try_init(|| self.load_metadata(package, file, &key))
            .await
            .cloned()
    }
}

#[cfg(test)]
mod tests;
