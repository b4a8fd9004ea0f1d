//! `sanctuary sync` against wheels that try to take over the environment: another
//! project's dist-info, the venv's own files, other distributions' files, RECORDs listing
//! the venv, and archives read differently by other zip readers; wheel URLs moved to another
//! host; failed fetches and refused installs that must leave nothing behind.

use std::path::Path;

use crate::common::stderr;
use crate::support::TestIndex;
use crate::sync::{
    APP2, app, env, env_with, run_python, scenario, snapshot, synced_then_upgrading,
};

#[test]
fn a_wheel_holding_another_project_is_refused() {
    // The lockfile pins app 2.0.0; the file at its URL (hash and size updated) is lib's
    // wheel. Today it installs lib and sync never settles.
    let env = synced_then_upgrading();
    let lib = env.served("lib-1.0.0-py3-none-any.whl");
    env.serve_crafted(APP2, &lib);
    let before = snapshot(&env.venv());
    let err = env.sync_err(&["--frozen"]);
    assert!(err.contains(APP2), "{err}");
    assert!(err.contains("app==2.0.0"), "{err}");
    assert!(err.contains("lib 1.0.0"), "{err}");
    assert_eq!(snapshot(&env.venv()), before);
}

#[test]
fn a_wheel_cannot_replace_pyvenv_cfg() {
    for (entry, venv_file) in [
        ("app-2.0.0.data/data/pyvenv.cfg", "pyvenv.cfg"),
        ("app-2.0.0.data/scripts/activate", "bin/activate"),
        ("app-2.0.0.data/data/bin/python3", "bin/python3"),
    ] {
        let scenario = scenario().version(
            "app",
            "2.0.0",
            app("2.0.0").file(entry, "home = /somewhere/else\n"),
        );
        let env = env_with(scenario, &["app==1.0.0"]);
        env.sync_ok(&[]);
        env.requirements(&["app==2.0.0"]);
        let before = snapshot(&env.venv());
        let err = env.sync_err(&[]);
        assert!(err.contains(APP2), "{entry}: {err}");
        assert!(err.contains(&format!("`{venv_file}`")), "{entry}: {err}");
        assert_eq!(snapshot(&env.venv()), before, "{entry}");
        assert_eq!(run_python(&env.python(), "print(1)"), "1");
    }
}

#[test]
fn a_wheel_cannot_overwrite_another_distributions_file() {
    let scenario = scenario().version(
        "clash",
        "1.0.0",
        crate::sync::v().file("lib/__init__.py", "hijacked = True\n"),
    );
    let env = env_with(scenario, &["lib"]);
    env.sync_ok(&[]);
    env.requirements(&["lib", "clash"]);
    env.project.lock_ok(&["-q"]);
    let before = snapshot(&env.venv());
    let err = env.sync_err(&["--frozen"]);
    assert!(err.contains("clash"), "{err}");
    assert!(err.contains("lib 1.0.0"), "{err}");
    assert!(err.contains("lib/__init__.py"), "{err}");
    assert_eq!(snapshot(&env.venv()), before);
}

#[test]
fn two_new_wheels_writing_one_file_differently_are_refused() {
    let scenario = scenario()
        .version(
            "twin-a",
            "1.0.0",
            crate::sync::v().file("shared/x.py", "a = 1\n"),
        )
        .version(
            "twin-b",
            "1.0.0",
            crate::sync::v().file("shared/x.py", "b = 1\n"),
        );
    let env = env_with(scenario, &["lib"]);
    env.sync_ok(&[]);
    env.requirements(&["lib", "twin-a", "twin-b"]);
    env.project.lock_ok(&["-q"]);
    let before = snapshot(&env.venv());
    let err = env.sync_err(&["--frozen"]);
    assert!(err.contains("twin_a") || err.contains("twin-a"), "{err}");
    assert!(err.contains("twin_b") || err.contains("twin-b"), "{err}");
    assert!(err.contains("shared/x.py"), "{err}");
    assert_eq!(snapshot(&env.venv()), before);
}

#[test]
fn identical_shared_files_are_allowed_and_kept_while_an_owner_stays() {
    // Namespace packages such as `nvidia/__init__.py`: byte-identical in every wheel.
    let shared = "# namespace\n";
    let scenario = scenario()
        .version(
            "ns-a",
            "1.0.0",
            crate::sync::v().file("nsroot/__init__.py", shared),
        )
        .version(
            "ns-b",
            "1.0.0",
            crate::sync::v().file("nsroot/__init__.py", shared),
        );
    let env = env_with(scenario, &["ns-a"]);
    env.sync_ok(&[]);
    env.requirements(&["ns-a", "ns-b"]);
    env.sync_ok(&[]);
    env.requirements(&["ns-b"]);
    let err = env.sync_ok(&[]);
    assert!(err.contains("- ns-a==1.0.0"), "{err}");
    let site = run_python(
        &env.python(),
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    );
    assert_eq!(
        std::fs::read_to_string(Path::new(&site).join("nsroot/__init__.py")).unwrap(),
        shared,
        "kept for ns-b"
    );
    assert_eq!(
        run_python(&env.python(), "import nsroot, ns_b; print(2)"),
        "2"
    );
}

#[test]
fn a_file_may_pass_to_a_distribution_arriving_as_its_owner_leaves() {
    let scenario = scenario()
        .version(
            "mover-a",
            "1.0.0",
            crate::sync::v().file("moved/x.py", "v = 'a'\n"),
        )
        .version(
            "mover-b",
            "1.0.0",
            crate::sync::v().file("moved/x.py", "v = 'b'\n"),
        );
    let env = env_with(scenario, &["mover-a"]);
    env.sync_ok(&[]);
    env.requirements(&["mover-b"]);
    env.sync_ok(&[]);
    assert_eq!(
        run_python(&env.python(), "import moved.x; print(moved.x.v)"),
        "b"
    );
}

#[test]
fn removing_a_wheel_whose_record_lists_venv_files_keeps_the_venv() {
    let env = env(&["app==1.0.0", "old"]);
    env.sync_ok(&[]);
    let site = run_python(
        &env.python(),
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
    );
    let record = Path::new(&site).join("old-1.0.0.dist-info/RECORD");
    let mut text = std::fs::read_to_string(&record).unwrap();
    for line in [
        "../../../pyvenv.cfg",
        "../../../bin/python",
        "../../../bin/python3",
        "../../../bin/python3.11",
        "../../../bin/activate",
        "../../../lib64",
        "../../../.sanctuary.lock",
    ] {
        text.push_str(&format!("{line},,\n"));
    }
    std::fs::write(&record, text).unwrap();
    env.requirements(&["app==1.0.0"]);
    let err = env.sync_ok(&[]);
    assert!(err.contains("- old==1.0.0"), "{err}");
    for kept in ["pyvenv.cfg", "bin/python", "bin/python3", "bin/activate"] {
        assert!(
            env.venv().join(kept).symlink_metadata().is_ok(),
            "{kept} was removed:\n{err}"
        );
    }
    assert!(env.venv().join("lib64").symlink_metadata().is_ok());
    assert_eq!(run_python(&env.python(), "import app; print(3)"), "3");
    // And the environment still syncs.
    env.requirements(&["app==1.0.0", "old"]);
    env.sync_ok(&[]);
}

#[test]
fn concatenated_zips_are_refused_by_sync() {
    // The locked file is two wheels end to end (the lockfile's hash is of both): the
    // hidden first one must not be what gets installed.
    let env = synced_then_upgrading();
    let served = env.served(APP2);
    let mut bytes = env.served("app-1.0.0-py3-none-any.whl");
    bytes.extend_from_slice(&served);
    env.serve_crafted(APP2, &bytes);
    let before = snapshot(&env.venv());
    let err = env.sync_err(&["--frozen"]);
    assert!(err.contains(APP2), "{err}");
    assert!(err.contains("before the first entry"), "{err}");
    assert_eq!(snapshot(&env.venv()), before);
}

/// Regression: a wheel URL moved to another host, with a matching hash, installed silently;
/// only `diff` noticed. `sync` (plain, `--locked`, `--frozen`) refuses it, naming the URL, and
/// `lock --check` reports the lockfile as inconsistent.
#[test]
fn a_wheel_url_on_another_host_is_refused_by_sync_and_lock_check() {
    let env = synced_then_upgrading();
    // The same bytes, served by another origin (127.0.0.1 on another port).
    let elsewhere = TestIndex::start(scenario());
    let moved = elsewhere.file_url(APP2);
    env.edit_wheel(APP2, |l| {
        l.starts_with("url = ")
            .then(|| format!("url = \"{moved}\""))
    });
    let before = snapshot(&env.venv());
    for args in [&["--locked"][..], &["--frozen"], &[]] {
        let err = env.sync_err(args);
        assert!(
            err.contains(&moved) && err.contains("app 2.0.0") && err.contains("file-origins"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(snapshot(&env.venv()), before);
    assert!(
        elsewhere.requests_to("/files/").is_empty(),
        "nothing was fetched from the other host"
    );
    let out = env.project.run(&["lock", "--check"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("inconsistent") && err.contains(&moved),
        "{err}"
    );

    // A package that records an undeclared index is refused the same way.
    let env = synced_then_upgrading();
    let index = env.index.index_url();
    let text = std::fs::read_to_string(env.lockfile_path()).unwrap();
    std::fs::write(
        env.lockfile_path(),
        text.replace(&index, &elsewhere.index_url()),
    )
    .unwrap();
    let err = env.sync_err(&["--frozen"]);
    assert!(
        err.contains(&format!(
            "its index `{}` is not one the manifest declares",
            elsewhere.index_url()
        )),
        "{err}"
    );
}

/// Regression: a sync whose fetch failed left a new, empty venv behind (and `--offline` with
/// an empty cache did the same); the venv is created only once every wheel is in hand.
#[test]
fn a_failed_fetch_leaves_no_new_venv() {
    let env = env(&["app==1.0.0"]);
    env.project.lock_ok(&["-q"]);
    let err = env.sync_err(&["--offline"]);
    assert!(err.contains("--offline"), "{err}");
    assert!(!env.venv().exists(), "no venv was created");

    // A download that fails (the server answers 404 for the wheel) does the same.
    env.edit_wheel("app-1.0.0-py3-none-any.whl", |l| {
        l.starts_with("url = ")
            .then(|| format!("url = \"{}/files/gone.whl\"", env.index.url()))
    });
    let err = env.sync_err(&["--frozen"]);
    assert!(err.contains("gone.whl"), "{err}");
    assert!(!env.venv().exists(), "no venv was created");
    let leftovers: Vec<_> = std::fs::read_dir(env.project.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("venv"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Regression: an install refused before anything changed left a journal behind (and had
/// already uninstalled the old version). Every install is checked before the journal.
#[test]
fn a_refused_install_leaves_the_environment_and_no_journal() {
    let env = synced_then_upgrading();
    // `.venv/share` (where app's `.data/data` files go) now leads out of the venv.
    let outside = tempfile::tempdir().unwrap();
    let share = env.venv().join("share");
    std::fs::rename(&share, outside.path().join("share")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("share"), &share).unwrap();
    let before = snapshot(&env.venv());
    let err = env.sync_err(&[]);
    assert!(err.contains("symlink leading out of the venv"), "{err}");
    assert_eq!(snapshot(&env.venv()), before, "nothing changed");
    assert!(!env.venv().join(".sanctuary-journal.json").exists());
}
