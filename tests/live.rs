//! Live tests against the real PyPI, run by hand: `cargo test --features live --test live`.
//!
//! They lock `examples/standard` and install the lockfile with `uv pip install -r`, which reads
//! PEP 751 files: proof that our lockfiles are usable by another tool.
#![cfg(feature = "live")]

use std::path::Path;
use std::process::Command;

fn sanctuary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sanctuary"))
}

fn copy_example(name: &str, to: &Path) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("sanctuary.toml"), to.join("sanctuary.toml")).unwrap();
}

#[test]
fn standard_example_locks_and_installs_with_uv() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("standard");
    copy_example("standard", &project);
    let cache = dir.path().join("cache");

    let out = sanctuary()
        .args(["lock", "--manifest"])
        .arg(project.join("sanctuary.toml"))
        .env("SANCTUARY_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "lock failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lockfile = project.join("lockfiles/pylock.application.toml");
    let first = std::fs::read_to_string(&lockfile).unwrap();
    let text = first.clone();
    for name in ["fastapi", "langchain", "chromadb", "mcp", "pydantic"] {
        assert!(
            text.contains(&format!("name = \"{name}\"")),
            "{name} missing"
        );
    }

    // A second lock, warm, gives byte-identical output and `--check` passes.
    let out = sanctuary()
        .args(["lock", "--manifest"])
        .arg(project.join("sanctuary.toml"))
        .env("SANCTUARY_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert!(out.status.success());
    let second = std::fs::read_to_string(&lockfile).unwrap();
    let changed: Vec<String> = first
        .lines()
        .zip(second.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("- {a}\n+ {b}"))
        .take(10)
        .collect();
    assert!(
        changed.is_empty() && first.len() == second.len(),
        "a second lock changed the lockfile:\n{}",
        changed.join("\n")
    );

    // uv installs the PEP 751 file into a fresh Python 3.11 environment.
    let venv = dir.path().join("venv");
    let status = Command::new("uv")
        .args(["venv", "--python", "3.11"])
        .arg(&venv)
        .status()
        .expect("uv is installed (pip install uv)");
    assert!(status.success());
    let out = Command::new("uv")
        .args(["pip", "install", "--python"])
        .arg(venv.join("bin/python"))
        .arg("-r")
        .arg(&lockfile)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "uv pip install -r pylock failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = Command::new(venv.join("bin/python"))
        .args([
            "-c",
            "import fastapi, langchain, chromadb, mcp, pydantic; print('ok')",
        ])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "imports failed:\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
