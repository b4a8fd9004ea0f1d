//! Package indexes: what files a project has (PEP 503 HTML / PEP 691 JSON simple pages, local
//! `file://` indexes and flat `--find-links` directories) and the core metadata of a wheel
//! (PEP 658 `.metadata` files, HTTP range requests on the wheel's zip central directory, or the
//! whole wheel), behind an on-disk cache.
//!
//! The resolver sees only the [`PackageSource`] trait, so it can be tested on in-memory data.
//! [`IndexSet`] is the real implementation: the first index that has a project wins, and a
//! project pinned to an `explicit` index comes only from there.

// `IndexError` carries the URL at fault (a `Url` is ~90 bytes), which clippy finds large. The
// error shape is the interface shared with the resolver, and errors are rare next to the I/O
// they report, so boxing every variant would buy nothing.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod cache;
pub mod client;
mod error;
pub mod local;
pub mod metadata;
pub mod netrc;
mod page;
pub mod range;
pub mod redact;
pub mod simple;
#[cfg(test)]
pub(crate) mod test_server;

pub use error::IndexError;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OnceCell;

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
    pub http: client::HttpTimeouts,
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
    client: client::HttpClient,
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
}

type Memo<K, V> = Mutex<HashMap<K, Arc<OnceCell<V>>>>;

type Background = Arc<Mutex<Vec<tokio::task::JoinHandle<Result<Option<Change>, IndexError>>>>>;

/// A page handed out from the cache that changed on the server.
struct Change {
    project: PackageName,
    key: String,
    files: Option<Versions>,
}

/// Lock a mutex; a poisoned lock only means another task panicked while holding it, and the
/// maps behind these locks stay consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
        let auth = auth::Auth::new(
            indexes
                .iter()
                .filter_map(|i| Some((&i.url, i.credentials.as_ref()?))),
            auth::Auth::read_netrc(settings.netrc.as_deref()),
        );
        Ok(IndexSet {
            client: client::HttpClient::with_timeouts(settings.concurrency, settings.http)?
                .with_auth(auth),
            cache: cache::Cache::new(&settings.cache_dir),
            indexes,
            pins: by_position,
            settings,
            projects: Mutex::default(),
            metadata: Mutex::default(),
            facts: Mutex::default(),
            learnt: Mutex::default(),
            speculate: true,
            background: Background::default(),
            revalidated: Mutex::default(),
        })
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

    /// The configured indexes, in order.
    pub fn indexes(&self) -> &[Arc<IndexUrl>] {
        &self.indexes
    }

    /// Fill in the size of `file` when the simple page did not give it, from the cache, the
    /// range request that read its metadata, or a HEAD request. Immutable per sha256, so
    /// cached forever.
    pub async fn complete(&self, file: &DistFile) -> Result<DistFile, IndexError> {
        let mut out = file.clone();
        if file.url.scheme() == "file" {
            // Local artifacts: size and sha256 from the file itself (a local index often lists
            // no hashes, and reading a local file is cheap). No upload time: a file's mtime
            // depends on the checkout and would make lockfiles differ between machines.
            let path = client::file_path(&file.url)?;
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| IndexError::Other(format!("cannot read {}: {e}", path.display())))?;
            let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            if let Some(expected) = file.sha256.as_ref().filter(|e| **e != actual) {
                return Err(IndexError::HashMismatch {
                    url: file.url.clone(),
                    expected: expected.clone(),
                    actual,
                });
            }
            out.size = Some(bytes.len() as u64);
            out.sha256 = Some(actual);
            out.upload_time = None;
            return Ok(out);
        }
        // Upload times come only from the index page (PEP 700 `upload-time`, or HTML
        // `data-upload-time`): a `Last-Modified` header differs between CDN edges, and taking
        // it made lockfiles change from one run to the next.
        if out.size.is_some() {
            return Ok(out);
        }
        let key = cache::artifact_key(file.sha256.as_deref(), &file.url);
        let cell = memo_cell(&self.facts, &key);
        let facts = cell
            .get_or_try_init(|| async {
                let cached = (!self.settings.refresh)
                    .then(|| self.cache.read_facts(&key))
                    .flatten();
                match cached {
                    Some(facts) => Ok(facts),
                    None => {
                        let facts = self.fetch_facts(file).await?;
                        self.write_facts(&key, &facts);
                        Ok::<_, IndexError>(facts)
                    }
                }
            })
            .await?;
        out.size = out.size.or(facts.size);
        Ok(out)
    }

    async fn fetch_facts(&self, file: &DistFile) -> Result<cache::ArtifactFacts, IndexError> {
        if file.url.scheme() == "file" {
            let path = client::file_path(&file.url)?;
            let meta = tokio::fs::metadata(&path)
                .await
                .map_err(|e| IndexError::Other(format!("cannot read {}: {e}", path.display())))?;
            let upload_time = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| client::unix_to_rfc3339(d.as_secs()));
            return Ok(cache::ArtifactFacts {
                size: Some(meta.len()),
                upload_time,
            });
        }
        let learnt = self
            .learnt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&file.url)
            .cloned()
            .unwrap_or_default();
        // A range answer already said all the server will say (the same server answers a
        // HEAD with the same headers; a missing `Last-Modified` stays missing).
        if learnt.size.is_some() || (file.size.is_some() && learnt.upload_time.is_some()) {
            return Ok(learnt);
        }
        if self.settings.offline {
            return Err(IndexError::Offline {
                what: format!("the size and upload time of {}", file.url),
            });
        }
        let index = self.index_name_for(&file.url);
        let head = self
            .client
            .send(
                &index,
                reqwest::Method::HEAD,
                &file.url,
                &[],
                client::Limit::PROBE,
            )
            .await?;
        let resp = if head.status / 100 == 2 {
            head
        } else {
            // Some servers refuse HEAD: one byte of the file says the same.
            let resp = self
                .client
                .send(
                    &index,
                    reqwest::Method::GET,
                    &file.url,
                    &[("Range", "bytes=0-0".to_string())],
                    client::Limit::PROBE,
                )
                .await?;
            if resp.status / 100 != 2 {
                return Err(IndexError::from_status(
                    &index,
                    &file.url,
                    head.status,
                    head.credentials,
                ));
            }
            resp
        };
        let size = match resp.status {
            206 => resp
                .header("content-range")
                .and_then(range::parse_content_range)
                .and_then(|(_, _, total)| total),
            _ => resp
                .header("content-length")
                .and_then(|v| v.trim().parse().ok()),
        };
        let upload_time = resp
            .header("last-modified")
            .and_then(client::http_date_to_rfc3339);
        Ok(cache::ArtifactFacts {
            size: learnt.size.or(size),
            upload_time: learnt.upload_time.or(upload_time),
        })
    }

    /// The name of the index serving `url` (the first whose URL shares its origin), for errors.
    fn index_name_for(&self, url: &Url) -> String {
        self.indexes
            .iter()
            .find(|i| i.url.origin() == url.origin())
            .map(|i| i.name.clone())
            .unwrap_or_else(|| url.host_str().unwrap_or("local").to_string())
    }

    fn write_facts(&self, key: &str, facts: &cache::ArtifactFacts) {
        if let Err(err) = self.cache.write_facts(key, facts) {
            tracing::warn!(%err, "could not write to the cache");
        }
    }

    /// The project on the index it must come from: its pin, else the first non-explicit
    /// index that has it. Never mixes indexes.
    async fn find_project(
        &self,
        name: &PackageName,
        pin: Option<usize>,
    ) -> Result<Option<Arc<PackageFiles>>, IndexError> {
        let candidates: Vec<usize> = match pin {
            Some(position) => vec![position],
            None => (0..self.indexes.len())
                .filter(|&i| !self.indexes[i].explicit)
                .collect(),
        };
        for position in candidates {
            if let Some(versions) = self.project_files(position, name).await? {
                let index = self.indexes[position].clone();
                tracing::debug!(%name, index = index.name, versions = versions.len(), "found the project");
                return Ok(Some(Arc::new(PackageFiles {
                    name: name.clone(),
                    index,
                    versions,
                })));
            }
        }
        Ok(None)
    }

    /// The files of `name` on one index; `None` when the index does not have it (404, or no
    /// matching file in a flat listing).
    ///
    /// A cached page that must be revalidated is returned at once and revalidated in the
    /// background ([`IndexSet::settle`] says whether it changed).
    async fn project_files(
        &self,
        position: usize,
        name: &PackageName,
    ) -> Result<Option<Versions>, IndexError> {
        let index = self.indexes[position].clone();
        let keep = |files: Option<Versions>| match index.kind {
            IndexKind::Simple => files,
            IndexKind::Flat => files.filter(|f| !f.is_empty()),
        };
        if index.url.scheme() == "file" {
            let (url, project, kind) = (index.url.clone(), name.clone(), index.kind);
            let files = tokio::task::spawn_blocking(move || match kind {
                IndexKind::Simple => client::read_local_simple(&url, &project),
                IndexKind::Flat => client::read_local_flat(&url, &project).map(Some),
            })
            .await
            .map_err(|e| {
                IndexError::Other(format!("reading index `{}` failed: {e}", index.name))
            })??;
            return Ok(keep(files.map(simple::group_versions)));
        }

        let (page_url, cache_key, accept) = match index.kind {
            IndexKind::Simple => {
                let mut root = index.url.clone();
                if !root.path().ends_with('/') {
                    root.set_path(&format!("{}/", root.path()));
                }
                let url = root
                    .join(&format!("{name}/"))
                    .map_err(|e| IndexError::BadPage {
                        url: index.url.clone(),
                        reason: e.to_string(),
                    })?;
                let key = url.to_string();
                (url, key, client::SIMPLE_ACCEPT)
            }
            // One flat page lists every project: cache what concerns each project apart.
            IndexKind::Flat => (
                index.url.clone(),
                format!("{}#{name}", index.url),
                "text/html",
            ),
        };

        // Revalidated in the background during this process, and found changed.
        if let Some(files) = lock(&self.revalidated).remove(&cache_key) {
            return Ok(keep(files));
        }

        let cached = if self.settings.refresh {
            None
        } else {
            let (cache, key, project) = (self.cache.clone(), cache_key.clone(), name.clone());
            tokio::task::spawn_blocking(move || cache.read_page(&key, &project))
                .await
                .ok()
                .flatten()
        };
        if let Some(page) = &cached
            && (self.settings.offline || page.header.is_fresh(cache::now()))
        {
            return Ok(keep(page.files.clone()));
        }
        if self.settings.offline {
            return Err(IndexError::Offline {
                what: format!("the `{name}` page of index `{}` ({page_url})", index.name),
            });
        }
        let request = page::PageRequest {
            client: self.client.clone(),
            cache: self.cache.clone(),
            background: self.background.clone(),
            index: index.name.clone(),
            url: page_url,
            key: cache_key,
            accept,
            project: name.clone(),
        };
        if self.speculate
            && let Some(page) = cached
        {
            let files = page.files.clone();
            let task = tokio::spawn(async move {
                let project = request.project.clone();
                let key = request.key.clone();
                let fetched = request.fetch(Some(page)).await?;
                Ok(fetched.changed.then_some(Change {
                    project,
                    key,
                    files: fetched.files,
                }))
            });
            lock(&self.background).push(task);
            return Ok(keep(files));
        }
        Ok(keep(request.fetch(cached).await?.files))
    }

    /// Wait for every background revalidation and cache write. `Ok(true)` when a page that
    /// was handed out from the cache has changed on the server: what was resolved from it is
    /// stale, and asking again gives the new page. An error is what a request made in the
    /// foreground would have reported.
    pub async fn settle(&self) -> Result<bool, IndexError> {
        let mut changed = false;
        let mut error = None;
        loop {
            let tasks = std::mem::take(&mut *lock(&self.background));
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                match task.await {
                    Ok(Ok(None)) => {}
                    Ok(Ok(Some(change))) => {
                        tracing::debug!(project = %change.project, "a cached page changed on the server");
                        changed = true;
                        lock(&self.projects).retain(|(name, _), _| *name != change.project);
                        lock(&self.revalidated).insert(change.key, change.files);
                    }
                    Ok(Err(err)) => {
                        error.get_or_insert(err);
                    }
                    Err(err) => {
                        error.get_or_insert(IndexError::Other(format!(
                            "a background revalidation failed: {err}"
                        )));
                    }
                }
            }
        }
        match error {
            Some(err) => Err(err),
            None => Ok(changed),
        }
    }

    async fn load_metadata(
        &self,
        package: &PackageFiles,
        file: &DistFile,
        key: &str,
    ) -> Result<Arc<CoreMetadata>, IndexError> {
        if !self.settings.refresh
            && let Some(meta) = self.cache.read_metadata(key)
        {
            check_metadata_matches(&meta, file)?;
            return Ok(Arc::new(meta));
        }
        let bytes = self.fetch_metadata_bytes(&package.index.name, file).await?;
        let meta = metadata::parse_metadata(&bytes, &file.filename)?;
        check_metadata_matches(&meta, file)?;
        if let Err(err) = self.cache.write_metadata(key, &meta) {
            tracing::warn!(%err, "could not write to the cache");
        }
        Ok(Arc::new(meta))
    }

    /// The raw core metadata of `file`: PEP 658 `.metadata`, else range requests on the
    /// wheel, else the whole wheel.
    async fn fetch_metadata_bytes(
        &self,
        index: &str,
        file: &DistFile,
    ) -> Result<Vec<u8>, IndexError> {
        let local = file.url.scheme() == "file";
        let offline = || IndexError::Offline {
            what: format!("the metadata of {} ({})", file.filename, file.url),
        };
        if let CoreMetadataRef::Available { sha256 } = &file.core_metadata {
            let meta_url = Url::parse(&format!("{}.metadata", file.url))
                .map_err(|e| IndexError::Other(format!("{}: {e}", file.url)))?;
            let found = if local {
                client::read_local(&meta_url).await?
            } else if self.settings.offline {
                return Err(offline());
            } else {
                let resp = self
                    .client
                    .send(
                        index,
                        reqwest::Method::GET,
                        &meta_url,
                        &[],
                        client::Limit::METADATA,
                    )
                    .await?;
                match resp.status {
                    200 => Some(resp.body),
                    404 => None,
                    status => {
                        return Err(IndexError::from_status(
                            index,
                            &meta_url,
                            status,
                            resp.credentials,
                        ));
                    }
                }
            };
            if let Some(bytes) = found {
                if let Some(expected) = sha256 {
                    let actual = cache::sha256_hex(&bytes);
                    if &actual != expected {
                        return Err(IndexError::HashMismatch {
                            url: meta_url,
                            expected: expected.clone(),
                            actual,
                        });
                    }
                }
                return Ok(bytes);
            }
            tracing::debug!(%meta_url, "advertised core metadata is missing; reading the wheel");
        }
        if file.parsed.as_wheel().is_none() {
            return Err(IndexError::BadMetadata {
                file: file.filename.clone(),
                reason: "a source distribution has no readable core metadata without a build"
                    .to_string(),
            });
        }
        if local {
            let bytes = client::read_local(&file.url)
                .await?
                .ok_or_else(|| IndexError::Other(format!("{} does not exist", file.url)))?;
            if let Some(expected) = &file.sha256 {
                let actual = cache::sha256_hex(&bytes);
                if &actual != expected {
                    return Err(IndexError::HashMismatch {
                        url: file.url.clone(),
                        expected: expected.clone(),
                        actual,
                    });
                }
            }
            return range::metadata_from_zip(&bytes, &file.url).map(|(_, bytes)| bytes);
        }
        if self.settings.offline {
            return Err(offline());
        }
        let wheel =
            range::fetch_wheel_metadata(&self.client, index, &file.url, file.sha256.as_deref())
                .await?;
        if wheel.size.is_some() || wheel.last_modified.is_some() {
            let facts = cache::ArtifactFacts {
                size: wheel.size,
                upload_time: wheel
                    .last_modified
                    .as_deref()
                    .and_then(client::http_date_to_rfc3339),
            };
            if facts.size.is_some() {
                self.write_facts(
                    &cache::artifact_key(file.sha256.as_deref(), &file.url),
                    &facts,
                );
            }
            self.learnt
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(file.url.clone(), facts);
        }
        Ok(wheel.bytes)
    }
}

/// The metadata must describe the file it came from.
fn check_metadata_matches(meta: &CoreMetadata, file: &DistFile) -> Result<(), IndexError> {
    let name = match &file.parsed {
        DistFilename::Wheel(w) => &w.name,
        DistFilename::Sdist { name, .. } => name,
    };
    if &meta.name != name || &meta.version != file.parsed.version() {
        return Err(IndexError::BadMetadata {
            file: file.filename.clone(),
            reason: format!(
                "the metadata describes {} {}, not {} {}",
                meta.name,
                meta.version,
                name,
                file.parsed.version()
            ),
        });
    }
    Ok(())
}

impl IndexSet {
    /// The files of `name` from the index at `pin`, or from the first non-explicit index.
    /// Where `name` is looked for with `pin`: see [`SearchScope`].
    fn scope_pinned(&self, pin: Option<usize>) -> SearchScope {
        let shown = |i: &IndexUrl| format!("`{}` ({})", i.name, redact::redacted(&i.url));
        match pin.and_then(|p| self.indexes.get(p)) {
            Some(index) => SearchScope {
                searched: vec![shown(index)],
                pinned: true,
                explicit: Vec::new(),
            },
            None => SearchScope {
                searched: self
                    .indexes
                    .iter()
                    .filter(|i| !i.explicit)
                    .map(|i| shown(i))
                    .collect(),
                pinned: false,
                explicit: self
                    .indexes
                    .iter()
                    .filter(|i| i.explicit)
                    .map(|i| i.name.clone())
                    .collect(),
            },
        }
    }

    async fn files_pinned(
        &self,
        name: &PackageName,
        pin: Option<usize>,
    ) -> Result<Option<Arc<PackageFiles>>, IndexError> {
        let cell = memo_cell(&self.projects, &(name.clone(), pin));
        cell.get_or_try_init(|| self.find_project(name, pin))
            .await
            .cloned()
    }

    /// A view of this set with other pins, sharing its client, cache and in-memory results:
    /// the Foundation of each hardware key pins torch to that key's index, and one set serves
    /// every key. `pins` maps a project to an index name, as in [`IndexSet::new`].
    pub fn view(
        self: &Arc<Self>,
        pins: std::collections::HashMap<PackageName, String>,
    ) -> Result<IndexView, IndexError> {
        let mut by_position = HashMap::with_capacity(pins.len());
        for (project, index_name) in pins {
            let Some(position) = self.indexes.iter().position(|i| i.name == index_name) else {
                let known: Vec<&str> = self.indexes.iter().map(|i| i.name.as_str()).collect();
                return Err(IndexError::Other(format!(
                    "`{project}` is pinned to index `{index_name}`, which is not configured (configured: {})",
                    known.join(", ")
                )));
            };
            by_position.insert(project, position);
        }
        Ok(IndexView {
            set: Arc::clone(self),
            pins: by_position,
        })
    }
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
mod tests {
    use super::range::tests::{META, range_handler, wheel};
    use super::test_server::{Recorded, Reply, TestServer};
    use super::*;
    use std::str::FromStr;
    use std::time::Duration;

    fn name(s: &str) -> PackageName {
        PackageName::from_str(s).unwrap()
    }

    fn index(name: &str, url: &Url, explicit: bool, kind: IndexKind) -> IndexUrl {
        IndexUrl {
            name: name.to_string(),
            url: url.clone(),
            explicit,
            kind,
            credentials: None,
        }
    }

    fn settings(dir: &std::path::Path) -> IndexSettings {
        IndexSettings {
            cache_dir: dir.to_path_buf(),
            offline: false,
            refresh: false,
            concurrency: 8,
            http: client::HttpTimeouts::default(),
            netrc: None,
        }
    }

    fn set(indexes: Vec<IndexUrl>, pins: &[(&str, &str)], settings: IndexSettings) -> IndexSet {
        let pins = pins.iter().map(|(p, i)| (name(p), i.to_string())).collect();
        IndexSet::new(indexes, pins, settings)
            .unwrap()
            .with_retries(1, Duration::from_millis(5))
    }

    /// A set with one non-explicit simple index called `pypi` at `url`.
    fn pypi_set(url: &Url, settings: IndexSettings) -> IndexSet {
        set(
            vec![index("pypi", url, false, IndexKind::Simple)],
            &[],
            settings,
        )
    }

    const WHEEL: &str = "foo-1.0-py3-none-any.whl";

    fn count(server: &TestServer, pred: impl Fn(&Recorded) -> bool) -> usize {
        server.requests().iter().filter(|r| pred(r)).count()
    }

    /// A simple index at `/simple/` with project `foo` (one wheel, served with range support
    /// and a Last-Modified) and `page_headers` on the project page.
    async fn foo_server(
        wheel_bytes: Vec<u8>,
        link_attrs: String,
        page_headers: Vec<(&'static str, &'static str)>,
    ) -> TestServer {
        let sha = cache::sha256_hex(&wheel_bytes);
        let page = format!(
            r#"<html><body><a href="/files/{WHEEL}#sha256={sha}" {link_attrs}>{WHEEL}</a></body></html>"#
        );
        let wheel_reply = range_handler(wheel_bytes, true);
        TestServer::start(move |req| match req.path.as_str() {
            "/simple/foo/" => {
                let mut reply = Reply::new(200, page.clone()).header("Content-Type", "text/html");
                for (k, v) in &page_headers {
                    reply = reply.header(k, v);
                }
                reply
            }
            p if p == format!("/files/{WHEEL}") => {
                wheel_reply(req).header("Last-Modified", "Tue, 02 Jan 2024 03:04:05 GMT")
            }
            _ => Reply::new(404, "not found"),
        })
        .await
    }

    #[tokio::test]
    async fn metadata_by_range_request_then_cached_forever() {
        let dir = tempfile::tempdir().unwrap();
        let server = foo_server(wheel(META, 0, true), String::new(), vec![]).await;
        let simple = server.url("simple");
        let idx = || vec![index("pypi", &simple, false, IndexKind::Simple)];
        let wheel_path = format!("/files/{WHEEL}");

        let first = set(idx(), &[], settings(dir.path()));
        let files = first.files(&name("foo")).await.unwrap().unwrap();
        let file = &files.versions.values().next().unwrap()[0];
        assert_eq!(file.filename, WHEEL);
        let meta = first.metadata(&files, file).await.unwrap();
        assert_eq!(meta.name, name("foo"));
        assert_eq!(meta.requires_dist.len(), 1);
        // Second call: memory.
        first.metadata(&files, file).await.unwrap();
        assert_eq!(count(&server, |r| r.path == wheel_path), 1);
        assert!(
            server
                .requests()
                .iter()
                .all(|r| r.path != wheel_path || r.header("range") == Some("bytes=-65536"))
        );
        // The range answer told the size: no HEAD. Its `Last-Modified` is not an upload time.
        let done = first.complete(file).await.unwrap();
        assert_eq!(done.upload_time, None);
        assert!(done.size.unwrap() > 65_536);
        assert_eq!(count(&server, |r| r.path == wheel_path), 1);

        // A new process on the same cache: no metadata or facts requests at all.
        let second = set(idx(), &[], settings(dir.path()));
        let files2 = second.files(&name("foo")).await.unwrap().unwrap();
        let file2 = &files2.versions.values().next().unwrap()[0];
        assert_eq!(*second.metadata(&files2, file2).await.unwrap(), *meta);
        assert_eq!(second.complete(file2).await.unwrap(), done);
        assert_eq!(count(&server, |r| r.path == wheel_path), 1);
    }

    #[tokio::test]
    async fn pep658_metadata_file_is_preferred_and_verified() {
        for (good, expect_ok) in [(true, true), (false, false)] {
            let dir = tempfile::tempdir().unwrap();
            let meta_sha = if good {
                cache::sha256_hex(META.as_bytes())
            } else {
                "0".repeat(64)
            };
            let w = wheel(META, 0, true);
            let sha = cache::sha256_hex(&w);
            let page = format!(
                r#"<a href="/files/{WHEEL}#sha256={sha}" data-core-metadata="sha256={meta_sha}">x</a>"#
            );
            let server = TestServer::start(move |req| match req.path.as_str() {
                "/simple/foo/" => Reply::new(200, page.clone()),
                "/files/foo-1.0-py3-none-any.whl.metadata" => Reply::new(200, META),
                _ => Reply::new(404, ""),
            })
            .await;
            let s = pypi_set(&server.url("simple/"), settings(dir.path()));
            let files = s.files(&name("foo")).await.unwrap().unwrap();
            let file = &files.versions.values().next().unwrap()[0];
            let result = s.metadata(&files, file).await;
            assert_eq!(result.is_ok(), expect_ok, "{result:?}");
            if !expect_ok {
                assert!(matches!(result, Err(IndexError::HashMismatch { .. })));
            }
            assert_eq!(count(&server, |r| r.path == format!("/files/{WHEEL}")), 0);
        }
    }

    #[tokio::test]
    async fn metadata_must_match_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let server = foo_server(
            wheel("Name: bar\nVersion: 1.0\n", 0, true),
            String::new(),
            vec![],
        )
        .await;
        let s = pypi_set(&server.url("simple"), settings(dir.path()));
        let files = s.files(&name("foo")).await.unwrap().unwrap();
        let file = &files.versions.values().next().unwrap()[0];
        let err = s.metadata(&files, file).await.unwrap_err();
        assert!(matches!(err, IndexError::BadMetadata { .. }), "{err}");
        assert!(err.to_string().contains(WHEEL), "{err}");
    }

    #[tokio::test]
    async fn etag_revalidation_reuses_the_cached_page() {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(|req| match req.header("if-none-match") {
            Some("\"v1\"") => Reply::new(304, "").header("ETag", "\"v1\""),
            _ => Reply::new(200, format!(r#"<a href="{WHEEL}">x</a>"#)).header("ETag", "\"v1\""),
        })
        .await;
        for _ in 0..2 {
            let s = pypi_set(&server.url("simple/"), settings(dir.path()));
            let files = s.files(&name("foo")).await.unwrap().unwrap();
            assert_eq!(files.versions.len(), 1);
            assert!(!s.settle().await.unwrap(), "a 304 is no change");
        }
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].header("if-none-match"), None);
        assert_eq!(reqs[1].header("if-none-match"), Some("\"v1\""));
        assert!(
            reqs[0]
                .header("accept")
                .unwrap()
                .starts_with("application/vnd.pypi.simple.v1+json")
        );
    }

    /// A server whose `foo` page lists `foo 1.0`, and `foo 2.0` too once `new` is set; PEP 658
    /// metadata for both. No cache headers: every use of the cached page is revalidated.
    async fn changing_server(new: Arc<std::sync::atomic::AtomicBool>) -> TestServer {
        use std::sync::atomic::Ordering;
        TestServer::start(move |req| match req.path.as_str() {
            "/simple/foo/" => {
                let mut page = String::new();
                let versions: &[&str] = if new.load(Ordering::SeqCst) {
                    &["1.0", "2.0"]
                } else {
                    &["1.0"]
                };
                for v in versions {
                    let meta = format!("Metadata-Version: 2.1\nName: foo\nVersion: {v}\n");
                    page.push_str(&format!(
                        r#"<a href="/f/foo-{v}-py3-none-any.whl#sha256={}" data-core-metadata="true">x</a>"#,
                        cache::sha256_hex(meta.as_bytes())
                    ));
                }
                Reply::new(200, page).header("Content-Type", "text/html")
            }
            p if p.starts_with("/f/foo-") && p.ends_with(".whl.metadata") => {
                let v = &p["/f/foo-".len()..p.len() - "-py3-none-any.whl.metadata".len()];
                Reply::new(
                    200,
                    format!("Metadata-Version: 2.1\nName: foo\nVersion: {v}\n"),
                )
            }
            _ => Reply::new(404, ""),
        })
        .await
    }

    #[tokio::test]
    async fn cached_pages_are_handed_out_then_revalidated() {
        let dir = tempfile::tempdir().unwrap();
        let new = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let server = changing_server(new.clone()).await;
        let versions = |p: &PackageFiles| {
            p.versions
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };

        let cold = pypi_set(&server.url("simple/"), settings(dir.path()));
        assert_eq!(
            versions(&cold.files(&name("foo")).await.unwrap().unwrap()),
            ["1.0"]
        );
        assert!(
            !cold.settle().await.unwrap(),
            "a first fetch is not speculative"
        );

        // Unchanged: the cached page is used, the request still made, nothing rewritten.
        let page_file = std::fs::read_dir(dir.path().join(cache::CACHE_VERSION).join("simple"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let written = std::fs::metadata(&page_file).unwrap().modified().unwrap();
        let warm = pypi_set(&server.url("simple/"), settings(dir.path()));
        assert_eq!(
            versions(&warm.files(&name("foo")).await.unwrap().unwrap()),
            ["1.0"]
        );
        assert!(!warm.settle().await.unwrap());
        assert_eq!(count(&server, |r| r.path == "/simple/foo/"), 2);
        assert_eq!(
            std::fs::metadata(&page_file).unwrap().modified().unwrap(),
            written
        );

        // Changed: the speculative answer is stale, `settle` says so, and asking again gives
        // the new page (without another request).
        new.store(true, std::sync::atomic::Ordering::SeqCst);
        let changed = pypi_set(&server.url("simple/"), settings(dir.path()));
        assert_eq!(
            versions(&changed.files(&name("foo")).await.unwrap().unwrap()),
            ["1.0"]
        );
        assert!(changed.settle().await.unwrap());
        assert_eq!(
            versions(&changed.files(&name("foo")).await.unwrap().unwrap()),
            ["1.0", "2.0"]
        );
        assert!(!changed.settle().await.unwrap());
        assert_eq!(count(&server, |r| r.path == "/simple/foo/"), 3);

        // Without speculation the answer is always the server's.
        new.store(false, std::sync::atomic::Ordering::SeqCst);
        let careful =
            pypi_set(&server.url("simple/"), settings(dir.path())).with_speculation(false);
        assert_eq!(
            versions(&careful.files(&name("foo")).await.unwrap().unwrap()),
            ["1.0"]
        );
        assert!(!careful.settle().await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn resolution_never_keeps_a_stale_speculative_page() {
        let dir = tempfile::tempdir().unwrap();
        let new = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let server = changing_server(new.clone()).await;
        let resolve_foo = || async {
            let source = Arc::new(pypi_set(&server.url("simple/"), settings(dir.path())));
            let requirement = crate::resolve::RootRequirement {
                requirement: Requirement::from_str("foo").unwrap(),
                origin: crate::resolve::Origin {
                    layer: "application".into(),
                    kind: "requirement".into(),
                    file: None,
                    line: None,
                },
            };
            let request = crate::resolve::ResolveRequest {
                requirements: vec![requirement],
                constraints: Vec::new(),
                target: crate::target::Target::new("3.12", Some("linux-x86_64")).unwrap(),
                prereleases: crate::resolve::PrereleaseMode::default(),
                preferences: HashMap::new(),
                upgrade: Default::default(),
                upgrade_all: false,
                no_binary: Default::default(),
                report_width: None,
            };
            crate::resolve::resolve(source, request)
                .await
                .map(|r| r.packages[&name("foo")].version.to_string())
        };
        assert_eq!(resolve_foo().await.unwrap(), "1.0");
        assert_eq!(resolve_foo().await.unwrap(), "1.0");
        // The page changes between two runs: the second must see the new version, although
        // its first resolution ran on the cached page.
        new.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(resolve_foo().await.unwrap(), "2.0");
        assert_eq!(resolve_foo().await.unwrap(), "2.0");
        // And back (a version removed from the page).
        new.store(false, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(resolve_foo().await.unwrap(), "1.0");
    }

    #[tokio::test]
    async fn a_failed_revalidation_is_reported_by_settle() {
        let dir = tempfile::tempdir().unwrap();
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f = fail.clone();
        let server = TestServer::start(move |_| {
            if f.load(std::sync::atomic::Ordering::SeqCst) {
                Reply::new(403, "no")
            } else {
                Reply::new(200, format!(r#"<a href="{WHEEL}">x</a>"#))
            }
        })
        .await;
        let s = pypi_set(&server.url("simple/"), settings(dir.path()));
        assert!(s.files(&name("foo")).await.unwrap().is_some());
        // Regression (flaky under load): the cache write runs in the background; without
        // settling, the second set could find no cached page and fetch the 403 directly.
        assert!(!s.settle().await.unwrap());
        fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let s = pypi_set(&server.url("simple/"), settings(dir.path()));
        assert!(s.files(&name("foo")).await.unwrap().is_some());
        let err = s.settle().await.unwrap_err();
        assert!(
            matches!(err, IndexError::Denied { status: 403, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn freshness_decides_whether_to_ask() {
        for (cache_control, expected_requests) in [
            (None, 2),
            (Some("max-age=600"), 1),
            (Some("max-age=600, no-cache"), 2),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let server = TestServer::start(move |_| {
                let reply = Reply::new(200, format!(r#"<a href="{WHEEL}">x</a>"#));
                match cache_control {
                    Some(cc) => reply.header("Cache-Control", cc),
                    None => reply,
                }
            })
            .await;
            for _ in 0..2 {
                let s = pypi_set(&server.url("simple/"), settings(dir.path()));
                assert!(s.files(&name("foo")).await.unwrap().is_some());
                assert!(!s.settle().await.unwrap());
            }
            let reqs = server.requests();
            assert_eq!(reqs.len(), expected_requests, "{cache_control:?}");
            // No validators were ever sent: the revalidation is a plain GET.
            assert!(
                reqs.iter().all(|r| r.header("if-none-match").is_none()
                    && r.header("if-modified-since").is_none())
            );
        }
    }

    #[tokio::test]
    async fn refresh_ignores_a_fresh_cache() {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(|_| {
            Reply::new(200, format!(r#"<a href="{WHEEL}">x</a>"#))
                .header("Cache-Control", "max-age=600")
        })
        .await;
        for refresh in [false, true] {
            let mut st = settings(dir.path());
            st.refresh = refresh;
            let s = set(
                vec![index(
                    "pypi",
                    &server.url("simple/"),
                    false,
                    IndexKind::Simple,
                )],
                &[],
                st,
            );
            assert!(s.files(&name("foo")).await.unwrap().is_some());
        }
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test]
    async fn offline_uses_only_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let server = foo_server(wheel(META, 0, true), String::new(), vec![]).await;
        let idx = || {
            vec![index(
                "pypi",
                &server.url("simple"),
                false,
                IndexKind::Simple,
            )]
        };
        let offline = || IndexSettings {
            offline: true,
            ..settings(dir.path())
        };

        let cold = set(idx(), &[], offline());
        let err = cold.files(&name("foo")).await.unwrap_err();
        assert!(matches!(err, IndexError::Offline { .. }), "{err}");
        assert!(err.to_string().contains("foo"), "{err}");
        assert_eq!(server.requests().len(), 0);

        let online = set(idx(), &[], settings(dir.path()));
        let files = online.files(&name("foo")).await.unwrap().unwrap();
        let file = &files.versions.values().next().unwrap()[0];
        online.metadata(&files, file).await.unwrap();
        online.complete(file).await.unwrap();
        assert!(online.files(&name("missing")).await.unwrap().is_none());
        let before = server.requests().len();

        let warm = set(idx(), &[], offline());
        let files = warm.files(&name("foo")).await.unwrap().unwrap();
        let file = &files.versions.values().next().unwrap()[0];
        assert_eq!(
            warm.metadata(&files, file)
                .await
                .unwrap()
                .version
                .to_string(),
            "1.0"
        );
        assert!(warm.complete(file).await.unwrap().size.is_some());
        assert!(
            warm.files(&name("missing")).await.unwrap().is_none(),
            "cached 404"
        );
        assert_eq!(server.requests().len(), before, "offline made a request");
    }

    #[tokio::test]
    async fn complete_uses_head_once() {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(|req| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/simple/foo/") => Reply::new(
                200,
                format!(r#"<a href="/f/{WHEEL}#sha256={}">x</a>"#, "a".repeat(64)),
            ),
            ("HEAD", p) if p.starts_with("/f/") => Reply::new(200, vec![0u8; 1234])
                .header("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
            _ => Reply::new(404, ""),
        })
        .await;
        for _ in 0..2 {
            let s = pypi_set(&server.url("simple"), settings(dir.path()));
            let files = s.files(&name("foo")).await.unwrap().unwrap();
            let file = s
                .complete(&files.versions.values().next().unwrap()[0])
                .await
                .unwrap();
            assert_eq!(file.size, Some(1234));
            // Regression: `Last-Modified` differs between CDN edges, so it never becomes the
            // upload time (lockfiles changed from one run to the next).
            assert_eq!(file.upload_time, None);
        }
        assert_eq!(count(&server, |r| r.method == "HEAD"), 1);
    }

    #[tokio::test]
    async fn prefetched_facts_are_shared_with_complete() {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(|req| match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/simple/foo/") => Reply::new(
                200,
                format!(r#"<a href="/f/{WHEEL}#sha256={}">x</a>"#, "a".repeat(64)),
            ),
            ("HEAD", p) if p.starts_with("/f/") => {
                std::thread::sleep(Duration::from_millis(30));
                Reply::new(200, vec![0u8; 99])
            }
            _ => Reply::new(404, ""),
        })
        .await;
        let s = Arc::new(pypi_set(&server.url("simple"), settings(dir.path())));
        let files = s.files(&name("foo")).await.unwrap().unwrap();
        let file = files.versions.values().next().unwrap()[0].clone();
        let prefetch = tokio::spawn({
            let (s, file) = (s.clone(), file.clone());
            async move { s.prefetch_facts(vec![file]).await }
        });
        // While the prefetch is in flight, and after it: one HEAD in all.
        assert_eq!(s.complete(&file).await.unwrap().size, Some(99));
        prefetch.await.unwrap();
        assert_eq!(s.complete(&file).await.unwrap().size, Some(99));
        assert_eq!(count(&server, |r| r.method == "HEAD"), 1);
    }

    #[tokio::test]
    async fn index_order_and_pins() {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(|req| {
            let link = |f: &str| Reply::new(200, format!(r#"<a href="{f}">x</a>"#));
            match req.path.as_str() {
                "/a/bar/" => link("bar-1.0.tar.gz"),
                "/b/bar/" => link("bar-2.0.tar.gz"),
                "/b/foo/" => link("foo-1.0.tar.gz"),
                "/c/baz/" => link("baz-3.0.tar.gz"),
                "/c/foo/" => link("foo-9.0.tar.gz"),
                _ => Reply::new(404, ""),
            }
        })
        .await;
        let idx = || {
            vec![
                index("a", &server.url("a/"), false, IndexKind::Simple),
                index("b", &server.url("b/"), false, IndexKind::Simple),
                index("c", &server.url("c/"), true, IndexKind::Simple),
            ]
        };
        let s = set(idx(), &[("qux", "c")], settings(dir.path()));
        let versions = |p: &PackageFiles| {
            p.versions
                .keys()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        // First index that has it wins, and nothing is mixed in from later ones.
        let bar = s.files(&name("bar")).await.unwrap().unwrap();
        assert_eq!(
            (bar.index.name.as_str(), versions(&bar)),
            ("a", vec!["1.0".to_string()])
        );
        // A 404 means "try the next"; the explicit index is never consulted.
        let foo = s.files(&name("foo")).await.unwrap().unwrap();
        assert_eq!(
            (foo.index.name.as_str(), versions(&foo)),
            ("b", vec!["1.0".to_string()])
        );
        assert!(s.files(&name("baz")).await.unwrap().is_none());
        assert_eq!(count(&server, |r| r.path.starts_with("/c/")), 0);
        // Pinned: only from the pinned index, even when it lacks the project.
        assert!(s.files(&name("qux")).await.unwrap().is_none());
        assert_eq!(
            count(&server, |r| r.path.starts_with("/a/qux")
                || r.path.starts_with("/b/qux")),
            0
        );
        let pinned = set(idx(), &[("baz", "c"), ("foo", "c")], settings(dir.path()));
        let baz = pinned.files(&name("baz")).await.unwrap().unwrap();
        assert_eq!(baz.index.name, "c");
        let foo = pinned.files(&name("foo")).await.unwrap().unwrap();
        assert_eq!(versions(&foo), vec!["9.0".to_string()]);

        let err = IndexSet::new(
            idx(),
            [(name("foo"), "nope".to_string())].into(),
            settings(dir.path()),
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(|_| {
            std::thread::sleep(Duration::from_millis(50));
            Reply::new(200, format!(r#"<a href="{WHEEL}">x</a>"#))
        })
        .await;
        let s = Arc::new(pypi_set(&server.url("simple/"), settings(dir.path())));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.files(&name("foo")).await.unwrap().unwrap() })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().versions.len(), 1);
        }
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn unreachable_index_names_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = Url::parse(&format!("http://127.0.0.1:{port}/simple/")).unwrap();
        let s = set(
            vec![index("corp", &url, false, IndexKind::Simple)],
            &[],
            settings(dir.path()),
        );
        let err = s.files(&name("foo")).await.unwrap_err();
        assert!(matches!(err, IndexError::Unreachable { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("corp") && text.contains(&format!("127.0.0.1:{port}/simple/foo/")),
            "{text}"
        );
    }

    #[tokio::test]
    async fn file_simple_index_and_flat_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("index");
        std::fs::create_dir_all(root.join("foo")).unwrap();
        std::fs::write(root.join("foo").join(WHEEL), wheel(META, 0, true)).unwrap();
        std::fs::write(root.join("foo").join("foo-0.9.tar.gz"), b"sdist").unwrap();
        std::fs::write(root.join("foo").join("README"), b"not a dist").unwrap();
        std::fs::create_dir_all(root.join("Bar_Baz")).unwrap();
        std::fs::write(
            root.join("Bar_Baz").join("index.html"),
            r#"<a href="https://files.example/bar_baz-2.0.tar.gz#sha256=AB" data-yanked="old">x</a>"#,
        )
        .unwrap();
        let flat = dir.path().join("flat");
        std::fs::create_dir_all(&flat).unwrap();
        std::fs::write(flat.join(WHEEL), wheel(META, 0, false)).unwrap();
        std::fs::write(flat.join("other-1.0-py3-none-any.whl"), b"x").unwrap();

        let cache_dir = dir.path().join("cache");
        let s = set(
            vec![
                index(
                    "local",
                    &Url::from_directory_path(&root).unwrap(),
                    false,
                    IndexKind::Simple,
                ),
                index(
                    "flat",
                    &Url::from_directory_path(&flat).unwrap(),
                    true,
                    IndexKind::Flat,
                ),
            ],
            &[("pinned-foo", "flat")],
            IndexSettings {
                offline: true, // Local indexes need no network.
                ..settings(&cache_dir)
            },
        );
        let foo = s.files(&name("foo")).await.unwrap().unwrap();
        let versions: Vec<_> = foo.versions.keys().map(ToString::to_string).collect();
        assert_eq!(versions, ["0.9", "1.0"]);
        let wheel_file = &foo.versions.values().last().unwrap()[0];
        assert_eq!(wheel_file.filename, WHEEL);
        assert!(wheel_file.size.is_some());
        let meta = s.metadata(&foo, wheel_file).await.unwrap();
        assert_eq!(meta.version.to_string(), "1.0");
        let done = s
            .complete(&foo.versions.values().next().unwrap()[0])
            .await
            .unwrap();
        assert_eq!(done.size, Some(5));
        // Local files get their sha256 computed, and no mtime-based upload time (that would
        // differ between checkouts and break byte-identical lockfiles).
        assert_eq!(done.sha256.as_deref().map(str::len), Some(64));
        assert_eq!(done.upload_time, None);

        let bar = s.files(&name("bar-baz")).await.unwrap().unwrap();
        let f = &bar.versions.values().next().unwrap()[0];
        assert_eq!(f.yanked.as_deref(), Some("old"));
        assert_eq!(f.url.as_str(), "https://files.example/bar_baz-2.0.tar.gz");
        assert!(s.files(&name("absent")).await.unwrap().is_none());

        // The flat directory (explicit, so only through a pin)...
        let flat_set = set(
            vec![index(
                "flat",
                &Url::from_directory_path(&flat).unwrap(),
                false,
                IndexKind::Flat,
            )],
            &[],
            settings(&cache_dir),
        );
        let foo = flat_set.files(&name("foo")).await.unwrap().unwrap();
        assert_eq!(foo.versions.len(), 1);
        let file = &foo.versions.values().next().unwrap()[0];
        assert_eq!(*flat_set.metadata(&foo, file).await.unwrap(), *meta);
        assert!(flat_set.files(&name("nothing")).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn flat_html_page_over_http() {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(|_| {
            Reply::new(
                200,
                r#"<a href="foo-1.0.tar.gz">a</a><a href="foo-2.0.tar.gz">b</a><a href="bar-1.0.tar.gz">c</a>"#,
            )
        })
        .await;
        let s = set(
            vec![index(
                "links",
                &server.url("links.html"),
                false,
                IndexKind::Flat,
            )],
            &[],
            settings(dir.path()),
        );
        assert_eq!(
            s.files(&name("foo")).await.unwrap().unwrap().versions.len(),
            2
        );
        assert_eq!(
            s.files(&name("bar")).await.unwrap().unwrap().versions.len(),
            1
        );
        assert!(s.files(&name("baz")).await.unwrap().is_none());
        assert!(server.requests().iter().all(|r| r.path == "/links.html"));
    }

    #[tokio::test]
    async fn json_pages_are_dispatched_on_content_type() {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(|req| {
            assert!(req.header("accept").unwrap().contains("application/vnd.pypi.simple.v1+json"));
            let body = format!(
                r#"{{"meta": {{"api-version": "1.1"}}, "name": "foo", "files": [{{"filename": "{WHEEL}",
                "url": "/f/{WHEEL}", "hashes": {{"sha256": "{}"}}, "size": 77,
                "upload-time": "2024-05-06T07:08:09.123456Z", "requires-python": ">=3.9"}}]}}"#,
                "b".repeat(64)
            );
            Reply::new(200, body).header("Content-Type", "application/vnd.pypi.simple.v1+json")
        })
        .await;
        let s = pypi_set(&server.url("simple/"), settings(dir.path()));
        let files = s.files(&name("foo")).await.unwrap().unwrap();
        let file = &files.versions.values().next().unwrap()[0];
        assert_eq!(
            file.url.as_str(),
            server.url(&format!("f/{WHEEL}")).as_str()
        );
        assert_eq!(file.requires_python.as_ref().unwrap().to_string(), ">=3.9");
        // Everything `complete` needs was on the page: no request.
        let done = s.complete(file).await.unwrap();
        assert_eq!(
            (done.size, done.upload_time.as_deref()),
            (Some(77), Some("2024-05-06T07:08:09.123456Z"))
        );
        assert_eq!(server.requests().len(), 1);
    }

    /// Against the live PyPI: `cargo test --features live --lib index::tests::live`.
    #[cfg(feature = "live")]
    #[tokio::test]
    async fn live_pypi_six() {
        let dir = tempfile::tempdir().unwrap();
        let pypi = Url::parse("https://pypi.org/simple").unwrap();
        let s = pypi_set(&pypi, settings(dir.path()));
        let six = s.files(&name("six")).await.unwrap().unwrap();
        let (version, files) = six.versions.iter().next_back().unwrap();
        let wheel = files
            .iter()
            .find(|f| f.parsed.as_wheel().is_some())
            .unwrap();
        assert!(wheel.sha256.is_some());
        let meta = s.metadata(&six, wheel).await.unwrap();
        assert_eq!(&meta.version, version);
        let done = s.complete(wheel).await.unwrap();
        assert!(done.size.unwrap() > 1000, "{done:?}");
        // The PyPI mirror reachable from CI strips `Last-Modified`, so no upload time here.
        assert_eq!(s.complete(wheel).await.unwrap().size, done.size);
        assert!(
            s.files(&name("this-project-does-not-exist-sanctuary-x"))
                .await
                .unwrap()
                .is_none()
        );

        // A large platform wheel: range requests on a real central directory.
        let numpy = s.files(&name("numpy")).await.unwrap().unwrap();
        let (version, files) = numpy.versions.iter().next_back().unwrap();
        let wheel = files
            .iter()
            .find(|f| f.filename.contains("cp312-cp312-manylinux"))
            .unwrap();
        let meta = s.metadata(&numpy, wheel).await.unwrap();
        assert_eq!(&meta.version, version);
        assert!(meta.requires_python.is_some());
        assert!(s.complete(wheel).await.unwrap().size.unwrap() > 1_000_000);
    }

    #[test]
    fn index_set_is_shareable() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<IndexSet>();
    }
}
