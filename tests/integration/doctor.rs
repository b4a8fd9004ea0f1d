//! `sanctuary doctor` on real environments: a project locked on the local test server, a venv
//! made by `python3 -m venv`, the locked wheels installed by the real pip; then the
//! environment is broken one way at a time and the report must name the problem.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{Project, stderr};
use crate::support::{Scenario, TestIndex, VersionSpec};

fn v() -> VersionSpec {
    VersionSpec::new()
}

/// `3.12` of the `python3` that makes the venvs, so the report has no Python warning.
fn python_minor() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn python_full() -> String {
    let out = Command::new("python3")
        .args(["-c", "import platform; print(platform.python_version())"])
        .output()
        .expect("python3 runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

struct Env {
    project: Project,
    wheels: PathBuf,
    _pypi: TestIndex,
    _trees: tempfile::TempDir,
}

const INSTALL: &[&str] = &[
    "torch==2.9.0+cu130",
    "nvidia-cublas==13.0.0.19",
    "filelock==3.20.0",
    "peft==0.13.0",
];

/// Lock torch (cu130, cu128, cpu from a keyed `file://` tree) and peft, write every wheel to
/// one directory, and install the cu130 set into `.venv` with pip.
fn installed() -> Env {
    let pypi = TestIndex::start(
        Scenario::new("pypi")
            .version("nvidia-cublas", "13.0.0.19", v().sdist(false))
            .version("nvidia-cublas-cu12", "12.8.4.1", v().sdist(false))
            .version("filelock", "3.20.0", v().sdist(false))
            .version(
                "peft",
                "0.13.0",
                v().requires(["torch>=2.4", "filelock"]).sdist(false),
            )
            .version("rich", "13.0.0", v().sdist(false))
            .version("wheel", "0.45.1", v().sdist(false)),
    );
    let trees = tempfile::tempdir().unwrap();
    let wheels = trees.path().join("wheels");
    pypi.write_files(&wheels).unwrap();
    for (key, version, dep) in [
        ("cu130", "2.9.0+cu130", Some("nvidia-cublas==13.0.0.19")),
        ("cu128", "2.9.0+cu128", Some("nvidia-cublas-cu12==12.8.4.1")),
        ("cpu", "2.9.0+cpu", None),
    ] {
        let deps: Vec<&str> = dep.into_iter().chain(["filelock"]).collect();
        let index = TestIndex::start(Scenario::new(key).version(
            "torch",
            version,
            v().requires(deps).sdist(false),
        ));
        for file in index.files() {
            let dir = trees.path().join(key).join(&file.project);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(&file.dist.filename), &file.dist.bytes).unwrap();
            std::fs::write(wheels.join(&file.dist.filename), &file.dist.bytes).unwrap();
        }
    }
    let mut project = Project::new();
    let tree_url = format!(
        "{}{{key}}",
        url::Url::from_directory_path(trees.path()).unwrap()
    );
    project.env("SANCTUARY_INDEX_PYPI", &pypi.index_url());
    project.env("SANCTUARY_INDEX_PYTORCH", &tree_url);
    project.write_manifest(&format!(
        "[project]\nname = \"forge\"\npython = \"{}\"\nplatform = \"linux-x86_64\"\n\n\
         [[index]]\nname = \"pypi\"\nurl = \"https://pypi.org/simple\"\n\n\
         [[index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/{{key}}\"\nexplicit = true\n\n\
         [foundation]\nkeys = [\"cu130\", \"cu128\", \"cpu\"]\nindex = \"pytorch\"\n\
         requirements = [\"torch==2.9.*\"]\n\n\
         [application]\nrequirements = [\"peft\"]\n",
        python_minor()
    ));
    project.lock_ok(&[]);
    let env = Env {
        project,
        wheels,
        _pypi: pypi,
        _trees: trees,
    };
    let venv = env.venv();
    let out = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .unwrap();
    assert!(out.status.success(), "venv: {}", stderr(&out));
    let wheels = env.wheels.to_str().unwrap().to_string();
    let mut args = vec![
        "install",
        "--no-index",
        "--no-deps",
        "--find-links",
        &wheels,
    ];
    args.extend_from_slice(INSTALL);
    env.pip(&args);
    env
}

impl Env {
    fn venv(&self) -> PathBuf {
        self.project.path().join(".venv")
    }

    fn site_packages(&self) -> PathBuf {
        let lib = self.venv().join("lib");
        let python = std::fs::read_dir(&lib)
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with("python"))
            .expect("lib/python3.X");
        python.path().join("site-packages")
    }

    /// The real pip of `python3`, working on the venv (`--python`), so the venv holds only
    /// what the tests install; no configuration points elsewhere.
    fn pip(&self, args: &[&str]) {
        let out = Command::new("python3")
            .args(["-m", "pip", "--disable-pip-version-check", "-q", "--python"])
            .arg(self.venv().join("bin/python"))
            .args(args)
            .env_remove("PIP_FIND_LINKS")
            .env_remove("PIP_INDEX_URL")
            .env_remove("PIP_EXTRA_INDEX_URL")
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("PIP_NO_INPUT", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "pip {args:?}: {}", stderr(&out));
    }

    /// `sanctuary doctor <args>` pretending `driver` (None: an empty hardware root, so no
    /// driver at all).
    fn doctor(&self, driver: Option<&str>, args: &[&str]) -> Output {
        let mut all = vec!["doctor"];
        all.extend_from_slice(args);
        let mut cmd = self.project.command(&all);
        match driver {
            Some(d) => {
                cmd.env("SANCTUARY_CUDA_DRIVER_VERSION", d);
            }
            None => {
                let empty = self.project.path().join("no-hardware");
                std::fs::create_dir_all(&empty).unwrap();
                cmd.env_remove("SANCTUARY_CUDA_DRIVER_VERSION")
                    .env("SANCTUARY_HARDWARE_ROOT", empty)
                    .env("PATH", "/nonexistent");
            }
        }
        cmd.env_remove("SANCTUARY_KEY").output().unwrap()
    }

    fn report_md(&self) -> String {
        redact(
            &std::fs::read_to_string(self.project.path().join("reports/environment_report.md"))
                .expect("markdown report written"),
            self.project.path(),
        )
    }

    /// The JSON report's entry for `name`.
    fn package_report(&self, name: &str) -> serde_json::Value {
        let json = self.report_json();
        json["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in the report"))
            .clone()
    }

    fn report_json(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.project.path().join("reports/environment_report.json"))
                .expect("json report written");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let schema: serde_json::Value =
            serde_json::from_str(&sanctuary::ops::examine::report_json_schema()).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "report does not match its schema: {errors:?}"
        );
        value
    }
}

fn redact(text: &str, project: &Path) -> String {
    let full = python_full();
    let minor = python_minor();
    let mut text = text.replace(&project.display().to_string(), "[PROJECT]");
    if !full.is_empty() {
        text = text.replace(&full, "[PYTHON]");
    }
    if !minor.is_empty() {
        text = text.replace(&format!("python{minor}"), "python[PY]");
        text = text.replace(&format!("target {minor}"), "target [PY]");
    }
    text
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_fails(out: &Output, needle: &str) -> String {
    let text = stdout(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "doctor should fail:\n{text}\n{}",
        stderr(out)
    );
    assert!(text.contains(needle), "expected `{needle}` in:\n{text}");
    text
}

#[test]
fn published_schema_matches_the_code() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/environment-report.schema.json");
    let generated = sanctuary::ops::examine::report_json_schema();
    if std::env::var_os("SANCTUARY_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "schema/environment-report.schema.json is out of date; regenerate it with \
         SANCTUARY_UPDATE_SCHEMA=1 cargo test --test integration doctor::published_schema"
    );
}

#[test]
fn clean_environment_passes() {
    let env = installed();
    let out = env.doctor(Some("580.65.06"), &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("ok: the environment matches the lockfiles"),
        "{text}"
    );
    let json = env.report_json();
    assert_eq!(json["summary"]["ok"], true);
    assert_eq!(json["key"]["key"], "cu130");
    insta::assert_snapshot!("doctor_clean", env.report_md());

    // --json prints the same report.
    let out = env.doctor(Some("580.65.06"), &["--json"]);
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, env.report_json());
}

#[test]
fn removed_package_fails() {
    let env = installed();
    env.pip(&["uninstall", "-y", "peft"]);
    assert_fails(
        &env.doctor(Some("580"), &[]),
        "error: `peft` 0.13.0 is locked in the application but not installed",
    );
    env.report_json();
    insta::assert_snapshot!("doctor_removed", env.report_md());
}

#[test]
fn extra_package_fails() {
    let env = installed();
    env.pip(&[
        "install",
        "--no-index",
        "--no-deps",
        "--find-links",
        env.wheels.to_str().unwrap(),
        "rich==13.0.0",
        "wheel==0.45.1",
    ]);
    assert_fails(
        &env.doctor(Some("580"), &[]),
        "error: `rich` 13.0.0 is installed but in no lockfile",
    );
    let text = stdout(&env.doctor(Some("580"), &[]));
    assert!(
        text.contains(
            "info: `wheel` 0.45.1 is installed (a bootstrap tool of the venv, in no lockfile)"
        ),
        "{text}"
    );
    env.report_json();
    insta::assert_snapshot!("doctor_extra", env.report_md());
}

#[test]
fn edited_file_fails() {
    let env = installed();
    let module = env.site_packages().join("filelock/__init__.py");
    let mut text = std::fs::read_to_string(&module).unwrap();
    text.push_str("print('patched')\n");
    std::fs::write(&module, text).unwrap();
    assert_fails(
        &env.doctor(Some("580"), &[]),
        "error: `filelock` 3.20.0: 1 installed file no longer matches RECORD: filelock/__init__.py (modified)",
    );
    let filelock = env.package_report("filelock");
    assert_eq!(filelock["status"], "modified");
    assert_eq!(filelock["files"][0]["state"], "modified");
    insta::assert_snapshot!("doctor_edited", env.report_md());
}

#[test]
fn same_version_from_another_artifact_fails() {
    let env = installed();
    let dist_info = env.site_packages().join("filelock-3.20.0.dist-info");
    let provenance = dist_info.join("provenance_url.json");
    let write = |url: &str, sha256: &str| {
        std::fs::write(
            &provenance,
            sanctuary::environment::parse::render_provenance(url, sha256, None),
        )
        .unwrap()
    };
    // What a sync from another index would record: same version, another file.
    let other = "0f".repeat(32);
    write(
        "https://mirror.example/filelock-3.20.0-py3-none-any.whl",
        &other,
    );
    assert_fails(
        &env.doctor(Some("580"), &[]),
        &format!(
            "error: `filelock` 3.20.0 is installed from \
             https://mirror.example/filelock-3.20.0-py3-none-any.whl (sha256 {other}), an \
             artifact the cu130 Foundation does not lock"
        ),
    );
    let filelock = env.package_report("filelock");
    assert_eq!(filelock["status"], "other-artifact");

    // The locked wheel's own hash: nothing to report.
    let wheel = std::fs::read(env.wheels.join("filelock-3.20.0-py3-none-any.whl")).unwrap();
    let locked = crate::support::wheelgen::sha256_hex(&wheel);
    write(
        "https://files.example/filelock-3.20.0-py3-none-any.whl",
        &locked,
    );
    let out = env.doctor(Some("580"), &[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn torch_newer_than_the_driver_fails() {
    let env = installed();
    // Asked for cu130 on a CUDA 12.8 driver: the key is refused, and the installed build too.
    let text = assert_fails(
        &env.doctor(Some("570.00"), &["--key", "cu130"]),
        "error: torch 2.9.0+cu130 is a CUDA 13.0 build, but the NVIDIA driver 570.00 runs CUDA 12.8 at most",
    );
    assert!(text.contains("sanctuary sync --cuda12"), "{text}");
    assert!(
        text.contains("update the NVIDIA driver to 580 or newer"),
        "{text}"
    );
    env.report_json();
    insta::assert_snapshot!("doctor_driver_key", env.report_md());

    // No flag: detection takes cu128, so the cu130 set is drift, and the build still fails.
    let text = assert_fails(
        &env.doctor(Some("570.00"), &[]),
        "error: torch 2.9.0+cu130 is a CUDA 13.0 build",
    );
    assert!(
        text.contains(
            "error: `torch` 2.9.0+cu130 is installed, but the cu128 Foundation locks 2.9.0+cu128"
        ),
        "{text}"
    );
    assert!(
        text.contains("error: `nvidia-cublas-cu12` 12.8.4.1 is locked"),
        "{text}"
    );
    insta::assert_snapshot!("doctor_driver_detected", env.report_md());
}

#[test]
fn cuda_build_without_a_driver_only_warns() {
    let env = installed();
    let out = env.doctor(None, &["--key", "cu130"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("warning: torch 2.9.0+cu130 is a CUDA 13.0 build, but no NVIDIA driver was found: it will run on the CPU only"),
        "{text}"
    );
    assert_eq!(env.report_json()["summary"]["warnings"], 1);
}

#[test]
fn missing_venv_is_an_error() {
    let env = installed();
    let out = env.doctor(Some("580"), &["--venv", "/nonexistent/venv"]);
    assert_fails(&out, "error: no virtual environment at /nonexistent/venv");
    env.report_json();
}

/// Regression: doctor accepted the provenance hash of any locked wheel of a package, while
/// sync accepts only the wheel it selects for this target; the two disagreed. Now doctor
/// compares with sync's own plan: the same version from a locked but not selected wheel is
/// "other artifact" for both.
#[test]
fn doctor_and_sync_agree_on_an_artifact_sync_would_not_choose() {
    let env = installed();
    // A second filelock wheel in the lockfile, compatible but ranked below `py3-none-any`.
    let lockfile = ["pylock.foundation-cu130.toml", "pylock.application.toml"]
        .iter()
        .map(|n| env.project.path().join("lockfiles").join(n))
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("filelock-3.20.0-py3-none-any.whl")
        })
        .unwrap();
    let text = std::fs::read_to_string(&lockfile).unwrap();
    let start = text
        .find("name = \"filelock-3.20.0-py3-none-any.whl\"")
        .unwrap();
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    let entry = &text[start..end];
    let other = "0e".repeat(32);
    let url_line = entry.lines().find(|l| l.starts_with("url = ")).unwrap();
    let second = format!(
        "\n\n[[packages.wheels]]\nname = \"filelock-3.20.0-py30-none-any.whl\"\n{}\nhashes = {{ sha256 = \"{other}\" }}",
        url_line.replace("py3-none-any", "py30-none-any")
    );
    let edited = format!("{}{second}{}", &text[..end], &text[end..]);
    std::fs::write(&lockfile, edited).unwrap();
    // The venv's filelock records that second wheel as its artifact.
    let provenance = env
        .site_packages()
        .join("filelock-3.20.0.dist-info/provenance_url.json");
    std::fs::write(
        &provenance,
        sanctuary::environment::parse::render_provenance(
            "https://files.example/filelock-3.20.0-py30-none-any.whl",
            &other,
            None,
        ),
    )
    .unwrap();

    let out = env.doctor(Some("580"), &[]);
    assert!(!out.status.success());
    assert_eq!(env.package_report("filelock")["status"], "other-artifact");

    let out = env
        .project
        .command(&["sync", "--frozen", "--dry-run", "--json", "--key", "cu130"])
        .env("SANCTUARY_CUDA_DRIVER_VERSION", "580")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let filelock = plan["install"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "filelock")
        .unwrap_or_else(|| panic!("sync leaves filelock alone: {plan}"));
    assert_eq!(filelock["reason"], "other-artifact");
}
