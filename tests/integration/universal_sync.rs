//! Universal lockfiles — several platforms x Python minors, written here by hand as PEP 751
//! allows: `lib` in two versions split by Python minor, `macdep` for macOS alone — read by
//! `sync`, `doctor`, `tree` and `export` for one environment: this machine's with the venv's
//! Python, or the one `--platform` and `--python` name. A host outside the lockfile's
//! `environments` is refused and the venv left as it was.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::str::FromStr as _;

use sanctuary::pylock::{InputSummary, LockedPackage, LockedWheel, Lockfile, ToolTable};
use sanctuary::{PackageName, Version};

use crate::common::{Project, stderr};
use crate::support::{Scenario, TestIndex, VersionSpec};
use crate::sync::snapshot;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Linux and macOS (arm64), Python 3.11 and 3.12.
const PLATFORMS: &str = "platforms = [\"linux-x86_64\", \"macos-arm64\"]";
const PYTHONS: &str = ">=3.11,<3.13";

struct Env {
    project: Project,
    index: TestIndex,
}

fn env() -> Env {
    let index = TestIndex::start(
        Scenario::new("pypi")
            .version(
                "app",
                "1.0.0",
                VersionSpec::new().requires(["lib", "macdep; sys_platform == 'darwin'"]),
            )
            .versions("lib", &["1.0.0", "2.0.0"])
            .versions("macdep", &["1.0.0"]),
    );
    let env = Env {
        project: Project::new(),
        index,
    };
    env.manifest(PLATFORMS, PYTHONS);
    env.write_lock(&env.environments());
    env
}

impl Env {
    fn manifest(&self, platforms: &str, python: &str) {
        self.project.write_manifest(&format!(
            "[project]\nname = \"u\"\npython = \"{python}\"\n{platforms}\n\n\
             [[index]]\nname = \"pypi\"\nurl = \"{}\"\n\n\
             [application]\nrequirements = [\"app\"]\n",
            self.index.index_url()
        ));
    }

    /// The `environments` markers of the manifest as it is now.
    fn environments(&self) -> Vec<String> {
        sanctuary::manifest::Manifest::read(&self.project.manifest_path())
            .unwrap()
            .universe
            .environment_markers()
    }

    /// The served wheel of `name` `version`, as a lockfile names it.
    fn wheel(&self, name: &str, version: &str) -> LockedWheel {
        let file = self
            .index
            .files()
            .into_iter()
            .find(|f| {
                f.project == name && f.version == version && f.dist.filename.ends_with(".whl")
            })
            .unwrap_or_else(|| panic!("no wheel of {name} {version}"));
        LockedWheel {
            name: file.dist.filename.clone(),
            url: self.index.file_url(&file.dist.filename),
            size: Some(file.dist.bytes.len() as u64),
            upload_time: None,
            sha256: file.dist.sha256.clone(),
        }
    }

    fn package(&self, name: &str, version: &str, marker: Option<&str>) -> LockedPackage {
        LockedPackage {
            name: PackageName::from_str(name).unwrap(),
            version: Version::from_str(version).unwrap(),
            marker: marker.map(str::to_string),
            index: self.index.index_url(),
            requires_python: None,
            dependencies: Vec::new(),
            dependency_markers: Default::default(),
            sdist: None,
            wheels: vec![self.wheel(name, version)],
            source: None,
            direct: false,
            extras: Vec::new(),
        }
    }

    /// The universal Application lockfile, covering `environments`.
    fn lock(&self, environments: &[String]) -> Lockfile {
        let mut app = self.package("app", "1.0.0", None);
        app.direct = true;
        app.dependencies = vec![
            PackageName::from_str("lib").unwrap(),
            PackageName::from_str("macdep").unwrap(),
        ];
        // `macdep` is a dependency on macOS alone, as `lock` records it.
        app.dependency_markers.insert(
            PackageName::from_str("macdep").unwrap(),
            "sys_platform == 'darwin'".to_string(),
        );
        Lockfile {
            environments: environments.to_vec(),
            requires_python: ">=3.11, <3.13".to_string(),
            packages: vec![
                app,
                self.package("lib", "1.0.0", Some("python_version < '3.12'")),
                self.package("lib", "2.0.0", Some("python_version >= '3.12'")),
                self.package("macdep", "1.0.0", Some("sys_platform == 'darwin'")),
            ],
            tool: ToolTable {
                format: sanctuary::pylock::FORMAT_VERSION,
                layer: "application".to_string(),
                key: None,
                python: PYTHONS.to_string(),
                platform: "linux-x86_64, macos-arm64".to_string(),
                inputs_hash: "0".repeat(64),
                inputs: InputSummary::default(),
            },
        }
    }

    fn write_lock(&self, environments: &[String]) {
        let path = self.project.lockfile_path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, self.lock(environments).render()).unwrap();
    }

    fn venv(&self) -> PathBuf {
        self.project.path().join(".venv")
    }

    fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.project.run(args);
        assert!(
            out.status.success(),
            "sanctuary {args:?} failed:\n{}",
            stderr(&out)
        );
        out
    }

    fn run_err(&self, args: &[&str]) -> String {
        let out = self.project.run(args);
        assert!(
            !out.status.success(),
            "sanctuary {args:?} unexpectedly succeeded:\n{}",
            stderr(&out)
        );
        stderr(&out)
    }

    /// `name==version` of every distribution in the venv, sorted.
    fn installed(&self) -> Vec<String> {
        let env = sanctuary::environment::Environment::read(&self.venv()).unwrap();
        let mut out: Vec<String> = env
            .distributions
            .iter()
            .map(|d| format!("{}=={}", d.name, d.version))
            .collect();
        out.sort();
        out
    }

    /// `3.11` of the venv's interpreter.
    fn venv_minor(&self) -> String {
        let out = Command::new(self.venv().join("bin/python"))
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .output()
            .unwrap();
        stdout(&out).trim().to_string()
    }
}

/// The venv's environment is chosen by markers: Linux entries only (never the macOS-only
/// package), and the fork of `lib` for the venv's Python.
#[test]
fn sync_installs_exactly_the_linux_entries_for_the_venvs_python() {
    let env = env();
    let err = String::from_utf8_lossy(
        &env.run_ok(&["sync", "--frozen", "--python", "python3.11"])
            .stderr,
    )
    .into_owned();
    assert!(err.contains("creating .venv with Python 3.11"), "{err}");
    assert_eq!(env.installed(), ["app==1.0.0", "lib==1.0.0"]);

    // A second sync sees the same environment and changes nothing.
    let err = String::from_utf8_lossy(&env.run_ok(&["sync", "--frozen"]).stderr).into_owned();
    assert!(err.contains("2 packages in .venv are up to date"), "{err}");

    // The dry run plans the same.
    let out = env.run_ok(&["sync", "--frozen", "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["unchanged"], serde_json::json!(["app", "lib"]));
}

/// An interpreter of Python `minor` that runs: `python3.X` on PATH, else a pyenv install.
fn interpreter(minor: &str) -> Option<PathBuf> {
    let runs = |p: &std::path::Path| {
        Command::new(p)
            .args(["-c", "pass"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let on_path = PathBuf::from(format!("python{minor}"));
    if runs(&on_path) {
        return Some(on_path);
    }
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("versions"))
        .ok()?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("{minor}."))
        })
        .map(|e| e.path().join(format!("bin/python{minor}")))
        .filter(|p| runs(p))
        .collect();
    found.sort();
    found.pop()
}

/// A venv of the other declared minor gets the other fork of `lib`.
#[test]
fn a_venv_of_python_3_12_gets_the_other_fork() {
    let Some(python) = interpreter("3.12") else {
        eprintln!("skipping: no Python 3.12 here");
        return;
    };
    let env = env();
    env.run_ok(&["sync", "--frozen", "--python", python.to_str().unwrap()]);
    assert_eq!(env.venv_minor(), "3.12");
    assert_eq!(env.installed(), ["app==1.0.0", "lib==2.0.0"]);
    let out = env.run_ok(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["ok"], true, "{report}");
}

/// Without `--python`, a new venv gets the newest declared minor found on PATH; the lock is
/// read for that minor.
#[test]
fn a_new_venv_gets_a_declared_python_and_its_fork() {
    let env = env();
    env.run_ok(&["sync", "--frozen"]);
    let minor = env.venv_minor();
    let lib = match minor.as_str() {
        "3.11" => "lib==1.0.0",
        "3.12" => "lib==2.0.0",
        other => panic!("the venv runs Python {other}, which the manifest does not declare"),
    };
    assert_eq!(env.installed(), ["app==1.0.0", lib]);
}

/// `--python` for a new venv must be a declared Python.
#[test]
fn an_undeclared_python_for_a_new_venv_is_refused() {
    let env = env();
    env.manifest(PLATFORMS, ">=3.12,<3.14");
    env.write_lock(&env.environments());
    let err = env.run_err(&["sync", "--frozen", "--python", "python3.11"]);
    assert!(err.contains("is Python 3.11"), "{err}");
    assert!(err.contains("asks for Python 3.13 or 3.12"), "{err}");
    assert!(!env.venv().exists(), "no venv was created");
}

/// A venv whose Python the lock does not cover is refused by name, the venv untouched; so is a
/// machine whose platform it does not cover.
#[test]
fn a_host_outside_the_lockfiles_environments_is_refused_and_the_venv_untouched() {
    let env = env();
    env.run_ok(&["sync", "--frozen", "--python", "python3.11"]);
    let before = snapshot(&env.venv());

    env.manifest(PLATFORMS, ">=3.12,<3.14");
    env.write_lock(&env.environments());
    let err = env.run_err(&["sync", "--frozen"]);
    assert!(
        err.contains(
            "error: Python 3.11 on linux-x86_64 is outside lockfiles/pylock.application.toml: \
             it covers Python 3.12 on linux-x86_64; Python 3.13 on linux-x86_64; \
             Python 3.12 on macos-arm64; Python 3.13 on macos-arm64"
        ),
        "{err}"
    );
    // The venv exists with an undeclared Python: recreating it comes first in the hint.
    assert!(
        err.contains("was made with Python 3.11: remove it and run `sanctuary sync --python 3.13`")
            && err.contains("or widen `python = \">=3.12,<3.14\"`"),
        "{err}"
    );
    assert_eq!(snapshot(&env.venv()), before, "the venv is untouched");

    // doctor says the same, as an error finding.
    let out = env.project.run(&["doctor", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["kind"] == "lockfile"
            && f["message"]
                .as_str()
                .unwrap()
                .starts_with("Python 3.11 on linux-x86_64 is outside")),
        "{findings:?}"
    );

    // The manifest's own environments, the lockfile written for others (a stale lockfile
    // synced with --frozen).
    env.manifest(PLATFORMS, PYTHONS);
    let err = env.run_err(&["sync", "--frozen"]);
    assert!(
        err.contains(
            "error: Python 3.11 on linux-x86_64 is outside lockfiles/pylock.application.toml"
        ),
        "{err}"
    );
    assert!(err.contains("run `sanctuary lock`"), "{err}");
    assert_eq!(snapshot(&env.venv()), before, "the venv is untouched");
}

#[test]
fn a_platform_the_manifest_does_not_declare_is_refused() {
    let env = env();
    env.manifest("platforms = [\"macos-arm64\", \"windows-x86_64\"]", PYTHONS);
    env.write_lock(&env.environments());
    let err = env.run_err(&["sync", "--frozen"]);
    assert!(
        err.contains(
            "error: linux-x86_64 is outside lockfiles/pylock.application.toml: it covers \
             Python 3.11 on macos-arm64;"
        ),
        "{err}"
    );
    assert!(
        err.contains("hint: add \"linux-x86_64\" to `[project] platforms`"),
        "{err}"
    );
    assert!(!env.venv().exists(), "no venv was created");
}

/// export writes the pins of the environment named, or of the host's.
#[test]
fn export_writes_the_pins_of_one_environment() {
    let env = env();
    let out = env.run_ok(&[
        "export",
        "--layer",
        "application",
        "--platform",
        "macos-arm64",
        "--python",
        "3.12",
    ]);
    let text = stdout(&out);
    let pins: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("=="))
        .map(|l| l.trim_end_matches(" \\"))
        .collect();
    assert_eq!(
        pins,
        ["app==1.0.0", "lib==2.0.0", "macdep==1.0.0"],
        "{text}"
    );
    assert!(
        text.contains("(the application layer; Python 3.12 on macos-arm64)"),
        "{text}"
    );
    assert!(
        text.contains("sanctuary export --layer application --platform macos-arm64 --python 3.12 --format requirements-txt"),
        "{text}"
    );
    let linux = stdout(&env.run_ok(&["export", "--layer", "application", "--python", "3.11"]));
    assert!(linux.contains("\nlib==1.0.0 \\"), "{linux}");
    assert!(!linux.contains("macdep"), "{linux}");

    // No venv to take a Python from, and two declared: --python is needed.
    let err = env.run_err(&["export", "--layer", "application"]);
    assert!(err.contains("export needs --python"), "{err}");
    assert!(err.contains("hint: pass `--python 3.12`"), "{err}");
    let err = env.run_err(&[
        "export",
        "--layer",
        "application",
        "--platform",
        "windows-x86_64",
        "--python",
        "3.12",
    ]);
    assert!(
        err.contains("--platform windows-x86_64: ")
            && err.contains("(declared: linux-x86_64, macos-arm64)"),
        "{err}"
    );

    // With a venv, its Python.
    env.run_ok(&["sync", "--frozen", "--python", "python3.11"]);
    let host = stdout(&env.run_ok(&["export", "--layer", "application"]));
    assert_eq!(host, linux);
}

#[test]
fn tree_and_doctor_read_a_universal_lock_for_one_environment() {
    let env = env();
    let tree = |args: &[&str]| {
        let mut all = vec!["tree"];
        all.extend_from_slice(args);
        stdout(&env.run_ok(&all))
    };
    insta::assert_snapshot!(tree(&["--python", "3.11"]), @r"
    app 1.0.0
    └── lib 1.0.0
    ");
    insta::assert_snapshot!(tree(&["--platform", "macos-arm64", "--python", "3.12"]), @r"
    app 1.0.0
    ├── lib 2.0.0
    └── macdep 1.0.0
    ");
    let err = env.run_err(&["tree"]);
    assert!(err.contains("tree needs --python"), "{err}");

    env.run_ok(&["sync", "--frozen", "--python", "python3.11"]);
    assert_eq!(tree(&[]), tree(&["--python", "3.11"]));
    let out = env.run_ok(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["ok"], true, "{report}");
    let packages: Vec<String> = report["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {} {}", p["name"], p["locked"], p["status"]))
        .collect();
    assert_eq!(
        packages,
        ["\"app\" \"1.0.0\" \"ok\"", "\"lib\" \"1.0.0\" \"ok\""],
        "{report}"
    );
}

/// Origins are checked over the whole lockfile before it is narrowed: a macOS-only entry
/// pointing at an undeclared host is refused on Linux too, though Linux would never fetch it.
#[test]
fn an_entry_of_another_environment_from_an_undeclared_host_is_refused() {
    let env = env();
    let mut lock = env.lock(&env.environments());
    let mac = lock
        .packages
        .iter_mut()
        .find(|p| p.name.as_ref() == "macdep")
        .unwrap();
    mac.wheels[0].url = format!("https://elsewhere.example.test/{}", mac.wheels[0].name);
    std::fs::write(env.project.lockfile_path(), lock.render()).unwrap();
    let err = env.run_err(&["sync", "--frozen", "--python", "python3.11"]);
    assert!(err.contains("elsewhere.example.test"), "{err}");
    assert!(err.contains("macdep"), "{err}");
    assert!(!env.venv().exists(), "no venv was created");
}
