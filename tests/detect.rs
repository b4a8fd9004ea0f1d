//! `sanctuary detect`, the binary: the published report schema matches the code, and the
//! choice on machines made of files.
//!
//! Tests that must not depend on this machine's GPU set `SANCTUARY_HARDWARE_ROOT` to a
//! temporary directory standing for `/` (the probe then loads NVML, reads `/proc` and `/sys`,
//! and runs `nvidia-smi` only under it) or pretend a driver with
//! `SANCTUARY_CUDA_DRIVER_VERSION`. One test probes the real machine and asserts only what
//! holds on any machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn forge() -> PathBuf {
    root().join("examples/forge/sanctuary.toml")
}

/// `sanctuary` with none of the caller's overrides.
fn sanctuary(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sanctuary"));
    for var in [
        "SANCTUARY_KEY",
        "SANCTUARY_CUDA_DRIVER_VERSION",
        "SANCTUARY_HARDWARE_ROOT",
        "SANCTUARY_MANIFEST",
        "SANCTUARY_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(args);
    cmd
}

/// A fake machine: a directory standing for `/`.
struct Machine(tempfile::TempDir);

impl Machine {
    fn empty() -> Machine {
        Machine(tempfile::tempdir().expect("temp dir"))
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn file(self, path: &str, text: &str) -> Machine {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&full, text).expect("write");
        self
    }

    /// An `nvidia-smi` that prints `query` for the CSV query and `banner` otherwise.
    #[cfg(unix)]
    fn nvidia_smi(self, query: &str, banner: &str) -> Machine {
        use std::os::unix::fs::PermissionsExt;
        let data = self.path().join("smi-data");
        std::fs::create_dir_all(&data).expect("mkdir");
        std::fs::write(data.join("query"), query).expect("write");
        std::fs::write(data.join("banner"), banner).expect("write");
        let script = format!(
            "#!/bin/sh\nif [ $# -gt 0 ]; then exec cat '{0}/query'; else exec cat '{0}/banner'; fi\n",
            data.display()
        );
        let m = self.file("usr/bin/nvidia-smi", &script);
        let bin = m.path().join("usr/bin/nvidia-smi");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        m
    }

    fn run(&self, args: &[&str]) -> Output {
        sanctuary(args)
            .env("SANCTUARY_HARDWARE_ROOT", self.path())
            .output()
            .expect("run sanctuary")
    }
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/data/hardware").join(name)).expect("fixture")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value: Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let schema: Value =
        serde_json::from_str(&sanctuary::hardware::report_json_schema()).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{value:#}");
    value
}

fn text(output: &Output, machine: &Machine) -> String {
    String::from_utf8_lossy(&output.stdout).replace(&*machine.path().to_string_lossy(), "[ROOT]")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn published_schema_matches_the_code() {
    let path = root().join("schema/detect-report.schema.json");
    let generated = sanctuary::hardware::report_json_schema();
    if std::env::var_os("SANCTUARY_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write schema");
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "schema/detect-report.schema.json is out of date; regenerate it with \
         SANCTUARY_UPDATE_SCHEMA=1 cargo test --test detect"
    );
}

/// The acceptance case: no GPU, no driver, the forge manifest → `cpu`. The machine is an
/// empty directory, so this holds on a machine with a GPU too.
#[test]
fn no_gpu_and_no_driver_chooses_cpu() {
    let machine = Machine::empty();
    let forge = forge();
    let out = machine.run(&[
        "--manifest",
        forge.to_str().expect("utf-8"),
        "detect",
        "--json",
    ]);
    let report = json(&out);
    assert_eq!(report["detection"]["source"], "none");
    assert_eq!(report["detection"]["driver_version"], Value::Null);
    assert_eq!(report["detection"]["gpus"], serde_json::json!([]));
    assert_eq!(
        report["keys"],
        serde_json::json!(["cu130", "cu128", "cu126", "cpu"])
    );
    assert_eq!(report["selection"]["key"], "cpu");
    assert_eq!(report["selection"]["chosen_by"], "detection");
    assert_eq!(report["requested"], Value::Null);
}

/// This machine as it is: whatever it has, the report is valid and the choice consistent.
#[test]
fn this_machine_gives_a_consistent_report() {
    let forge = forge();
    let out = sanctuary(&[
        "--manifest",
        forge.to_str().expect("utf-8"),
        "detect",
        "--json",
    ])
    .output()
    .expect("run sanctuary");
    let report = json(&out);
    let key = report["selection"]["key"].as_str().expect("a key");
    assert!(["cu130", "cu128", "cu126", "cpu"].contains(&key), "{key}");
    let detection = &report["detection"];
    if detection["source"] == "none" {
        assert_eq!(key, "cpu");
        assert_eq!(detection["driver_version"], Value::Null);
    } else {
        assert!(detection["driver_version"].is_string());
    }
    // A chosen CUDA key never needs more than the driver runs.
    if let Some(needs) = key.strip_prefix("cu") {
        let cuda = detection["cuda_version"].as_str().expect("a CUDA version");
        let (major, minor) = cuda.split_once('.').expect("major.minor");
        let have: u32 =
            major.parse::<u32>().expect("major") * 10 + minor.parse::<u32>().expect("minor");
        assert!(
            needs.parse::<u32>().expect("digits") <= have,
            "{key} on CUDA {cuda}"
        );
    }
}

#[test]
fn proc_and_nvidia_smi_on_a_fake_machine() {
    let machine = Machine::empty()
        .file("proc/driver/nvidia/version", &fixture("proc-570-open.txt"))
        .nvidia_smi(
            &fixture("smi-query-one-gpu.csv"),
            "| NVIDIA-SMI 570.133.20   Driver Version: 570.133.20   CUDA Version: 12.8 |\n",
        );
    let forge = forge();
    let out = machine.run(&["--manifest", forge.to_str().expect("utf-8"), "detect"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!(text(&out, &machine).replace(&*forge.to_string_lossy(), "[MANIFEST]"), @r"
    driver:   570.133.20 (from the kernel module)
    cuda:     12.8 at most (reported by nvidia-smi)
    gpus:     1
      0: NVIDIA GeForce RTX 4090, 24564 MiB, compute 8.9, GPU-8d4c7f0e-6a1b-4f3e-9c2d-1e5b7a9f0c34
    manifest: [MANIFEST]
    keys:
        cu130  no    needs CUDA 13.0; the driver 570.133.20 runs CUDA 12.8 at most
      * cu128  runs  needs CUDA 12.8; the driver runs 12.8
        cu126  runs  needs CUDA 12.6; the driver runs 12.8
        cpu    runs  runs everywhere
    key:      cu128
    why:      the NVIDIA driver 570.133.20 runs CUDA 12.8 at most; `cu128` is the first declared key this machine runs
    notes:
      - probed under [ROOT] (SANCTUARY_HARDWARE_ROOT), not this machine
      - NVML not found (libnvidia-ml.so.1 is not installed)
      - driver version from /proc/driver/nvidia/version
    ");
}

#[test]
fn a_broken_nvml_falls_back_to_proc() {
    let machine = Machine::empty()
        .file(
            "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
            "not a library",
        )
        .file(
            "proc/driver/nvidia/version",
            &fixture("proc-580-x86_64.txt"),
        );
    let forge = forge();
    let report = json(&machine.run(&[
        "--manifest",
        forge.to_str().expect("utf-8"),
        "detect",
        "--json",
    ]));
    assert_eq!(report["detection"]["source"], "proc");
    assert_eq!(report["detection"]["cuda_version"], "13.0");
    assert_eq!(report["detection"]["cuda_from"], "driver-table");
    assert_eq!(report["selection"]["key"], "cu130");
    let notes = report["detection"]["notes"].to_string();
    assert!(
        notes.contains("libnvidia-ml.so.1 failed to initialise"),
        "{notes}"
    );
}

#[test]
fn flags_and_environment_choose_in_order() {
    let machine = Machine::empty();
    let forge = forge();
    let forge = forge.to_str().expect("utf-8");
    let key = |args: &[&str], env: &[(&str, &str)]| -> String {
        let mut cmd = sanctuary(&[&["--manifest", forge, "detect", "--json"], args].concat());
        cmd.env("SANCTUARY_HARDWARE_ROOT", machine.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let report = json(&cmd.output().expect("run sanctuary"));
        report["selection"]["key"]
            .as_str()
            .expect("a key")
            .to_string()
    };
    let driver = |v: &'static str| ("SANCTUARY_CUDA_DRIVER_VERSION", v);
    assert_eq!(key(&[], &[driver("580.65.06")]), "cu130");
    assert_eq!(key(&[], &[driver("570.133.20")]), "cu128");
    assert_eq!(key(&[], &[driver("560.35.03")]), "cu126");
    assert_eq!(key(&[], &[driver("535.183.01")]), "cpu");
    assert_eq!(key(&["--cuda12"], &[driver("580.65.06")]), "cu128");
    assert_eq!(key(&["--cuda13"], &[]), "cu130");
    assert_eq!(key(&["--cpu"], &[driver("580.65.06")]), "cpu");
    assert_eq!(key(&["--key", "cu126"], &[driver("580.65.06")]), "cu126");
    assert_eq!(key(&[], &[("SANCTUARY_KEY", "cu126")]), "cu126");
    assert_eq!(
        key(&["--key", "cu128"], &[("SANCTUARY_KEY", "cu126")]),
        "cu128"
    );
    assert_eq!(
        key(&["--cuda13", "--ignore-driver"], &[driver("570.133.20")]),
        "cu130"
    );
}

#[test]
fn a_key_newer_than_the_driver_is_refused() {
    let forge = forge();
    let out = sanctuary(&[
        "--manifest",
        forge.to_str().expect("utf-8"),
        "detect",
        "--cuda13",
    ])
    .env("SANCTUARY_CUDA_DRIVER_VERSION", "570.133.20")
    .output()
    .expect("run sanctuary");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    insta::assert_snapshot!(stderr(&out).replace(&*forge.to_string_lossy(), "[MANIFEST]"), @r"
    error: cannot choose a hardware key for [MANIFEST]
      caused by: key `cu130` (from --cuda13) needs CUDA 13.0, but the NVIDIA driver 570.133.20 runs CUDA 12.8 at most
    hint: update the NVIDIA driver to 580 or newer, choose a key this driver runs (--key cu128), or pass --ignore-driver to use `cu130` anyway (e.g. to prepare an environment for another machine)
    ");
}

#[test]
fn bad_overrides_and_undeclared_keys_are_errors() {
    let forge = forge();
    let forge = forge.to_str().expect("utf-8");
    let out = sanctuary(&["--manifest", forge, "detect"])
        .env("SANCTUARY_CUDA_DRIVER_VERSION", "latest")
        .output()
        .expect("run sanctuary");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("SANCTUARY_CUDA_DRIVER_VERSION: `latest` is not an NVIDIA driver version"),
        "{}",
        stderr(&out)
    );
    let out = sanctuary(&["--manifest", forge, "detect", "--key", "rocm6-4"])
        .env("SANCTUARY_HARDWARE_ROOT", Machine::empty().path())
        .output()
        .expect("run sanctuary");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("key `rocm6-4` (from --key rocm6-4) is not declared"),
        "{}",
        stderr(&out)
    );
    // Usage errors exit 2.
    let out = sanctuary(&["detect", "--cpu", "--cuda13"])
        .output()
        .expect("run sanctuary");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn without_a_manifest_only_detection_is_reported() {
    let machine = Machine::empty();
    let cwd = tempfile::tempdir().expect("temp dir");
    let out = sanctuary(&["detect", "--json", "--cuda13"])
        .current_dir(cwd.path())
        .env("SANCTUARY_HARDWARE_ROOT", machine.path())
        .output()
        .expect("run sanctuary");
    let report = json(&out);
    assert_eq!(report["manifest"], Value::Null);
    assert_eq!(report["keys"], serde_json::json!([]));
    assert_eq!(report["selection"], Value::Null);
    assert_eq!(report["requested"], "--cuda13");
    // A named manifest that is missing is an error.
    let out = sanctuary(&["--manifest", "missing.toml", "detect"])
        .current_dir(cwd.path())
        .output()
        .expect("run sanctuary");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing.toml"));
}

#[test]
fn the_report_is_deterministic() {
    let machine = Machine::empty().file("sys/module/nvidia/version", "580.65.06\n");
    let forge = forge();
    let args = [
        "--manifest",
        forge.to_str().expect("utf-8"),
        "detect",
        "--json",
    ];
    let a = machine.run(&args);
    let b = machine.run(&args);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(json(&a)["selection"]["key"], "cu130");
}
