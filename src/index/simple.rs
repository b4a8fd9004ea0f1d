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
use serde::Deserialize;
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

/// Parse a page of either format into the files of `project`.
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

/// A page of either format in its cache encoding ([`super::cache::encode_versions`]), with its
/// files already grouped when parsing built them anyway (JSON pages); HTML pages go through
/// [`encode_html`] and are decoded per version on first use.
pub fn encode_page(
    body: &[u8],
    format: PageFormat,
    page_url: &Url,
    project: &PackageName,
) -> Result<(Encoded, String), IndexError> {
    match format {
        PageFormat::Json if !body.trim_ascii_start().starts_with(b"<") => {
            let versions = group_versions(parse_json(body, page_url, project)?);
            let encoded = cache::encode_versions(&versions);
            Ok((Encoded::Files(versions), encoded))
        }
        PageFormat::Json | PageFormat::Html => {
            let (text, groups) = encode_html_groups(&utf8(body), page_url, project)?;
            Ok((Encoded::Groups(groups), text))
        }
    }
}

/// Each version of an encoded page with where its file lines are in the text.
pub type VersionRanges = Vec<(Version, std::ops::Range<usize>)>;

/// What [`encode_page`] knows of a page besides its encoding.
pub enum Encoded {
    /// The files, parsed already.
    Files(Versions),
    /// Where the file lines of each version are in the encoding, to decode on first use.
    Groups(VersionRanges),
}

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

    // Every file line, in page order, with the position of its version text in `texts`.
    let mut lines = String::with_capacity(html.len() / 2);
    let mut files: Vec<(usize, usize, usize)> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut text_ids: HashMap<String, usize> = HashMap::new();
    let mut names: HashMap<String, bool> = HashMap::new();
    let mut is_project = |name: &str| match names.get(name) {
        Some(&same) => same,
        None => {
            let same = PackageName::from_str(name).is_ok_and(|n| &n == project);
            names.insert(name.to_string(), same);
            same
        }
    };
    let mut requires: HashMap<String, Option<String>> = HashMap::new();
    let mut origins = Origins::default();

    for tag in tags().filter(|t| t.name().as_utf8_str().eq_ignore_ascii_case("a")) {
        let Some(href) = attr_value(html, tag, "href").flatten() else {
            continue;
        };
        let href = href.trim();
        let (url, fragment, filename): (Cow<'_, str>, Option<Cow<'_, str>>, Cow<'_, str>) =
            match origins.plain_link(href) {
                Some((url, fragment, last)) => {
                    if last.is_empty() {
                        continue;
                    }
                    (
                        url.into(),
                        fragment.map(Cow::from),
                        percent_decode_cow(last),
                    )
                }
                None => {
                    let Ok(url) = base.join(href) else {
                        tracing::debug!(page_url = %redacted(page_url), "skipping a link that is not a valid URL");
                        continue;
                    };
                    let mut url = without_credentials(&url);
                    let fragment = url.fragment().map(str::to_string);
                    url.set_fragment(None);
                    let Some(filename) = filename_of(&url) else {
                        continue;
                    };
                    (
                        String::from(url).into(),
                        fragment.map(Cow::from),
                        filename.into(),
                    )
                }
            };
        let Some(version) = DistFilename::version_text(&filename, project, &mut is_project) else {
            tracing::debug!(%filename, %project, "skipping a file");
            continue;
        };
        let id = match text_ids.get(version) {
            Some(&id) => id,
            None => {
                texts.push(version.to_string());
                text_ids.insert(version.to_string(), texts.len() - 1);
                texts.len() - 1
            }
        };
        let start = lines.len();
        cache::field(&mut lines, &filename);
        lines.push('\t');
        cache::field(&mut lines, &url);
        // The sha256, lowercased as `normalize_sha256` does, without a string of its own.
        lines.push('\t');
        if let Some(hex) = fragment.as_deref().and_then(fragment_sha256_hex) {
            lines.push('+');
            lines.extend(hex.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        }
        cache::optional(&mut lines, None); // size: never on HTML pages
        let uploaded = attr_value(html, tag, "data-upload-time")
            .flatten()
            .and_then(|t| upload_time(&t));
        cache::optional(&mut lines, uploaded.as_deref());
        let spec = match attr_value(html, tag, "data-requires-python").flatten() {
            None => None,
            Some(value) => match requires.get(&*value) {
                Some(spec) => spec.as_deref(),
                None => {
                    let spec = parse_requires_python(&value, &filename).map(|s| s.to_string());
                    requires
                        .entry(value.into_owned())
                        .or_insert(spec)
                        .as_deref()
                }
            },
        };
        cache::optional(&mut lines, spec);
        let yanked = attr_value(html, tag, "data-yanked").map(Option::unwrap_or_default);
        cache::optional(&mut lines, yanked.as_deref());
        let core = attr_value(html, tag, "data-core-metadata")
            .or_else(|| attr_value(html, tag, "data-dist-info-metadata"));
        let core = match core {
            None => CoreMetadataRef::Absent,
            Some(None) => CoreMetadataRef::Available { sha256: None },
            Some(Some(v)) => html_core_metadata(&v),
        };
        let core = match &core {
            CoreMetadataRef::Absent => None,
            CoreMetadataRef::Available { sha256 } => Some(sha256.as_deref().unwrap_or("")),
        };
        cache::optional(&mut lines, core);
        files.push((start, lines.len(), id));
    }
    drop(dom);

    // Group by version as `group_versions` does: the first spelling of a version names its
    // group, and files keep their page order within it.
    let mut groups: BTreeMap<Version, usize> = BTreeMap::new();
    let group_of: Vec<Option<usize>> = texts
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
    Ok((out, ranges))
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
        // Characters the URL parser keeps as they are in a path (and in a fragment), minus
        // `?` and `\`; no `.` or `..` segments (or encoded dots), which it would resolve.
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b);
        if !path.bytes().all(plain)
            || path.split('/').any(|seg| {
                seg == "."
                    || seg == ".."
                    || seg
                        .as_bytes()
                        .windows(3)
                        .any(|w| w[0] == b'%' && w[1] == b'2' && (w[2] | 0x20) == b'e')
            })
            || !fragment.is_none_or(|f| f.bytes().all(|b| plain(b) || b == b'?'))
        {
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
    if let Some(hex) = fragment.strip_prefix("sha256=")
        && hex.len() == 64
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Some(hex);
    }
    fragment
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(algo, _)| algo.eq_ignore_ascii_case("sha256"))
        .map(|(_, hex)| hex.trim())
        .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Lowercase a 64-digit hex sha256; `None` when it is not one.
pub fn normalize_sha256(hex: &str) -> Option<String> {
    let hex = hex.trim();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
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

/// Parse a PEP 691 JSON page into the files of `project`. A file entry of the wrong shape is
/// skipped (logged), not fatal; a body that is not a JSON object with `files` is.
pub fn parse_json(
    body: &[u8],
    page_url: &Url,
    project: &PackageName,
) -> Result<Vec<DistFile>, IndexError> {
    #[derive(Deserialize)]
    struct Page {
        files: Vec<serde_json::Value>,
    }
    let page: Page = serde_json::from_slice(body).map_err(|e| IndexError::BadPage {
        url: page_url.clone(),
        reason: format!("invalid JSON: {e}"),
    })?;
    let mut files = Vec::with_capacity(page.files.len());
    for value in page.files {
        let entry: JsonFile = match serde_json::from_value(value) {
            Ok(entry) => entry,
            Err(err) => {
                tracing::debug!(page_url = %redacted(page_url), %err, "skipping a malformed file entry");
                continue;
            }
        };
        let Ok(url) = page_url.join(&entry.url) else {
            tracing::debug!(page_url = %redacted(page_url), url = %redact_text(&entry.url), "skipping a file with an invalid URL");
            continue;
        };
        let Some(mut file) = make_file(&entry.filename, url, project) else {
            continue;
        };
        file.sha256 = entry.hashes.get("sha256").and_then(|h| normalize_sha256(h));
        file.requires_python = entry
            .requires_python
            .as_deref()
            .and_then(|v| parse_requires_python(v, &entry.filename));
        file.yanked = match entry.yanked {
            None | Some(JsonYanked::Bool(false)) => None,
            Some(JsonYanked::Bool(true)) => Some(String::new()),
            Some(JsonYanked::Reason(reason)) => Some(reason),
        };
        file.size = entry.size;
        file.upload_time = entry.upload_time.as_deref().and_then(upload_time);
        file.core_metadata = match entry.core_metadata.or(entry.dist_info_metadata) {
            None | Some(JsonMeta::Bool(false)) => CoreMetadataRef::Absent,
            Some(JsonMeta::Bool(true)) => CoreMetadataRef::Available { sha256: None },
            Some(JsonMeta::Hashes(h)) => CoreMetadataRef::Available {
                sha256: h.get("sha256").and_then(|h| normalize_sha256(h)),
            },
        };
        files.push(file);
    }
    Ok(files)
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: HashMap<String, String>,
    #[serde(rename = "requires-python", default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<JsonYanked>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(rename = "upload-time", default)]
    upload_time: Option<String>,
    #[serde(rename = "core-metadata", default)]
    core_metadata: Option<JsonMeta>,
    #[serde(rename = "dist-info-metadata", default)]
    dist_info_metadata: Option<JsonMeta>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonYanked {
    Bool(bool),
    Reason(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JsonMeta {
    Bool(bool),
    Hashes(HashMap<String, String>),
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(s: &str) -> PackageName {
        PackageName::from_str(s).unwrap()
    }

    fn page() -> Url {
        Url::parse("https://pypi.example/simple/foo/").unwrap()
    }

    const HASH: &str = "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789";

    #[test]
    fn html_upload_time_is_kept_only_when_valid() {
        let html = r#"<a href="foo-1.0-py3-none-any.whl" data-upload-time="2010-06-29T19:56:36.719942Z">x</a>
<a href="foo-1.1-py3-none-any.whl" data-upload-time="yesterday">x</a>
<a href="foo-1.2-py3-none-any.whl" data-upload-time="2010-06-29">x</a>"#;
        let files = parse_html(html, &page(), &name("foo")).unwrap();
        let times: Vec<_> = files.iter().map(|f| f.upload_time.as_deref()).collect();
        assert_eq!(times, [Some("2010-06-29T19:56:36.719942Z"), None, None]);
    }

    /// Regression: a proxy here answers JSON-only `Accept` headers with an HTML body labelled
    /// `application/vnd.pypi.simple.v1+json`; the page must still parse.
    #[test]
    fn html_body_labelled_as_json_still_parses() {
        let html = b"<!DOCTYPE html>\n<a href=\"foo-1.0-py3-none-any.whl\">x</a>";
        let files = parse_page(html, PageFormat::Json, &page(), &name("foo")).unwrap();
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn html_attributes_are_decoded() {
        let html = format!(
            r#"<!DOCTYPE html><html><body>
            <a href="../../files/foo-1.0-py3-none-any.whl#sha256={HASH}" data-requires-python="&gt;=3.8,&lt;4">foo-1.0-py3-none-any.whl</a>
            <a href="https://cdn.example/foo-1.0.tar.gz" data-yanked="">foo-1.0.tar.gz</a>
            <a href="foo-2.0-py3-none-any.whl" data-yanked="broken &amp; bad" data-core-metadata="sha256={HASH}" data-requires-python="&#62;=3.9">x</a>
            <a href="foo-2.1-py3-none-any.whl" data-dist-info-metadata="true" data-requires-python="not a spec">x</a>
            <a href="bar-1.0-py3-none-any.whl">bar</a>
            <a href="foo-notes.txt">notes</a>
            </body></html>"#
        );
        let files = parse_html(&html, &page(), &name("foo")).unwrap();
        assert_eq!(files.len(), 4);
        let f = &files[0];
        assert_eq!(
            f.url.as_str(),
            "https://pypi.example/files/foo-1.0-py3-none-any.whl"
        );
        assert_eq!(
            f.sha256.as_deref(),
            Some(HASH.to_ascii_lowercase().as_str())
        );
        assert_eq!(f.requires_python.as_ref().unwrap().to_string(), ">=3.8, <4");
        assert_eq!(f.yanked, None);
        assert_eq!(f.core_metadata, CoreMetadataRef::Absent);
        assert_eq!(files[1].yanked.as_deref(), Some(""));
        assert!(files[1].parsed.as_wheel().is_none());
        assert_eq!(files[2].yanked.as_deref(), Some("broken & bad"));
        assert_eq!(
            files[2].url.as_str(),
            "https://pypi.example/simple/foo/foo-2.0-py3-none-any.whl"
        );
        assert_eq!(
            files[2].core_metadata,
            CoreMetadataRef::Available {
                sha256: Some(HASH.to_ascii_lowercase())
            }
        );
        assert_eq!(
            files[2].requires_python.as_ref().unwrap().to_string(),
            ">=3.9"
        );
        assert_eq!(
            files[3].core_metadata,
            CoreMetadataRef::Available { sha256: None }
        );
        assert_eq!(
            files[3].requires_python, None,
            "invalid value dropped, file kept"
        );
    }

    #[test]
    fn html_base_href_and_percent_encoding() {
        let html = r#"<html><head><base href="https://dl.example/whl/"></head><body>
            <a href="torch-2.9.0%2Bcu130-cp312-cp312-manylinux_2_28_x86_64.whl">t</a>
            </body></html>"#;
        let files = parse_html(html, &page(), &name("torch")).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            files[0].filename,
            "torch-2.9.0+cu130-cp312-cp312-manylinux_2_28_x86_64.whl"
        );
        assert!(
            files[0]
                .url
                .as_str()
                .starts_with("https://dl.example/whl/torch-2.9.0")
        );
        assert_eq!(files[0].parsed.version().to_string(), "2.9.0+cu130");
    }

    #[test]
    fn flat_listing_is_filtered_to_the_project() {
        let html = r#"<a href="foo-1.0-py3-none-any.whl">a</a><a href="foobar-1.0-py3-none-any.whl">b</a>
            <a href="foo_bar-2.0.tar.gz">c</a><a href="Foo-1.1.zip">d</a>"#;
        let files = parse_html(html, &page(), &name("foo")).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(names, ["foo-1.0-py3-none-any.whl", "Foo-1.1.zip"]);
        let grouped = group_files(
            name("foo"),
            Arc::new(IndexUrl {
                name: "x".into(),
                url: page(),
                explicit: false,
                kind: crate::index::IndexKind::Flat,
                credentials: None,
            }),
            files,
        );
        let versions: Vec<_> = grouped.versions.keys().map(|v| v.to_string()).collect();
        assert_eq!(versions, ["1.0", "1.1"]);
    }

    #[test]
    fn json_page() {
        let body = format!(
            r#"{{"meta": {{"api-version": "1.1"}}, "name": "foo", "files": [
            {{"filename": "foo-1.0-py3-none-any.whl", "url": "/files/foo-1.0-py3-none-any.whl",
              "hashes": {{"sha256": "{HASH}"}}, "requires-python": ">=3.8", "yanked": false,
              "size": 1234, "upload-time": "2024-01-02T03:04:05.000000Z",
              "core-metadata": {{"sha256": "{HASH}"}}}},
            {{"filename": "foo-1.1-py3-none-any.whl", "url": "foo-1.1-py3-none-any.whl",
              "hashes": {{}}, "yanked": "oops", "dist-info-metadata": true}},
            {{"filename": "foo-1.2.tar.gz", "url": "foo-1.2.tar.gz", "hashes": {{}}, "yanked": true,
              "requires-python": "garbage", "core-metadata": false}},
            {{"filename": 12}},
            {{"filename": "other-1.0.tar.gz", "url": "other-1.0.tar.gz", "hashes": {{}}}}
            ]}}"#
        );
        let files = parse_json(body.as_bytes(), &page(), &name("foo")).unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(
            files[0].url.as_str(),
            "https://pypi.example/files/foo-1.0-py3-none-any.whl"
        );
        assert_eq!(files[0].size, Some(1234));
        assert_eq!(
            files[0].upload_time.as_deref(),
            Some("2024-01-02T03:04:05.000000Z")
        );
        assert_eq!(files[0].yanked, None);
        assert!(matches!(
            files[0].core_metadata,
            CoreMetadataRef::Available { sha256: Some(_) }
        ));
        assert_eq!(files[1].yanked.as_deref(), Some("oops"));
        assert_eq!(
            files[1].core_metadata,
            CoreMetadataRef::Available { sha256: None }
        );
        assert_eq!(files[2].yanked.as_deref(), Some(""));
        assert_eq!(files[2].requires_python, None);
        assert_eq!(files[2].core_metadata, CoreMetadataRef::Absent);
        assert!(parse_json(b"not json", &page(), &name("foo")).is_err());
    }

    #[test]
    fn content_type_dispatch() {
        assert_eq!(
            PageFormat::from_content_type(Some(
                "application/vnd.pypi.simple.v1+json; charset=utf-8"
            )),
            PageFormat::Json
        );
        assert_eq!(
            PageFormat::from_content_type(Some("text/html")),
            PageFormat::Html
        );
        assert_eq!(PageFormat::from_content_type(None), PageFormat::Html);
    }

    #[test]
    fn entities() {
        assert_eq!(
            decode_entities("&gt;=3.8,&lt;4&#33;&#x41;&amp;&quot;&#39;"),
            ">=3.8,<4!A&\"'"
        );
        assert_eq!(
            decode_entities("a & b &bogus; &#xZZ;"),
            "a & b &bogus; &#xZZ;"
        );
    }

    /// What [`encode_html`] writes is what parsing, grouping and encoding would write.
    fn assert_encodes_like_parse(html: &str, page: &Url, project: &PackageName) {
        let slow = parse_html(html, page, project)
            .map(|files| cache::encode_versions(&group_versions(files)));
        let fast = encode_html(html, page, project);
        match (slow, fast) {
            (Ok(slow), Ok(fast)) => assert_eq!(fast, slow, "{html}"),
            (slow, fast) => assert_eq!(slow.is_ok(), fast.is_ok(), "{html}"),
        }
        // The version ranges decode to what the whole text decodes to.
        if let Ok((text, groups)) = encode_html_groups(html, page, project) {
            let text = Arc::new(text);
            let by_range = cache::lazy_groups(&text, groups, project);
            let by_text = cache::lazy_versions(&text, project).unwrap();
            assert_eq!(
                by_range.keys().collect::<Vec<_>>(),
                by_text.keys().collect::<Vec<_>>()
            );
            for (version, files) in &by_text {
                assert_eq!(by_range[version].as_slice(), files.as_slice(), "{html}");
            }
        }
    }

    #[test]
    fn encode_html_matches_parse_then_encode() {
        let hash = HASH;
        let pages = [
            format!(
                r#"<!DOCTYPE html><html><body>
            <a href="https://files.example/packages/ab/foo-1.0-py3-none-any.whl#sha256={hash}" data-requires-python="&gt;=3.8,&lt;4">foo-1.0-py3-none-any.whl</a>
            <a href="https://files.example/packages/ab/foo-1.0.tar.gz#sha256={hash}" data-requires-python="&gt;=3.8,&lt;4" data-yanked="">x</a>
            <a href="https://files.example/packages/ab/foo-1.0.0-py2-none-any.whl#sha256={hash}" data-requires-python="&gt;=3.8,&lt;4" data-yanked="">x</a>
            <a href="https://files.example/p/foo-2.0-py3-none-any.whl" data-yanked="broken &amp; bad	tab" data-core-metadata="sha256={hash}" data-requires-python="&#62;=3.9">x</a>
            <a href="https://FILES.example/p/foo-2.1-py3-none-any.whl" data-dist-info-metadata="true" data-requires-python="not a spec">x</a>
            <a href="https://files.example:443/p/foo-2.1.tar.gz">x</a>
            <a href="https://files.example/p/./foo-2.2.tar.gz">x</a>
            <a href="https://files.example/p/%2E%2E/foo-2.3.tar.gz">x</a>
            <a href="https://files.example/p/foo-2.4.tar.gz?x=1#sha256={hash}">x</a>
            <a href="https://files.example/p/foo-2.5%2Bcu1.tar.gz#sha256={hash} ">x</a>
            <a href="https://files.example/p/foo-2.6.tar.gz#md5=00&amp;sha256={hash}" data-upload-time="2024-01-02T03:04:05Z">x</a>
            <a href="https://files.example/p/foo-1.0.zip#sha256={hash}%20">x</a>
            <a href="https://files.example/p/" >x</a>
            <a href="https://files.example">x</a>
            <a href="https://[bad/foo-3.0.tar.gz">x</a>
            <a href="http://files.example/foo bar-3.0.tar.gz">x</a>
            <a href="http://files.example/foo-3.1.tar.gz">x</a>
            <a href="  https://files.example/p/foo-3.2.tar.gz  ">x</a>
            <a href="mailto:foo-3.3.tar.gz">x</a>
            <a href="../../files/foo-3.4-py3-none-any.whl">x</a>
            <a href="bar-1.0-py3-none-any.whl">bar</a>
            <a href="foo-notes.txt">notes</a>
            <a href="https://files.example/p/foo-1.0-1-py3-none-any.whl">build</a>
            <a href="https://files.example/p/foo-x-py3-none-any.whl">bad version</a>
            <a>no href</a>
            </body></html>"#
            ),
            r#"<html><head><base href="https://dl.example/whl/"></head><body>
            <a href="torch-2.9.0%2Bcu130-cp312-cp312-manylinux_2_28_x86_64.whl">t</a>
            <a href="https://dl.example/whl/torch-2.9.0%2Bcu130-cp311-cp311-manylinux_2_28_x86_64.whl">t</a>
            </body></html>"#
                .to_string(),
        ];
        for html in &pages {
            assert_encodes_like_parse(html, &page(), &name("foo"));
            assert_encodes_like_parse(html, &page(), &name("torch"));
        }
    }

    proptest! {
        #[test]
        fn encode_html_matches_parse_then_encode_on_any_links(
            links in proptest::collection::vec(
                (
                    "(https://|http://|HTTPS://|//|/|\\.\\./|)",
                    "(files\\.example/|files\\.example:443/|Files\\.example/|a@b/|h\\?q/|)",
                    "(p/|\\./|\\.\\./|%2e/|x y/|q\\?|)",
                    "(foo|Foo|fo_o|bar)-(1\\.0|1\\.0\\.0|2\\.0rc1|1\\.0%2Bcu1|x)(-py3-none-any\\.whl|-1-py3-none-any\\.whl|\\.tar\\.gz|\\.zip|\\.txt)",
                    "(#sha256=[0-9a-fA-F]{64}|#sha256=[0-9a-f]{3}|#|#md5=1&sha256=[0-9a-f]{64}| #x| |)",
                    "( data-requires-python=\"(&gt;=3\\.8|>=3\\.9, <4|bad|)\"|)( data-yanked(=\"(r|&amp;)\")?|)( data-core-metadata(=\"(true|false|sha256=[0-9a-f]{64})\")?|)",
                ),
                0..12,
            ),
        ) {
            let html: String = links
                .iter()
                .map(|(a, b, c, d, e, attrs)| format!("<a href=\"{a}{b}{c}{d}{e}\"{attrs}>x</a>\n"))
                .collect();
            assert_encodes_like_parse(&html, &page(), &name("foo"));
        }

        #[test]
        fn html_never_panics(s in ".{0,400}") {
            let _ = parse_html(&s, &page(), &name("foo"));
        }

        #[test]
        fn json_never_panics(s in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_json(&s, &page(), &name("foo"));
        }

        #[test]
        fn entity_free_text_is_unchanged(s in "[^&]{0,100}") {
            prop_assert_eq!(decode_entities(&s), s.clone());
        }

        #[test]
        fn escaped_text_round_trips(s in ".{0,100}") {
            let escaped = s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
                .replace('"', "&quot;").replace('\'', "&#39;");
            prop_assert_eq!(decode_entities(&escaped), s.clone());
        }

        #[test]
        fn requires_python_round_trips_through_html(
            op in prop::sample::select(vec![">=", "<", "==", "!=", "~=", "<="]),
            major in 2u32..4, minor in 0u32..20,
        ) {
            let spec = format!("{op}{major}.{minor}");
            let escaped = spec.replace('<', "&lt;").replace('>', "&gt;");
            let html = format!(r#"<a href="foo-1.0.tar.gz" data-requires-python="{escaped}">x</a>"#);
            let files = parse_html(&html, &page(), &name("foo")).unwrap();
            prop_assert_eq!(files.len(), 1);
            prop_assert_eq!(
                files[0].requires_python.clone(),
                Some(VersionSpecifiers::from_str(&spec).unwrap())
            );
        }
    }
}
