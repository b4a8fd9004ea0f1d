//! The core metadata of a distribution for the [`IndexSet`]: from the cache (immutable per
//! artifact key), else the PEP 658 `.metadata` file (checked against its hash), else range
//! requests on the wheel's zip directory ([`super::range`]), else the whole wheel; a local
//! wheel or `.metadata` file is read in place. The metadata must describe the file it came
//! from. What a range answer tells of the wheel (its size) is kept for [`super::facts`].

use std::sync::Arc;

use url::Url;

use super::{
    CoreMetadata, CoreMetadataRef, DistFile, IndexError, IndexSet, PackageFiles, cache, guard,
    local, metadata, range,
};
use crate::http::{self, date};
use crate::wheel::DistFilename;

impl IndexSet {
    /// The core metadata of `file`, a distribution of `package`, cached under `key`.
    pub(super) async fn load_metadata(
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
        let meta = if file.parsed.as_wheel().is_none() {
            self.sdist_metadata(package, file).await?
        } else {
            let bytes = self.fetch_metadata_bytes(&package.index.name, file).await?;
            metadata::parse_metadata(&bytes, &file.filename)?
        };
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
        if let CoreMetadataRef::Available { sha256 } = &file.core_metadata
            && let Some(bytes) = self.pep658_metadata(index, file, sha256.as_deref()).await?
        {
            return Ok(bytes);
        }
        if file.parsed.as_wheel().is_none() {
            return Err(IndexError::BadMetadata {
                file: file.filename.clone(),
                reason: "a source distribution has no readable core metadata without a build"
                    .to_string(),
            });
        }
        if file.url.scheme() == "file" {
            let bytes = local::read_local(&file.url)
                .await?
                .ok_or_else(|| IndexError::Other(format!("{} does not exist", file.url)))?;
            if let Some(expected) = &file.sha256 {
                check_sha256(&file.url, expected, &bytes)?;
            }
            return range::metadata_from_zip(&bytes, &file.url).map(|(_, bytes)| bytes);
        }
        if self.settings.offline {
            return Err(offline(file));
        }
        self.remote_wheel_metadata(index, file).await
    }

    /// The PEP 658 `.metadata` file of `file`, checked against `sha256` when the index gives
    /// it; `None` when the index advertised it but does not serve it.
    async fn pep658_metadata(
        &self,
        index: &str,
        file: &DistFile,
        sha256: Option<&str>,
    ) -> Result<Option<Vec<u8>>, IndexError> {
        let meta_url = Url::parse(&format!("{}.metadata", file.url))
            .map_err(|e| IndexError::Other(format!("{}: {e}", file.url)))?;
        let found = if file.url.scheme() == "file" {
            local::read_local(&meta_url).await?
        } else if self.settings.offline {
            return Err(offline(file));
        } else {
            let resp = self
                .client
                .send(
                    index,
                    reqwest::Method::GET,
                    &meta_url,
                    &[],
                    http::Limit::METADATA,
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
        match found {
            Some(bytes) => {
                if let Some(expected) = sha256 {
                    check_sha256(&meta_url, expected, &bytes)?;
                }
                Ok(Some(bytes))
            }
            None => {
                tracing::debug!(%meta_url, "advertised core metadata is missing; reading the wheel");
                Ok(None)
            }
        }
    }

    /// The metadata of a remote wheel, by range requests (or the whole wheel); what the
    /// answer tells of the wheel's size and date is kept for [`IndexSet::complete`].
    async fn remote_wheel_metadata(
        &self,
        index: &str,
        file: &DistFile,
    ) -> Result<Vec<u8>, IndexError> {
        let wheel =
            range::fetch_wheel_metadata(&self.client, index, &file.url, file.sha256.as_deref())
                .await?;
        if wheel.size.is_some() || wheel.last_modified.is_some() {
            let facts = cache::ArtifactFacts {
                size: wheel.size,
                upload_time: wheel
                    .last_modified
                    .as_deref()
                    .and_then(date::http_date_to_rfc3339),
            };
            if facts.size.is_some() {
                self.write_facts(
                    &cache::artifact_key(file.sha256.as_deref(), &file.url),
                    &facts,
                );
            }
            guard(&self.learnt).insert(file.url.clone(), facts);
        }
        Ok(wheel.bytes)
    }
}

/// The error for metadata that only the network could give, offline.
fn offline(file: &DistFile) -> IndexError {
    IndexError::Offline {
        what: format!("the metadata of {} ({})", file.filename, file.url),
    }
}

/// `bytes`, fetched from `url`, must have the sha256 `expected`.
fn check_sha256(url: &Url, expected: &str, bytes: &[u8]) -> Result<(), IndexError> {
    let actual = cache::sha256_hex(bytes);
    if actual != expected {
        return Err(IndexError::HashMismatch {
            url: url.clone(),
            expected: expected.to_string(),
            actual,
        });
    }
    Ok(())
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
