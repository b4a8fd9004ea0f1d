//! `--timings` of `lock` and `sync`: each phase, what the network carried, the total. Only
//! the shape is checked: times are the benches' business, never a test's.

use crate::common::stderr;
use crate::sync::env;

/// `lock --timings` and `sync --timings` say where the time went, even with `-q`: each
/// phase, what the network carried (the test server's requests and bytes), and the total.
/// Only the shape is checked: times are the bench's business, never a test's.
#[test]
fn timings_name_each_phase_and_what_the_network_carried() {
    let env = env(&["app==1.0.0"]);
    let out = env.project.run(&["lock", "-q", "--timings"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.first(), Some(&"timings:"), "{err}");
    for phase in [
        "s  reading the manifest and the local projects",
        "s  resolving the application layer",
        "s  writing the lockfiles",
        "s  in all",
    ] {
        assert!(err.contains(phase), "{phase}: {err}");
    }
    assert!(requests_of(&err) > 0, "{err}");

    let err = env.sync_ok(&["-q", "--timings"]);
    for phase in [
        "s  syncing the venv",
        "s  downloading and unpacking 2 wheels",
        "s  creating the venv",
        "s  installing into the venv",
        "s  the rest: finding the interpreter",
        "s  in all",
    ] {
        assert!(err.contains(phase), "{phase}: {err}");
    }
    // Two wheels downloaded: at least two requests.
    assert!(requests_of(&err) >= 2, "{err}");
    // Without the flag, nothing of it.
    let quiet = env.sync_ok(&["-q"]);
    assert!(!quiet.contains("timings:"), "{quiet}");
}

/// The requests of a `--timings` report's `network:` line.
fn requests_of(report: &str) -> u64 {
    report
        .lines()
        .map(str::trim_start)
        .find_map(|l| l.strip_prefix("network: "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no network line: {report}"))
}
