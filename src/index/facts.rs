//! Completing an artifact's facts for a lockfile: its size when the simple page did not give
//! it, from the cache, what the range request that read its metadata learnt, or a HEAD
//! request (a one-byte range where HEAD is refused); a local artifact's size and sha256 from
//! the file itself. Immutable per artifact key, so cached forever, and shared between a
//! prefetch and [`IndexSet::complete`]. Upload times come only from the index page.

use url::Url;

use super::{DistFile, IndexError, IndexSet, cache, guard, local, memo_cell, range};
use crate::http::{self, date};

impl IndexSet {
    /// Fill in the size of `file` when the simple page did not give it, from the cache, the
    /// range request that read its metadata, or a HEAD request. Immutable per sha256, so
    /// cached forever.
    pub async fn complete(&self, file: &DistFile) -> Result<DistFile, IndexError> {
        let mut out = file.clone();
        if file.url.scheme() == "file" {
            // Local artifacts: size and sha256 from the file itself (a local index often lists
            // no hashes, and reading a local file is cheap). No upload time: a file's mtime
            // depends on the checkout and would make lockfiles differ between machines.
            let path = local::file_path(&file.url)?;
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| IndexError::Other(format!("cannot read {}: {e}", path.display())))?;
            let actual = cache::sha256_hex(&bytes);
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
            let path = local::file_path(&file.url)?;
            let meta = tokio::fs::metadata(&path)
                .await
                .map_err(|e| IndexError::Other(format!("cannot read {}: {e}", path.display())))?;
            let upload_time = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| date::unix_to_rfc3339(d.as_secs()));
            return Ok(cache::ArtifactFacts {
                size: Some(meta.len()),
                upload_time,
            });
        }
        let learnt = guard(&self.learnt)
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
                http::Limit::PROBE,
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
                    http::Limit::PROBE,
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
            .and_then(date::http_date_to_rfc3339);
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

    pub(super) fn write_facts(&self, key: &str, facts: &cache::ArtifactFacts) {
        if let Err(err) = self.cache.write_facts(key, facts) {
            tracing::warn!(%err, "could not write to the cache");
        }
    }
}
