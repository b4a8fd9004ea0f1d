//! Tests of the build frontend: the `python3` on PATH, and tiny in-tree backends written into
//! a temporary directory per test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};
use sha2::{Digest as _, Sha256};

use super::*;
use crate::index::{CoreMetadataRef, DistFile, IndexKind, IndexUrl, PackageFiles};
use crate::resolve::memory::MemorySource;
use crate::wheel::DistFilename;

/// The parts of a test backend (`backend.py`), put together per test.
const COMMON: &str = r#"
import base64, hashlib, os, sys, zipfile

DIST_INFO = "demo-1.0.dist-info"
def metadata(marker):
    return f"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: {marker}\n"
"#;

const BUILD_WHEEL: &str = r#"
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {
        "demo/__init__.py": b"VALUE = 42\n",
        DIST_INFO + "/METADATA": metadata("from-wheel").encode(),
        DIST_INFO + "/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        record += f"{name},sha256={digest.decode()},{len(data)}\n"
    record += DIST_INFO + "/RECORD,,\n"
    name = "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
        z.writestr(DIST_INFO + "/RECORD", record)
    return name
"#;

const PREPARE: &str = r#"
def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    os.makedirs(os.path.join(metadata_directory, DIST_INFO))
    with open(os.path.join(metadata_directory, DIST_INFO, "METADATA"), "w") as f:
        f.write(metadata("prepared"))
    return DIST_INFO
"#;

fn interpreter() -> Interpreter {
    Interpreter::query(Path::new("python3")).expect("python3 on PATH")
}

fn system(requires: &[&str], backend_path: &[&str]) -> BuildSystem {
    BuildSystem {
        requires: requires
            .iter()
            .map(|r| Requirement::from_str(r).unwrap())
            .collect(),
        backend: "backend".to_string(),
        backend_path: backend_path.iter().map(|p| p.to_string()).collect(),
    }
}

/// A source tree whose `backend.py` is `parts` joined.
fn tree(parts: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pyproject.toml"),
        "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("backend.py"), parts.concat()).unwrap();
    dir
}

fn request(tree: &Path, system: &BuildSystem, hook: Hook, out: &Path) -> HookRequest {
    HookRequest {
        python: interpreter().executable,
        source_tree: tree.to_path_buf(),
        system: system.clone(),
        hook,
        output_dir: out.to_path_buf(),
        env: Vec::new(),
        path_prefix: None,
        timeout: Duration::from_secs(60),
        label: "demo 1.0 (sdist)".to_string(),
    }
}

struct Fixture<S> {
    cache: tempfile::TempDir,
    client: HttpClient,
    interpreter: Interpreter,
    source: Arc<S>,
}

impl<S> Fixture<S> {
    fn new(source: S) -> Self {
        Fixture {
            cache: tempfile::tempdir().unwrap(),
            client: HttpClient::new(4).unwrap(),
            interpreter: interpreter(),
            source: Arc::new(source),
        }
    }

    fn context(&self) -> BuildContext<'_, S> {
        BuildContext {
            source: Arc::clone(&self.source),
            client: &self.client,
            cache_dir: self.cache.path(),
            offline: true,
            interpreter: &self.interpreter,
            timeout: Duration::from_secs(60),
            salt: "test".to_string(),
        }
    }
}

fn source_tree<'a>(path: &'a Path, system: &'a BuildSystem) -> SourceTree<'a> {
    SourceTree {
        path,
        system,
        label: "demo 1.0 (sdist)",
    }
}

fn names(metadata: &CoreMetadata) -> Vec<String> {
    metadata
        .requires_dist
        .iter()
        .map(|r| r.name.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_comes_from_prepare_metadata_for_build_wheel() {
    let tree = tree(&[COMMON, PREPARE, BUILD_WHEEL]);
    let system = system(&[], &["."]);
    let fixture = Fixture::new(MemorySource::new());
    let metadata = fixture
        .context()
        .build_metadata(source_tree(tree.path(), &system), &EnvChoice::Isolated, &[])
        .await
        .unwrap();
    assert_eq!(metadata.name.as_ref(), "demo");
    assert_eq!(metadata.version, Version::from_str("1.0").unwrap());
    assert_eq!(names(&metadata), ["prepared"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_prepare_metadata_the_built_wheels_metadata_is_read() {
    let tree = tree(&[COMMON, BUILD_WHEEL]);
    let system = system(&[], &["."]);
    let fixture = Fixture::new(MemorySource::new());
    let metadata = fixture
        .context()
        .build_metadata(source_tree(tree.path(), &system), &EnvChoice::Isolated, &[])
        .await
        .unwrap();
    assert_eq!(names(&metadata), ["from-wheel"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn build_wheel_returns_the_wheel_in_the_output_directory() {
    let tree = tree(&[COMMON, BUILD_WHEEL]);
    let system = system(&[], &["."]);
    let fixture = Fixture::new(MemorySource::new());
    let out = tempfile::tempdir().unwrap();
    let wheel = fixture
        .context()
        .build_wheel(
            source_tree(tree.path(), &system),
            &EnvChoice::Isolated,
            &[],
            out.path(),
        )
        .await
        .unwrap();
    assert_eq!(wheel, out.path().join("demo-1.0-py3-none-any.whl"));
    let metadata = metadata_from_wheel(&wheel, "demo").unwrap();
    assert!(String::from_utf8(metadata).unwrap().contains("from-wheel"));
}

#[test]
fn get_requires_results_are_parsed_and_a_missing_hook_asks_for_nothing() {
    let asks = r#"
def get_requires_for_build_wheel(config_settings=None):
    return ["wheel>=0.40", "cython ; python_version >= '3'"]
"#;
    let out = tempfile::tempdir().unwrap();
    let system = system(&[], &["."]);
    let with = tree(&[COMMON, asks]);
    let done = run_hook(&request(
        with.path(),
        &system,
        Hook::GetRequiresForBuildWheel,
        out.path(),
    ))
    .unwrap();
    let HookResult::Requires(requires) = done.result else {
        panic!("{:?}", done.result);
    };
    let shown: Vec<String> = requires.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["wheel>=0.40", "cython ; python_full_version >= '3'"]
    );

    let without = tree(&[COMMON]);
    let done = run_hook(&request(
        without.path(),
        &system,
        Hook::GetRequiresForBuildWheel,
        out.path(),
    ))
    .unwrap();
    assert_eq!(done.result, HookResult::Requires(Vec::new()));
    let done = run_hook(&request(
        without.path(),
        &system,
        Hook::PrepareMetadataForBuildWheel,
        out.path(),
    ))
    .unwrap();
    assert_eq!(done.result, HookResult::Unsupported);
    let err = run_hook(&request(
        without.path(),
        &system,
        Hook::BuildWheel,
        out.path(),
    ))
    .unwrap_err();
    assert!(matches!(err, BuildError::MissingHook { .. }), "{err}");
}

#[test]
fn an_invalid_requirement_from_the_backend_names_the_backend() {
    let asks = r#"
def get_requires_for_build_wheel(config_settings=None):
    return ["wheel >>> 1"]
"#;
    let out = tempfile::tempdir().unwrap();
    let tree = tree(&[COMMON, asks]);
    let err = run_hook(&request(
        tree.path(),
        &system(&[], &["."]),
        Hook::GetRequiresForBuildWheel,
        out.path(),
    ))
    .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, BuildError::BadRequirement { .. }),
        "{message}"
    );
    assert!(message.contains("`backend`"), "{message}");
    assert!(message.contains("wheel >>> 1"), "{message}");
    assert_eq!(err.label(), "demo 1.0 (sdist)");
}

#[test]
fn a_failing_hook_shows_the_end_of_its_output() {
    let fails = r#"
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    for i in range(500):
        print(f"compiling kernel {i}")
    print("warning on stderr", file=sys.stderr)
    raise RuntimeError("nvcc was not found")
"#;
    let out = tempfile::tempdir().unwrap();
    let tree = tree(&[COMMON, fails]);
    let err = run_hook(&request(
        tree.path(),
        &system(&[], &["."]),
        Hook::BuildWheel,
        out.path(),
    ))
    .unwrap_err();
    let BuildError::HookFailed {
        output_tail,
        hook,
        label,
        ..
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(*hook, Hook::BuildWheel);
    assert_eq!(label, "demo 1.0 (sdist)");
    assert!(
        output_tail.contains("RuntimeError: nvcc was not found"),
        "{output_tail}"
    );
    assert!(
        output_tail.contains("compiling kernel 499"),
        "{output_tail}"
    );
    assert!(output_tail.contains("warning on stderr"), "{output_tail}");
    assert!(
        !output_tail.contains("compiling kernel 1\n"),
        "{output_tail}"
    );
    assert!(output_tail.lines().count() <= 101, "{output_tail}");
    // stdout and stderr in the order they were written.
    let warning = output_tail.find("warning on stderr").unwrap();
    assert!(output_tail.find("compiling kernel 499").unwrap() < warning);
    assert!(err.to_string().contains("`build_wheel` failed"), "{err}");
}

#[test]
fn the_tail_keeps_the_last_lines_within_the_byte_cap() {
    let log: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    let tail = hooks::tail(log.as_bytes());
    assert!(tail.starts_with("...\nline 900\n"), "{tail}");
    assert!(tail.ends_with("line 999"));
    let long = "x".repeat(100_000);
    assert_eq!(hooks::tail(long.as_bytes()).len(), 4 + 16 * 1024);
    assert_eq!(hooks::tail(b"short\n"), "short");
}

/// Whether `pid` is gone (or a zombie left to a parent that does not reap).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_hanging_hook_is_killed_at_the_timeout_with_what_it_started() {
    let hangs = r#"
import subprocess, time
def get_requires_for_build_wheel(config_settings=None):
    child = subprocess.Popen(["sleep", "300"])
    with open("child.pid", "w") as f:
        f.write(str(child.pid))
    time.sleep(300)
"#;
    let out = tempfile::tempdir().unwrap();
    let tree = tree(&[COMMON, hangs]);
    let mut req = request(
        tree.path(),
        &system(&[], &["."]),
        Hook::GetRequiresForBuildWheel,
        out.path(),
    );
    req.timeout = Duration::from_secs(3);
    let started = Instant::now();
    let err = run_hook(&req).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        matches!(err, BuildError::HookTimeout { timeout, .. } if timeout == req.timeout),
        "{err}"
    );
    assert!(err.to_string().contains("within 3 s"), "{err}");
    let pid: u32 = std::fs::read_to_string(tree.path().join("child.pid"))
        .unwrap()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gone(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(gone(pid), "the hook's child {pid} outlived it");
}

#[test]
fn a_backend_is_not_imported_from_the_tree_without_backend_path() {
    let out = tempfile::tempdir().unwrap();
    let tree = tree(&[COMMON, BUILD_WHEEL]);
    let err = run_hook(&request(
        tree.path(),
        &system(&[], &[]),
        Hook::BuildWheel,
        out.path(),
    ))
    .unwrap_err();
    let BuildError::BackendUnavailable { message, .. } = &err else {
        panic!("{err}");
    };
    assert!(message.contains("ModuleNotFoundError"), "{message}");
    assert!(err.to_string().contains("`backend`"), "{err}");
}

#[test]
fn backend_path_entries_are_taken_under_the_source_tree() {
    let out = tempfile::tempdir().unwrap();
    let tree = tempfile::tempdir().unwrap();
    std::fs::create_dir(tree.path().join("_build")).unwrap();
    std::fs::write(
        tree.path().join("_build/backend.py"),
        [COMMON, BUILD_WHEEL].concat(),
    )
    .unwrap();
    let done = run_hook(&request(
        tree.path(),
        &system(&[], &["./_build/"]),
        Hook::BuildWheel,
        out.path(),
    ))
    .unwrap();
    assert_eq!(
        done.result,
        HookResult::Wheel(out.path().join("demo-1.0-py3-none-any.whl"))
    );
}

#[test]
fn a_wheel_name_outside_the_output_directory_is_refused() {
    for name in ["../demo-1.0-py3-none-any.whl", "demo.zip", "/tmp/x.whl"] {
        let escapes = format!(
            "\ndef build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    return {name:?}\n"
        );
        let out = tempfile::tempdir().unwrap();
        let tree = tree(&[COMMON, &escapes]);
        let err = run_hook(&request(
            tree.path(),
            &system(&[], &["."]),
            Hook::BuildWheel,
            out.path(),
        ))
        .unwrap_err();
        assert!(matches!(err, BuildError::BadResult { .. }), "{name}: {err}");
    }
}

#[test]
fn the_hook_sees_the_callers_variables_and_not_pythonpath() {
    let looks = r#"
def get_requires_for_build_wheel(config_settings=None):
    return [os.environ["DEMO_FLAVOUR"], "nouser" + os.environ.get("PYTHONNOUSERSITE", ""),
            "pythonpath" + str("PYTHONPATH" in os.environ),
            "first-" + os.environ["PATH"].split(os.pathsep)[0].replace("/", "-").strip("-")]
"#;
    let out = tempfile::tempdir().unwrap();
    let tree = tree(&[COMMON, looks]);
    let mut req = request(
        tree.path(),
        &system(&[], &["."]),
        Hook::GetRequiresForBuildWheel,
        out.path(),
    );
    req.env = vec![("DEMO_FLAVOUR".to_string(), "cuda".to_string())];
    req.path_prefix = Some(PathBuf::from("/opt/envbin"));
    let done = run_hook(&req).unwrap();
    let HookResult::Requires(requires) = done.result else {
        panic!("{:?}", done.result);
    };
    let shown: Vec<String> = requires.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        ["cuda", "nouser1", "pythonpathfalse", "first-opt-envbin"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_build_env_is_made_once_and_reused() {
    let fixture = Fixture::new(MemorySource::new());
    let ctx = fixture.context();
    let env = isolated_env(&ctx, &[], "salt", "demo").await.unwrap();
    assert!(env.root.starts_with(fixture.cache.path()));
    let complete = env.root.join(env::COMPLETE);
    let first = std::fs::metadata(&complete).unwrap();
    let again = isolated_env(&ctx, &[], "salt", "demo").await.unwrap();
    assert_eq!(again, env);
    let second = std::fs::metadata(&complete).unwrap();
    assert_eq!(first.modified().unwrap(), second.modified().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        assert_eq!(first.ino(), second.ino());
    }
    let status = std::process::Command::new(&env.python)
        .args(["-c", "import sys; assert sys.prefix != sys.base_prefix"])
        .status()
        .unwrap();
    assert!(status.success());

    // Another salt, another environment.
    let other = isolated_env(&ctx, &[], "other", "demo").await.unwrap();
    assert_ne!(other.root, env.root);

    // A directory without `.complete` is what a killed process left: made again.
    std::fs::remove_file(&complete).unwrap();
    std::fs::write(env.root.join("leftover"), "x").unwrap();
    let remade = isolated_env(&ctx, &[], "salt", "demo").await.unwrap();
    assert_eq!(remade.root, env.root);
    assert!(complete.is_file());
    assert!(!env.root.join("leftover").exists());
}

/// An index of real wheel files on disk (`file://` URLs with their sha256).
struct LocalWheels {
    index: Arc<IndexUrl>,
    packages: BTreeMap<PackageName, (PathBuf, Version, bool)>,
}

impl LocalWheels {
    fn new() -> Self {
        LocalWheels {
            index: Arc::new(IndexUrl {
                name: "local".to_string(),
                url: url::Url::parse("https://local.invalid/simple/").unwrap(),
                explicit: false,
                kind: IndexKind::Simple,
                credentials: None,
            }),
            packages: BTreeMap::new(),
        }
    }

    /// Serve `wheel` as `name version`, with its sha256 when `hashed`.
    fn with(mut self, name: &str, version: &str, wheel: PathBuf, hashed: bool) -> Self {
        self.packages.insert(
            name.parse().unwrap(),
            (wheel, version.parse().unwrap(), hashed),
        );
        self
    }
}

impl PackageSource for LocalWheels {
    async fn files(&self, name: &PackageName) -> Result<Option<Arc<PackageFiles>>, IndexError> {
        let Some((path, version, hashed)) = self.packages.get(name) else {
            return Ok(None);
        };
        let bytes = std::fs::read(path).unwrap();
        let filename = path.file_name().unwrap().to_string_lossy().into_owned();
        let file = DistFile {
            parsed: DistFilename::parse(&filename, name).unwrap(),
            filename,
            url: url::Url::from_file_path(path).unwrap(),
            sha256: hashed.then(|| hex::encode(Sha256::digest(&bytes))),
            size: Some(bytes.len() as u64),
            upload_time: None,
            requires_python: None,
            yanked: None,
            core_metadata: CoreMetadataRef::Absent,
        };
        Ok(Some(Arc::new(PackageFiles {
            name: name.clone(),
            index: self.index.clone(),
            versions: BTreeMap::from([(version.clone(), vec![file].into())]),
        })))
    }

    async fn metadata(
        &self,
        package: &PackageFiles,
        file: &DistFile,
    ) -> Result<Arc<CoreMetadata>, IndexError> {
        Ok(Arc::new(CoreMetadata {
            name: package.name.clone(),
            version: file.parsed.version().clone(),
            requires_dist: Vec::new(),
            requires_python: None,
            provides_extra: Vec::new(),
        }))
    }
}

/// `demo-1.0-py3-none-any.whl` (the install tests' wheel builder) in `dir`: `import demo`
/// gives `demo.VALUE == 7`.
fn demo_wheel(dir: &Path) -> PathBuf {
    let files: Vec<(String, Vec<u8>)> = [
        ("demo/__init__.py", "VALUE = 7\n"),
        (
            "demo-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
        ),
        (
            "demo-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
        ),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_string(), c.as_bytes().to_vec()))
    .collect();
    let path = dir.join("demo-1.0-py3-none-any.whl");
    std::fs::write(&path, crate::install::tests::build_wheel(&files)).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_requirement_is_installed_and_a_given_env_is_used_as_it_is() {
    let wheels = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(wheels.path());
    let fixture = Fixture::new(LocalWheels::new().with("demo", "1.0", wheel, true));
    let ctx = fixture.context();
    let requires = [Requirement::from_str("demo>=1").unwrap()];
    let env = isolated_env(&ctx, &requires, "salt", "app 1.0 (sdist)")
        .await
        .unwrap();
    let printed = std::process::Command::new(&env.python)
        .args(["-c", "import demo; print(demo.VALUE)"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&printed.stdout).trim(), "7");
    let empty = isolated_env(&ctx, &[], "salt", "app").await.unwrap();
    assert_ne!(empty.root, env.root);

    // A backend that needs `demo` (as a CUDA extension needs torch) builds in the given
    // environment, and not in an isolated one that lacks it.
    let needs = r#"
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    import demo
    assert demo.VALUE == 7
    return _build_wheel(wheel_directory)
"#;
    let tree = tree(&[
        COMMON,
        &BUILD_WHEEL.replace("def build_wheel(", "def _build_wheel("),
        needs,
    ]);
    let system = system(&[], &["."]);
    let out = tempfile::tempdir().unwrap();
    let built = ctx
        .build_wheel(
            source_tree(tree.path(), &system),
            &EnvChoice::Given(env.clone()),
            &[],
            out.path(),
        )
        .await
        .unwrap();
    assert!(built.is_file());
    let err = ctx
        .build_wheel(
            source_tree(tree.path(), &system),
            &EnvChoice::Isolated,
            &[],
            out.path(),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("No module named 'demo'"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_requirement_without_a_sha256_is_refused() {
    let wheels = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(wheels.path());
    let fixture = Fixture::new(LocalWheels::new().with("demo", "1.0", wheel, false));
    let err = isolated_env(
        &fixture.context(),
        &[Requirement::from_str("demo").unwrap()],
        "salt",
        "app 1.0 (sdist)",
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, BuildError::NoHash { .. }), "{message}");
    assert!(
        message.contains("demo 1.0") && message.contains("`local`"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backend_can_extend_the_isolated_env() {
    let wheels = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(wheels.path());
    let fixture = Fixture::new(LocalWheels::new().with("demo", "1.0", wheel, true));
    let asks = r#"
def get_requires_for_build_wheel(config_settings=None):
    return ["demo"]

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    import demo
    os.makedirs(os.path.join(metadata_directory, DIST_INFO))
    with open(os.path.join(metadata_directory, DIST_INFO, "METADATA"), "w") as f:
        f.write(metadata(f"value{demo.VALUE}"))
    return DIST_INFO
"#;
    let tree = tree(&[COMMON, asks]);
    let system = system(&[], &["."]);
    let metadata = fixture
        .context()
        .build_metadata(source_tree(tree.path(), &system), &EnvChoice::Isolated, &[])
        .await
        .unwrap();
    assert_eq!(names(&metadata), ["value7"]);
}

/// Regression: an editable build ran `get_requires_for_build_wheel`, so hatchling's
/// `editables` (asked for only by `get_requires_for_build_editable`) was never installed.
#[tokio::test(flavor = "multi_thread")]
async fn an_editable_build_gets_what_get_requires_for_build_editable_asks_for() {
    let wheels = tempfile::tempdir().unwrap();
    let wheel = demo_wheel(wheels.path());
    let fixture = Fixture::new(LocalWheels::new().with("demo", "1.0", wheel, true));
    let editable = r#"
def get_requires_for_build_wheel(config_settings=None):
    return []

def get_requires_for_build_editable(config_settings=None):
    return ["demo"]

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    import demo
    return _build_wheel(wheel_directory)
"#;
    let tree = tree(&[
        COMMON,
        &BUILD_WHEEL.replace("def build_wheel(", "def _build_wheel("),
        editable,
    ]);
    let system = system(&[], &["."]);
    let out = tempfile::tempdir().unwrap();
    let built = fixture
        .context()
        .build_editable(
            source_tree(tree.path(), &system),
            &EnvChoice::Isolated,
            &[],
            out.path(),
        )
        .await
        .unwrap();
    assert!(built.is_file());
}
