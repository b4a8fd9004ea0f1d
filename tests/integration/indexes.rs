//! Indexes end to end: HTML and JSON pages, PEP 658 and range requests, flat find-links
//! pages and directories, index priority (no dependency confusion), explicit indexes,
//! retries on faults and unreachable indexes.

use crate::common::{Project, assert_pins};
use crate::support::{Fault, Format, Scenario, TestIndex, VersionSpec};

fn two_layer_scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .version("app", "1.0.0", VersionSpec::new().requires(["dep>=1"]))
        .versions("dep", &["1.0.0", "1.1.0"])
}

#[test]
fn html_only_index_without_pep658_reads_metadata_with_range_requests() {
    let index = TestIndex::start(
        Scenario::new("ranges")
            .version("app", "1.0.0", VersionSpec::new().requires(["big"]))
            // METADATA beyond the last 64 KiB: a second range request is needed.
            .version("big", "1.0.0", VersionSpec::new().tail_pad(200_000))
            .format(Format::Html)
            .pep658(false),
    );
    let project = Project::with_requirements(&index.index_url(), "linux-x86_64", &["app"], &[]);
    project.lock_ok(&["-q"]);
    assert_pins(
        &project.pins(),
        &[("app", "1.0.0"), ("big", "1.0.0")],
        &[],
        "ranges",
    );
    let files = index.requests_to("/files/");
    assert!(!files.is_empty());
    for r in &files {
        assert!(
            r.method == "HEAD" || r.range.is_some(),
            "wheel fetched without a Range header: {r:?}"
        );
    }
    // The padded wheel is far bigger than what was read of it.
    let big = index.file("big-1.0.0-py3-none-any.whl").unwrap();
    assert!(big.dist.bytes.len() > 200_000);
    let lock = project.lockfile();
    let locked = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "big")
        .unwrap();
    assert_eq!(locked.wheels[0].size, Some(big.dist.bytes.len() as u64));
}

#[test]
fn pep658_metadata_is_used_when_advertised() {
    let index = TestIndex::start(two_layer_scenario("pep658").pep658(true));
    let project = Project::with_requirements(&index.index_url(), "linux-x86_64", &["app"], &[]);
    project.lock_ok(&["-q"]);
    let files = index.requests_to("/files/");
    assert!(
        files.iter().all(|r| r.path.ends_with(".metadata")),
        "only .metadata files are fetched: {files:?}"
    );
    assert_pins(&project.pins(), &[("dep", "1.1.0")], &[], "pep658");
}

#[test]
fn json_only_and_html_only_indexes_lock_the_same() {
    let json = TestIndex::start(two_layer_scenario("json").format(Format::Json));
    let html = TestIndex::start(two_layer_scenario("html").format(Format::Html));
    let a = Project::with_requirements(&json.index_url(), "linux-x86_64", &["app"], &[]);
    let b = Project::with_requirements(&html.index_url(), "linux-x86_64", &["app"], &[]);
    a.lock_ok(&["-q"]);
    b.lock_ok(&["-q"]);
    assert_eq!(a.pins(), b.pins());
    assert!(json.requests_to("/simple/").iter().all(|r| r.status == 200));
}

#[test]
fn the_first_index_that_has_a_package_wins() {
    // `shared` exists on both; the second index has a newer (malicious) version.
    let first = TestIndex::start(Scenario::new("first").versions("shared", &["1.0.0"]));
    let second = TestIndex::start(
        Scenario::new("second")
            .versions("shared", &["99.0.0"])
            .versions("onlysecond", &["1.0.0"]),
    );
    let project = Project::new();
    project.write_manifest(&format!(
        "[project]\nname = \"t\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n\
         [[index]]\nname = \"first\"\nurl = \"{}\"\n\
         [[index]]\nname = \"second\"\nurl = \"{}\"\n\
         [application]\nrequirements = [\"shared\", \"onlysecond\"]\n",
        first.index_url(),
        second.index_url()
    ));
    project.lock_ok(&["-q"]);
    assert_pins(
        &project.pins(),
        &[("shared", "1.0.0"), ("onlysecond", "1.0.0")],
        &[],
        "priority",
    );
    let lock = project.lockfile();
    for p in &lock.packages {
        let expected = if p.name.as_ref() == "shared" {
            &first
        } else {
            &second
        };
        assert!(
            p.index.starts_with(expected.url()),
            "{} from {}",
            p.name,
            p.index
        );
    }
    assert!(second.requests_to("/files/shared").is_empty());
}

#[test]
fn explicit_indexes_serve_only_the_packages_pinned_to_them() {
    let public = TestIndex::start(Scenario::new("public").versions("common", &["1.0.0"]));
    let private = TestIndex::start(
        Scenario::new("private")
            .versions("common", &["5.0.0"])
            .versions("internal", &["2.0.0"]),
    );
    let manifest = |requirements: &str, sources: &str| {
        format!(
            "[project]\nname = \"t\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n\
             [[index]]\nname = \"public\"\nurl = \"{}\"\n\
             [[index]]\nname = \"private\"\nurl = \"{}\"\nexplicit = true\n\
             [application]\nrequirements = [{requirements}]\n{sources}",
            public.index_url(),
            private.index_url()
        )
    };
    let project = Project::new();
    project.write_manifest(&manifest(
        "\"common\", \"internal\"",
        "sources = { internal = \"private\" }\n",
    ));
    project.lock_ok(&["-q"]);
    assert_pins(
        &project.pins(),
        &[("common", "1.0.0"), ("internal", "2.0.0")],
        &[],
        "explicit",
    );
    assert!(private.requests_to("/simple/common").is_empty());

    // Unpinned, the explicit index is never consulted: `internal` is not found.
    private.clear_requests();
    project.write_manifest(&manifest("\"internal\"", ""));
    let message = project.lock_err(&[]);
    assert!(message.contains("internal"), "{message}");
    assert!(message.contains("not found"), "{message}");
    assert!(
        private
            .requests()
            .iter()
            .all(|r| !r.path.contains("internal"))
    );
}

#[test]
fn flat_find_links_pages_and_directories() {
    let index = TestIndex::start(two_layer_scenario("flat"));
    // Over HTTP: the server's `/files/` page lists every file.
    let project = Project::new();
    project.write_manifest(&format!(
        "[project]\nname = \"t\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n\
         [[index]]\nname = \"links\"\nurl = \"{}\"\nformat = \"flat\"\n\
         [application]\nrequirements = [\"app\"]\n",
        index.flat_url()
    ));
    project.lock_ok(&["-q"]);
    assert_pins(
        &project.pins(),
        &[("app", "1.0.0"), ("dep", "1.1.0")],
        &[],
        "flat http",
    );

    // A local directory of wheels, as a file:// URL: hashed from the files themselves.
    let wheels = tempfile::tempdir().unwrap();
    index.write_files(wheels.path()).unwrap();
    let url = url::Url::from_directory_path(wheels.path()).unwrap();
    let local = Project::new();
    local.write_manifest(&format!(
        "[project]\nname = \"t\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n\
         [[index]]\nname = \"links\"\nurl = \"{url}\"\nformat = \"flat\"\n\
         [application]\nrequirements = [\"app\"]\n"
    ));
    local.lock_ok(&["-q"]);
    assert_eq!(local.pins(), project.pins());
    for p in local.lockfile().packages {
        for w in p.wheels {
            assert_eq!(w.sha256, index.file(&w.name).unwrap().dist.sha256);
            assert!(w.url.starts_with("file://"));
        }
    }
}

#[test]
fn transient_faults_are_retried() {
    let index = TestIndex::start(
        two_layer_scenario("faults")
            .fault(Fault::status("/simple/app/", 503, 2))
            .fault(Fault::status("/simple/dep/", 429, 1))
            .fault(Fault::status("/files/", 500, 1)),
    );
    let project = Project::with_requirements(&index.index_url(), "linux-x86_64", &["app"], &[]);
    project.lock_ok(&["-q"]);
    assert_pins(
        &project.pins(),
        &[("app", "1.0.0"), ("dep", "1.1.0")],
        &[],
        "faults",
    );
    let statuses: Vec<u16> = index
        .requests_to("/simple/app/")
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
}

#[test]
fn our_flaky_index_scenario_locks() {
    let scenario = Scenario::ours("flaky-index");
    let index = TestIndex::start(scenario.clone());
    let requirements: Vec<&str> = scenario.root.requires.iter().map(String::as_str).collect();
    let project =
        Project::with_requirements(&index.index_url(), "linux-x86_64", &requirements, &[]);
    project.lock_ok(&["-q"]);
    let expected: Vec<(&str, &str)> = scenario
        .expected
        .packages
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_pins(&project.pins(), &expected, &[], "flaky-index");
}

#[test]
fn a_persistently_failing_index_is_an_error_naming_the_url() {
    let index =
        TestIndex::start(two_layer_scenario("down").fault(Fault::status("/simple/", 503, 1000)));
    let project = Project::with_requirements(&index.index_url(), "linux-x86_64", &["app"], &[]);
    let message = project.lock_err(&[]);
    assert!(
        message.contains(&format!("{}/app/", index.index_url())),
        "{message}"
    );
    assert!(message.contains("503"), "{message}");
    assert!(project.lockfile_text().is_none());
}

#[test]
fn an_unreachable_index_is_an_error_naming_the_url() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("http://127.0.0.1:{port}/simple");
    let project = Project::with_requirements(&url, "linux-x86_64", &["app"], &[]);
    let message = project.lock_err(&[]);
    assert!(message.contains(&url), "{message}");
    assert!(message.contains("unreachable"), "{message}");
    assert!(message.contains("hint: "), "{message}");
}
