//! Local projects of the Application (`name @ ./path`, `name @ git+URL@rev`): where their
//! source tree is (a directory relative to the manifest, or a git checkout of the commit the
//! revision names), their metadata (a static PEP 621 `[project]` table, else the build
//! backend's `prepare_metadata_for_build_wheel` in an isolated build environment), and how
//! they enter the lockfile (`[packages.directory]` relative to the lockfile, or
//! `[packages.vcs]` with the commit).

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use pep440_rs::Version;
use pep508_rs::PackageName;

use super::building::MetadataBuilder;
use crate::cache::CacheRoot;
use crate::error::{Context as _, Error, Result};
use crate::http::redact::without_credentials;
use crate::index::CoreMetadata;
use crate::manifest::{DependencyMetadata, LocalSource, Manifest};
use crate::pylock::{LocalSource as LockedSource, VcsKind};

/// A local project, located and described.
#[derive(Clone, Debug)]
pub struct LocalProject {
    pub name: PackageName,
    pub source: LocalSource,
    /// The project's source tree on this machine.
    pub tree: PathBuf,
    /// The commit a git requirement resolved to.
    pub commit: Option<String>,
    pub metadata: CoreMetadata,
}

impl LocalProject {
    /// The metadata as the resolver takes it in place of an index's.
    pub fn declared(&self) -> DependencyMetadata {
        DependencyMetadata {
            name: self.name.clone(),
            version: Some(self.metadata.version.clone()),
            requires_dist: self.metadata.requires_dist.clone(),
            requires_python: self.metadata.requires_python.clone(),
            provides_extra: self.metadata.provides_extra.clone(),
        }
    }

    /// Its `[packages.directory]` / `[packages.vcs]` entry.
    pub fn locked_source(&self) -> Result<LockedSource> {
        let mut locked = Self::source_of(&self.source)?;
        if let LockedSource::Vcs { commit_id, .. } = &mut locked {
            commit_id.clone_from(&self.commit.clone().unwrap_or_default());
        }
        Ok(locked)
    }

    /// The lockfile entry `source` (as the manifest writes it) becomes; a git entry's commit
    /// is left empty.
    pub fn source_of(source: &LocalSource) -> Result<LockedSource> {
        Ok(match source {
            LocalSource::Directory { path, editable } => LockedSource::Directory {
                path: relative_to_lockfiles(path)?,
                editable: *editable,
            },
            LocalSource::Git {
                url,
                rev,
                subdirectory,
            } => LockedSource::Vcs {
                kind: VcsKind::Git,
                url: plain_git_url(url)?,
                requested_revision: rev.clone(),
                commit_id: String::new(),
                subdirectory: subdirectory.clone(),
            },
        })
    }
}

/// A git URL as the lockfile records it: without credentials.
pub fn plain_git_url(url: &str) -> Result<String> {
    let parsed = url::Url::parse(url).with_context(|| format!("invalid git URL `{url}`"))?;
    // `git@host` over ssh names the account, not a secret.
    if parsed.scheme() == "ssh" && parsed.password().is_none() {
        return Ok(url.to_string());
    }
    Ok(without_credentials(&parsed).to_string())
}

/// `path` (relative to the manifest, as written) relative to `lockfiles/`, in its shortest
/// form.
fn relative_to_lockfiles(path: &str) -> Result<String> {
    if path.starts_with('/') {
        crate::bail!(
            "the local project `{path}` is an absolute path; write it relative to the manifest (`./libs/x`) so the lockfile works in every checkout"
        );
    }
    let mut parts: Vec<&str> = vec![".."];
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    Ok(parts.join("/"))
}

/// The directory a lockfile's `[packages.directory]` path (relative to `lockfiles/`) names.
pub fn directory_of(manifest: &Manifest, locked: &str) -> PathBuf {
    manifest.dir().join("lockfiles").join(locked)
}

/// The local projects `manifest` asks for, each located and described; `builder` runs a
/// backend when a project's metadata is not static.
pub async fn prepare(
    manifest: &Manifest,
    cache_dir: &Path,
    offline: bool,
    builder: Option<&MetadataBuilder>,
    locked: &[LockedSource],
) -> Result<Vec<LocalProject>> {
    let mut out = Vec::new();
    let cache = CacheRoot::new(cache_dir);
    for requirement in &manifest.application.requirements {
        let Some(source) = &requirement.local else {
            continue;
        };
        let name = requirement.requirement.name.clone();
        let (tree, commit) = match source {
            LocalSource::Directory { path, .. } => {
                let dir = manifest.dir().join(path);
                // Absolute, whatever `--manifest` was given as: the index names it by URL.
                let dir = std::path::absolute(&dir).unwrap_or(dir);
                if !dir.is_dir() {
                    crate::bail!(
                        "the local project `{name}` ({source}): {} is not a directory",
                        dir.display()
                    );
                }
                (dir, None)
            }
            LocalSource::Git {
                url,
                rev,
                subdirectory,
            } => {
                let (url, rev) = (url.clone(), rev.clone());
                let cache_ = cache.clone();
                // A revision already locked stays on its commit: a branch moves only with
                // `--upgrade` (or `--upgrade-package`), as versions do.
                let kept = kept_commit(source, locked);
                let (commit, checkout) = tokio::task::spawn_blocking(move || {
                    let commit = match kept {
                        Some(commit) => commit,
                        None => super::git::resolve(&cache_, &url, rev.as_deref(), offline)?,
                    };
                    let checkout = super::git::checkout(&cache_, &url, &commit, offline)?;
                    Ok::<_, Error>((commit, checkout))
                })
                .await
                .map_err(|e| Error::msg(format!("git stopped: {e}")))??;
                let tree = match subdirectory {
                    Some(sub) => checkout.join(sub),
                    None => checkout,
                };
                (tree, Some(commit))
            }
        };
        if !tree.join("pyproject.toml").is_file() && !tree.join("setup.py").is_file() {
            crate::bail!(
                "the local project `{name}` ({source}) has no pyproject.toml or setup.py at {}",
                tree.display()
            );
        }
        let metadata = metadata(&name, &tree, builder).await.with_context(|| {
            format!("cannot read the metadata of the local project `{name}` ({source})")
        })?;
        if metadata.name != name {
            crate::bail!(
                "the requirement `{}` names `{name}`, but the project at {} is `{}`",
                requirement.text,
                tree.display(),
                metadata.name
            );
        }
        out.push(LocalProject {
            name,
            source: source.clone(),
            tree,
            commit,
            metadata,
        });
    }
    Ok(out)
}

/// The commit `source` (a git requirement) is locked to in `locked`, when the lockfile has
/// the same repository, revision and subdirectory.
fn kept_commit(source: &LocalSource, locked: &[LockedSource]) -> Option<String> {
    let wanted = LocalProject::source_of(source).ok()?;
    locked.iter().find_map(|l| match (l, &wanted) {
        (
            LockedSource::Vcs {
                url,
                requested_revision,
                subdirectory,
                commit_id,
                ..
            },
            LockedSource::Vcs {
                url: u,
                requested_revision: r,
                subdirectory: s,
                ..
            },
        ) if url == u && requested_revision == r && subdirectory == s => Some(commit_id.clone()),
        _ => None,
    })
}

/// The metadata of the project at `tree`: static, else from its build backend.
async fn metadata(
    name: &PackageName,
    tree: &Path,
    builder: Option<&MetadataBuilder>,
) -> Result<CoreMetadata> {
    let pyproject = super::building::read_pyproject(tree)
        .with_context(|| format!("cannot read {}", tree.join("pyproject.toml").display()))?;
    if let Some(text) = &pyproject {
        let (found, version) = static_identity(text);
        if let Some(found) = found
            && &found != name
        {
            crate::bail!(
                "the requirement names `{name}`, but the project at {} is `{found}`",
                tree.display()
            );
        }
        if let Some(version) = version
            && let Some(meta) = crate::sdist::from_pyproject(text, name, &version)?
        {
            return Ok(meta);
        }
    }
    let Some(builder) = builder else {
        crate::bail!("its metadata is not static, and building is off");
    };
    let system = crate::sdist::build_system(pyproject.as_deref())?;
    builder.tree_metadata(name, tree, &system).await
}

/// `[project] name` and `version`, each when it is written (not `dynamic`) and valid.
fn static_identity(pyproject: &str) -> (Option<PackageName>, Option<Version>) {
    let Ok(table) = toml::from_str::<toml::Table>(pyproject) else {
        return (None, None);
    };
    let field = |key: &str| table.get("project")?.get(key)?.as_str();
    (
        field("name").and_then(|n| n.parse().ok()),
        field("version").and_then(|v| Version::from_str(v).ok()),
    )
}

/// Files and directories left out of a project's fingerprint: version control, caches and
/// what builds write. Directories holding a `pyvenv.cfg` (a venv) are left out too, and so are
/// the ones sanctuary writes beside the manifest (`skip`).
const UNFINGERPRINTED: &[&str] = &[
    ".git",
    ".hg",
    ".venv",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
];

/// Left out at the top of the tree only (a subpackage may be called `build`): what builds and
/// tools write there.
const UNFINGERPRINTED_AT_TOP: &[&str] =
    &["build", "dist", ".tox", ".nox", "node_modules", "target"];

/// The most files a fingerprint reads; a larger tree is fingerprinted by its first ones (in
/// sorted order), which keeps a no-op sync fast.
const MAX_FINGERPRINT_FILES: usize = 20_000;

/// A file larger than this is fingerprinted by its size and modification time instead of its
/// contents.
const MAX_HASHED_FILE: u64 = 16 << 20;

/// What an install of the directory `tree` depends on: for an editable install its build
/// files (`pyproject.toml`, `setup.py`, `setup.cfg`: the code itself is read live), else every
/// source file's path and contents — contents, not times, so that a build writing a file with
/// the same contents (a version file) or a tool touching the tree does not make the next sync
/// rebuild. `skip` lists directories to leave out (the venv, `lockfiles/`, `reports/`).
pub fn tree_fingerprint(tree: &Path, editable: bool, skip: &[PathBuf]) -> Result<String> {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    if editable {
        for file in ["pyproject.toml", "setup.py", "setup.cfg"] {
            h.update(file.as_bytes());
            if let Ok(bytes) = std::fs::read(tree.join(file)) {
                h.update(Sha256::digest(&bytes));
            }
            h.update([0]);
        }
        return Ok(hex::encode(h.finalize()));
    }
    let mut stack = vec![tree.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .flatten()
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries.into_iter().rev() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            if UNFINGERPRINTED.contains(&name.as_ref())
                || (dir == tree && UNFINGERPRINTED_AT_TOP.contains(&name.as_ref()))
                || name.ends_with(".egg-info")
                || skip.contains(&path)
            {
                continue;
            }
            // Not followed: a link is fingerprinted by where it points.
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                // A virtual environment inside the project (the one sync installs into,
                // whatever its name) is not the project's source.
                if !path.join("pyvenv.cfg").is_file() {
                    stack.push(path);
                }
                continue;
            }
            seen += 1;
            if seen > MAX_FINGERPRINT_FILES {
                return Ok(hex::encode(h.finalize()));
            }
            let rel = path.strip_prefix(tree).unwrap_or(&path);
            h.update(rel.to_string_lossy().as_bytes());
            h.update([0]);
            if meta.is_symlink() {
                let target = std::fs::read_link(&path).unwrap_or_default();
                h.update(target.to_string_lossy().as_bytes());
            } else if meta.len() <= MAX_HASHED_FILE
                && let Ok(bytes) = std::fs::read(&path)
            {
                h.update(Sha256::digest(&bytes));
            } else {
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos());
                h.update(format!("{} {modified}", meta.len()).as_bytes());
            }
            h.update([1]);
        }
    }
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_relative_to_the_lockfiles_directory() {
        assert_eq!(relative_to_lockfiles(".").unwrap(), "..");
        assert_eq!(relative_to_lockfiles("./libs/x").unwrap(), "../libs/x");
        assert_eq!(relative_to_lockfiles("../mono/x/").unwrap(), "../../mono/x");
        assert!(relative_to_lockfiles("/srv/x").is_err());
    }

    /// Regression: the fingerprint used modification times, so a tool touching the tree, a
    /// venv or `reports/` inside it, or a build rewriting a file made every sync rebuild.
    #[test]
    fn a_fingerprint_follows_contents_not_times_venvs_or_skipped_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path();
        std::fs::create_dir_all(tree.join("pkg")).unwrap();
        std::fs::write(tree.join("pkg/__init__.py"), "A = 1\n").unwrap();
        let print = || tree_fingerprint(tree, false, &[tree.join("reports")]).unwrap();
        let first = print();
        // Rewritten with the same contents: the same.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(tree.join("pkg/__init__.py"), "A = 1\n").unwrap();
        assert_eq!(print(), first);
        // A venv, a skipped directory: the same.
        std::fs::create_dir_all(tree.join("env/lib")).unwrap();
        std::fs::write(tree.join("env/pyvenv.cfg"), "home = /usr\n").unwrap();
        std::fs::write(tree.join("env/lib/x.py"), "x\n").unwrap();
        std::fs::create_dir_all(tree.join("reports")).unwrap();
        std::fs::write(tree.join("reports/doctor.json"), "{}").unwrap();
        assert_eq!(print(), first);
        // New contents, a new file: different.
        std::fs::write(tree.join("pkg/__init__.py"), "A = 2\n").unwrap();
        let changed = print();
        assert_ne!(changed, first);
        std::fs::write(tree.join("pkg/more.py"), "").unwrap();
        assert_ne!(print(), changed);
    }

    #[test]
    fn a_venv_inside_the_project_does_not_change_its_fingerprint() {
        let tree = tempfile::tempdir().unwrap();
        std::fs::write(tree.path().join("pyproject.toml"), "[project]\n").unwrap();
        let venv = tree.path().join("env-cu130");
        std::fs::create_dir_all(venv.join("lib")).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let before = tree_fingerprint(tree.path(), false, &[]).unwrap();
        std::fs::write(venv.join("lib/installed.py"), "x = 1\n").unwrap();
        assert_eq!(tree_fingerprint(tree.path(), false, &[]).unwrap(), before);
        std::fs::write(tree.path().join("module.py"), "x = 1\n").unwrap();
        assert_ne!(tree_fingerprint(tree.path(), false, &[]).unwrap(), before);
    }

    #[test]
    fn git_urls_lose_their_credentials_but_ssh_keeps_its_user() {
        assert_eq!(
            plain_git_url("https://bob:secret@example.com/r.git").unwrap(),
            "https://example.com/r.git"
        );
        assert_eq!(
            plain_git_url("ssh://git@example.com/r.git").unwrap(),
            "ssh://git@example.com/r.git"
        );
    }
}
