//! The on-disk cache of the index client, under `<cache_dir>/<CACHE_VERSION>/` (the version is part of the
//! path, so a format change never reads stale data):
//!
//! - `simple/<sha256 of page URL (and project)>.json`: parsed simple pages with their HTTP
//!   cache information (validators, max-age, fetch time), or a remembered 404;
//! - `metadata/<artifact sha256>.json` (or `url-<sha256 of URL>` without a hash): core
//!   metadata, immutable;
//! - `facts/<same key>.json`: artifact size and upload time, immutable.
//!
//! Every write goes to a temporary file in the same directory and is renamed into place, so
//! concurrent processes never see a half-written entry. An unreadable entry is a miss.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use url::Url;

use super::{CoreMetadata, CoreMetadataRef, DistFile, IndexError};
use crate::wheel::DistFilename;

/// Bumped whenever the layout or an entry format changes, or when a parser fix changes what
/// would be stored (entries hold parsed data). v2: metadata headers with whitespace-only
/// continuation lines were cut short in v1.
pub const CACHE_VERSION: &str = "v2";

/// The cache directory (`<root>/v1`).
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

/// A cached simple page: the parsed files (or `None` for a 404) and when to revalidate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CachedPage {
    pub url: String,
    pub policy: CachePolicy,
    /// Unix seconds of the last fetch or successful revalidation.
    pub fetched_at: u64,
    pub files: Option<Vec<CachedFile>>,
}

impl CachedPage {
    /// Usable without asking the server.
    pub fn is_fresh(&self, now: u64) -> bool {
        !self.policy.no_cache
            && self
                .policy
                .max_age
                .is_some_and(|age| now.saturating_sub(self.fetched_at) < age)
    }

    /// The files for `project`, re-parsing each file name.
    pub fn dist_files(&self, project: &PackageName) -> Option<Vec<DistFile>> {
        self.files.as_ref().map(|files| {
            files
                .iter()
                .filter_map(|f| f.to_dist_file(project))
                .collect()
        })
    }
}

/// The HTTP caching headers of a response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachePolicy {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub max_age: Option<u64>,
    pub no_cache: bool,
    pub no_store: bool,
}

impl CachePolicy {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let get = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let mut policy = CachePolicy {
            etag: get("etag"),
            last_modified: get("last-modified"),
            ..CachePolicy::default()
        };
        for directive in headers
            .get_all("cache-control")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
        {
            let directive = directive.trim().to_ascii_lowercase();
            match directive.split_once('=') {
                Some(("max-age", secs)) => policy.max_age = secs.trim_matches('"').parse().ok(),
                None if directive == "no-cache" => policy.no_cache = true,
                None if directive == "no-store" => policy.no_store = true,
                _ => {}
            }
        }
        policy
    }

    /// Conditional request headers for revalidation.
    pub fn conditional_headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = Vec::new();
        if let Some(etag) = &self.etag {
            headers.push(("If-None-Match", etag.clone()));
        }
        if let Some(date) = &self.last_modified {
            headers.push(("If-Modified-Since", date.clone()));
        }
        headers
    }
}

/// A [`DistFile`] in serializable form (the file name is re-parsed on load).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CachedFile {
    pub filename: String,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub upload_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub requires_python: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub yanked: Option<String>,
    /// `None`: absent; `Some(None)`: available without a hash.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub core_metadata: Option<Option<String>>,
}

impl From<&DistFile> for CachedFile {
    fn from(f: &DistFile) -> Self {
        CachedFile {
            filename: f.filename.clone(),
            url: f.url.to_string(),
            sha256: f.sha256.clone(),
            size: f.size,
            upload_time: f.upload_time.clone(),
            requires_python: f.requires_python.as_ref().map(ToString::to_string),
            yanked: f.yanked.clone(),
            core_metadata: match &f.core_metadata {
                CoreMetadataRef::Absent => None,
                CoreMetadataRef::Available { sha256 } => Some(sha256.clone()),
            },
        }
    }
}

impl CachedFile {
    pub fn to_dist_file(&self, project: &PackageName) -> Option<DistFile> {
        Some(DistFile {
            filename: self.filename.clone(),
            parsed: DistFilename::parse(&self.filename, project).ok()?,
            url: Url::parse(&self.url).ok()?,
            sha256: self.sha256.clone(),
            size: self.size,
            upload_time: self.upload_time.clone(),
            requires_python: self
                .requires_python
                .as_deref()
                .and_then(|s| VersionSpecifiers::from_str(s).ok()),
            yanked: self.yanked.clone(),
            core_metadata: match &self.core_metadata {
                None => CoreMetadataRef::Absent,
                Some(sha256) => CoreMetadataRef::Available {
                    sha256: sha256.clone(),
                },
            },
        })
    }
}

/// [`CoreMetadata`] in serializable form.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CachedMetadata {
    pub name: String,
    pub version: String,
    pub requires_dist: Vec<String>,
    pub requires_python: Option<String>,
    pub provides_extra: Vec<String>,
}

impl From<&CoreMetadata> for CachedMetadata {
    fn from(m: &CoreMetadata) -> Self {
        CachedMetadata {
            name: m.name.to_string(),
            version: m.version.to_string(),
            requires_dist: m.requires_dist.iter().map(ToString::to_string).collect(),
            requires_python: m.requires_python.as_ref().map(ToString::to_string),
            provides_extra: m.provides_extra.iter().map(ToString::to_string).collect(),
        }
    }
}

impl CachedMetadata {
    /// `None` when an entry no longer parses (treated as a cache miss).
    pub fn to_metadata(&self) -> Option<CoreMetadata> {
        Some(CoreMetadata {
            name: PackageName::from_str(&self.name).ok()?,
            version: Version::from_str(&self.version).ok()?,
            requires_dist: self
                .requires_dist
                .iter()
                .map(|r| Requirement::from_str(r).ok())
                .collect::<Option<_>>()?,
            requires_python: match &self.requires_python {
                Some(s) => Some(VersionSpecifiers::from_str(s).ok()?),
                None => None,
            },
            provides_extra: self
                .provides_extra
                .iter()
                .map(|e| ExtraName::from_str(e).ok())
                .collect::<Option<_>>()?,
        })
    }
}

/// What is known about an artifact beyond the index page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactFacts {
    pub size: Option<u64>,
    pub upload_time: Option<String>,
}

/// Lowercase hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The immutable-entry key of an artifact: its sha256, else a hash of its URL.
pub fn artifact_key(sha256: Option<&str>, url: &Url) -> String {
    match sha256 {
        Some(sha) => sha.to_ascii_lowercase(),
        None => format!("url-{}", sha256_hex(url.as_str().as_bytes())),
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Cache {
    /// The cache under `<cache_dir>/v1` (created lazily on the first write).
    pub fn new(cache_dir: &Path) -> Self {
        Cache {
            root: cache_dir.join(CACHE_VERSION),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn page_path(&self, key: &str) -> PathBuf {
        self.root
            .join("simple")
            .join(format!("{}.json", sha256_hex(key.as_bytes())))
    }

    fn keyed_path(&self, dir: &str, key: &str) -> PathBuf {
        // Keys are hex digests (or `url-` + hex): safe as file names. Anything else is hashed.
        let safe = key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let name = if safe {
            key.to_string()
        } else {
            sha256_hex(key.as_bytes())
        };
        self.root.join(dir).join(format!("{name}.json"))
    }

    /// A cached page; `key` is the page URL (plus the project for flat pages).
    pub fn read_page(&self, key: &str) -> Option<CachedPage> {
        read_json(&self.page_path(key))
    }

    pub fn write_page(&self, key: &str, page: &CachedPage) -> Result<(), IndexError> {
        write_json(&self.page_path(key), page)
    }

    pub fn read_metadata(&self, key: &str) -> Option<CoreMetadata> {
        read_json::<CachedMetadata>(&self.keyed_path("metadata", key))?.to_metadata()
    }

    pub fn write_metadata(&self, key: &str, metadata: &CoreMetadata) -> Result<(), IndexError> {
        write_json(
            &self.keyed_path("metadata", key),
            &CachedMetadata::from(metadata),
        )
    }

    pub fn read_facts(&self, key: &str) -> Option<ArtifactFacts> {
        read_json(&self.keyed_path("facts", key))
    }

    pub fn write_facts(&self, key: &str, facts: &ArtifactFacts) -> Result<(), IndexError> {
        write_json(&self.keyed_path("facts", key), facts)
    }
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Option<T> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::debug!(path = %path.display(), %err, "ignoring an unreadable cache entry");
            None
        }
    }
}

/// Write atomically: a temporary file in the same directory, renamed into place.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), IndexError> {
    let cache_err = |source: std::io::Error| IndexError::Cache {
        path: path.to_path_buf(),
        source: std::sync::Arc::new(source),
    };
    let dir = path
        .parent()
        .ok_or_else(|| cache_err(std::io::Error::other("cache entry has no parent directory")))?;
    std::fs::create_dir_all(dir).map_err(cache_err)?;
    let bytes = serde_json::to_vec(value).map_err(|e| cache_err(std::io::Error::other(e)))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(cache_err)?;
    std::io::Write::write_all(&mut tmp, &bytes).map_err(cache_err)?;
    tmp.persist(path).map_err(|e| cache_err(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn policy_from_headers() {
        let mut h = HeaderMap::new();
        h.insert("etag", HeaderValue::from_static("\"abc\""));
        h.insert(
            "cache-control",
            HeaderValue::from_static("max-age=600, public"),
        );
        let p = CachePolicy::from_headers(&h);
        assert_eq!(p.etag.as_deref(), Some("\"abc\""));
        assert_eq!(p.max_age, Some(600));
        assert!(!p.no_cache);
        assert_eq!(
            p.conditional_headers(),
            vec![("If-None-Match", "\"abc\"".to_string())]
        );
        h.insert(
            "last-modified",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(
            CachePolicy::from_headers(&h).conditional_headers()[1],
            (
                "If-Modified-Since",
                "Sun, 06 Nov 1994 08:49:37 GMT".to_string()
            )
        );
        h.insert(
            "cache-control",
            HeaderValue::from_static("No-Cache, no-store"),
        );
        let p = CachePolicy::from_headers(&h);
        assert!(p.no_cache && p.no_store && p.max_age.is_none());
    }

    #[test]
    fn freshness() {
        let page = |max_age, no_cache| CachedPage {
            url: "u".into(),
            policy: CachePolicy {
                max_age,
                no_cache,
                ..CachePolicy::default()
            },
            fetched_at: 1000,
            files: None,
        };
        assert!(page(Some(600), false).is_fresh(1599));
        assert!(!page(Some(600), false).is_fresh(1600));
        assert!(!page(Some(600), true).is_fresh(1001));
        assert!(!page(None, false).is_fresh(1000));
    }

    #[test]
    fn round_trips_and_version_dir() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let meta = crate::index::metadata::parse_metadata(
            b"Name: foo\nVersion: 1.0\nRequires-Dist: bar[x]>=1; python_version < \"3.11\"\nRequires-Python: >=3.8\nProvides-Extra: x\n",
            "t",
        )
        .unwrap();
        let key = artifact_key(None, &Url::parse("https://x/foo.whl").unwrap());
        assert!(cache.read_metadata(&key).is_none());
        cache.write_metadata(&key, &meta).unwrap();
        assert_eq!(cache.read_metadata(&key), Some(meta));
        assert!(
            dir.path()
                .join(CACHE_VERSION)
                .join("metadata")
                .join(format!("{key}.json"))
                .is_file()
        );

        let facts = ArtifactFacts {
            size: Some(3),
            upload_time: Some("2024-01-01T00:00:00Z".into()),
        };
        cache.write_facts("abc", &facts).unwrap();
        assert_eq!(cache.read_facts("abc"), Some(facts));

        // A corrupt entry is a miss, not an error.
        std::fs::write(cache.keyed_path("facts", "bad"), b"{not json").unwrap();
        assert!(cache.read_facts("bad").is_none());
    }
}
