//! Source distributions end to end, on the local index's generated sdists with the in-tree
//! test backend (`tests/support/backend`): static metadata read without running a hook,
//! dynamic metadata through `prepare_metadata_for_build_wheel`, builds at sync with the
//! built-wheel cache, failing builds, metadata that disagrees with the lock, hostile
//! tarballs, and `no-build` with its warning.

use std::path::PathBuf;

use crate::common::{Project, stderr};
use crate::support::hostile;
use crate::support::scenario::{BuildSpec, MetadataMode};
use crate::support::{Scenario, TestIndex, VersionSpec};

/// A project on its own index, Python 3.11, with a hook log.
pub(crate) struct Env {
    pub(crate) project: Project,
    pub(crate) index: TestIndex,
    hook_log: PathBuf,
}

impl Env {
    pub(crate) fn new(scenario: Scenario, requirements: &[&str], extra: &str) -> Env {
        let index = TestIndex::start(scenario);
        let mut project = Project::new();
        let hook_log = project.path().join("hooks.jsonl");
        project.env("SANCTUARY_TEST_HOOK_LOG", &hook_log.display().to_string());
        let env = Env {
            project,
            index,
            hook_log,
        };
        env.manifest(requirements, extra);
        env
    }

    pub(crate) fn manifest(&self, requirements: &[&str], extra: &str) {
        let list: String = requirements.iter().map(|r| format!("\"{r}\", ")).collect();
        self.project.write_manifest(&format!(
            "[project]\nname = \"s\"\npython = \"3.11\"\nplatform = \"linux-x86_64\"\n\n\
             [[index]]\nname = \"pypi\"\nurl = \"{}\"\n\n\
             [application]\nrequirements = [{list}]\n\n[sync]\nvenv = \".venv\"\n\n{extra}",
            self.index.index_url()
        ));
    }

    pub(crate) fn python(&self) -> PathBuf {
        self.project.path().join(".venv/bin/python")
    }

    /// The hooks the backend ran, as `hook name version` lines.
    pub(crate) fn hooks(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.hook_log).unwrap_or_default();
        text.lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).expect("hook log line");
                format!(
                    "{} {} {}",
                    v["hook"].as_str().unwrap_or_default(),
                    v["name"].as_str().unwrap_or_default(),
                    v["version"].as_str().unwrap_or_default()
                )
            })
            .collect()
    }

    /// The hook log's JSON lines.
    pub(crate) fn hook_records(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.hook_log).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).expect("hook log line"))
            .collect()
    }

    pub(crate) fn clear_hooks(&self) {
        let _ = std::fs::remove_file(&self.hook_log);
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.project.run(args);
        assert!(
            out.status.success(),
            "sanctuary {args:?} failed:\n{}",
            stderr(&out)
        );
        stderr(&out)
    }

    pub(crate) fn err(&self, args: &[&str]) -> String {
        let out = self.project.run(args);
        assert!(
            !out.status.success(),
            "sanctuary {args:?} unexpectedly succeeded:\n{}",
            stderr(&out)
        );
        stderr(&out)
    }

    pub(crate) fn import(&self, code: &str) -> String {
        crate::sync::run_python(&self.python(), code)
    }
}

pub(crate) fn v() -> VersionSpec {
    VersionSpec::new()
}

/// `lib` from wheels; `app` 1.0 from a wheel, `app` 2.0 published only as an sdist whose
/// metadata is read as `mode` says.
fn scenario(mode: MetadataMode) -> Scenario {
    Scenario::new("pypi")
        .version("lib", "1.0.0", v())
        .version("app", "1.0.0", v().requires(["lib>=1"]))
        .version(
            "app",
            "2.0.0",
            v().requires(["lib>=1"])
                .sdist_only(BuildSpec::new().metadata(mode)),
        )
}

#[test]
fn static_pkg_info_locks_without_running_a_hook_and_sync_builds_once() {
    let env = Env::new(scenario(MetadataMode::Static), &["app"], "");
    env.ok(&["lock"]);
    assert!(env.hooks().is_empty(), "a hook ran: {:?}", env.hooks());
    let lock = env.project.lockfile();
    let app = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "app")
        .expect("app locked");
    assert_eq!(app.version.to_string(), "2.0.0");
    let sdist = app.sdist.as_ref().expect("locked from its sdist");
    assert_eq!(sdist.name, "app-2.0.0.tar.gz");
    assert!(app.wheels.is_empty());
    assert_eq!(app.dependencies.len(), 1);

    let out = env.ok(&["sync"]);
    assert!(out.contains("building app 2.0.0"), "{out}");
    assert_eq!(
        env.hooks(),
        [
            "get_requires_for_build_wheel app 2.0.0",
            "build_wheel app 2.0.0"
        ]
    );
    assert_eq!(env.import("import app._built, lib; print('ok')"), "ok");

    // A fresh venv from the same lockfile: the built wheel comes from the cache.
    std::fs::remove_dir_all(env.project.path().join(".venv")).unwrap();
    env.clear_hooks();
    let out = env.ok(&["sync"]);
    assert!(!out.contains("building"), "{out}");
    assert!(env.hooks().is_empty(), "built again: {:?}", env.hooks());
    assert_eq!(env.import("import app._built; print('ok')"), "ok");
    // And a second sync of the same venv does nothing at all.
    let out = env.ok(&["sync"]);
    assert!(env.hooks().is_empty(), "{out}");
    // doctor judges the built package as sync does: in place.
    let out = env.project.run(&["doctor"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn dynamic_metadata_runs_the_metadata_hook_once_and_is_cached_by_hash() {
    let env = Env::new(scenario(MetadataMode::Dynamic), &["app"], "");
    env.ok(&["lock"]);
    assert_eq!(
        env.hooks(),
        [
            "get_requires_for_build_wheel app 2.0.0",
            "prepare_metadata_for_build_wheel app 2.0.0"
        ]
    );
    assert_eq!(env.project.pins()["app"], "2.0.0");
    // Re-locking from scratch reads the metadata from the cache: no hook runs.
    env.clear_hooks();
    std::fs::remove_dir_all(env.project.path().join("lockfiles")).unwrap();
    env.ok(&["lock"]);
    assert!(env.hooks().is_empty(), "{:?}", env.hooks());
}

#[test]
fn pyproject_project_table_is_static_metadata() {
    let env = Env::new(scenario(MetadataMode::Pyproject), &["app"], "");
    env.ok(&["lock"]);
    assert!(env.hooks().is_empty(), "{:?}", env.hooks());
    assert_eq!(env.project.pins()["app"], "2.0.0");
}

#[test]
fn a_failing_build_shows_its_output_and_installs_nothing() {
    let scenario = Scenario::new("pypi").version("lib", "1.0.0", v()).version(
        "app",
        "2.0.0",
        v().requires(["lib>=1"])
            .sdist_only(BuildSpec::new().failing()),
    );
    let env = Env::new(scenario, &["app"], "");
    env.ok(&["lock"]);
    let err = env.err(&["sync"]);
    assert!(err.contains("app 2.0.0"), "{err}");
    assert!(err.contains("build_wheel"), "{err}");
    assert!(err.contains("backend: compiler exploded"), "{err}");
    assert!(
        !env.project.path().join(".venv").exists(),
        "a venv was made though a build failed"
    );
}

#[test]
fn a_built_wheel_whose_metadata_disagrees_with_the_lock_is_refused() {
    let scenario = Scenario::new("pypi")
        .version("lib", "1.0.0", v())
        .version("other", "1.0.0", v())
        .version(
            "app",
            "2.0.0",
            v().requires(["lib>=1"])
                .sdist_only(BuildSpec::new().built_requires(["other"])),
        );
    let env = Env::new(scenario, &["app"], "");
    env.ok(&["lock"]);
    let err = env.err(&["sync"]);
    assert!(err.contains("app 2.0.0"), "{err}");
    assert!(err.contains("depends on other"), "{err}");
    assert!(err.contains("records lib"), "{err}");
    assert!(!env.project.path().join(".venv").exists());
}

#[test]
fn hostile_sdists_are_refused_and_nothing_is_written_outside() {
    type Make = fn(&str, &str) -> crate::support::wheelgen::Dist;
    let cases: [(&str, Make); 5] = [
        ("escaping path", hostile::escaping_path_sdist),
        ("absolute path", hostile::absolute_path_sdist),
        ("symlink out", hostile::symlink_out_sdist),
        ("hard link out", hostile::hardlink_out_sdist),
        ("size lie", hostile::pax_size_lie_sdist),
    ];
    for (what, make) in cases {
        let dist = make("app", "2.0.0");
        let spec = v()
            .requires(["lib>=1"])
            .sdist_only(BuildSpec::new().metadata(MetadataMode::Dynamic))
            .sdist_override(dist);
        let scenario = Scenario::new("pypi")
            .version("lib", "1.0.0", v())
            .version("app", "2.0.0", spec);
        let env = Env::new(scenario, &["app"], "");
        let err = env.err(&["lock"]);
        assert!(err.contains("app-2.0.0.tar.gz"), "{what}: {err}");
        assert!(env.hooks().is_empty(), "{what}: a hook ran");
        assert!(!env.project.lockfile_path().exists(), "{what}");
        assert!(
            !std::path::Path::new("/tmp/sanctuary-absolute-app-2.0.0.txt").exists(),
            "{what}"
        );
    }
}

#[test]
fn no_build_skips_sdist_only_versions_with_a_warning() {
    let env = Env::new(
        scenario(MetadataMode::Static),
        &["app"],
        "[build]\nno-build = true\n",
    );
    let out = env.ok(&["lock"]);
    assert_eq!(env.project.pins()["app"], "1.0.0");
    assert!(out.contains("warning: app: locked 1.0.0"), "{out}");
    assert!(out.contains("app 2.0.0"), "{out}");
    // The same with the package alone switched off.
    let env = Env::new(
        scenario(MetadataMode::Static),
        &["app"],
        "[build]\nno-build-package = [\"app\"]\n",
    );
    let out = env.ok(&["lock"]);
    assert_eq!(env.project.pins()["app"], "1.0.0");
    assert!(out.contains("warning: app"), "{out}");
    // Asking for the sdist-only version with building off is a clear error.
    env.manifest(&["app>=2"], "[build]\nno-build = true\n");
    let err = env.err(&["lock"]);
    assert!(err.contains("only as a source distribution"), "{err}");
}

#[test]
fn declared_metadata_locks_without_fetching_the_sdist() {
    let env = Env::new(
        scenario(MetadataMode::Dynamic),
        &["app"],
        "[[build.dependency-metadata]]\nname = \"app\"\nversion = \"2.0.0\"\nrequires-dist = [\"lib>=1\"]\n",
    );
    env.ok(&["lock"]);
    assert!(env.hooks().is_empty(), "{:?}", env.hooks());
    assert_eq!(env.project.pins()["app"], "2.0.0");
    let fetched: Vec<String> = env
        .index
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(".tar.gz"))
        .map(|r| r.path)
        .collect();
    assert!(fetched.is_empty(), "{fetched:?}");
}

/// A Foundation of `torch` (cpu key, the PyTorch mirror) and two sdist-only packages that
/// import torch when they build: `fattn` built against the Foundation, `plain` isolated.
fn foundation_env(torch: &str) -> Env {
    let scenario = crate::support::mirror::pypi_scenario()
        .version(
            "fattn",
            "2.8.3",
            v().requires(["torch"]).sdist_only(
                BuildSpec::new()
                    .requires_import(["torch"], true)
                    .record_env(["MAX_JOBS"]),
            ),
        )
        .version(
            "plain",
            "1.0.0",
            v().sdist_only(BuildSpec::new().requires_import(["torch"], false)),
        );
    let index = TestIndex::start(scenario);
    let mut project = Project::new();
    project.env(
        "SANCTUARY_INDEX_PYTORCH",
        &crate::support::mirror::index_url_template("stable"),
    );
    let hook_log = project.path().join("hooks.jsonl");
    project.env("SANCTUARY_TEST_HOOK_LOG", &hook_log.display().to_string());
    let env = Env {
        project,
        index,
        hook_log,
    };
    env.foundation_manifest(torch);
    env
}

impl Env {
    fn foundation_manifest(&self, torch: &str) {
        self.project.write_manifest(&format!(
            "[project]\nname = \"s\"\npython = \"3.11\"\nplatform = \"linux-x86_64\"\n\n\
             [[index]]\nname = \"pypi\"\nurl = \"{}\"\n\n\
             [[index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/{{key}}\"\nexplicit = true\n\n\
             [foundation]\nkeys = [\"cpu\"]\nindex = \"pytorch\"\nrequirements = [\"{torch}\"]\n\n\
             [application]\nrequirements = [\"fattn\", \"plain\"]\n\n[sync]\nvenv = \".venv\"\n\n\
             [build.package.fattn]\nfoundation = true\nenv = {{ MAX_JOBS = \"2\" }}\n",
            self.index.index_url()
        ));
    }

    /// The torch each `build_wheel` of `name` imported (`absent` when it could not).
    fn torch_seen_by(&self, name: &str) -> Vec<String> {
        self.hook_records()
            .iter()
            .filter(|r| r["hook"] == "build_wheel" && r["name"] == name)
            .map(|r| {
                let torch = &r["imports"]["torch"];
                match torch["version"].as_str() {
                    Some(v) => v.to_string(),
                    None => "absent".to_string(),
                }
            })
            .collect()
    }
}

#[test]
fn foundation_builds_see_the_installed_torch_and_rebuild_when_it_moves() {
    let env = foundation_env("torch==2.9.0");
    env.ok(&["lock"]);
    env.ok(&["sync", "--key", "cpu"]);
    assert_eq!(env.torch_seen_by("fattn"), ["2.9.0+cpu"]);
    assert_eq!(env.torch_seen_by("plain"), ["absent"]);
    let fattn = env
        .hook_records()
        .into_iter()
        .find(|r| r["hook"] == "build_wheel" && r["name"] == "fattn")
        .expect("fattn built");
    assert_eq!(fattn["env"]["MAX_JOBS"], "2", "{fattn}");
    assert_eq!(
        env.import("import fattn._built, plain._built; print('ok')"),
        "ok"
    );

    // Nothing changed: nothing is built.
    env.clear_hooks();
    env.ok(&["sync", "--key", "cpu"]);
    assert!(env.hooks().is_empty(), "{:?}", env.hooks());

    // A new Foundation pin rebuilds the Foundation build, and only it.
    env.foundation_manifest("torch==2.9.1");
    env.ok(&["lock"]);
    let out = env.ok(&["sync", "--key", "cpu"]);
    assert_eq!(env.torch_seen_by("fattn"), ["2.9.1+cpu"], "{out}");
    assert!(env.torch_seen_by("plain").is_empty(), "{out}");
    assert!(out.contains("fattn"), "{out}");
}

#[test]
fn each_foundation_build_gets_its_own_declared_requirements() {
    // Two Foundation builds that each import a different declared build requirement.
    let scenario = crate::support::mirror::pypi_scenario()
        .version("bdep", "1.0.0", v().sdist(false))
        .version("cdep", "1.0.0", v().sdist(false))
        .version(
            "fattn",
            "2.8.3",
            v().sdist_only(BuildSpec::new().requires_import(["bdep"], true)),
        )
        .version(
            "gattn",
            "1.0.0",
            v().sdist_only(BuildSpec::new().requires_import(["cdep"], true)),
        );
    let mut env = Env::new(scenario, &[], "");
    env.project.env(
        "SANCTUARY_INDEX_PYTORCH",
        &crate::support::mirror::index_url_template("stable"),
    );
    env.project.write_manifest(&format!(
        "[project]\nname = \"s\"\npython = \"3.11\"\nplatform = \"linux-x86_64\"\n\n\
         [[index]]\nname = \"pypi\"\nurl = \"{}\"\n\n\
         [[index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/{{key}}\"\nexplicit = true\n\n\
         [foundation]\nkeys = [\"cpu\"]\nindex = \"pytorch\"\nrequirements = [\"torch==2.9.0\"]\n\n\
         [application]\nrequirements = [\"fattn\", \"gattn\"]\n\n[sync]\nvenv = \".venv\"\n\n\
         [build.package.fattn]\nfoundation = true\nrequires = [\"bdep\"]\n\n\
         [build.package.gattn]\nfoundation = true\nrequires = [\"cdep\"]\n",
        env.index.index_url()
    ));
    env.ok(&["lock"]);
    env.ok(&["sync", "--key", "cpu"]);
    assert_eq!(
        env.import("import fattn._built, gattn._built; print('ok')"),
        "ok"
    );
}

#[test]
fn build_requirements_come_from_the_index_into_an_isolated_environment() {
    let scenario = Scenario::new("pypi")
        .version("bdep", "1.0.0", v().sdist(false))
        .version(
            "app",
            "2.0.0",
            v().sdist_only(
                BuildSpec::new()
                    .metadata(MetadataMode::Dynamic)
                    .build_requires(["bdep"]),
            ),
        );
    let env = Env::new(scenario, &["app"], "");
    env.ok(&["lock"]);
    env.ok(&["sync"]);
    // The backend imports its build requirement in every hook but `get_requires`: it was
    // installed in the build environment, and not in the venv.
    let built = env
        .hook_records()
        .into_iter()
        .find(|r| r["hook"] == "build_wheel")
        .expect("a build ran");
    assert_eq!(built["outcome"], "ok", "{built}");
    let prefix = built["prefix"].as_str().unwrap_or_default().to_string();
    assert!(prefix.contains("build-envs"), "{built}");
    let in_venv = env.import("import importlib.util as u; print(u.find_spec('bdep') is None)");
    assert_eq!(in_venv, "True");
}

#[test]
fn a_hostile_sdist_is_refused_at_sync_before_anything_changes() {
    // Declared metadata: the lock never opens the sdist, so the sync is the first to.
    let declared = "[[build.dependency-metadata]]\nname = \"app\"\nrequires-dist = []\n";
    type Make = fn(&str, &str) -> crate::support::wheelgen::Dist;
    let cases: [(&str, Make); 3] = [
        ("escaping path", hostile::escaping_path_sdist),
        ("symlink out", hostile::symlink_out_sdist),
        ("size lie", hostile::pax_size_lie_sdist),
    ];
    for (what, make) in cases {
        let spec = v()
            .sdist_only(BuildSpec::new())
            .sdist_override(make("app", "2.0.0"));
        let scenario = Scenario::new("pypi").version("app", "2.0.0", spec);
        let env = Env::new(scenario, &["app"], declared);
        env.ok(&["lock"]);
        let err = env.err(&["sync"]);
        assert!(err.contains("app-2.0.0.tar.gz"), "{what}: {err}");
        assert!(env.hooks().is_empty(), "{what}: a hook ran");
        assert!(!env.project.path().join(".venv").exists(), "{what}");
    }
}

#[test]
fn build_backends_do_not_see_index_credentials() {
    let mut env = Env::new(scenario(MetadataMode::Dynamic), &["app"], "");
    env.project.env("SANCTUARY_INDEX_PYPI_USERNAME", "bob");
    env.project.env("SANCTUARY_INDEX_PYPI_PASSWORD", "hunter2");
    env.ok(&["lock"]);
    let records = env.hook_records();
    assert!(!records.is_empty());
    for record in records {
        let text = record.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("SANCTUARY_INDEX_PYPI"), "{text}");
    }
}

#[test]
fn a_version_built_from_source_takes_its_metadata_from_a_wheel_for_another_target() {
    // app 2.0.0 has a Windows wheel and an sdist whose metadata only a hook gives: the lock
    // reads the Windows wheel's metadata (a release's files share it) and runs no backend.
    let scenario = Scenario::new("pypi").version("lib", "1.0.0", v()).version(
        "app",
        "2.0.0",
        v().requires(["lib>=1"])
            .tags(["py3-none-win_amd64"])
            .build(BuildSpec::new().metadata(MetadataMode::Dynamic)),
    );
    let env = Env::new(scenario, &["app"], "");
    env.ok(&["lock"]);
    assert!(env.hooks().is_empty(), "{:?}", env.hooks());
    let lock = env.project.lockfile();
    let app = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "app")
        .expect("app locked");
    assert!(app.sdist.is_some() && app.wheels.is_empty(), "{app:?}");
    assert_eq!(app.dependencies.len(), 1);
    env.ok(&["sync"]);
    assert!(
        env.hooks().iter().any(|h| h == "build_wheel app 2.0.0"),
        "{:?}",
        env.hooks()
    );
}

#[test]
fn declared_build_requirements_join_an_isolated_build() {
    // The project imports `bdep` when it builds but does not list it: the manifest does.
    let scenario = Scenario::new("pypi")
        .version("bdep", "1.0.0", v().sdist(false))
        .version(
            "app",
            "2.0.0",
            v().sdist_only(
                BuildSpec::new()
                    .metadata(MetadataMode::Dynamic)
                    .requires_import(["bdep"], true),
            ),
        );
    let env = Env::new(scenario.clone(), &["app"], "");
    env.ok(&["lock"]);
    let err = env.err(&["sync"]);
    assert!(err.contains("bdep"), "{err}");
    let env = Env::new(
        scenario,
        &["app"],
        "[build.package.app]\nrequires = [\"bdep\"]\n",
    );
    env.ok(&["lock"]);
    env.ok(&["sync"]);
    assert_eq!(env.import("import app._built; print('ok')"), "ok");
}

#[test]
fn build_settings_that_change_a_resolution_make_the_lock_stale() {
    let env = Env::new(scenario(MetadataMode::Static), &["app"], "");
    env.ok(&["lock"]);
    assert!(env.project.run(&["lock", "--check"]).status.success());
    // Build variables change no resolution: still fresh.
    env.manifest(
        &["app"],
        "[build.package.app]\nenv = { MAX_JOBS = \"2\" }\n",
    );
    assert!(env.project.run(&["lock", "--check"]).status.success());
    // Switching building off does.
    env.manifest(&["app"], "[build]\nno-build-package = [\"app\"]\n");
    let stale = env.project.run(&["lock", "--check"]);
    assert_eq!(stale.status.code(), Some(1));
    let message = stderr(&stale);
    assert!(
        message.contains("build setting `no-build-package=app` added"),
        "{message}"
    );
    // As does declaring metadata.
    env.manifest(
        &["app"],
        "[[build.dependency-metadata]]\nname = \"app\"\nrequires-dist = []\n",
    );
    let stale = env.project.run(&["lock", "--check"]);
    assert_eq!(stale.status.code(), Some(1), "{}", stderr(&stale));
}

/// Regression: a lock over a Python range looked for an interpreter named by the range
/// (`>=3.11,<3.13`) to run a build backend, and failed. The hook now runs on a declared minor
/// (the newest found), once for every environment.
#[test]
fn a_universal_lock_runs_the_metadata_hook_once_on_a_declared_python() {
    let env = Env::new(scenario(MetadataMode::Dynamic), &["app"], "");
    env.project.write_manifest(&format!(
        "[project]\nname = \"s\"\npython = \">=3.11,<3.13\"\nplatform = \"linux-x86_64\"\n\n\
         [[index]]\nname = \"pypi\"\nurl = \"{}\"\n\n\
         [application]\nrequirements = [\"app\"]\n",
        env.index.index_url()
    ));
    env.ok(&["lock"]);
    assert_eq!(
        env.hooks(),
        [
            "get_requires_for_build_wheel app 2.0.0",
            "prepare_metadata_for_build_wheel app 2.0.0"
        ]
    );
    let lock = env.project.lockfile_text().unwrap();
    assert!(
        lock.contains("requires-python = \">=3.11, <3.13\""),
        "{lock}"
    );
    assert_eq!(env.project.pins()["app"], "2.0.0");
}
