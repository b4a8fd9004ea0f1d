//! The network failing, end to end: truncated bodies are retried, a dripping server meets
//! the deadline, garbage pages are named with their URL, and "unreachable" means only that
//! no connection could be made.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{Project, stderr};
use crate::support::{Fault, Scenario, TestIndex, VersionSpec};

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .version("app", "1.0.0", VersionSpec::new().requires(["dep>=1"]))
        .versions("dep", &["1.0.0", "1.1.0"])
}

/// A Python 3.11 project locking `app` from `index` (called `test`), syncing into `.venv`.
fn project(index: &TestIndex) -> Project {
    let project = Project::new();
    project.write_manifest(&format!(
        "[project]\nname = \"t\"\npython = \"3.11\"\nplatform = \"linux-x86_64\"\n\n\
         [[index]]\nname = \"test\"\nurl = \"{}\"\n\n\
         [application]\nrequirements = [\"app\"]\n\n[sync]\nvenv = \".venv\"\n",
        index.index_url()
    ));
    project
}

/// Run `args`, killing the process (and failing) if it runs past `limit`.
fn run_within(project: &Project, args: &[&str], limit: Duration) -> (Output, Duration) {
    let started = Instant::now();
    let mut child = project
        .command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "sanctuary {args:?} still ran after {limit:?}:\n{}",
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

/// `Fault::truncate` of exactly `path` (not of the `.metadata` beside a wheel).
fn truncate_exactly(path: &str, times: u32) -> Fault {
    Fault {
        exact: true,
        ..Fault::truncate(path, times)
    }
}

#[test]
fn a_truncated_page_is_retried() {
    let index = TestIndex::start(
        scenario("truncated")
            .fault(Fault::truncate("/simple/app/", 1))
            .fault(Fault::truncate("/files/", 1)),
    );
    let project = project(&index);
    project.lock_ok(&["-q"]);
    assert_eq!(index.requests_to("/simple/app/").len(), 2);
}

#[test]
fn a_truncated_download_is_retried() {
    let wheel = "dep-1.1.0-py3-none-any.whl";
    let index = TestIndex::start(
        scenario("truncated-download").fault(truncate_exactly(&format!("/files/{wheel}"), 1)),
    );
    let project = project(&index);
    let out = project.run(&["sync", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let gets: Vec<_> = index
        .requests_to(&format!("/files/{wheel}"))
        .into_iter()
        .filter(|r| r.method == "GET" && !r.path.ends_with(".metadata"))
        .collect();
    assert_eq!(gets.len(), 2, "{gets:?}");
}

#[test]
fn a_persistently_truncated_page_is_not_called_unreachable() {
    let index = TestIndex::start(scenario("cut").fault(Fault::truncate("/simple/app/", 1000)));
    let project = project(&index);
    let message = project.lock_err(&[]);
    assert!(
        message.contains(&format!("{}/app/", index.index_url())),
        "{message}"
    );
    assert!(!message.contains("unreachable"), "{message}");
    assert!(message.contains("broke off"), "{message}");
    assert_eq!(index.requests_to("/simple/app/").len(), 4);
}

#[test]
fn a_dripping_server_hits_the_deadline() {
    let index = TestIndex::start(scenario("drip").fault(Fault::drip("/simple/", 200)));
    let mut project = project(&index);
    project.env("SANCTUARY_HTTP_DEADLINE", "1");
    let (out, took) = run_within(&project, &["lock"], Duration::from_secs(30));
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains(&format!("{}/app/", index.index_url())),
        "{message}"
    );
    assert!(message.contains("deadline"), "{message}");
    assert!(message.contains("SANCTUARY_HTTP_DEADLINE"), "{message}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn a_dripping_download_hits_the_deadline() {
    let wheel = "dep-1.1.0-py3-none-any.whl";
    let index = TestIndex::start(scenario("drip-download").fault(Fault {
        exact: true,
        ..Fault::drip(&format!("/files/{wheel}"), 200)
    }));
    let mut project = project(&index);
    project.lock_ok(&["-q"]);
    project.env("SANCTUARY_HTTP_DEADLINE", "1");
    let (out, took) = run_within(&project, &["sync"], Duration::from_secs(60));
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(message.contains(&index.file_url(wheel)), "{message}");
    assert!(message.contains("deadline"), "{message}");
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn a_garbage_page_names_its_url() {
    let cases: [(&str, &str, Vec<u8>, &str); 3] = [
        (
            "invalid json",
            "application/vnd.pypi.simple.v1+json",
            b"{\"meta\": {\"api-version\": \"1.1\"}, \"files\": [{\"filename\": ".to_vec(),
            "JSON",
        ),
        (
            "binary html",
            "text/html",
            (0..=255u8).cycle().take(4096).collect(),
            "binary",
        ),
        (
            "not a page",
            "application/octet-stream",
            b"PK\x03\x04 this is a zip file".to_vec(),
            "application/octet-stream",
        ),
    ];
    for (case, content_type, body, what) in cases {
        let index = TestIndex::start(scenario("garbage").fault(Fault::body(
            "/simple/app/",
            content_type,
            body,
            1000,
        )));
        let project = project(&index);
        let message = project.lock_err(&[]);
        assert!(
            message.contains(&format!("{}/app/", index.index_url())),
            "{case}: {message}"
        );
        assert!(message.contains(what), "{case}: {message}");
        assert!(!message.contains("not found"), "{case}: {message}");
        assert!(!message.contains("unreachable"), "{case}: {message}");
        assert!(project.lockfile_text().is_none());
    }
}
