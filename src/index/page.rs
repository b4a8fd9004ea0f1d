//! Fetching one simple page: conditionally when the cache holds it, refusing an answer
//! that cannot be a page (another media type, binary data) with the page's URL, parsing off
//! the runtime threads, and storing the result in the cache in the background.

use std::sync::Arc;

use pep508_rs::PackageName;
use url::Url;

use super::{Background, IndexError, Versions, cache, guard, simple};
use crate::http;

/// The `Accept` header of simple-page requests: JSON preferred, HTML accepted.
pub(super) const SIMPLE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// One simple-page request, with what it needs to run on its own task.
#[derive(Clone)]
pub(super) struct PageRequest {
    pub(super) client: http::HttpClient,
    pub(super) cache: cache::Cache,
    pub(super) background: Background,
    pub(super) index: String,
    pub(super) url: Url,
    pub(super) key: String,
    pub(super) accept: &'static str,
    pub(super) project: PackageName,
}

/// A fetched page: its files (`None` for a 404) and whether they differ from the cached ones.
pub(super) struct Fetched {
    pub(super) files: Option<Versions>,
    pub(super) changed: bool,
}

impl PageRequest {
    /// Fetch the page (conditionally, when `cached` has validators), store it, and say
    /// whether it differs from `cached`. An unchanged body is neither parsed nor rewritten.
    pub(super) async fn fetch(
        self,
        cached: Option<cache::CachedPage>,
    ) -> Result<Fetched, IndexError> {
        let resp = self.send(cached.as_ref().map(|p| &p.header.policy)).await?;
        self.answer(resp, cached).await
    }

    /// Send the request, conditional on the validators of `cached` (a cached page's policy).
    ///
    /// With a cached page the body is kept in the pieces it arrived in: most often it is the
    /// cached page again, and is only hashed, never copied into one buffer (on a warm lock,
    /// 50 MiB of pages copied and as many pages of memory touched for nothing). Without one
    /// it is new, and read into one buffer to parse (pieces would hold the connection's
    /// buffers, and then their copy, at once: a cold lock peaked 15 MiB higher).
    pub(super) async fn send(
        &self,
        cached: Option<&cache::CachePolicy>,
    ) -> Result<http::HttpResponse, IndexError> {
        let mut headers = vec![("Accept", self.accept.to_string())];
        if let Some(policy) = cached {
            headers.extend(policy.conditional_headers());
        }
        let (index, get, url, limit) = (
            &self.index,
            reqwest::Method::GET,
            &self.url,
            http::Limit::PAGE,
        );
        match cached {
            Some(_) => {
                self.client
                    .send_in_pieces(index, get, url, &headers, limit)
                    .await
            }
            None => self.client.send(index, get, url, &headers, limit).await,
        }
    }

    /// What `resp` says of the page, `cached` being the page whose validators [`Self::send`]
    /// sent: store it, and say whether it differs from `cached`.
    pub(super) async fn answer(
        self,
        resp: http::HttpResponse,
        cached: Option<cache::CachedPage>,
    ) -> Result<Fetched, IndexError> {
        let policy = cache::CachePolicy::from_headers(&resp.headers);
        let header = |found: bool, body_digest: Option<String>| cache::PageHeader {
            url: self.url.to_string(),
            policy: policy.clone(),
            fetched_at: cache::now(),
            found,
            body_digest,
        };
        match (resp.status, cached) {
            (304, Some(mut page)) => {
                tracing::debug!(url = %self.url, "not modified");
                if resp.headers.contains_key("cache-control") {
                    page.header.policy.max_age = policy.max_age;
                    page.header.policy.no_cache = policy.no_cache;
                    page.header.policy.no_store = policy.no_store;
                }
                page.header.policy.etag = policy.etag.clone().or(page.header.policy.etag);
                page.header.policy.last_modified = policy
                    .last_modified
                    .clone()
                    .or(page.header.policy.last_modified);
                page.header.fetched_at = cache::now();
                self.store(page.header.clone(), page.body());
                Ok(Fetched {
                    files: page.files,
                    changed: false,
                })
            }
            (status @ (200..=299 | 404 | 410), cached) => {
                let found = status < 300;
                if found && let Some(reason) = not_a_page(&head(&resp), resp.header("content-type"))
                {
                    return Err(IndexError::BadPage {
                        url: self.url,
                        reason,
                    });
                }
                let format = simple::PageFormat::from_content_type(resp.header("content-type"));
                let digest = found.then(|| {
                    let tag = match format {
                        simple::PageFormat::Html => "html",
                        simple::PageFormat::Json => "json",
                    };
                    cache::body_digest_of_pieces(tag, &resp.url, pieces(&resp))
                });
                if let Some(mut page) = cached
                    && page.header.found == found
                    && page.header.body_digest == digest
                {
                    tracing::debug!(url = %self.url, "unchanged");
                    // Without an expiry the fetch time is never read: no need to rewrite.
                    if page.header.policy != policy || policy.max_age.is_some() {
                        page.header = header(found, digest);
                        if !policy.no_store {
                            self.store(page.header.clone(), page.body());
                        }
                    }
                    return Ok(Fetched {
                        files: page.files,
                        changed: false,
                    });
                }
                let (files, encoded) = if found {
                    // Parsing and encoding a large page takes milliseconds: off the runtime
                    // threads, which keep receiving the other pages meanwhile.
                    // Into one buffer only now that the page is known to be new.
                    let (body, url, project) = (
                        whole(resp.body, &resp.pieces),
                        resp.url,
                        self.project.clone(),
                    );
                    let store = !policy.no_store;
                    tokio::task::spawn_blocking(move || {
                        let (encoded, groups) =
                            crate::spent::time(crate::spent::Work::Parsing, || {
                                simple::encode_page(&body, format, &url, &project)
                            })?;
                        drop(body);
                        let encoded = Arc::new(encoded);
                        let files = cache::lazy_groups(&encoded, groups, &project);
                        Ok::<_, IndexError>((Some(files), store.then_some(encoded)))
                    })
                    .await
                    .map_err(|e| IndexError::Other(format!("parsing {} failed: {e}", self.url)))??
                } else {
                    (None, Some(Arc::new(String::new())))
                };
                if let Some(body) = encoded.filter(|_| !policy.no_store) {
                    self.store(header(found, digest), body);
                }
                Ok(Fetched {
                    files,
                    changed: true,
                })
            }
            (status, _) => Err(IndexError::from_status(
                &self.index,
                &self.url,
                status,
                resp.credentials,
            )),
        }
    }

    /// Write `page` to the cache off the runtime threads; [`IndexSet::settle`] waits for it.
    fn store(&self, header: cache::PageHeader, body: cache::PageText) {
        let (cache, key) = (self.cache.clone(), self.key.clone());
        let task = tokio::task::spawn_blocking(move || {
            if let Err(err) = cache.write_page(&key, &header, (*body).as_ref()) {
                tracing::warn!(%err, "could not write to the cache");
            }
            Ok(None)
        });
        guard(&self.background).push(task);
    }
}

/// The body of `resp`, read whole or in pieces, as pieces.
fn pieces(resp: &http::HttpResponse) -> impl Iterator<Item = &[u8]> {
    std::iter::once(&resp.body[..])
        .chain(resp.pieces.iter().map(|p| &p[..]))
        .filter(|p| !p.is_empty())
}

/// The body read whole (`body`) or in `pieces`, in one buffer.
fn whole(body: Vec<u8>, pieces: &[bytes::Bytes]) -> Vec<u8> {
    if pieces.is_empty() {
        body
    } else {
        pieces.concat()
    }
}

/// What [`not_a_page`] looks at of the body of `resp`: its first 8 KiB.
fn head(resp: &http::HttpResponse) -> Vec<u8> {
    let mut head = Vec::with_capacity(NOT_A_PAGE_HEAD);
    for piece in pieces(resp) {
        let room = NOT_A_PAGE_HEAD - head.len();
        if room == 0 {
            break;
        }
        head.extend_from_slice(&piece[..piece.len().min(room)]);
    }
    head
}

/// How much of a body [`not_a_page`] looks at.
const NOT_A_PAGE_HEAD: usize = 8192;

/// Why `body`, answered with `content_type`, cannot be a simple page (another media type
/// than text, HTML, XML or JSON, or binary data); `None` when it may be one.
pub fn not_a_page(body: &[u8], content_type: Option<&str>) -> Option<String> {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty());
    if let Some(essence) = essence {
        let textual = essence.starts_with("text/")
            || essence.ends_with("json")
            || essence.ends_with("xml")
            || essence.contains("html");
        if !textual {
            return Some(format!(
                "the answer is `{essence}`, not an HTML or JSON page"
            ));
        }
    }
    // Text has no control characters but tab, line feed, form feed and carriage return.
    let head = &body[..body.len().min(NOT_A_PAGE_HEAD)];
    if head
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0c | b'\r'))
    {
        return Some("the answer is binary data, not an HTML or JSON page".to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::not_a_page;

    #[test]
    fn pages_and_what_cannot_be_one() {
        let html = b"<!DOCTYPE html>\n<a href=\"x-1.0.tar.gz\">x</a>\r\n\t";
        assert_eq!(not_a_page(html, Some("text/html; charset=utf-8")), None);
        assert_eq!(not_a_page(html, None), None);
        assert_eq!(
            not_a_page(b"{}", Some("application/vnd.pypi.simple.v1+json")),
            None
        );
        assert_eq!(
            not_a_page(html, Some("application/vnd.pypi.simple.v1+html")),
            None
        );
        assert_eq!(not_a_page(b"", Some("text/plain")), None);
        let zip = not_a_page(b"PK", Some("application/zip")).unwrap();
        assert!(zip.contains("application/zip"), "{zip}");
        let binary = not_a_page(b"<html>\0\x01", Some("text/html")).unwrap();
        assert!(binary.contains("binary"), "{binary}");
    }
}
