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
    // Below the phases: how long the network was busy and when it first answered, and the
    // work the threads did (a cold cache: pages were waited for, then parsed).
    assert!(err.contains("s busy ("), "{err}");
    assert!(err.contains(", the first answer after "), "{err}");
    for work in [
        "s  the resolver waiting for pages and metadata",
        "s  parsing pages and metadata",
    ] {
        assert!(work_lines(&err).any(|l| l.ends_with(work)), "{work}: {err}");
    }
    assert_cpu_line(&err);

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
    for work in [
        "s  hashing (downloads, and the files their RECORDs list)",
        "s  inflating wheels",
        "s  creating and writing files",
    ] {
        assert!(work_lines(&err).any(|l| l.ends_with(work)), "{work}: {err}");
    }
    assert_cpu_line(&err);
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

/// The lines of the report's `work` block.
fn work_lines(report: &str) -> impl Iterator<Item = &str> {
    report
        .lines()
        .skip_while(|l| !l.starts_with("  work, summed over the threads"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
}

/// Where the CPU time is known, the report says it.
fn assert_cpu_line(report: &str) {
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        assert!(
            report.lines().any(|l| l.starts_with("  cpu: ")
                && l.contains("s user, ")
                && l.contains("s system, on ")),
            "{report}"
        );
    }
}
