//! Local projects end to end: a directory relative to the manifest installed editable (the
//! `pip install -e .` of the environment) and as a built wheel, and a git requirement from a
//! local repository locked to a commit; a lockfile that points sync at a directory the
//! manifest does not name is refused.

use crate::sdists::{Env, v};
use crate::support::Scenario;
use crate::support::project;
use crate::support::scenario::{BuildSpec, MetadataMode};

fn index() -> Scenario {
    Scenario::new("pypi").version("lib", "1.0.0", v())
}

/// The project `mine` 0.1.0 (depending on `lib`) written at `dir`.
fn write_mine(dir: &std::path::Path, mode: MetadataMode) {
    let spec = v()
        .requires(["lib>=1"])
        .build(BuildSpec::new().metadata(mode));
    project::write_project(dir, "mine", "0.1.0", &spec).unwrap();
}

#[test]
fn an_editable_directory_project_is_installed_and_reads_its_sources_live() {
    let env = Env::new(index(), &["mine @ ./libs/mine"], "");
    env.manifest(&["mine @ ./libs/mine"], "");
    let dir = env.project.path().join("libs/mine");
    write_mine(&dir, MetadataMode::Pyproject);
    // Editable.
    let text = env
        .project
        .manifest()
        .replace("[application]\n", "[application]\neditable = [\"mine\"]\n");
    env.project.write_manifest(&text);
    env.ok(&["lock"]);
    let lock = env.project.lockfile_text().unwrap();
    assert!(lock.contains("[packages.directory]"), "{lock}");
    assert!(lock.contains("path = \"../libs/mine\""), "{lock}");
    assert!(lock.contains("editable = true"), "{lock}");
    assert!(
        env.hooks().is_empty(),
        "static pyproject: {:?}",
        env.hooks()
    );

    env.ok(&["sync"]);
    assert!(
        env.hooks()
            .iter()
            .any(|h| h.starts_with("build_editable mine")),
        "{:?}",
        env.hooks()
    );
    let file = env.import("import mine; print(mine.__file__)");
    assert!(
        file.starts_with(&dir.canonicalize().unwrap().display().to_string()),
        "{file}"
    );
    // A change to the sources is seen without a sync.
    std::fs::write(dir.join("mine/extra.py"), "VALUE = 42\n").unwrap();
    assert_eq!(
        env.import("import mine.extra; print(mine.extra.VALUE)"),
        "42"
    );
    // direct_url.json says editable, as PEP 610 asks.
    let direct = env.import(
        "import importlib.metadata as m; print(m.distribution('mine').read_text('direct_url.json'))",
    );
    assert!(direct.contains("\"editable\":true"), "{direct}");

    // Nothing changed: the second sync builds nothing, and doctor finds it in place.
    env.clear_hooks();
    env.ok(&["sync"]);
    assert!(env.hooks().is_empty(), "{:?}", env.hooks());
    let out = env.project.run(&["doctor"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
}

#[test]
fn a_directory_project_is_built_and_rebuilt_when_its_sources_change() {
    let env = Env::new(index(), &["mine @ ./libs/mine"], "");
    let dir = env.project.path().join("libs/mine");
    write_mine(&dir, MetadataMode::Legacy);
    env.ok(&["lock"]);
    // Not static: the metadata hook ran for it.
    assert!(
        env.hooks()
            .iter()
            .any(|h| h.starts_with("prepare_metadata_for_build_wheel mine")),
        "{:?}",
        env.hooks()
    );
    env.clear_hooks();
    env.ok(&["sync"]);
    assert!(
        env.hooks().iter().any(|h| h == "build_wheel mine 0.1.0"),
        "{:?}",
        env.hooks()
    );
    assert_eq!(env.import("import mine._built, lib; print('ok')"), "ok");

    env.clear_hooks();
    env.ok(&["sync"]);
    assert!(
        env.hooks().is_empty(),
        "unchanged sources rebuilt: {:?}",
        env.hooks()
    );

    // The backend packs the files it lists: change one of them.
    let init = dir.join("mine/__init__.py");
    let mut text = std::fs::read_to_string(&init).unwrap();
    text.push_str("VALUE = 7\n");
    std::fs::write(&init, text).unwrap();
    env.ok(&["sync"]);
    assert!(
        env.hooks().iter().any(|h| h == "build_wheel mine 0.1.0"),
        "{:?}",
        env.hooks()
    );
    assert_eq!(env.import("import mine; print(mine.VALUE)"), "7");
}

#[test]
fn a_git_requirement_is_locked_to_a_commit_and_installed_from_it() {
    let repo = tempfile::tempdir().unwrap();
    write_mine(repo.path(), MetadataMode::Pyproject);
    let first = project::git_commit_all(repo.path(), "first");
    project::git_tag(repo.path(), "v0.1");
    let url = format!("git+file://{}@v0.1", repo.path().display());
    let requirement = format!("mine @ {url}");
    let env = Env::new(index(), &[requirement.as_str()], "");
    env.ok(&["lock"]);
    let lock = env.project.lockfile_text().unwrap();
    assert!(lock.contains("[packages.vcs]"), "{lock}");
    assert!(lock.contains(&format!("commit-id = \"{first}\"")), "{lock}");
    assert!(lock.contains("requested-revision = \"v0.1\""), "{lock}");

    // A later commit does not move the lock.
    let init = repo.path().join("mine/__init__.py");
    let mut text = std::fs::read_to_string(&init).unwrap();
    text.push_str("VALUE = 2\n");
    std::fs::write(&init, text).unwrap();
    project::git_commit_all(repo.path(), "second");
    env.ok(&["sync"]);
    assert_eq!(env.import("import mine._built, lib; print('ok')"), "ok");
    let value = env.import("import mine; print(getattr(mine, 'VALUE', None))");
    assert_eq!(value, "None");
    let direct = env.import(
        "import importlib.metadata as m; print(m.distribution('mine').read_text('direct_url.json'))",
    );
    assert!(direct.contains(&first), "{direct}");
    env.clear_hooks();
    env.ok(&["sync"]);
    assert!(env.hooks().is_empty(), "{:?}", env.hooks());
}

#[test]
fn git_requirements_ignore_the_repository_a_git_hook_points_at() {
    // Run from a git hook, sanctuary inherits `GIT_DIR`, `GIT_WORK_TREE` and
    // `GIT_INDEX_FILE` naming the user's repository: its git commands must not touch it.
    let repo = tempfile::tempdir().unwrap();
    write_mine(repo.path(), MetadataMode::Pyproject);
    let commit = project::git_commit_all(repo.path(), "first");
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("README"), "host\n").unwrap();
    project::git_commit_all(host.path(), "host");
    let requirement = format!("mine @ git+file://{}", repo.path().display());
    let mut env = Env::new(index(), &[requirement.as_str()], "");
    let git_dir = host.path().join(".git");
    env.project.env("GIT_DIR", &git_dir.display().to_string());
    env.project
        .env("GIT_WORK_TREE", &host.path().display().to_string());
    env.project.env(
        "GIT_INDEX_FILE",
        &git_dir.join("index").display().to_string(),
    );
    env.ok(&["lock"]);
    let lock = env.project.lockfile_text().unwrap();
    assert!(
        lock.contains(&format!("commit-id = \"{commit}\"")),
        "{lock}"
    );
    env.ok(&["sync"]);
    assert_eq!(env.import("import mine._built; print('ok')"), "ok");
    assert!(
        !host.path().join("mine").exists(),
        "checked out into the host"
    );
    let bare = project::git(host.path(), &["config", "--get", "core.bare"]);
    assert_eq!(bare.trim(), "false");
    let status = project::git(host.path(), &["status", "--porcelain"]);
    assert_eq!(status.trim(), "", "the host's index changed");
}

#[test]
fn a_lockfile_naming_a_directory_the_manifest_does_not_is_refused() {
    let env = Env::new(index(), &["mine @ ./libs/mine"], "");
    let dir = env.project.path().join("libs/mine");
    write_mine(&dir, MetadataMode::Pyproject);
    let elsewhere = env.project.path().join("elsewhere");
    write_mine(&elsewhere, MetadataMode::Pyproject);
    env.ok(&["lock"]);
    let path = env.project.lockfile_path();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("../libs/mine", "../elsewhere")).unwrap();
    let err = env.err(&["sync", "--frozen"]);
    assert!(err.contains("mine"), "{err}");
    assert!(err.contains("does not ask for"), "{err}");
    assert!(!env.project.path().join(".venv").exists());
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_killed_sanctuary_leaves_no_build_running() {
    let env = Env::new(index(), &["slow @ ./slow"], "");
    let dir = env.project.path().join("slow");
    std::fs::create_dir_all(dir.join("_backend")).unwrap();
    std::fs::write(
        dir.join("pyproject.toml"),
        "[project]\nname = \"slow\"\ndynamic = [\"version\", \"dependencies\"]\n\n\
         [build-system]\nrequires = []\nbuild-backend = \"slowbackend\"\nbackend-path = [\"_backend\"]\n",
    )
    .unwrap();
    let pids = env.project.path().join("pids");
    std::fs::write(
        dir.join("_backend/slowbackend.py"),
        format!(
            "import os, subprocess, time\n\
             def prepare_metadata_for_build_wheel(d, c=None):\n\
             \x20   child = subprocess.Popen(['sleep', '300'])\n\
             \x20   with open({pids:?}, 'w') as f:\n\
             \x20       f.write(f'{{os.getpid()}} {{child.pid}}')\n\
             \x20   time.sleep(300)\n",
            pids = pids.display().to_string()
        ),
    )
    .unwrap();
    let mut lock = env.project.command(&["lock"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let text = loop {
        if let Ok(text) = std::fs::read_to_string(&pids)
            && text.contains(' ')
        {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the backend never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let started: Vec<u32> = text.split(' ').map(|p| p.parse().unwrap()).collect();
    lock.kill().unwrap();
    lock.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !started.iter().all(|p| gone(*p)) {
        if std::time::Instant::now() >= deadline {
            for pid in &started {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .status();
            }
            panic!("the backend {started:?} outlived sanctuary");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Regression: with a relative `--manifest` (or none, in the project's directory), a local
/// project was handed to the index as a relative path and `lock` failed.
#[test]
fn a_local_project_locks_with_a_relative_manifest_path() {
    let env = Env::new(index(), &["mine @ ./libs/mine"], "");
    write_mine(
        &env.project.path().join("libs/mine"),
        MetadataMode::Pyproject,
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args(["lock", "--manifest", "sanctuary.toml"])
        .current_dir(env.project.path())
        .env("SANCTUARY_CACHE_DIR", &env.project.cache)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let lock = env.project.lockfile_text().unwrap();
    assert!(lock.contains("path = \"../libs/mine\""), "{lock}");
}

/// Regression: making a project editable (or not) left `lock --check` content, and `sync`
/// then refused the lockfile instead of re-locking.
#[test]
fn changing_editable_makes_the_lock_stale_and_sync_relocks() {
    let env = Env::new(index(), &["mine @ ./libs/mine"], "");
    write_mine(
        &env.project.path().join("libs/mine"),
        MetadataMode::Pyproject,
    );
    env.ok(&["sync"]);
    let text = env
        .project
        .manifest()
        .replace("[application]\n", "[application]\neditable = [\"mine\"]\n");
    env.project.write_manifest(&text);
    let stale = env.project.run(&["lock", "--check"]);
    assert_eq!(
        stale.status.code(),
        Some(1),
        "{}",
        crate::common::stderr(&stale)
    );
    env.ok(&["sync"]);
    assert!(
        env.project
            .lockfile_text()
            .unwrap()
            .contains("editable = true")
    );
    let direct = env.import(
        "import importlib.metadata as m; print(m.distribution('mine').read_text('direct_url.json'))",
    );
    assert!(direct.contains("\"editable\":true"), "{direct}");
}

/// Regression: every `lock` moved a git branch to its newest commit; like a version, a locked
/// commit stays until `--upgrade`.
#[test]
fn a_locked_git_branch_stays_on_its_commit_until_upgraded() {
    let repo = tempfile::tempdir().unwrap();
    write_mine(repo.path(), MetadataMode::Pyproject);
    let first = project::git_commit_all(repo.path(), "first");
    let requirement = format!("mine @ git+file://{}@main", repo.path().display());
    let env = Env::new(index(), &[requirement.as_str()], "");
    env.ok(&["lock"]);
    let second = {
        std::fs::write(repo.path().join("NEWS"), "more\n").unwrap();
        project::git_commit_all(repo.path(), "second")
    };
    // Another change to the manifest re-locks: the commit stays.
    env.manifest(&[requirement.as_str(), "lib"], "");
    env.ok(&["lock"]);
    let lock = env.project.lockfile_text().unwrap();
    assert!(lock.contains(&first), "{lock}");
    env.ok(&["lock", "--upgrade-package", "mine"]);
    let lock = env.project.lockfile_text().unwrap();
    assert!(lock.contains(&second), "{lock}");
}

/// Regression: `doctor` said `ok` for a directory project whose sources changed, while
/// `sync --dry-run` planned its rebuild.
#[test]
fn doctor_and_a_dry_run_agree_on_a_changed_directory_project() {
    let env = Env::new(index(), &["mine @ ./libs/mine"], "");
    let dir = env.project.path().join("libs/mine");
    write_mine(&dir, MetadataMode::Pyproject);
    env.ok(&["sync"]);
    let out = env.project.run(&["doctor"]);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    let init = dir.join("mine/__init__.py");
    let mut text = std::fs::read_to_string(&init).unwrap();
    text.push_str("VALUE = 3\n");
    std::fs::write(&init, text).unwrap();
    let plan = env.project.run(&["sync", "--dry-run"]);
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(plan.contains("mine"), "{plan}");
    let out = env.project.run(&["doctor"]);
    assert!(!out.status.success(), "doctor found nothing to do");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        crate::common::stderr(&out)
    );
    assert!(report.contains("built from source"), "{report}");
}

/// A full commit no branch or tag reaches (a pull request's head) is fetched by itself.
#[test]
fn a_git_commit_no_ref_reaches_is_fetched_by_its_id() {
    let repo = tempfile::tempdir().unwrap();
    write_mine(repo.path(), MetadataMode::Pyproject);
    project::git_commit_all(repo.path(), "first");
    project::git(repo.path(), &["checkout", "--quiet", "-b", "pr"]);
    std::fs::write(repo.path().join("NEWS"), "pr\n").unwrap();
    let pr = project::git_commit_all(repo.path(), "pr");
    project::git(repo.path(), &["checkout", "--quiet", "main"]);
    project::git(repo.path(), &["branch", "--quiet", "-D", "pr"]);
    project::git(
        repo.path(),
        &["config", "uploadpack.allowAnySHA1InWant", "true"],
    );
    let requirement = format!("mine @ git+file://{}@{pr}", repo.path().display());
    let env = Env::new(index(), &[requirement.as_str()], "");
    env.ok(&["lock"]);
    assert!(env.project.lockfile_text().unwrap().contains(&pr));
    env.ok(&["sync"]);
    assert_eq!(env.import("import mine._built; print('ok')"), "ok");
}
