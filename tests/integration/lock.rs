//! The `sanctuary lock` workflow: determinism, `--check`, the cache (`--offline`,
//! `--refresh`, immutable metadata), preferences and upgrades, atomic writes.

use crate::common::{Project, assert_pins, manifest, stderr};
use crate::support::{Scenario, TestIndex, VersionSpec};

fn web_stack() -> TestIndex {
    TestIndex::start(Scenario::ours("web-stack"))
}

fn web_project(index: &TestIndex) -> Project {
    Project::with_requirements(
        &index.index_url(),
        "linux-x86_64",
        &["webapp[standard]>=0.110", "pydanticish>=2"],
        &[],
    )
}

#[test]
fn web_stack_locks_the_expected_versions_with_hashes_and_sizes() {
    let index = web_stack();
    let project = web_project(&index);
    project.lock_ok(&[]);
    let expected = Scenario::ours("web-stack").expected.packages;
    let pins = project.pins();
    let expected: Vec<(&str, &str)> = expected
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_pins(&pins, &expected, &[], "web-stack");
    for package in project.lockfile().packages {
        assert!(!package.wheels.is_empty(), "{} has no wheel", package.name);
        for wheel in &package.wheels {
            let served = index.file(&wheel.name).expect("a served file");
            assert_eq!(wheel.sha256, served.dist.sha256);
            assert_eq!(wheel.size, Some(served.dist.bytes.len() as u64));
            assert!(wheel.url.starts_with(index.url()), "{}", wheel.url);
            assert!(wheel.upload_time.is_some(), "JSON pages give upload times");
        }
    }
}

#[test]
fn a_small_lockfile_snapshot() {
    let index = TestIndex::start(
        Scenario::new("small")
            .version(
                "app",
                "1.0.0",
                VersionSpec::new()
                    .requires(["dep>=1"])
                    .requires_python(">=3.9"),
            )
            .versions("dep", &["1.0.0", "1.2.0"]),
    );
    let project = Project::with_requirements(&index.index_url(), "linux-x86_64", &["app"], &[]);
    project.lock_ok(&["-q"]);
    // The server's port changes from run to run, and with it the inputs hash.
    let text: String = project
        .lockfile_text()
        .unwrap()
        .replace(index.url(), "http://[index]")
        .lines()
        .map(|l| {
            if l.starts_with("inputs-hash = ") {
                "inputs-hash = \"[hash]\"\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    insta::assert_snapshot!(text);
}

#[test]
fn locking_twice_is_byte_identical_even_with_a_cold_cache() {
    let index = web_stack();
    let project = web_project(&index);
    project.lock_ok(&[]);
    let first = project.lockfile_text().unwrap();
    let out = project.lock_ok(&[]);
    assert_eq!(project.lockfile_text().unwrap(), first);
    assert!(stderr(&out).contains("is up to date"), "{}", stderr(&out));
    // A fresh cache gives the same bytes too.
    std::fs::remove_dir_all(&project.cache).unwrap();
    project.lock_ok(&["-q"]);
    assert_eq!(project.lockfile_text().unwrap(), first);
    // No temporary files are left beside the lockfile.
    let leftovers: Vec<_> = std::fs::read_dir(project.path().join("lockfiles"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["pylock.application.toml"]);
}

#[test]
fn check_passes_after_lock_and_fails_after_a_manifest_edit() {
    let index = web_stack();
    let project = web_project(&index);
    let missing = project.run(&["lock", "--check"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("is missing"),
        "{}",
        stderr(&missing)
    );

    project.lock_ok(&[]);
    let locked = project.lockfile_text().unwrap();
    index.clear_requests();
    let ok = project.run(&["lock", "--check"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(index.requests().is_empty(), "--check needs no network");

    // Adding a constraint and a requirement makes it stale, naming both.
    project.write_manifest(&manifest(
        &index.index_url(),
        "linux-x86_64",
        &["webapp[standard]>=0.110", "pydanticish>=2", "click-ish"],
        &["anyio-ish<5"],
    ));
    let stale = project.run(&["lock", "--check"]);
    assert_eq!(stale.status.code(), Some(1));
    let message = stderr(&stale);
    assert!(
        message.contains("requirement `click-ish` added"),
        "{message}"
    );
    assert!(
        message.contains("constraint `anyio-ish<5` added"),
        "{message}"
    );
    assert_eq!(
        project.lockfile_text().unwrap(),
        locked,
        "--check writes nothing"
    );

    // Comments and formatting of the manifest do not make it stale.
    project.write_manifest(&format!(
        "# a comment\n{}",
        manifest(
            &index.index_url(),
            "linux-x86_64",
            &["webapp[standard]>=0.110", "pydanticish>=2"],
            &[],
        )
    ));
    assert!(project.run(&["lock", "--check"]).status.success());

    // Changing the target does.
    project.write_manifest(
        &manifest(
            &index.index_url(),
            "linux-x86_64",
            &["webapp[standard]>=0.110", "pydanticish>=2"],
            &[],
        )
        .replace("python = \"3.12\"", "python = \"3.11\""),
    );
    let stale = project.run(&["lock", "--check"]);
    assert!(!stale.status.success());
    assert!(
        stderr(&stale).contains("python changed from `3.12` to `3.11`"),
        "{}",
        stderr(&stale)
    );
}

#[test]
fn metadata_is_never_fetched_twice_and_fresh_pages_are_not_refetched() {
    // web-stack sends `Cache-Control: max-age=600`, so pages stay fresh.
    let index = web_stack();
    let project = web_project(&index);
    project.lock_ok(&["-q"]);
    assert!(!index.requests_to("/files/").is_empty());
    std::fs::remove_file(project.lockfile_path()).unwrap();
    index.clear_requests();
    project.lock_ok(&["-q"]);
    assert!(
        index.requests().is_empty(),
        "a warm lock with fresh pages makes no request: {:?}",
        index.requests()
    );
    // --refresh ignores the cache.
    index.clear_requests();
    project.lock_ok(&["-q", "--refresh"]);
    assert!(!index.requests_to("/simple/").is_empty());
}

#[test]
fn pages_without_cache_headers_are_revalidated_but_metadata_is_not() {
    let index = TestIndex::start(
        Scenario::new("no-cache-headers")
            .version("app", "1.0.0", VersionSpec::new().requires(["dep"]))
            .versions("dep", &["1.0.0"])
            .pep658(false),
    );
    let project = Project::with_requirements(&index.index_url(), "linux-x86_64", &["app"], &[]);
    project.lock_ok(&["-q"]);
    std::fs::remove_file(project.lockfile_path()).unwrap();
    index.clear_requests();
    project.lock_ok(&["-q"]);
    assert_eq!(
        index.requests_to("/simple/").len(),
        2,
        "{:?}",
        index.requests()
    );
    assert!(
        index.requests_to("/files/").is_empty(),
        "{:?}",
        index.requests()
    );
}

#[test]
fn offline_uses_the_cache_only() {
    let index = web_stack();
    let project = web_project(&index);

    // Cold and offline: a clear error, no request, no lockfile.
    let message = project.lock_err(&["--offline"]);
    assert!(message.contains("--offline"), "{message}");
    assert!(message.contains("hint:"), "{message}");
    assert!(index.requests().is_empty());
    assert!(project.lockfile_text().is_none());

    // Warm and offline: the same lockfile, no request.
    project.lock_ok(&["-q"]);
    let online = project.lockfile_text().unwrap();
    std::fs::remove_file(project.lockfile_path()).unwrap();
    index.clear_requests();
    project.lock_ok(&["-q", "--offline"]);
    assert!(index.requests().is_empty(), "{:?}", index.requests());
    assert_eq!(project.lockfile_text().unwrap(), online);
}

fn versions_index(versions: &[&str]) -> TestIndex {
    TestIndex::start(
        Scenario::new("prefs")
            .version(
                "app",
                "1.0.0",
                VersionSpec::new().requires(["lib", "other"]),
            )
            .versions("lib", versions)
            .versions("other", versions),
    )
}

#[test]
fn relocking_keeps_locked_versions_until_upgraded() {
    let old = versions_index(&["1.0.0"]);
    let mut project = Project::with_requirements(
        "https://unused.invalid/simple",
        "linux-x86_64",
        &["app"],
        &[],
    );
    // The manifest stays the same; the index is redirected with SANCTUARY_INDEX_TEST.
    project.env("SANCTUARY_INDEX_TEST", &old.index_url());
    project.lock_ok(&["-q"]);
    assert_pins(
        &project.pins(),
        &[("lib", "1.0.0"), ("other", "1.0.0")],
        &[],
        "first lock",
    );
    assert!(project.lockfile_text().unwrap().contains(old.url()));

    let new = versions_index(&["1.0.0", "2.0.0"]);
    let mut project2 = Project::new();
    std::fs::create_dir_all(project2.path().join("lockfiles")).unwrap();
    project2.write_manifest(&project.manifest());
    std::fs::copy(project.lockfile_path(), project2.lockfile_path()).unwrap();
    project2.env("SANCTUARY_INDEX_TEST", &new.index_url());

    project2.lock_ok(&["-q"]);
    assert_pins(
        &project2.pins(),
        &[("lib", "1.0.0"), ("other", "1.0.0")],
        &[],
        "preferences",
    );

    let out = project2.lock_ok(&["--upgrade-package", "lib"]);
    assert_pins(
        &project2.pins(),
        &[("lib", "2.0.0"), ("other", "1.0.0")],
        &[],
        "upgrade one",
    );
    assert!(
        stderr(&out).contains("~ lib 1.0.0 -> 2.0.0"),
        "{}",
        stderr(&out)
    );

    project2.lock_ok(&["-q", "--upgrade"]);
    assert_pins(
        &project2.pins(),
        &[("lib", "2.0.0"), ("other", "2.0.0")],
        &[],
        "upgrade all",
    );

    // A manifest that forces a change overrides the preference.
    project.write_manifest(
        &project
            .manifest()
            .replace("\"app\",", "\"app\",\n    \"other>=2\","),
    );
    project.env("SANCTUARY_INDEX_TEST", &new.index_url());
    project.lock_ok(&["-q"]);
    assert_pins(
        &project.pins(),
        &[("lib", "1.0.0"), ("other", "2.0.0")],
        &[],
        "forced",
    );
}

#[test]
fn two_processes_can_share_one_cache() {
    let index = TestIndex::start(Scenario::ours("web-stack").with_server(|s| {
        // Slow pages make the two runs overlap.
        s.faults.push(crate::support::Fault::delay("/simple/", 30));
    }));
    let a = web_project(&index);
    let mut b = web_project(&index);
    b.cache = a.cache.clone();
    let mut first = a.command(&["lock", "-q"]).spawn().unwrap();
    let mut second = b.command(&["lock", "-q"]).spawn().unwrap();
    assert!(first.wait().unwrap().success());
    assert!(second.wait().unwrap().success());
    assert_eq!(a.lockfile_text().unwrap(), b.lockfile_text().unwrap());
    // The shared cache is whole: a third, offline run is served from it alone.
    std::fs::remove_file(b.lockfile_path()).unwrap();
    index.clear_requests();
    b.lock_ok(&["-q", "--offline"]);
    assert!(index.requests().is_empty());
    assert_eq!(a.lockfile_text().unwrap(), b.lockfile_text().unwrap());
}

/// An index whose page links its files on another host: `lock` refuses to write a lockfile
/// that `sync` would refuse, with the hint to declare the host; `file-origins` declares it.
#[test]
fn files_on_another_host_need_file_origins() {
    let files = TestIndex::start(Scenario::new("cdn").versions("demo", &["1.0.0"]));
    let project = Project::new();
    let page = project.path().join("links.html");
    let demo = files
        .file("demo-1.0.0-py3-none-any.whl")
        .expect("demo wheel");
    std::fs::write(
        &page,
        format!(
            "<a href=\"{}#sha256={}\">{}</a>\n",
            files.file_url(&demo.dist.filename),
            demo.dist.sha256,
            demo.dist.filename
        ),
    )
    .unwrap();
    let page_url = url::Url::from_file_path(&page).unwrap();
    let write = |origins: &str| {
        project.write_manifest(&format!(
            "[project]\nname = \"x\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n\n\
             [[index]]\nname = \"links\"\nurl = \"{page_url}\"\nformat = \"flat\"\n{origins}\n\
             [application]\nrequirements = [\"demo\"]\n"
        ))
    };
    write("");
    let message = project.lock_err(&[]);
    assert!(
        message.contains(&files.file_url(&demo.dist.filename))
            && message.contains("hint:")
            && message.contains("file-origins"),
        "{message}"
    );
    assert!(!project.lockfile_path().exists());

    write(&format!("file-origins = [\"{}\"]\n", files.url()));
    project.lock_ok(&[]);
    assert!(project.run(&["lock", "--check"]).status.success());
}

/// Regression: lockfiles were always written with mode 0600 (a temporary file's), so a
/// team's shared checkout could not read them; they get the mode the umask gives.
#[cfg(unix)]
#[test]
fn lockfiles_get_the_mode_the_umask_gives() {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let index = web_stack();
    let project = web_project(&index);
    project.lock_ok(&["-q"]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    // What any new file of this process gets (the child inherits the umask).
    let probe = project.path().join("probe");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&probe)
        .unwrap();
    assert_ne!(mode(&probe), 0o600, "this umask cannot tell the two apart");
    assert_eq!(mode(&project.lockfile_path()), mode(&probe));
}
