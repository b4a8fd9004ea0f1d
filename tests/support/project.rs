//! Local projects for path, editable and `git+file://` tests: a directory holding the same
//! buildable tree as a version's sdist but without `PKG-INFO` (`pyproject.toml`, the in-tree
//! backend under `_backend/`, the package sources; see `sdistgen`), and a git repository made
//! of one with deterministic commits.
//!
//! ```ignore
//! let spec = VersionSpec::new()
//!     .requires(["dep>=1"])
//!     .build(BuildSpec::new().metadata(MetadataMode::Pyproject));
//! project::write_project(&dir, "app", "1.0.0", &spec)?;
//! let commit = project::git_commit_all(&dir, "initial");
//! // "app @ git+file://{dir}@{commit}"
//! ```

use std::path::Path;
use std::process::Command;

use super::scenario::{BuildSpec, VersionSpec};
use super::sdistgen::source_tree;

/// The author and committer date of every commit `git_commit_all` makes.
pub const GIT_DATE: &str = "2024-01-01T00:00:00+00:00";

/// Writes the buildable tree of `name` `version` into `dir` (created if missing; files there
/// are overwritten, others left alone). `spec.build` picks the backend's behaviour; a spec
/// without one gets the default [`BuildSpec`].
pub fn write_project(
    dir: &Path,
    name: &str,
    version: &str,
    spec: &VersionSpec,
) -> std::io::Result<()> {
    for (path, bytes) in source_tree(name, version, spec, false) {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(target, bytes)?;
    }
    Ok(())
}

/// [`write_project`] for a version whose only setting is its `build` table.
pub fn write_build_project(
    dir: &Path,
    name: &str,
    version: &str,
    build: BuildSpec,
) -> std::io::Result<()> {
    write_project(dir, name, version, &VersionSpec::new().build(build))
}

/// Makes `dir` a git repository (when it is not one yet), commits everything in it with
/// `message` and returns the new commit's full hash. Commits are deterministic: fixed
/// author, committer and dates, no user or system git configuration, branch `main`, so the
/// same tree and history give the same hash. Panics with git's output on failure (tests only).
pub fn git_commit_all(dir: &Path, message: &str) -> String {
    if !dir.join(".git").exists() {
        git(dir, &["init", "--quiet", "--initial-branch=main"]);
    }
    git(dir, &["add", "--all"]);
    git(
        dir,
        &[
            "commit",
            "--quiet",
            "--allow-empty",
            "--no-verify",
            "-m",
            message,
        ],
    );
    git(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

/// Tags `HEAD` of the repository in `dir` (a lightweight tag).
pub fn git_tag(dir: &Path, tag: &str) {
    git(dir, &["tag", tag]);
}

/// Runs `git -C dir args…` isolated from the user's configuration; its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Sanctuary Tests"])
        .args(["-c", "user.email=tests@sanctuary.invalid"])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(["-c", "core.autocrlf=false"])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Sanctuary Tests")
        .env("GIT_AUTHOR_EMAIL", "tests@sanctuary.invalid")
        .env("GIT_COMMITTER_NAME", "Sanctuary Tests")
        .env("GIT_COMMITTER_EMAIL", "tests@sanctuary.invalid")
        .env("GIT_AUTHOR_DATE", GIT_DATE)
        .env("GIT_COMMITTER_DATE", GIT_DATE)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run git {args:?}: {e}"));
    assert!(
        output.status.success(),
        "git {args:?} in {} failed: {}{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
