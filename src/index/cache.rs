//! The index client's store in the on-disk cache: parsed simple pages, core metadata and
//! artifact facts, in the `simple`, `metadata` and `facts` buckets of [`CacheRoot`] (where
//! the layout and its version are documented):
//!
//! - a page: a JSON header line (HTTP cache information, fetch time, a digest of the body
//!   they were parsed from, or a remembered 404), then the files grouped by version, one
//!   tab-separated line per file, so a reader parses only the version lines and decodes the
//!   files of a version when first used;
//! - core metadata, by artifact sha256 (or `url-<sha256 of URL>` without a hash), immutable;
//! - artifact facts (size and upload time), by the same key, immutable.
//!
//! Every write goes to a temporary file in the same directory and is renamed into place, so
//! concurrent processes never see a half-written entry. An unreadable entry is a miss.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use url::Url;

use std::sync::Arc;

use super::{CoreMetadata, CoreMetadataRef, DistFile, IndexError, VersionFiles, Versions};
use crate::cache::CacheRoot;
use crate::wheel::DistFilename;

/// The pages, metadata and facts in the cache.
#[derive(Clone, Debug)]
pub struct Cache {
    dirs: CacheRoot,
}

/// What the cache knows about a simple page besides its files: where it came from, its HTTP
/// cache information and a digest of the body it was parsed from.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PageHeader {
    pub url: String,
    pub policy: CachePolicy,
    /// Unix seconds of the last fetch or successful revalidation.
    pub fetched_at: u64,
    /// `false` for a remembered 404.
    pub found: bool,
    /// [`body_digest`] of the body the files were parsed from: an identical body needs no
    /// parse and no rewrite. (Headers written before it was named so held a sha256 as
    /// `body_sha256`: ignored, so such a page is parsed again once.)
    #[serde(default)]
    pub body_digest: Option<String>,
}

impl PageHeader {
    /// Usable without asking the server.
    pub fn is_fresh(&self, now: u64) -> bool {
        !self.policy.no_cache
            && self
                .policy
                .max_age
                .is_some_and(|age| now.saturating_sub(self.fetched_at) < age)
    }
}

/// The encoded files of a page ([`encode_versions`]), shared by the versions decoded from it:
/// in memory, or mapped from the cache (see [`Cache::read_page`]).
pub type PageText = Arc<dyn AsRef<str> + Send + Sync>;

/// A cached simple page: its header and its files (`None` for a 404), decoded lazily.
#[derive(Clone)]
pub struct CachedPage {
    pub header: PageHeader,
    pub files: Option<Versions>,
    /// The encoded files, as stored (to rewrite the header alone).
    body: PageText,
}

impl std::fmt::Debug for CachedPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedPage")
            .field("header", &self.header)
            .field("files", &self.files)
            .field("body", &(*self.body).as_ref().len())
            .finish()
    }
}

impl CachedPage {
    /// The encoded files, as stored.
    pub fn body(&self) -> PageText {
        self.body.clone()
    }

    /// Decode a stored page (`None` when it is not one). Only the version lines are parsed
    /// here; the files of a version are decoded when first used.
    pub fn decode(mut text: String, project: &PackageName) -> Option<CachedPage> {
        let (header, start) = header_of(text.as_bytes())?;
        // The files stay in the buffer they were read into.
        text.drain(..start);
        CachedPage::with_body(header, Arc::new(text), project)
    }

    /// [`Self::decode`] of a mapped page, whose files must be UTF-8.
    #[cfg(unix)]
    fn decode_mapped(map: Mapped, project: &PackageName) -> Option<CachedPage> {
        let (header, start) = header_of(&map)?;
        std::str::from_utf8(&map[start..]).ok()?;
        CachedPage::with_body(header, Arc::new(MappedText { map, start }), project)
    }

    #[cfg(not(unix))]
    fn decode_mapped(map: Mapped, _project: &PackageName) -> Option<CachedPage> {
        match map {}
    }

    fn with_body(header: PageHeader, body: PageText, project: &PackageName) -> Option<CachedPage> {
        let files = if header.found {
            Some(lazy_versions(&body, project)?)
        } else {
            None
        };
        Some(CachedPage {
            header,
            files,
            body,
        })
    }
}

/// The header line at the start of a stored page, and where the page's files start after it;
/// `None` when there is no whole line, or it is not a header.
fn header_of(stored: &[u8]) -> Option<(PageHeader, usize)> {
    let end = memchr::memchr(b'\n', stored)?;
    let header = serde_json::from_slice(&stored[..end]).ok()?;
    Some((header, end + 1))
}

/// The header line of the page entry at `path`, read alone.
fn page_header_at(path: &Path) -> Option<PageHeader> {
    use std::io::{BufRead as _, Read as _};
    let file = std::fs::File::open(path).ok()?;
    let mut line = Vec::new();
    // A header is a few hundred bytes: one that is not a line within the cap is no header.
    std::io::BufReader::with_capacity(4096, file.take(PAGE_HEADER_MAX))
        .read_until(b'\n', &mut line)
        .ok()?;
    header_of(&line).map(|(header, _)| header)
}

/// The versions of an encoded page body ([`encode_versions`]), each decoded on first use;
/// `None` when a version line does not parse.
pub fn lazy_versions(text: &PageText, project: &PackageName) -> Option<Versions> {
    let body: &str = (**text).as_ref();
    let mut versions = Versions::new();
    // Each group: `=<version>` then one line per file.
    let first = body.starts_with('=').then_some(0);
    let mut groups = first
        .into_iter()
        .chain(memchr::memmem::find_iter(body.as_bytes(), b"\n=").map(|i| i + 1))
        .peekable();
    while let Some(at) = groups.next() {
        let line_end = body[at..].find('\n').map_or(body.len(), |n| at + n);
        let version = Version::from_str(&body[at + 1..line_end]).ok()?;
        let end = groups.peek().copied().unwrap_or(body.len());
        let raw = RawFiles {
            text: text.clone(),
            start: (line_end + 1).min(end),
            end,
            project: project.clone(),
        };
        versions.insert(version, VersionFiles::lazy(raw));
    }
    Some(versions)
}

/// The versions of an encoded page body, from where their file lines are (as
/// [`super::simple::encode_html_groups`] says), each decoded on first use.
pub fn lazy_groups(
    body: &Arc<String>,
    groups: super::simple::VersionRanges,
    project: &PackageName,
) -> Versions {
    groups
        .into_iter()
        .map(|(version, range)| {
            let raw = RawFiles {
                text: body.clone(),
                start: range.start,
                end: range.end,
                project: project.clone(),
            };
            (version, VersionFiles::lazy(raw))
        })
        .collect()
}

/// The files of one version in a cached page, still encoded: one line per file.
#[derive(Clone)]
pub(crate) struct RawFiles {
    text: PageText,
    start: usize,
    end: usize,
    project: PackageName,
}

impl std::fmt::Debug for RawFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawFiles")
            .field("lines", &&(*self.text).as_ref()[self.start..self.end])
            .field("project", &self.project)
            .finish()
    }
}

impl RawFiles {
    pub(crate) fn decode(&self) -> Vec<DistFile> {
        crate::spent::time(crate::spent::Work::Parsing, || {
            (*self.text).as_ref()[self.start..self.end]
                .lines()
                .filter(|line| !line.is_empty())
                .filter_map(|line| decode_file(line, &self.project))
                .collect()
        })
    }
}

/// `versions` as text: `=<version>` lines, each followed by its files, one a line, fields
/// separated by tabs (see `encode_file`).
pub fn encode_versions(versions: &Versions) -> String {
    let files: usize = versions.values().map(|f| f.len()).sum();
    let mut out = String::with_capacity(files * 256);
    for (version, files) in versions {
        out.push('=');
        out.push_str(&version.to_string());
        out.push('\n');
        for file in files.iter() {
            encode_file(file, &mut out);
            out.push('\n');
        }
    }
    out
}

/// One file as tab-separated fields: file name, URL, then the optional sha256, size, upload
/// time, requires-python, yanked reason and core-metadata hash, each empty when absent and
/// `+value` when present. Tabs, newlines and backslashes are escaped.
fn encode_file(f: &DistFile, out: &mut String) {
    field(out, &f.filename);
    out.push('\t');
    field(out, f.url.as_str());
    optional(out, f.sha256.as_deref());
    optional(out, f.size.map(|s| s.to_string()).as_deref());
    optional(out, f.upload_time.as_deref());
    optional(
        out,
        f.requires_python
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
    );
    optional(out, f.yanked.as_deref());
    let core = match &f.core_metadata {
        CoreMetadataRef::Absent => None,
        CoreMetadataRef::Available { sha256 } => Some(sha256.as_deref().unwrap_or("")),
    };
    optional(out, core);
}

/// One field of a file line, escaped.
pub(crate) fn field(out: &mut String, value: &str) {
    if !value
        .bytes()
        .any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r'))
    {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// A tab, then an optional field: empty when absent, `+value` when present.
pub(crate) fn optional(out: &mut String, value: Option<&str>) {
    out.push('\t');
    if let Some(value) = value {
        out.push('+');
        field(out, value);
    }
}

fn unescape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains('\\') {
        return value.into();
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out.into()
}

/// The inverse of [`encode_file`]; `None` for a line that does not decode.
fn decode_file(line: &str, project: &PackageName) -> Option<DistFile> {
    let mut fields = line.split('\t');
    let filename = unescape(fields.next()?).into_owned();
    let url = Url::parse(&unescape(fields.next()?)).ok()?;
    let mut optional = || -> Option<Option<String>> {
        let field = fields.next()?;
        Some(field.strip_prefix('+').map(|v| unescape(v).into_owned()))
    };
    let sha256 = optional()?;
    let size = match optional()? {
        Some(size) => Some(size.parse().ok()?),
        None => None,
    };
    let upload_time = optional()?;
    let requires_python = match optional()? {
        Some(spec) => Some(VersionSpecifiers::from_str(&spec).ok()?),
        None => None,
    };
    let yanked = optional()?;
    let core_metadata = match optional()? {
        None => CoreMetadataRef::Absent,
        Some(hash) => CoreMetadataRef::Available {
            sha256: (!hash.is_empty()).then_some(hash),
        },
    };
    Some(DistFile {
        parsed: DistFilename::parse(&filename, project).ok()?,
        filename,
        url,
        sha256,
        size,
        upload_time,
        requires_python,
        yanked,
        core_metadata,
    })
}

/// The digest that says whether a page body changed: XXH3-128 over how it is parsed (its
/// format and final URL) and the body itself. Not a cryptographic hash, and it need not be:
/// it only tells the same server's answer from its previous one, and a server that wanted to
/// give other files could simply send them. A warm lock re-reads every page (indexes that
/// send no validators) and hashed tens of MiB with sha256 on the threads receiving them.
pub fn body_digest(format: &str, url: &Url, body: &[u8]) -> String {
    body_digest_of_pieces(format, url, [body])
}

/// [`body_digest`] of the body made of `pieces`, one after the other.
pub fn body_digest_of_pieces<'a>(
    format: &str,
    url: &Url,
    pieces: impl IntoIterator<Item = &'a [u8]>,
) -> String {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(format.as_bytes());
    hasher.update(&[0]);
    hasher.update(url.as_str().as_bytes());
    hasher.update(&[0]);
    for piece in pieces {
        hasher.update(piece);
    }
    format!("xxh3-128:{:032x}", hasher.digest128())
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
                .map(|r| crate::requirement::parse(r).ok())
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

/// The longest first line [`Cache::read_page_header`] reads.
const PAGE_HEADER_MAX: u64 = 64 * 1024;

impl Cache {
    /// The store under the cache directory `cache_dir` (created lazily on the first write).
    pub fn new(cache_dir: &Path) -> Self {
        Cache {
            dirs: CacheRoot::new(cache_dir),
        }
    }

    fn page_path(&self, key: &str) -> PathBuf {
        self.dirs
            .simple()
            .join(format!("{}.page", sha256_hex(key.as_bytes())))
    }

    fn keyed_path(&self, dir: PathBuf, key: &str) -> PathBuf {
        // Keys are hex digests (or `url-` + hex): safe as file names. Anything else is hashed.
        let safe = key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let name = if safe {
            key.to_string()
        } else {
            sha256_hex(key.as_bytes())
        };
        dir.join(format!("{name}.json"))
    }

    /// A cached page of `project`; `key` is the page URL (plus the project for flat pages).
    ///
    /// A large page is mapped rather than read: reading copied it into fresh memory, and on a
    /// warm lock, zeroing and copying the pages' 38 MiB was a third of the CPU samples
    /// (a tenth mapped; median warm lock 0.168 s against 0.179 s, 20 pairs). Pages
    /// are only ever replaced whole (written aside, then renamed into place), so a mapped
    /// file never changes under the mapping.
    pub fn read_page(&self, key: &str, project: &PackageName) -> Option<CachedPage> {
        let _reading = crate::spent::timer(crate::spent::Work::ReadingCache);
        let path = self.page_path(key);
        let page = match map_large(&path) {
            Some(map) => CachedPage::decode_mapped(map, project),
            None => CachedPage::decode(std::fs::read_to_string(&path).ok()?, project),
        };
        if page.is_none() {
            tracing::debug!(path = %path.display(), "ignoring an unreadable cache entry");
        }
        page
    }

    /// The header of a cached page alone (its first line), without reading its files.
    pub fn read_page_header(&self, key: &str) -> Option<PageHeader> {
        let _reading = crate::spent::timer(crate::spent::Work::ReadingCache);
        page_header_at(&self.page_path(key))
    }

    /// The headers of every cached page, each read alone as by [`Cache::read_page_header`], in
    /// no set order; an entry without one is left out. (The benches ask a warm lock's pages
    /// again from them.)
    pub fn page_headers(&self) -> Vec<PageHeader> {
        let Ok(entries) = std::fs::read_dir(self.dirs.simple()) else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|e| e == "page"))
            .filter_map(|path| page_header_at(&path))
            .collect()
    }

    /// Store a page: `header`, then `body` (from [`encode_versions`], empty for a 404).
    pub fn write_page(&self, key: &str, header: &PageHeader, body: &str) -> Result<(), IndexError> {
        let path = self.page_path(key);
        let mut text = serde_json::to_string(header).map_err(|e| IndexError::Cache {
            path: path.clone(),
            source: Arc::new(std::io::Error::other(e)),
        })?;
        text.push('\n');
        text.push_str(body);
        write_bytes(&path, text.as_bytes())
    }

    pub fn read_metadata(&self, key: &str) -> Option<CoreMetadata> {
        read_json::<CachedMetadata>(&self.keyed_path(self.dirs.metadata(), key))?.to_metadata()
    }

    pub fn write_metadata(&self, key: &str, metadata: &CoreMetadata) -> Result<(), IndexError> {
        write_json(
            &self.keyed_path(self.dirs.metadata(), key),
            &CachedMetadata::from(metadata),
        )
    }

    pub fn read_facts(&self, key: &str) -> Option<ArtifactFacts> {
        read_json(&self.keyed_path(self.dirs.facts(), key))
    }

    pub fn write_facts(&self, key: &str, facts: &ArtifactFacts) -> Result<(), IndexError> {
        write_json(&self.keyed_path(self.dirs.facts(), key), facts)
    }
}

/// A mapped page: mapping is for Unix, as Windows cannot replace a file while it is mapped.
#[cfg(unix)]
type Mapped = memmap2::Mmap;
#[cfg(not(unix))]
type Mapped = std::convert::Infallible;

/// Pages at least this large are mapped ([`Cache::read_page`]).
#[cfg(unix)]
const MAP_MIN: u64 = 256 * 1024;

/// A mapped page's encoded files, checked to be UTF-8 when mapped
/// ([`CachedPage::decode_mapped`]).
#[cfg(unix)]
struct MappedText {
    map: memmap2::Mmap,
    /// Where the files start, after the header line.
    start: usize,
}

#[cfg(unix)]
impl AsRef<str> for MappedText {
    fn as_ref(&self) -> &str {
        // SAFETY: `decode_mapped` made it only after `from_utf8` accepted these bytes, and
        // the mapping is read-only and of a file never written in place (see `read_page`).
        unsafe { std::str::from_utf8_unchecked(&self.map[self.start..]) }
    }
}

/// The page at `path`, mapped, when it is large enough to be worth it and can be mapped
/// (else read it).
#[cfg(unix)]
fn map_large(path: &Path) -> Option<Mapped> {
    let file = std::fs::File::open(path).ok()?;
    if file.metadata().ok()?.len() < MAP_MIN {
        return None;
    }
    // SAFETY: a cache page is never written in place, only replaced by a rename, so the
    // bytes mapped do not change while mapped. (A file truncated by another program would
    // make reading it fault, as for any tool mapping files.)
    unsafe { memmap2::MmapOptions::new().populate().map(&file) }.ok()
}

#[cfg(not(unix))]
fn map_large(_path: &Path) -> Option<Mapped> {
    None
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Option<T> {
    let _reading = crate::spent::timer(crate::spent::Work::ReadingCache);
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
    let bytes = serde_json::to_vec(value).map_err(|e| IndexError::Cache {
        path: path.to_path_buf(),
        source: Arc::new(std::io::Error::other(e)),
    })?;
    write_bytes(path, &bytes)
}

/// Write `bytes` atomically ([`crate::fs::write_file`]; a cache entry needs no flush).
fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), IndexError> {
    crate::fs::write_file(path, bytes, crate::fs::Durability::Cached).map_err(|source| {
        IndexError::Cache {
            path: path.to_path_buf(),
            source: std::sync::Arc::new(source),
        }
    })
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
    fn a_page_header_is_read_without_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let header = PageHeader {
            url: "https://example.org/simple/foo/".to_string(),
            policy: CachePolicy {
                etag: Some("\"v1\"".to_string()),
                ..CachePolicy::default()
            },
            fetched_at: 1_700_000_000,
            found: true,
            body_digest: Some("xxh3-128:0123".to_string()),
        };
        assert!(cache.read_page_header("k").is_none(), "nothing cached");
        cache
            .write_page("k", &header, "=1.0\nfoo-1.0.tar.gz\tx\n")
            .unwrap();
        let read = cache.read_page_header("k").unwrap();
        assert_eq!(
            (
                read.url,
                read.policy,
                read.fetched_at,
                read.found,
                read.body_digest
            ),
            (
                header.url.clone(),
                header.policy.clone(),
                header.fetched_at,
                header.found,
                header.body_digest.clone()
            )
        );
        // Not a header: no line end within the cap, or no line end at all.
        let path = cache.page_path("k");
        let long = format!("{{\"url\":\"{}\"}}\n", "x".repeat(PAGE_HEADER_MAX as usize));
        std::fs::write(&path, long).unwrap();
        assert!(cache.read_page_header("k").is_none());
        let json = serde_json::to_string(&header).unwrap();
        std::fs::write(&path, &json).unwrap();
        assert!(cache.read_page_header("k").is_none(), "no line end");
        std::fs::write(&path, json + "\n").unwrap();
        assert!(cache.read_page_header("k").is_some());
    }

    /// Every cached page's header is listed, a remembered 404 among them; an entry that has
    /// no header is left out.
    #[test]
    fn every_page_header_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        assert!(cache.page_headers().is_empty(), "no bucket yet");
        for (key, found) in [("a", true), ("b", false)] {
            let header = PageHeader {
                url: format!("https://example.org/simple/{key}/"),
                policy: CachePolicy::default(),
                fetched_at: 1,
                found,
                body_digest: None,
            };
            cache.write_page(key, &header, "").unwrap();
        }
        std::fs::write(cache.page_path("c"), "no header").unwrap();
        let mut listed: Vec<_> = cache
            .page_headers()
            .into_iter()
            .map(|h| (h.url, h.found))
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            [
                ("https://example.org/simple/a/".to_string(), true),
                ("https://example.org/simple/b/".to_string(), false)
            ]
        );
    }

    /// A page large enough to be mapped reads as the same page read into memory; one that
    /// is not UTF-8, or has no header, is no page either way.
    #[test]
    fn a_large_page_is_mapped_and_reads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let project = PackageName::from_str("foo").unwrap();
        let header = PageHeader {
            url: "https://example.org/simple/foo/".to_string(),
            policy: CachePolicy::default(),
            fetched_at: 1,
            found: true,
            body_digest: None,
        };
        let mut body = String::new();
        for v in 0..5000 {
            body.push_str(&format!(
                "={v}.0\nfoo-{v}.0.tar.gz\thttps://example.org/f/foo-{v}.0.tar.gz\t+{:064x}\t+{v}\t\t+>=3.9\t\t\n",
                v
            ));
        }
        #[cfg(unix)]
        assert!(body.len() as u64 > MAP_MIN, "large enough to be mapped");
        cache.write_page("big", &header, &body).unwrap();
        let page = cache.read_page("big", &project).unwrap();
        let text = std::fs::read_to_string(cache.page_path("big")).unwrap();
        let read = CachedPage::decode(text, &project).unwrap();
        let files = |p: &CachedPage| {
            p.files
                .as_ref()
                .unwrap()
                .iter()
                .map(|(v, f)| (v.to_string(), f.as_slice().to_vec()))
                .collect::<Vec<_>>()
        };
        assert_eq!(files(&page).len(), 5000);
        assert_eq!(files(&page), files(&read));
        assert_eq!((*page.body()).as_ref(), body);
        assert_eq!(
            page.files.as_ref().unwrap()[&Version::from_str("4999.0").unwrap()][0].size,
            Some(4999)
        );

        let path = cache.page_path("big");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        bytes[last] = 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert!(cache.read_page("big", &project).is_none(), "not UTF-8");
        std::fs::write(&path, body.as_bytes()).unwrap();
        assert!(cache.read_page("big", &project).is_none(), "no header");
    }

    #[test]
    fn freshness() {
        let page = |max_age, no_cache| PageHeader {
            url: "u".into(),
            policy: CachePolicy {
                max_age,
                no_cache,
                ..CachePolicy::default()
            },
            fetched_at: 1000,
            found: false,
            body_digest: None,
        };
        assert!(page(Some(600), false).is_fresh(1599));
        assert!(!page(Some(600), false).is_fresh(1600));
        assert!(!page(Some(600), true).is_fresh(1001));
        assert!(!page(None, false).is_fresh(1000));
    }

    #[test]
    fn pages_round_trip_and_decode_lazily() {
        let project = PackageName::from_str("foo").unwrap();
        let url = Url::parse("https://x.example/simple/foo/").unwrap();
        let html = format!(
            r#"<a href="/f/foo-1.0-py3-none-any.whl#sha256={h}" data-requires-python="&gt;=3.8" data-yanked="bad	tab
newline \ slash" data-core-metadata="sha256={h}">x</a>
<a href="/f/foo-1.0.tar.gz" data-yanked="" data-upload-time="2024-01-02T03:04:05Z">x</a>
<a href="/f/foo-2.0rc1-py3-none-any.whl" data-core-metadata="true">x</a>
<a href="/f/foo-1.0.0-py2-none-any.whl">x</a>"#,
            h = "a".repeat(64)
        );
        let mut files = crate::index::simple::parse_html(&html, &url, &project).unwrap();
        files[1].size = Some(42);
        let versions = crate::index::simple::group_versions(files.clone());
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let header = PageHeader {
            url: url.to_string(),
            policy: CachePolicy::default(),
            fetched_at: 7,
            found: true,
            body_digest: Some(body_digest("html", &url, html.as_bytes())),
        };
        cache
            .write_page("k", &header, &encode_versions(&versions))
            .unwrap();
        let page = cache.read_page("k", &project).unwrap();
        assert_eq!(page.header.body_digest, header.body_digest);
        let back = page.files.unwrap();
        assert_eq!(
            back.keys().collect::<Vec<_>>(),
            versions.keys().collect::<Vec<_>>()
        );
        for (version, files) in &versions {
            assert_eq!(back[version].as_slice(), files.as_slice(), "{version}");
        }
        let all: Vec<DistFile> = back.values().flat_map(|f| f.to_vec()).collect();
        assert_eq!(all.len(), files.len());

        // A remembered 404.
        let missing = PageHeader {
            found: false,
            body_digest: None,
            ..header
        };
        cache.write_page("gone", &missing, "").unwrap();
        assert!(cache.read_page("gone", &project).unwrap().files.is_none());
        // A corrupt entry is a miss.
        std::fs::write(cache.page_path("bad"), "{not json\n=1.0\n").unwrap();
        assert!(cache.read_page("bad", &project).is_none());
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
            CacheRoot::new(dir.path())
                .metadata()
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
        std::fs::write(cache.keyed_path(cache.dirs.facts(), "bad"), b"{not json").unwrap();
        assert!(cache.read_facts("bad").is_none());
    }
}
