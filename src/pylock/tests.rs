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
        build: vec![],
    };
    let inputs_hash = inputs.hash("application", None, "3.12", "linux-x86_64-manylinux_2_28");
    Lockfile {
        environments: vec!["python_full_version == '3.12.0' and sys_platform == 'linux'".into()],
        requires_python: "==3.12.*".into(),
        packages: vec![
            LockedPackage {
                name: name("pydantic"),
                version: Version::from_str("2.9.2").unwrap(),
                marker: None,
                index: "https://pypi.org/simple".into(),
                requires_python: Some(">=3.8".into()),
                dependencies: vec![name("annotated-types"), name("pydantic-core")],
                dependency_markers: Default::default(),
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
                marker: None,
                index: "https://pypi.org/simple".into(),
                requires_python: None,
                dependencies: vec![],
                dependency_markers: Default::default(),
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

/// A lockfile of every kind of package: sdist only, wheels and an sdist, an editable
/// directory and a git repository.
fn sources_sample() -> Lockfile {
    let package = |n: &str, v: &str| LockedPackage {
        name: name(n),
        version: Version::from_str(v).unwrap(),
        marker: None,
        index: String::new(),
        requires_python: None,
        dependencies: vec![],
        dependency_markers: Default::default(),
        sdist: None,
        wheels: vec![],
        source: None,
        direct: true,
        extras: vec![],
    };
    let sdist = |file: &str, seed: &str| LockedSdist {
        name: file.into(),
        url: format!("https://files.example/{file}"),
        size: Some(12_345),
        upload_time: Some("2024-05-01T12:30:00Z".into()),
        sha256: seed.repeat(64),
    };
    let mut legacy = package("legacy-tool", "0.3");
    legacy.index = "https://pypi.org/simple".into();
    legacy.sdist = Some(sdist("legacy_tool-0.3.tar.gz", "d"));
    let mut both = package("pyyaml", "6.0.2");
    both.index = "https://pypi.org/simple".into();
    both.dependencies = vec![name("legacy-tool")];
    both.sdist = Some(sdist("pyyaml-6.0.2.tar.gz", "e"));
    both.wheels = vec![LockedWheel {
        name: "PyYAML-6.0.2-cp312-cp312-manylinux_2_17_x86_64.whl".into(),
        url: "https://files.example/PyYAML-6.0.2-cp312-cp312-manylinux_2_17_x86_64.whl".into(),
        size: None,
        upload_time: None,
        sha256: "f".repeat(64),
    }];
    let mut core = package("core", "0.1.0");
    core.source = Some(LocalSource::Directory {
        path: "../libs/core".into(),
        editable: true,
    });
    core.dependencies = vec![name("pyyaml")];
    let mut git = package("gitlib", "1.2.0");
    git.source = Some(LocalSource::Vcs {
        kind: VcsKind::Git,
        url: "https://github.com/example/gitlib.git".into(),
        requested_revision: Some("v1.2".into()),
        commit_id: "0123456789abcdef0123456789abcdef01234567".into(),
        subdirectory: Some("python".into()),
    });
    Lockfile {
        packages: vec![legacy, both, core, git],
        ..sample()
    }
}

#[test]
fn sdists_directories_and_git_packages_are_written_in_pep751_order() {
    let text = sources_sample().render();
    insta::assert_snapshot!(text);
    // `[packages.sdist]` before the wheels.
    let sdist = text.find("name = \"pyyaml-6.0.2.tar.gz\"").unwrap();
    let wheel = text.find("name = \"PyYAML-6.0.2").unwrap();
    assert!(sdist < wheel);
    let value: toml::Value = toml::from_str(&text).unwrap();
    let core = &value["packages"][0];
    assert_eq!(core["directory"]["editable"].as_bool(), Some(true));
    assert!(core.get("index").is_none());
    let git = &value["packages"][1];
    assert_eq!(git["vcs"]["type"].as_str(), Some("git"));
    assert!(value["packages"][2]["sdist"]["upload-time"].is_datetime());
}

#[test]
fn sdists_directories_and_git_packages_round_trip() {
    let lock = sources_sample();
    let text = lock.render();
    let back = Lockfile::parse(&text).unwrap();
    assert_eq!(back.render(), text);
    let by_name = |n: &str| back.packages.iter().find(|p| p.name.as_ref() == n).unwrap();
    assert_eq!(by_name("core").source, lock.packages[2].source);
    assert_eq!(by_name("gitlib").source, lock.packages[3].source);
    assert_eq!(by_name("legacy-tool").sdist, lock.packages[0].sdist);
    assert_eq!(by_name("core").index, "");
}

/// `edit` applied to the rendered [`sources_sample`] must fail naming `package` and `field`.
#[track_caller]
fn refused(edit: impl Fn(&str) -> String, package: &str, field: &str) -> String {
    let text = edit(&sources_sample().render());
    let err = Lockfile::parse(&text)
        .expect_err("the edit must be refused")
        .to_string();
    assert!(
        err.contains(&format!("package `{package}`")) && err.contains(&format!("`{field}`")),
        "{field}: {err}"
    );
    err
}

fn replaced(from: &'static str, to: &'static str) -> impl Fn(&str) -> String {
    move |text: &str| {
        assert!(text.contains(from), "{from}");
        text.replacen(from, to, 1)
    }
}

#[test]
fn an_sdist_of_another_package_or_version_or_kind_is_refused() {
    for (to, why) in [
        ("\"pyyaml-6.0.3.tar.gz\"", "version 6.0.3"),
        ("\"requests-6.0.2.tar.gz\"", "does not belong"),
        ("\"pyyaml-6.0.2-py3-none-any.whl\"", "is a wheel"),
        ("\"pyyaml-6.0.2.tar.bz2\"", "neither a wheel"),
        ("\"../pyyaml-6.0.2.tar.gz\"", "plain file name"),
    ] {
        let err = refused(
            replaced("\"pyyaml-6.0.2.tar.gz\"", to),
            "pyyaml",
            "sdist.name",
        );
        assert!(err.contains(why), "{to}: {err}");
    }
    refused(
        replaced(
            "\"https://files.example/pyyaml-6.0.2.tar.gz\"",
            "\"ftp://x/pyyaml-6.0.2.tar.gz\"",
        ),
        "pyyaml",
        "sdist.url",
    );
    let err = refused(
        |t| t.replacen(&"e".repeat(64), "../../etc", 1),
        "pyyaml",
        "sdist.hashes.sha256",
    );
    assert!(err.contains("64 hex digits"), "{err}");
    // The sdist name may spell the project otherwise, as sdists do.
    let text = sources_sample().render().replacen(
        "\"legacy_tool-0.3.tar.gz\"",
        "\"Legacy.Tool-0.3.zip\"",
        1,
    );
    assert!(Lockfile::parse(&text).is_ok());
}

/// `..` may lead a directory path (a monorepo's `../libs/x`), but nothing absolute, no
/// backslash, drive letter or control character, and only the shortest form.
#[test]
fn a_directory_path_must_be_relative_and_plain() {
    for bad in [
        "/etc",
        "C:/libs/core",
        "c:libs",
        "..\\\\libs\\\\core",
        "libs/core/",
        "libs//core",
        "./libs/core",
        "libs/../core",
        "libs\\u0000core",
        "",
    ] {
        let to = format!("path = \"{bad}\"");
        let err = refused(
            |t| t.replacen("path = \"../libs/core\"", &to, 1),
            "core",
            "directory.path",
        );
        assert!(err.contains("0.1.0"), "{err}");
    }
    for good in ["../../libs/core", "libs/core", ".", "..", "core"] {
        let text =
            sources_sample()
                .render()
                .replacen("\"../libs/core\"", &format!("\"{good}\""), 1);
        let lock = Lockfile::parse(&text).unwrap();
        assert!(
            lock.packages.iter().any(|p| p.source
                == Some(LocalSource::Directory {
                    path: good.into(),
                    editable: true
                })),
            "{good}"
        );
    }
}

#[test]
fn a_git_entry_must_name_git_a_plain_url_and_a_full_commit() {
    let commit = "0123456789abcdef0123456789abcdef01234567";
    for (from, to, field, why) in [
        ("type = \"git\"", "type = \"hg\"", "vcs.type", "only `git`"),
        (
            "\"https://github.com/example/gitlib.git\"",
            "\"git+https://github.com/example/gitlib.git\"",
            "vcs.url",
            "`https://` URL",
        ),
        (
            "\"https://github.com/example/gitlib.git\"",
            "\"http://github.com/example/gitlib.git\"",
            "vcs.url",
            "scheme `http`",
        ),
        (
            "\"https://github.com/example/gitlib.git\"",
            "\"git://github.com/example/gitlib.git\"",
            "vcs.url",
            "scheme `git`",
        ),
        (
            "\"https://github.com/example/gitlib.git\"",
            "\"https://ghp_secret@github.com/example/gitlib.git\"",
            "vcs.url",
            "credentials",
        ),
        (
            "\"https://github.com/example/gitlib.git\"",
            "\"https://github.com/example/gitlib.git#egg=x\"",
            "vcs.url",
            "fragment",
        ),
        (
            "\"https://github.com/example/gitlib.git\"",
            "\"git@github.com:example/gitlib.git\"",
            "vcs.url",
            "not a URL",
        ),
        (
            "\"v1.2\"",
            "\"--upload-pack=evil\"",
            "vcs.requested-revision",
            "starts with `-`",
        ),
        (
            "\"v1.2\"",
            "\"v1 2\"",
            "vcs.requested-revision",
            "whitespace",
        ),
        (commit, "0123456", "vcs.commit-id", "40 hex digits"),
        (
            commit,
            "g123456789abcdef0123456789abcdef01234567",
            "vcs.commit-id",
            "40 hex digits",
        ),
        (
            "subdirectory = \"python\"",
            "subdirectory = \"../python\"",
            "vcs.subdirectory",
            "leaves",
        ),
        (
            "subdirectory = \"python\"",
            "subdirectory = \"/python\"",
            "vcs.subdirectory",
            "absolute",
        ),
    ] {
        let err = refused(replaced(from, to), "gitlib", field);
        assert!(err.contains(why), "{to}: {err}");
        // Credentials are never repeated.
        assert!(!err.contains("ghp_secret"), "{err}");
    }
    // A user name is how ssh URLs work; upper-case hex is a commit too, read as lower case.
    let text = sources_sample()
        .render()
        .replacen(
            "https://github.com/example/gitlib.git",
            "ssh://git@github.com/example/gitlib.git",
            1,
        )
        .replacen(commit, &commit.to_ascii_uppercase(), 1);
    let lock = Lockfile::parse(&text).unwrap();
    let git = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "gitlib")
        .unwrap();
    assert!(matches!(&git.source, Some(LocalSource::Vcs { commit_id, .. }) if commit_id == commit));
}

#[test]
fn a_package_must_have_files_or_one_local_source_never_both() {
    let git_table = "\n[packages.vcs]\ntype = \"git\"\nurl = \"https://x.example/r\"\ncommit-id = \"0123456789abcdef0123456789abcdef01234567\"\n";
    // A directory package that also has a git table, wheels, an sdist or an index.
    let err = refused(
        |t| {
            t.replacen(
                "\n[packages.directory]",
                &format!("{git_table}\n[packages.directory]"),
                1,
            )
        },
        "core",
        "directory",
    );
    assert!(err.contains("not both"), "{err}");
    let sdist = "\n[packages.sdist]\nname = \"core-0.1.0.tar.gz\"\nurl = \"https://x.example/core-0.1.0.tar.gz\"\nhashes = { sha256 = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" }\n";
    let err = refused(
        |t| t.replacen("editable = true\n", &format!("editable = true\n{sdist}"), 1),
        "core",
        "directory",
    );
    assert!(err.contains("no wheels or sdist"), "{err}");
    refused(
        |t| {
            t.replacen(
                "version = \"0.1.0\"\n",
                "version = \"0.1.0\"\nindex = \"https://pypi.org/simple\"\n",
                1,
            )
        },
        "core",
        "index",
    );
    // A package with nothing to install.
    let err = refused(
        |t| {
            let start = t.find("\n[packages.directory]").unwrap();
            let end = start + t[start + 1..].find("\n\n").unwrap() + 1;
            format!("{}{}", &t[..start], &t[end..])
        },
        "core",
        "wheels",
    );
    assert!(err.contains("nothing to install"), "{err}");
    // PEP 751 archives, directory subdirectories and repositories by path are refused by name.
    refused(
        replaced(
            "editable = true\n",
            "editable = true\nsubdirectory = \"x\"\n",
        ),
        "core",
        "directory.subdirectory",
    );
    refused(
        replaced(
            "url = \"https://github.com/example/gitlib.git\"",
            "path = \"../gitlib\"",
        ),
        "gitlib",
        "vcs.path",
    );
    refused(
        |t| {
            t.replacen("\n[packages.directory]", "\n[packages.archive]\nurl = \"https://x.example/a.tar.gz\"\n\n[packages.directory]", 1)
        },
        "core",
        "archive",
    );
}

/// What a package of the round-trip property is built from.
#[derive(Clone, Debug)]
enum Kind {
    Wheel,
    Sdist,
    Both,
    Directory {
        path: String,
        editable: bool,
    },
    Git {
        commit: String,
        revision: Option<String>,
        subdirectory: Option<String>,
    },
}

fn kinds() -> impl Strategy<Value = Kind> {
    let segment = "[A-Za-z0-9_-][A-Za-z0-9_.-]{0,7}";
    let path = ("(\\.\\./){0,2}", proptest::collection::vec(segment, 1..3))
        .prop_map(|(up, segments)| format!("{up}{}", segments.join("/")));
    prop_oneof![
        Just(Kind::Wheel),
        Just(Kind::Sdist),
        Just(Kind::Both),
        (path, any::<bool>()).prop_map(|(path, editable)| Kind::Directory { path, editable }),
        (
            "[0-9a-f]{40}",
            proptest::option::of("[A-Za-z0-9_][A-Za-z0-9._/+-]{0,15}"),
            proptest::option::of(
                proptest::collection::vec(segment, 1..3).prop_map(|s| s.join("/"))
            ),
        )
            .prop_map(|(commit, revision, subdirectory)| Kind::Git {
                commit,
                revision,
                subdirectory
            }),
    ]
}

/// A package of `kind`, with its files at `url`.
fn package_of(n: &str, version: &str, url: &str, size: Option<u64>, kind: Kind) -> LockedPackage {
    let file = |name: String| (format!("https://files.example.org/{url}/{name}"), name);
    let (wheel_url, wheel_name) = file(format!(
        "{}-{version}-py3-none-any.whl",
        n.replace('-', "_")
    ));
    let (sdist_url, sdist_name) = file(format!("{}-{version}.tar.gz", name(n)));
    let wheel = LockedWheel {
        name: wheel_name,
        url: wheel_url,
        size,
        upload_time: None,
        sha256: "c".repeat(64),
    };
    let sdist = LockedSdist {
        name: sdist_name,
        url: sdist_url,
        size,
        upload_time: Some("2025-01-02T03:04:05Z".into()),
        sha256: "d".repeat(64),
    };
    let (sdist, wheels, source) = match kind {
        Kind::Wheel => (None, vec![wheel], None),
        Kind::Sdist => (Some(sdist), vec![], None),
        Kind::Both => (Some(sdist), vec![wheel], None),
        Kind::Directory { path, editable } => (
            None,
            vec![],
            Some(LocalSource::Directory { path, editable }),
        ),
        Kind::Git {
            commit,
            revision,
            subdirectory,
        } => (
            None,
            vec![],
            Some(LocalSource::Vcs {
                kind: VcsKind::Git,
                url: format!("https://git.example.org/{url}"),
                requested_revision: revision,
                commit_id: commit,
                subdirectory,
            }),
        ),
    };
    LockedPackage {
        name: name(n),
        version: Version::from_str(version).unwrap(),
        marker: None,
        index: if source.is_some() {
            String::new()
        } else {
            "https://pypi.org/simple".into()
        },
        requires_python: None,
        dependencies: vec![],
        dependency_markers: Default::default(),
        sdist,
        wheels,
        source,
        direct: false,
        extras: vec![],
    }
}

proptest! {
    /// Any names, versions, URLs, hashes, paths and commits survive render → parse → render
    /// unchanged and read back as the same packages, whatever each package is built from.
    #[test]
    fn round_trip_property(
        pkgs in proptest::collection::btree_map(
            "[a-z][a-z0-9-]{0,8}[a-z0-9]",
            (
                (0u64..50, 0u64..50, 0u64..50),
                "[A-Za-z0-9._~%+-][A-Za-z0-9._~/%+-]{0,29}",
                proptest::option::of(0u64..10_000_000),
                kinds(),
            ),
            0..6,
        ),
        requirement in "[ -~]{0,40}",
    ) {
        let mut lock = sample();
        lock.tool.inputs.requirements = vec![requirement];
        lock.packages = pkgs
            .into_iter()
            .map(|(n, ((a, b, c), url, size, kind))| {
                package_of(&n, &format!("{a}.{b}.{c}"), &url, size, kind)
            })
            .collect();
        let text = lock.render();
        let back = Lockfile::parse(&text).unwrap();
        prop_assert_eq!(back.render(), text);
        // The writer sorts the packages by name and version.
        let mut expected = lock.packages.clone();
        expected.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
        prop_assert_eq!(back.packages, expected);
    }
}

/// A universal lock: `pydantic` in two versions split by Python minor, `mac-only` for macOS
/// alone (pydantic 2.9.2 depends on it), over four environments.
fn universal_sample() -> Lockfile {
    let mut lock = sample();
    lock.environments = [("3.11", "linux", "x86_64"), ("3.12", "linux", "x86_64")]
        .iter()
        .chain(&[("3.11", "darwin", "arm64"), ("3.12", "darwin", "arm64")])
        .map(|(py, sys, machine)| {
            format!(
                "python_version == '{py}' and sys_platform == '{sys}' and platform_machine == '{machine}'"
            )
        })
        .collect();
    let new = &mut lock.packages[0];
    new.marker = Some("python_version >= '3.12'".into());
    new.dependencies.push(name("mac-only"));
    new.dependencies.sort();
    new.dependency_markers
        .insert(name("mac-only"), "sys_platform == 'darwin'".into());
    let mut old = new.clone();
    old.dependency_markers.clear();
    old.version = Version::from_str("1.10.0").unwrap();
    old.marker = Some("python_version < '3.12'".into());
    old.dependencies = vec![name("annotated-types")];
    old.wheels[0].name = "pydantic-1.10.0-py3-none-any.whl".into();
    old.wheels[0].url = "https://files.example/pydantic-1.10.0-py3-none-any.whl".into();
    let mut mac = lock.packages[1].clone();
    mac.name = name("mac-only");
    mac.marker = Some("sys_platform == 'darwin'".into());
    mac.wheels[0].name = "mac_only-0.7.0-py3-none-any.whl".into();
    mac.wheels[0].url = "https://files.example/mac_only-0.7.0-py3-none-any.whl".into();
    lock.packages.push(old);
    lock.packages.push(mac);
    lock
}

fn markers_of(python: &str, platform: &str) -> pep508_rs::MarkerEnvironment {
    crate::target::Target::new(python, Some(platform))
        .unwrap()
        .markers()
        .clone()
}

/// Each environment sees exactly its entries, markers dropped: the fork of its minor, the
/// macOS-only package on macOS alone (and the dependency on it only there), and a dependency
/// on a package the lock does not hold (a Foundation package, in the other lockfile) kept.
#[test]
fn for_environment_keeps_the_entries_whose_marker_holds() {
    let lock = Lockfile::parse(&universal_sample().render()).unwrap();
    assert!(lock.is_universal());
    let pins = |l: &Lockfile| {
        l.packages
            .iter()
            .map(|p| format!("{}=={}", p.name, p.version))
            .collect::<Vec<_>>()
    };
    let linux_311 = lock
        .for_environment(&markers_of("3.11", "linux-x86_64"))
        .unwrap();
    assert_eq!(
        pins(&linux_311),
        ["annotated-types==0.7.0", "pydantic==1.10.0"]
    );
    assert!(linux_311.packages.iter().all(|p| p.marker.is_none()));
    let linux_312 = lock
        .for_environment(&markers_of("3.12", "linux-x86_64"))
        .unwrap();
    assert_eq!(
        pins(&linux_312),
        ["annotated-types==0.7.0", "pydantic==2.9.2"]
    );
    let pydantic = &linux_312.packages[1];
    assert_eq!(
        pydantic.dependencies,
        [name("annotated-types"), name("pydantic-core")],
        "mac-only dropped, pydantic-core (held by no entry of this lock) kept"
    );
    let mac_312 = lock
        .for_environment(&markers_of("3.12", "macos-arm64"))
        .unwrap();
    assert_eq!(
        pins(&mac_312),
        [
            "annotated-types==0.7.0",
            "mac-only==0.7.0",
            "pydantic==2.9.2"
        ]
    );
    assert!(mac_312.packages[2].dependencies.contains(&name("mac-only")));

    assert!(lock.covers(&markers_of("3.11", "macos-arm64")));
    assert!(!lock.covers(&markers_of("3.10", "linux-x86_64")));
    assert!(!lock.covers(&markers_of("3.12", "windows-x86_64")));
}

/// A package locked twice needs a marker on every entry: which one a host installs is
/// otherwise undecidable.
#[test]
fn a_repeated_package_without_a_marker_is_refused_when_read() {
    let mut lock = universal_sample();
    lock.packages[2].marker = None;
    let err = Lockfile::parse(&lock.render()).unwrap_err().to_string();
    assert!(
        err.contains("package `pydantic`") && err.contains("`marker`"),
        "{err}"
    );
    assert!(err.contains("locked more than once"), "{err}");
    // With its marker, it reads.
    assert!(Lockfile::parse(&universal_sample().render()).is_ok());
}

/// Regression (a hand-edited lockfile): two entries of one package whose markers both hold
/// in an environment were read, and the first silently installed; they are refused, naming
/// the package, both entries and the environment.
#[test]
fn overlapping_entries_are_refused_for_the_environment_they_overlap_in() {
    let mut lock = Lockfile::parse(&universal_sample().render()).unwrap();
    for p in &mut lock.packages {
        if p.name.as_ref() == "pydantic" && p.version.to_string() == "1.10.0" {
            p.marker = Some("python_version >= '3.11'".into());
        }
    }
    let lock = Lockfile::parse(&lock.render()).unwrap();
    assert!(
        lock.for_environment(&markers_of("3.11", "linux-x86_64"))
            .is_ok()
    );
    let err = lock
        .for_environment(&markers_of("3.12", "linux-x86_64"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`pydantic`")
            && err.contains("1.10.0 [python_version >= '3.11']")
            && err.contains("2.9.2 [python_version >= '3.12']")
            && err.contains("Python 3.12 on linux x86_64"),
        "{err}"
    );
}

/// Regression (a hand-edited lockfile): a marker edited so that no entry of a dependency
/// applies removed it from the environment while every check passed; refused by name.
#[test]
fn a_dependency_no_entry_serves_is_refused() {
    let mut lock = Lockfile::parse(&universal_sample().render()).unwrap();
    for p in &mut lock.packages {
        if p.name.as_ref() == "annotated-types" {
            p.marker = Some("python_version == '3.10'".into());
        }
    }
    let lock = Lockfile::parse(&lock.render()).unwrap();
    let err = lock
        .for_environment(&markers_of("3.12", "macos-arm64"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "`pydantic` 2.9.2 depends on `annotated-types` in Python 3.12 on darwin arm64"
        ),
        "{err}"
    );
}

/// `dependency-markers` survive a round trip, and the reader refuses one that names a
/// package the entry does not depend on.
#[test]
fn dependency_markers_round_trip_and_are_checked() {
    let text = universal_sample().render();
    assert!(
        text.contains("dependency-markers = { \"mac-only\" = \"sys_platform == 'darwin'\" }"),
        "{text}"
    );
    assert_eq!(Lockfile::parse(&text).unwrap().render(), text);
    let bad = text.replace("{ \"mac-only\" =", "{ \"numpy\" =");
    let err = Lockfile::parse(&bad).unwrap_err().to_string();
    assert!(
        err.contains("not one of the package's dependencies"),
        "{err}"
    );
}

/// Regression: a marker of 800 bytes of `extra ==` terms made the marker parser build a
/// decision diagram of gigabytes; markers are limited to what a lock selects on, before
/// they are parsed. Control characters and Markdown never reach `diff`'s output.
#[test]
fn markers_outside_what_a_lock_selects_on_are_refused_before_parsing() {
    let text = universal_sample().render();
    let blowup: Vec<String> = (0..20)
        .map(|i| format!("(extra == 'a{i:02}' and extra == 'b{i:02}')"))
        .collect();
    for marker in [
        blowup.join(" or "),
        "'a1' in os_name and 'b1' in platform_release".to_string(),
        "sys_platform == 'linux\u{1b}[2K'".to_string(),
        "sys_platform == '<!--'".to_string(),
        "sys_platform == `linux`".to_string(),
    ] {
        let bad = text.replace(
            "marker = \"python_version >= '3.12'\"",
            &format!("marker = {}", toml::Value::String(marker.clone())),
        );
        let started = std::time::Instant::now();
        let err = Lockfile::parse(&bad).unwrap_err().to_string();
        assert!(
            err.contains("invalid marker") && err.contains("`marker`"),
            "{marker}: {err}"
        );
        assert!(!err.contains('\u{1b}'), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "{marker}"
        );
    }
    let many: Vec<String> = (0..300)
        .map(|i| format!("\"python_version == '3.{i}'\""))
        .collect();
    let bad = text.replacen(
        "environments = [",
        &format!("environments = [{},", many.join(",")),
        1,
    );
    assert!(
        Lockfile::parse(&bad)
            .unwrap_err()
            .to_string()
            .contains("more than 256")
    );
}
