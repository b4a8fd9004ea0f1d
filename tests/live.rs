//! Live tests against the real PyPI, run by hand: `cargo test --features live --test live`.
//!
//! They lock `examples/standard` and install the lockfile with `uv pip install -r`, which reads
//! PEP 751 files: proof that our lockfiles are usable by another tool. Source distributions
//! are in `live/sdists.rs`.
#![cfg(feature = "live")]

#[path = "live/sdists.rs"]
mod sdists;
#[path = "live/universal.rs"]
mod universal;

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

/// `sanctuary lock <args> --manifest <manifest>` with `cache`, which must succeed.
fn lock(manifest: &Path, cache: &Path, args: &[&str]) {
    let out = sanctuary()
        .arg("lock")
        .args(args)
        .arg("--manifest")
        .arg(manifest)
        .env("SANCTUARY_CACHE_DIR", cache)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sanctuary lock {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn standard_example_locks_and_installs_with_uv() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("standard");
    copy_example("standard", &project);
    let cache = dir.path().join("cache");

    lock(&project.join("sanctuary.toml"), &cache, &[]);
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
    lock(&project.join("sanctuary.toml"), &cache, &[]);
    lock(&project.join("sanctuary.toml"), &cache, &["--check"]);
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

/// `name -> version` pins of a `uv pip compile` output.
fn uv_pins(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && l.contains("=="))
        .filter_map(|l| {
            let (name, rest) = l.split_once("==")?;
            let version = rest.split([' ', ';', '\\']).next()?;
            Some((name.trim().to_lowercase(), version.to_string()))
        })
        .collect()
}

/// On real PyPI data, sanctuary picks exactly what uv picks for the benchmark sets. Regression:
/// jupyterlab's and matplotlib's dependencies were dropped by a metadata parsing bug, which a
/// comparison like this one shows at once.
#[test]
fn benchmark_sets_resolve_like_uv() {
    let sets = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/sets");
    for set in ["small", "data-science", "standard"] {
        let text = std::fs::read_to_string(sets.join(format!("{set}.txt"))).unwrap();
        let reqs: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let list: String = reqs.iter().map(|r| format!("\"{r}\", ")).collect();
        std::fs::write(
            dir.path().join("sanctuary.toml"),
            format!(
                "[project]\nname = \"{set}\"\npython = \"3.11\"\nplatform = \"linux-x86_64\"\n\
                 [application]\nrequirements = [{list}]\n"
            ),
        )
        .unwrap();
        lock(
            &dir.path().join("sanctuary.toml"),
            &dir.path().join("cache"),
            &["-q"],
        );
        let lock = sanctuary::pylock::Lockfile::parse(
            &std::fs::read_to_string(dir.path().join("lockfiles/pylock.application.toml")).unwrap(),
        )
        .unwrap();
        let ours: std::collections::BTreeMap<String, String> = lock
            .packages
            .iter()
            .map(|p| (p.name.to_string(), p.version.to_string()))
            .collect();

        std::fs::write(dir.path().join("reqs.txt"), reqs.join("\n")).unwrap();
        let uv = Command::new("uv")
            .args(["pip", "compile", "-q", "--python-version", "3.11"])
            .args(["--python-platform", "x86_64-manylinux_2_28"])
            .arg(dir.path().join("reqs.txt"))
            .arg("-o")
            .arg(dir.path().join("uv.txt"))
            .env("UV_CACHE_DIR", dir.path().join("uv-cache"))
            .output()
            .expect("uv is installed (pip install uv)");
        assert!(
            uv.status.success(),
            "{}",
            String::from_utf8_lossy(&uv.stderr)
        );
        let theirs = uv_pins(&std::fs::read_to_string(dir.path().join("uv.txt")).unwrap());
        assert_eq!(ours, theirs, "{set}: sanctuary and uv disagree");
    }
}

/// `examples/forge`: the Foundation from the shipped PyTorch mirror (the real PyTorch indexes
/// are out of reach here), the Application from the live PyPI, one Application for all keys.
#[test]
fn forge_locks_with_the_mirror_and_live_pypi() {
    let dir = tempfile::tempdir().unwrap();
    copy_example("forge", dir.path());
    let mirror = url::Url::from_directory_path(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pytorch/whl"),
    )
    .unwrap();
    let out = sanctuary()
        .args(["lock", "-q", "--manifest"])
        .arg(dir.path().join("sanctuary.toml"))
        .env("SANCTUARY_CACHE_DIR", dir.path().join("cache"))
        .env("SANCTUARY_INDEX_PYTORCH", format!("{mirror}{{key}}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for key in ["cu130", "cu128", "cu126", "cpu"] {
        let path = dir
            .path()
            .join(format!("lockfiles/pylock.foundation-{key}.toml"));
        let lock =
            sanctuary::pylock::Lockfile::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
        // The forge example is universal: Linux and Windows take the key's labeled build; a
        // Mac (the `cpu` key only) takes the unlabeled macOS wheel.
        let torch: Vec<_> = lock
            .packages
            .iter()
            .filter(|p| p.name.as_ref() == "torch")
            .collect();
        assert!(!torch.is_empty(), "{key}: no torch");
        for t in torch {
            let darwin = t.marker.as_deref() == Some("sys_platform == 'darwin'");
            assert_eq!(
                t.version.to_string().ends_with(&format!("+{key}")),
                !darwin,
                "{key}: torch {} [{:?}]",
                t.version,
                t.marker
            );
        }
    }
    let app =
        std::fs::read_to_string(dir.path().join("lockfiles/pylock.application.toml")).unwrap();
    for name in [
        "transformers",
        "peft",
        "trl",
        "bitsandbytes",
        "chromadb",
        "jupyter",
        "gguf",
    ] {
        assert!(
            app.contains(&format!("name = \"{name}\"")),
            "{name} missing"
        );
    }
    let app = sanctuary::pylock::Lockfile::parse(&app).unwrap();
    assert!(
        !app.packages.iter().any(|p| p.name.as_ref() == "torch"),
        "the Application must not hold torch"
    );
}
