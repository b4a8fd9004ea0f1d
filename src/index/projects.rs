//! Looking a project up for the [`IndexSet`]: the index it is pinned to, else the first
//! non-explicit index that has it (never a mix), its page read from a `file://` index, the
//! cache or the server ([`super::page`]), one fetch shared by concurrent callers, and cached
//! pages handed out at once while they are revalidated in the background
//! ([`IndexSet::settle`] says whether one changed).

use std::sync::Arc;

use pep508_rs::PackageName;
use url::Url;

use super::{
    Change, IndexError, IndexKind, IndexSet, IndexUrl, PackageFiles, SearchScope, Versions, cache,
    guard, local, memo_cell, page, simple,
};
use crate::http::redact;

impl IndexSet {
    /// Where `name` is looked for with `pin`: see [`SearchScope`].
    pub(super) fn scope_pinned(&self, pin: Option<usize>) -> SearchScope {
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

    /// The files of `name` from the index at `pin`, or from the first non-explicit index.
    pub(super) async fn files_pinned(
        &self,
        name: &PackageName,
        pin: Option<usize>,
    ) -> Result<Option<Arc<PackageFiles>>, IndexError> {
        if let Some(local) = self.local.get(name) {
            return Ok(Some(Arc::clone(local)));
        }
        let cell = memo_cell(&self.projects, &(name.clone(), pin));
        cell.get_or_try_init(|| self.find_project(name, pin))
            .await
            .cloned()
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
            return Ok(keep(local_files(&index, name).await?));
        }
        let (page_url, cache_key, accept) = page_location(&index, name)?;

        // Revalidated in the background during this process, and found changed.
        if let Some(files) = guard(&self.revalidated).remove(&cache_key) {
            return Ok(keep(files));
        }

        let request = page::PageRequest {
            client: self.client.clone(),
            cache: self.cache.clone(),
            background: self.background.clone(),
            index: index.name.clone(),
            url: page_url.clone(),
            key: cache_key.clone(),
            accept,
            project: name.clone(),
        };
        if self.speculate && !self.settings.refresh && !self.settings.offline {
            let (cache, key) = (self.cache.clone(), cache_key.clone());
            let header = tokio::task::spawn_blocking(move || cache.read_page_header(&key))
                .await
                .ok()
                .flatten();
            if let Some(header) = header.filter(|h| !h.is_fresh(cache::now())) {
                return Ok(keep(self.speculate_page(request, header).await?));
            }
        }

        let cached = if self.settings.refresh {
            None
        } else {
            read_page(&self.cache, &cache_key, name).await
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
        Ok(keep(request.fetch(cached).await?.files))
    }

    /// The files of a cached page that must be revalidated, handed out at once while the
    /// revalidation runs in the background.
    ///
    /// The network goes first. The request is sent as soon as the page's `header` (its
    /// validators) is read, and the page itself (megabytes to read and decode) is read only
    /// once the connection to the index is open: on a warm lock, reading the cached pages
    /// kept both cores busy while the name lookup, TLS and first request waited behind it
    /// (the first answer came 40-60 ms after the request, against 5-7 ms when nothing was
    /// cached). The resolution waits one round trip at most; the revalidations it must wait
    /// for anyway start that much sooner.
    async fn speculate_page(
        &self,
        request: page::PageRequest,
        header: cache::PageHeader,
    ) -> Result<Option<Versions>, IndexError> {
        let (page_tx, page_rx) = tokio::sync::oneshot::channel::<cache::CachedPage>();
        let foreground = request.clone();
        let task = tokio::spawn(async move {
            let project = request.project.clone();
            let key = request.key.clone();
            let resp = request.send(Some(&header.policy)).await;
            // Gone when the page could not be read: the foreground fetch took over.
            let Ok(page) = page_rx.await else {
                return Ok(None);
            };
            let resp = resp?;
            let same = page.header.found == header.found
                && page.header.body_digest == header.body_digest
                && page.header.policy == header.policy;
            let fetched = if same {
                request.answer(resp, Some(page)).await?
            } else {
                // Another process rewrote the page between the two reads: the answer was
                // to the validators of a page no longer there. Ask again, unconditionally.
                let mut fetched = request.fetch(None).await?;
                fetched.changed = true;
                fetched
            };
            Ok(fetched.changed.then_some(Change {
                project,
                key,
                files: fetched.files,
            }))
        });
        guard(&self.background).push(task);
        // The task just spawned runs first (it sits in this worker's next-task slot), so the
        // first request to the origin has claimed its gate when `connected` looks; were it
        // not, the page is read at once, which costs only the time above.
        tokio::task::yield_now().await;
        self.client.connected(&foreground.url).await;
        let page = read_page(&self.cache, &foreground.key, &foreground.project).await;
        match page {
            Some(page) => {
                let files = page.files.clone();
                // The task is gone only if the runtime is shutting down.
                let _ = page_tx.send(page);
                Ok(files)
            }
            None => {
                drop(page_tx);
                Ok(foreground.fetch(None).await?.files)
            }
        }
    }

    /// Wait for every background revalidation and cache write. `Ok(true)` when a page that
    /// was handed out from the cache has changed on the server: what was resolved from it is
    /// stale, and asking again gives the new page. An error is what a request made in the
    /// foreground would have reported.
    pub async fn settle(&self) -> Result<bool, IndexError> {
        let mut changed = false;
        let mut error = None;
        loop {
            let tasks = std::mem::take(&mut *guard(&self.background));
            if tasks.is_empty() {
                break;
            }
            for task in tasks {
                match task.await {
                    Ok(Ok(None)) => {}
                    Ok(Ok(Some(change))) => {
                        tracing::debug!(project = %change.project, "a cached page changed on the server");
                        changed = true;
                        guard(&self.projects).retain(|(name, _), _| *name != change.project);
                        guard(&self.revalidated).insert(change.key, change.files);
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
}

/// The files of `name` in the `file://` index `index`, read on the blocking pool.
async fn local_files(index: &IndexUrl, name: &PackageName) -> Result<Option<Versions>, IndexError> {
    let (url, project, kind) = (index.url.clone(), name.clone(), index.kind);
    let files = tokio::task::spawn_blocking(move || match kind {
        IndexKind::Simple => local::read_local_simple(&url, &project),
        IndexKind::Flat => local::read_local_flat(&url, &project).map(Some),
    })
    .await
    .map_err(|e| IndexError::Other(format!("reading index `{}` failed: {e}", index.name)))??;
    Ok(files.map(simple::group_versions))
}

/// Where the page of `name` on `index` is: its URL, its cache key and the `Accept` header
/// to ask for it with.
fn page_location(
    index: &IndexUrl,
    name: &PackageName,
) -> Result<(Url, String, &'static str), IndexError> {
    Ok(match index.kind {
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
            (url, key, page::SIMPLE_ACCEPT)
        }
        // One flat page lists every project: cache what concerns each project apart.
        IndexKind::Flat => (
            index.url.clone(),
            format!("{}#{name}", index.url),
            "text/html",
        ),
    })
}

/// The cached page under `key`, read and decoded on the blocking pool, as many at once as
/// there are cores. Unbounded, a warm lock read some fifty pages at once (38 MiB on the
/// standard set) on two cores, each page slower than the last; the resolver needs them one
/// by one, and in FIFO order it gets the first sooner (the median warm lock 0.17-0.18 s
/// against 0.20-0.21 s, 20 pairs, twice).
async fn read_page(
    cache: &cache::Cache,
    key: &str,
    project: &PackageName,
) -> Option<cache::CachedPage> {
    static READS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let reads = READS.get_or_init(|| {
        tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        )
    });
    // Never closed: acquiring cannot fail, and a read without a permit is only slower.
    let _permit = reads.acquire().await;
    let (cache, key, project) = (cache.clone(), key.to_string(), project.clone());
    tokio::task::spawn_blocking(move || cache.read_page(&key, &project))
        .await
        .ok()
        .flatten()
}
