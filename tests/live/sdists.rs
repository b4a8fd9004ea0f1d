//! Source distributions on the live PyPI: packages published only as sdists lock to the
//! versions `uv pip compile` picks, `sync` builds them and they import; flash-attn and
//! llama-cpp-python lock without any build backend running (from declared metadata and from
//! a static `pyproject.toml`), and flash-attn's own sdist metadata is shown to be dynamic.
//!
//! Each test has its own project and cache. The manifest's Python (3.11) must be on `PATH`;
//! the real interpreter behind `python3.11` (not a pyenv shim) is put first, for sanctuary
//! and for uv alike (`UV_PYTHON_DOWNLOADS=never`). Timings and versions are printed: run with
//! `-- --nocapture --test-threads=1` to read them.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sanctuary::cache::CacheRoot;
use sanctuary::pylock::Lockfile;

/// What sanctuary's `-v` log says when a build backend runs for an sdist's metadata.
const BACKEND_RAN: &str = "running its build backend";

/// `PATH` with the directory of the real `python3.11` first.
fn path_with_python() -> &'static OsString {
    static PATH: OnceLock<OsString> = OnceLock::new();
    PATH.get_or_init(|| {
        let out = Command::new("python3.11")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3.11 is on PATH");
        assert!(out.status.success(), "python3.11 does not run");
        let exe = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        let mut dirs = vec![exe.parent().unwrap().to_path_buf()];
        dirs.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        std::env::join_paths(dirs).unwrap()
    })
}

/// One project with its own cache, Python 3.11 on linux-x86_64.
struct Live {
    dir: tempfile::TempDir,
    requirements: Vec<String>,
}

impl Live {
    /// A project requiring `requirements`, with `extra` appended to its manifest.
    fn new(requirements: &[&str], extra: &str) -> Live {
        let dir = tempfile::tempdir().unwrap();
        let list: String = requirements.iter().map(|r| format!("\"{r}\", ")).collect();
        std::fs::write(
            dir.path().join("sanctuary.toml"),
            format!(
                "[project]\nname = \"live\"\npython = \"3.11\"\nplatform = \"linux-x86_64\"\n\n\
                 [application]\nrequirements = [{list}]\n\n[sync]\nvenv = \".venv\"\n\n{extra}"
            ),
        )
        .unwrap();
        Live {
            dir,
            requirements: requirements.iter().map(ToString::to_string).collect(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cache(&self) -> CacheRoot {
        CacheRoot::new(&self.path().join("cache"))
    }

    /// `sanctuary -v <command> --manifest ...`, with its time.
    fn run(&self, command: &str) -> (Output, Duration) {
        let started = Instant::now();
        let out = super::sanctuary()
            .args(["-v", command, "--manifest"])
            .arg(self.path().join("sanctuary.toml"))
            .env("SANCTUARY_CACHE_DIR", self.path().join("cache"))
            .env("PATH", path_with_python())
            .env_remove("SANCTUARY_LOG")
            .output()
            .unwrap();
        (out, started.elapsed())
    }

    /// `sanctuary -v <command>`, which must succeed: its stderr and time.
    fn ok(&self, command: &str) -> (String, Duration) {
        let (out, took) = self.run(command);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "sanctuary {command} failed:\n{stderr}"
        );
        (stderr, took)
    }

    fn lockfile(&self) -> Lockfile {
        let path = self.path().join("lockfiles/pylock.application.toml");
        Lockfile::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// `name -> version` of the lockfile.
    fn pins(&self) -> BTreeMap<String, String> {
        self.lockfile()
            .packages
            .iter()
            .map(|p| (p.name.to_string(), p.version.to_string()))
            .collect()
    }

    /// The packages locked from an sdist alone (no wheel).
    fn sdist_only(&self) -> BTreeSet<String> {
        self.lockfile()
            .packages
            .iter()
            .filter(|p| p.sdist.is_some() && p.wheels.is_empty())
            .map(|p| p.name.to_string())
            .collect()
    }

    /// `uv pip compile` of the same requirements for the same target, with `uv_toml` as its
    /// configuration file when given: its pins and time.
    fn uv_compile(&self, uv_toml: Option<&str>) -> (BTreeMap<String, String>, Duration) {
        let reqs = self.path().join("requirements.in");
        std::fs::write(&reqs, self.requirements.join("\n")).unwrap();
        let mut uv = Command::new("uv");
        uv.args(["pip", "compile", "-q", "--python-version", "3.11"])
            .args(["--python-platform", "x86_64-manylinux_2_28"]);
        if let Some(text) = uv_toml {
            let config = self.path().join("uv.toml");
            std::fs::write(&config, text).unwrap();
            uv.arg("--config-file").arg(config);
        }
        let started = Instant::now();
        let out = uv
            .arg(&reqs)
            .arg("-o")
            .arg(self.path().join("uv.txt"))
            .env("UV_CACHE_DIR", self.path().join("uv-cache"))
            .env("UV_PYTHON_DOWNLOADS", "never")
            .env("PATH", path_with_python())
            .output()
            .expect("uv is installed (pip install uv)");
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "uv pip compile failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(self.path().join("uv.txt")).unwrap();
        (super::uv_pins(&text), took)
    }

    /// Whether a build environment was ever made in this project's cache.
    fn any_build_env(&self) -> bool {
        std::fs::read_dir(self.cache().build_envs()).is_ok_and(|mut d| d.next().is_some())
    }

    /// The one cached sdist whose file name starts with `prefix` (e.g. `flash_attn-`).
    fn cached_sdist(&self, prefix: &str) -> PathBuf {
        let mut found = Vec::new();
        for dir in std::fs::read_dir(self.cache().sdists()).expect("an sdist was fetched") {
            for file in std::fs::read_dir(dir.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                if file_name(&path).starts_with(prefix) {
                    found.push(path);
                }
            }
        }
        assert_eq!(found.len(), 1, "cached sdists named {prefix}*: {found:?}");
        found.remove(0)
    }

    /// `python -c "import <module>"` in the project's venv.
    fn import(&self, module: &str) {
        let out = Command::new(self.path().join(".venv/bin/python"))
            .args(["-c", &format!("import {module}")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import {module} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The name and version of the sdist at `path`, from its file name (`name-version.tar.gz`).
fn sdist_identity(path: &Path) -> (sanctuary::PackageName, sanctuary::Version) {
    let name = file_name(path);
    let stem = name.strip_suffix(".tar.gz").unwrap();
    let (package, version) = stem.rsplit_once('-').unwrap();
    (package.parse().unwrap(), version.parse().unwrap())
}

/// `requirement` locks to exactly what uv picks; the packages locked from an sdist alone are
/// `sdist_only`; `sync` builds each of them and `import <module>` then works.
fn locks_like_uv_then_builds(requirement: &str, sdist_only: &[&str], module: &str) {
    let live = Live::new(&[requirement], "");
    let (_, lock_took) = live.ok("lock");
    let ours = live.pins();
    let (theirs, uv_took) = live.uv_compile(None);
    println!(
        "{requirement}: sanctuary lock {lock_took:.2?}, uv pip compile {uv_took:.2?}\n  \
         sanctuary {ours:?}\n  uv        {theirs:?}"
    );
    assert_eq!(ours, theirs, "{requirement}: sanctuary and uv disagree");
    let expected: BTreeSet<String> = sdist_only.iter().map(ToString::to_string).collect();
    assert_eq!(
        live.sdist_only(),
        expected,
        "{requirement}: sdist-only packages"
    );

    let (log, sync_took) = live.ok("sync");
    println!("{requirement}: sanctuary sync {sync_took:.2?} (builds {sdist_only:?})");
    for name in sdist_only {
        let shown = format!("building {name} {}", ours[*name]);
        assert!(log.contains(&shown), "no `{shown}` in:\n{log}");
    }
    live.import(module);
}

#[test]
fn hydra_core_locks_like_uv_and_builds_antlr4_at_sync() {
    locks_like_uv_then_builds("hydra-core", &["antlr4-python3-runtime"], "hydra");
}

#[test]
fn seqeval_locks_like_uv_and_builds_at_sync() {
    locks_like_uv_then_builds("seqeval", &["seqeval"], "seqeval");
}

#[test]
fn langdetect_locks_like_uv_and_builds_at_sync() {
    locks_like_uv_then_builds("langdetect", &["langdetect"], "langdetect");
}

#[test]
fn rouge_score_locks_like_uv_and_builds_at_sync() {
    locks_like_uv_then_builds("rouge-score", &["rouge-score"], "rouge_score");
}

#[test]
fn jieba_locks_like_uv_and_builds_at_sync() {
    locks_like_uv_then_builds("jieba", &["jieba"], "jieba");
}

/// flash-attn's metadata, as its sdist states it (`setup.py` adds nothing else).
const FLASH_ATTN_METADATA: &str = "[[build.dependency-metadata]]\nname = \"flash-attn\"\n\
     requires-dist = [\"torch\", \"einops\"]\nrequires-python = \">=3.9\"\n";

/// With `[[build.dependency-metadata]]`, flash-attn locks with no sdist fetched and no
/// backend run, to what uv picks with the same declaration.
#[test]
fn flash_attn_locks_from_declared_metadata_without_a_build() {
    let live = Live::new(&["flash-attn>=2.0"], FLASH_ATTN_METADATA);
    let (log, took) = live.ok("lock");
    assert!(!log.contains(BACKEND_RAN), "a build backend ran:\n{log}");
    assert!(!live.any_build_env(), "a build environment was made");
    assert!(
        std::fs::read_dir(live.cache().sdists()).is_err(),
        "an sdist was fetched although its metadata is declared"
    );
    let lock = live.lockfile();
    let flash = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "flash-attn")
        .expect("flash-attn locked");
    assert!(flash.sdist.is_some() && flash.wheels.is_empty());
    let deps: Vec<&str> = flash.dependencies.iter().map(|d| d.as_ref()).collect();
    assert_eq!(deps, ["einops", "torch"]);

    let uv_toml = FLASH_ATTN_METADATA.replace("build.dependency-metadata", "dependency-metadata");
    let (theirs, uv_took) = live.uv_compile(Some(&uv_toml));
    let ours = live.pins();
    println!(
        "flash-attn>=2.0 (declared): sanctuary lock {took:.2?}, uv pip compile {uv_took:.2?}\n  \
         sanctuary {ours:?}\n  uv        {theirs:?}"
    );
    assert_eq!(ours, theirs, "sanctuary and uv disagree");
}

/// Without a declaration flash-attn cannot lock without its backend: every flash-attn sdist
/// on PyPI states `Dynamic: requires-dist` (2.7.4.post1 and later, Metadata-Version 2.2 or
/// 2.4) or has Metadata-Version 2.1, and ships no `pyproject.toml`; its `setup.py` imports
/// torch, which its isolated build environment lacks. The lock fails saying so, with the
/// hint to declare its metadata. If this test fails because the lock succeeds, flash-attn
/// has started publishing static metadata: check that no backend ran, and turn this into a
/// test that it locks without a build.
#[test]
fn flash_attn_without_declared_metadata_needs_its_backend_as_its_pkg_info_is_dynamic() {
    let live = Live::new(&["flash-attn>=2.0"], "");
    let (out, took) = live.run("lock");
    let log = String::from_utf8_lossy(&out.stderr);
    println!("flash-attn>=2.0 (undeclared): sanctuary lock failed as expected in {took:.2?}");
    assert!(!out.status.success(), "the lock succeeded:\n{log}");
    assert!(log.contains(BACKEND_RAN), "{log}");
    // The checks the other tests rely on to say that no backend ran do see one that did.
    assert!(live.any_build_env(), "no build environment was made");
    assert!(log.contains("No module named 'torch'"), "{log}");
    assert!(log.contains("[[build.dependency-metadata]]"), "{log}");

    let sdist = live.cached_sdist("flash_attn-");
    let files = sanctuary::sdist::read_static_files(
        &sdist,
        &file_name(&sdist),
        &sanctuary::sdist::Limits::default(),
    )
    .unwrap();
    assert!(
        files.pyproject.is_none(),
        "flash-attn ships a pyproject.toml now"
    );
    let pkg_info = files.pkg_info.expect("a PKG-INFO");
    let text = String::from_utf8_lossy(&pkg_info);
    println!(
        "{}: {}",
        file_name(&sdist),
        text.lines()
            .filter(|l| l.starts_with("Metadata-Version") || l.starts_with("Dynamic: requires"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    assert!(text.contains("\nDynamic: requires-dist"), "{text}");
    let (name, version) = sdist_identity(&sdist);
    let stated = sanctuary::sdist::from_pkg_info(&pkg_info, &name, &version).unwrap();
    assert!(stated.is_none(), "its PKG-INFO is static: {stated:?}");
}

/// llama-cpp-python (scikit-build-core) writes a Metadata-Version 2.1 `PKG-INFO`, which is
/// not trusted, but its `pyproject.toml` states its dependencies statically: it locks from
/// that, without a backend, to what uv picks. Building it (C++) is out of scope.
#[test]
fn llama_cpp_python_locks_from_its_static_pyproject_without_a_build() {
    let live = Live::new(&["llama-cpp-python"], "");
    let (log, took) = live.ok("lock");
    assert!(!log.contains(BACKEND_RAN), "a build backend ran:\n{log}");
    assert!(!live.any_build_env(), "a build environment was made");
    assert_eq!(
        live.sdist_only(),
        BTreeSet::from(["llama-cpp-python".to_string()])
    );

    let sdist = live.cached_sdist("llama_cpp_python-");
    let files = sanctuary::sdist::read_static_files(
        &sdist,
        &file_name(&sdist),
        &sanctuary::sdist::Limits::default(),
    )
    .unwrap();
    let (name, version) = sdist_identity(&sdist);
    let from_pkg_info = files
        .pkg_info
        .as_deref()
        .map(|p| sanctuary::sdist::from_pkg_info(p, &name, &version).unwrap());
    assert!(
        matches!(from_pkg_info, None | Some(None)),
        "its PKG-INFO is static now: the pyproject path is no longer what this tests"
    );
    let pyproject = String::from_utf8(files.pyproject.expect("a pyproject.toml")).unwrap();
    let stated = sanctuary::sdist::from_pyproject(&pyproject, &name, &version)
        .unwrap()
        .expect("static [project] dependencies");
    let locked = live
        .lockfile()
        .packages
        .into_iter()
        .find(|p| p.name == name)
        .unwrap();
    let mut wanted: Vec<String> = stated
        .requires_dist
        .iter()
        .filter(|r| r.marker.is_true())
        .map(|r| r.name.to_string())
        .collect();
    wanted.sort();
    let deps: Vec<String> = locked
        .dependencies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(deps, wanted);

    let ours = live.pins();
    let (theirs, uv_took) = live.uv_compile(None);
    println!(
        "llama-cpp-python: sanctuary lock {took:.2?}, uv pip compile {uv_took:.2?}\n  \
         sanctuary {ours:?}\n  uv        {theirs:?}"
    );
    assert_eq!(ours, theirs, "sanctuary and uv disagree");
}
