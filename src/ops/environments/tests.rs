//! Choosing a declared environment from flags, and seeing lockfiles from it.

use std::path::Path;
use std::str::FromStr as _;

use super::*;
use crate::ops::lockfiles::Layer;
use crate::pylock::{LockedPackage, LockedWheel};

/// Linux and macOS, Python 3.11 to 3.13, in a directory with no venv.
fn universal(dir: &Path) -> Manifest {
    let text = "[project]\nname = \"u\"\npython = \">=3.11,<3.14\"\n\
                platforms = [\"linux-x86_64\", \"macos-arm64\"]\n";
    Manifest::parse(text, &dir.join("sanctuary.toml")).unwrap()
}

fn single(dir: &Path) -> Manifest {
    let text = "[project]\nname = \"s\"\npython = \"3.12\"\nplatform = \"macos-arm64\"\n";
    Manifest::parse(text, &dir.join("sanctuary.toml")).unwrap()
}

fn declared(choice: Choice) -> ChosenEnv {
    match choice {
        Choice::Declared(chosen) => chosen,
        Choice::Outside(o) => panic!("outside: {o:?}"),
    }
}

#[test]
fn flags_name_a_declared_environment() {
    let dir = tempfile::tempdir().unwrap();
    let m = universal(dir.path());
    let chosen = declared(for_reading(&m, Some("macos-arm64"), Some("3.12"), "export").unwrap());
    assert!(chosen.universal);
    assert_eq!(chosen.python, "3.12");
    assert_eq!(chosen.describe(), "Python 3.12 on macos-arm64");
    // A floor in the flag names the same system; a patch release the same minor.
    let chosen =
        declared(for_reading(&m, Some("macos-arm64-14"), Some("3.11.4"), "export").unwrap());
    assert_eq!(chosen.describe(), "Python 3.11 on macos-arm64");
}

#[test]
fn an_undeclared_platform_or_python_is_refused_naming_the_declared_ones() {
    let dir = tempfile::tempdir().unwrap();
    let m = universal(dir.path());
    let err = for_reading(&m, Some("windows-x86_64"), Some("3.12"), "export").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("--platform windows-x86_64: "), "{text}");
    assert!(
        text.contains("(declared: linux-x86_64, macos-arm64)"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("--platform linux-x86_64"));

    let err = for_reading(&m, Some("linux-x86_64"), Some("3.10"), "export").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("--python 3.10: "), "{text}");
    assert!(text.contains("(declared: 3.11, 3.12, 3.13)"), "{text}");
}

#[test]
fn several_minors_and_no_venv_need_python() {
    let dir = tempfile::tempdir().unwrap();
    let m = universal(dir.path());
    let err = for_reading(&m, Some("linux-x86_64"), None, "tree").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("declares several Python versions (3.11, 3.12, 3.13)"),
        "{text}"
    );
    assert!(text.ends_with("tree needs --python"), "{text}");
    assert!(err.hint().unwrap().contains("--python 3.13"));
}

/// One environment: that one, whatever the host, as before universal locks; a flag naming
/// another is refused.
#[test]
fn a_single_environment_is_kept_and_flags_must_name_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = single(dir.path());
    let chosen = declared(for_reading(&m, None, None, "export").unwrap());
    assert!(!chosen.universal);
    assert_eq!(chosen.target, m.target);
    assert_eq!(chosen.python, "3.12");
    assert!(for_reading(&m, Some("macos-arm64"), Some("3.12"), "export").is_ok());
    assert!(for_reading(&m, Some("linux-x86_64"), None, "export").is_err());
    let chosen = declared(for_venv(&m, &dir.path().join(".venv"), None).unwrap());
    assert_eq!(chosen.target, m.target);
}

fn package(name: &str, version: &str, marker: Option<&str>) -> LockedPackage {
    let file = format!("{}-{version}-py3-none-any.whl", name.replace('-', "_"));
    LockedPackage {
        name: name.parse().unwrap(),
        version: version.parse().unwrap(),
        marker: marker.map(str::to_string),
        index: "https://x.test/simple".to_string(),
        requires_python: None,
        dependencies: vec![],
        dependency_markers: Default::default(),
        sdist: None,
        wheels: vec![LockedWheel {
            url: format!("https://x.test/{file}"),
            name: file,
            size: None,
            upload_time: None,
            sha256: "a".repeat(64),
        }],
        source: None,
        direct: true,
        extras: vec![],
    }
}

fn selection(environments: Vec<String>) -> Selection {
    let lock = Lockfile {
        environments,
        packages: vec![
            package("lib", "1.0", Some("python_version < '3.12'")),
            package("lib", "2.0", Some("python_version >= '3.12'")),
            package("mac-only", "1.0", Some("sys_platform == 'darwin'")),
        ],
        ..Lockfile::empty_for_tests()
    };
    Selection {
        layer: Layer::Application,
        key: None,
        foundation: None,
        application: Some(Loaded {
            rel: "lockfiles/pylock.application.toml".to_string(),
            lock,
        }),
        beneath: None,
        declared: vec![],
    }
}

fn pins(selection: &Selection) -> Vec<String> {
    selection
        .files()
        .iter()
        .flat_map(|l| &l.lock.packages)
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect()
}

#[test]
fn a_universal_lock_is_seen_from_the_chosen_environment() {
    let dir = tempfile::tempdir().unwrap();
    let m = universal(dir.path());
    let all = selection(m.universe.environment_markers());
    let mac = for_reading(&m, Some("macos-arm64"), Some("3.11"), "export").unwrap();
    let (seen, chosen) = narrow(&m, all.clone(), &mac).unwrap();
    assert_eq!(pins(&seen), ["lib==1.0", "mac-only==1.0"]);
    assert_eq!(chosen.describe(), "Python 3.11 on macos-arm64");
    let linux = for_reading(&m, Some("linux-x86_64"), Some("3.13"), "export").unwrap();
    let (seen, _) = narrow(&m, all, &linux).unwrap();
    assert_eq!(pins(&seen), ["lib==2.0"]);
}

/// A lockfile whose `environments` leave the chosen one out (written for another manifest),
/// or a host outside the declared ones, is refused naming the host, the lockfile and what it
/// covers.
#[test]
fn an_environment_the_lockfile_does_not_cover_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let m = universal(dir.path());
    let linux_only: Vec<String> = m.universe.environment_markers()[..3].to_vec();
    let mac = for_reading(&m, Some("macos-arm64"), Some("3.12"), "export").unwrap();
    let err = narrow(&m, selection(linux_only.clone()), &mac).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Python 3.12 on macos-arm64 is outside lockfiles/pylock.application.toml: it covers \
         Python 3.11 on linux-x86_64; Python 3.12 on linux-x86_64; Python 3.13 on linux-x86_64"
    );
    assert!(err.hint().unwrap().contains("run `sanctuary lock`"));

    let old_python = Choice::Outside(outside(
        &m,
        &Platform::from_str("linux-x86_64").unwrap(),
        Some(&Version::new([3, 10])),
        None,
    ));
    let err = narrow(&m, selection(linux_only), &old_python).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("Python 3.10 on linux-x86_64 is outside lockfiles/pylock.application.toml: it covers Python 3.11 on linux-x86_64;"),
        "{text}"
    );
    let hint = err.hint().unwrap();
    assert!(hint.contains("widen `python = \">=3.11,<3.14\"`"), "{hint}");
    assert!(hint.contains("take in 3.10"), "{hint}");

    let windows = Choice::Outside(outside(
        &m,
        &Platform::from_str("windows-x86_64").unwrap(),
        None,
        Some("export"),
    ));
    let err = narrow(&m, selection(vec![]), &windows).unwrap_err();
    assert!(
        err.to_string().starts_with("windows-x86_64 is outside"),
        "{err}"
    );
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("add \"windows-x86_64\" to `[project] platforms`"),
        "{hint}"
    );
    assert!(
        hint.contains("sanctuary export --platform P --python V"),
        "{hint}"
    );
}
