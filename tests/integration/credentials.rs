//! Private indexes: credentials from `SANCTUARY_INDEX_<NAME>_USERNAME` / `_PASSWORD`, from the
//! index URL and from `~/.netrc` (`NETRC`) reach the server as HTTP Basic authentication, and
//! never reach a lockfile, an error message or a log line.

use std::process::Output;

use crate::common::{Project, stderr};
use crate::support::{Fault, Scenario, TestIndex, VersionSpec};

const USER: &str = "bob";
const TOKEN: &str = "t0ken-s3cret";

fn private_index() -> TestIndex {
    TestIndex::start(
        Scenario::new("private")
            .version("app", "1.0.0", VersionSpec::new().requires(["dep>=1"]))
            .versions("dep", &["1.0.0", "1.1.0"])
            .basic_auth(USER, TOKEN),
    )
}

/// `http://bob:TOKEN@127.0.0.1:PORT/simple` for `index`.
fn url_with_token(index: &TestIndex, token: &str) -> String {
    index
        .index_url()
        .replacen("http://", &format!("http://{USER}:{token}@"), 1)
}

/// A Python 3.11 project locking `app` from one index called `corp` at `url`, syncing into
/// `.venv`.
fn corp(url: &str) -> Project {
    let project = Project::new();
    project.write_manifest(&manifest(url));
    project
}

fn manifest(url: &str) -> String {
    format!(
        "[project]\nname = \"t\"\npython = \"3.11\"\nplatform = \"linux-x86_64\"\n\n\
         [[index]]\nname = \"corp\"\nurl = \"{url}\"\n\n\
         [application]\nrequirements = [\"app\"]\n\n[sync]\nvenv = \".venv\"\n"
    )
}

fn all_output(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out))
}

#[test]
fn index_password_never_reaches_the_lockfile() {
    let index = private_index();
    let project = corp(&url_with_token(&index, TOKEN));
    project.lock_ok(&["-q"]);
    let text = project.lockfile_text().unwrap();
    assert!(!text.contains(TOKEN), "{text}");
    assert!(!text.contains(&format!("{USER}:")), "{text}");
    assert!(!text.contains(&format!("{USER}@")), "{text}");
    assert!(
        text.contains(&format!("index = \"{}\"", index.index_url())),
        "{text}"
    );
    // Every request carried the credentials (the server refuses the others).
    assert!(index.requests().iter().all(|r| r.status != 401));

    // A new token is not a new input: the lockfile stays fresh.
    project.write_manifest(&manifest(&url_with_token(&index, "rotated-token")));
    let out = project.run(&["lock", "--check"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn index_errors_and_logs_do_not_print_the_password() {
    let index = TestIndex::start(
        Scenario::new("down")
            .versions("app", &["1.0.0"])
            .basic_auth(USER, TOKEN)
            .fault(Fault::status("/simple/", 503, 1000)),
    );
    let project = corp(&url_with_token(&index, TOKEN));
    let out = project.run(&["lock", "-vv"]);
    assert!(!out.status.success());
    let text = all_output(&out);
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("503"), "{text}");
    // The URL is named, without its credentials.
    assert!(
        text.contains(&format!("{}/app/", index.index_url())),
        "{text}"
    );

    // Unreachable, and an invalid URL in the environment: the same.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = corp(&format!("http://{USER}:{TOKEN}@127.0.0.1:{port}/simple"));
    let out = closed.run(&["lock", "-vvv"]);
    assert!(!out.status.success());
    let text = all_output(&out);
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("unreachable"), "{text}");

    let mut bad = corp("https://pypi.org/simple");
    bad.env(
        "SANCTUARY_INDEX_CORP",
        &format!("http://{USER}:{TOKEN}@[::1/simple"),
    );
    let out = bad.run(&["lock"]);
    assert!(!out.status.success());
    let text = all_output(&out);
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("SANCTUARY_INDEX_CORP"), "{text}");
    assert!(
        text.contains(&format!("http://{USER}:***@[::1/simple")),
        "{text}"
    );
}

#[test]
fn download_errors_do_not_print_the_password() {
    let index = private_index();
    let mut project = corp(&url_with_token(&index, TOKEN));
    project.lock_ok(&["-q"]);
    // The wheels now fail to download, with the credentials still in the manifest.
    drop(index);
    project.env("SANCTUARY_HTTP_DEADLINE", "2");
    let out = project.run(&["sync", "--frozen", "-vv"]);
    assert!(!out.status.success());
    let text = all_output(&out);
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("unreachable"), "{text}");
}

#[test]
fn credentials_from_env_vars_reach_the_index() {
    let index = private_index();
    // No credentials at all: refused, and the hint says where they go.
    let mut project = corp(&index.index_url());
    let message = project.lock_err(&[]);
    assert!(message.contains("401"), "{message}");
    assert!(
        message.contains("SANCTUARY_INDEX_CORP_USERNAME"),
        "{message}"
    );

    project.env("SANCTUARY_INDEX_CORP_USERNAME", USER);
    project.env("SANCTUARY_INDEX_CORP_PASSWORD", TOKEN);
    project.lock_ok(&["-q"]);
    assert!(index.requests().iter().any(|r| r.status == 200));

    // The environment wins over a stale token in the URL.
    let mut stale = corp(&url_with_token(&index, "stale"));
    stale.env("SANCTUARY_INDEX_CORP_PASSWORD", TOKEN);
    stale.lock_ok(&["-q"]);
}

#[test]
fn netrc_credentials_reach_the_index() {
    let index = private_index();
    let mut project = corp(&index.index_url());
    let netrc = project.path().join("netrc");
    std::fs::write(
        &netrc,
        format!(
            "# comment\nmachine example.com login other password nope\n\
             machine 127.0.0.1\n  login {USER}\n  password {TOKEN}\n\
             default login anonymous password guest\n"
        ),
    )
    .unwrap();
    project.env("NETRC", netrc.to_str().unwrap());
    project.lock_ok(&["-q"]);

    // The `default` entry applies to hosts no `machine` names.
    std::fs::write(
        &netrc,
        format!(
            "machine example.com login other password nope\ndefault login {USER} password {TOKEN}\n"
        ),
    )
    .unwrap();
    std::fs::remove_dir_all(project.path().join("lockfiles")).unwrap();
    project.lock_ok(&["-q", "--refresh"]);
}

#[test]
fn sync_downloads_get_the_index_credentials() {
    let index = private_index();
    let mut project = corp(&index.index_url());
    project.env("SANCTUARY_INDEX_CORP_USERNAME", USER);
    project.env("SANCTUARY_INDEX_CORP_PASSWORD", TOKEN);
    let out = project.run(&["sync", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let files = index.requests_to("/files/");
    assert!(
        files.iter().any(|r| r.method == "GET" && r.status == 200),
        "{files:?}"
    );
    assert!(index.requests().iter().all(|r| r.status != 401));
}
