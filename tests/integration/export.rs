//! `sanctuary export`: hashed requirements files that the real pip installs with
//! `--require-hashes` (and refuses when a hash is tampered with), their exact text, and the
//! errors when a lockfile or a key is missing.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{Project, pip, stderr};
use crate::support::{Scenario, TestIndex, VersionSpec};

fn v() -> VersionSpec {
    VersionSpec::new()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A two-layer project on local servers: a PyPI stand-in and a PyTorch stand-in serving a
/// cu130 and a cpu torch build, keys `cu130` and `cpu`, one shared Application.
pub struct Env {
    pub project: Project,
    pub pypi: TestIndex,
    pub pytorch: TestIndex,
}

impl Env {
    /// Replace the servers' ports and the temp dir, which change from run to run.
    pub fn redact(&self, text: &str) -> String {
        text.replace(self.pypi.url(), "http://[pypi]")
            .replace(self.pytorch.url(), "http://[pytorch]")
            .replace(&self.project.path().display().to_string(), "[project]")
    }

    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.project.run(args);
        assert!(
            out.status.success(),
            "sanctuary {args:?} failed:\n{}",
            stderr(&out)
        );
        self.redact(&stdout(&out))
    }

    pub fn run_err(&self, args: &[&str]) -> String {
        let out = self.project.run(args);
        assert!(
            !out.status.success(),
            "sanctuary {args:?} unexpectedly succeeded:\n{}",
            stdout(&out)
        );
        assert!(out.stdout.is_empty(), "an error writes nothing to stdout");
        self.redact(&stderr(&out))
    }
}

/// The project, not locked yet.
pub fn two_layers() -> Env {
    let pypi = TestIndex::start(
        Scenario::new("pypi")
            .version("webby", "1.0.0", v().requires(["helper>=1", "torch>=2"]))
            .version("webby", "1.1.0", v().requires(["helper>=1.1", "torch>=2"]))
            .version("helper", "1.0.0", v().requires(["tiny"]))
            .version("helper", "1.1.0", v().requires(["tiny"]))
            .version("cli-tool", "0.3.0", v().requires(["helper"]))
            .versions("tiny", &["0.1.0"])
            .versions("filelock", &["3.20.0"]),
    );
    let torch = || v().requires(["filelock"]).sdist(false);
    let pytorch = TestIndex::start(
        Scenario::new("pytorch")
            .version("torch", "2.9.0+cu130", torch())
            .version("torch", "2.9.0+cpu", torch()),
    );
    let mut project = Project::new();
    project.env("SANCTUARY_INDEX_PYPI", &pypi.index_url());
    project.env("SANCTUARY_INDEX_PYTORCH", &pytorch.keyed_index_url());
    project.write_manifest(
        "[project]\nname = \"two\"\npython = \"3.11\"\nplatform = \"linux-x86_64\"\n\n\
         [[index]]\nname = \"pypi\"\nurl = \"https://pypi.org/simple\"\n\n\
         [[index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/{key}\"\nexplicit = true\n\n\
         [foundation]\nkeys = [\"cu130\", \"cpu\"]\nindex = \"pytorch\"\nrequirements = [\"torch==2.9.*\"]\n\n\
         [foundation.key.cu130]\nrequirements = [\"torch==2.9.0+cu130\"]\n\n\
         [foundation.key.cpu]\nrequirements = [\"torch==2.9.0+cpu\"]\n\n\
         [application]\nrequirements = [\"webby\", \"cli-tool\"]\n",
    );
    Env {
        project,
        pypi,
        pytorch,
    }
}

/// The project, locked.
pub fn locked() -> Env {
    let env = two_layers();
    env.project.lock_ok(&["-q"]);
    env
}

/// A fresh venv under `dir`; returns its python.
fn venv(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("venv");
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&path)
        .output()
        .expect("python3 -m venv");
    assert!(out.status.success(), "venv: {}", stderr(&out));
    path.join("bin/python")
}

fn pip_install(python: &Path, requirements: &Path) -> Output {
    pip(python)
        .args([
            "install",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--require-hashes",
            "-r",
        ])
        .arg(requirements)
        .output()
        .expect("run pip")
}

#[test]
fn pip_installs_the_whole_environment_of_a_key_with_require_hashes() {
    let env = locked();
    let req = env.project.path().join("requirements-cpu.txt");
    let out = env.project.run(&[
        "export",
        "--layer",
        "all",
        "--key",
        "cpu",
        "--format",
        "requirements-txt",
        "-o",
        req.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "-o writes nothing to stdout");
    let text = std::fs::read_to_string(&req).unwrap();
    assert!(text.contains("torch==2.9.0+cpu \\\n"), "{text}");

    let python = venv(env.project.path());
    let out = pip_install(&python, &req);
    assert!(
        out.status.success(),
        "pip install failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let out = Command::new(&python)
        .args([
            "-c",
            "import webby, cli_tool, helper, tiny, torch, filelock; \
             print(webby.__version__, helper.__version__, torch.__version__)",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "import failed: {}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "1.1.0 1.1.0 2.9.0+cpu");
    // Both indexes were asked: the default for the Application, the extra one for torch.
    assert!(!env.pypi.requests_to("/files/").is_empty());
    assert!(!env.pytorch.requests_to("/files/torch").is_empty());
}

#[test]
fn pip_refuses_a_tampered_hash() {
    let env = locked();
    let text = env
        .project
        .run(&["export", "--layer", "all", "--key", "cu130"]);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = stdout(&text);
    // Flip one hex digit of helper's (only) wheel hash.
    let at = text.find("helper==").unwrap();
    let hash = at + text[at..].find("--hash=sha256:").unwrap() + "--hash=sha256:".len();
    let mut bytes = text.into_bytes();
    bytes[hash] = if bytes[hash] == b'0' { b'1' } else { b'0' };
    let req = env.project.path().join("requirements.txt");
    std::fs::write(&req, bytes).unwrap();

    let python = venv(env.project.path());
    let out = pip_install(&python, &req);
    assert!(!out.status.success(), "pip installed a tampered file");
    let message = stderr(&out);
    assert!(message.to_lowercase().contains("hashes"), "{message}");
    assert!(message.contains("helper"), "{message}");
    let out = Command::new(&python)
        .args(["-c", "import webby"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "nothing is installed");
}

#[test]
fn export_snapshots() {
    let env = locked();
    let foundation = env.run_ok(&["export", "--layer", "foundation", "--key", "cu130"]);
    let application = env.run_ok(&["export", "--layer", "application"]);
    let all = env.run_ok(&["export", "--layer", "all", "--key", "cpu"]);
    insta::assert_snapshot!("foundation", foundation);
    insta::assert_snapshot!("application", application);
    insta::assert_snapshot!("all", all);
    // Deterministic, and the same with --key for the shared Application file.
    assert_eq!(
        env.run_ok(&["export", "--layer", "application", "--key", "cpu"])
            .replace("--key cpu ", "")
            .replace(", key cpu", ""),
        application
    );
    assert_eq!(
        env.run_ok(&["export", "--layer", "foundation", "--key", "cu130"]),
        foundation
    );
}

#[test]
fn a_flat_index_becomes_find_links() {
    let index = TestIndex::start(
        Scenario::new("flat")
            .version("app", "1.0.0", v().requires(["dep"]))
            .versions("dep", &["1.0.0"]),
    );
    let project = Project::new();
    project.write_manifest(&format!(
        "[project]\nname = \"t\"\npython = \"3.11\"\nplatform = \"linux-x86_64\"\n\
         [[index]]\nname = \"links\"\nurl = \"{}\"\nformat = \"flat\"\n\
         [application]\nrequirements = [\"app\"]\n",
        index.flat_url()
    ));
    project.lock_ok(&["-q"]);
    let out = project.run(&["export", "--layer", "application"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out).replace(index.url(), "http://[index]");
    insta::assert_snapshot!(text);
}

#[test]
fn errors_name_the_lockfile_and_the_keys() {
    let env = two_layers();
    let report = [
        (
            "not locked yet",
            env.run_err(&["export", "--layer", "application"]),
        ),
        (
            "not locked yet, foundation",
            env.run_err(&["export", "--layer", "foundation", "--key", "cpu"]),
        ),
    ];
    env.project.lock_ok(&["-q"]);
    std::fs::remove_file(
        env.project
            .path()
            .join("lockfiles/pylock.foundation-cu130.toml"),
    )
    .unwrap();
    let more = [
        (
            "several keys, no --key",
            env.run_err(&["export", "--layer", "foundation"]),
        ),
        (
            "all needs a key",
            env.run_err(&["export", "--layer", "all"]),
        ),
        (
            "unknown key",
            env.run_err(&["export", "--layer", "foundation", "--key", "cu999"]),
        ),
        (
            "a key's lockfile is missing",
            env.run_err(&["export", "--layer", "all", "--key", "cu130"]),
        ),
        (
            "unknown format",
            env.run_err(&["export", "--layer", "all", "--format", "conda"]),
        ),
    ];
    // Per-key Application files (as `lock` writes when the keys disagree).
    let dir = env.project.path().join("lockfiles");
    std::fs::copy(
        dir.join("pylock.application.toml"),
        dir.join("pylock.application-cu130.toml"),
    )
    .unwrap();
    std::fs::rename(
        dir.join("pylock.application.toml"),
        dir.join("pylock.application-cpu.toml"),
    )
    .unwrap();
    let per_key = [(
        "per-key Application files, no --key",
        env.run_err(&["export", "--layer", "application"]),
    )];
    let text = env.run_ok(&["export", "--layer", "application", "--key", "cpu"]);
    assert!(
        text.contains(
            "from lockfiles/pylock.application-cpu.toml (the application layer, key cpu;"
        ),
        "{text}"
    );
    let report: String = report
        .iter()
        .chain(more.iter())
        .chain(per_key.iter())
        .map(|(name, text)| format!("--- {name}\n{text}"))
        .collect();
    insta::assert_snapshot!(report);

    // No [foundation] at all.
    let plain = Project::with_requirements(&env.pypi.index_url(), "linux-x86_64", &["tiny"], &[]);
    plain.lock_ok(&["-q"]);
    let out = plain.run(&["export", "--layer", "foundation"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("declares no [foundation]"),
        "{}",
        stderr(&out)
    );
    let out = plain.run(&["export", "--layer", "application", "--key", "cpu"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--key cpu"), "{}", stderr(&out));
    // Without a Foundation, `all` is the Application.
    let out = plain.run(&["export", "--layer", "all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\ntiny==0.1.0 \\\n"));
}
