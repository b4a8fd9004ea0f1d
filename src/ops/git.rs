//! Git requirements (`name @ git+URL@rev`): the repository fetched into the cache
//! (`git/db/<digest of the URL>`, a bare repository), a revision resolved to its commit, and a
//! commit checked out once (`git/checkouts/<commit>/`, renamed into place when whole). Runs
//! the `git` on PATH with the URL and revision as plain arguments after `--`-safe checks (a
//! revision never starts with `-`), no credential prompts, and no hooks or config from the
//! repository applied to sanctuary's own checkouts beyond what `git checkout` does.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cache::CacheRoot;
use crate::error::{Error, Result};

/// How long one git command may run (a clone of a large repository over a slow link).
const GIT_TIMEOUT: Duration = Duration::from_secs(900);

/// The repository at `url` in the cache, fetched (all branches and tags) unless `offline`.
fn database(cache: &CacheRoot, url: &str, offline: bool) -> Result<PathBuf> {
    use sha2::{Digest as _, Sha256};
    let dir = cache
        .git()
        .join("db")
        .join(&hex::encode(Sha256::digest(url.as_bytes()))[..32]);
    if !dir.join("HEAD").is_file() {
        if offline {
            crate::bail!(
                "the git repository {url} is not in the cache, and --offline forbids network access"
            );
        }
        std::fs::create_dir_all(&dir)?;
        git(None, &["init", "--quiet", "--bare"], &dir)?;
    }
    if !offline {
        git(
            Some(&dir),
            &[
                "fetch",
                "--quiet",
                "--force",
                "--tags",
                "--",
                url,
                "+HEAD:refs/remotes/origin/HEAD",
                "+refs/heads/*:refs/remotes/origin/*",
            ],
            &dir,
        )?;
    }
    Ok(dir)
}

/// The commit `rev` (a branch, tag or commit; the default branch when `None`) names in the
/// repository at `url`.
pub fn resolve(cache: &CacheRoot, url: &str, rev: Option<&str>, offline: bool) -> Result<String> {
    if let Some(rev) = rev
        && rev.starts_with('-')
    {
        crate::bail!("invalid git revision `{rev}` for {url}");
    }
    let db = database(cache, url, offline)?;
    let candidates: Vec<String> = match rev {
        None => vec!["refs/remotes/origin/HEAD".to_string()],
        Some(rev) => vec![
            format!("refs/remotes/origin/{rev}"),
            format!("refs/tags/{rev}"),
            rev.to_string(),
        ],
    };
    let find = || {
        candidates.iter().find_map(|candidate| {
            let spec = format!("{candidate}^{{commit}}");
            let out = git(Some(&db), &["rev-parse", "--verify", "--quiet", &spec], &db).ok()?;
            let commit = out.trim().to_ascii_lowercase();
            is_commit(&commit).then_some(commit)
        })
    };
    if let Some(commit) = find() {
        return Ok(commit);
    }
    // A full commit no branch or tag reaches (a pull request's): asked for by itself.
    if let Some(rev) = rev
        && is_commit(rev)
        && !offline
        && fetch_commit(&db, url, rev).is_ok()
        && let Some(commit) = find()
    {
        return Ok(commit);
    }
    crate::bail!(
        "the git repository {url} has no revision `{}`",
        rev.unwrap_or("HEAD")
    )
}

/// A checkout of `commit` of the repository at `url`, made once and kept.
pub fn checkout(cache: &CacheRoot, url: &str, commit: &str, offline: bool) -> Result<PathBuf> {
    if commit.len() != 40 || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        crate::bail!("invalid git commit `{commit}` for {url}");
    }
    let checkouts = cache.git().join("checkouts");
    let dest = checkouts.join(commit);
    if dest.join(".git").exists() {
        return Ok(dest);
    }
    let mut db = database(cache, url, true);
    let has_commit = |db: &Path| {
        git(
            Some(db),
            &["cat-file", "-e", &format!("{commit}^{{commit}}")],
            db,
        )
        .is_ok()
    };
    if !db.as_ref().is_ok_and(|db| has_commit(db)) {
        db = database(cache, url, offline);
    }
    let db = db?;
    if !has_commit(&db) && !offline {
        let _ = fetch_commit(&db, url, commit);
    }
    if !has_commit(&db) {
        crate::bail!("the git repository {url} has no commit {commit}");
    }
    std::fs::create_dir_all(&checkouts)?;
    let tmp = tempfile::Builder::new()
        .prefix(".checkout-")
        .tempdir_in(&checkouts)?;
    let work = tmp.path().join("tree");
    clone_at(&db, commit, &work)?;
    match std::fs::rename(&work, &dest) {
        Ok(()) => Ok(dest),
        Err(_) if dest.join(".git").exists() => Ok(dest),
        Err(e) => {
            Err(Error::from(e).context(format!("cannot keep the checkout {}", dest.display())))
        }
    }
}

/// The variables that point git at a repository (the local ones `git rev-parse` lists). A git
/// hook exports some of them for the user's repository; sanctuary's commands name their own
/// repository, so none of them is passed on.
const REPOSITORY_VARS: &[&str] = &[
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
];

/// A private working copy of `commit` at `dest` (not existing yet), sharing the objects of
/// the repository `repo` (the cache's, or a checkout): what a build runs in, so that two builds
/// of one commit never share a directory, a build's leftovers never reach the next, and tools
/// that read the history (setuptools-scm) find it.
pub fn clone_at(repo: &Path, commit: &str, dest: &Path) -> Result<()> {
    let (repo_text, dest_text) = (
        repo.to_string_lossy().into_owned(),
        dest.to_string_lossy().into_owned(),
    );
    let parent = dest.parent().unwrap_or(Path::new("."));
    let clone = [
        "clone",
        "--quiet",
        "--shared",
        "--no-checkout",
        "--",
        &repo_text,
        &dest_text,
    ];
    git(None, &clone, parent)?;
    let checkout = [
        "-c",
        "advice.detachedHead=false",
        "checkout",
        "--quiet",
        commit,
    ];
    git(Some(&dest.join(".git")), &checkout, dest).map(|_| ())
}

/// Whether `text` is a full commit id (40 hex digits).
fn is_commit(text: &str) -> bool {
    text.len() == 40 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Fetch the one commit `commit` of `url` into `db` (servers that allow it serve commits no
/// ref reaches).
fn fetch_commit(db: &Path, url: &str, commit: &str) -> Result<()> {
    git(Some(db), &["fetch", "--quiet", "--", url, commit], db).map(|_| ())
}

/// Run `git args` (on the repository `git_dir` when given) in `cwd`; its stdout.
fn git(git_dir: Option<&Path>, args: &[&str], cwd: &Path) -> Result<String> {
    let mut command = Command::new("git");
    for var in REPOSITORY_VARS {
        command.env_remove(var);
    }
    if let Some(dir) = git_dir {
        command.arg("--git-dir").arg(dir);
    }
    command
        .args(args)
        .current_dir(cwd)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command
        .spawn()
        .map_err(|e| Error::msg(format!("cannot run git (is it installed?): {e}")))?;
    let Some(out) = crate::process::wait_with_output_within(child, GIT_TIMEOUT)? else {
        crate::bail!(
            "git {} did not finish within {} s",
            args.first().copied().unwrap_or_default(),
            GIT_TIMEOUT.as_secs()
        );
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        crate::bail!(
            "git {} failed ({}): {}",
            args.first().copied().unwrap_or_default(),
            out.status,
            crate::http::redact::redact_text(err.trim())
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
