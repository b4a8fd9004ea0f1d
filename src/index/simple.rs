//! Simple-page parsing: PEP 503 HTML (with PEP 592 yanks, PEP 658/714 core-metadata
//! attributes and `#sha256=` fragments), PEP 691 JSON, and flat `--find-links` listings.
//!
//! Pure: no I/O. Turns a page body into [`DistFile`]s and groups them into [`PackageFiles`].
//! Files whose names do not parse, or that belong to another project (flat listings mix
//! projects), are skipped with a `debug` log; a malformed `requires-python` drops only that
//! attribute. JSON that does not parse is an error naming the page. Links never keep credentials: a link
//! with user info has it removed (requests get credentials by host, see [`crate::http::auth`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::PackageName;
use url::Url;

use super::{
    CoreMetadataRef, DistFile, IndexError, IndexUrl, PackageFiles, VersionFiles, Versions, cache,
};
use crate::http::auth::percent_decode;
use crate::http::redact::{redact_text, redacted, without_credentials};
use crate::wheel::DistFilename;

/// The media type of PEP 691 JSON simple pages.
pub const JSON_MEDIA_TYPE: &str = "application/vnd.pypi.simple.v1+json";

/// What a page body is, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageFormat {
    Html,
    Json,
}

impl PageFormat {
    /// The format announced by a `Content-Type` header value (HTML when absent or unknown,
    /// as PEP 503 servers often send `text/plain` or nothing).
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        let essence = content_type
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase());
        match essence.as_deref() {
            Some(JSON_MEDIA_TYPE) | Some("application/json") => PageFormat::Json,
            _ => PageFormat::Html,
        }
    }
}

/// Parse a page of either format into the files of `project`: the reference the encoders that
/// fetches use ([`encode_page`]) are tested against.
#[cfg(test)]
pub fn parse_page(
    body: &[u8],
    format: PageFormat,
    page_url: &Url,
    project: &PackageName,
) -> Result<Vec<DistFile>, IndexError> {
    match format {
        // Some proxies label an HTML page as JSON: trust the body over the header.
        PageFormat::Json if !body.trim_ascii_start().starts_with(b"<") => {
            parse_json(body, page_url, project)
        }
        PageFormat::Json | PageFormat::Html => parse_html(&utf8(body), page_url, project),
    }
}

/// A page of either format in its cache encoding ([`super::cache::encode_versions`]), with
/// where the file lines of each version are in it, to decode on first use
/// ([`super::cache::lazy_groups`]).
pub fn encode_page(
    body: &[u8],
    format: PageFormat,
    page_url: &Url,
    project: &PackageName,
) -> Result<(String, VersionRanges), IndexError> {
    match format {
        PageFormat::Json if !body.trim_ascii_start().starts_with(b"<") => {
            encode_json_groups(body, page_url, project)
        }
        PageFormat::Json | PageFormat::Html => encode_html_groups(&utf8(body), page_url, project),
    }
}

/// Each version of an encoded page with where its file lines are in the text.
pub type VersionRanges = Vec<(Version, std::ops::Range<usize>)>;

/// `bytes` as text, invalid sequences replaced (checking with `from_utf8` first: the lossy
/// conversion is several times slower on valid input).
fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Parse a PEP 503 HTML page (or a flat `--find-links` HTML page) into the files of
/// `project`. Links are resolved against `<base href>` when present, else `page_url`.
pub fn parse_html(
    html: &str,
    page_url: &Url,
    project: &PackageName,
) -> Result<Vec<DistFile>, IndexError> {
    let dom = tl::parse(html, tl::ParserOptions::default()).map_err(|e| IndexError::BadPage {
        url: page_url.clone(),
        reason: e.to_string(),
    })?;
    let tags = || dom.nodes().iter().filter_map(|n| n.as_tag());
    // Compare raw attribute names: `Attributes::iter` would convert every name and value of
    // the tag to a string for each lookup.
    let attr = |tag: &tl::HTMLTag<'_>, key: &str| -> Option<Option<String>> {
        tag.attributes()
            .unstable_raw()
            .iter()
            .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(key.as_bytes()))
            .map(|(_, v)| {
                v.as_ref()
                    .map(|v| decode_entities(&utf8(v.as_bytes())).into_owned())
            })
    };

    let base = tags()
        .find(|t| t.name().as_utf8_str().eq_ignore_ascii_case("base"))
        .and_then(|t| attr(t, "href").flatten())
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone());

    let mut files = Vec::new();
    for tag in tags().filter(|t| t.name().as_utf8_str().eq_ignore_ascii_case("a")) {
        let Some(href) = attr(tag, "href").flatten() else {
            continue;
        };
        let Ok(mut url) = base.join(href.trim()) else {
            tracing::debug!(page_url = %redacted(page_url), href = %redact_text(&href), "skipping a link that is not a valid URL");
            continue;
        };
        let sha256 = url.fragment().and_then(fragment_sha256);
        url.set_fragment(None);
        let Some(filename) = filename_of(&url) else {
            continue;
        };
        let Some(mut file) = make_file(&filename, url, project) else {
            continue;
        };
        file.sha256 = sha256;
        file.requires_python = attr(tag, "data-requires-python")
            .flatten()
            .and_then(|v| parse_requires_python(&v, &filename));
        file.yanked = attr(tag, "data-yanked").map(Option::unwrap_or_default);
        // Not in PEP 503, but some indexes (and PyPI mirrors) add it to the HTML form too.
        file.upload_time = attr(tag, "data-upload-time")
            .flatten()
            .and_then(|t| upload_time(&t));
        let core = attr(tag, "data-core-metadata").or_else(|| attr(tag, "data-dist-info-metadata"));
        file.core_metadata = match core {
            None => CoreMetadataRef::Absent,
            Some(None) => CoreMetadataRef::Available { sha256: None },
            Some(Some(v)) => html_core_metadata(&v),
        };
        files.push(file);
    }
    Ok(files)
}

/// An attribute of `tag`: `None` when absent, `Some(None)` without a value, else the value
/// with its character references decoded (borrowed from the page when it has none).
fn attr_value<'a>(
    html: &'a str,
    tag: &'a tl::HTMLTag<'a>,
    key: &str,
) -> Option<Option<Cow<'a, str>>> {
    // Compare raw attribute names: `Attributes::iter` would convert every name and value of
    // the tag to a string for each lookup.
    tag.attributes()
        .unstable_raw()
        .iter()
        .find(|(k, _)| k.as_bytes().eq_ignore_ascii_case(key.as_bytes()))
        .map(|(_, v)| {
            v.as_ref().map(|v| {
                let bytes = v.as_bytes();
                // A value is a slice of the page: take it from the page text, where only its
                // ends need checking, rather than validating it as UTF-8 again.
                let at = (bytes.as_ptr() as usize).wrapping_sub(html.as_ptr() as usize);
                let text = html
                    .get(at..at.wrapping_add(bytes.len()))
                    .filter(|t| t.as_ptr() == bytes.as_ptr())
                    .map_or_else(|| utf8(bytes), Cow::Borrowed);
                match text {
                    Cow::Borrowed(text) => decode_entities(text),
                    Cow::Owned(text) => Cow::Owned(decode_entities(&text).into_owned()),
                }
            })
        })
}

/// The cache encoding ([`super::cache::encode_versions`]) of what [`parse_html`] followed by
/// [`group_versions`] gives, written straight from the page: no [`DistFile`] is built, a
/// link to an origin already seen is not run through the URL parser, and each distinct
/// version, name and `requires-python` is parsed once. A project with thousands of files
/// costs a few string copies per file; the resolver decodes the few versions it looks at.
pub fn encode_html(
    html: &str,
    page_url: &Url,
    project: &PackageName,
) -> Result<String, IndexError> {
    encode_html_groups(html, page_url, project).map(|(text, _)| text)
}

/// [`encode_html`], with where the file lines of each version are in the text.
pub fn encode_html_groups(
    html: &str,
    page_url: &Url,
    project: &PackageName,
) -> Result<(String, VersionRanges), IndexError> {
    let dom = tl::parse(html, tl::ParserOptions::default()).map_err(|e| IndexError::BadPage {
        url: page_url.clone(),
        reason: e.to_string(),
    })?;
    let tags = || dom.nodes().iter().filter_map(|n| n.as_tag());
    let base = tags()
        .find(|t| t.name().as_utf8_str().eq_ignore_ascii_case("base"))
        .and_then(|t| attr_value(html, t, "href").flatten())
        .and_then(|href| page_url.join(href.trim()).ok())
        .unwrap_or_else(|| page_url.clone());
    let mut links = FileLines::new(page_url, base, project, html.len() / 2);
    for tag in tags().filter(|t| t.name().as_utf8_str().eq_ignore_ascii_case("a")) {
        links.add(html, tag);
    }
    drop(dom);
    Ok(links.grouped())
}

/// The file lines of a page, in page order, before they are grouped by version (see
/// [`encode_html_groups`] and [`encode_json_groups`]).
pub(super) struct FileLines<'a> {
    page_url: &'a Url,
    /// What relative links are joined to: the page's `<base href>`, else its URL.
    base: Url,
    project: &'a PackageName,
    /// Every file line, one after another.
    lines: String,
    /// Each file: where its line is in `lines`, and the position of its version text in
    /// `texts`.
    files: Vec<(usize, usize, usize)>,
    texts: Vec<String>,
    text_ids: HashMap<String, usize>,
    /// Each spelling of a project name seen: whether it is `project`.
    names: HashMap<String, bool>,
    /// Each `data-requires-python` value seen, parsed once.
    requires: HashMap<String, Option<String>>,
    origins: Origins,
}

/// What a page says of one file besides its name and URL, as written there: checked and
/// normalized by [`FileLines::push`] as [`parse_html`] and `parse_json` do.
pub(super) struct FileFacts<'v> {
    /// Hex digits, any case; dropped unless a sha256.
    pub(super) sha256: Option<&'v str>,
    pub(super) size: Option<u64>,
    /// Kept only when an RFC 3339 date-time with an offset.
    pub(super) upload_time: Option<&'v str>,
    /// Dropped (logged) when it does not parse.
    pub(super) requires_python: Option<&'v str>,
    pub(super) yanked: Option<&'v str>,
    pub(super) core_metadata: CoreMetadataRef,
}

/// Where a link points: its URL without the fragment, the fragment, and the file name.
struct LinkTarget<'h> {
    url: Cow<'h, str>,
    fragment: Option<Cow<'h, str>>,
    filename: Cow<'h, str>,
}

impl<'a> FileLines<'a> {
    /// Lines for the files of `project` on the page at `page_url`, links relative to `base`;
    /// `capacity` bytes of lines are expected.
    pub(super) fn new(
        page_url: &'a Url,
        base: Url,
        project: &'a PackageName,
        capacity: usize,
    ) -> Self {
        FileLines {
            page_url,
            base,
            project,
            lines: String::with_capacity(capacity),
            files: Vec::new(),
            texts: Vec::new(),
            text_ids: HashMap::new(),
            names: HashMap::new(),
            requires: HashMap::new(),
            origins: Origins::default(),
        }
    }

    /// The line of the link `tag`, when it is a file of the project.
    fn add(&mut self, html: &str, tag: &tl::HTMLTag<'_>) {
        let Some(href) = attr_value(html, tag, "href").flatten() else {
            return;
        };
        let Some(LinkTarget {
            url,
            fragment,
            filename,
        }) = self.target(href.trim())
        else {
            return;
        };
        let uploaded = attr_value(html, tag, "data-upload-time").flatten();
        let requires = attr_value(html, tag, "data-requires-python").flatten();
        let yanked = attr_value(html, tag, "data-yanked").map(Option::unwrap_or_default);
        let core = attr_value(html, tag, "data-core-metadata")
            .or_else(|| attr_value(html, tag, "data-dist-info-metadata"));
        let core_metadata = match core {
            None => CoreMetadataRef::Absent,
            Some(None) => CoreMetadataRef::Available { sha256: None },
            Some(Some(v)) => html_core_metadata(&v),
        };
        let facts = FileFacts {
            sha256: fragment.as_deref().and_then(fragment_sha256_hex),
            size: None, // never on HTML pages
            upload_time: uploaded.as_deref(),
            requires_python: requires.as_deref(),
            yanked: yanked.as_deref(),
            core_metadata,
        };
        self.push(&filename, &url, facts);
    }

    /// The line of the file `filename` at `url` (absolute, as stored), when it is a file of
    /// the project; `facts` as the page wrote them.
    pub(super) fn push(&mut self, filename: &str, url: &str, facts: FileFacts<'_>) {
        let (names, project) = (&mut self.names, self.project);
        let mut is_project = |name: &str| match names.get(name) {
            Some(&same) => same,
            None => {
                let same = PackageName::from_str(name).is_ok_and(|n| &n == project);
                names.insert(name.to_string(), same);
                same
            }
        };
        let Some(version) = DistFilename::version_text(filename, project, &mut is_project) else {
            tracing::debug!(%filename, %project, "skipping a file");
            return;
        };
        let id = self.text_id(version);
        let start = self.lines.len();
        let lines = &mut self.lines;
        cache::field(lines, filename);
        lines.push('\t');
        cache::field(lines, url);
        // The sha256, lowercased as `normalize_sha256` does, without a string of its own.
        lines.push('\t');
        if let Some(hex) = facts.sha256.and_then(sha256_hex) {
            lines.push('+');
            lines.extend(hex.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        }
        lines.push('\t');
        if let Some(size) = facts.size {
            use std::fmt::Write as _;
            // Writing to a `String` cannot fail.
            let _ = write!(lines, "+{size}");
        }
        let uploaded = facts.upload_time.and_then(upload_time);
        cache::optional(lines, uploaded.as_deref());
        let spec = match facts.requires_python {
            None => None,
            Some(value) => match self.requires.get(value) {
                Some(spec) => spec.as_deref(),
                None => {
                    let spec = parse_requires_python(value, filename).map(|s| s.to_string());
                    self.requires
                        .entry(value.to_string())
                        .or_insert(spec)
                        .as_deref()
                }
            },
        };
        let lines = &mut self.lines;
        cache::optional(lines, spec);
        cache::optional(lines, facts.yanked);
        let core = match &facts.core_metadata {
            CoreMetadataRef::Absent => None,
            CoreMetadataRef::Available { sha256 } => Some(sha256.as_deref().unwrap_or("")),
        };
        cache::optional(lines, core);
        self.files.push((start, lines.len(), id));
    }

    /// What the link `href` points to; `None` when it is not a valid URL or names no file.
    fn target<'h>(&mut self, href: &'h str) -> Option<LinkTarget<'h>> {
        if let Some((url, fragment, last)) = self.origins.plain_link(href) {
            if last.is_empty() {
                return None;
            }
            return Some(LinkTarget {
                url: url.into(),
                fragment: fragment.map(Cow::from),
                filename: percent_decode_cow(last),
            });
        }
        let Ok(url) = self.base.join(href) else {
            tracing::debug!(page_url = %redacted(self.page_url), "skipping a link that is not a valid URL");
            return None;
        };
        let mut url = without_credentials(&url);
        let fragment = url.fragment().map(str::to_string);
        url.set_fragment(None);
        let filename = filename_of(&url)?;
        Some(LinkTarget {
            url: String::from(url).into(),
            fragment: fragment.map(Cow::from),
            filename: filename.into(),
        })
    }

    /// The position of the version text `version` in `texts`, added when new.
    fn text_id(&mut self, version: &str) -> usize {
        if let Some(&id) = self.text_ids.get(version) {
            return id;
        }
        self.texts.push(version.to_string());
        self.text_ids
            .insert(version.to_string(), self.texts.len() - 1);
        self.texts.len() - 1
    }

    /// The lines grouped by version as `group_versions` does: the first spelling of a
    /// version names its group, and files keep their page order within it.
    pub(super) fn grouped(self) -> (String, VersionRanges) {
        let (lines, files, project) = (self.lines, self.files, self.project);
        let mut groups: BTreeMap<Version, usize> = BTreeMap::new();
        let group_of: Vec<Option<usize>> = self
            .texts
            .iter()
            .map(|text| match Version::from_str(text) {
                Ok(version) => {
                    let next = groups.len();
                    Some(*groups.entry(version).or_insert(next))
                }
                Err(err) => {
                    tracing::debug!(version = text, %project, %err, "skipping files with an invalid version");
                    None
                }
            })
            .collect();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
        for (i, &(_, _, id)) in files.iter().enumerate() {
            if let Some(group) = group_of[id] {
                members[group].push(i);
            }
        }
        let mut out = String::with_capacity(lines.len() + files.len() + groups.len() * 16);
        let mut ranges = Vec::with_capacity(groups.len());
        for (version, group) in groups {
            out.push('=');
            out.push_str(&version.to_string());
            out.push('\n');
            let start = out.len();
            for &i in &members[group] {
                let (line_start, line_end, _) = files[i];
                out.push_str(&lines[line_start..line_end]);
                out.push('\n');
            }
            ranges.push((version, start..out.len()));
        }
        (out, ranges)
    }
}

/// Origins (`scheme://host/`) known to serialize as written, so that an absolute link to one
/// of them with a plain path is its own URL: joining it against the page would give the same
/// text. Anything else goes through the URL parser.
#[derive(Default)]
struct Origins {
    known: Vec<(String, bool)>,
}

impl Origins {
    /// `(url without fragment, fragment, last path segment)` of `href` when it is a plain
    /// absolute link; `None` when it must be joined by the URL parser.
    fn plain_link<'h>(&mut self, href: &'h str) -> Option<(&'h str, Option<&'h str>, &'h str)> {
        let after_scheme = href
            .strip_prefix("https://")
            .or_else(|| href.strip_prefix("http://"))?;
        let origin_len = href.len() - after_scheme.len() + after_scheme.find('/')? + 1;
        let (origin, rest) = href.split_at(origin_len);
        // User info is removed by the URL path.
        if origin.contains('@') {
            return None;
        }
        let (path, fragment) = match rest.split_once('#') {
            Some((path, fragment)) => (path, Some(fragment)),
            None => (rest, None),
        };
        if !plain_path(path) || !fragment.is_none_or(|f| f.bytes().all(|b| plain(b) || b == b'?')) {
            return None;
        }
        let known = match self.known.iter().find(|(o, _)| o == origin) {
            Some(&(_, known)) => known,
            None => {
                let known = Url::parse(origin).is_ok_and(|u| u.as_str() == origin);
                self.known.push((origin.to_string(), known));
                known
            }
        };
        if !known {
            return None;
        }
        let url = &href[..origin_len + path.len()];
        let last = path.rsplit('/').next().unwrap_or(path);
        Some((url, fragment, last))
    }
}

/// Whether the URL parser keeps `b` as it is in a path (and in a fragment): the unreserved
/// and sub-delimiter characters, `:`, `@`, `/` and `%`, but not `?` or `\\`.
fn plain(b: u8) -> bool {
    const PLAIN: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            table[b] = c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'-' | b'.'
                        | b'_'
                        | b'~'
                        | b'!'
                        | b'$'
                        | b'&'
                        | b'\''
                        | b'('
                        | b')'
                        | b'*'
                        | b'+'
                        | b','
                        | b';'
                        | b'='
                        | b':'
                        | b'@'
                        | b'/'
                        | b'%'
                );
            b += 1;
        }
        table
    };
    PLAIN[usize::from(b)]
}

/// Whether the URL parser leaves the path `path` as written: [`plain`] bytes only, and no
/// `.` or `..` segment (or encoded dot), which it would resolve. One pass: this runs for
/// every file of every page.
fn plain_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    let dots = |segment: &[u8]| segment == b"." || segment == b"..";
    let mut segment_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !plain(b) {
            return false;
        }
        match b {
            b'/' => {
                if dots(&bytes[segment_start..i]) {
                    return false;
                }
                segment_start = i + 1;
            }
            b'%' if bytes.get(i + 1) == Some(&b'2')
                && bytes.get(i + 2).is_some_and(|c| c | 0x20 == b'e') =>
            {
                return false;
            }
            _ => {}
        }
    }
    !dots(&bytes[segment_start..])
}

fn percent_decode_cow(s: &str) -> Cow<'_, str> {
    if s.contains('%') {
        Cow::Owned(percent_decode(s))
    } else {
        Cow::Borrowed(s)
    }
}

/// An upload time as the index wrote it, kept only when it is an RFC 3339 date-time with an
/// offset (it is written unquoted, as a TOML date-time, into lockfiles).
fn upload_time(value: &str) -> Option<String> {
    let value = value.trim();
    let parsed = value.parse::<toml::value::Datetime>().ok()?;
    (parsed.date.is_some() && parsed.time.is_some() && parsed.offset.is_some())
        .then(|| value.to_string())
}

/// `data-core-metadata` values: `true`, or `<hashname>=<hex>` (PEP 658 / 714).
fn html_core_metadata(value: &str) -> CoreMetadataRef {
    let value = value.trim();
    if value.eq_ignore_ascii_case("false") {
        return CoreMetadataRef::Absent;
    }
    let sha256 = value
        .split_once('=')
        .filter(|(algo, _)| algo.eq_ignore_ascii_case("sha256"))
        .and_then(|(_, hex)| normalize_sha256(hex));
    CoreMetadataRef::Available { sha256 }
}

/// `sha256=<hex>` from a URL fragment.
fn fragment_sha256(fragment: &str) -> Option<String> {
    fragment_sha256_hex(fragment).map(str::to_ascii_lowercase)
}

/// The hex digits of `sha256=<hex>` in a URL fragment, as written (trimmed), when they are a
/// sha256 ([`normalize_sha256`] without the lowercasing).
fn fragment_sha256_hex(fragment: &str) -> Option<&str> {
    // The usual fragment, `sha256=<64 hex digits>`, without splitting.
    if let Some(hex) = fragment.strip_prefix("sha256=").and_then(sha256_hex) {
        return Some(hex);
    }
    fragment
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(algo, _)| algo.eq_ignore_ascii_case("sha256"))
        .and_then(|(_, hex)| sha256_hex(hex))
}

/// `hex` trimmed, when it is 64 hex digits (any case): a sha256 as a page may write it.
fn sha256_hex(hex: &str) -> Option<&str> {
    let hex = hex.trim();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// Lowercase a 64-digit hex sha256; `None` when it is not one.
pub fn normalize_sha256(hex: &str) -> Option<String> {
    sha256_hex(hex).map(str::to_ascii_lowercase)
}

fn parse_requires_python(value: &str, filename: &str) -> Option<VersionSpecifiers> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    match VersionSpecifiers::from_str(value) {
        Ok(spec) => Some(spec),
        Err(err) => {
            tracing::debug!(filename, value, %err, "ignoring an invalid requires-python");
            None
        }
    }
}

/// The percent-decoded last path segment of `url` (PyTorch's index writes `+` as `%2B`).
pub fn filename_of(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.next_back()?;
    if segment.is_empty() {
        return None;
    }
    Some(percent_decode(segment))
}

/// A [`DistFile`] with only its name and URL known, or `None` (logged) when `filename` is not
/// a distribution of `project`.
pub fn make_file(filename: &str, url: Url, project: &PackageName) -> Option<DistFile> {
    match DistFilename::parse(filename, project) {
        Ok(parsed) => Some(DistFile {
            filename: filename.to_string(),
            parsed,
            url: without_credentials(&url),
            sha256: None,
            size: None,
            upload_time: None,
            requires_python: None,
            yanked: None,
            core_metadata: CoreMetadataRef::Absent,
        }),
        Err(err) => {
            tracing::debug!(filename, %project, %err, "skipping a file");
            None
        }
    }
}

/// Decode the HTML character references that appear in attribute values: `&amp; &lt; &gt;
/// &quot; &#39; &apos;`, decimal `&#NN;` and hex `&#xNN;`. Unknown ones are kept verbatim.
pub fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let decoded = rest.find(';').filter(|&end| end <= 12).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let num = entity.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse::<u32>().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Group files by version (ascending, so the newest is last).
pub fn group_files(name: PackageName, index: Arc<IndexUrl>, files: Vec<DistFile>) -> PackageFiles {
    PackageFiles {
        name,
        index,
        versions: group_versions(files),
    }
}

/// `files` by version, in page order within a version.
pub fn group_versions(files: Vec<DistFile>) -> Versions {
    let mut versions: BTreeMap<_, Vec<DistFile>> = BTreeMap::new();
    for file in files {
        versions
            .entry(file.parsed.version().clone())
            .or_default()
            .push(file);
    }
    versions
        .into_iter()
        .map(|(v, files)| (v, VersionFiles::new(files)))
        .collect()
}

#[path = "simple_json.rs"]
mod json;
pub use json::encode_json_groups;
#[cfg(test)]
pub use json::parse_json;

#[cfg(test)]
#[path = "simple_tests.rs"]
mod tests;
