//! The Foundation layer: one lockfile per hardware key from a keyed index (`{key}` in its URL,
//! redirected to a local tree with `SANCTUARY_INDEX_PYTORCH`), the Application resolved against
//! every key's pins without moving them, per-key Application files when keys disagree, the
//! mixed-CUDA-family refusal and cross-layer conflicts.

use std::path::Path;

use crate::common::{Project, stderr};
use crate::support::{Scenario, TestIndex, VersionSpec};

fn v() -> VersionSpec {
    VersionSpec::new()
}

const CUDA_MARKER: &str = "platform_system == 'Linux' and platform_machine == 'x86_64'";

/// A torch build for one key, as the keyed index serves it.
fn torch(scenario: Scenario, version: &str, deps: &[&str]) -> Scenario {
    let deps: Vec<String> = deps
        .iter()
        .map(|d| format!("{d} ; {CUDA_MARKER}"))
        .chain(["filelock".to_string()])
        .collect();
    scenario.version(
        "torch",
        version,
        v().requires(deps)
            .tags(["cp312-cp312-manylinux_2_28_x86_64"])
            .sdist(false),
    )
}

/// The PyPI stand-in: CUDA libraries of both families, torch's plain dependencies, and a few
/// application packages.
fn pypi() -> TestIndex {
    TestIndex::start(
        Scenario::new("pypi")
            .versions("nvidia-cublas-cu12", &["12.6.4.1", "12.8.4.1"])
            .versions("nvidia-cublas", &["13.0.0.19"])
            .versions("triton", &["3.4.0", "3.5.0"])
            .versions("filelock", &["3.19.1", "3.20.0"])
            .version("peft", "0.12.0", v().requires(["torch>=1.13"]))
            .version("peft", "0.13.0", v().requires(["torch>=2.4", "filelock"]))
            .version("accel", "1.0.0", v().requires(["torch<2.9"]))
            .version("accel", "2.0.0", v().requires(["torch>=2.9"]))
            .versions("fastapi", &["0.115.0"]),
    )
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

/// Stable trees for cu130, cu128, cu126 and cpu, and a nightly tree for cpu.
fn pytorch_trees(root: &Path) {
    write_tree(
        root,
        "cu130",
        torch(
            Scenario::new("cu130"),
            "2.9.0+cu130",
            &["nvidia-cublas==13.0.0.19"],
        ),
    );
    write_tree(
        root,
        "cu128",
        torch(
            Scenario::new("cu128"),
            "2.9.0+cu128",
            &["nvidia-cublas-cu12==12.8.4.1", "triton==3.5.0"],
        ),
    );
    write_tree(
        root,
        "cu126",
        torch(
            torch(
                Scenario::new("cu126"),
                "2.8.0+cu126",
                &["nvidia-cublas-cu12==12.6.4.1", "triton==3.4.0"],
            ),
            "2.9.0+cu126",
            &["nvidia-cublas-cu12==12.6.4.1", "triton==3.5.0"],
        ),
    );
    write_tree(root, "cpu", torch(Scenario::new("cpu"), "2.9.0+cpu", &[]));
    write_tree(
        &root.join("nightly"),
        "cpu",
        torch(
            torch(Scenario::new("nightly-cpu"), "2.9.0+cpu", &[]),
            "2.11.0.dev20261101+cpu",
            &[],
        ),
    );
}

struct Forge {
    project: Project,
    _pypi: TestIndex,
    _trees: tempfile::TempDir,
}

fn forge(foundation: &str, application: &[&str]) -> Forge {
    let pypi = pypi();
    let trees = tempfile::tempdir().unwrap();
    pytorch_trees(trees.path());
    let mut project = Project::new();
    let tree_url = format!(
        "{}{{key}}",
        url::Url::from_directory_path(trees.path()).unwrap()
    );
    project.env("SANCTUARY_INDEX_PYPI", &pypi.index_url());
    project.env("SANCTUARY_INDEX_PYTORCH", &tree_url);
    let application: String = application.iter().map(|r| format!("\"{r}\", ")).collect();
    project.write_manifest(&format!(
        "[project]\nname = \"forge\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n\n\
         [[index]]\nname = \"pypi\"\nurl = \"https://pypi.org/simple\"\n\n\
         [[index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/{{key}}\"\nexplicit = true\n\n\
         {foundation}\n\
         [application]\nrequirements = [{application}]\n"
    ));
    Forge {
        project,
        _pypi: pypi,
        _trees: trees,
    }
}

const FOUNDATION: &str = "[foundation]\nkeys = [\"cu130\", \"cu128\", \"cu126\", \"cpu\"]\n\
    index = \"pytorch\"\nrequirements = [\"torch==2.9.*\"]\n\n\
    [foundation.key.cu126]\nrequirements = [\"torch==2.8.*\"]\n";

fn lockfile(project: &Project, name: &str) -> sanctuary::pylock::Lockfile {
    let text = std::fs::read_to_string(project.path().join("lockfiles").join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    sanctuary::pylock::Lockfile::parse(&text).unwrap()
}

fn version_of(lock: &sanctuary::pylock::Lockfile, name: &str) -> Option<String> {
    lock.packages
        .iter()
        .find(|p| p.name.as_ref() == name)
        .map(|p| p.version.to_string())
}

#[test]
fn every_key_locks_its_own_foundation_and_one_application_serves_all() {
    let forge = forge(FOUNDATION, &["peft", "fastapi"]);
    let p = &forge.project;
    let out = p.lock_ok(&[]);
    let expected = [
        ("cu130", "2.9.0+cu130", Some("nvidia-cublas"), None),
        (
            "cu128",
            "2.9.0+cu128",
            Some("nvidia-cublas-cu12"),
            Some("nvidia-cublas"),
        ),
        (
            "cu126",
            "2.8.0+cu126",
            Some("nvidia-cublas-cu12"),
            Some("nvidia-cublas"),
        ),
        ("cpu", "2.9.0+cpu", None, Some("nvidia-cublas-cu12")),
    ];
    for (key, torch, cuda, absent) in expected {
        let lock = lockfile(p, &format!("pylock.foundation-{key}.toml"));
        assert_eq!(lock.tool.layer, "foundation");
        assert_eq!(lock.tool.key.as_deref(), Some(key));
        assert_eq!(version_of(&lock, "torch").as_deref(), Some(torch), "{key}");
        let torch_entry = lock
            .packages
            .iter()
            .find(|p| p.name.as_ref() == "torch")
            .unwrap();
        assert!(
            torch_entry.wheels[0].url.starts_with("file://"),
            "{key}: torch from the keyed index"
        );
        assert!(
            torch_entry.wheels[0].url.contains(&format!("/{key}/")),
            "{key}"
        );
        if let Some(cuda) = cuda {
            assert!(version_of(&lock, cuda).is_some(), "{key}: {cuda} missing");
        }
        if let Some(absent) = absent {
            assert!(
                version_of(&lock, absent).is_none(),
                "{key}: {absent} present"
            );
        }
        // Plain dependencies come from the default index.
        let filelock = lock
            .packages
            .iter()
            .find(|p| p.name.as_ref() == "filelock")
            .unwrap();
        assert!(filelock.index.starts_with("http://"), "{}", filelock.index);
    }
    // peft 0.13 fits every key's torch: one Application file, without Foundation packages.
    let app = lockfile(p, "pylock.application.toml");
    assert_eq!(version_of(&app, "peft").as_deref(), Some("0.13.0"));
    assert!(version_of(&app, "torch").is_none());
    assert!(version_of(&app, "filelock").is_none());
    assert_eq!(app.tool.inputs.foundation.len(), 4);
    assert!(
        !p.path()
            .join("lockfiles/pylock.application-cu130.toml")
            .exists()
    );
    assert!(
        stderr(&out).contains("Wrote lockfiles/pylock.foundation-cu130.toml"),
        "{}",
        stderr(&out)
    );

    // Locking again is byte-identical; --check passes.
    let before = snapshot_dir(p);
    p.lock_ok(&["-q"]);
    assert_eq!(snapshot_dir(p), before);
    assert!(p.run(&["lock", "--check"]).status.success());

    // Editing one key's Foundation makes that file and the Application stale.
    p.write_manifest(&p.manifest().replace("torch==2.8.*", "torch==2.9.*"));
    let check = p.run(&["lock", "--check"]);
    assert!(!check.status.success());
    let message = stderr(&check);
    assert!(
        message.contains("pylock.foundation-cu126.toml is stale"),
        "{message}"
    );
    assert!(
        message.contains("pylock.foundation-cu130.toml is up to date"),
        "{message}"
    );
    assert!(
        message.contains("pylock.application.toml is stale"),
        "{message}"
    );
    assert!(
        message.contains("the Foundation for `cu126` changed"),
        "{message}"
    );
}

fn snapshot_dir(p: &Project) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(p.path().join("lockfiles"))
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_application_never_moves_a_foundation_pin() {
    // The Foundation takes the newest filelock; the Application asks for an older one.
    let forge = forge(FOUNDATION, &["peft", "filelock<3.20"]);
    let message = forge
        .project
        .lock_err(&[])
        .replace(&*forge.project.path().to_string_lossy(), "[project]");
    // The report is wrapped; its words are what matter here.
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(message.contains("filelock<3.20"), "{message}");
    assert!(
        message.contains("foundation (cu130) pin `filelock==3.20.0`"),
        "{message}"
    );
    // All or nothing: neither the Foundation files nor an Application file were written.
    for name in ["pylock.foundation-cu130.toml", "pylock.application.toml"] {
        assert!(
            !forge.project.path().join("lockfiles").join(name).exists(),
            "{name}"
        );
    }
}

#[test]
fn a_cross_layer_conflict_names_both_layers() {
    // accel 2.0 needs torch>=2.9; the Foundation of cu126 pins torch 2.8.0+cu126.
    let forge = forge(FOUNDATION, &["accel==2.0.0"]);
    let message = forge.project.lock_err(&[]);
    insta::assert_snapshot!(message);
}

/// Regression: a failed Application resolution used to leave the Foundation lockfiles already
/// rewritten; a lock writes its set of lockfiles all or nothing.
#[test]
fn a_failed_application_leaves_the_foundation_lockfiles_as_they_were() {
    let forge = forge(FOUNDATION, &["fastapi"]);
    let p = &forge.project;
    p.lock_ok(&[]);
    let before = snapshot_dir(p);
    // The cu126 Foundation moves (torch 2.8 -> 2.9 would be written), but the Application
    // cannot be resolved against it.
    p.write_manifest(
        &p.manifest()
            .replace(
                "requirements = [\"torch==2.8.*\"]",
                "requirements = [\"torch==2.9.*\"]",
            )
            .replace("\"fastapi\"", "\"accel<2\""),
    );
    let message = p.lock_err(&[]);
    assert!(!message.contains("Wrote"), "{message}");
    assert_eq!(snapshot_dir(p), before, "no lockfile changed");
}

#[test]
fn keys_that_need_different_applications_get_their_own_files() {
    let forge = forge(FOUNDATION, &["accel"]);
    let p = &forge.project;
    let out = p.lock_ok(&[]);
    let message = stderr(&out);
    assert!(message.contains("locked per key"), "{message}");
    assert!(
        message.contains("accel: 1.0.0 for cu126; 2.0.0 for cu130, cu128, cpu"),
        "{message}"
    );
    for (key, accel) in [
        ("cu130", "2.0.0"),
        ("cu128", "2.0.0"),
        ("cu126", "1.0.0"),
        ("cpu", "2.0.0"),
    ] {
        let lock = lockfile(p, &format!("pylock.application-{key}.toml"));
        assert_eq!(lock.tool.key.as_deref(), Some(key));
        assert_eq!(version_of(&lock, "accel").as_deref(), Some(accel), "{key}");
    }
    assert!(!p.path().join("lockfiles/pylock.application.toml").exists());
    assert!(p.run(&["lock", "--check"]).status.success());

    // Once every key agrees again, the shared file replaces the per-key ones.
    p.write_manifest(&p.manifest().replace("\"accel\"", "\"fastapi\""));
    let out = p.lock_ok(&[]);
    assert!(
        stderr(&out).contains("Removed lockfiles/pylock.application-cu130.toml"),
        "{}",
        stderr(&out)
    );
    let files: Vec<String> = snapshot_dir(p).into_iter().map(|(n, _)| n).collect();
    assert!(
        files.contains(&"pylock.application.toml".to_string()),
        "{files:?}"
    );
    assert!(
        !files.iter().any(|f| f.starts_with("pylock.application-")),
        "{files:?}"
    );
}

#[test]
fn a_foundation_that_mixes_cuda_families_is_refused() {
    let forge = forge(FOUNDATION, &[]);
    // Re-point cu130 at a tree whose torch pulls CUDA 12 libraries.
    let broken = tempfile::tempdir().unwrap();
    write_tree(
        broken.path(),
        "cu130",
        torch(
            Scenario::new("broken"),
            "2.9.0+cu130",
            &["nvidia-cublas-cu12==12.8.4.1", "nvidia-cublas==13.0.0.19"],
        ),
    );
    let mut p = forge.project;
    p.env(
        "SANCTUARY_INDEX_PYTORCH",
        &format!(
            "{}{{key}}",
            url::Url::from_directory_path(broken.path()).unwrap()
        ),
    );
    let message = p.lock_err(&["--key", "cu130"]);
    insta::assert_snapshot!(message);
    assert!(
        !p.path()
            .join("lockfiles/pylock.foundation-cu130.toml")
            .exists()
    );
}

#[test]
fn key_limits_the_foundation_and_nightly_allows_dev_builds() {
    let forge = forge(FOUNDATION, &["fastapi"]);
    let p = &forge.project;
    p.lock_ok(&["-q", "--key", "cu128"]);
    let files: Vec<String> = snapshot_dir(p).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        files,
        ["pylock.application.toml", "pylock.foundation-cu128.toml"]
    );
    let unknown = p.lock_err(&["--key", "cu999"]);
    assert!(
        unknown.contains("cu999") && unknown.contains("cu130, cu128, cu126, cpu"),
        "{unknown}"
    );

    // The nightly channel reads `.../nightly/{key}` and takes pre-releases.
    let nightly = forge_with_channel();
    nightly.project.lock_ok(&["-q"]);
    let lock = lockfile(&nightly.project, "pylock.foundation-cpu.toml");
    assert_eq!(
        version_of(&lock, "torch").as_deref(),
        Some("2.11.0.dev20261101+cpu")
    );
}

fn forge_with_channel() -> Forge {
    forge(
        "[foundation]\nkeys = [\"cpu\"]\nindex = \"pytorch\"\nchannel = \"nightly\"\nrequirements = [\"torch\"]\n",
        &[],
    )
}

#[test]
fn keys_no_longer_declared_lose_their_lockfiles() {
    let forge = forge(FOUNDATION, &["fastapi"]);
    let p = &forge.project;
    p.lock_ok(&["-q"]);
    p.write_manifest(
        &p.manifest()
            .replace(
                "keys = [\"cu130\", \"cu128\", \"cu126\", \"cpu\"]",
                "keys = [\"cu130\", \"cpu\"]",
            )
            .replace(
                "[foundation.key.cu126]\nrequirements = [\"torch==2.8.*\"]\n",
                "",
            ),
    );
    let out = p.lock_ok(&[]);
    assert!(
        stderr(&out).contains("Removed lockfiles/pylock.foundation-cu126.toml"),
        "{}",
        stderr(&out)
    );
    let files: Vec<String> = snapshot_dir(p).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        files,
        [
            "pylock.application.toml",
            "pylock.foundation-cpu.toml",
            "pylock.foundation-cu130.toml"
        ]
    );
}

/// Regression: a Foundation constraint on a package that is not a Foundation package made the
/// resolver look for it only on the explicit Foundation index ("filelock was not found in any
/// index"). Constraints constrain; they do not re-route.
#[test]
fn a_foundation_constraint_constrains_without_rerouting() {
    let foundation = "[foundation]\nkeys = [\"cpu\"]\nindex = \"pytorch\"\n\
        requirements = [\"torch==2.9.*\"]\nconstraints = [\"filelock<3.20\"]\n";
    let forge = forge(foundation, &["fastapi"]);
    let p = &forge.project;
    p.lock_ok(&[]);
    let lock = lockfile(p, "pylock.foundation-cpu.toml");
    let filelock = lock
        .packages
        .iter()
        .find(|p| p.name.as_ref() == "filelock")
        .expect("filelock locked");
    assert_eq!(filelock.version.to_string(), "3.19.1");
    assert!(
        !filelock.index.contains("cpu"),
        "filelock comes from the PyPI stand-in, not the Foundation index: {}",
        filelock.index
    );
}

/// Regression: a Foundation package that lives on PyPI (tensorflow in the ADR's scope) could
/// only be looked for on the Foundation index. `[foundation] sources` routes it.
#[test]
fn foundation_sources_take_a_foundation_package_from_another_index() {
    let without = "[foundation]\nkeys = [\"cpu\"]\nindex = \"pytorch\"\n\
        requirements = [\"torch==2.9.*\", \"fastapi\"]\n";
    let forge = forge(without, &[]);
    let p = &forge.project;
    let message = p.lock_err(&[]);
    assert!(
        message.contains("fastapi") && message.contains("pytorch[cpu]"),
        "the hint names the one index fastapi was restricted to:\n{message}"
    );

    let with = format!("{without}sources = {{ fastapi = \"pypi\" }}\n");
    p.write_manifest(&p.manifest().replace(without, &with));
    p.lock_ok(&[]);
    let lock = lockfile(p, "pylock.foundation-cpu.toml");
    assert_eq!(version_of(&lock, "fastapi").as_deref(), Some("0.115.0"));
    assert_eq!(version_of(&lock, "torch").as_deref(), Some("2.9.0+cpu"));
}

/// Regression: redirecting a keyed index to one URL without `{key}` sent every key's
/// Foundation to one tree; it is an error naming the variable, before anything is written.
#[test]
fn a_keyed_index_redirected_without_key_is_refused() {
    let mut forge = forge(FOUNDATION, &["fastapi"]);
    let flat = url::Url::from_directory_path(forge._trees.path().join("cpu")).unwrap();
    forge.project.env("SANCTUARY_INDEX_PYTORCH", flat.as_str());
    let message = forge.project.lock_err(&[]);
    assert!(
        message.contains("SANCTUARY_INDEX_PYTORCH=")
            && message.contains("has no `{key}`")
            && message.contains("SANCTUARY_INDEX_PYTORCH='https://mirror.example/whl/{key}'"),
        "{message}"
    );
    assert!(!forge.project.path().join("lockfiles").exists());
}

/// Regression: the hint for an unreachable keyed index named `SANCTUARY_INDEX_PYTORCH[CU130]`,
/// which no shell can set.
#[test]
fn the_hint_for_an_unreachable_keyed_index_names_a_variable_that_works() {
    let mut forge = forge(FOUNDATION, &["fastapi"]);
    // Nothing listens on port 9 of this machine: the connection is refused.
    forge
        .project
        .env("SANCTUARY_INDEX_PYTORCH", "http://127.0.0.1:9/whl/{key}");
    let message = forge.project.lock_err(&[]);
    let hint = message
        .lines()
        .find(|l| l.starts_with("hint:"))
        .unwrap_or_else(|| panic!("no hint:\n{message}"));
    assert!(
        hint.contains("SANCTUARY_INDEX_PYTORCH='https://mirror.example/whl/{key}'")
            && !hint.contains('['),
        "{message}"
    );
}

/// Regression: an Application package that the keyed index serves in the same version for
/// every key, but with other files per key (xformers on download.pytorch.org), was written
/// to one shared Application file with the first key's index and hashes for every key.
#[test]
fn one_version_with_other_files_per_key_is_locked_per_key() {
    let pypi = pypi();
    let trees = tempfile::tempdir().unwrap();
    pytorch_trees(trees.path());
    for key in ["cu130", "cu128", "cu126", "cpu"] {
        write_tree(
            trees.path(),
            key,
            Scenario::new(&format!("xfm-{key}")).version(
                "xfm",
                "0.1.0",
                v().file("xfm/build.txt", key).sdist(false),
            ),
        );
    }
    let mut project = Project::new();
    let tree_url = format!(
        "{}{{key}}",
        url::Url::from_directory_path(trees.path()).unwrap()
    );
    project.env("SANCTUARY_INDEX_PYPI", &pypi.index_url());
    project.env("SANCTUARY_INDEX_PYTORCH", &tree_url);
    project.write_manifest(&format!(
        "[project]\nname = \"forge\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n\n\
         [[index]]\nname = \"pypi\"\nurl = \"https://pypi.org/simple\"\n\n\
         [[index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/{{key}}\"\nexplicit = true\n\n\
         {FOUNDATION}\n\
         [application]\nrequirements = [\"xfm\"]\nsources = {{ xfm = \"pytorch\" }}\n"
    ));
    let out = project.lock_ok(&[]);
    let names: Vec<String> = std::fs::read_dir(project.path().join("lockfiles"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.contains(&"pylock.application.toml".to_string()),
        "one shared Application file holds one key's xfm build for every key: {names:?}\n{}",
        stderr(&out)
    );
    for key in ["cu130", "cu128", "cu126", "cpu"] {
        let app = std::fs::read_to_string(
            project
                .path()
                .join(format!("lockfiles/pylock.application-{key}.toml")),
        )
        .unwrap();
        assert!(app.contains(&format!("/{key}/")), "{key}: {app}");
    }
}

/// Regression: in a universal lock with two keys, the second key preferred the version the
/// first chose in its lowest environment (np 1.0.0 for Python 3.11) in all of its own, and
/// the Application split by key for nothing. Each key alone locks np 1.0.0 for 3.11 and 2.0.0
/// for 3.12, so the keys agree and share one file.
#[test]
fn a_second_key_prefers_what_the_first_chose_in_the_same_environment() {
    let pypi = TestIndex::start(
        Scenario::new("pypi")
            .versions("filelock", &["3.20.0"])
            .version("np", "1.0.0", v())
            .version("np", "2.0.0", v().requires_python(">=3.12")),
    );
    let trees = tempfile::tempdir().unwrap();
    for key in ["cu130", "cpu"] {
        write_tree(
            trees.path(),
            key,
            Scenario::new(key).version(
                "torch",
                &format!("2.9.0+{key}"),
                v().requires(["filelock"]).sdist(false),
            ),
        );
    }
    let mut project = Project::new();
    let tree_url = format!(
        "{}{{key}}",
        url::Url::from_directory_path(trees.path()).unwrap()
    );
    project.env("SANCTUARY_INDEX_PYPI", &pypi.index_url());
    project.env("SANCTUARY_INDEX_PYTORCH", &tree_url);
    project.write_manifest(
        "[project]\nname = \"forge\"\npython = \">=3.11,<3.13\"\nplatforms = [\"linux-x86_64\"]\n\n\
         [[index]]\nname = \"pypi\"\nurl = \"https://pypi.org/simple\"\n\n\
         [[index]]\nname = \"pytorch\"\nurl = \"https://download.pytorch.org/whl/{key}\"\nexplicit = true\n\n\
         [foundation]\nkeys = [\"cu130\", \"cpu\"]\nindex = \"pytorch\"\nrequirements = [\"torch\"]\n\n\
         [application]\nrequirements = [\"np\"]\n",
    );
    let out = project.lock_ok(&[]);
    let names: Vec<String> = std::fs::read_dir(project.path().join("lockfiles"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"pylock.application.toml".to_string()),
        "the keys should agree: {names:?}\n{}",
        stderr(&out)
    );
}
