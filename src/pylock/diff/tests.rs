//! Tests of the lockfile comparison and its wording.

use super::*;
use crate::pylock::{LockedSdist, LockedWheel, VcsKind};
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
        index: "https://example.test/simple".to_string(),
        requires_python: None,
        dependencies: deps
            .iter()
            .map(|d| pep508_rs::PackageName::from_str(d).unwrap())
            .collect(),
        sdist: None,
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
