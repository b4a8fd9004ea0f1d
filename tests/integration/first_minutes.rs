//! The first five minutes of a new user: `init`, a missing manifest, plain logs when stderr is
//! not a terminal, `diff` without arguments, options only where they mean something.

use crate::common::{Project, stderr};

#[test]
fn init_writes_a_manifest_that_locks_and_never_overwrites_one() {
    let p = Project::new();
    let out = p.run(&["init", "--python", "3.12"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = p.manifest();
    assert!(
        text.contains("python = \"3.12\"") && text.contains("[application]"),
        "{text}"
    );
    assert!(!text.contains("[foundation]"), "{text}");
    // It locks as it is (no requirements yet, nothing to fetch).
    p.lock_ok(&["--offline"]);

    // Never over an existing manifest: exit 2, the file as it was.
    let out = p.run(&["init", "--foundation"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(p.manifest(), text);

    // --foundation: the PyTorch index and the keys.
    let other = p.path().join("gpu/sanctuary.toml");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args(["init", "--foundation", "--python", "3.12", "--manifest"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&other).unwrap();
    assert!(
        text.contains("[foundation]") && text.contains("download.pytorch.org/whl/{key}"),
        "{text}"
    );
    assert!(text.contains("name = \"gpu\""), "{text}");
}

/// Regression: a missing manifest was reported with the same words twice (a `caused by:`
/// repeating the error) and no way forward.
#[test]
fn a_missing_manifest_is_said_once_with_a_hint() {
    let p = Project::new();
    let out = p.run(&["lock"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: cannot read the manifest"), "{err}");
    assert!(!err.contains("caused by"), "{err}");
    assert!(err.contains("hint: run `sanctuary init`"), "{err}");
}

/// Regression: `-v` logs carried ANSI colour codes into files and CI logs.
#[test]
fn logs_carry_no_ansi_codes_when_stderr_is_not_a_terminal() {
    let p = Project::new();
    p.run(&["init", "--python", "3.12"]);
    let out = p
        .command(&["lock", "-vv", "--offline"])
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains("DEBUG") || err.contains("INFO"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

#[test]
fn diff_without_arguments_points_at_git() {
    let p = Project::new();
    let out = p.run(&["diff"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("sanctuary diff --git"), "{err}");
}

/// Network options belong to the commands that reach an index.
#[test]
fn network_options_are_only_on_lock_and_sync() {
    let p = Project::new();
    for args in [
        &["diff", "--offline", "a", "b"][..],
        &["tree", "--refresh"],
        &["detect", "--concurrency", "4"],
    ] {
        let out = p.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("unexpected argument"),
            "{}",
            stderr(&out)
        );
    }
    let out = p.run(&["lock", "--offline", "--help"]);
    assert!(out.status.success());
}
