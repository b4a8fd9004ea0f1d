//! Bad input through the CLI: conflicts explained in plain words with their manifest lines,
//! malformed manifests located at line and column; neither touches the existing lockfile.

use crate::common::{Project, manifest};
use crate::support::{Scenario, TestIndex, VersionSpec};

fn conflict_index() -> TestIndex {
    TestIndex::start(
        Scenario::new("conflicts")
            .version(
                "peft",
                "0.13.0",
                VersionSpec::new().requires(["torch>=2.4"]),
            )
            .versions("torch", &["2.3.1", "2.4.0"])
            .version("old", "1.0.0", VersionSpec::new().wheel(false))
            .version(
                "newpy",
                "1.0.0",
                VersionSpec::new().requires_python(">=3.13"),
            ),
    )
}

fn lock_error(index: &TestIndex, requirements: &[&str], constraints: &[&str]) -> String {
    lock_error_with(index, requirements, constraints, "")
}

/// [`lock_error`] with `extra` appended to the manifest.
fn lock_error_with(
    index: &TestIndex,
    requirements: &[&str],
    constraints: &[&str],
    extra: &str,
) -> String {
    let project = Project::with_requirements(
        &index.index_url(),
        "linux-x86_64",
        requirements,
        constraints,
    );
    project.write_manifest(&format!("{}{extra}", project.manifest()));
    project.lock_err(&[]).replace(index.url(), "http://[index]")
}

#[test]
fn conflicts_are_explained_with_their_origins_and_hints() {
    let index = conflict_index();
    let report = [
        (
            "direct",
            lock_error(&index, &["peft==0.13.0", "torch<2.4"], &[]),
        ),
        (
            "constraint",
            lock_error(&index, &["peft"], &["torch==2.3.1"]),
        ),
        (
            "sdist only, building off",
            lock_error_with(&index, &["old"], &[], "\n[build]\nno-build = true\n"),
        ),
        ("requires-python", lock_error(&index, &["newpy"], &[])),
        (
            "missing",
            lock_error(&index, &["peft", "does-not-exist"], &[]),
        ),
    ]
    .iter()
    .map(|(name, text)| format!("--- {name}\n{text}"))
    .collect::<String>();
    insta::assert_snapshot!(report);
}

#[test]
fn a_failed_lock_leaves_the_lockfile_as_it_was() {
    let index = conflict_index();
    let project = Project::with_requirements(&index.index_url(), "linux-x86_64", &["peft"], &[]);
    project.lock_ok(&["-q"]);
    let before = project.lockfile_text().unwrap();
    project.write_manifest(&manifest(
        &index.index_url(),
        "linux-x86_64",
        &["peft", "torch<2.4"],
        &[],
    ));
    let message = project.lock_err(&[]);
    assert!(message.contains("torch<2.4"), "{message}");
    assert_eq!(project.lockfile_text().unwrap(), before);
}

#[test]
fn a_malformed_manifest_is_located_and_changes_nothing() {
    let index = conflict_index();
    let project = Project::with_requirements(&index.index_url(), "linux-x86_64", &["peft"], &[]);
    project.lock_ok(&["-q"]);
    let before = project.lockfile_text().unwrap();
    let cases = [
        (
            "bad requirement",
            project.manifest().replace("\"peft\"", "\"peft>=\""),
        ),
        (
            "unknown field",
            project
                .manifest()
                .replace("[application]", "[application]\nrequirement = []"),
        ),
        (
            "bad toml",
            project.manifest().replace("[application]", "[application"),
        ),
        (
            "unknown index",
            format!("{}sources = {{ peft = \"nowhere\" }}\n", project.manifest()),
        ),
    ];
    let mut report = String::new();
    for (name, text) in cases {
        project.write_manifest(&text);
        let out = project.run(&["lock"]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let message =
            crate::common::stderr(&out).replace(&*project.path().to_string_lossy(), "[project]");
        report.push_str(&format!("--- {name}\n{message}"));
        assert_eq!(project.lockfile_text().unwrap(), before, "{name}");
    }
    insta::assert_snapshot!(report);
}

#[test]
fn usage_errors_exit_2() {
    let project = Project::new();
    let out = project.run(&["lock", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}
