//! Building from source for `lock` and `sync`. Build backends are code from a package's
//! authors and run as the user; `[build] no-build` keeps every one of them from running.
//!
//! - At lock time, [`MetadataBuilder`] is the [`SdistBuilder`] of the lock's `IndexSet`: an sdist
//!   without static metadata is unpacked ([`crate::sdist::unpack`]) and its backend's
//!   `prepare_metadata_for_build_wheel` runs in an isolated build environment
//!   ([`crate::build`]) made with the manifest's Python. The index caches the result by the
//!   sdist's sha256.
//! - At sync time, [`build_wheels`] turns every locked sdist the plan installs into a wheel:
//!   from the built-wheel cache when it holds one for the same key, else fetched (verified),
//!   unpacked and built — isolated, or for the packages `[build.package.<name>] foundation`
//!   lists, without isolation in an environment holding exactly the key's Foundation and
//!   their declared requirements. A built wheel must be the locked name and version, and its
//!   dependencies must be those the lockfile records. It is then unpacked like any wheel.
//!
//! The built-wheel cache key (`built/<key>/`) is the sdist's sha256, the interpreter
//! (implementation, version, platform) and the recipe's digest ([`BuildRecipe::id`]: the
//! declared requirements and variables, and for a Foundation build the key and every
//! Foundation pin and artifact). An isolated build's environment is fixed by the sdist's own
//! `build-system.requires`, which its sha256 already fixes, so a new setuptools release does
//! not rebuild; a change of torch does.

// The `SdistBuilder` interface answers in `IndexError`s (the index's own error type, large
// because it carries the URL at fault); see `src/index/mod.rs`.
#![allow(clippy::result_large_err)]
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use pep508_rs::{ExtraName, PackageName};

use crate::build::{BuildContext, BuildError, EnvChoice, EnvWheel, SourceTree};
use crate::cache::CacheRoot;
use crate::error::{Context as _, Error, Result};
use crate::http::HttpClient;
use crate::index::sdist_fetch::{SdistRequest, fetch_sdist, hash_file};
use crate::index::sdist_metadata::{BoxFuture, SdistBuilder};
use crate::index::{CoreMetadata, DistFile, IndexError, IndexSet, PackageFiles};
use crate::install::UnpackedWheel;
use crate::install::fetch::{Artifact, WheelCache, fetch};
use crate::install::plan::{BuildRecipe, Desired, LocalBuild};
use crate::install::venv::Interpreter;
use crate::manifest::{Manifest, PackageBuildSpec};
use crate::target::Target;

/// The static metadata of the sdist at `path` (a `PKG-INFO` of Metadata-Version 2.2+ whose
/// dependencies are not `Dynamic`, else a static `[project]` table), if it has some.
pub fn static_metadata(
    path: &Path,
    filename: &str,
    name: &PackageName,
    version: &pep440_rs::Version,
) -> std::result::Result<Option<CoreMetadata>, IndexError> {
    let bad = |e: crate::sdist::SdistError| IndexError::BadMetadata {
        file: filename.to_string(),
        reason: e.to_string(),
    };
    let limits = crate::sdist::Limits::default();
    let files = crate::sdist::read_static_files(path, filename, &limits).map_err(bad)?;
    if let Some(pkg_info) = &files.pkg_info
        && let Some(meta) = crate::sdist::from_pkg_info(pkg_info, name, version).map_err(bad)?
    {
        return Ok(Some(meta));
    }
    if let Some(pyproject) = &files.pyproject {
        let text = std::str::from_utf8(pyproject).map_err(|_| IndexError::BadMetadata {
            file: filename.to_string(),
            reason: "pyproject.toml is not UTF-8".to_string(),
        })?;
        return crate::sdist::from_pyproject(text, name, version).map_err(bad);
    }
    Ok(None)
}

/// [`static_metadata`] on the blocking pool.
async fn read_static(
    package: &PackageFiles,
    file: &DistFile,
    sdist: &crate::index::sdist_fetch::SdistFile,
) -> std::result::Result<Option<CoreMetadata>, IndexError> {
    let path = sdist.path.clone();
    let filename = file.filename.clone();
    let name = package.name.clone();
    let version = file.parsed.version().clone();
    tokio::task::spawn_blocking(move || static_metadata(&path, &filename, &name, &version))
        .await
        .map_err(|e| IndexError::Other(format!("reading {}: {e}", file.filename)))?
}

/// Reads sdists' static metadata and never runs a build backend: for callers that resolve
/// with building off, and for tests.
pub struct StaticMetadata;

impl SdistBuilder for StaticMetadata {
    fn metadata<'a>(
        &'a self,
        package: &'a PackageFiles,
        file: &'a DistFile,
        sdist: &'a crate::index::sdist_fetch::SdistFile,
    ) -> BoxFuture<'a, std::result::Result<CoreMetadata, IndexError>> {
        Box::pin(async move {
            read_static(package, file, sdist)
                .await?
                .ok_or_else(|| IndexError::SdistMetadata {
                    file: file.filename.clone(),
                    reason: "its metadata is not static, and building is off".to_string(),
                })
        })
    }
}

/// Reads sdists' metadata at lock time: static where it can, else by running the build
/// backend (unless building is off).
pub struct MetadataBuilder {
    /// The indexes build requirements come from (a set without a builder: build requirements
    /// are wheels).
    set: Arc<IndexSet>,
    client: HttpClient,
    cache_dir: PathBuf,
    offline: bool,
    timeout: Duration,
    /// The Pythons the metadata hook may run on, preferred first ([`backend_pythons`]).
    pythons: Vec<String>,
    /// The first of them found, on first use.
    interpreter: OnceLock<std::result::Result<Interpreter, String>>,
    /// `[build.package.<name>]`: declared build variables and requirements.
    packages: BTreeMap<PackageName, PackageBuildSpec>,
    /// `[build] no-build`: never run a backend for an sdist.
    no_build: bool,
}

/// The Pythons a metadata hook may run on, preferred first: the manifest's (`3.12.4` as
/// written), or for a range the declared minors, newest first. A lock over several minors
/// asks an sdist's backend once, on the newest found (the metadata is cached by the sdist's
/// sha256); declare `[[build.dependency-metadata]]` for a package whose dependencies differ by
/// Python in ways its markers do not say.
fn backend_pythons(manifest: &Manifest) -> Vec<String> {
    let mut minors = manifest.universe.python_minors();
    if minors.len() <= 1 {
        return vec![manifest.python.clone()];
    }
    minors.reverse();
    minors
}

impl MetadataBuilder {
    /// A builder for `manifest`, resolving build requirements on `set`.
    pub fn new(
        manifest: &Manifest,
        set: Arc<IndexSet>,
        client: HttpClient,
        settings: &crate::index::IndexSettings,
    ) -> MetadataBuilder {
        MetadataBuilder {
            set,
            client,
            cache_dir: settings.cache_dir.clone(),
            offline: settings.offline,
            timeout: Duration::from_secs(manifest.build.timeout_secs),
            pythons: backend_pythons(manifest),
            interpreter: OnceLock::new(),
            packages: manifest.build.packages.clone(),
            no_build: manifest.build.no_build,
        }
    }

    fn interpreter(&self) -> std::result::Result<&Interpreter, String> {
        self.interpreter
            .get_or_init(|| {
                crate::install::venv::find_any_interpreter(&self.pythons, None).map_err(|e| {
                    format!(
                        "running its build backend needs Python {}: {e}",
                        self.pythons.join(" or ")
                    )
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn build_metadata(
        &self,
        package: &PackageFiles,
        file: &DistFile,
        sdist: &crate::index::sdist_fetch::SdistFile,
    ) -> std::result::Result<CoreMetadata, IndexError> {
        if let Some(meta) = read_static(package, file, sdist).await? {
            tracing::debug!("{}: static metadata", file.filename);
            return Ok(meta);
        }
        let label = format!("{} {} (sdist)", package.name, file.parsed.version());
        let failed = |reason: String| IndexError::SdistMetadata {
            file: file.filename.clone(),
            reason,
        };
        if self.no_build {
            return Err(failed(
                "its metadata is not static, and building is off".to_string(),
            ));
        }
        let scratch = scratch_in(&self.cache_dir).map_err(|e| failed(e.to_string()))?;
        let (tree, system) = unpack_tree(&sdist.path, &file.filename, scratch.path())
            .await
            .map_err(|e| failed(e.to_string()))?;
        self.run_metadata_hook(&package.name, &label, &tree, &system)
            .await
            .map_err(failed)
    }

    /// The metadata of the local project `name` at `tree`, from its build backend.
    pub async fn tree_metadata(
        &self,
        name: &PackageName,
        tree: &Path,
        system: &crate::sdist::BuildSystem,
    ) -> Result<CoreMetadata> {
        let label = format!("{name} (local project)");
        self.run_metadata_hook(name, &label, tree, system)
            .await
            .map_err(Error::msg)
    }

    /// `prepare_metadata_for_build_wheel` of the tree at `tree`, in an isolated environment;
    /// errors as one message.
    async fn run_metadata_hook(
        &self,
        name: &PackageName,
        label: &str,
        tree: &Path,
        system: &crate::sdist::BuildSystem,
    ) -> std::result::Result<CoreMetadata, String> {
        let interpreter = self.interpreter()?;
        tracing::info!("{label}: running its build backend for its metadata");
        let context = BuildContext {
            source: Arc::clone(&self.set),
            client: &self.client,
            cache_dir: &self.cache_dir,
            offline: self.offline,
            interpreter,
            timeout: self.timeout,
            salt: String::new(),
        };
        let declared = self.packages.get(name).cloned().unwrap_or_default();
        let vars: Vec<(String, String)> = declared.env.into_iter().collect();
        let mut system = system.clone();
        system.requires.extend(declared.requires);
        let source = SourceTree {
            path: tree,
            system: &system,
            label,
        };
        context
            .build_metadata(source, &EnvChoice::Isolated, &vars)
            .await
            .map_err(|e| report(&e))
    }
}

impl SdistBuilder for MetadataBuilder {
    fn metadata<'a>(
        &'a self,
        package: &'a PackageFiles,
        file: &'a DistFile,
        sdist: &'a crate::index::sdist_fetch::SdistFile,
    ) -> BoxFuture<'a, std::result::Result<CoreMetadata, IndexError>> {
        Box::pin(self.build_metadata(package, file, sdist))
    }
}

/// A build error with its causes, in one message (an index error holds text only).
fn report(err: &BuildError) -> String {
    let mut text = err.to_string();
    let mut cause = std::error::Error::source(err);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// A private directory under the cache for one build's source tree (on the cache's file
/// system, next to what it produces).
fn scratch_in(cache_dir: &Path) -> std::io::Result<tempfile::TempDir> {
    let dir = CacheRoot::new(cache_dir).built();
    std::fs::create_dir_all(&dir)?;
    tempfile::Builder::new().prefix(".build-").tempdir_in(&dir)
}

/// Unpack the sdist at `archive` into `dest` (on the blocking pool): its source tree and its
/// `[build-system]`.
async fn unpack_tree(
    archive: &Path,
    filename: &str,
    dest: &Path,
) -> Result<(PathBuf, crate::sdist::BuildSystem)> {
    let (archive, filename, dest) = (
        archive.to_path_buf(),
        filename.to_string(),
        dest.to_path_buf(),
    );
    tokio::task::spawn_blocking(move || {
        let tree =
            crate::sdist::unpack(&archive, &filename, &dest, &crate::sdist::Limits::default())?;
        let pyproject = read_pyproject(&tree)
            .with_context(|| format!("cannot read pyproject.toml of {filename}"))?;
        let system = crate::sdist::build_system(pyproject.as_deref())?;
        Ok((tree, system))
    })
    .await
    .map_err(|e| Error::msg(format!("unpacking stopped: {e}")))?
}

/// The `pyproject.toml` of the source tree `tree` as UTF-8 text, `None` when there is none;
/// at most [`crate::sdist::MAX_PYPROJECT_BYTES`], as the sdist reader caps it.
pub(crate) fn read_pyproject(tree: &Path) -> std::io::Result<Option<String>> {
    use crate::sdist::MAX_PYPROJECT_BYTES;
    use std::io::Read as _;
    let file = match std::fs::File::open(tree.join("pyproject.toml")) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    file.take(MAX_PYPROJECT_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_PYPROJECT_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB",
            MAX_PYPROJECT_BYTES >> 20
        )));
    }
    Ok(Some(text))
}

/// What [`build_wheels`] needs besides the sdists.
pub struct WheelBuilds<'a> {
    pub manifest: &'a Manifest,
    /// The indexes build requirements come from.
    pub set: Arc<IndexSet>,
    pub client: &'a HttpClient,
    pub cache_dir: &'a Path,
    pub offline: bool,
    /// The venv's base interpreter: wheels are built for it.
    pub interpreter: &'a Interpreter,
    /// The key's Foundation as the venv gets it, for Foundation builds.
    pub foundation: &'a [Desired],
}

/// What a build did, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Built {
    /// Packages built now, as `name version`.
    pub built: Vec<String>,
    /// Packages whose wheel the cache held.
    pub cached: Vec<String>,
}

/// The unpacked wheel of every `desired` sdist (by the sdist's sha256), built or taken from
/// the built-wheel cache; see the module documentation.
pub async fn build_wheels(
    builds: &WheelBuilds<'_>,
    desired: &[&Desired],
    on_build: &(dyn Fn(&str) + Sync),
) -> Result<(HashMap<String, UnpackedWheel>, Built)> {
    let mut out = HashMap::new();
    let mut report = Built::default();
    let cache = WheelCache::new(builds.cache_dir);
    // Foundation environments by their declared requirements: each package gets exactly
    // the Foundation plus its own `requires`.
    let mut foundation_envs: HashMap<Vec<String>, crate::build::BuildEnv> = HashMap::new();
    for want in desired {
        let Some(recipe) = &want.build else { continue };
        let shown = format!("{} {}", want.name, want.version);
        let key = built_key(&want.artifact.sha256, builds.interpreter, recipe);
        let (wheel, fresh) = match cached_wheel(builds.cache_dir, &key)? {
            Some(wheel) => (wheel, false),
            None => {
                on_build(&match recipe.local {
                    Some(_) => format!("{shown} (local project)"),
                    None => format!("{shown} from its source distribution"),
                });
                let choice = if recipe.foundation {
                    let requires: Vec<String> =
                        recipe.requires.iter().map(ToString::to_string).collect();
                    let env = match foundation_envs.get(&requires) {
                        Some(env) => env.clone(),
                        None => {
                            let env = make_foundation_env(builds, recipe, &shown).await?;
                            foundation_envs.insert(requires, env.clone());
                            env
                        }
                    };
                    EnvChoice::Given(env)
                } else {
                    EnvChoice::Isolated
                };
                (build_one(builds, want, recipe, &key, &choice).await?, true)
            }
        };
        check_built(&builds.manifest.target, want, recipe, &wheel)?;
        let sha256 = hash_file(&wheel)?;
        let artifact = Artifact {
            package: shown.clone(),
            filename: file_name(&wheel),
            url: url::Url::from_file_path(&wheel)
                .map_err(|()| Error::msg(format!("{} is not an absolute path", wheel.display())))?,
            size: None,
            sha256,
            index: want.artifact.index.clone(),
        };
        let (unpacked, _) = fetch(builds.client, &cache, &artifact, true, Arc::new(|_| {})).await?;
        out.insert(want.artifact.sha256.clone(), unpacked);
        if fresh {
            report.built.push(shown);
        } else {
            report.cached.push(shown);
        }
    }
    Ok((out, report))
}

/// The environment Foundation builds run in: the key's Foundation wheels and `recipe`'s
/// requirements.
async fn make_foundation_env(
    builds: &WheelBuilds<'_>,
    recipe: &BuildRecipe,
    shown: &str,
) -> Result<crate::build::BuildEnv> {
    let cache = WheelCache::new(builds.cache_dir);
    let mut wheels = Vec::new();
    for d in builds.foundation {
        let (unpacked, _) = fetch(
            builds.client,
            &cache,
            &d.artifact,
            builds.offline,
            Arc::new(|_| {}),
        )
        .await?;
        wheels.push(EnvWheel {
            desired: d.clone(),
            unpacked,
        });
    }
    let context = context(builds);
    let label = format!("{shown} (against the Foundation)");
    Ok(
        crate::build::foundation_env(&context, wheels, &recipe.requires, "foundation", &label)
            .await?,
    )
}

fn context<'a>(builds: &'a WheelBuilds<'a>) -> BuildContext<'a, IndexSet> {
    BuildContext {
        source: Arc::clone(&builds.set),
        client: builds.client,
        cache_dir: builds.cache_dir,
        offline: builds.offline,
        interpreter: builds.interpreter,
        timeout: Duration::from_secs(builds.manifest.build.timeout_secs),
        salt: String::new(),
    }
}

/// Fetch, unpack and build `want`'s sdist; the wheel, kept in the cache under `key`.
async fn build_one(
    builds: &WheelBuilds<'_>,
    want: &Desired,
    recipe: &BuildRecipe,
    key: &str,
    choice: &EnvChoice,
) -> Result<PathBuf> {
    let shown = format!("{} {}", want.name, want.version);
    let root = CacheRoot::new(builds.cache_dir);
    let scratch = scratch_in(builds.cache_dir)?;
    let (tree, system, label) = match &recipe.local {
        None => {
            let sdist = fetch_sdist(
                builds.client,
                &root,
                SdistRequest {
                    index: &want.artifact.index,
                    url: &want.artifact.url,
                    filename: &want.artifact.filename,
                    sha256: Some(&want.artifact.sha256),
                    offline: builds.offline,
                },
            )
            .await?;
            let dest = scratch.path().join("src");
            let (tree, system) = unpack_tree(&sdist.path, &want.artifact.filename, &dest).await?;
            (tree, system, format!("{shown} (sdist)"))
        }
        Some(local) => {
            let tree = local_tree(&root, local, builds.offline, scratch.path()).await?;
            let pyproject = read_pyproject(&tree)?;
            let system = crate::sdist::build_system(pyproject.as_deref())?;
            (tree, system, format!("{shown} (local project)"))
        }
    };
    let out_dir = scratch.path().join("dist");
    std::fs::create_dir_all(&out_dir)?;
    // An isolated build gets the declared requirements beside the project's own (a
    // Foundation build has them in its environment already).
    let mut system = system;
    if !recipe.foundation {
        system.requires.extend(recipe.requires.iter().cloned());
    }
    let source = SourceTree {
        path: &tree,
        system: &system,
        label: &label,
    };
    let vars: Vec<(String, String)> = recipe
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let editable = matches!(
        recipe.local,
        Some(LocalBuild::Directory { editable: true, .. })
    );
    let context = context(builds);
    let built = if editable {
        context
            .build_editable(source, choice, &vars, &out_dir)
            .await?
    } else {
        context.build_wheel(source, choice, &vars, &out_dir).await?
    };
    // Kept only once it is whole: the directory is renamed into place.
    let staged = scratch.path().join("keep");
    std::fs::create_dir_all(&staged)?;
    let name = file_name(&built);
    std::fs::rename(&built, staged.join(&name))?;
    let dest = root.built().join(key);
    match std::fs::rename(&staged, &dest) {
        Ok(()) => {}
        // Another process built it meanwhile: theirs is as good.
        Err(_) if dest.join(&name).is_file() => {}
        Err(e) => {
            return Err(Error::from(e).context(format!(
                "cannot keep the wheel built from {shown} in {}",
                dest.display()
            )));
        }
    }
    Ok(dest.join(name))
}

/// The source tree of a local project: the directory, or a private working copy of the
/// commit in `scratch` (see [`super::git::clone_at`]).
async fn local_tree(
    root: &CacheRoot,
    local: &LocalBuild,
    offline: bool,
    scratch: &Path,
) -> Result<PathBuf> {
    match local {
        LocalBuild::Directory { tree, .. } => Ok(tree.clone()),
        LocalBuild::Git {
            url,
            commit,
            subdirectory,
            ..
        } => {
            let (root, url, commit) = (root.clone(), url.clone(), commit.clone());
            let tree = scratch.join("src");
            let dest = tree.clone();
            tokio::task::spawn_blocking(move || {
                let checkout = super::git::checkout(&root, &url, &commit, offline)?;
                super::git::clone_at(&checkout, &commit, &dest)
            })
            .await
            .map_err(|e| Error::msg(format!("git stopped: {e}")))??;
            Ok(match subdirectory {
                Some(sub) => tree.join(sub),
                None => tree,
            })
        }
    }
}

/// The wheel the cache holds under `key`, if any.
fn cached_wheel(cache_dir: &Path, key: &str) -> Result<Option<PathBuf>> {
    let dir = CacheRoot::new(cache_dir).built().join(key);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(None);
    };
    let wheels: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "whl") && p.is_file())
        .collect();
    Ok(match wheels.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    })
}

/// The built-wheel cache key: see the module documentation.
pub fn built_key(sdist_sha256: &str, interpreter: &Interpreter, recipe: &BuildRecipe) -> String {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    for part in [
        "built 1",
        sdist_sha256,
        &interpreter.implementation,
        &interpreter.version,
        &interpreter.platform,
        &recipe.id,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let mut key = hex::encode(h.finalize());
    key.truncate(40);
    key
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A built wheel must be the locked name and version and depend on what the lockfile
/// records.
fn check_built(target: &Target, want: &Desired, recipe: &BuildRecipe, wheel: &Path) -> Result<()> {
    let shown = format!("{} {}", want.name, want.version);
    let label = format!("{shown} (sdist)");
    let bytes = crate::build::metadata_from_wheel(wheel, &label)?;
    let meta = crate::index::metadata::parse_metadata(&bytes, &file_name(wheel))?;
    if meta.name != want.name || meta.version != want.version {
        crate::bail!(
            "the wheel built from {shown} ({}) is {} {}, not the locked {shown}",
            want.artifact.filename,
            meta.name,
            meta.version
        );
    }
    let extras: Vec<ExtraName> = recipe
        .extras
        .iter()
        .filter_map(|e| e.parse().ok())
        .collect();
    let env = target.markers();
    let built: BTreeSet<&PackageName> = meta
        .requires_dist
        .iter()
        .filter(|r| r.marker.evaluate(env, &extras) && r.name != want.name)
        .map(|r| &r.name)
        .collect();
    let locked: BTreeSet<&PackageName> = recipe.dependencies.iter().collect();
    if built != locked {
        let list = |s: &BTreeSet<&PackageName>| {
            if s.is_empty() {
                "nothing".to_string()
            } else {
                s.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        return Err(Error::msg(format!(
            "the wheel built from {shown} depends on {}, but the lockfile records {} for it: its metadata disagrees with what was locked (if its sources changed since, run `sanctuary lock`)",
            list(&built),
            list(&locked)
        )));
    }
    Ok(())
}
