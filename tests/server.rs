//! Tests of the local package index server in `tests/support/` (routes, page formats,
//! range requests, PEP 658, faults, caching headers, the request log, determinism) and that
//! every packse scenario parses and can be served; the generated wheels and plain sdists
//! (`server/generated.rs`); the buildable sdists, their in-tree backend and local projects
//! (`server/builds.rs`); the hostile sdist builders (`server/hostile.rs`).

mod support;

#[path = "server/builds.rs"]
mod builds;
#[path = "server/generated.rs"]
mod generated;
#[path = "server/hostile.rs"]
mod hostile;

use std::io::{Cursor, Read};
use std::time::{Duration, Instant};

use reqwest::header;
use support::scenario::{own_scenarios_dir, packse_dir, scenario_files};
use support::wheelgen::sha256_hex;
use support::*;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A small index: `web` with extras, markers, requires-python, a yank, entry points.
fn web() -> Scenario {
    Scenario::new("web")
        .root(["Web_App[async]>=1"])
        .version(
            "Web_App",
            "1.0.0",
            VersionSpec::new()
                .requires(["dep>=1", "winonly ; sys_platform == 'win32'"])
                .extra("async", ["aio<2", "uvloop ; sys_platform != 'win32'"])
                .requires_python(">=3.8,<4")
                .entry_point("console_scripts", "web", "web_app.cli:main")
                .file("web_app/data.txt", "hello"),
        )
        .version(
            "Web_App",
            "0.9.0",
            VersionSpec::new().yanked("broken <build>"),
        )
        .versions("dep", &["1.0.0", "2.0.0"])
        .versions("aio", &["1.5.0"])
        .versions("uvloop", &["0.19.0"])
        .versions("winonly", &["1.0"])
}

async fn get(url: &str) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

async fn get_with(url: &str, name: header::HeaderName, value: &str) -> reqwest::Response {
    client().get(url).header(name, value).send().await.unwrap()
}

fn wheel_name(index: &TestIndex, project: &str) -> String {
    index
        .files()
        .iter()
        .find(|f| f.project == project && f.dist.is_wheel())
        .unwrap()
        .dist
        .filename
        .clone()
}

#[tokio::test]
async fn root_listing_html_and_json() {
    let index = TestIndex::start(web());
    let r = get(&format!("{}/", index.index_url())).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = r.text().await.unwrap();
    for name in ["web-app", "dep", "aio", "uvloop", "winonly"] {
        assert!(
            body.contains(&format!("<a href=\"{name}/\">{name}</a>")),
            "{body}"
        );
    }
    let r = get_with(
        &format!("{}/", index.index_url()),
        header::ACCEPT,
        "application/vnd.pypi.simple.v1+json",
    )
    .await;
    assert_eq!(r.headers()[header::CONTENT_TYPE], server_json_type());
    let json: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(json["meta"]["api-version"], "1.1");
    assert_eq!(json["projects"].as_array().unwrap().len(), 5);
    // `/simple` without the slash redirects to the root.
    let r = get(&index.index_url()).await;
    assert_eq!(r.status(), 301);
    assert_eq!(r.headers()[header::LOCATION], "/simple/");
}

fn server_json_type() -> &'static str {
    support::server::JSON_TYPE
}

#[tokio::test]
async fn project_page_html() {
    let index = TestIndex::start(web());
    let body = get(&format!("{}/web-app/", index.index_url()))
        .await
        .text()
        .await
        .unwrap();
    let wheel = index.file("web_app-1.0.0-py3-none-any.whl").unwrap();
    let meta_sha = sha256_hex(wheel.dist.metadata.as_ref().unwrap());
    let expected = format!(
        "<a href=\"../../files/web_app-1.0.0-py3-none-any.whl#sha256={}\" \
         data-requires-python=\"&gt;=3.8,&lt;4\" \
         data-dist-info-metadata=\"sha256={meta_sha}\" data-core-metadata=\"sha256={meta_sha}\">\
         web_app-1.0.0-py3-none-any.whl</a>",
        sha256_hex(&wheel.dist.bytes)
    );
    assert!(body.contains(&expected), "{body}\n---\n{expected}");
    let yanked_line = body
        .lines()
        .find(|l| l.contains(">web_app-0.9.0-py3-none-any.whl</a>"))
        .unwrap();
    assert!(
        yanked_line.contains(" data-yanked=\"broken &lt;build&gt;\""),
        "{yanked_line}"
    );
    assert!(body.contains("web_app-1.0.0.tar.gz</a>"), "{body}");
    // sdists have no PEP 658 metadata.
    let sdist_line = body
        .lines()
        .find(|l| l.contains("web_app-1.0.0.tar.gz"))
        .unwrap();
    assert!(!sdist_line.contains("core-metadata"), "{sdist_line}");
    // Older versions are listed first.
    assert!(body.find("0.9.0").unwrap() < body.find("1.0.0").unwrap());
}

#[tokio::test]
async fn names_redirect_and_unknown_projects_404() {
    let index = TestIndex::start(web());
    for raw in ["Web_App/", "web.app/", "web-app"] {
        let r = get(&format!("{}/{raw}", index.index_url())).await;
        assert_eq!(r.status(), 301, "{raw}");
        assert_eq!(r.headers()[header::LOCATION], "/simple/web-app/", "{raw}");
    }
    // Following the redirect works.
    let r = reqwest::get(format!("{}/Web_App/", index.index_url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.url().path(), "/simple/web-app/");
    for path in [
        "/simple/nope/",
        "/simple/web-app/extra/",
        "/files/nope.whl",
        "/other",
    ] {
        let r = get(&format!("{}{path}", index.url())).await;
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = client()
        .post(format!("{}/simple/", index.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}

#[tokio::test]
async fn json_pages_and_negotiation() {
    let index = TestIndex::start(web());
    let url = format!("{}/web-app/", index.index_url());
    let pip_accept = "application/vnd.pypi.simple.v1+json, \
                      application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";
    let r = get_with(&url, header::ACCEPT, pip_accept).await;
    assert_eq!(r.headers()[header::CONTENT_TYPE], server_json_type());
    assert_eq!(r.headers()[header::VARY], "Accept");
    let json: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(json["name"], "web-app");
    assert_eq!(json["versions"], serde_json::json!(["0.9.0", "1.0.0"]));
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    let wheel = index.file("web_app-1.0.0-py3-none-any.whl").unwrap();
    let f = files
        .iter()
        .find(|f| f["filename"] == "web_app-1.0.0-py3-none-any.whl")
        .unwrap();
    assert_eq!(f["url"], index.file_url("web_app-1.0.0-py3-none-any.whl"));
    assert_eq!(f["hashes"]["sha256"], wheel.dist.sha256);
    assert_eq!(f["size"], wheel.dist.bytes.len());
    assert_eq!(f["requires-python"], ">=3.8,<4");
    assert_eq!(f["yanked"], false);
    assert_eq!(f["upload-time"], "2024-01-01T01:00:00.000000Z");
    assert_eq!(
        f["core-metadata"]["sha256"],
        sha256_hex(wheel.dist.metadata.as_ref().unwrap())
    );
    let old = files
        .iter()
        .find(|f| f["filename"] == "web_app-0.9.0-py3-none-any.whl")
        .unwrap();
    assert_eq!(old["yanked"], "broken <build>");
    assert_eq!(old["requires-python"], serde_json::Value::Null);
    let sdist = files
        .iter()
        .find(|f| f["filename"] == "web_app-1.0.0.tar.gz")
        .unwrap();
    assert_eq!(sdist["core-metadata"], false);

    // Preferences: HTML when it has the higher q, v1+html named explicitly, */*.
    let r = get_with(
        &url,
        header::ACCEPT,
        "application/vnd.pypi.simple.v1+json;q=0.2, application/vnd.pypi.simple.v1+html",
    )
    .await;
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        support::server::HTML_V1_TYPE
    );
    let r = get_with(&url, header::ACCEPT, "*/*").await;
    assert!(
        r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let r = get_with(&url, header::ACCEPT, "application/xml").await;
    assert_eq!(r.status(), 406);

    // An HTML-only index ignores the JSON preference; a JSON-only one serves JSON by default
    // and refuses a client that only takes HTML.
    let html_only = TestIndex::start(web().format(Format::Html));
    let r = get_with(
        &format!("{}/web-app/", html_only.index_url()),
        header::ACCEPT,
        pip_accept,
    )
    .await;
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        support::server::HTML_V1_TYPE
    );
    let json_only = TestIndex::start(web().format(Format::Json).with_server(|s| {
        s.upload_time = false;
    }));
    let json_url = format!("{}/web-app/", json_only.index_url());
    let r = get(&json_url).await;
    assert_eq!(r.headers()[header::CONTENT_TYPE], server_json_type());
    let json: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert!(json["files"][0].get("upload-time").is_none());
    assert_eq!(
        get_with(&json_url, header::ACCEPT, "text/html")
            .await
            .status(),
        406
    );
}

#[tokio::test]
async fn range_requests() {
    let index = TestIndex::start(web());
    let name = wheel_name(&index, "web-app");
    let bytes = index.file(&name).unwrap().dist.bytes.clone();
    let len = bytes.len();
    let url = index.file_url(&name);

    let r = get(&url).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::ACCEPT_RANGES], "bytes");
    assert_eq!(
        r.headers()[header::CONTENT_LENGTH],
        len.to_string().as_str()
    );
    assert_eq!(r.bytes().await.unwrap(), bytes);

    let cases: [(String, usize, usize); 5] = [
        ("bytes=0-9".into(), 0, 9),
        ("bytes=10-".into(), 10, len - 1),
        ("bytes=-20".into(), len - 20, len - 1),
        (format!("bytes=-{}", len + 100), 0, len - 1),
        (format!("bytes=5-{}", len + 100), 5, len - 1),
    ];
    for (range, first, last) in cases {
        let r = get_with(&url, header::RANGE, &range).await;
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.headers()[header::CONTENT_RANGE],
            format!("bytes {first}-{last}/{len}").as_str(),
            "{range}"
        );
        assert_eq!(r.bytes().await.unwrap(), bytes[first..=last], "{range}");
    }
    for range in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 1, len + 5),
        "bytes=-0".into(),
    ] {
        let r = get_with(&url, header::RANGE, &range).await;
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(
            r.headers()[header::CONTENT_RANGE],
            format!("bytes */{len}").as_str()
        );
    }
    // Malformed or multi-range headers are ignored: the whole file.
    for range in ["bytes=9-3", "items=0-1", "bytes=0-1,5-6", "bytes=x-"] {
        let r = get_with(&url, header::RANGE, range).await;
        assert_eq!(r.status(), 200, "{range}");
        assert_eq!(r.bytes().await.unwrap().len(), len);
    }

    let no_range = TestIndex::start(web().range(false));
    let r = get_with(&no_range.file_url(&name), header::RANGE, "bytes=0-9").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[header::ACCEPT_RANGES], "none");
    assert_eq!(r.bytes().await.unwrap().len(), len);
}

#[tokio::test]
async fn head_requests() {
    let index = TestIndex::start(web());
    let name = wheel_name(&index, "web-app");
    let len = index.file(&name).unwrap().dist.bytes.len();
    let r = client().head(index.file_url(&name)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()[header::CONTENT_LENGTH],
        len.to_string().as_str()
    );
    assert_eq!(r.headers()[header::ACCEPT_RANGES], "bytes");
    assert!(r.bytes().await.unwrap().is_empty());
    let r = client()
        .head(format!("{}/web-app/", index.index_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());
    let log = index.requests();
    assert_eq!(log[0].method, "HEAD");
}

#[tokio::test]
async fn pep658_metadata() {
    let index = TestIndex::start(web());
    let name = "web_app-1.0.0-py3-none-any.whl";
    let body = get(&format!("{}/web-app/", index.index_url()))
        .await
        .text()
        .await
        .unwrap();
    let line = body
        .lines()
        .find(|l| l.contains(&format!(">{name}</a>")))
        .unwrap();
    let advertised = line
        .split("data-core-metadata=\"sha256=")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let r = get(&format!("{}.metadata", index.file_url(name))).await;
    assert_eq!(r.status(), 200);
    let meta = r.bytes().await.unwrap();
    assert_eq!(sha256_hex(&meta), advertised);
    let text = String::from_utf8(meta.to_vec()).unwrap();
    assert!(text.contains("Name: Web_App\n"), "{text}");
    // Same bytes as the METADATA inside the wheel.
    let wheel = index.file(name).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(wheel.dist.bytes.clone())).unwrap();
    let mut inner = String::new();
    zip.by_name("web_app-1.0.0.dist-info/METADATA")
        .unwrap()
        .read_to_string(&mut inner)
        .unwrap();
    assert_eq!(inner, text);
    // sdists have none.
    let r = get(&format!(
        "{}.metadata",
        index.file_url("web_app-1.0.0.tar.gz")
    ))
    .await;
    assert_eq!(r.status(), 404);

    let off = TestIndex::start(web().pep658(false));
    let body = get(&format!("{}/web-app/", off.index_url()))
        .await
        .text()
        .await
        .unwrap();
    assert!(!body.contains("metadata"), "{body}");
    let r = get(&format!("{}.metadata", off.file_url(name))).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn status_faults_heal() {
    let index = TestIndex::start(
        web()
            .fault(Fault::status("/simple/dep/", 500, 2))
            .fault(Fault {
                exact: true,
                ..Fault::status("/simple/aio/", 429, 1)
            }),
    );
    let url = format!("{}/dep/", index.index_url());
    assert_eq!(get(&url).await.status(), 500);
    assert_eq!(get(&url).await.status(), 500);
    assert_eq!(get(&url).await.status(), 200);
    assert_eq!(get(&url).await.status(), 200);
    // Exact match: the redirecting form of the path is not affected.
    let r = get(&format!("{}/aio", index.index_url())).await;
    assert_eq!(r.status(), 301);
    let r = get(&format!("{}/aio/", index.index_url())).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()[header::RETRY_AFTER], "0");
    assert_eq!(
        get(&format!("{}/aio/", index.index_url())).await.status(),
        200
    );
    let statuses: Vec<u16> = index.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 200, 200, 301, 429, 200]);
}

#[tokio::test]
async fn reset_and_delay_faults() {
    let index = TestIndex::start(
        web()
            .fault(Fault::reset("/files/", 1))
            .fault(Fault::delay("/simple/dep/", 300)),
    );
    let name = wheel_name(&index, "dep");
    let err = get_err(&index.file_url(&name)).await;
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    assert_eq!(get(&index.file_url(&name)).await.status(), 200);
    let start = Instant::now();
    assert_eq!(
        get(&format!("{}/dep/", index.index_url())).await.status(),
        200
    );
    assert!(start.elapsed() >= Duration::from_millis(300));
    let log = index.requests();
    assert_eq!(log[0].status, 0);
    assert_eq!(log[1].status, 200);
}

async fn get_err(url: &str) -> reqwest::Error {
    match client().get(url).send().await {
        Ok(r) => r.bytes().await.expect_err("expected a reset"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn etag_and_cache_headers() {
    let index = TestIndex::start(web().etag(true).with_server(|s| {
        s.cache_control = Some("max-age=600".into());
        s.last_modified = true;
    }));
    for url in [
        format!("{}/web-app/", index.index_url()),
        index.file_url(&wheel_name(&index, "web-app")),
    ] {
        let r = get(&url).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "max-age=600");
        assert_eq!(
            r.headers()[header::LAST_MODIFIED],
            support::server::LAST_MODIFIED
        );
        let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let r = get_with(&url, header::IF_NONE_MATCH, &etag).await;
        assert_eq!(r.status(), 304, "{url}");
        assert_eq!(r.headers()[header::ETAG], etag.as_str());
        assert!(r.bytes().await.unwrap().is_empty());
        let r = get_with(&url, header::IF_NONE_MATCH, "\"other\"").await;
        assert_eq!(r.status(), 200);
    }
    // Off by default.
    let plain = TestIndex::start(web());
    let r = get(&format!("{}/web-app/", plain.index_url())).await;
    assert!(r.headers().get(header::ETAG).is_none());
    assert!(r.headers().get(header::CACHE_CONTROL).is_none());
}

#[tokio::test]
async fn request_log() {
    let index = TestIndex::start(web());
    assert!(index.requests().is_empty());
    let name = wheel_name(&index, "dep");
    get(&format!("{}/dep/", index.index_url())).await;
    get_with(&index.file_url(&name), header::RANGE, "bytes=-100").await;
    let log = index.requests();
    assert_eq!(
        log,
        [
            RequestRecord {
                method: "GET".into(),
                path: "/simple/dep/".into(),
                range: None,
                accept: log[0].accept.clone(),
                authorization: None,
                status: 200,
            },
            RequestRecord {
                method: "GET".into(),
                path: format!("/files/{name}"),
                range: Some("bytes=-100".into()),
                accept: log[1].accept.clone(),
                authorization: None,
                status: 206,
            },
        ]
    );
    assert_eq!(index.requests_to("/files/").len(), 1);
    index.clear_requests();
    assert!(index.requests().is_empty());
}

#[tokio::test]
async fn flat_page_lists_every_file() {
    let index = TestIndex::start(web());
    let body = get(&index.flat_url()).await.text().await.unwrap();
    let files = index.files();
    assert_eq!(files.len(), 14);
    for f in &files {
        let a = format!("<a href=\"{}#sha256={}\"", f.dist.filename, f.dist.sha256);
        assert!(body.contains(&a), "{body}");
    }
    // The relative hrefs resolve to downloadable files.
    let base = url::Url::parse(&index.flat_url()).unwrap();
    let href = base.join(&files[0].dist.filename).unwrap();
    let r = get(href.as_str()).await;
    assert_eq!(r.bytes().await.unwrap(), files[0].dist.bytes);
}

#[tokio::test]
async fn local_versions_are_percent_encoded() {
    let index = TestIndex::start(
        Scenario::new("local").version(
            "torch",
            "2.9.0+cu130",
            VersionSpec::new()
                .tags(["cp312-cp312-manylinux_2_28_x86_64"])
                .sdist(false),
        ),
    );
    let name = "torch-2.9.0+cu130-cp312-cp312-manylinux_2_28_x86_64.whl";
    assert!(index.file(name).is_some());
    let body = get(&format!("{}/torch/", index.index_url()))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains(
            "href=\"../../files/torch-2.9.0%2Bcu130-cp312-cp312-manylinux_2_28_x86_64.whl#sha256="
        ),
        "{body}"
    );
    assert!(body.contains(&format!(">{name}</a>")), "{body}");
    let encoded = get(&index.file_url(name)).await;
    assert_eq!(encoded.status(), 200);
    let raw = get(&format!("{}/files/{name}", index.url())).await;
    assert_eq!(raw.status(), 200);
}

#[tokio::test]
async fn same_scenario_same_bytes() {
    let a = TestIndex::start(web());
    let b = TestIndex::start(web());
    for f in a.files() {
        let other = b.file(&f.dist.filename).unwrap();
        assert_eq!(f.dist.bytes, other.dist.bytes, "{}", f.dist.filename);
        let served_a = get(&a.file_url(&f.dist.filename))
            .await
            .bytes()
            .await
            .unwrap();
        let served_b = get(&b.file_url(&f.dist.filename))
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(served_a, served_b);
    }
    for path in ["/simple/", "/simple/web-app/", "/files/"] {
        let pa = get(&format!("{}{path}", a.url()))
            .await
            .text()
            .await
            .unwrap();
        let pb = get(&format!("{}{path}", b.url()))
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(pa, pb, "{path}");
    }
}

#[test]
fn scenario_toml_roundtrip_and_server_table() {
    let s = Scenario::from_toml(
        r#"
name = "x"
unknown_top_level = 1
[root]
requires = ["a"]
[packages.a.versions."1.0.0"]
yanked = "bad"
entry_points = { console_scripts = { foo = "foo.cli:main" } }
files = { "a/data.txt" = "content" }
something_new = true
[server]
format = "json"
pep658 = false
range = false
cache_control = "max-age=600"
etag = true
upload_time = false
[[server.faults]]
path = "/simple/a/"
status = 503
times = 2
[[server.faults]]
path = "/files/"
reset = true
[[server.faults]]
path = "/simple/"
delay_ms = 10
"#,
    )
    .unwrap();
    assert_eq!(s.server.format, Format::Json);
    assert!(!s.server.pep658 && !s.server.range && s.server.etag && !s.server.upload_time);
    assert_eq!(s.server.faults.len(), 3);
    assert_eq!(s.server.faults[0].times, Some(2));
    assert!(s.server.faults[1].reset);
    let v = &s.packages["a"].versions["1.0.0"];
    assert_eq!(v.yanked.reason(), Some("bad"));
    assert!(v.sdist && v.wheel);
    assert_eq!(v.entry_points["console_scripts"]["foo"], "foo.cli:main");
    assert_eq!(s.root_projects(), ["a"]);
}

#[test]
fn own_scenarios_parse_and_serve() {
    let files = scenario_files(&own_scenarios_dir());
    assert!(files.len() >= 2, "{files:?}");
    for path in files {
        let s = Scenario::from_file(&path);
        assert!(!s.root.requires.is_empty(), "{}", path.display());
        let index = TestIndex::start(s.clone());
        assert!(!index.files().is_empty());
        drop(index);
    }
}

#[test]
fn packse_scenarios_parse() {
    let Some(dir) = packse_dir() else {
        eprintln!("skipped: ../shared/conformance/packse/scenarios is absent");
        return;
    };
    let files = scenario_files(&dir);
    assert!(files.len() >= 140, "only {} packse files", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        match Scenario::from_toml(&text) {
            Ok(s) => {
                assert!(!s.name.is_empty(), "{}", path.display());
                assert!(!s.root.requires.is_empty(), "{}", path.display());
            }
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packse_scenarios_serve() {
    let Some(dir) = packse_dir() else {
        eprintln!("skipped: ../shared/conformance/packse/scenarios is absent");
        return;
    };
    let start = Instant::now();
    let client = client();
    let mut served = 0;
    for path in scenario_files(&dir) {
        let scenario = Scenario::from_file(&path);
        let roots = scenario.root_projects();
        let known: Vec<String> = scenario
            .packages
            .keys()
            .map(|n| support::scenario::normalize(n))
            .collect();
        let index = tokio::task::spawn_blocking(move || TestIndex::start(scenario))
            .await
            .unwrap();
        for root in roots {
            let r = client
                .get(format!("{}/{root}/", index.index_url()))
                .send()
                .await
                .unwrap();
            let expected = if known.contains(&root) { 200 } else { 404 };
            assert_eq!(r.status(), expected, "{} {root}", path.display());
            if expected == 200 {
                let body = r.text().await.unwrap();
                assert!(body.contains("#sha256="), "{}", path.display());
                served += 1;
            }
        }
        tokio::task::spawn_blocking(move || drop(index))
            .await
            .unwrap();
    }
    assert!(served > 100, "served {served}");
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "took {:?}",
        start.elapsed()
    );
}

/// Cross-check with a real client: when `uv` is on PATH, it locks our example scenarios
/// against the server and agrees with `[expected.packages]`. Skips when `uv` is absent.
#[test]
fn uv_locks_against_the_server() {
    let Ok(version) = std::process::Command::new("uv").arg("--version").output() else {
        eprintln!("skipped: uv is not on PATH");
        return;
    };
    eprintln!("using {}", String::from_utf8_lossy(&version.stdout).trim());
    for stem in ["web-stack", "torch-cu130", "flaky-index"] {
        let scenario = Scenario::ours(stem);
        let expected = scenario.expected.packages.clone();
        let roots = scenario.root.requires.join("\n");
        let index = TestIndex::start(scenario);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.in"), roots).unwrap();
        let out = std::process::Command::new("uv")
            .current_dir(dir.path())
            .env("UV_HTTP_RETRIES", "5")
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("UV_NO_CONFIG", "1")
            .args([
                "pip",
                "compile",
                "requirements.in",
                "--no-header",
                "--no-annotate",
            ])
            .args([
                "--python-version",
                "3.12",
                "--python-platform",
                "x86_64-manylinux_2_28",
            ])
            .args(["--index-url", &index.index_url(), "--no-build"])
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stem}:\n{stdout}{stderr}");
        let locked: std::collections::BTreeMap<String, String> = stdout
            .lines()
            .filter_map(|l| l.split_once("=="))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        assert_eq!(locked, expected, "{stem}:\n{stdout}{stderr}");
        // The lock read metadata without downloading whole wheels: PEP 658 files or ranges.
        let full_wheel_gets = index
            .requests_to("/files/")
            .iter()
            .filter(|r| r.method == "GET" && r.range.is_none() && r.path.ends_with(".whl"))
            .count();
        assert_eq!(full_wheel_gets, 0, "{stem}: {:#?}", index.requests());
        if stem == "web-stack" {
            // The wheels install: uv checks RECORD and writes the console script.
            let site = dir.path().join("site");
            let out = std::process::Command::new("uv")
                .current_dir(dir.path())
                .env("UV_PYTHON_DOWNLOADS", "never")
                .env("UV_NO_CONFIG", "1")
                .args(["pip", "install", "--no-deps", "webapp==0.115.0", "--target"])
                .arg(&site)
                .args(["--index-url", &index.index_url(), "--cache-dir"])
                .arg(dir.path().join("cache"))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            let init = std::fs::read_to_string(site.join("webapp/__init__.py")).unwrap();
            assert_eq!(init, "__version__ = \"0.115.0\"\n");
            assert!(site.join("webapp/py.typed").exists());
            assert!(site.join("bin/webapp").exists(), "{err}");
        }
    }
}

#[tokio::test]
async fn http2_prior_knowledge() {
    let index = TestIndex::start(web());
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/web-app/", index.index_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn flaky_scenario_file_heals() {
    let index = TestIndex::start(Scenario::ours("flaky-index"));
    let a = format!("{}/a/", index.index_url());
    let b = format!("{}/b/", index.index_url());
    let accept = support::server::JSON_TYPE;
    let statuses = [
        get_with(&a, header::ACCEPT, accept).await.status(),
        get_with(&a, header::ACCEPT, accept).await.status(),
        get_with(&a, header::ACCEPT, accept).await.status(),
        get_with(&b, header::ACCEPT, accept).await.status(),
        get_with(&b, header::ACCEPT, accept).await.status(),
    ];
    assert_eq!(statuses, [503, 503, 200, 429, 200]);
    let r = get_with(&b, header::ACCEPT, accept).await;
    let json: serde_json::Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let f = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == "b-2.0.0-py3-none-any.whl")
        .unwrap();
    assert_eq!(f["upload-time"], "2024-06-01T12:00:00Z");
    let wheel = index.file_url("a-1.0.0-py3-none-any.whl");
    get_err(&wheel).await;
    assert_eq!(get(&wheel).await.status(), 200);
}

#[test]
fn write_files_makes_a_find_links_dir() {
    let index = TestIndex::start(web());
    let dir = tempfile::tempdir().unwrap();
    index.write_files(dir.path()).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let served: Vec<String> = index
        .files()
        .iter()
        .map(|f| f.dist.filename.clone())
        .collect();
    assert_eq!(names, served);
}

#[tokio::test]
async fn basic_auth_truncation_and_drip() {
    assert_eq!(support::server::base64("bob:t0ken"), "Ym9iOnQwa2Vu");
    assert_eq!(support::server::base64("ab"), "YWI=");
    let index = TestIndex::start(
        web()
            .basic_auth("bob", "t0ken")
            .fault(Fault::truncate("/simple/dep/", 1))
            .fault(Fault::drip("/simple/nope/", 20)),
    );
    let url = format!("{}/dep/", index.index_url());
    assert_eq!(get(&url).await.status(), 401);
    let auth = |url: &str| client().get(url).basic_auth("bob", Some("t0ken"));
    // Truncated: the announced length, half the body, then a broken connection.
    let cut = auth(&url).send().await.unwrap();
    assert_eq!(cut.status(), 200);
    assert!(cut.bytes().await.is_err());
    let whole = auth(&url).send().await.unwrap().bytes().await.unwrap();
    assert!(!whole.is_empty());
    let log = index.requests();
    assert_eq!(log[0].authorization, None);
    assert_eq!(log[1].authorization.as_deref(), Some("Basic Ym9iOnQwa2Vu"));
    // Dripped: whole, but slowly (the 404 answer, which is short).
    let started = Instant::now();
    let dripped = auth(&format!("{}/nope/", index.index_url()))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(20) * 10);
    assert!(dripped.len() > 10);
}
