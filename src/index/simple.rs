//! Simple-page parsing: PEP 503 HTML (with PEP 592 yanks, PEP 658/714 core-metadata
//! attributes and `#sha256=` fragments), PEP 691 JSON, and flat `--find-links` listings.
//!
//! Pure: no I/O. Turns a page body into [`DistFile`]s and groups them into [`PackageFiles`].
//! Files whose names do not parse, or that belong to another project (flat listings mix
//! projects), are skipped with a `debug` log; a malformed `requires-python` drops only that
//! attribute.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::VersionSpecifiers;
use pep508_rs::PackageName;
use serde::Deserialize;
use url::Url;

use super::{
    CoreMetadataRef, DistFile, IndexError, IndexUrl, PackageFiles, VersionFiles, Versions,
};
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
            tracing::debug!(%page_url, href, "skipping a link that is not a valid URL");
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
    fragment
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(algo, _)| algo.eq_ignore_ascii_case("sha256"))
        .and_then(|(_, hex)| normalize_sha256(hex))
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

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A [`DistFile`] with only its name and URL known, or `None` (logged) when `filename` is not
/// a distribution of `project`.
pub fn make_file(filename: &str, url: Url, project: &PackageName) -> Option<DistFile> {
    match DistFilename::parse(filename, project) {
        Ok(parsed) => Some(DistFile {
            filename: filename.to_string(),
            parsed,
            url,
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
        reason: e.to_string(),
    })?;
    let mut files = Vec::with_capacity(page.files.len());
    for value in page.files {
        let entry: JsonFile = match serde_json::from_value(value) {
            Ok(entry) => entry,
            Err(err) => {
                tracing::debug!(%page_url, %err, "skipping a malformed file entry");
                continue;
            }
        };
        let Ok(url) = page_url.join(&entry.url) else {
            tracing::debug!(%page_url, url = entry.url, "skipping a file with an invalid URL");
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

    proptest! {
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
