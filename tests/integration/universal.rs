//! Universal lockfiles (`[project] platforms` x a `python` range): forks on the Python version
//! and on `sys_platform` with their markers and the line that explains them, a platform that
//! keeps an older version for want of wheels, a platform nothing serves (an error, nothing
//! written), Foundation keys over the platforms their builds run on, determinism and minimal
//! churn when platforms are added or new versions published.

use std::path::Path;

use sanctuary::pylock::{LockedPackage, Lockfile};

use crate::common::{Project, stderr};
use crate::support::{Scenario, TestIndex, VersionSpec};

fn v() -> VersionSpec {
    VersionSpec::new()
}

/// A manifest locking `requirements` from `index_url` over `platforms` and `python`.
fn manifest(index_url: &str, python: &str, platforms: &[&str], requirements: &[&str]) -> String {
    let quoted = |items: &[&str]| {
        items
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[project]\nname = \"t\"\npython = \"{python}\"\nplatforms = [{}]\n\n\
         [[index]]\nname = \"test\"\nurl = \"{index_url}\"\n\n\
         [application]\nrequirements = [{}]\n",
        quoted(platforms),
        quoted(requirements)
    )
}

fn project(index: &TestIndex, python: &str, platforms: &[&str], requirements: &[&str]) -> Project {
    let p = Project::new();
    p.write_manifest(&manifest(
        &index.index_url(),
        python,
        platforms,
        requirements,
    ));
    p
}

/// `(version, marker)` of every entry of `name`, in lockfile order.
fn entries(lock: &Lockfile, name: &str) -> Vec<(String, Option<String>)> {
    lock.packages
        .iter()
        .filter(|p| p.name.as_ref() == name)
        .map(|p| (p.version.to_string(), p.marker.clone()))
        .collect()
}

fn entry<'a>(lock: &'a Lockfile, name: &str, version: &str) -> &'a LockedPackage {
    lock.packages
        .iter()
        .find(|p| p.name.as_ref() == name && p.version.to_string() == version)
        .unwrap_or_else(|| panic!("{name} {version} not locked: {:?}", entries(lock, name)))
}

fn wheel_names(package: &LockedPackage) -> Vec<&str> {
    package.wheels.iter().map(|w| w.name.as_str()).collect()
}

/// The lockfile text with what changes from run to run (the server's port, and with it the
/// inputs hash) replaced.
fn stable_text(text: &str, index: &TestIndex) -> String {
    text.replace(index.url(), "http://[index]")
        .lines()
        .map(|l| {
            if l.starts_with("inputs-hash = ") {
                "inputs-hash = \"[hash]\"\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// The status lines that explain forks, as `lock` prints them.
fn fork_lines(err: &str) -> Vec<&str> {
    err.lines()
        .skip_while(|l| !l.starts_with("Locked in more than one version"))
        .take_while(|l| l.starts_with("Locked in more than one version") || l.starts_with("  "))
        .collect()
}

/// numpy's newest release needs Python 3.12; the one before serves 3.10 and up.
fn numpy_index(extra: &[(&str, &str)]) -> TestIndex {
    let mut scenario = Scenario::new("numpy")
        .version("numpy", "2.4.6", v().requires_python(">=3.10"))
        .version("numpy", "2.5.5", v().requires_python(">=3.12"));
    for (version, python) in extra {
        scenario = scenario.version("numpy", version, v().requires_python(python));
    }
    TestIndex::start(scenario)
}

#[test]
fn a_python_range_forks_a_package_whose_newest_needs_a_newer_python() {
    let index = numpy_index(&[]);
    let p = project(&index, ">=3.10,<3.14", &["linux-x86_64"], &["numpy"]);
    let out = p.lock_ok(&[]);
    let lock = p.lockfile();
    assert_eq!(
        entries(&lock, "numpy"),
        [
            (
                "2.4.6".to_string(),
                Some("python_version < '3.12'".to_string())
            ),
            (
                "2.5.5".to_string(),
                Some("python_version >= '3.12'".to_string())
            ),
        ]
    );
    assert_eq!(lock.requires_python, ">=3.10, <3.14");
    assert_eq!(lock.environments.len(), 4, "{:?}", lock.environments);
    let err = stderr(&out);
    assert_eq!(
        fork_lines(&err),
        [
            "Locked in more than one version across the environments of the application layer:",
            "  numpy: 2.4.6 for python < 3.12, 2.5.5 otherwise: numpy 2.5.5 requires python >=3.12",
        ],
        "{err}"
    );
    insta::assert_snapshot!(stable_text(&p.lockfile_text().unwrap(), &index));
}

#[test]
fn root_markers_fork_a_package_by_sys_platform() {
    let index = TestIndex::start(Scenario::new("fork").versions("a", &["1.0.0", "2.0.0"]));
    let p = project(
        &index,
        "3.12",
        &["linux-x86_64", "macos-arm64"],
        &[
            "a>=2 ; sys_platform == 'linux'",
            "a<2 ; sys_platform == 'darwin'",
        ],
    );
    let out = p.lock_ok(&[]);
    let lock = p.lockfile();
    assert_eq!(
        entries(&lock, "a"),
        [
            (
                "1.0.0".to_string(),
                Some("sys_platform == 'darwin'".to_string())
            ),
            (
                "2.0.0".to_string(),
                Some("sys_platform == 'linux'".to_string())
            ),
        ]
    );
    let err = stderr(&out);
    let lines = fork_lines(&err);
    assert_eq!(lines.len(), 2, "{err}");
    // Why macOS cannot take 2.0.0: the manifest's requirement for macOS, named with its line.
    assert_eq!(
        lines[1],
        "  a: 1.0.0 for macos-arm64, 2.0.0 otherwise: application requirement (sanctuary.toml:11) `a<2 ; sys_platform == 'darwin'` excludes a 2.0.0 there",
        "{err}"
    );
    assert!(!lines[1].contains("no resolution for"), "{err}");
    insta::assert_snapshot!(stable_text(&p.lockfile_text().unwrap(), &index));
}

#[test]
fn a_platform_whose_wheels_stop_at_an_older_version_keeps_it() {
    let everywhere = [
        "cp312-cp312-manylinux_2_17_x86_64",
        "cp312-cp312-macosx_11_0_arm64",
        "cp312-cp312-win_amd64",
    ];
    let index = TestIndex::start(
        Scenario::new("fast")
            .version("fast", "1.0.0", v().tags(everywhere).sdist(false))
            .version("fast", "2.0.0", v().tags(&everywhere[..2]).sdist(false)),
    );
    let p = project(
        &index,
        "3.12",
        &["linux-x86_64", "macos-arm64", "windows-x86_64"],
        &["fast"],
    );
    let out = p.lock_ok(&[]);
    let lock = p.lockfile();
    assert_eq!(
        entries(&lock, "fast"),
        [
            (
                "1.0.0".to_string(),
                Some("sys_platform == 'win32'".to_string())
            ),
            (
                "2.0.0".to_string(),
                Some("sys_platform == 'linux' or sys_platform == 'darwin'".to_string())
            ),
        ]
    );
    // Each entry lists the wheels of its own environments only.
    assert_eq!(
        wheel_names(entry(&lock, "fast", "1.0.0")),
        ["fast-1.0.0-cp312-cp312-win_amd64.whl"]
    );
    let mut newest = wheel_names(entry(&lock, "fast", "2.0.0"));
    newest.sort();
    assert_eq!(
        newest,
        [
            "fast-2.0.0-cp312-cp312-macosx_11_0_arm64.whl",
            "fast-2.0.0-cp312-cp312-manylinux_2_17_x86_64.whl",
        ]
    );
    let err = stderr(&out);
    assert_eq!(
        fork_lines(&err).get(1).copied(),
        Some(
            "  fast: 1.0.0 for windows-x86_64, 2.0.0 otherwise: fast 2.0.0 has no wheel for windows-x86_64 with Python 3.12"
        ),
        "{err}"
    );
}

#[test]
fn a_platform_nothing_serves_fails_naming_it_and_writes_nothing() {
    let index = TestIndex::start(
        Scenario::new("linux-only")
            .version(
                "linuxonly",
                "1.0.0",
                v().tags(["cp312-cp312-manylinux_2_17_x86_64"]).sdist(false),
            )
            .versions("plain", &["1.0.0"]),
    );
    // Locked for Linux alone first: that lockfile must survive the failed lock untouched.
    let p = project(&index, "3.12", &["linux-x86_64"], &["linuxonly", "plain"]);
    p.lock_ok(&["-q"]);
    let before = std::fs::read(p.lockfile_path()).unwrap();
    p.write_manifest(&manifest(
        &index.index_url(),
        "3.12",
        &["linux-x86_64", "macos-arm64"],
        &["linuxonly", "plain"],
    ));
    let out = p.run(&["lock"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out).replace(index.url(), "http://[index]");
    assert!(err.contains("macos-arm64"), "{err}");
    assert!(err.contains("linuxonly"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert_eq!(std::fs::read(p.lockfile_path()).unwrap(), before);
    insta::assert_snapshot!(err);

    // And with no lockfile before, none is written.
    let fresh = project(
        &index,
        "3.12",
        &["linux-x86_64", "macos-arm64"],
        &["linuxonly"],
    );
    let out = fresh.run(&["lock"]);
    assert!(!out.status.success());
    assert!(!fresh.path().join("lockfiles").exists() || fresh.lockfile_text().is_none());
}

#[test]
fn a_universal_lock_is_byte_identical_on_relock_and_check_is_clean() {
    let index = TestIndex::start(
        Scenario::new("numpy-and-a")
            .version("numpy", "2.4.6", v().requires_python(">=3.10"))
            .version("numpy", "2.5.5", v().requires_python(">=3.12"))
            .versions("a", &["1.0.0", "2.0.0"]),
    );
    let p = project(
        &index,
        ">=3.10,<3.14",
        &["linux-x86_64", "macos-arm64", "windows-x86_64"],
        &[
            "numpy",
            "a>=2 ; sys_platform == 'linux'",
            "a<2 ; sys_platform != 'linux'",
        ],
    );
    p.lock_ok(&["-q"]);
    let first = p.lockfile_text().unwrap();
    assert_eq!(entries(&p.lockfile(), "a").len(), 2, "{first}");
    assert_eq!(entries(&p.lockfile(), "numpy").len(), 2, "{first}");
    let out = p.lock_ok(&[]);
    assert_eq!(p.lockfile_text().unwrap(), first);
    assert!(stderr(&out).contains("is up to date"), "{}", stderr(&out));
    let check = p.run(&["lock", "--check"]);
    assert!(check.status.success(), "{}", stderr(&check));
    // A cold cache gives the same bytes.
    std::fs::remove_dir_all(&p.cache).unwrap();
    p.lock_ok(&["-q"]);
    assert_eq!(p.lockfile_text().unwrap(), first);
}

#[test]
fn adding_a_platform_keeps_the_locked_version_until_upgraded() {
    let old = TestIndex::start(Scenario::new("dep-1.0").versions("dep", &["1.0.0"]));
    let p = project(&old, "3.12", &["linux-x86_64"], &["dep"]);
    p.lock_ok(&["-q"]);
    assert_eq!(entries(&p.lockfile(), "dep"), [("1.0.0".to_string(), None)]);

    // 1.1 is published, and macOS joins the platforms.
    let new = TestIndex::start(Scenario::new("dep-1.1").versions("dep", &["1.0.0", "1.1.0"]));
    p.write_manifest(&manifest(
        &new.index_url(),
        "3.12",
        &["linux-x86_64", "macos-arm64"],
        &["dep"],
    ));
    p.lock_ok(&["-q"]);
    let lock = p.lockfile();
    assert_eq!(lock.environments.len(), 2);
    assert_eq!(
        entries(&lock, "dep"),
        [("1.0.0".to_string(), None)],
        "the pin is kept for both platforms"
    );
    p.lock_ok(&["-q", "--upgrade"]);
    assert_eq!(entries(&p.lockfile(), "dep"), [("1.1.0".to_string(), None)]);
}

#[test]
fn each_version_of_a_forked_package_keeps_its_pin_until_upgraded() {
    let index = numpy_index(&[]);
    let p = project(&index, ">=3.10,<3.14", &["linux-x86_64"], &["numpy"]);
    p.lock_ok(&["-q"]);
    let first = entries(&p.lockfile(), "numpy");
    assert_eq!(first.len(), 2);

    // A newer release appears on each side of the fork.
    let newer = numpy_index(&[("2.4.7", ">=3.10"), ("2.5.6", ">=3.12")]);
    p.write_manifest(&manifest(
        &newer.index_url(),
        ">=3.10,<3.14",
        &["linux-x86_64"],
        &["numpy"],
    ));
    p.lock_ok(&["-q"]);
    assert_eq!(
        entries(&p.lockfile(), "numpy"),
        first,
        "no upgrade asked for"
    );
    p.lock_ok(&["-q", "--upgrade-package", "numpy"]);
    assert_eq!(
        entries(&p.lockfile(), "numpy"),
        [
            (
                "2.4.7".to_string(),
                Some("python_version < '3.12'".to_string())
            ),
            (
                "2.5.6".to_string(),
                Some("python_version >= '3.12'".to_string())
            ),
        ]
    );
}

/// A keyed index on disk: `<root>/<key>/<project>/<files>` (a `file://` simple index).
fn write_tree(root: &Path, key: &str, scenario: Scenario) {
    let index = TestIndex::start(scenario);
    for file in index.files() {
        let dir = root.join(key).join(&file.project);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&file.dist.filename), &file.dist.bytes).unwrap();
    }
}

/// A project with a `pytorch` keyed index (cu130 builds for Linux and Windows x86_64, cpu
/// builds for Linux x86_64 and macOS arm64) and a PyPI stand-in.
struct Keyed {
    project: Project,
    _pypi: TestIndex,
    _trees: tempfile::TempDir,
}

fn keyed(keys: &[&str], platforms: &[&str]) -> Keyed {
    let cuda = "platform_system == 'Linux' and platform_machine == 'x86_64'";
    let trees = tempfile::tempdir().unwrap();
    write_tree(
        trees.path(),
        "cu130",
        Scenario::new("cu130").version(
            "torch",
            "2.9.0+cu130",
            v().requires([
                format!("nvidia-cublas==13.0.0.19 ; {cuda}"),
                "filelock".to_string(),
            ])
            .tags(["cp312-cp312-manylinux_2_28_x86_64", "cp312-cp312-win_amd64"])
            .sdist(false),
        ),
    );
    write_tree(
        trees.path(),
        "cpu",
        Scenario::new("cpu").version(
            "torch",
            "2.9.0+cpu",
            v().requires(["filelock"])
                .tags([
                    "cp312-cp312-manylinux_2_28_x86_64",
                    "cp312-none-macosx_11_0_arm64",
                ])
                .sdist(false),
        ),
    );
    let pypi = TestIndex::start(
        Scenario::new("pypi")
            .versions("nvidia-cublas", &["13.0.0.19"])
            .versions("filelock", &["3.20.0"])
            .version("peft", "0.13.0", v().requires(["torch>=2.4", "filelock"])),
    );
    let mut project = Project::new();
    project.env("SANCTUARY_INDEX_PYPI", &pypi.index_url());
    project.env(
        "SANCTUARY_INDEX_PYTORCH",
        &format!(
            "{}{{key}}",
            url::Url::from_directory_path(trees.path()).unwrap()
        ),
    );
    let list = |items: &[&str]| {
        items
            .iter()
            .map(|r| format!("\"{r}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    project.write_manifest(&format!(
        "[project]\nname = \"keyed\"\npython = \"3.12\"\nplatforms = [{}]\n\n\
         [[index]]\nname = \"pypi\"\nurl = \"https://pypi.org/simple\"\n\n\
         [[index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/{{key}}\"\nexplicit = true\n\n\
         [foundation]\nkeys = [{}]\nindex = \"pytorch\"\nrequirements = [\"torch==2.9.*\"]\n\n\
         [application]\nrequirements = [\"peft\"]\n",
        list(platforms),
        list(keys)
    ));
    Keyed {
        project,
        _pypi: pypi,
        _trees: trees,
    }
}

fn lockfile(project: &Project, name: &str) -> Lockfile {
    let text = std::fs::read_to_string(project.path().join("lockfiles").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    Lockfile::parse(&text).unwrap()
}

const LINUX_312: &str =
    "python_version == '3.12' and sys_platform == 'linux' and platform_machine == 'x86_64'";
const MACOS_312: &str =
    "python_version == '3.12' and sys_platform == 'darwin' and platform_machine == 'arm64'";

#[test]
fn a_cuda_key_locks_its_foundation_for_the_platforms_its_builds_run_on() {
    let k = keyed(&["cu130", "cpu"], &["linux-x86_64", "macos-arm64"]);
    let p = &k.project;
    p.lock_ok(&["-q"]);
    let cu130 = lockfile(p, "pylock.foundation-cu130.toml");
    assert_eq!(cu130.environments, [LINUX_312]);
    assert_eq!(
        entries(&cu130, "torch"),
        [("2.9.0+cu130".to_string(), None)]
    );
    assert_eq!(
        wheel_names(entry(&cu130, "torch", "2.9.0+cu130")),
        ["torch-2.9.0+cu130-cp312-cp312-manylinux_2_28_x86_64.whl"],
        "no Windows wheel: Windows is not declared"
    );
    assert!(!entries(&cu130, "nvidia-cublas").is_empty());
    let cpu = lockfile(p, "pylock.foundation-cpu.toml");
    assert_eq!(cpu.environments, [LINUX_312, MACOS_312]);
    let mut wheels = wheel_names(entry(&cpu, "torch", "2.9.0+cpu"));
    wheels.sort();
    assert_eq!(
        wheels,
        [
            "torch-2.9.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl",
            "torch-2.9.0+cpu-cp312-none-macosx_11_0_arm64.whl",
        ]
    );
    assert!(entries(&cpu, "nvidia-cublas").is_empty());
    // The Application agrees across keys: one file over every declared environment.
    let app = p.lockfile();
    assert_eq!(app.environments, [LINUX_312, MACOS_312]);
    assert_eq!(entries(&app, "peft"), [("0.13.0".to_string(), None)]);
    assert!(
        entries(&app, "torch").is_empty(),
        "torch is the Foundation's"
    );
}

#[test]
fn only_cuda_keys_and_a_macos_platform_is_an_error_naming_it() {
    let k = keyed(&["cu130"], &["linux-x86_64", "macos-arm64"]);
    let p = &k.project;
    let err = p.lock_err(&[]);
    assert!(err.contains("macos-arm64"), "{err}");
    assert!(err.contains("cu130"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    assert!(
        !p.path().join("lockfiles").exists()
            || std::fs::read_dir(p.path().join("lockfiles"))
                .unwrap()
                .next()
                .is_none(),
        "nothing written"
    );
    insta::assert_snapshot!(err);
}

/// Regression: the Foundation holds nvidia-cublas on Linux only (torch's marker) and the
/// Application requires it everywhere; it was left out of the Application everywhere, so on
/// Windows no lockfile held it. Exactly one of the two files serves it in each environment.
#[test]
fn a_foundation_package_of_one_platform_is_in_the_application_on_another() {
    let k = keyed(&["cu130"], &["linux-x86_64", "windows-x86_64"]);
    let p = &k.project;
    p.write_manifest(
        &p.manifest()
            .replace("[\"peft\"]", "[\"peft\", \"nvidia-cublas\"]"),
    );
    p.lock_ok(&[]);
    let cu130 = lockfile(p, "pylock.foundation-cu130.toml");
    let app = p.lockfile();
    for platform in ["linux-x86_64", "windows-x86_64"] {
        let env = sanctuary::target::Target::new("3.12", Some(platform)).unwrap();
        let f = cu130.for_environment(env.markers()).unwrap();
        let a = app.for_environment(env.markers()).unwrap();
        assert_eq!(
            entries(&f, "nvidia-cublas").len() + entries(&a, "nvidia-cublas").len(),
            1,
            "nvidia-cublas on {platform}: foundation {:?}, application {:?}",
            entries(&f, "nvidia-cublas"),
            entries(&a, "nvidia-cublas")
        );
    }
}

/// Regression: a fork forced by a requirement's marker (not by Requires-Python or wheels)
/// moved to a newer release below the fork's bound without `--upgrade`; it keeps its pin.
#[test]
fn a_fork_forced_by_a_requirement_keeps_its_pin_without_upgrade() {
    let reqs = [
        "a>=2 ; sys_platform == 'linux'",
        "a<2 ; sys_platform == 'darwin'",
    ];
    let old = TestIndex::start(Scenario::new("fork").versions("a", &["1.0.0", "2.0.0"]));
    let p = project(&old, "3.12", &["linux-x86_64", "macos-arm64"], &reqs);
    p.lock_ok(&["-q"]);
    let first = entries(&p.lockfile(), "a");
    let new = TestIndex::start(Scenario::new("fork2").versions("a", &["1.0.0", "1.5.0", "2.0.0"]));
    p.write_manifest(&manifest(
        &new.index_url(),
        "3.12",
        &["linux-x86_64", "macos-arm64"],
        &reqs,
    ));
    let out = p.lock_ok(&[]);
    assert_eq!(entries(&p.lockfile(), "a"), first, "{}", stderr(&out));
}

/// A version with wheels for Linux and macOS and an sdist: on Windows `sync` will build it,
/// which a lock for Linux alone never shows. `lock` says so, naming the platform; the entry
/// holds the sdist beside the wheels.
#[test]
fn a_version_built_from_source_on_one_platform_only_is_told() {
    let index = TestIndex::start(Scenario::new("loop").version(
        "evloop",
        "0.23.0",
        v().tags([
            "cp312-cp312-manylinux_2_17_x86_64",
            "cp312-cp312-macosx_11_0_arm64",
        ]),
    ));
    let p = project(
        &index,
        "3.12",
        &["linux-x86_64", "macos-arm64", "windows-x86_64"],
        &["evloop"],
    );
    let out = p.lock_ok(&[]);
    let err = stderr(&out);
    assert!(
        err.contains(
            "evloop 0.23.0 has no wheel for windows-x86_64: `sync` builds it from its source distribution there"
        ),
        "{err}"
    );
    let lock = p.lockfile();
    let evloop = entry(&lock, "evloop", "0.23.0");
    assert!(
        evloop.sdist.is_some() && evloop.wheels.len() == 2,
        "{evloop:?}"
    );
    // Where every environment has a wheel, nothing is said.
    let wheels_only = project(
        &index,
        "3.12",
        &["linux-x86_64", "macos-arm64"],
        &["evloop"],
    );
    let quiet = stderr(&wheels_only.lock_ok(&[]));
    assert!(!quiet.contains("builds it from"), "{quiet}");
}

/// Exporting a CUDA key's layers for a Mac: the key's builds do not run there, which is not a
/// stale lockfile; the hint names the keys that do (it used to say "run `sanctuary lock`").
#[test]
fn a_key_asked_for_a_platform_it_does_not_run_on_names_the_keys_that_do() {
    let k = keyed(&["cu130", "cpu"], &["linux-x86_64", "macos-arm64"]);
    let p = &k.project;
    p.lock_ok(&["-q"]);
    let out = p.run(&[
        "export",
        "--layer",
        "all",
        "--key",
        "cu130",
        "--platform",
        "macos-arm64",
        "--python",
        "3.12",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("hint: the builds of key `cu130` run on Linux (x86_64, aarch64) and Windows x86_64 only; on macos-arm64 take --key cpu"),
        "{err}"
    );
    let out = p.run(&[
        "export",
        "--layer",
        "all",
        "--key",
        "cpu",
        "--platform",
        "macos-arm64",
        "--python",
        "3.12",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pins = String::from_utf8_lossy(&out.stdout);
    assert!(pins.contains("torch==2.9.0+cpu"), "{pins}");
}

/// Regression (a lockfile edited in a pull request): numpy 2.4.6's marker widened so that it
/// overlaps 2.5.5 on Python 3.12 and 3.13. `lock --check` passed and `sync` installed the
/// first entry; the check now fails naming the package, both entries and the environment,
/// and `lock` does not take the edited pins as preferences there.
#[test]
fn lock_check_refuses_entries_edited_to_overlap() {
    let index = numpy_index(&[]);
    let p = project(&index, ">=3.10,<3.14", &["linux-x86_64"], &["numpy"]);
    p.lock_ok(&["-q"]);
    let path = p.lockfile_path();
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replace(
        "marker = \"python_version < '3.12'\"",
        "marker = \"python_version >= '3.10'\"",
    );
    assert_ne!(edited, text);
    std::fs::write(&path, &edited).unwrap();
    let out = p.run(&["lock", "--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(
        said.contains("cannot be installed as it is")
            && said.contains("two entries of `numpy` apply to Python 3.12 on linux x86_64"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        edited,
        "--check writes nothing"
    );
    // Re-locking rewrites the fork as it was.
    p.lock_ok(&["-q"]);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}
