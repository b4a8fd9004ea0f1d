//! Tests of the lockfile writer and reader.

use super::*;
use proptest::prelude::*;
use std::str::FromStr;

fn name(s: &str) -> PackageName {
    PackageName::from_str(s).unwrap()
}

fn sample() -> Lockfile {
    let inputs = InputSummary {
        requirements: vec!["fastapi>=0.110".into(), "pydantic[email]>=2".into()],
        constraints: vec!["numpy<2".into()],
        indexes: vec!["pypi=https://pypi.org/simple".into()],
        sources: vec![],
        prereleases: "if-necessary-or-explicit".into(),
        foundation: vec![],
    };
    let inputs_hash = inputs.hash("application", None, "3.12", "linux-x86_64-manylinux_2_28");
    Lockfile {
        environment: "python_full_version == '3.12.0' and sys_platform == 'linux'".into(),
        requires_python: "==3.12.*".into(),
        packages: vec![
            LockedPackage {
                name: name("pydantic"),
                version: Version::from_str("2.9.2").unwrap(),
                index: "https://pypi.org/simple".into(),
                requires_python: Some(">=3.8".into()),
                dependencies: vec![name("annotated-types"), name("pydantic-core")],
                sdist: None,
                wheels: vec![LockedWheel {
                    name: "pydantic-2.9.2-py3-none-any.whl".into(),
                    url: "https://files.example/pydantic-2.9.2-py3-none-any.whl".into(),
                    size: Some(434_900),
                    upload_time: Some("2024-09-17T15:59:51Z".into()),
                    sha256: "a".repeat(64),
                }],
                source: None,
                direct: true,
                extras: vec!["email".into()],
            },
            LockedPackage {
                name: name("annotated-types"),
                version: Version::from_str("0.7.0").unwrap(),
                index: "https://pypi.org/simple".into(),
                requires_python: None,
                dependencies: vec![],
                sdist: None,
                wheels: vec![LockedWheel {
                    name: "annotated_types-0.7.0-py3-none-any.whl".into(),
                    url: "https://files.example/annotated_types-0.7.0-py3-none-any.whl".into(),
                    size: None,
                    upload_time: None,
                    sha256: "b".repeat(64),
                }],
                source: None,
                direct: false,
                extras: vec![],
            },
        ],
        tool: ToolTable {
            format: FORMAT_VERSION,
            layer: "application".into(),
            key: None,
            python: "3.12".into(),
            platform: "linux-x86_64-manylinux_2_28".into(),
            inputs_hash,
            inputs,
        },
    }
}

#[test]
fn render_is_sorted_and_stable() {
    let lock = sample();
    let text = lock.render();
    insta::assert_snapshot!(text);
    // annotated-types sorts before pydantic even though it was given second.
    let a = text.find("name = \"annotated-types\"").unwrap();
    let p = text.find("name = \"pydantic\"").unwrap();
    assert!(a < p);
    assert_eq!(text, lock.render());
}

#[test]
fn round_trips_through_the_reader() {
    let lock = sample();
    let text = lock.render();
    let back = Lockfile::parse(&text).unwrap();
    assert_eq!(back.render(), text);
    assert_eq!(back.versions().len(), 2);
    assert_eq!(back.tool.inputs, lock.tool.inputs);
}

#[test]
fn is_valid_pep751_toml() {
    let text = sample().render();
    let value: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(value["lock-version"].as_str(), Some("1.0"));
    let packages = value["packages"].as_array().unwrap();
    let wheel = &packages[1]["wheels"][0];
    assert!(wheel["upload-time"].is_datetime());
    assert_eq!(wheel["size"].as_integer(), Some(434_900));
    assert_eq!(wheel["hashes"]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(
        packages[1]["dependencies"][0]["name"].as_str(),
        Some("annotated-types")
    );
}

#[test]
fn input_hash_tracks_every_input() {
    let base = sample().tool.inputs;
    let h = |i: &InputSummary| i.hash("application", None, "3.12", "linux-x86_64");
    let mut changed = base.clone();
    changed.constraints.push("urllib3<2".into());
    assert_ne!(h(&base), h(&changed));
    assert_ne!(
        h(&base),
        base.hash("application", None, "3.11", "linux-x86_64")
    );
    assert_ne!(
        h(&base),
        base.hash("foundation", Some("cu130"), "3.12", "linux-x86_64")
    );
    assert_eq!(
        changed.changes_from(&base),
        vec!["constraint `urllib3<2` added".to_string()]
    );
}

#[test]
fn rejects_foreign_or_broken_files() {
    assert!(Lockfile::parse("lock-version = \"1.0\"\n").is_err());
    assert!(Lockfile::parse("lock-version = \"2.0\"\n").is_err());
    assert!(Lockfile::parse("not toml [").is_err());
}

/// Regression: a lockfile's sha256 was joined onto the cache path, so `../../x/fake` or an
/// absolute path installed an arbitrary directory as if it were the unpacked wheel.
#[test]
fn a_sha256_that_is_not_64_hex_digits_is_refused_when_read() {
    let text = sample().render();
    let good = "a".repeat(64);
    for bad in [
        "../../x/fake".to_string(),
        "/etc".to_string(),
        "a".repeat(63),
        "a".repeat(65),
        format!("{}/", "a".repeat(63)),
        format!("{}g", "a".repeat(63)),
        String::new(),
    ] {
        let edited = text.replacen(&good, &bad, 1);
        let err = Lockfile::parse(&edited).unwrap_err().to_string();
        assert!(
            err.contains("package `pydantic` 2.9.2")
                && err.contains("wheels[0].hashes.sha256")
                && err.contains("64 hex digits"),
            "{bad}: {err}"
        );
    }
    // Upper-case hex is a digest too, read as lower case.
    let upper = Lockfile::parse(&text.replacen(&good, &"A".repeat(64), 1)).unwrap();
    assert_eq!(upper.packages[1].wheels[0].sha256, good);
}

/// A wheel entry's name and URL are checked too: the name must be a wheel of the package, the
/// URL one that can be fetched.
#[test]
fn wheel_names_and_urls_of_another_kind_are_refused() {
    let text = sample().render();
    for (from, to, field) in [
        (
            "\"pydantic-2.9.2-py3-none-any.whl\"",
            "\"../../evil.whl\"",
            "wheels[0].name",
        ),
        (
            "\"pydantic-2.9.2-py3-none-any.whl\"",
            "\"requests-2.9.2-py3-none-any.whl\"",
            "wheels[0].name",
        ),
        (
            "\"pydantic-2.9.2-py3-none-any.whl\"",
            "\"pydantic-2.9.3-py3-none-any.whl\"",
            "wheels[0].name",
        ),
        (
            "\"https://files.example/pydantic-2.9.2-py3-none-any.whl\"",
            "\"ftp://files.example/pydantic-2.9.2-py3-none-any.whl\"",
            "wheels[0].url",
        ),
        (
            "\"https://files.example/pydantic-2.9.2-py3-none-any.whl\"",
            "\"pydantic-2.9.2-py3-none-any.whl\"",
            "wheels[0].url",
        ),
    ] {
        assert!(text.contains(from), "{from}");
        let err = Lockfile::parse(&text.replace(from, to))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("package `pydantic` 2.9.2") && err.contains(field),
            "{to}: {err}"
        );
    }
}

proptest! {
    /// Any names, versions, URLs and hashes survive render → parse → render unchanged.
    #[test]
    fn round_trip_property(
        pkgs in proptest::collection::btree_map(
            "[a-z][a-z0-9-]{0,8}[a-z0-9]",
            ((0u64..50, 0u64..50, 0u64..50), "[A-Za-z0-9._~/%+-]{0,30}", proptest::option::of(0u64..10_000_000)),
            0..6,
        ),
        requirement in "[ -~]{0,40}",
    ) {
        let mut lock = sample();
        lock.tool.inputs.requirements = vec![requirement];
        lock.packages = pkgs
            .into_iter()
            .map(|(n, ((a, b, c), url, size))| LockedPackage {
                name: name(&n),
                version: Version::from_str(&format!("{a}.{b}.{c}")).unwrap(),
                index: "https://pypi.org/simple".into(),
                requires_python: None,
                dependencies: vec![],
                sdist: None,
                wheels: vec![LockedWheel {
                    name: format!("{}-{a}.{b}.{c}-py3-none-any.whl", n.replace('-', "_")),
                    url: format!("https://files.example.org/{url}"),
                    size,
                    upload_time: None,
                    sha256: "c".repeat(64),
                }],
                source: None,
                direct: false,
                extras: vec![],
            })
            .collect();
        let text = lock.render();
        let back = Lockfile::parse(&text).unwrap();
        prop_assert_eq!(back.render(), text);
    }
}
