//! `sanctuary sync` with the real Python 3.11: a working environment that pip agrees with,
//! exact sync, the lockfile checks, the Foundation key switch on the forge mirror, and the
//! safety list (crafted wheels, tampered lockfiles, faults from the test server, two syncs
//! at once, SIGKILL at every stage).

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{Project, pip, stderr};
use crate::support::mirror::{fixtures_dir, index_url_template, pypi_scenario};
use crate::support::{Fault, Scenario, TestIndex, VersionSpec};

pub(crate) fn v() -> VersionSpec {
    VersionSpec::new()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A package with a module, a console script, a `.data` script and data file.
pub(crate) fn app(version: &str) -> VersionSpec {
    v().requires(["lib>=1"])
        .entry_point("console_scripts", "app-cli", "app.cli:main")
        .file(
            "app/cli.py",
            &format!("def main():\n    print('app-cli {version}')\n"),
        )
        .file(
            &format!("app-{version}.data/scripts/app-run"),
            "#!python\nimport app\nprint('app-run', app.__version__)\n",
        )
        .file(
            &format!("app-{version}.data/data/share/app/readme.txt"),
            "hello\n",
        )
        // As long a name as `app/cli.py`, for crafting duplicate entries.
        .file("app/cl2.py", "x = 2\n")
}

pub(crate) fn scenario() -> Scenario {
    Scenario::new("pypi")
        .version("app", "1.0.0", app("1.0.0"))
        .version("app", "2.0.0", app("2.0.0").requires(["new>=1"]))
        .versions("lib", &["1.0.0"])
        .versions("old", &["1.0.0"])
        .versions("new", &["1.0.0"])
}

/// A project on its own test server, Python 3.11, its venv at `.venv`.
pub(crate) struct Env {
    pub(crate) project: Project,
    pub(crate) index: TestIndex,
}

pub(crate) fn env_with(scenario: Scenario, requirements: &[&str]) -> Env {
    let index = TestIndex::start(scenario);
    let project = Project::new();
    let env = Env { project, index };
    env.requirements(requirements);
    env
}

pub(crate) fn env(requirements: &[&str]) -> Env {
    env_with(scenario(), requirements)
}

impl Env {
    pub(crate) fn requirements(&self, requirements: &[&str]) {
        let list: String = requirements.iter().map(|r| format!("\"{r}\", ")).collect();
        self.project.write_manifest(&format!(
            "[project]\nname = \"s\"\npython = \"3.11\"\nplatform = \"linux-x86_64\"\n\n\
             [[index]]\nname = \"pypi\"\nurl = \"{}\"\n\n\
             [application]\nrequirements = [{list}]\n\n[sync]\nvenv = \".venv\"\n",
            self.index.index_url()
        ));
    }

    pub(crate) fn venv(&self) -> PathBuf {
        self.project.path().join(".venv")
    }

    pub(crate) fn python(&self) -> PathBuf {
        self.venv().join("bin/python")
    }

    pub(crate) fn sync(&self, args: &[&str]) -> Output {
        let mut all = vec!["sync"];
        all.extend_from_slice(args);
        self.project.run(&all)
    }

    pub(crate) fn sync_ok(&self, args: &[&str]) -> String {
        let out = self.sync(args);
        assert!(
            out.status.success(),
            "sanctuary sync {args:?} failed:\n{}",
            stderr(&out)
        );
        stderr(&out)
    }

    pub(crate) fn sync_err(&self, args: &[&str]) -> String {
        let out = self.sync(args);
        assert!(
            !out.status.success(),
            "sanctuary sync {args:?} unexpectedly succeeded:\n{}",
            stderr(&out)
        );
        stderr(&out)
    }

    pub(crate) fn lockfile_path(&self) -> PathBuf {
        self.project.lockfile_path()
    }

    /// Rewrite the lockfile's wheel entry of `filename` (url, sha256, size lines).
    pub(crate) fn edit_wheel(&self, filename: &str, edit: impl Fn(&str) -> Option<String>) {
        let text = std::fs::read_to_string(self.lockfile_path()).unwrap();
        let mut out = String::new();
        let mut inside = false;
        for line in text.lines() {
            if line.starts_with("name = ") {
                inside = line == format!("name = \"{filename}\"");
            }
            match (inside, edit(line)) {
                (true, Some(new)) => out.push_str(&new),
                _ => out.push_str(line),
            }
            out.push('\n');
        }
        assert_ne!(out, text, "no wheel entry {filename} changed");
        std::fs::write(self.lockfile_path(), out).unwrap();
    }

    /// Point the lockfile's `filename` entry at `bytes`, served by the test index (on the
    /// index's own origin, as a tampered upload would be), with their true sha256 and size.
    pub(crate) fn serve_crafted(&self, filename: &str, bytes: &[u8]) {
        let sha = crate::support::wheelgen::sha256_hex(bytes);
        let url = self
            .index
            .serve_crafted(&format!("{}/{filename}", &sha[..16]), bytes);
        let size = bytes.len();
        self.edit_wheel(filename, |line| {
            if line.starts_with("url = ") {
                Some(format!("url = \"{url}\""))
            } else if line.starts_with("hashes = ") {
                Some(format!("hashes = {{ sha256 = \"{sha}\" }}"))
            } else if line.starts_with("size = ") {
                Some(format!("size = {size}"))
            } else {
                None
            }
        });
    }

    pub(crate) fn served(&self, filename: &str) -> Vec<u8> {
        self.index
            .file(filename)
            .expect(filename)
            .dist
            .bytes
            .clone()
    }
}

/// `pip list` of the venv, by the system pip (the venv has none): name -> version.
fn pip_list(python: &Path) -> BTreeMap<String, String> {
    let out = pip(Path::new("python3"))
        .arg("--python")
        .arg(python)
        .args(["list", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "pip list: {}", stderr(&out));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    list.iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_lowercase().replace('_', "-"),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pip_check(python: &Path) {
    let out = pip(Path::new("python3"))
        .arg("--python")
        .arg(python)
        .arg("check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pip check: {}{}",
        stdout(&out),
        stderr(&out)
    );
}

fn lock_pins(path: &Path) -> BTreeMap<String, String> {
    let lock = sanctuary::pylock::Lockfile::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    lock.packages
        .iter()
        .map(|p| (p.name.to_string(), p.version.to_string()))
        .collect()
}

pub(crate) fn run_python(python: &Path, code: &str) -> String {
    let out = Command::new(python).args(["-c", code]).output().unwrap();
    assert!(out.status.success(), "{code}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

/// Every path under `dir` with its content (directories: `None`), mode and mtime.
pub(crate) type Snapshot = BTreeMap<PathBuf, (Option<Vec<u8>>, u32, std::time::SystemTime)>;

pub(crate) fn snapshot(dir: &Path) -> Snapshot {
    use std::os::unix::fs::PermissionsExt as _;
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            let content = if meta.is_dir() {
                stack.push(p.clone());
                None
            } else if meta.is_symlink() {
                Some(
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                )
            } else {
                Some(std::fs::read(&p).unwrap())
            };
            let mtime = if meta.is_dir() {
                std::time::UNIX_EPOCH
            } else {
                meta.modified().unwrap()
            };
            out.insert(rel, (content, meta.permissions().mode(), mtime));
        }
    }
    out
}

/// Paths only (no `__pycache__`), to compare two environments built differently.
fn file_set(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir)
        .into_iter()
        .filter(|(p, (c, _, _))| {
            c.is_some() && !p.components().any(|c| c.as_os_str() == "__pycache__")
        })
        .map(|(p, _)| p)
        .collect()
}

/// The environment is exactly the lockfile: pip lists the locked versions, pip check is
/// clean, and every distribution's files match its RECORD.
fn assert_matches_lockfile(env: &Env) {
    let listed = pip_list(&env.python());
    assert_eq!(
        listed,
        lock_pins(&env.lockfile_path()),
        "pip list vs lockfile"
    );
    pip_check(&env.python());
    let installed = sanctuary::environment::Environment::read(&env.venv()).unwrap();
    assert!(
        installed.unreadable.is_empty(),
        "{:?}",
        installed.unreadable
    );
    for d in &installed.distributions {
        assert_eq!(d.installer.as_deref(), Some("sanctuary"), "{}", d.name);
        let bad = d.verify(&installed.site_packages);
        assert!(bad.is_empty(), "{}: {bad:?}", d.name);
    }
    assert!(
        !env.venv().join(".sanctuary-journal.json").exists(),
        "the journal is cleared"
    );
}

#[test]
fn sync_makes_a_working_environment_that_pip_agrees_with() {
    let env = env(&["app==1.0.0", "old"]);
    let err = env.sync_ok(&[]);
    assert!(err.contains("locking first"), "{err}");
    assert!(err.contains("+ app==1.0.0"), "{err}");
    assert!(env.python().exists(), "the venv was created");
    assert_matches_lockfile(&env);
    // No pip in the venv: sanctuary creates it without.
    assert!(!pip_list(&env.python()).contains_key("pip"));

    // Imports, the console script, the `.data` script with its rewritten shebang, data.
    assert_eq!(
        run_python(
            &env.python(),
            "import app, lib, old; print(app.__version__, lib.__version__)"
        ),
        "1.0.0 1.0.0"
    );
    let out = Command::new(env.venv().join("bin/app-cli"))
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "app-cli 1.0.0", "{}", stderr(&out));
    let out = Command::new(env.venv().join("bin/app-run"))
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "app-run 1.0.0", "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(env.venv().join("share/app/readme.txt")).unwrap(),
        "hello\n"
    );
    // What pip reads: INSTALLER, REQUESTED for direct requirements only, and our artifact.
    let site = run_python(
        &env.python(),
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    );
    let dist_info = Path::new(&site).join("app-1.0.0.dist-info");
    assert_eq!(
        std::fs::read_to_string(dist_info.join("INSTALLER")).unwrap(),
        "sanctuary\n"
    );
    assert!(dist_info.join("REQUESTED").exists());
    assert!(
        !Path::new(&site)
            .join("lib-1.0.0.dist-info/REQUESTED")
            .exists()
    );
    let provenance = std::fs::read_to_string(dist_info.join("provenance_url.json")).unwrap();
    let sha = crate::support::wheelgen::sha256_hex(&env.served("app-1.0.0-py3-none-any.whl"));
    assert!(provenance.contains(&sha), "{provenance}");

    // pip uninstalls one of ours by its RECORD, files and console script included.
    let out = pip(Path::new("python3"))
        .arg("--python")
        .arg(env.python())
        .args(["uninstall", "-y", "app"])
        .output()
        .unwrap();
    assert!(out.status.success(), "pip uninstall: {}", stderr(&out));
    assert!(!env.venv().join("bin/app-cli").exists());
    assert!(!Path::new(&site).join("app").exists());
    assert!(!dist_info.exists());
    // And the next sync puts it back.
    let err = env.sync_ok(&[]);
    assert!(err.contains("+ app==1.0.0"), "{err}");
    assert_matches_lockfile(&env);
}

#[test]
fn a_second_sync_touches_nothing() {
    let env = env(&["app==1.0.0"]);
    env.sync_ok(&[]);
    let before = snapshot(env.project.path());
    let err = env.sync_ok(&[]);
    assert!(err.contains("are up to date"), "{err}");
    assert_eq!(snapshot(env.project.path()), before);
}

#[test]
fn sync_replaces_and_removes_to_match_the_lockfile_exactly() {
    let env = env(&["app==1.0.0", "old"]);
    env.sync_ok(&[]);
    env.requirements(&["app==2.0.0"]);
    let err = env.sync_ok(&[]);
    assert!(err.contains("- old==1.0.0"), "{err}");
    assert!(err.contains("+ app==2.0.0 (was 1.0.0)"), "{err}");
    assert!(err.contains("+ new==1.0.0"), "{err}");
    assert_matches_lockfile(&env);
    let out = Command::new(env.venv().join("bin/app-cli"))
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "app-cli 2.0.0");
    // Identical to a fresh sync of the same lockfile into a new venv.
    let fresh = env.project.path().join("fresh");
    env.sync_ok(&["--venv", fresh.to_str().unwrap()]);
    assert_eq!(
        file_set(&env.venv().join("lib")),
        file_set(&fresh.join("lib")),
        "site-packages after replacing equals a fresh install"
    );

    // --inexact keeps what the lockfile does not list.
    env.requirements(&["app==2.0.0", "old"]);
    env.sync_ok(&[]);
    env.requirements(&["app==2.0.0"]);
    env.sync_ok(&["--inexact"]);
    assert!(pip_list(&env.python()).contains_key("old"));
}

#[test]
fn locked_refuses_stale_lockfiles_frozen_installs_them_and_dry_run_changes_nothing() {
    let env = env(&["app==1.0.0"]);
    env.sync_ok(&[]);
    env.requirements(&["app==2.0.0"]);
    let lock_before = std::fs::read_to_string(env.lockfile_path()).unwrap();
    let before = snapshot(&env.venv());

    let err = env.sync_err(&["--locked"]);
    assert!(
        err.contains("--locked: the lockfiles are out of date"),
        "{err}"
    );
    assert!(err.contains("pylock.application.toml is stale"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert_eq!(
        std::fs::read_to_string(env.lockfile_path()).unwrap(),
        lock_before
    );
    assert_eq!(snapshot(&env.venv()), before);

    // --frozen installs the (stale) lockfile as it is: nothing changes.
    let err = env.sync_ok(&["--frozen"]);
    assert!(err.contains("up to date"), "{err}");
    assert_eq!(
        std::fs::read_to_string(env.lockfile_path()).unwrap(),
        lock_before
    );

    // --dry-run writes nothing, lockfiles included: with stale lockfiles it says so and plans
    // from them as they are.
    let out = env.sync(&["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: the lockfiles are out of date"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("app==2.0.0"), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(env.lockfile_path()).unwrap(),
        lock_before
    );
    // Once locked, it prints the plan on stdout, as data.
    env.project.lock_ok(&["-q"]);
    let out = env.sync(&["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(
        plan.contains("would install app==2.0.0 (was 1.0.0)"),
        "{plan}"
    );
    assert!(plan.contains("would install new==1.0.0"), "{plan}");
    assert_eq!(snapshot(&env.venv()), before);
    // --json: the same plan as JSON.
    let out = env.sync(&["--dry-run", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["install"][0]["name"], "app");
    assert_eq!(json["install"][0]["was"], "1.0.0");
    assert_eq!(json["install"][0]["reason"], "other-version");
    assert_eq!(json["create"], false);
    // A dry run into a venv that does not exist creates nothing.
    let out = env.sync(&["--dry-run", "--venv", "never"]);
    assert!(
        stdout(&out).contains("would create a virtual environment"),
        "{}",
        stdout(&out)
    );
    assert!(!env.project.path().join("never").exists());
}

#[test]
fn offline_installs_from_the_cache_only() {
    let env = env(&["app==1.0.0"]);
    env.sync_ok(&[]);
    env.index.clear_requests();
    let other = env.project.path().join("other");
    env.sync_ok(&["--offline", "--venv", other.to_str().unwrap()]);
    assert!(
        env.index.requests().is_empty(),
        "{:?}",
        env.index.requests()
    );
    // Nothing cached for a new artifact: a clear error, nothing changed.
    env.requirements(&["app==2.0.0"]);
    env.project.lock_ok(&["-q"]);
    let before = snapshot(&env.venv());
    let err = env.sync_err(&["--offline"]);
    assert!(err.contains("app 2.0.0"), "{err}");
    assert!(err.contains("--offline"), "{err}");
    assert_eq!(snapshot(&env.venv()), before);
}

#[test]
fn retries_server_errors_and_resets_while_downloading() {
    let scenario = scenario()
        .fault(Fault::status("/files/lib", 503, 2))
        .fault(Fault::reset("/files/app", 1));
    let env = env_with(scenario, &["app==1.0.0"]);
    env.sync_ok(&[]);
    assert_matches_lockfile(&env);
    let lib = env.index.requests_to("/files/lib");
    assert!(
        lib.iter().filter(|r| r.status == 503).count() == 2,
        "{lib:?}"
    );
}

#[test]
fn no_interpreter_for_the_manifest_python_is_a_clear_error() {
    let env = env(&["app==1.0.0"]);
    env.project.lock_ok(&["-q"]);
    let text = env
        .project
        .manifest()
        .replace("python = \"3.11\"", "python = \"3.9\"");
    env.project.write_manifest(&text);
    let err = env.sync_err(&["--frozen", "--python", "python3"]);
    assert!(err.contains("3.9"), "{err}");
    assert!(!env.venv().exists(), "no venv was created");
}

// ---- the Foundation: switching keys on the forge mirror ----

#[test]
fn switching_forge_between_keys_swaps_the_cuda_libraries() {
    let pypi = TestIndex::start(pypi_scenario());
    let mut project = Project::new();
    project.env("SANCTUARY_INDEX_PYPI", &pypi.index_url());
    project.env("SANCTUARY_INDEX_PYTORCH", &index_url_template("stable"));
    let text = std::fs::read_to_string(fixtures_dir().join("forge/sanctuary.toml")).unwrap();
    project.write_manifest(&text.replace("python = \"3.12\"", "python = \"3.11\""));
    let env = Env {
        project,
        index: pypi,
    };
    env.project.lock_ok(&["-q"]);
    let installed = || pip_list(&env.python());
    let cuda = |names: &BTreeMap<String, String>| -> Vec<String> {
        names
            .keys()
            .filter(|n| n.starts_with("nvidia-") || n.starts_with("cuda-") || *n == "triton")
            .cloned()
            .collect()
    };

    env.sync_ok(&["--key", "cu128"]);
    pip_check(&env.python());
    let cu128 = installed();
    assert!(cu128["torch"].ends_with("+cu128"), "{cu128:?}");
    let cu12: Vec<String> = cu128
        .keys()
        .filter(|n| n.ends_with("-cu12"))
        .cloned()
        .collect();
    assert!(cu12.len() > 5, "{cu128:?}");
    assert_eq!(
        run_python(
            &env.python(),
            "import torch, transformers; print(torch.__version__)"
        ),
        cu128["torch"]
    );

    let err = env.sync_ok(&["--cuda13"]);
    pip_check(&env.python());
    // The key, said with why, and remembered in the venv.
    assert!(
        err.contains("hardware key cu130: asked for by --cuda13"),
        "{err}"
    );
    assert!(
        err.contains("was synced with key cu128; switching it to cu130"),
        "{err}"
    );
    let remembered = std::fs::read_to_string(env.venv().join(".sanctuary-key")).unwrap();
    assert_eq!(remembered.trim(), "cu130");
    let cu130 = installed();
    assert!(cu130["torch"].ends_with("+cu130"), "{cu130:?}");
    for name in &cu12 {
        assert!(
            !cu130.contains_key(name),
            "{name} stayed after moving to cu130"
        );
        assert!(
            err.contains(&format!("- {name}==")),
            "{name} not reported removed:\n{err}"
        );
    }
    let cu13 = cuda(&cu130);
    assert!(cu13.iter().any(|n| n.starts_with("nvidia-")), "{cu130:?}");
    assert!(cu13.iter().all(|n| !n.ends_with("-cu12")), "{cu13:?}");
    let foundation = env
        .project
        .path()
        .join("lockfiles/pylock.foundation-cu130.toml");
    for (name, version) in lock_pins(&foundation) {
        assert_eq!(cu130.get(&name), Some(&version), "{name}");
    }

    // Regression: after `sync --cuda13` on a machine without a driver, a plain doctor
    // compared the venv with the cpu lockfiles (19 errors). It checks the key the venv was
    // synced with, and says this machine has no driver for it (a warning, not drift).
    let out = env.project.run(&["doctor", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["key"]["key"], "cu130", "{report}");
    assert_eq!(
        report["hardware"]["selection"]["chosen_by"], "venv",
        "{report}"
    );
    assert_eq!(report["summary"]["errors"], 0, "{report}");
    assert!(out.status.success(), "{}", stderr(&out));

    let err = env.sync_ok(&["--cpu"]);
    assert!(
        err.contains("was synced with key cu130; switching it to cpu"),
        "{err}"
    );
    pip_check(&env.python());
    let cpu = installed();
    assert!(cpu["torch"].ends_with("+cpu"), "{cpu:?}");
    assert_eq!(
        cuda(&cpu),
        Vec::<String>::new(),
        "CUDA libraries left under cpu"
    );
    assert_eq!(
        run_python(
            &env.python(),
            "import torch, torchvision; print(torch.__version__)"
        ),
        cpu["torch"]
    );
}

// ---- safety ----

/// The venv holds `app 1.0.0`; the lockfile is then changed so that the next sync installs
/// `app 2.0.0` from whatever the test puts there.
pub(crate) fn synced_then_upgrading() -> Env {
    let env = env(&["app==1.0.0"]);
    env.sync_ok(&[]);
    env.requirements(&["app==2.0.0"]);
    env.project.lock_ok(&["-q"]);
    env
}

pub(crate) const APP2: &str = "app-2.0.0-py3-none-any.whl";

#[test]
fn unsafe_archive_paths_are_refused_and_nothing_is_written() {
    for entry in [
        "../evil.py",
        "app/../../evil.py",
        "/tmp/evil.py",
        "C:/evil.py",
        "app-2.0.0.data/purelib/../../../evil.py",
        "app-2.0.0.data/data/../../.venv-evil/x.py",
    ] {
        let scenario = scenario().version(
            "app",
            "2.0.0",
            app("2.0.0").file(entry, "print('escaped')\n"),
        );
        let env = env_with(scenario, &["app==1.0.0"]);
        env.sync_ok(&[]);
        env.requirements(&["app==2.0.0"]);
        let before = snapshot(env.project.path().join(".venv").as_path());
        let err = env.sync_err(&[]);
        assert!(
            err.contains(&format!("entry `{entry}` is refused")),
            "{entry}: {err}"
        );
        assert!(err.contains(APP2), "{entry}: {err}");
        assert_eq!(snapshot(&env.venv()), before, "{entry}");
        assert!(!env.project.path().join("evil.py").exists());
        assert!(!env.project.path().join(".venv-evil").exists());
    }
}

/// Replace every occurrence of `from` in `bytes` (the first only, with `first_only`).
fn patch(bytes: &[u8], from: &[u8], to: &[u8], first_only: bool) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut i = 0;
    let mut n = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            n += 1;
            if first_only {
                break;
            }
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(n > 0, "pattern not found");
    out
}

/// Flip the CRC-32 of the archive's first entry in both its local header and its central
/// directory record: the two agree, and the data no longer matches.
fn flip_first_crc(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    assert_eq!(&out[..4], b"PK\x03\x04");
    let name_len = usize::from(u16::from_le_bytes([out[26], out[27]]));
    let name = out[30..30 + name_len].to_vec();
    out[14] ^= 0xff;
    let cd = (0..out.len() - 4)
        .find(|&i| out[i..i + 4] == *b"PK\x01\x02" && out[i + 46..].starts_with(&name))
        .expect("central directory record");
    out[cd + 16] ^= 0xff;
    out
}

type Tamper = fn(&[u8]) -> Vec<u8>;

#[test]
fn inconsistent_zips_are_refused_and_nothing_is_written() {
    let cases: [(&str, Tamper, &str); 3] = [
        (
            "local header disagrees",
            // The first occurrence of a name is its local header; the central directory
            // keeps the true one.
            |b| patch(b, b"app/cl2.py", b"app/clj.py", true),
            "the local file header disagrees with the central directory (file name)",
        ),
        (
            "duplicate entry",
            // Local header and central directory both say `app/cli.py`, twice.
            |b| patch(b, b"app/cl2.py", b"app/cli.py", false),
            "entries `app/cli.py` and `app/cli.py` both install",
        ),
        ("bad CRC", flip_first_crc, "is corrupt"),
    ];
    for (case, tamper, message) in cases {
        let env = synced_then_upgrading();
        let bytes = tamper(&env.served(APP2));
        env.serve_crafted(APP2, &bytes);
        let before = snapshot(&env.venv());
        let err = env.sync_err(&["--frozen"]);
        assert!(err.contains(APP2), "{case}: {err}");
        assert!(err.contains(message), "{case}: {err}");
        assert_eq!(snapshot(&env.venv()), before, "{case}");
    }
}

#[test]
fn bad_entry_point_names_are_refused() {
    for name in [
        "../evil",
        "bin/evil",
        "python",
        "python3.11",
        "activate",
        "..",
    ] {
        let scenario = scenario().version(
            "app",
            "2.0.0",
            app("2.0.0").entry_point("console_scripts", name, "app.cli:main"),
        );
        let env = env_with(scenario, &["app==1.0.0"]);
        env.sync_ok(&[]);
        env.requirements(&["app==2.0.0"]);
        let before = snapshot(&env.venv());
        let err = env.sync_err(&[]);
        assert!(err.contains("entry_points.txt"), "{name}: {err}");
        assert!(err.contains(&format!("`{name}`")), "{name}: {err}");
        assert_eq!(snapshot(&env.venv()), before, "{name}");
    }
}

#[test]
fn record_entries_outside_the_environment_are_never_deleted() {
    let env = env(&["app==1.0.0", "old"]);
    env.sync_ok(&[]);
    let outside = env.project.path().join("precious.txt");
    std::fs::write(&outside, "keep me").unwrap();
    let sibling = env.project.path().join(".venv-other/keep.txt");
    std::fs::create_dir_all(sibling.parent().unwrap()).unwrap();
    std::fs::write(&sibling, "keep me too").unwrap();
    let site = run_python(
        &env.python(),
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    );
    let record = Path::new(&site).join("old-1.0.0.dist-info/RECORD");
    let mut text = std::fs::read_to_string(&record).unwrap();
    text.push_str(&format!("{},,\n", outside.display()));
    text.push_str("../../../../precious.txt,,\n");
    text.push_str("../../../../.venv-other/keep.txt,,\n");
    std::fs::write(&record, text).unwrap();

    env.requirements(&["app==1.0.0"]);
    let err = env.sync_ok(&[]);
    assert!(err.contains("- old==1.0.0"), "{err}");
    assert!(err.contains("outside the environment"), "{err}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep me");
    assert_eq!(std::fs::read_to_string(&sibling).unwrap(), "keep me too");
    assert!(
        !Path::new(&site).join("old").exists(),
        "old's own files went"
    );
}

#[test]
fn a_hash_or_size_mismatch_leaves_the_environment_byte_identical() {
    // sha256: one hex digit flipped in the lockfile.
    let env = synced_then_upgrading();
    let sha = crate::support::wheelgen::sha256_hex(&env.served(APP2));
    let flipped = format!(
        "{}{}",
        if sha.starts_with('0') { '1' } else { '0' },
        &sha[1..]
    );
    env.edit_wheel(APP2, |l| {
        l.starts_with("hashes = ")
            .then(|| format!("hashes = {{ sha256 = \"{flipped}\" }}"))
    });
    let before = snapshot(&env.venv());
    let err = env.sync_err(&["--frozen"]);
    assert!(err.contains("hash mismatch for app 2.0.0"), "{err}");
    assert!(err.contains(&format!("expected sha256 {flipped}")), "{err}");
    assert!(err.contains(&format!("actual sha256 {sha}")), "{err}");
    assert_eq!(snapshot(&env.venv()), before);
    let wheels = sanctuary::cache::CacheRoot::new(&env.project.cache).wheels();
    assert!(
        !wheels.join(&flipped).exists() && !wheels.join(&sha).exists(),
        "nothing reached the wheel cache"
    );

    // size: the lockfile says one byte less (the download stops there) or one more.
    for delta in [-1i64, 1] {
        let env = synced_then_upgrading();
        let size = env.served(APP2).len() as i64;
        let wrong = size + delta;
        env.edit_wheel(APP2, |l| {
            l.starts_with("size = ").then(|| format!("size = {wrong}"))
        });
        let before = snapshot(&env.venv());
        let err = env.sync_err(&["--frozen"]);
        assert!(err.contains("size mismatch for app 2.0.0"), "{err}");
        assert!(err.contains(&format!("expected {wrong} bytes")), "{err}");
        assert_eq!(snapshot(&env.venv()), before, "size {delta}");
    }
}

#[test]
fn two_syncs_of_one_environment_are_serialised() {
    // Slow downloads keep the first sync inside the environment lock for a while.
    let scenario = scenario().fault(Fault::delay("/files/", 1500));
    // Create the venv (and its lock file) first, empty: a missing venv is only created
    // once its wheels are fetched, so the first sync would take the lock too late.
    let env = env_with(scenario, &[]);
    env.sync_ok(&[]);
    env.requirements(&["app==1.0.0", "old"]);
    env.project.lock_ok(&["-q"]);
    env.index.clear_requests();
    let first = env
        .project
        .command(&["sync", "--frozen"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first holds the environment lock (probing it from here).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let lock_file = env.venv().join(".sanctuary.lock");
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the first sync never took the lock"
        );
        if let Ok(file) = std::fs::File::open(&lock_file)
            && matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = env.sync(&["--frozen"]);
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(second.status.success(), "{}", stderr(&second));
    let second_err = stderr(&second);
    assert!(
        second_err.contains("waiting for another sanctuary process"),
        "{second_err}"
    );
    // The second ran after the first finished, so it found nothing to do.
    assert!(second_err.contains("up to date"), "{second_err}");
    assert_matches_lockfile(&env);
}

/// Run a sync that stops at `failpoint`, SIGKILL it there, and return.
fn kill_at(env: &Env, failpoint: &str) {
    let mut child = env
        .project
        .command(&["sync", "--frozen"])
        .env("SANCTUARY_FAILPOINT", failpoint)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let reached = loop {
        match lines.next() {
            Some(Ok(line)) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains("failpoint") && line.contains("reached") {
                    break true;
                }
            }
            _ => break false,
        }
    };
    // Child::kill is SIGKILL on Unix.
    let _ = child.kill();
    let status = child.wait().unwrap();
    assert!(reached, "{failpoint} was never reached ({status}):\n{seen}");
}

#[test]
fn a_sync_killed_at_any_point_is_repaired_by_the_next() {
    let points = [
        "before-journal:1",
        "after-journal:1",
        "uninstall:1",
        "uninstall:2",
        "remove-file:1",
        "remove-file:3",
        "place-file:1",
        "place-file:4",
        "place-file:9",
        "before-clear:1",
    ];
    for point in points {
        let env = env(&["app==1.0.0", "old"]);
        env.sync_ok(&[]);
        env.requirements(&["app==2.0.0"]);
        env.project.lock_ok(&["-q"]);
        kill_at(&env, point);
        let err = env.sync_ok(&["--frozen"]);
        assert_matches_lockfile(&env);
        let out = Command::new(env.venv().join("bin/app-cli"))
            .output()
            .unwrap();
        assert_eq!(stdout(&out).trim(), "app-cli 2.0.0", "{point}: {err}");
        // Nothing stray: the same files as a clean sync of the lockfile.
        let fresh = env.project.path().join("fresh");
        env.sync_ok(&["--frozen", "--venv", fresh.to_str().unwrap()]);
        let stray: Vec<PathBuf> = file_set(&env.venv().join("lib"))
            .into_iter()
            .filter(|p| !file_set(&fresh.join("lib")).contains(p))
            .collect();
        assert!(stray.is_empty(), "{point}: stray files {stray:?}\n{err}");
        assert_eq!(
            file_set(&env.venv().join("lib")),
            file_set(&fresh.join("lib")),
            "{point}: {err}"
        );
    }
}

/// Regression: the lockfile's sha256 was joined onto the cache path, so `../../x/fake` or an
/// absolute path installed an arbitrary directory as if it were the unpacked wheel, and
/// `sync --locked` exited 0.
#[test]
fn a_sha256_that_is_a_path_is_refused_when_the_lockfile_is_read() {
    for bad in ["../../x/fake", "/etc", "0123"] {
        let env = synced_then_upgrading();
        env.edit_wheel(APP2, |l| {
            l.starts_with("hashes = ")
                .then(|| format!("hashes = {{ sha256 = \"{bad}\" }}"))
        });
        let before = snapshot(&env.venv());
        for args in [&["--locked"][..], &["--frozen"]] {
            let err = env.sync_err(args);
            assert!(
                err.contains("pylock.application.toml")
                    && err.contains("package `app` 2.0.0")
                    && err.contains("wheels[0].hashes.sha256")
                    && err.contains(bad),
                "{bad} {args:?}: {err}"
            );
        }
        assert_eq!(snapshot(&env.venv()), before, "{bad}");
        // A plain sync says the same, re-locks (as for any stale lockfile) and installs what
        // the index serves, under its true hash.
        let out = env.sync_ok(&[]);
        assert!(out.contains("wheels[0].hashes.sha256"), "{out}");
        let sha = crate::support::wheelgen::sha256_hex(&env.served(APP2));
        let text = std::fs::read_to_string(env.lockfile_path()).unwrap();
        assert!(text.contains(&sha) && !text.contains(bad), "{text}");
    }
}
