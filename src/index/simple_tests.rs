//! Tests of the simple-page parsers: HTML and JSON pages, their cache encoding written
//! straight from the page, links, hashes, yanks, core-metadata attributes and upload times.

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
    // And so it does where fetches read it.
    let (text, groups) = encode_page(html, PageFormat::Json, &page(), &name("foo")).unwrap();
    let versions = cache::lazy_groups(&Arc::new(text), groups, &name("foo"));
    assert_eq!(versions.values().map(|f| f.len()).sum::<usize>(), 1);
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
        PageFormat::from_content_type(Some("application/vnd.pypi.simple.v1+json; charset=utf-8")),
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
    let slow =
        parse_html(html, page, project).map(|files| cache::encode_versions(&group_versions(files)));
    let fast = encode_html(html, page, project);
    match (slow, fast) {
        (Ok(slow), Ok(fast)) => assert_eq!(fast, slow, "{html}"),
        (slow, fast) => assert_eq!(slow.is_ok(), fast.is_ok(), "{html}"),
    }
    if let Ok((text, groups)) = encode_html_groups(html, page, project) {
        assert_ranges_decode_like_text(text, groups, project, html);
    }
}

/// The version ranges of an encoding decode to what the whole text decodes to.
fn assert_ranges_decode_like_text(
    text: String,
    groups: VersionRanges,
    project: &PackageName,
    page: &str,
) {
    let text = Arc::new(text);
    let by_range = cache::lazy_groups(&text, groups, project);
    let by_text = cache::lazy_versions(&(text.clone() as cache::PageText), project).unwrap();
    assert_eq!(
        by_range.keys().collect::<Vec<_>>(),
        by_text.keys().collect::<Vec<_>>()
    );
    for (version, files) in &by_text {
        assert_eq!(by_range[version].as_slice(), files.as_slice(), "{page}");
    }
}

/// What [`encode_json_groups`] writes is what parsing, grouping and encoding would write.
fn assert_json_encodes_like_parse(body: &str, page: &Url, project: &PackageName) {
    let slow = parse_json(body.as_bytes(), page, project)
        .map(|files| cache::encode_versions(&group_versions(files)));
    match (slow, encode_json_groups(body.as_bytes(), page, project)) {
        (Ok(slow), Ok((fast, groups))) => {
            assert_eq!(fast, slow, "{body}");
            assert_ranges_decode_like_text(fast, groups, project, body);
        }
        (slow, fast) => assert_eq!(slow.is_ok(), fast.is_ok(), "{body}"),
    }
}

/// Regression: JSON pages were parsed into files whole, every URL through the URL parser, on
/// each cold lock; they are now written straight into the cache encoding like HTML pages.
#[test]
fn encode_json_matches_parse_then_encode() {
    let body = format!(
        r#"{{"meta": {{"api-version": "1.1"}}, "name": "foo", "files": [
            {{"filename": "foo-1.0-py3-none-any.whl", "url": "/files/foo-1.0-py3-none-any.whl",
              "hashes": {{"sha256": "{HASH}"}}, "requires-python": ">=3.8", "yanked": false,
              "size": 1234, "upload-time": "2024-01-02T03:04:05.000000Z",
              "core-metadata": {{"sha256": "{HASH}"}}}},
            {{"filename": "foo-1.1-py3-none-any.whl", "url": "foo-1.1-py3-none-any.whl",
              "hashes": {{}}, "yanked": "oops\tand\\ \"quoted\"", "dist-info-metadata": true}},
            {{"filename": "foo-1.2.tar.gz", "url": "https://files.example/p/foo-1.2.tar.gz#sha256=00",
              "hashes": {{}}, "yanked": true, "requires-python": "garbage", "core-metadata": false}},
            {{"filename": "foo-1.0.0.tar.gz", "url": "https://u:p@files.example/p/foo-1.0.0.tar.gz",
              "hashes": {{"md5": "x", "sha256": " {HASH} "}}, "requires-python": "&gt;=3"}},
            {{"filename": "foo-1.3%2Bcu1.tar.gz", "url": "https://files.example/p/foo-1.3%2Bcu1.tar.gz"}},
            {{"filename": "foo-1.3+cu1-py3-none-any.whl", "url": "https://files.example/./p/foo-1.3%2Bcu1-py3-none-any.whl",
              "upload-time": "yesterday", "size": 7}},
            {{"filename": "foo-1.4.tar.gz", "url": "https://[bad/foo-1.4.tar.gz"}},
            {{"filename": "foo-1.5.tar.gz", "url": 5}},
            {{"filename": 12}},
            {{"filename": "other-1.0.tar.gz", "url": "other-1.0.tar.gz", "hashes": {{}}}},
            {{"filename": "F\u006fo-1.0-py2-none-any.whl", "url": "https://files.example/p/Foo-1.0-py2-none-any.whl"}}
            ]}}"#
    );
    assert_json_encodes_like_parse(&body, &page(), &name("foo"));
    assert_json_encodes_like_parse("not json", &page(), &name("foo"));
    assert_json_encodes_like_parse(r#"{"files": 3}"#, &page(), &name("foo"));
    assert_json_encodes_like_parse(r#"{"files": []}"#, &page(), &name("foo"));
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
    fn encode_json_matches_parse_then_encode_on_any_entries(
        entries in proptest::collection::vec(
            (
                "(https://files\\.example/p/|https://FILES\\.example/p/|/p/|\\.\\./|https://a@b/|x y/|)",
                "(foo|Foo|fo_o|bar)-(1\\.0|1\\.0\\.0|2\\.0rc1|1\\.0%2Bcu1|1\\.0\\+cu1|x)(-py3-none-any\\.whl|\\.tar\\.gz|\\.txt)",
                "(#sha256=0|#x|)",
                "(\"hashes\": \\{\"sha256\": \"[0-9a-fA-F]{64}\"\\}, |\"hashes\": \\{\"sha256\": \"[0-9a-f]{3}\"\\}, |\"hashes\": 1, |)",
                "(\"requires-python\": (\">=3\\.8\"|\">=3\\.9, <4\"|\"bad\"|\"\"|null), |)(\"yanked\": (true|false|\"r\"|\"a\\\\tb\"|3), |)",
                "(\"size\": (0|12|-1|\"7\"), |)(\"upload-time\": (\"2024-01-02T03:04:05Z\"|\"2024-01-02\"), |)(\"core-metadata\": (true|false|\\{\\}|\\{\"sha256\": \"[0-9a-f]{64}\"\\}), |)",
            ),
            0..10,
        ),
    ) {
        let files: Vec<String> = entries
            .iter()
            .map(|(base, file, fragment, hashes, meta, more)| {
                let plain = file.replace("%2B", "+");
                format!(r#"{{{hashes}{meta}{more}"filename": "{plain}", "url": "{base}{file}{fragment}"}}"#)
            })
            .collect();
        let body = format!(r#"{{"files": [{}]}}"#, files.join(", "));
        assert_json_encodes_like_parse(&body, &page(), &name("foo"));
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
