//! Tests of the lockfile comparison and its wording.

use super::*;
use crate::pylock::{LocalSource, LockedSdist, LockedWheel, VcsKind};
use std::str::FromStr;

fn v(s: &str) -> Version {
    Version::from_str(s).unwrap()
}

fn wheel(file: &str, sha: &str) -> LockedWheel {
    LockedWheel {
        name: file.to_string(),
        url: format!("https://example.test/{file}"),
        size: Some(100),
        upload_time: None,
        sha256: sha.repeat(64 / sha.len()),
    }
}

fn pkg(name: &str, version: &str, deps: &[&str], direct: bool) -> LockedPackage {
    LockedPackage {
        name: pep508_rs::PackageName::from_str(name).unwrap(),
        version: v(version),
        marker: None,
        index: "https://example.test/simple".to_string(),
        requires_python: None,
        dependencies: deps
            .iter()
            .map(|d| pep508_rs::PackageName::from_str(d).unwrap())
            .collect(),
        sdist: None,
        dependency_markers: Default::default(),
        wheels: vec![wheel(&format!("{name}-{version}-py3-none-any.whl"), "a")],
        source: None,
        direct,
        extras: Vec::new(),
    }
}

fn lock(packages: Vec<LockedPackage>) -> Lockfile {
    Lockfile {
        packages,
        ..Lockfile::empty_for_tests()
    }
}

#[test]
fn versions_are_classified_from_their_release_segments() {
    use Bump::*;
    use ChangeKind::*;
    for (old, new, expected) in [
        ("1.26.4", "2.1.0", Some((Upgraded, Major))),
        ("2.1.0", "1.26.4", Some((Downgraded, Major))),
        ("4.40.0", "4.41.2", Some((Upgraded, Minor))),
        ("1.0", "1.0.1", Some((Upgraded, Patch))),
        ("1.0.0.1", "1.0.0", Some((Downgraded, Patch))),
        ("1.0", "1.0.0", None),
        ("2.0.0rc1", "2.0.0", Some((Upgraded, Other))),
        ("1.0.post1", "1.0", Some((Downgraded, Other))),
        ("1!1.0", "2.0", Some((Downgraded, Major))),
        ("2.9.0+cu128", "2.9.0+cu130", None),
        ("2.8.0+cu128", "2.9.0+cu130", Some((Upgraded, Minor))),
    ] {
        assert_eq!(classify(&v(old), &v(new)), expected, "{old} -> {new}");
    }
}

#[test]
fn via_chains_take_the_shortest_path_from_a_direct_package() {
    let l = lock(vec![
        pkg("peft", "0.13.0", &["accelerate", "torch"], true),
        pkg("accelerate", "1.0.0", &["psutil", "safetensors"], false),
        pkg("safetensors", "0.4.5", &[], false),
        pkg("psutil", "6.0.0", &[], false),
        pkg("torch", "2.9.0", &[], false),
        pkg("orphan", "1.0", &[], false),
    ]);
    let chains = via_chains(&l);
    assert_eq!(chains["peft"], Vec::<String>::new());
    assert_eq!(chains["torch"], vec!["peft"]);
    assert_eq!(chains["psutil"], vec!["peft", "accelerate"]);
    assert!(!chains.contains_key("orphan"));
}

#[test]
fn same_version_artifacts_are_compared_by_file_name() {
    let mut old = pkg("torch", "2.9.0", &[], true);
    old.wheels
        .push(wheel("torch-2.9.0-cp312-cp312-linux_x86_64.whl", "b"));
    let mut rehashed = old.clone();
    rehashed.wheels[1].sha256 = "c".repeat(64);
    let mut more = old.clone();
    more.wheels
        .push(wheel("torch-2.9.0-cp312-cp312-linux_aarch64.whl", "d"));
    let (o, r, m) = (lock(vec![old]), lock(vec![rehashed]), lock(vec![more]));

    let loud = compare(Some(&o), Some(&r));
    assert_eq!(loud.len(), 1);
    assert_eq!(loud[0].change, ChangeKind::ArtifactChanged);
    assert_eq!(
        loud[0].artifacts[0].change,
        ArtifactChangeKind::Sha256Changed
    );
    let quiet = compare(Some(&o), Some(&m));
    assert_eq!(quiet[0].change, ChangeKind::WheelsChanged);
    assert_eq!(quiet[0].artifacts[0].change, ArtifactChangeKind::WheelAdded);
    assert!(compare(Some(&o), Some(&o)).is_empty());

    let lines = summary_lines(Some(&o), &r);
    assert!(lines[0].starts_with("!! torch 2.9.0: artifact torch-2.9.0-cp312"));
    assert!(lines[0].contains("sha256 changed (was bbbbbbbbbbbb…, now cccccccccccc…)"));
    assert!(lines[0].contains("re-uploaded or tampered with"));
}

#[test]
fn a_missing_side_is_all_added_or_all_removed() {
    let l = lock(vec![
        pkg("a", "1.0", &["b"], true),
        pkg("b", "2.0", &[], false),
    ]);
    assert_eq!(
        summary_lines(None, &l),
        vec!["+ a 1.0 (direct)", "+ b 2.0 (via a)"]
    );
    let removed = compare(Some(&l), None);
    assert!(removed.iter().all(|c| c.change == ChangeKind::Removed));
    assert_eq!(removed[1].via, vec!["a"]);
}

fn sdist(file: &str, sha: &str) -> LockedSdist {
    LockedSdist {
        name: file.to_string(),
        url: format!("https://example.test/{file}"),
        size: Some(100),
        upload_time: None,
        sha256: sha.repeat(64 / sha.len()),
    }
}

fn git(name: &str, version: &str, commit: &str) -> LockedPackage {
    LockedPackage {
        index: String::new(),
        wheels: Vec::new(),
        source: Some(LocalSource::Vcs {
            kind: VcsKind::Git,
            url: "https://git.example.test/lib.git".to_string(),
            requested_revision: Some("main".to_string()),
            commit_id: commit.repeat(40 / commit.len()),
            subdirectory: None,
        }),
        ..pkg(name, version, &[], true)
    }
}

/// A re-uploaded sdist is as loud as a re-uploaded wheel; one added is as quiet.
#[test]
fn an_sdist_is_compared_like_a_wheel() {
    let mut old = pkg("demo", "1.0", &[], true);
    old.sdist = Some(sdist("demo-1.0.tar.gz", "b"));
    let mut rehashed = old.clone();
    rehashed.sdist = Some(sdist("demo-1.0.tar.gz", "c"));
    let bare = pkg("demo", "1.0", &[], true);

    let (o, r) = (lock(vec![old.clone()]), lock(vec![rehashed]));
    let loud = compare(Some(&o), Some(&r));
    assert_eq!(loud[0].change, ChangeKind::ArtifactChanged);
    assert_eq!(loud[0].artifacts[0].file, "demo-1.0.tar.gz");
    let lines = summary_lines(Some(&o), &r);
    assert!(
        lines[0].starts_with("!! demo 1.0: artifact demo-1.0.tar.gz sha256 changed"),
        "{lines:?}"
    );

    let added = compare(
        Some(&lock(vec![bare.clone()])),
        Some(&lock(vec![old.clone()])),
    );
    assert_eq!(added[0].change, ChangeKind::WheelsChanged);
    assert_eq!(added[0].artifacts[0].change, ArtifactChangeKind::SdistAdded);
    assert_eq!(
        summary_lines(Some(&lock(vec![old])), &lock(vec![bare])),
        vec!["* demo 1.0: sdist demo-1.0.tar.gz removed (direct)"]
    );
}

/// A git package's commit moving is told, with its version unchanged or not.
#[test]
fn a_moved_commit_is_reported_with_or_without_a_version_change() {
    let old = lock(vec![git("lib", "0.1.0", "0123456789")]);
    let moved = lock(vec![git("lib", "0.1.0", "abcdef0123")]);
    let changes = compare(Some(&old), Some(&moved));
    assert_eq!(changes[0].change, ChangeKind::SourceChanged);
    assert_eq!(
        changes[0].artifacts,
        vec![ArtifactChange {
            change: ArtifactChangeKind::CommitChanged,
            file: "https://git.example.test/lib.git".to_string(),
            old: Some("0123456789".repeat(4)),
            new: Some("abcdef0123".repeat(4)),
        }]
    );
    assert_eq!(
        summary_lines(Some(&old), &moved),
        vec!["~ lib 0.1.0: commit 0123456 -> abcdef0 (direct)"]
    );
    assert!(compare(Some(&old), Some(&old)).is_empty());

    let upgraded = lock(vec![git("lib", "0.2.0", "abcdef0123")]);
    assert_eq!(
        summary_lines(Some(&old), &upgraded),
        vec!["~ lib 0.1.0 -> 0.2.0  minor upgrade, commit 0123456 -> abcdef0 (direct)"]
    );
}

/// Any other move of a local source, or between an index and a local source, is a source
/// change naming both sides.
#[test]
fn a_source_that_moved_otherwise_names_both_sides() {
    let dir = |path: &str| LockedPackage {
        index: String::new(),
        wheels: Vec::new(),
        source: Some(LocalSource::Directory {
            path: path.to_string(),
            editable: true,
        }),
        ..pkg("lib", "0.1.0", &[], true)
    };
    let (a, b) = (lock(vec![dir("../a")]), lock(vec![dir("../b")]));
    assert_eq!(
        summary_lines(Some(&a), &b),
        vec!["~ lib 0.1.0: source directory ../a (editable) -> directory ../b (editable) (direct)"]
    );
    let indexed = lock(vec![pkg("lib", "0.1.0", &[], true)]);
    let changes = compare(Some(&indexed), Some(&a));
    assert_eq!(changes[0].change, ChangeKind::SourceChanged);
    assert_eq!(
        summary_lines(Some(&indexed), &a),
        vec![
            "* lib 0.1.0: wheel lib-0.1.0-py3-none-any.whl removed (direct)",
            "~ lib 0.1.0: source index -> directory ../a (editable) (direct)",
        ]
    );
    let mut retargeted = git("lib", "0.1.0", "0123456789");
    if let Some(LocalSource::Vcs { url, .. }) = &mut retargeted.source {
        *url = "https://evil.example.test/lib.git".to_string();
    }
    let line = summary_lines(
        Some(&lock(vec![git("lib", "0.1.0", "0123456789")])),
        &lock(vec![retargeted]),
    );
    assert!(
        line[0].contains("source git https://git.example.test/lib.git@0123456789")
            && line[0].contains("-> git https://evil.example.test/lib.git@"),
        "{line:?}"
    );
}

fn forked(name: &str, version: &str, marker: Option<&str>) -> LockedPackage {
    LockedPackage {
        marker: marker.map(str::to_string),
        ..pkg(name, version, &[], true)
    }
}

/// A package that gains a fork: the kept version's marker moves, the new fork is added with
/// its marker; and back, the lost fork is removed.
#[test]
fn a_fork_gained_or_lost_is_an_entry_added_or_removed_with_its_marker() {
    let one = lock(vec![forked("numpy", "2.0", None)]);
    let two = lock(vec![
        forked("numpy", "1.26", Some("python_version < '3.12'")),
        forked("numpy", "2.0", Some("python_version >= '3.12'")),
    ]);
    let gained = compare(Some(&one), Some(&two));
    assert_eq!(gained.len(), 2, "{gained:?}");
    assert_eq!(gained[0].change, ChangeKind::Added);
    assert_eq!(gained[0].marker.as_deref(), Some("python_version < '3.12'"));
    assert_eq!(gained[1].change, ChangeKind::MarkerChanged);
    assert_eq!(
        gained[1].marker_change,
        Some(MarkerChange {
            old: None,
            new: Some("python_version >= '3.12'".to_string())
        })
    );
    assert_eq!(
        summary_lines(Some(&one), &two),
        vec![
            "+ numpy 1.26 [python_version < '3.12'] (direct)",
            "~ numpy 2.0: marker every environment -> python_version >= '3.12' (direct)",
        ]
    );
    assert_eq!(
        summary_lines(Some(&two), &one),
        vec![
            "- numpy 1.26 [python_version < '3.12'] (direct)",
            "~ numpy 2.0: marker python_version >= '3.12' -> every environment (direct)",
        ]
    );
    assert!(compare(Some(&two), Some(&two)).is_empty());
}

/// A fork's version moves under the same marker: an upgrade of that fork alone.
#[test]
fn a_forks_upgrade_pairs_by_its_marker() {
    let old = lock(vec![
        forked("numpy", "1.26", Some("python_version < '3.12'")),
        forked("numpy", "2.0", Some("python_version >= '3.12'")),
    ]);
    let new = lock(vec![
        forked("numpy", "1.26", Some("python_version < '3.12'")),
        forked("numpy", "2.1", Some("python_version >= '3.12'")),
    ]);
    assert_eq!(
        summary_lines(Some(&old), &new),
        vec!["~ numpy 2.0 -> 2.1 [python_version >= '3.12']  minor upgrade (direct)"]
    );
    // The only entry on each side left unpaired pairs anyway: version and marker told.
    let moved = lock(vec![
        forked("numpy", "1.26", Some("python_version < '3.12'")),
        forked("numpy", "2.1", Some("python_version >= '3.13'")),
    ]);
    assert_eq!(
        summary_lines(Some(&old), &moved),
        vec![
            "~ numpy 2.0 -> 2.1 [python_version >= '3.13']  minor upgrade, marker python_version >= '3.12' -> python_version >= '3.13' (direct)"
        ]
    );
}

/// The lockfile's `environments` changing is told on the file, alone or with its packages.
#[test]
fn a_change_of_environments_is_told_on_the_file() {
    let linux =
        "python_version == '3.12' and sys_platform == 'linux' and platform_machine == 'x86_64'";
    let mac =
        "python_version == '3.12' and sys_platform == 'darwin' and platform_machine == 'arm64'";
    let old = Lockfile {
        environments: vec![linux.to_string()],
        ..lock(vec![pkg("a", "1.0", &[], true)])
    };
    let new = Lockfile {
        environments: vec![linux.to_string(), mac.to_string()],
        ..old.clone()
    };
    let pair = |old: &Lockfile, new: &Lockfile| FilePair {
        name: "pylock.application.toml".to_string(),
        old_path: Some("old".to_string()),
        new_path: Some("new".to_string()),
        old: Some(old.clone()),
        new: Some(new.clone()),
    };
    let report = DiffReport::new("old", "new", &[pair(&old, &new)]);
    assert!(report.has_changes());
    assert_eq!(report.files[0].status, FileStatus::Changed);
    assert_eq!(
        report.files[0].environments,
        Some(EnvironmentsChange {
            added: vec![mac.to_string()],
            removed: vec![],
        })
    );
    assert_eq!(report.summary.environments_changed, 1);
    let text = report.to_text(false);
    assert!(text.contains(&format!("  + environment {mac}\n")), "{text}");
    assert!(
        text.contains("environments changed in 1 lockfile"),
        "{text}"
    );
    let markdown = report.to_markdown();
    assert!(
        markdown.contains(&format!("Environments added: `{mac}`.")),
        "{markdown}"
    );
    assert!(!markdown.contains("| package |"), "{markdown}");
    let json = report.to_json();
    assert!(json.contains("\"environments\": {"), "{json}");
    // Unchanged environments: no key at all, as before universal locks.
    let same = DiffReport::new("old", "new", &[pair(&old, &old)]);
    assert!(!same.to_json().contains("environments"));
}

/// Narrowing a universal lock's Pythons drops a dozen wheels of one package: counted in one
/// line (they were listed one a line, burying what changed), an sdist change still named.
#[test]
fn many_wheels_added_or_removed_are_counted_in_one_line() {
    let mut old = pkg("numpy", "2.5.5", &[], false);
    old.wheels = (10..15)
        .map(|m| {
            wheel(
                &format!("numpy-2.5.5-cp3{m}-cp3{m}-manylinux_2_28_x86_64.whl"),
                "b",
            )
        })
        .collect();
    let mut new = old.clone();
    new.wheels.truncate(1);
    new.sdist = Some(wheel("numpy-2.5.5.tar.gz", "c"));
    let lines = summary_lines(Some(&lock(vec![old.clone()])), &lock(vec![new]));
    assert_eq!(
        lines,
        [
            "* numpy 2.5.5: 4 wheels removed (transitive)",
            "* numpy 2.5.5: sdist numpy-2.5.5.tar.gz added (transitive)"
        ]
    );
    // A few are still named.
    let mut few = old.clone();
    few.wheels.truncate(3);
    let lines = summary_lines(Some(&lock(vec![old])), &lock(vec![few]));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("wheel numpy-2.5.5-cp313"), "{lines:?}");
}
