//! Interpreter discovery against the real `python3` on `PATH` and fake ones in temporary
//! directories, venv creation (the venv is then run), the activation script under bash, and
//! the environment lock across threads.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use super::*;

/// The `python3` first on the real `PATH`, queried; `None` (with a message) when there is
/// none at all, so that the test is skipped.
fn real_python() -> Option<(PathBuf, Interpreter)> {
    let path = path_dirs(std::env::var_os("PATH").as_deref())
        .into_iter()
        .map(|d| d.join("python3"))
        .find(|p| is_executable(p));
    let Some(path) = path else {
        eprintln!("skipping: no python3 on PATH");
        return None;
    };
    let interpreter = Interpreter::query(&path).expect("the python3 on PATH runs");
    Some((path, interpreter))
}

/// An interpreter that is never run: for tests of the files `create` writes.
fn fake_interpreter() -> Interpreter {
    Interpreter {
        executable: PathBuf::from("/nonexistent/bin/python3.11"),
        version: "3.11.7".to_string(),
        implementation: "cpython".to_string(),
        base_prefix: PathBuf::from("/nonexistent"),
        platform: "linux-x86_64".to_string(),
    }
}

use crate::test_util::write_script;

/// What a pyenv shim does for a version that is not installed.
const FAILING_SHIM: &str = "#!/bin/sh\necho \"pyenv: ${0##*/}: command not found\" >&2\nexit 127\n";

fn path_of(dirs: &[&Path]) -> std::ffi::OsString {
    std::env::join_paths(dirs).unwrap()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn minor_of(interpreter: &Interpreter) -> String {
    let (major, minor) = interpreter.major_minor();
    format!("{major}.{minor}")
}

#[test]
fn query_reports_the_real_interpreter() {
    let Some((path, python)) = real_python() else {
        return;
    };
    assert!(python.version.starts_with("3."), "{python:?}");
    assert!(release(&python.version).len() >= 3, "{python:?}");
    assert_eq!(python.implementation, "cpython");
    assert!(!python.platform.is_empty());
    assert!(python.base_prefix.is_dir(), "{python:?}");
    // The resolved binary, not the shim or symlink found on PATH.
    assert!(python.executable.is_absolute());
    assert_eq!(
        std::fs::canonicalize(&python.executable).unwrap(),
        python.executable
    );
    assert!(python.matches(&minor_of(&python)));
    assert!(python.matches(&python.version));
    // The executable reports itself the same way.
    let again = Interpreter::query(&python.executable).unwrap();
    assert_eq!(again, python, "queried through {}", path.display());
}

#[test]
fn an_interpreter_that_hangs_is_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let hangs = tmp.path().join("python3.11");
    // `exec`: the process killed is the one holding the pipes.
    write_script(&hangs, "#!/bin/sh\nexec sleep 60\n");
    let started = std::time::Instant::now();
    let err = Interpreter::query_within(&hangs, Duration::from_millis(300)).unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, VenvError::QueryTimeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the Python interpreter {} did not answer within 0.3 s; it was stopped",
            hangs.display()
        )
    );
    assert!(elapsed < Duration::from_secs(30), "waited {elapsed:?}");
    // One that answers in time is read in full.
    let err = Interpreter::query_within(
        &{
            let fails = tmp.path().join("python3.12");
            write_script(&fails, FAILING_SHIM);
            fails
        },
        Duration::from_secs(30),
    )
    .unwrap_err();
    assert!(err.to_string().contains("command not found"), "{err}");
}

#[test]
fn query_errors_name_the_path_and_show_stderr() {
    let tmp = tempfile::tempdir().unwrap();
    let shim = tmp.path().join("python3.12");
    write_script(&shim, FAILING_SHIM);
    let err = Interpreter::query(&shim).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, VenvError::QueryFailed { .. }), "{err:?}");
    assert!(message.contains(&shim.display().to_string()), "{message}");
    assert!(message.contains("127"), "{message}");
    assert!(
        message.contains("pyenv: python3.12: command not found"),
        "{message}"
    );

    let missing = tmp.path().join("python9.9");
    let err = Interpreter::query(&missing).unwrap_err();
    assert!(matches!(err, VenvError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains(&missing.display().to_string()));

    let liar = tmp.path().join("python-liar");
    write_script(&liar, "#!/bin/sh\necho 'Python 3.11.7'\n");
    let err = Interpreter::query(&liar).unwrap_err();
    assert!(matches!(err, VenvError::QueryOutput { .. }), "{err:?}");
    assert!(err.to_string().contains("python-liar"), "{err}");
}

#[test]
fn matches_minor_or_exact_versions() {
    let python = fake_interpreter();
    assert!(python.matches("3.11"));
    assert!(python.matches("3.11.7"));
    assert!(!python.matches("3.12"));
    assert!(!python.matches("3.11.8"));
    assert!(!python.matches("3.1"));
    assert!(!python.matches("3"));
    assert!(!python.matches("three"));
    assert!(!python.matches("3.11.7.1"));
    assert!(python_matches("3.13.0rc1", "3.13"));
    assert!(!python_matches("3.13.0rc1", "3.13.0"));
    assert!(!python_matches("3.110.0", "3.11"));
    assert_eq!(python.major_minor(), (3, 11));
}

#[test]
fn find_skips_candidates_that_fail_or_do_not_match() {
    let Some((_, python)) = real_python() else {
        return;
    };
    let requested = minor_of(&python);
    let tmp = tempfile::tempdir().unwrap();
    let shims = tmp.path().join("shims");
    let real = tmp.path().join("real");
    std::fs::create_dir_all(&shims).unwrap();
    std::fs::create_dir_all(&real).unwrap();
    // A shim of the very version asked for, broken, first on PATH; and one of another.
    write_script(&shims.join(format!("python{requested}")), FAILING_SHIM);
    write_script(&shims.join("python3.12"), FAILING_SHIM);
    std::os::unix::fs::symlink(&python.executable, real.join("python3")).unwrap();
    let path = path_of(&[&shims, &real]);

    let found = find_interpreter_in(&requested, None, Some(&path)).unwrap();
    assert_eq!(found.executable, python.executable);
    assert_eq!(found.version, python.version);
    let found = find_interpreter_in(&python.version, None, Some(&path)).unwrap();
    assert_eq!(found.executable, python.executable);
}

/// A range of minors (newest first): the newest `python3.X` that runs wins over an older one
/// and over `python3`; `--python` must be one of them, and the messages name them all.
#[test]
fn any_of_several_minors_prefers_the_newest_that_runs() {
    let Some((_, python)) = real_python() else {
        return;
    };
    let (major, minor) = python.major_minor();
    let own = format!("{major}.{minor}");
    let newer = format!("{major}.{}", minor + 1);
    let older = format!("{major}.{}", minor.saturating_sub(1));
    let tmp = tempfile::tempdir().unwrap();
    let shims = tmp.path().join("shims");
    let real = tmp.path().join("real");
    std::fs::create_dir_all(&shims).unwrap();
    std::fs::create_dir_all(&real).unwrap();
    // The newer minor is only a failing shim; the own minor is real; python3 is found last.
    write_script(&shims.join(format!("python{newer}")), FAILING_SHIM);
    std::os::unix::fs::symlink(&python.executable, real.join(format!("python{own}"))).unwrap();
    let path = path_of(&[&shims, &real]);

    let requested = vec![newer.clone(), own.clone(), older.clone()];
    let found = find_any_in(&requested, None, Some(&path)).unwrap();
    assert_eq!(found.version, python.version);

    let err = find_any_in(std::slice::from_ref(&newer), None, Some(&path)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("no Python {newer} found on PATH")),
        "{err}"
    );

    let other = vec![newer.clone(), older.clone()];
    let err = find_any_in(&other, Some(&python.executable), Some(&path)).unwrap_err();
    assert!(matches!(err, VenvError::Mismatch { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("asks for Python {newer} or {older}")),
        "{err}"
    );
}

#[test]
fn no_match_lists_every_candidate() {
    let Some((_, python)) = real_python() else {
        return;
    };
    let (major, minor) = python.major_minor();
    let requested = format!("{major}.{}", minor + 50);
    let tmp = tempfile::tempdir().unwrap();
    let shims = tmp.path().join("shims");
    let real = tmp.path().join("real");
    std::fs::create_dir_all(&shims).unwrap();
    std::fs::create_dir_all(&real).unwrap();
    let shim = shims.join(format!("python{requested}"));
    write_script(&shim, FAILING_SHIM);
    std::os::unix::fs::symlink(&python.executable, real.join("python3")).unwrap();
    // The same file under a second name is queried once.
    std::os::unix::fs::symlink(&python.executable, real.join("python")).unwrap();
    let path = path_of(&[&shims, &real]);

    let err = find_interpreter_in(&requested, None, Some(&path)).unwrap_err();
    let VenvError::NotFound { tried, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert_eq!(tried[0].path, shim);
    assert!(
        matches!(&tried[0].outcome, CandidateOutcome::Failed(why)
            if why.contains("127") && why.contains("command not found")),
        "{tried:?}"
    );
    assert_eq!(tried[1].path, real.join("python3"));
    assert_eq!(
        tried[1].outcome,
        CandidateOutcome::Version(python.version.clone())
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("no Python {requested} found on PATH")),
        "{message}"
    );
    assert!(message.contains(&shim.display().to_string()), "{message}");
    assert!(
        message.contains(&format!(
            "{}: Python {}",
            real.join("python3").display(),
            python.version
        )),
        "{message}"
    );
    assert!(err.hint().unwrap().contains("--python"));

    // Nothing on PATH at all.
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = find_interpreter_in("3.11", None, Some(&path_of(&[&empty]))).unwrap_err();
    assert!(err.to_string().contains("no Python 3.11 found"), "{err}");

    assert!(matches!(
        find_interpreter_in("3", None, Some(&path)),
        Err(VenvError::BadVersion(_))
    ));
}

#[test]
fn explicit_interpreter_by_path_or_name() {
    let Some((_, python)) = real_python() else {
        return;
    };
    let requested = minor_of(&python);
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("real");
    std::fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(&python.executable, real.join("my-python")).unwrap();
    let path = path_of(&[&real]);

    let by_path = find_interpreter_in(&requested, Some(&python.executable), Some(&path)).unwrap();
    assert_eq!(by_path.executable, python.executable);
    let by_name =
        find_interpreter_in(&requested, Some(Path::new("my-python")), Some(&path)).unwrap();
    assert_eq!(by_name.executable, python.executable);

    let err = find_interpreter_in("2.7", Some(Path::new("my-python")), Some(&path)).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, VenvError::Mismatch { .. }), "{err:?}");
    assert!(message.contains(&python.version), "{message}");
    assert!(message.contains("Python 2.7"), "{message}");
    assert!(message.contains("my-python"), "{message}");
    assert!(err.hint().unwrap().contains("--python"));

    let err =
        find_interpreter_in(&requested, Some(Path::new("nope-python")), Some(&path)).unwrap_err();
    assert!(matches!(err, VenvError::NotOnPath { .. }), "{err:?}");
    assert!(err.to_string().contains("nope-python"));

    let shim = real.join("python3.12");
    write_script(&shim, FAILING_SHIM);
    let err = find_interpreter_in("3.12", Some(&shim), Some(&path)).unwrap_err();
    assert!(matches!(err, VenvError::QueryFailed { .. }), "{err:?}");
    assert!(err.to_string().contains("command not found"), "{err}");
}

#[test]
fn created_venv_runs_and_has_no_pip() {
    let Some((_, python)) = real_python() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("proj-venv");
    let venv = create(&root, &python, "proj").unwrap();
    assert_eq!(venv, Venv::from_root(&root).unwrap());
    let (major, minor) = python.major_minor();
    assert_eq!(
        venv.site_packages,
        root.join(format!("lib/python{major}.{minor}/site-packages"))
    );
    assert_eq!(
        std::fs::read_link(root.join("bin/python")).unwrap(),
        python.executable
    );
    for name in [format!("python{major}"), format!("python{major}.{minor}")] {
        assert_eq!(
            std::fs::read_link(root.join("bin").join(name)).unwrap(),
            Path::new("python")
        );
    }
    if cfg!(target_os = "linux") {
        assert_eq!(
            std::fs::read_link(root.join("lib64")).unwrap(),
            Path::new("lib")
        );
    }
    let cfg = std::fs::read_to_string(root.join("pyvenv.cfg")).unwrap();
    let home = python.executable.parent().unwrap().display().to_string();
    assert!(cfg.contains(&format!("home = {home}\n")), "{cfg}");
    assert!(
        cfg.contains("include-system-site-packages = false\n"),
        "{cfg}"
    );
    assert!(
        cfg.contains(&format!("version = {}\n", python.version)),
        "{cfg}"
    );
    assert!(cfg.contains("command = sanctuary"), "{cfg}");
    assert!(cfg.contains("prompt = proj\n"), "{cfg}");
    assert_eq!(
        venv_python_version(&root).unwrap(),
        Some(python.version.clone())
    );
    // Built beside it and renamed: nothing else is left in the parent.
    assert_eq!(names_in(tmp.path()), ["proj-venv"]);

    let run = |args: &[&str]| {
        Command::new(&venv.python)
            .args(args)
            .env_remove("PYTHONHOME")
            .env_remove("PYTHONPATH")
            .output()
            .unwrap()
    };
    let out = run(&[
        "-c",
        "import site, sys\nprint(sys.prefix != sys.base_prefix)\nprint(sys.prefix)\n\
         print('\\n'.join(site.getsitepackages()))",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "True", "{stdout}");
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap();
    assert_eq!(canonical(Path::new(lines[1])), canonical(&root), "{stdout}");
    assert!(
        lines[2..]
            .iter()
            .filter(|l| Path::new(l).exists())
            .any(|l| canonical(Path::new(l)) == canonical(&venv.site_packages)),
        "{stdout}"
    );

    let pip = run(&["-m", "pip", "--version"]);
    assert!(!pip.status.success(), "pip runs in the new venv");
    assert!(
        String::from_utf8_lossy(&pip.stderr).contains("No module named pip"),
        "{}",
        String::from_utf8_lossy(&pip.stderr)
    );
}

#[test]
fn creating_twice_returns_the_existing_venv() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("venv");
    let first = create(&root, &fake_interpreter(), "demo").unwrap();
    let marker = first.site_packages.join("marker.txt");
    std::fs::write(&marker, "kept").unwrap();
    let cfg = std::fs::read_to_string(root.join("pyvenv.cfg")).unwrap();

    let mut other = fake_interpreter();
    other.version = "3.12.1".to_string();
    let second = create(&root, &other, "other").unwrap();
    assert_eq!(second, first);
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "kept");
    assert_eq!(
        std::fs::read_to_string(root.join("pyvenv.cfg")).unwrap(),
        cfg
    );
    assert_eq!(
        venv_python_version(&root).unwrap().as_deref(),
        Some("3.11.7")
    );
    assert_eq!(names_in(tmp.path()), ["venv"]);
}

#[test]
fn an_empty_directory_becomes_the_venv() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("venv");
    std::fs::create_dir(&root).unwrap();
    let venv = create(&root, &fake_interpreter(), "demo").unwrap();
    assert!(venv.site_packages.is_dir());
    assert!(root.join("pyvenv.cfg").is_file());
    // Missing parents are made.
    let nested = tmp.path().join("a/b/venv");
    create(&nested, &fake_interpreter(), "demo").unwrap();
    assert!(nested.join("pyvenv.cfg").is_file());
}

#[test]
fn refuses_a_directory_that_is_not_a_venv() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("project");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("notes.txt"), "mine").unwrap();

    let err = create(&root, &fake_interpreter(), "demo").unwrap_err();
    assert!(matches!(err, VenvError::NotAVenv { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&root.display().to_string()), "{message}");
    assert!(message.contains("not a virtual environment"), "{message}");
    assert_eq!(names_in(&root), ["notes.txt"]);
    assert_eq!(
        std::fs::read_to_string(root.join("notes.txt")).unwrap(),
        "mine"
    );
    assert_eq!(names_in(tmp.path()), ["project"]);

    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = create(&file, &fake_interpreter(), "demo").unwrap_err();
    assert!(matches!(err, VenvError::NotAVenv { .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");

    assert!(venv_python_version(&root).is_err());
}

#[test]
fn refuses_other_implementations() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pypy = fake_interpreter();
    pypy.implementation = "pypy".to_string();
    let err = create(&tmp.path().join("venv"), &pypy, "demo").unwrap_err();
    assert!(matches!(err, VenvError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains("pypy"));
    assert!(names_in(tmp.path()).is_empty());
}

#[test]
fn racing_creators_end_with_one_venv() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("venv");
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let root = root.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                create(&root, &fake_interpreter(), &format!("racer{i}")).unwrap()
            })
        })
        .collect();
    let venvs: Vec<Venv> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(venvs.iter().all(|v| *v == venvs[0]));
    assert_eq!(names_in(tmp.path()), ["venv"]);
    assert!(venvs[0].site_packages.is_dir());
}

#[test]
fn activate_and_deactivate_in_bash() {
    let tmp = tempfile::tempdir().unwrap();
    // Quoting: a space and a single quote in the path.
    let root = tmp.path().join("it's a venv");
    let venv = create(&root, &fake_interpreter(), "demo $(oops)").unwrap();
    write_script(
        &venv.bin.join("sanctuary-test-tool"),
        "#!/bin/sh\necho hi\n",
    );
    let script = r#"
PS1='$ '
old_path="$PATH"
source "$1/bin/activate" || exit 1
echo "$VIRTUAL_ENV"
command -v sanctuary-test-tool
echo "$PS1"
deactivate
[ "$PATH" = "$old_path" ] && echo path-restored
[ "$PS1" = '$ ' ] && echo prompt-restored
[ -z "${VIRTUAL_ENV+set}" ] && echo unset
declare -F deactivate >/dev/null || echo deactivate-gone
"#;
    let out = Command::new("bash")
        .arg("-c")
        .arg(script)
        .arg("bash")
        .arg(&venv.root)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    let root_text = venv.root.display().to_string();
    assert_eq!(
        lines,
        [
            root_text.as_str(),
            &format!("{root_text}/bin/sanctuary-test-tool"),
            "(demo _(oops)) $ ",
            "path-restored",
            "prompt-restored",
            "unset",
            "deactivate-gone",
        ],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fish = std::fs::read_to_string(venv.bin.join("activate.fish")).unwrap();
    assert!(
        fish.contains(r"set -gx VIRTUAL_ENV '/") && fish.contains(r"it\'s a venv'"),
        "{fish}"
    );
}

#[test]
fn prompts_are_made_safe_for_shells() {
    assert_eq!(sanitize_prompt("my-proj", Path::new("/x/venv")), "my-proj");
    assert_eq!(
        sanitize_prompt("a$b`c\\d%e!f'g\"h\ni", Path::new("/x/venv")),
        "a_b_c_d_e_f_g_h_i"
    );
    assert_eq!(sanitize_prompt("  ", Path::new("/x/.venv")), ".venv");
    assert_eq!(sh_quote("it's"), r"'it'\''s'");
    assert_eq!(fish_quote(r"it's \"), r"'it\'s \\'");
}

#[test]
fn the_lock_waits_for_its_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let first = EnvironmentLock::acquire(&root, || panic!("nobody holds the lock yet")).unwrap();
    assert_eq!(first.path(), root.join(LOCK_FILE));

    let released = Arc::new(AtomicBool::new(false));
    let (waiting_tx, waiting_rx) = mpsc::channel();
    let second = {
        let root = root.clone();
        let released = released.clone();
        std::thread::spawn(move || {
            let lock = EnvironmentLock::acquire(&root, || waiting_tx.send(()).unwrap()).unwrap();
            // Read while holding the lock: the first holder set it before letting go.
            let after_release = released.load(Ordering::SeqCst);
            drop(lock);
            after_release
        })
    };
    waiting_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the second acquire calls on_wait");
    // Let the thread reach the blocking `lock()` (not an assertion: were the lock not
    // exclusive, the thread would have read `false` already).
    std::thread::sleep(Duration::from_millis(100));
    released.store(true, Ordering::SeqCst);
    drop(first);
    assert!(
        second.join().unwrap(),
        "the second holder got the lock before the first let go"
    );

    // Free again, and the lock file stays.
    let third = EnvironmentLock::acquire(&root, || panic!("the lock was released")).unwrap();
    drop(third);
    assert!(root.join(LOCK_FILE).is_file());

    let err = EnvironmentLock::acquire(&root.join("missing"), || {}).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

/// `--python 3.11` names a version, as uv takes it: the `python3.11` on PATH (it used to be
/// looked for as an executable named `3.11`).
#[test]
fn an_explicit_python_may_be_a_version() {
    let Some((_, python)) = real_python() else {
        return;
    };
    let (major, minor) = python.major_minor();
    let own = format!("{major}.{minor}");
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&python.executable, tmp.path().join(format!("python{own}")))
        .unwrap();
    let path = path_of(&[tmp.path()]);
    let found = find_any_in(
        std::slice::from_ref(&own),
        Some(Path::new(&own)),
        Some(&path),
    )
    .unwrap();
    assert_eq!(found.version, python.version);
    let missing = format!("{major}.{}", minor + 1);
    let err = find_any_in(
        std::slice::from_ref(&own),
        Some(Path::new(&missing)),
        Some(&path),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(&format!("python{missing}")),
        "{err}"
    );
}
