//! Tests of the [`IndexSet`]: index order and pins, caching and revalidation, metadata by
//! every route, artifact facts, `file://` and flat indexes, against [`crate::http::test_server`].

use super::range::tests::{META, range_handler, wheel};
use super::*;
use crate::http::test_server::{Recorded, Reply, TestServer};
use std::str::FromStr;
use std::time::Duration;

fn name(s: &str) -> PackageName {
    PackageName::from_str(s).unwrap()
}

fn index(name: &str, url: &Url, explicit: bool, kind: IndexKind) -> IndexUrl {
    IndexUrl {
        name: name.to_string(),
        url: url.clone(),
        explicit,
        kind,
        credentials: None,
    }
}

fn settings(dir: &std::path::Path) -> IndexSettings {
    IndexSettings {
        cache_dir: dir.to_path_buf(),
        offline: false,
        refresh: false,
        concurrency: 8,
        http: http::HttpTimeouts::default(),
        netrc: None,
    }
}

fn set(indexes: Vec<IndexUrl>, pins: &[(&str, &str)], settings: IndexSettings) -> IndexSet {
    let pins = pins.iter().map(|(p, i)| (name(p), i.to_string())).collect();
    IndexSet::new(indexes, pins, settings)
        .unwrap()
        .with_retries(1, Duration::from_millis(5))
}

/// A set with one non-explicit simple index called `pypi` at `url`.
fn pypi_set(url: &Url, settings: IndexSettings) -> IndexSet {
    set(
        vec![index("pypi", url, false, IndexKind::Simple)],
        &[],
        settings,
    )
}

const WHEEL: &str = "foo-1.0-py3-none-any.whl";

fn count(server: &TestServer, pred: impl Fn(&Recorded) -> bool) -> usize {
    server.requests().iter().filter(|r| pred(r)).count()
}

/// A simple index at `/simple/` with project `foo` (one wheel, served with range support
/// and a Last-Modified) and `page_headers` on the project page.
async fn foo_server(
    wheel_bytes: Vec<u8>,
    link_attrs: String,
    page_headers: Vec<(&'static str, &'static str)>,
) -> TestServer {
    let sha = cache::sha256_hex(&wheel_bytes);
    let page = format!(
        r#"<html><body><a href="/files/{WHEEL}#sha256={sha}" {link_attrs}>{WHEEL}</a></body></html>"#
    );
    let wheel_reply = range_handler(wheel_bytes, true);
    TestServer::start(move |req| match req.path.as_str() {
        "/simple/foo/" => {
            let mut reply = Reply::new(200, page.clone()).header("Content-Type", "text/html");
            for (k, v) in &page_headers {
                reply = reply.header(k, v);
            }
            reply
        }
        p if p == format!("/files/{WHEEL}") => {
            wheel_reply(req).header("Last-Modified", "Tue, 02 Jan 2024 03:04:05 GMT")
        }
        _ => Reply::new(404, "not found"),
    })
    .await
}

#[tokio::test]
async fn metadata_by_range_request_then_cached_forever() {
    let dir = tempfile::tempdir().unwrap();
    let server = foo_server(wheel(META, 0, true), String::new(), vec![]).await;
    let simple = server.url("simple");
    let idx = || vec![index("pypi", &simple, false, IndexKind::Simple)];
    let wheel_path = format!("/files/{WHEEL}");

    let first = set(idx(), &[], settings(dir.path()));
    let files = first.files(&name("foo")).await.unwrap().unwrap();
    let file = &files.versions.values().next().unwrap()[0];
    assert_eq!(file.filename, WHEEL);
    let meta = first.metadata(&files, file).await.unwrap();
    assert_eq!(meta.name, name("foo"));
    assert_eq!(meta.requires_dist.len(), 1);
    // Second call: memory.
    first.metadata(&files, file).await.unwrap();
    assert_eq!(count(&server, |r| r.path == wheel_path), 1);
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.path != wheel_path || r.header("range") == Some("bytes=-65536"))
    );
    // The range answer told the size: no HEAD. Its `Last-Modified` is not an upload time.
    let done = first.complete(file).await.unwrap();
    assert_eq!(done.upload_time, None);
    assert!(done.size.unwrap() > 65_536);
    assert_eq!(count(&server, |r| r.path == wheel_path), 1);

    // A new process on the same cache: no metadata or facts requests at all.
    let second = set(idx(), &[], settings(dir.path()));
    let files2 = second.files(&name("foo")).await.unwrap().unwrap();
    let file2 = &files2.versions.values().next().unwrap()[0];
    assert_eq!(*second.metadata(&files2, file2).await.unwrap(), *meta);
    assert_eq!(second.complete(file2).await.unwrap(), done);
    assert_eq!(count(&server, |r| r.path == wheel_path), 1);
}

#[tokio::test]
async fn pep658_metadata_file_is_preferred_and_verified() {
    for (good, expect_ok) in [(true, true), (false, false)] {
        let dir = tempfile::tempdir().unwrap();
        let meta_sha = if good {
            cache::sha256_hex(META.as_bytes())
        } else {
            "0".repeat(64)
        };
        let w = wheel(META, 0, true);
        let sha = cache::sha256_hex(&w);
        let page = format!(
            r#"<a href="/files/{WHEEL}#sha256={sha}" data-core-metadata="sha256={meta_sha}">x</a>"#
        );
        let server = TestServer::start(move |req| match req.path.as_str() {
            "/simple/foo/" => Reply::new(200, page.clone()),
            "/files/foo-1.0-py3-none-any.whl.metadata" => Reply::new(200, META),
            _ => Reply::new(404, ""),
        })
        .await;
        let s = pypi_set(&server.url("simple/"), settings(dir.path()));
        let files = s.files(&name("foo")).await.unwrap().unwrap();
        let file = &files.versions.values().next().unwrap()[0];
        let result = s.metadata(&files, file).await;
        assert_eq!(result.is_ok(), expect_ok, "{result:?}");
        if !expect_ok {
            assert!(matches!(result, Err(IndexError::HashMismatch { .. })));
        }
        assert_eq!(count(&server, |r| r.path == format!("/files/{WHEEL}")), 0);
    }
}

#[tokio::test]
async fn metadata_must_match_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = foo_server(
        wheel("Name: bar\nVersion: 1.0\n", 0, true),
        String::new(),
        vec![],
    )
    .await;
    let s = pypi_set(&server.url("simple"), settings(dir.path()));
    let files = s.files(&name("foo")).await.unwrap().unwrap();
    let file = &files.versions.values().next().unwrap()[0];
    let err = s.metadata(&files, file).await.unwrap_err();
    assert!(matches!(err, IndexError::BadMetadata { .. }), "{err}");
    assert!(err.to_string().contains(WHEEL), "{err}");
}

#[tokio::test]
async fn etag_revalidation_reuses_the_cached_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(|req| match req.header("if-none-match") {
        Some("\"v1\"") => Reply::new(304, "").header("ETag", "\"v1\""),
        _ => Reply::new(200, format!(r#"<a href="{WHEEL}">x</a>"#)).header("ETag", "\"v1\""),
    })
    .await;
    for _ in 0..2 {
        let s = pypi_set(&server.url("simple/"), settings(dir.path()));
        let files = s.files(&name("foo")).await.unwrap().unwrap();
        assert_eq!(files.versions.len(), 1);
        assert!(!s.settle().await.unwrap(), "a 304 is no change");
    }
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].header("if-none-match"), None);
    assert_eq!(reqs[1].header("if-none-match"), Some("\"v1\""));
    assert!(
        reqs[0]
            .header("accept")
            .unwrap()
            .starts_with("application/vnd.pypi.simple.v1+json")
    );
}

/// A server whose `foo` page lists `foo 1.0`, and `foo 2.0` too once `new` is set; PEP 658
/// metadata for both. No cache headers: every use of the cached page is revalidated.
async fn changing_server(new: Arc<std::sync::atomic::AtomicBool>) -> TestServer {
    use std::sync::atomic::Ordering;
    TestServer::start(move |req| match req.path.as_str() {
        "/simple/foo/" => {
            let mut page = String::new();
            let versions: &[&str] = if new.load(Ordering::SeqCst) {
                &["1.0", "2.0"]
            } else {
                &["1.0"]
            };
            for v in versions {
                let meta = format!("Metadata-Version: 2.1\nName: foo\nVersion: {v}\n");
                page.push_str(&format!(
                    r#"<a href="/f/foo-{v}-py3-none-any.whl#sha256={}" data-core-metadata="true">x</a>"#,
                    cache::sha256_hex(meta.as_bytes())
                ));
            }
            Reply::new(200, page).header("Content-Type", "text/html")
        }
        p if p.starts_with("/f/foo-") && p.ends_with(".whl.metadata") => {
            let v = &p["/f/foo-".len()..p.len() - "-py3-none-any.whl.metadata".len()];
            Reply::new(
                200,
                format!("Metadata-Version: 2.1\nName: foo\nVersion: {v}\n"),
            )
        }
        _ => Reply::new(404, ""),
    })
    .await
}

/// The one page in the cache under `dir`.
fn only_page_file(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::read_dir(crate::cache::CacheRoot::new(dir).simple())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
}

#[tokio::test]
async fn cached_pages_are_handed_out_then_revalidated() {
    let dir = tempfile::tempdir().unwrap();
    let new = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = changing_server(new.clone()).await;
    let versions = |p: &PackageFiles| {
        p.versions
            .keys()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };

    let cold = pypi_set(&server.url("simple/"), settings(dir.path()));
    assert_eq!(
        versions(&cold.files(&name("foo")).await.unwrap().unwrap()),
        ["1.0"]
    );
    assert!(
        !cold.settle().await.unwrap(),
        "a first fetch is not speculative"
    );

    // Unchanged: the cached page is used, the request still made, nothing rewritten.
    let page_file = only_page_file(dir.path());
    let written = std::fs::metadata(&page_file).unwrap().modified().unwrap();
    let warm = pypi_set(&server.url("simple/"), settings(dir.path()));
    assert_eq!(
        versions(&warm.files(&name("foo")).await.unwrap().unwrap()),
        ["1.0"]
    );
    assert!(!warm.settle().await.unwrap());
    assert_eq!(count(&server, |r| r.path == "/simple/foo/"), 2);
    assert_eq!(
        std::fs::metadata(&page_file).unwrap().modified().unwrap(),
        written
    );

    // Changed: the speculative answer is stale, `settle` says so, and asking again gives
    // the new page (without another request).
    new.store(true, std::sync::atomic::Ordering::SeqCst);
    let changed = pypi_set(&server.url("simple/"), settings(dir.path()));
    assert_eq!(
        versions(&changed.files(&name("foo")).await.unwrap().unwrap()),
        ["1.0"]
    );
    assert!(changed.settle().await.unwrap());
    assert_eq!(
        versions(&changed.files(&name("foo")).await.unwrap().unwrap()),
        ["1.0", "2.0"]
    );
    assert!(!changed.settle().await.unwrap());
    assert_eq!(count(&server, |r| r.path == "/simple/foo/"), 3);

    // Without speculation the answer is always the server's.
    new.store(false, std::sync::atomic::Ordering::SeqCst);
    let careful = pypi_set(&server.url("simple/"), settings(dir.path())).with_speculation(false);
    assert_eq!(
        versions(&careful.files(&name("foo")).await.unwrap().unwrap()),
        ["1.0"]
    );
    assert!(!careful.settle().await.unwrap());
}

/// A cached page whose header reads but whose files do not (a damaged cache entry): its
/// revalidation was already sent on the header alone; the page comes from the server in the
/// foreground, and the revalidation neither reports a change nor an error.
#[tokio::test]
async fn a_cached_page_whose_files_cannot_be_read_is_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = changing_server(Arc::new(std::sync::atomic::AtomicBool::new(false))).await;
    let cold = pypi_set(&server.url("simple/"), settings(dir.path()));
    cold.files(&name("foo")).await.unwrap().unwrap();
    assert!(!cold.settle().await.unwrap());
    let page_file = only_page_file(dir.path());
    let text = std::fs::read_to_string(&page_file).unwrap();
    let header = text.lines().next().unwrap();
    std::fs::write(&page_file, format!("{header}\n=not a version\n")).unwrap();

    let warm = pypi_set(&server.url("simple/"), settings(dir.path()));
    let files = warm.files(&name("foo")).await.unwrap().unwrap();
    let versions: Vec<String> = files.versions.keys().map(ToString::to_string).collect();
    assert_eq!(versions, ["1.0"]);
    assert!(!warm.settle().await.unwrap());
    // The cold fetch, the revalidation sent on the header, the foreground fetch.
    assert_eq!(count(&server, |r| r.path == "/simple/foo/"), 3);
    // And the entry is whole again.
    let again = pypi_set(&server.url("simple/"), settings(dir.path()));
    again.files(&name("foo")).await.unwrap().unwrap();
    assert!(!again.settle().await.unwrap());
    assert_eq!(count(&server, |r| r.path == "/simple/foo/"), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_never_keeps_a_stale_speculative_page() {
    let dir = tempfile::tempdir().unwrap();
    let new = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = changing_server(new.clone()).await;
    let resolve_foo = || async {
        let source = Arc::new(pypi_set(&server.url("simple/"), settings(dir.path())));
        let requirement = crate::resolve::RootRequirement {
            requirement: Requirement::from_str("foo").unwrap(),
            origin: crate::resolve::Origin {
                layer: "application".into(),
                kind: "requirement".into(),
                file: None,
                line: None,
            },
        };
        let request = crate::resolve::ResolveRequest {
            requirements: vec![requirement],
            constraints: Vec::new(),
            target: crate::target::Target::new("3.12", Some("linux-x86_64")).unwrap(),
            prereleases: crate::resolve::PrereleaseMode::default(),
            preferences: HashMap::new(),
            upgrade: Default::default(),
            upgrade_all: false,
            no_binary: Default::default(),
            build: Default::default(),
            report_width: None,
        };
        crate::resolve::resolve(source, request)
            .await
            .map(|r| r.packages[&name("foo")].version.to_string())
    };
    assert_eq!(resolve_foo().await.unwrap(), "1.0");
    assert_eq!(resolve_foo().await.unwrap(), "1.0");
    // The page changes between two runs: the second must see the new version, although
    // its first resolution ran on the cached page.
    new.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(resolve_foo().await.unwrap(), "2.0");
    assert_eq!(resolve_foo().await.unwrap(), "2.0");
    // And back (a version removed from the page).
    new.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(resolve_foo().await.unwrap(), "1.0");
}

#[tokio::test]
async fn a_failed_revalidation_is_reported_by_settle() {
    let dir = tempfile::tempdir().unwrap();
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let f = fail.clone();
    let server = TestServer::start(move |_| {
        if f.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::new(403, "no")
        } else {
            Reply::new(200, format!(r#"<a href="{WHEEL}">x</a>"#))
        }
    })
    .await;
    let s = pypi_set(&server.url("simple/"), settings(dir.path()));
    assert!(s.files(&name("foo")).await.unwrap().is_some());
    // Regression (flaky under load): the cache write runs in the background; without
    // settling, the second set could find no cached page and fetch the 403 directly.
    assert!(!s.settle().await.unwrap());
    fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let s = pypi_set(&server.url("simple/"), settings(dir.path()));
    assert!(s.files(&name("foo")).await.unwrap().is_some());
    let err = s.settle().await.unwrap_err();
    assert!(
        matches!(err, IndexError::Denied { status: 403, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn freshness_decides_whether_to_ask() {
    for (cache_control, expected_requests) in [
        (None, 2),
        (Some("max-age=600"), 1),
        (Some("max-age=600, no-cache"), 2),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(move |_| {
            let reply = Reply::new(200, format!(r#"<a href="{WHEEL}">x</a>"#));
            match cache_control {
                Some(cc) => reply.header("Cache-Control", cc),
                None => reply,
            }
        })
        .await;
        for _ in 0..2 {
            let s = pypi_set(&server.url("simple/"), settings(dir.path()));
            assert!(s.files(&name("foo")).await.unwrap().is_some());
            assert!(!s.settle().await.unwrap());
        }
        let reqs = server.requests();
        assert_eq!(reqs.len(), expected_requests, "{cache_control:?}");
        // No validators were ever sent: the revalidation is a plain GET.
        assert!(reqs.iter().all(
            |r| r.header("if-none-match").is_none() && r.header("if-modified-since").is_none()
        ));
    }
}

#[tokio::test]
async fn refresh_ignores_a_fresh_cache() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(|_| {
        Reply::new(200, format!(r#"<a href="{WHEEL}">x</a>"#))
            .header("Cache-Control", "max-age=600")
    })
    .await;
    for refresh in [false, true] {
        let mut st = settings(dir.path());
        st.refresh = refresh;
        let s = set(
            vec![index(
                "pypi",
                &server.url("simple/"),
                false,
                IndexKind::Simple,
            )],
            &[],
            st,
        );
        assert!(s.files(&name("foo")).await.unwrap().is_some());
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn offline_uses_only_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let server = foo_server(wheel(META, 0, true), String::new(), vec![]).await;
    let idx = || {
        vec![index(
            "pypi",
            &server.url("simple"),
            false,
            IndexKind::Simple,
        )]
    };
    let offline = || IndexSettings {
        offline: true,
        ..settings(dir.path())
    };

    let cold = set(idx(), &[], offline());
    let err = cold.files(&name("foo")).await.unwrap_err();
    assert!(matches!(err, IndexError::Offline { .. }), "{err}");
    assert!(err.to_string().contains("foo"), "{err}");
    assert_eq!(server.requests().len(), 0);

    let online = set(idx(), &[], settings(dir.path()));
    let files = online.files(&name("foo")).await.unwrap().unwrap();
    let file = &files.versions.values().next().unwrap()[0];
    online.metadata(&files, file).await.unwrap();
    online.complete(file).await.unwrap();
    assert!(online.files(&name("missing")).await.unwrap().is_none());
    let before = server.requests().len();

    let warm = set(idx(), &[], offline());
    let files = warm.files(&name("foo")).await.unwrap().unwrap();
    let file = &files.versions.values().next().unwrap()[0];
    assert_eq!(
        warm.metadata(&files, file)
            .await
            .unwrap()
            .version
            .to_string(),
        "1.0"
    );
    assert!(warm.complete(file).await.unwrap().size.is_some());
    assert!(
        warm.files(&name("missing")).await.unwrap().is_none(),
        "cached 404"
    );
    assert_eq!(server.requests().len(), before, "offline made a request");
}

#[tokio::test]
async fn complete_uses_head_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/simple/foo/") => Reply::new(
            200,
            format!(r#"<a href="/f/{WHEEL}#sha256={}">x</a>"#, "a".repeat(64)),
        ),
        ("HEAD", p) if p.starts_with("/f/") => Reply::new(200, vec![0u8; 1234])
            .header("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
        _ => Reply::new(404, ""),
    })
    .await;
    for _ in 0..2 {
        let s = pypi_set(&server.url("simple"), settings(dir.path()));
        let files = s.files(&name("foo")).await.unwrap().unwrap();
        let file = s
            .complete(&files.versions.values().next().unwrap()[0])
            .await
            .unwrap();
        assert_eq!(file.size, Some(1234));
        // Regression: `Last-Modified` differs between CDN edges, so it never becomes the
        // upload time (lockfiles changed from one run to the next).
        assert_eq!(file.upload_time, None);
    }
    assert_eq!(count(&server, |r| r.method == "HEAD"), 1);
}

#[tokio::test]
async fn prefetched_facts_are_shared_with_complete() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(|req| match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/simple/foo/") => Reply::new(
            200,
            format!(r#"<a href="/f/{WHEEL}#sha256={}">x</a>"#, "a".repeat(64)),
        ),
        ("HEAD", p) if p.starts_with("/f/") => {
            std::thread::sleep(Duration::from_millis(30));
            Reply::new(200, vec![0u8; 99])
        }
        _ => Reply::new(404, ""),
    })
    .await;
    let s = Arc::new(pypi_set(&server.url("simple"), settings(dir.path())));
    let files = s.files(&name("foo")).await.unwrap().unwrap();
    let file = files.versions.values().next().unwrap()[0].clone();
    let prefetch = tokio::spawn({
        let (s, file) = (s.clone(), file.clone());
        async move { s.prefetch_facts(vec![file]).await }
    });
    // While the prefetch is in flight, and after it: one HEAD in all.
    assert_eq!(s.complete(&file).await.unwrap().size, Some(99));
    prefetch.await.unwrap();
    assert_eq!(s.complete(&file).await.unwrap().size, Some(99));
    assert_eq!(count(&server, |r| r.method == "HEAD"), 1);
}

#[tokio::test]
async fn index_order_and_pins() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(|req| {
        let link = |f: &str| Reply::new(200, format!(r#"<a href="{f}">x</a>"#));
        match req.path.as_str() {
            "/a/bar/" => link("bar-1.0.tar.gz"),
            "/b/bar/" => link("bar-2.0.tar.gz"),
            "/b/foo/" => link("foo-1.0.tar.gz"),
            "/c/baz/" => link("baz-3.0.tar.gz"),
            "/c/foo/" => link("foo-9.0.tar.gz"),
            _ => Reply::new(404, ""),
        }
    })
    .await;
    let idx = || {
        vec![
            index("a", &server.url("a/"), false, IndexKind::Simple),
            index("b", &server.url("b/"), false, IndexKind::Simple),
            index("c", &server.url("c/"), true, IndexKind::Simple),
        ]
    };
    let s = set(idx(), &[("qux", "c")], settings(dir.path()));
    let versions = |p: &PackageFiles| {
        p.versions
            .keys()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    // First index that has it wins, and nothing is mixed in from later ones.
    let bar = s.files(&name("bar")).await.unwrap().unwrap();
    assert_eq!(
        (bar.index.name.as_str(), versions(&bar)),
        ("a", vec!["1.0".to_string()])
    );
    // A 404 means "try the next"; the explicit index is never consulted.
    let foo = s.files(&name("foo")).await.unwrap().unwrap();
    assert_eq!(
        (foo.index.name.as_str(), versions(&foo)),
        ("b", vec!["1.0".to_string()])
    );
    assert!(s.files(&name("baz")).await.unwrap().is_none());
    assert_eq!(count(&server, |r| r.path.starts_with("/c/")), 0);
    // Pinned: only from the pinned index, even when it lacks the project.
    assert!(s.files(&name("qux")).await.unwrap().is_none());
    assert_eq!(
        count(&server, |r| r.path.starts_with("/a/qux")
            || r.path.starts_with("/b/qux")),
        0
    );
    let pinned = set(idx(), &[("baz", "c"), ("foo", "c")], settings(dir.path()));
    let baz = pinned.files(&name("baz")).await.unwrap().unwrap();
    assert_eq!(baz.index.name, "c");
    let foo = pinned.files(&name("foo")).await.unwrap().unwrap();
    assert_eq!(versions(&foo), vec!["9.0".to_string()]);

    let err = IndexSet::new(
        idx(),
        [(name("foo"), "nope".to_string())].into(),
        settings(dir.path()),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(|_| {
        std::thread::sleep(Duration::from_millis(50));
        Reply::new(200, format!(r#"<a href="{WHEEL}">x</a>"#))
    })
    .await;
    let s = Arc::new(pypi_set(&server.url("simple/"), settings(dir.path())));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.files(&name("foo")).await.unwrap().unwrap() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().versions.len(), 1);
    }
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn unreachable_index_names_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/simple/")).unwrap();
    let s = set(
        vec![index("corp", &url, false, IndexKind::Simple)],
        &[],
        settings(dir.path()),
    );
    let err = s.files(&name("foo")).await.unwrap_err();
    assert!(matches!(err, IndexError::Unreachable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("corp") && text.contains(&format!("127.0.0.1:{port}/simple/foo/")),
        "{text}"
    );
}

#[tokio::test]
async fn file_simple_index_and_flat_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("index");
    std::fs::create_dir_all(root.join("foo")).unwrap();
    std::fs::write(root.join("foo").join(WHEEL), wheel(META, 0, true)).unwrap();
    std::fs::write(root.join("foo").join("foo-0.9.tar.gz"), b"sdist").unwrap();
    std::fs::write(root.join("foo").join("README"), b"not a dist").unwrap();
    std::fs::create_dir_all(root.join("Bar_Baz")).unwrap();
    std::fs::write(
        root.join("Bar_Baz").join("index.html"),
        r#"<a href="https://files.example/bar_baz-2.0.tar.gz#sha256=AB" data-yanked="old">x</a>"#,
    )
    .unwrap();
    let flat = dir.path().join("flat");
    std::fs::create_dir_all(&flat).unwrap();
    std::fs::write(flat.join(WHEEL), wheel(META, 0, false)).unwrap();
    std::fs::write(flat.join("other-1.0-py3-none-any.whl"), b"x").unwrap();

    let cache_dir = dir.path().join("cache");
    let s = set(
        vec![
            index(
                "local",
                &Url::from_directory_path(&root).unwrap(),
                false,
                IndexKind::Simple,
            ),
            index(
                "flat",
                &Url::from_directory_path(&flat).unwrap(),
                true,
                IndexKind::Flat,
            ),
        ],
        &[("pinned-foo", "flat")],
        IndexSettings {
            offline: true, // Local indexes need no network.
            ..settings(&cache_dir)
        },
    );
    let foo = s.files(&name("foo")).await.unwrap().unwrap();
    let versions: Vec<_> = foo.versions.keys().map(ToString::to_string).collect();
    assert_eq!(versions, ["0.9", "1.0"]);
    let wheel_file = &foo.versions.values().last().unwrap()[0];
    assert_eq!(wheel_file.filename, WHEEL);
    assert!(wheel_file.size.is_some());
    let meta = s.metadata(&foo, wheel_file).await.unwrap();
    assert_eq!(meta.version.to_string(), "1.0");
    let done = s
        .complete(&foo.versions.values().next().unwrap()[0])
        .await
        .unwrap();
    assert_eq!(done.size, Some(5));
    // Local files get their sha256 computed, and no mtime-based upload time (that would
    // differ between checkouts and break byte-identical lockfiles).
    assert_eq!(done.sha256.as_deref().map(str::len), Some(64));
    assert_eq!(done.upload_time, None);

    let bar = s.files(&name("bar-baz")).await.unwrap().unwrap();
    let f = &bar.versions.values().next().unwrap()[0];
    assert_eq!(f.yanked.as_deref(), Some("old"));
    assert_eq!(f.url.as_str(), "https://files.example/bar_baz-2.0.tar.gz");
    assert!(s.files(&name("absent")).await.unwrap().is_none());

    // The flat directory (explicit, so only through a pin)...
    let flat_set = set(
        vec![index(
            "flat",
            &Url::from_directory_path(&flat).unwrap(),
            false,
            IndexKind::Flat,
        )],
        &[],
        settings(&cache_dir),
    );
    let foo = flat_set.files(&name("foo")).await.unwrap().unwrap();
    assert_eq!(foo.versions.len(), 1);
    let file = &foo.versions.values().next().unwrap()[0];
    assert_eq!(*flat_set.metadata(&foo, file).await.unwrap(), *meta);
    assert!(flat_set.files(&name("nothing")).await.unwrap().is_none());
}

#[tokio::test]
async fn flat_html_page_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(|_| {
        Reply::new(
            200,
            r#"<a href="foo-1.0.tar.gz">a</a><a href="foo-2.0.tar.gz">b</a><a href="bar-1.0.tar.gz">c</a>"#,
        )
    })
    .await;
    let s = set(
        vec![index(
            "links",
            &server.url("links.html"),
            false,
            IndexKind::Flat,
        )],
        &[],
        settings(dir.path()),
    );
    assert_eq!(
        s.files(&name("foo")).await.unwrap().unwrap().versions.len(),
        2
    );
    assert_eq!(
        s.files(&name("bar")).await.unwrap().unwrap().versions.len(),
        1
    );
    assert!(s.files(&name("baz")).await.unwrap().is_none());
    assert!(server.requests().iter().all(|r| r.path == "/links.html"));
}

#[tokio::test]
async fn json_pages_are_dispatched_on_content_type() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(|req| {
        assert!(
            req.header("accept")
                .unwrap()
                .contains("application/vnd.pypi.simple.v1+json")
        );
        let body = format!(
            r#"{{"meta": {{"api-version": "1.1"}}, "name": "foo", "files": [{{"filename": "{WHEEL}",
                "url": "/f/{WHEEL}", "hashes": {{"sha256": "{}"}}, "size": 77,
                "upload-time": "2024-05-06T07:08:09.123456Z", "requires-python": ">=3.9"}}]}}"#,
            "b".repeat(64)
        );
        Reply::new(200, body).header("Content-Type", "application/vnd.pypi.simple.v1+json")
    })
    .await;
    let s = pypi_set(&server.url("simple/"), settings(dir.path()));
    let files = s.files(&name("foo")).await.unwrap().unwrap();
    let file = &files.versions.values().next().unwrap()[0];
    assert_eq!(
        file.url.as_str(),
        server.url(&format!("f/{WHEEL}")).as_str()
    );
    assert_eq!(file.requires_python.as_ref().unwrap().to_string(), ">=3.9");
    // Everything `complete` needs was on the page: no request.
    let done = s.complete(file).await.unwrap();
    assert_eq!(
        (done.size, done.upload_time.as_deref()),
        (Some(77), Some("2024-05-06T07:08:09.123456Z"))
    );
    assert_eq!(server.requests().len(), 1);
}

/// Against the live PyPI: `cargo test --features live --lib index::tests::live`.
#[cfg(feature = "live")]
#[tokio::test]
async fn live_pypi_six() {
    let dir = tempfile::tempdir().unwrap();
    let pypi = Url::parse("https://pypi.org/simple").unwrap();
    let s = pypi_set(&pypi, settings(dir.path()));
    let six = s.files(&name("six")).await.unwrap().unwrap();
    let (version, files) = six.versions.iter().next_back().unwrap();
    let wheel = files
        .iter()
        .find(|f| f.parsed.as_wheel().is_some())
        .unwrap();
    assert!(wheel.sha256.is_some());
    let meta = s.metadata(&six, wheel).await.unwrap();
    assert_eq!(&meta.version, version);
    let done = s.complete(wheel).await.unwrap();
    assert!(done.size.unwrap() > 1000, "{done:?}");
    // The PyPI mirror reachable from CI strips `Last-Modified`, so no upload time here.
    assert_eq!(s.complete(wheel).await.unwrap().size, done.size);
    assert!(
        s.files(&name("this-project-does-not-exist-sanctuary-x"))
            .await
            .unwrap()
            .is_none()
    );

    // A large platform wheel: range requests on a real central directory.
    let numpy = s.files(&name("numpy")).await.unwrap().unwrap();
    let (version, files) = numpy.versions.iter().next_back().unwrap();
    let wheel = files
        .iter()
        .find(|f| f.filename.contains("cp312-cp312-manylinux"))
        .unwrap();
    let meta = s.metadata(&numpy, wheel).await.unwrap();
    assert_eq!(&meta.version, version);
    assert!(meta.requires_python.is_some());
    assert!(s.complete(wheel).await.unwrap().size.unwrap() > 1_000_000);
}

#[test]
fn index_set_is_shareable() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<IndexSet>();
}
