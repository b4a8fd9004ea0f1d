//! The buildable sdists (`build` tables), the in-tree test backend run by `python3` directly,
//! and local projects (`support::project`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::project::{self, git_commit_all, write_project};
use crate::support::sdistgen::{HOOK_LOG_ENV, built_wheel_name};
use crate::support::wheelgen::b64_urlsafe_nopad;
use crate::support::*;
use serde_json::Value;
use sha2::Digest as _;

use super::client;
use super::generated::read_zip;

/// Runs `python3 -c code args…` in `cwd` with `env` (and no bytecode written), its output.
pub(crate) fn python(cwd: &Path, code: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .current_dir(cwd)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env_remove(HOOK_LOG_ENV)
        .env_remove("PYTHONPATH")
        .envs(env.iter().copied())
        .output()
        .expect("run python3")
}

/// `python3 -c PIP args…` runs pip with `args`.
const PIP: &str = "import sys, runpy; sys.argv = ['pip'] + sys.argv[1:]; \
                   runpy.run_module('pip', run_name='__main__')";

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Unpacks `bytes` (a `.tar.gz`) into `into` with Python's `tarfile` and its `data` filter.
fn untar(bytes: &[u8], into: &Path) {
    let archive = into.join("sdist.tar.gz");
    std::fs::write(&archive, bytes).unwrap();
    let code = "import sys, tarfile\n\
                with tarfile.open(sys.argv[1]) as t:\n    t.extractall(sys.argv[2], filter='data')";
    ok(&python(
        into,
        code,
        &[archive.to_str().unwrap(), into.to_str().unwrap()],
        &[],
    ));
}

/// Calls `hook(*args)` of the backend in the tree `tree`; the process output and, on
/// success, what the hook returned (JSON).
fn hook(tree: &Path, hook: &str, args: Value, env: &[(&str, &str)]) -> (Output, Option<Value>) {
    let code = "import json, sys\n\
                sys.path.insert(0, '_backend')\n\
                import sanctuary_test_backend as b\n\
                result = getattr(b, sys.argv[1])(*json.loads(sys.argv[2]))\n\
                print('RESULT=' + json.dumps(result))";
    let out = python(tree, code, &[hook, &args.to_string()], env);
    let result = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("RESULT=").map(str::to_string))
        .map(|r| serde_json::from_str(&r).unwrap());
    (out, result)
}

/// The hook log's lines.
fn log_lines(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn zip_map(bytes: &[u8]) -> BTreeMap<String, String> {
    read_zip(bytes)
        .into_iter()
        .map(|(n, d)| (n, String::from_utf8(d).unwrap()))
        .collect()
}

/// Every `RECORD` line of the wheel names an entry with that sha256 and size, and every
/// entry has a line.
fn assert_record_matches(bytes: &[u8]) {
    let entries = read_zip(bytes);
    let record_name = entries
        .iter()
        .map(|(n, _)| n)
        .find(|n| n.ends_with(".dist-info/RECORD"))
        .unwrap()
        .clone();
    let record = zip_map(bytes)[&record_name].clone();
    assert_eq!(record.lines().count(), entries.len(), "{record}");
    for (name, data) in &entries {
        let line = record
            .lines()
            .find(|l| l.split(',').next() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("{name} not in RECORD"));
        if *name != record_name {
            let digest = b64_urlsafe_nopad(&sha2::Sha256::digest(data));
            assert_eq!(line, format!("{name},sha256={digest},{}", data.len()));
        }
    }
}

/// A scenario with one buildable version `a 1.0.0` (and a plain `dep`).
fn buildable(build: BuildSpec) -> Scenario {
    Scenario::new("builds")
        .root(["a"])
        .version(
            "a",
            "1.0.0",
            VersionSpec::new()
                .requires(["dep>=1"])
                .extra("fast", ["speedup>=2"])
                .requires_python(">=3.8")
                .file("a/data.txt", "data")
                .entry_point("console_scripts", "a-cli", "a:main")
                .sdist_only(build),
        )
        .versions("dep", &["1.0.0"])
}

/// The served sdist of `a 1.0.0`, unpacked; the tree's root.
fn unpacked(index: &TestIndex, dir: &Path) -> PathBuf {
    let sdist = index.file("a-1.0.0.tar.gz").expect("served sdist");
    untar(&sdist.dist.bytes, dir);
    dir.join("a-1.0.0")
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

#[tokio::test]
async fn a_build_version_serves_only_its_buildable_sdist() {
    let index = TestIndex::start(buildable(BuildSpec::new()));
    let files: Vec<String> = index
        .files()
        .iter()
        .filter(|f| f.project == "a")
        .map(|f| f.dist.filename.clone())
        .collect();
    assert_eq!(files, ["a-1.0.0.tar.gz"]);
    let sdist = index.file("a-1.0.0.tar.gz").unwrap();
    let page = client()
        .get(format!("{}/a/", index.index_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("a-1.0.0.tar.gz#sha256={}", sdist.dist.sha256)),
        "{page}"
    );
    let served = client()
        .get(index.file_url("a-1.0.0.tar.gz"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&served[..], &sdist.dist.bytes[..]);
    // Deterministic: a second index generates the same bytes.
    let again = TestIndex::start(buildable(BuildSpec::new()));
    assert_eq!(
        again.file("a-1.0.0.tar.gz").unwrap().dist.sha256,
        sdist.dist.sha256
    );
}

#[test]
fn a_static_sdist_has_the_tree_and_pkg_info_2_2_without_dynamic() {
    let index = TestIndex::start(buildable(BuildSpec::new()));
    let dir = tempfile::tempdir().unwrap();
    let code = "import sys, tarfile\n\
                print('\\n'.join(tarfile.open(sys.argv[1]).getnames()))";
    let archive = dir.path().join("a.tar.gz");
    std::fs::write(&archive, &index.file("a-1.0.0.tar.gz").unwrap().dist.bytes).unwrap();
    let names = ok(&python(dir.path(), code, &[archive.to_str().unwrap()], &[]));
    assert_eq!(
        names.lines().collect::<Vec<_>>(),
        [
            "a-1.0.0/PKG-INFO",
            "a-1.0.0/_backend/sanctuary_test_backend.json",
            "a-1.0.0/_backend/sanctuary_test_backend.py",
            "a-1.0.0/a/__init__.py",
            "a-1.0.0/a/data.txt",
            "a-1.0.0/pyproject.toml",
        ]
    );
    let tree = unpacked(&index, dir.path());
    let pkg_info = read(tree.join("PKG-INFO"));
    assert!(pkg_info.starts_with("Metadata-Version: 2.2\nName: a\nVersion: 1.0.0\n"));
    assert!(pkg_info.contains("Requires-Python: >=3.8\n"), "{pkg_info}");
    assert!(pkg_info.contains("Requires-Dist: dep>=1\n"), "{pkg_info}");
    assert!(pkg_info.contains("Provides-Extra: fast\n"), "{pkg_info}");
    assert!(pkg_info.contains("Requires-Dist: speedup>=2 ; extra == \"fast\"\n"));
    assert!(!pkg_info.contains("Dynamic"), "{pkg_info}");
    let pyproject = read(tree.join("pyproject.toml"));
    assert!(pyproject.contains("build-backend = \"sanctuary_test_backend\"\n"));
    assert!(pyproject.contains("backend-path = [\"_backend\"]\n"));
    assert!(!pyproject.contains("[project]"), "{pyproject}");
}

#[test]
fn dynamic_legacy_and_pyproject_modes_say_where_metadata_lives() {
    let dir = tempfile::tempdir().unwrap();
    let tree_of = |mode: MetadataMode, sub: &str| {
        let index = TestIndex::start(buildable(BuildSpec::new().metadata(mode)));
        let into = dir.path().join(sub);
        std::fs::create_dir_all(&into).unwrap();
        unpacked(&index, &into)
    };
    let dynamic = tree_of(MetadataMode::Dynamic, "dynamic");
    let pkg_info = read(dynamic.join("PKG-INFO"));
    assert!(
        pkg_info.starts_with("Metadata-Version: 2.2\n"),
        "{pkg_info}"
    );
    assert!(pkg_info.contains("Dynamic: Requires-Dist\nDynamic: Provides-Extra\n"));
    assert!(pkg_info.contains("Requires-Python: >=3.8\n"), "{pkg_info}");
    assert!(!pkg_info.contains("Requires-Dist: "), "{pkg_info}");
    assert!(read(dynamic.join("pyproject.toml")).contains("dynamic = [\"dependencies\""));

    let legacy = tree_of(MetadataMode::Legacy, "legacy");
    let pkg_info = read(legacy.join("PKG-INFO"));
    assert!(
        pkg_info.starts_with("Metadata-Version: 2.1\n"),
        "{pkg_info}"
    );
    assert!(pkg_info.contains("Requires-Dist: dep>=1\n"), "{pkg_info}");

    let pyproject = tree_of(MetadataMode::Pyproject, "pyproject");
    let pkg_info = read(pyproject.join("PKG-INFO"));
    assert!(
        pkg_info.starts_with("Metadata-Version: 2.1\n"),
        "{pkg_info}"
    );
    assert!(!pkg_info.contains("Requires"), "{pkg_info}");
    let code = "import json, tomllib\n\
                print(json.dumps(tomllib.load(open('pyproject.toml', 'rb'))))";
    let toml: Value = serde_json::from_str(&ok(&python(&pyproject, code, &[], &[]))).unwrap();
    assert_eq!(toml["project"]["name"], "a");
    assert_eq!(toml["project"]["version"], "1.0.0");
    assert_eq!(
        toml["project"]["dependencies"],
        serde_json::json!(["dep>=1"])
    );
    assert_eq!(
        toml["project"]["optional-dependencies"]["fast"],
        serde_json::json!(["speedup>=2"])
    );
    assert_eq!(toml["project"]["requires-python"], ">=3.8");
    assert!(toml["project"].get("dynamic").is_none());
    assert_eq!(
        toml["build-system"]["backend-path"],
        serde_json::json!(["_backend"])
    );
}

#[test]
fn build_wheel_writes_a_wheel_pip_installs_and_logs_the_hook() {
    let index = TestIndex::start(buildable(
        BuildSpec::new()
            .requires_import(["json", "no_such_module_here"], false)
            .built_requires(["dep>=1", "extra-at-build"]),
    ));
    let dir = tempfile::tempdir().unwrap();
    let tree = unpacked(&index, dir.path());
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let log = dir.path().join("hooks.jsonl");
    let env = [
        (HOOK_LOG_ENV, log.to_str().unwrap()),
        ("MAX_JOBS", "3"),
        ("UNRECORDED", "x"),
    ];
    let (out, result) = hook(&tree, "build_wheel", serde_json::json!([out_dir]), &env);
    ok(&out);
    assert_eq!(result.unwrap(), "a-1.0.0-py3-none-any.whl");
    let wheel = out_dir.join("a-1.0.0-py3-none-any.whl");
    ok(&python(
        dir.path(),
        "import sys, zipfile; zipfile.main(['-t', sys.argv[1]])",
        &[wheel.to_str().unwrap()],
        &[],
    ));
    let bytes = std::fs::read(&wheel).unwrap();
    assert_record_matches(&bytes);
    let files = zip_map(&bytes);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "a-1.0.0.dist-info/METADATA",
            "a-1.0.0.dist-info/RECORD",
            "a-1.0.0.dist-info/WHEEL",
            "a-1.0.0.dist-info/entry_points.txt",
            "a/__init__.py",
            "a/_built.py",
            "a/data.txt",
        ]
    );
    let metadata = &files["a-1.0.0.dist-info/METADATA"];
    assert!(metadata.contains("Requires-Dist: dep>=1\nRequires-Dist: extra-at-build\n"));
    assert!(files["a-1.0.0.dist-info/WHEEL"].contains("Tag: py3-none-any\n"));
    assert_eq!(files["a/__init__.py"], "__version__ = \"1.0.0\"\n");
    assert!(files["a/_built.py"].contains("BUILT_BY = \"sanctuary_test_backend\""));
    assert!(files["a-1.0.0.dist-info/entry_points.txt"].contains("a-cli = a:main"));

    let lines = log_lines(&log);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["hook"], "build_wheel");
    assert_eq!(line["outcome"], "ok");
    assert_eq!(line["name"], "a");
    assert_eq!(line["version"], "1.0.0");
    assert_eq!(line["env"]["MAX_JOBS"], "3");
    assert!(line["env"].get("UNRECORDED").is_none(), "{line}");
    assert!(
        line["imports"]["json"]["file"]
            .as_str()
            .unwrap()
            .ends_with(".py")
    );
    assert!(
        line["imports"]["no_such_module_here"]["error"]
            .as_str()
            .unwrap()
            .contains("ModuleNotFoundError"),
        "{line}"
    );

    // pip installs it, and the package imports with its build marker.
    let target = dir.path().join("site");
    let pip = python(
        dir.path(),
        PIP,
        &[
            "install",
            "--no-index",
            "--no-deps",
            "--quiet",
            "--target",
            target.to_str().unwrap(),
            wheel.to_str().unwrap(),
        ],
        &[],
    );
    ok(&pip);
    let code = "import sys; sys.path.insert(0, sys.argv[1]); import a, a._built; \
                print(a.__version__, a._built.HOOK, sorted(a._built.IMPORTS))";
    let printed = ok(&python(dir.path(), code, &[target.to_str().unwrap()], &[]));
    assert_eq!(
        printed.trim(),
        "1.0.0 build_wheel ['json', 'no_such_module_here']"
    );
}

#[test]
fn strict_imports_fail_the_build_when_a_module_is_missing() {
    let index = TestIndex::start(buildable(
        BuildSpec::new().requires_import(["no_such_torch"], true),
    ));
    let dir = tempfile::tempdir().unwrap();
    let tree = unpacked(&index, dir.path());
    let log = dir.path().join("hooks.jsonl");
    let (out, result) = hook(
        &tree,
        "build_wheel",
        serde_json::json!([dir.path()]),
        &[(HOOK_LOG_ENV, log.to_str().unwrap())],
    );
    assert!(!out.status.success() && result.is_none());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("backend: cannot import no_such_torch"),
        "{stderr}"
    );
    let lines = log_lines(&log);
    assert_eq!(lines[0]["outcome"], "failed");
    assert!(lines[0]["imports"]["no_such_torch"]["error"].is_string());
}

#[test]
fn a_failing_backend_prints_its_message_and_raises_in_build_wheel() {
    let index = TestIndex::start(buildable(BuildSpec::new().failing()));
    let dir = tempfile::tempdir().unwrap();
    let tree = unpacked(&index, dir.path());
    let log = dir.path().join("hooks.jsonl");
    let env = [(HOOK_LOG_ENV, log.to_str().unwrap())];
    let (out, _) = hook(&tree, "build_wheel", serde_json::json!([dir.path()]), &env);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("backend: compiler exploded\n"), "{stderr}");
    assert!(
        stderr.contains("RuntimeError: backend: compiler exploded"),
        "{stderr}"
    );
    // Metadata still prepares (only `fail_metadata` breaks it); editable builds fail too.
    let (out, result) = hook(
        &tree,
        "prepare_metadata_for_build_wheel",
        serde_json::json!([dir.path()]),
        &env,
    );
    ok(&out);
    assert_eq!(result.unwrap(), "a-1.0.0.dist-info");
    let (out, _) = hook(
        &tree,
        "build_editable",
        serde_json::json!([dir.path()]),
        &env,
    );
    assert!(!out.status.success());
    let outcomes: Vec<(String, String)> = log_lines(&log)
        .iter()
        .map(|l| {
            (
                l["hook"].as_str().unwrap().into(),
                l["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("build_wheel".into(), "failed".into()),
            ("prepare_metadata_for_build_wheel".into(), "ok".into()),
            ("build_editable".into(), "failed".into()),
        ]
    );
    assert!(
        log_lines(&log)[0]["error"]
            .as_str()
            .unwrap()
            .contains("compiler exploded")
    );

    let index = TestIndex::start(buildable(
        BuildSpec::new()
            .fail("backend: no metadata for you")
            .fail_metadata(),
    ));
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let tree = unpacked(&index, &other);
    let (out, _) = hook(
        &tree,
        "prepare_metadata_for_build_wheel",
        serde_json::json!([other]),
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("backend: no metadata for you"));
}

#[test]
fn prepare_metadata_writes_a_dist_info_that_build_wheel_honours() {
    let index = TestIndex::start(buildable(BuildSpec::new().built_requires(["changed>=9"])));
    let dir = tempfile::tempdir().unwrap();
    let tree = unpacked(&index, dir.path());
    let meta_dir = dir.path().join("meta");
    std::fs::create_dir(&meta_dir).unwrap();
    let (out, result) = hook(
        &tree,
        "prepare_metadata_for_build_wheel",
        serde_json::json!([meta_dir]),
        &[],
    );
    ok(&out);
    assert_eq!(result.unwrap(), "a-1.0.0.dist-info");
    let dist_info = meta_dir.join("a-1.0.0.dist-info");
    let metadata = read(dist_info.join("METADATA"));
    assert!(metadata.contains("Requires-Dist: dep>=1\n"), "{metadata}");
    assert!(!metadata.contains("changed"), "{metadata}");
    assert!(read(dist_info.join("WHEEL")).contains("Tag: py3-none-any"));

    let build = |sub: &str, metadata_directory: Option<&Path>| {
        let out_dir = dir.path().join(sub);
        std::fs::create_dir(&out_dir).unwrap();
        let args = serde_json::json!([out_dir, null, metadata_directory]);
        let (out, result) = hook(&tree, "build_wheel", args, &[]);
        ok(&out);
        let wheel = std::fs::read(out_dir.join(result.unwrap().as_str().unwrap())).unwrap();
        assert_record_matches(&wheel);
        zip_map(&wheel)["a-1.0.0.dist-info/METADATA"].clone()
    };
    // Given the prepared dist-info, the wheel carries that METADATA ...
    assert_eq!(build("with", Some(&dist_info)), metadata);
    // ... without it, the backend's own, which disagrees (a metadata mismatch).
    let built = build("without", None);
    assert!(built.contains("Requires-Dist: changed>=9\n"), "{built}");
    assert!(!built.contains("Requires-Dist: dep>=1"), "{built}");

    // A backend that ignores the prepared dist-info.
    let index = TestIndex::start(buildable(
        BuildSpec::new()
            .built_requires(["changed>=9"])
            .ignore_metadata_directory(),
    ));
    let other = dir.path().join("ignoring");
    std::fs::create_dir(&other).unwrap();
    let tree = unpacked(&index, &other);
    let args = serde_json::json!([other, null, dist_info]);
    let (out, result) = hook(&tree, "build_wheel", args, &[]);
    ok(&out);
    let wheel = std::fs::read(other.join(result.unwrap().as_str().unwrap())).unwrap();
    assert!(zip_map(&wheel)["a-1.0.0.dist-info/METADATA"].contains("changed>=9"));
}

#[test]
fn build_editable_writes_a_pth_wheel_pointing_at_the_tree() {
    let index = TestIndex::start(buildable(BuildSpec::new()));
    let dir = tempfile::tempdir().unwrap();
    let tree = unpacked(&index, dir.path());
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let (out, result) = hook(&tree, "build_editable", serde_json::json!([out_dir]), &[]);
    ok(&out);
    let name = result.unwrap().as_str().unwrap().to_string();
    assert_eq!(name, "a-1.0.0-py3-none-any.whl");
    let bytes = std::fs::read(out_dir.join(&name)).unwrap();
    assert_record_matches(&bytes);
    let files = zip_map(&bytes);
    assert!(!files.contains_key("a/__init__.py"), "{:?}", files.keys());
    let pth = &files["__editable__.a-1.0.0.pth"];
    assert_eq!(Path::new(pth.trim()), tree.canonicalize().unwrap());
    // Installed into a site directory, `import a` finds the tree.
    let target = dir.path().join("site");
    ok(&python(
        dir.path(),
        PIP,
        &[
            "install",
            "--no-index",
            "--no-deps",
            "--quiet",
            "--target",
            target.to_str().unwrap(),
            out_dir.join(&name).to_str().unwrap(),
        ],
        &[],
    ));
    let code = "import site, sys; site.addsitedir(sys.argv[1]); import a; print(a.__file__)";
    let file = ok(&python(dir.path(), code, &[target.to_str().unwrap()], &[]));
    assert_eq!(
        Path::new(file.trim()),
        tree.canonicalize().unwrap().join("a/__init__.py")
    );
}

#[test]
fn optional_hooks_can_be_left_out() {
    let index = TestIndex::start(buildable(
        BuildSpec::new().prepare_metadata(false).editable(false),
    ));
    let dir = tempfile::tempdir().unwrap();
    let tree = unpacked(&index, dir.path());
    let code = "import sys; sys.path.insert(0, '_backend'); import sanctuary_test_backend as b; \
                print(sorted(n for n in dir(b) if n.startswith(('build_', 'prepare_', 'get_'))))";
    let hooks = ok(&python(&tree, code, &[], &[]));
    assert_eq!(
        hooks.trim(),
        "['build_sdist', 'build_wheel', 'get_requires_for_build_sdist', \
         'get_requires_for_build_wheel']"
    );
}

#[test]
fn build_requires_are_declared_and_must_be_importable() {
    let index = TestIndex::start(buildable(
        BuildSpec::new().build_requires(["Helper.Build-Dep>=1"]),
    ));
    let dir = tempfile::tempdir().unwrap();
    let tree = unpacked(&index, dir.path());
    assert!(read(tree.join("pyproject.toml")).contains("requires = [\"Helper.Build-Dep>=1\"]\n"));
    let log = dir.path().join("hooks.jsonl");
    let (out, _) = hook(
        &tree,
        "build_wheel",
        serde_json::json!([dir.path()]),
        &[(HOOK_LOG_ENV, log.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("backend: build requirement helper_build_dep is not importable"),
        "{stderr}"
    );
    // Installed (here: on PYTHONPATH), it is imported and recorded.
    let deps = dir.path().join("deps");
    std::fs::create_dir_all(deps.join("helper_build_dep")).unwrap();
    std::fs::write(
        deps.join("helper_build_dep/__init__.py"),
        "__version__ = \"1.2\"\n",
    )
    .unwrap();
    let (out, result) = hook(
        &tree,
        "get_requires_for_build_wheel",
        serde_json::json!([]),
        &[(HOOK_LOG_ENV, log.to_str().unwrap())],
    );
    ok(&out);
    assert_eq!(result.unwrap(), serde_json::json!([]));
    let env = [
        (HOOK_LOG_ENV, log.to_str().unwrap()),
        ("PYTHONPATH", deps.to_str().unwrap()),
    ];
    let (out, _) = hook(&tree, "build_wheel", serde_json::json!([dir.path()]), &env);
    ok(&out);
    let lines = log_lines(&log);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["hook"], "get_requires_for_build_wheel");
    assert_eq!(lines[2]["imports"]["helper_build_dep"]["version"], "1.2");
    assert_eq!(lines[2]["env"]["PYTHONPATH"], deps.to_str().unwrap());
}

#[test]
fn wheel_tag_names_the_built_wheel_and_its_tag_lines() {
    let build =
        BuildSpec::new().wheel_tag("cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64");
    assert_eq!(
        built_wheel_name("a", "1.0.0", &build),
        "a-1.0.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    );
    let index = TestIndex::start(buildable(build.clone()));
    let dir = tempfile::tempdir().unwrap();
    let tree = unpacked(&index, dir.path());
    let (out, result) = hook(&tree, "build_wheel", serde_json::json!([dir.path()]), &[]);
    ok(&out);
    let name = result.unwrap().as_str().unwrap().to_string();
    assert_eq!(name, built_wheel_name("a", "1.0.0", &build));
    let files = zip_map(&std::fs::read(dir.path().join(&name)).unwrap());
    assert!(files["a-1.0.0.dist-info/WHEEL"].contains(
        "Tag: cp311-cp311-manylinux_2_17_x86_64\nTag: cp311-cp311-manylinux2014_x86_64\n"
    ));
}

#[test]
fn a_written_project_builds_and_commits_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let spec = VersionSpec::new()
        .requires(["dep>=1"])
        .build(BuildSpec::new().metadata(MetadataMode::Pyproject));
    let first = dir.path().join("first");
    write_project(&first, "My.App", "1.0", &spec).unwrap();
    assert!(!first.join("PKG-INFO").exists());
    let pyproject = read(first.join("pyproject.toml"));
    assert!(
        pyproject.contains("name = \"My.App\"\nversion = \"1.0\"\n"),
        "{pyproject}"
    );
    assert!(
        pyproject.contains("dependencies = [\"dep>=1\"]\n"),
        "{pyproject}"
    );
    assert!(first.join("my_app/__init__.py").is_file());

    let commit = git_commit_all(&first, "initial");
    assert_eq!(commit.len(), 40, "{commit}");
    let second = dir.path().join("second");
    write_project(&second, "My.App", "1.0", &spec).unwrap();
    assert_eq!(git_commit_all(&second, "initial"), commit);
    let tracked = project::git(&first, &["ls-files"]);
    assert!(
        tracked
            .lines()
            .any(|l| l == "_backend/sanctuary_test_backend.py"),
        "{tracked}"
    );

    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let (out, result) = hook(&first, "build_wheel", serde_json::json!([out_dir]), &[]);
    ok(&out);
    assert_eq!(result.unwrap(), "my_app-1.0-py3-none-any.whl");
    let (out, result) = hook(&first, "build_sdist", serde_json::json!([out_dir]), &[]);
    ok(&out);
    assert_eq!(result.unwrap(), "my_app-1.0.tar.gz");
    let sdist = std::fs::read(out_dir.join("my_app-1.0.tar.gz")).unwrap();
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    untar(&sdist, &unpacked);
    assert!(read(unpacked.join("my_app-1.0/PKG-INFO")).contains("Name: My.App\n"));
    assert!(!unpacked.join("my_app-1.0/.git").exists());
    // Deterministic: building the sdist again gives the same bytes.
    let again = dir.path().join("again");
    std::fs::create_dir(&again).unwrap();
    ok(&hook(&first, "build_sdist", serde_json::json!([again]), &[]).0);
    assert_eq!(
        std::fs::read(again.join("my_app-1.0.tar.gz")).unwrap(),
        sdist
    );
}

#[test]
fn the_build_table_parses_from_toml_and_defaults_off() {
    let s = Scenario::from_toml(
        r#"
[packages.a.versions."1.0"]
requires = ["dep"]
wheel = false
[packages.a.versions."1.0".build]
metadata = "dynamic"
fail = true
requires_import = ["torch"]
strict_imports = true
build_requires = ["helper-build-dep"]
built_requires = ["dep", "other"]
wheel_tag = "cp312-cp312-linux_x86_64"
editable = false
[packages.a.versions."2.0"]
"#,
    )
    .unwrap();
    let v1 = &s.packages["a"].versions["1.0"];
    let build = v1.build.as_ref().unwrap();
    assert_eq!(build.metadata, MetadataMode::Dynamic);
    assert!(build.fail && build.strict_imports && !build.editable && build.prepare_metadata);
    assert_eq!(build.fail_message, "backend: compiler exploded");
    assert_eq!(build.requires_import, ["torch"]);
    assert_eq!(build.build_requires, ["helper-build-dep"]);
    assert_eq!(build.built_requires.as_deref().unwrap(), ["dep", "other"]);
    assert_eq!(build.wheel_tag.as_deref(), Some("cp312-cp312-linux_x86_64"));
    assert!(!v1.wheel);
    assert!(s.packages["a"].versions["2.0"].build.is_none());
    // Round trip through TOML keeps it (and the crafted override is never written).
    let text = toml::to_string(&s).unwrap();
    let back = Scenario::from_toml(&text).unwrap();
    assert_eq!(
        back.packages["a"].versions["1.0"].build.as_ref(),
        Some(build)
    );
    let index = TestIndex::start(s);
    let names: Vec<String> = index
        .files()
        .iter()
        .map(|f| f.dist.filename.clone())
        .collect();
    assert_eq!(
        names,
        ["a-1.0.tar.gz", "a-2.0-py3-none-any.whl", "a-2.0.tar.gz"]
    );
}

#[test]
fn pip_builds_and_installs_the_served_sdist_through_its_pep_517_hooks() {
    let index = TestIndex::start(buildable(BuildSpec::new()));
    let dir = tempfile::tempdir().unwrap();
    index.write_files(dir.path()).unwrap();
    let log = dir.path().join("hooks.jsonl");
    let target = dir.path().join("site");
    let sdist = dir.path().join("a-1.0.0.tar.gz");
    ok(&python(
        dir.path(),
        PIP,
        &[
            "install",
            "--no-index",
            "--no-deps",
            "--no-cache-dir",
            "--quiet",
            "--target",
            target.to_str().unwrap(),
            sdist.to_str().unwrap(),
        ],
        &[(HOOK_LOG_ENV, log.to_str().unwrap())],
    ));
    let hooks: Vec<String> = log_lines(&log)
        .iter()
        .map(|l| l["hook"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        hooks,
        [
            "get_requires_for_build_wheel",
            "prepare_metadata_for_build_wheel",
            "build_wheel"
        ]
    );
    assert!(log_lines(&log)[2]["metadata_directory"].is_string());
    assert!(target.join("a/_built.py").is_file());
    assert!(target.join("a-1.0.0.dist-info/RECORD").is_file());
}
