//! `sanctuary diff`: the binary over pairs of lockfiles built from `sanctuary::pylock::Lockfile`
//! values, in every format; `--git` in a temporary repository; `--exit-code`; the published
//! JSON Schema of the report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;

use sanctuary::pylock::{
    InputSummary, LocalSource, LockedPackage, LockedSdist, LockedWheel, Lockfile, ToolTable,
    VcsKind,
};
use sanctuary::{PackageName, Version};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A wheel whose sha256 is `seed` repeated.
fn wheel(file: &str, seed: &str) -> LockedWheel {
    LockedWheel {
        name: file.to_string(),
        url: format!("https://files.example.test/{file}"),
        size: Some(1000 + file.len() as u64),
        upload_time: None,
        sha256: seed.repeat(64 / seed.len()),
    }
}

fn pkg(name: &str, version: &str, deps: &[&str], direct: bool) -> LockedPackage {
    LockedPackage {
        name: PackageName::from_str(name).unwrap(),
        version: Version::from_str(version).unwrap(),
        marker: None,
        index: "https://pypi.example.test/simple".to_string(),
        requires_python: None,
        dependencies: deps
            .iter()
            .map(|d| PackageName::from_str(d).unwrap())
            .collect(),
        dependency_markers: Default::default(),
        sdist: None,
        wheels: vec![wheel(
            &format!("{}-{version}-py3-none-any.whl", name.replace('-', "_")),
            "0",
        )],
        source: None,
        direct,
        extras: Vec::new(),
    }
}

fn lock(layer: &str, key: Option<&str>, packages: Vec<LockedPackage>) -> Lockfile {
    Lockfile {
        environments: vec![
            "python_full_version == '3.12.0' and sys_platform == 'linux'".to_string(),
        ],
        requires_python: "==3.12.*".to_string(),
        packages,
        tool: ToolTable {
            format: sanctuary::pylock::FORMAT_VERSION,
            layer: layer.to_string(),
            key: key.map(str::to_string),
            python: "3.12".to_string(),
            platform: "linux-x86_64".to_string(),
            inputs_hash: "0".repeat(64),
            inputs: InputSummary::default(),
        },
    }
}

fn torch(local: &str, seed: &str) -> LockedPackage {
    let mut p = pkg(
        "torch",
        &format!("2.9.0+{local}"),
        &["filelock", "nvidia-cublas", "nvidia-cublas-cu12", "triton"],
        true,
    );
    p.wheels = vec![wheel(
        &format!("torch-2.9.0+{local}-cp312-cp312-manylinux_2_28_x86_64.whl"),
        seed,
    )];
    p
}

/// A git package of the application at `commit` (a seed repeated).
fn gitlib(version: &str, seed: &str) -> LockedPackage {
    LockedPackage {
        index: String::new(),
        wheels: Vec::new(),
        source: Some(LocalSource::Vcs {
            kind: VcsKind::Git,
            url: "https://git.example.test/team/gitlib.git".to_string(),
            requested_revision: Some("main".to_string()),
            commit_id: seed.repeat(40 / seed.len()),
            subdirectory: None,
        }),
        ..pkg("gitlib", version, &[], true)
    }
}

/// Lockfiles by file name.
type Files = Vec<(String, Lockfile)>;

/// Old and new lockfile sets covering every kind of change: two layers, two keys, a key whose
/// Foundation is removed and one whose Foundation is new.
fn old_and_new() -> (Files, Files) {
    let triton_x86 = "triton-3.5.0-cp312-cp312-manylinux_2_28_x86_64.whl";
    let triton_arm = "triton-3.5.0-cp312-cp312-manylinux_2_28_aarch64.whl";
    let mut triton_old = pkg("triton", "3.5.0", &[], false);
    triton_old.wheels = vec![wheel(triton_x86, "1")];
    let mut triton_new = triton_old.clone();
    triton_new.wheels.push(wheel(triton_arm, "2"));

    let cu130_old = lock(
        "foundation",
        Some("cu130"),
        vec![
            torch("cu128", "3"),
            pkg("filelock", "3.16.1", &[], false),
            pkg("nvidia-cublas-cu12", "12.8.4.1", &[], false),
            triton_old,
        ],
    );
    let cu130_new = lock(
        "foundation",
        Some("cu130"),
        vec![
            torch("cu130", "4"),
            pkg("filelock", "3.16.0", &[], false),
            pkg("nvidia-cublas", "13.0.0.19", &[], false),
            triton_new,
        ],
    );

    // The same torch file, re-uploaded: a new sha256 and size for the same name.
    let cpu_old = lock(
        "foundation",
        Some("cpu"),
        vec![torch("cpu", "5"), pkg("filelock", "3.15.4", &[], false)],
    );
    let mut tampered = torch("cpu", "6");
    tampered.wheels[0].size = Some(4242);
    let cpu_new = lock(
        "foundation",
        Some("cpu"),
        vec![tampered, pkg("filelock", "3.16.1", &[], false)],
    );

    let cu126_old = lock(
        "foundation",
        Some("cu126"),
        vec![torch("cu126", "7"), pkg("filelock", "3.16.1", &[], false)],
    );
    let cu128_new = lock(
        "foundation",
        Some("cu128"),
        vec![torch("cu128", "3"), pkg("filelock", "3.16.1", &[], false)],
    );

    let (app_old, app_new) = applications();
    let old = vec![
        ("pylock.foundation-cu130.toml".to_string(), cu130_old),
        ("pylock.foundation-cpu.toml".to_string(), cpu_old),
        ("pylock.foundation-cu126.toml".to_string(), cu126_old),
        ("pylock.application.toml".to_string(), app_old),
    ];
    let new = vec![
        ("pylock.foundation-cu130.toml".to_string(), cu130_new),
        ("pylock.foundation-cpu.toml".to_string(), cpu_new),
        ("pylock.foundation-cu128.toml".to_string(), cu128_new),
        ("pylock.application.toml".to_string(), app_new),
    ];
    (old, new)
}

/// The Application before and after: upgrades, a removal, an addition, an sdist added to a
/// package, a wheel moved to another host and a git package whose commit moved.
fn applications() -> (Lockfile, Lockfile) {
    // The same requests, now with its sdist locked too.
    let mut requests_sdist = pkg("requests", "2.32.3", &["certifi"], true);
    requests_sdist.sdist = Some(LockedSdist {
        name: "requests-2.32.3.tar.gz".to_string(),
        url: "https://files.example.test/requests-2.32.3.tar.gz".to_string(),
        size: Some(131_218),
        upload_time: None,
        sha256: "5".repeat(64),
    });
    let mut certifi_moved = pkg("certifi", "2024.8.30", &[], false);
    certifi_moved.wheels[0].url =
        "https://mirror.example.test/certifi-2024.8.30-py3-none-any.whl".to_string();
    let app_old = lock(
        "application",
        None,
        vec![
            pkg(
                "transformers",
                "4.40.0",
                &["numpy", "safetensors", "tokenizers"],
                true,
            ),
            pkg("peft", "0.12.0", &["accelerate"], true),
            pkg("pydantic", "2.9.2", &[], true),
            pkg("accelerate", "0.34.2", &["psutil", "safetensors"], false),
            pkg("psutil", "5.9.8", &[], false),
            pkg("safetensors", "0.4.4", &[], false),
            pkg("numpy", "2.1.0", &[], false),
            pkg("tokenizers", "0.19.1", &[], false),
            pkg("requests", "2.32.3", &["certifi"], true),
            pkg("certifi", "2024.8.30", &[], false),
            pkg("unchanged", "1.0", &[], true),
            gitlib("0.4.0", "0123456789"),
        ],
    );
    let app_new = lock(
        "application",
        None,
        vec![
            pkg(
                "transformers",
                "4.41.2",
                &["numpy", "regex", "safetensors"],
                true,
            ),
            pkg("peft", "0.13.0", &["accelerate"], true),
            pkg("fastapi", "0.115.0", &[], true),
            pkg("accelerate", "1.0.0", &["psutil", "safetensors"], false),
            pkg("psutil", "6.0.0", &[], false),
            pkg("safetensors", "0.4.5", &[], false),
            pkg("numpy", "1.26.4", &[], false),
            pkg("regex", "2024.9.11", &[], false),
            requests_sdist,
            certifi_moved,
            pkg("unchanged", "1.0", &[], true),
            gitlib("0.4.0", "89abcdef01"),
        ],
    );
    (app_old, app_new)
}

fn write_all(dir: &Path, files: &Files) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, lock) in files {
        std::fs::write(dir.join(name), lock.render()).unwrap();
    }
}

/// A temporary directory holding `old/` and `new/`.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = old_and_new();
    write_all(&dir.path().join("old"), &old);
    write_all(&dir.path().join("new"), &new);
    dir
}

/// Run `sanctuary <args>` in `cwd`, uncoloured.
fn sanctuary(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args(args)
        .current_dir(cwd)
        .env_remove("SANCTUARY_LOG")
        .env_remove("SANCTUARY_MANIFEST")
        .env("SANCTUARY_CACHE_DIR", cwd.join(".cache"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run sanctuary")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn diff_ok(cwd: &Path, args: &[&str]) -> String {
    let mut all = vec!["diff"];
    all.extend_from_slice(args);
    let out = sanctuary(cwd, &all);
    assert_eq!(code(&out), 0, "sanctuary {all:?}:\n{}", stderr(&out));
    stdout(&out)
}

#[test]
fn text_groups_by_layer_and_key_and_flags_reuploads_first() {
    let dir = fixture();
    let text = diff_ok(dir.path(), &["old", "new"]);
    insta::assert_snapshot!("text", text);
    // Shared with `sanctuary lock`: the version-change wording the lock tests rely on.
    assert!(text.contains("~ accelerate 0.34.2 -> 1.0.0  major upgrade (via peft)"));
}

#[test]
fn markdown_has_a_table_per_layer_and_key() {
    let dir = fixture();
    insta::assert_snapshot!(
        "markdown",
        diff_ok(dir.path(), &["old", "new", "--format", "markdown"])
    );
}

#[test]
fn json_follows_the_published_schema() {
    let dir = fixture();
    let text = diff_ok(dir.path(), &["--format", "json", "old", "new"]);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(&sanctuary::pylock::diff::report_json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    insta::assert_snapshot!("json", text);
}

#[test]
fn two_lockfiles_compare_directly() {
    let dir = fixture();
    let text = diff_ok(
        dir.path(),
        &[
            "old/pylock.foundation-cu126.toml",
            "new/pylock.foundation-cu128.toml",
        ],
    );
    insta::assert_snapshot!(text, @"
    foundation layer, key cu128: pylock.foundation-cu126.toml -> pylock.foundation-cu128.toml
      ~ torch 2.9.0+cu126 -> 2.9.0+cu128  local label only (direct)

    1 package change in 1 lockfile: 1 local label only
    ");
}

#[test]
fn no_changes_print_nothing_and_say_so_on_stderr() {
    let dir = fixture();
    let out = sanctuary(dir.path(), &["diff", "old", "old"]);
    assert_eq!(code(&out), 0);
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("No lockfile changes between old and old"));
    insta::assert_snapshot!(
        diff_ok(dir.path(), &["old", "old", "--format", "markdown"]),
        @r"
    ## Lockfile changes

    No lockfile changes.
    "
    );
}

#[test]
fn exit_code_is_one_for_changes_zero_for_none_and_two_for_errors() {
    let dir = fixture();
    let run = |args: &[&str]| sanctuary(dir.path(), args);
    // Without --exit-code, changes are a success and errors exit 1 like every command.
    assert_eq!(code(&run(&["diff", "old", "new"])), 0);
    assert_eq!(code(&run(&["diff", "old", "missing"])), 1);
    // With it, as `git diff --exit-code`: 1 means "changed", so errors take 2.
    assert_eq!(code(&run(&["diff", "--exit-code", "old", "new"])), 1);
    assert_eq!(
        code(&run(&[
            "diff",
            "--exit-code",
            "--format",
            "json",
            "old",
            "new"
        ])),
        1
    );
    assert_eq!(code(&run(&["diff", "--exit-code", "old", "old"])), 0);
    let missing = run(&["diff", "--exit-code", "old/pylock.x.toml", "new"]);
    assert_eq!(code(&missing), 2);
    assert!(
        stderr(&missing).contains("old/pylock.x.toml"),
        "{}",
        stderr(&missing)
    );
    std::fs::write(dir.path().join("bad.toml"), "lock-version = \"1.0\"\n").unwrap();
    let bad = run(&["diff", "--exit-code", "bad.toml", "bad.toml"]);
    assert_eq!(code(&bad), 2);
    assert!(
        stderr(&bad).contains("cannot read bad.toml") && stderr(&bad).contains("[tool.sanctuary]"),
        "{}",
        stderr(&bad)
    );
    // A usage error is clap's 2 either way.
    assert_eq!(code(&run(&["diff", "old"])), 2);
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git is on PATH");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

#[test]
fn git_compares_a_revision_with_the_working_tree() {
    let repo = tempfile::tempdir().unwrap();
    let repo = repo.path();
    // The project sits below the repository root, as in a monorepo.
    let project = repo.join("ml");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("sanctuary.toml"),
        "[project]\nname = \"forge\"\npython = \"3.12\"\n",
    )
    .unwrap();
    let (old, new) = old_and_new();
    let lockfiles = project.join("lockfiles");
    write_all(&lockfiles, &old);
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["config", "user.name", "Test"]);
    git(repo, &["config", "user.email", "test@example.test"]);
    git(repo, &["config", "commit.gpgsign", "false"]);
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "lock"]);

    // Nothing changed yet.
    let args = ["diff", "--manifest", "ml/sanctuary.toml", "--exit-code"];
    let out = sanctuary(repo, &[&args[..], &["--git", "HEAD"]].concat());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "");

    // Relock: the working tree now has the new set (and no cu126 file).
    std::fs::remove_dir_all(&lockfiles).unwrap();
    write_all(&lockfiles, &new);
    let out = sanctuary(repo, &[&args[..], &["--git", "HEAD"]].concat());
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    insta::assert_snapshot!("git", text);

    // `--git` alone means HEAD; running inside the project finds ./sanctuary.toml.
    assert_eq!(diff_ok(&project, &["--git"]), text);
    let json = diff_ok(&project, &["--git", "--format", "json"]);
    assert!(json.contains("\"old\": \"HEAD:lockfiles/\""), "{json}");
    assert!(
        json.contains("\"old_path\": \"HEAD:lockfiles/pylock.foundation-cu126.toml\""),
        "{json}"
    );

    // A bad revision is an error, exit 2 with --exit-code.
    let out = sanctuary(repo, &[&args[..], &["--git", "no-such-rev"]].concat());
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("bad revision `no-such-rev`"),
        "{}",
        stderr(&out)
    );
    // No manifest: says which one it looked for.
    let out = sanctuary(repo, &["diff", "--git", "HEAD"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("no manifest at sanctuary.toml"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_revision_without_lockfiles_shows_everything_added() {
    let repo = tempfile::tempdir().unwrap();
    let repo = repo.path();
    std::fs::write(repo.join("sanctuary.toml"), "").unwrap();
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["config", "user.name", "Test"]);
    git(repo, &["config", "user.email", "test@example.test"]);
    git(repo, &["config", "commit.gpgsign", "false"]);
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "start"]);
    let app = lock(
        "application",
        None,
        vec![pkg("a", "1.0", &["b"], true), pkg("b", "2.0", &[], false)],
    );
    write_all(
        &repo.join("lockfiles"),
        &vec![("pylock.application.toml".to_string(), app)],
    );
    insta::assert_snapshot!(diff_ok(repo, &["--git", "HEAD"]), @r"
    application layer: pylock.application.toml (new lockfile)
      + a 1.0 (direct)
      + b 2.0 (via a)

    2 package changes in 1 lockfile: 2 added
    ");
}

#[test]
fn colours_only_when_asked() {
    let (old, new) = old_and_new();
    let pairs: Vec<sanctuary::pylock::diff::FilePair> = old
        .into_iter()
        .zip(new)
        .map(
            |((o_name, o), (n_name, n))| sanctuary::pylock::diff::FilePair {
                name: format!("{o_name} -> {n_name}"),
                old_path: Some(o_name),
                new_path: Some(n_name),
                old: Some(o),
                new: Some(n),
            },
        )
        .collect();
    let report = sanctuary::pylock::diff::DiffReport::new("old", "new", &pairs);
    let coloured = report.to_text(true);
    assert!(coloured.contains("\x1b[1;31m!! torch 2.9.0+cpu: artifact"));
    assert!(coloured.contains("\x1b[32m+ fastapi 0.115.0\x1b[0m"));
    assert!(!report.to_text(false).contains('\x1b'));
}

#[test]
fn published_schema_matches_the_code() {
    let path = root().join("schema/diff-report.schema.json");
    let generated = sanctuary::pylock::diff::report_json_schema();
    if std::env::var_os("SANCTUARY_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == generated,
        "schema/diff-report.schema.json is out of date; regenerate it with \
         SANCTUARY_UPDATE_SCHEMA=1 cargo test --test diff"
    );
}

/// Universal lockfiles: `lib` forked by Python minor, `macdep` for macOS only. The new side
/// upgrades one fork, moves `macdep`'s marker and adds an environment.
fn universal_pair() -> (Lockfile, Lockfile) {
    let env = |py: &str, sys: &str, machine: &str| {
        format!(
            "python_version == '{py}' and sys_platform == '{sys}' and platform_machine == '{machine}'"
        )
    };
    let forked = |name: &str, version: &str, marker: &str| LockedPackage {
        marker: Some(marker.to_string()),
        ..pkg(name, version, &[], false)
    };
    let mut old = lock(
        "application",
        None,
        vec![
            pkg("app", "1.0.0", &["lib", "macdep"], true),
            forked("lib", "1.0.0", "python_version < '3.12'"),
            forked("lib", "2.0.0", "python_version >= '3.12'"),
            forked("macdep", "1.0.0", "sys_platform == 'darwin'"),
        ],
    );
    old.environments = vec![
        env("3.11", "linux", "x86_64"),
        env("3.12", "linux", "x86_64"),
        env("3.11", "darwin", "arm64"),
        env("3.12", "darwin", "arm64"),
    ];
    let mut new = old.clone();
    new.environments.push(env("3.13", "linux", "x86_64"));
    new.packages[2] = forked("lib", "2.1.0", "python_version >= '3.12'");
    new.packages[3] = forked(
        "macdep",
        "1.0.0",
        "sys_platform == 'darwin' and python_version >= '3.12'",
    );
    (old, new)
}

#[test]
fn a_universal_locks_marker_and_environment_changes_show_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = universal_pair();
    std::fs::write(dir.path().join("old.toml"), old.render()).unwrap();
    std::fs::write(dir.path().join("new.toml"), new.render()).unwrap();
    insta::assert_snapshot!(diff_ok(dir.path(), &["old.toml", "new.toml"]), @r"
    application layer: old.toml -> new.toml
      + environment python_version == '3.13' and sys_platform == 'linux' and platform_machine == 'x86_64'
      ~ lib 2.0.0 -> 2.1.0 [python_version >= '3.12']  minor upgrade (via app)
      ~ macdep 1.0.0: marker sys_platform == 'darwin' -> sys_platform == 'darwin' and python_version >= '3.12' (via app)

    2 package changes in 1 lockfile: 1 upgraded, 1 with their marker changed, environments changed in 1 lockfile
    ");
    insta::assert_snapshot!(
        diff_ok(dir.path(), &["old.toml", "new.toml", "--format", "markdown"]),
        @r"
    ## Lockfile changes

    2 package changes in 1 lockfile: 1 upgraded, 1 with their marker changed, environments changed in 1 lockfile.

    ### application layer (`old.toml -> new.toml`)

    Environments added: `python_version == '3.13' and sys_platform == 'linux' and platform_machine == 'x86_64'`.

    | package | change | old | new | kind | via |
    |---|---|---|---|---|---|
    | lib [python_version >= '3.12'] | minor upgrade | 2.0.0 | 2.1.0 | transitive | app |
    | macdep | marker sys_platform == 'darwin' -> sys_platform == 'darwin' and python_version >= '3.12' | 1.0.0 | 1.0.0 | transitive | app |
    "
    );
    let json = diff_ok(dir.path(), &["old.toml", "new.toml", "--format", "json"]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let schema: serde_json::Value =
        serde_json::from_str(&sanctuary::pylock::diff::report_json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let file = &value["files"][0];
    assert_eq!(file["environments"]["added"].as_array().unwrap().len(), 1);
    let changes = file["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{json}");
    assert_eq!(changes[0]["change"], "upgraded");
    assert_eq!(changes[0]["marker"], "python_version >= '3.12'");
    assert_eq!(changes[1]["change"], "marker-changed");
    assert_eq!(
        changes[1]["marker_change"]["old"],
        "sys_platform == 'darwin'"
    );
    assert_eq!(value["summary"]["marker_changed"], 1);
    assert_eq!(value["summary"]["environments_changed"], 1);
}
