//! Build environments: the venv a build backend runs in. An isolated one holds exactly the
//! resolved wheels of `build-system.requires` (and what the backend adds), resolved by
//! sanctuary's own resolver for the interpreter and this machine, fetched and verified like
//! a sync's wheels and installed by the same transaction ([`crate::install`]).
//!
//! Environments live in the cache (`build-envs/<key>/`, see [`crate::cache`]) under a key
//! that is the sha256 of the interpreter (path and version), the sorted `name==version
//! sha256` of the wheels and a caller's salt. A venv cannot be moved once made, so one is
//! created in place while `build-envs/<key>.lock` is held, and `.complete` is written last:
//! a directory without it is what a killed process left, and is removed and made again; a
//! complete one is reused as it is.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};
use sha2::{Digest as _, Sha256};

use super::{BuildContext, BuildError};
use crate::cache::CacheRoot;
use crate::environment::Environment;
use crate::index::PackageSource;
use crate::install::fetch::{Artifact, WheelCache, fetch};
use crate::install::journal::Journal;
use crate::install::plan::{Desired, SyncPlan};
use crate::install::transaction::{self, ApplyError, dist_info_extras};
use crate::install::venv::{self as venvs, Interpreter};
use crate::install::{InstallOptions, UnpackedWheel};
use crate::resolve::{Origin, PrereleaseMode, ResolveRequest, RootRequirement};
use crate::target::Target;

/// Written last into a complete build environment.
pub const COMPLETE: &str = ".complete";

/// A venv a build backend runs in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildEnv {
    /// The venv directory.
    pub root: PathBuf,
    /// Its interpreter, `bin/python`.
    pub python: PathBuf,
}

impl BuildEnv {
    /// The venv at `root` (its interpreter `bin/python`, or `Scripts\python.exe`).
    pub fn venv(root: &Path) -> BuildEnv {
        let python = if cfg!(windows) {
            root.join("Scripts").join("python.exe")
        } else {
            root.join("bin").join("python")
        };
        BuildEnv {
            root: root.to_path_buf(),
            python,
        }
    }

    /// The directory of its scripts, put first on `PATH` for the backend.
    pub fn bin(&self) -> PathBuf {
        self.python
            .parent()
            .map_or_else(|| self.root.clone(), Path::to_path_buf)
    }
}

/// One wheel of a build environment: the distribution and its unpacked tree.
#[derive(Clone, Debug)]
pub struct EnvWheel {
    pub desired: Desired,
    pub unpacked: UnpackedWheel,
}

/// The directory name of the environment of `wheels` for `interpreter` under `salt`: the
/// first 32 hex digits of a sha256 (short, as every script's shebang spells the path).
pub fn env_key<'d>(
    interpreter: &Interpreter,
    wheels: impl IntoIterator<Item = &'d Desired>,
    salt: &str,
) -> String {
    let mut lines: Vec<String> = wheels
        .into_iter()
        .map(|d| {
            format!(
                "wheel {}=={} {}\n",
                d.name,
                d.version,
                d.artifact.sha256.to_ascii_lowercase()
            )
        })
        .collect();
    lines.sort();
    let mut hasher = Sha256::new();
    hasher.update(format!(
        "interpreter {}\nversion {}\n",
        interpreter.executable.display(),
        interpreter.version
    ));
    for line in &lines {
        hasher.update(line);
    }
    hasher.update(format!("salt {salt}\n"));
    let mut key = hex::encode(hasher.finalize());
    key.truncate(32);
    key
}

/// The build environment of `wheels` for `interpreter` in the cache at `cache_dir`: reused
/// when complete, else made (see the module documentation). Blocks while another process
/// makes the same one.
pub fn materialize(
    cache_dir: &Path,
    interpreter: &Interpreter,
    wheels: &[EnvWheel],
    salt: &str,
    label: &str,
) -> Result<BuildEnv, BuildError> {
    let io = |path: &Path| {
        let (label, path) = (label.to_string(), path.to_path_buf());
        move |source| BuildError::Io {
            label,
            path,
            source,
        }
    };
    let bucket = CacheRoot::new(cache_dir).build_envs();
    std::fs::create_dir_all(&bucket).map_err(io(&bucket))?;
    let bucket = std::path::absolute(&bucket).map_err(io(&bucket))?;
    let key = env_key(interpreter, wheels.iter().map(|w| &w.desired), salt);
    let root = bucket.join(&key);
    let env = BuildEnv::venv(&root);

    let lock_path = bucket.join(format!("{key}.lock"));
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    // Held until `lock` is dropped, however this function returns.
    lock.lock().map_err(io(&lock_path))?;
    if root.join(COMPLETE).is_file() {
        tracing::debug!("{label}: reusing the build environment {}", root.display());
        return Ok(env);
    }
    if std::fs::symlink_metadata(&root).is_ok() {
        tracing::debug!("{label}: removing the incomplete {}", root.display());
        std::fs::remove_dir_all(&root).map_err(io(&root))?;
    }
    tracing::debug!("{label}: creating the build environment {}", root.display());
    let venv = venvs::create(&root, interpreter, "build").map_err(|source| BuildError::Venv {
        label: label.to_string(),
        root: root.clone(),
        source: Box::new(source),
    })?;
    install(&venv, wheels).map_err(|source| BuildError::Install {
        label: label.to_string(),
        root: root.clone(),
        source: Box::new(source),
    })?;
    let description: String = wheels
        .iter()
        .map(|w| {
            format!(
                "{} {}\n",
                w.desired.artifact.package, w.desired.artifact.sha256
            )
        })
        .collect();
    let complete = root.join(COMPLETE);
    crate::fs::write_file(
        &complete,
        description.as_bytes(),
        crate::fs::Durability::Synced,
    )
    .map_err(io(&complete))?;
    drop(lock);
    Ok(env)
}

/// Install `wheels` into the new, empty `venv`, as a sync would.
fn install(venv: &crate::install::Venv, wheels: &[EnvWheel]) -> Result<(), ApplyError> {
    let desired: Vec<Desired> = wheels.iter().map(|w| w.desired.clone()).collect();
    let unpacked: HashMap<String, UnpackedWheel> = wheels
        .iter()
        .map(|w| (w.desired.artifact.sha256.clone(), w.unpacked.clone()))
        .collect();
    let environment = Environment::read(&venv.root)?;
    let plan = SyncPlan::new(&desired, &environment, true);
    let options = |d: Option<&Desired>| InstallOptions {
        extra_dist_info: d.map(dist_info_extras).unwrap_or_default(),
        expect: d.map(|d| (d.name.clone(), d.version.clone())),
        ..InstallOptions::default()
    };
    transaction::apply(&plan, venv, &unpacked, &options)?;
    Journal::clear(&venv.root)?;
    Ok(())
}

/// The target a build environment is resolved for: the interpreter's Python on this machine.
pub fn host_target(interpreter: &Interpreter, label: &str) -> Result<Target, BuildError> {
    let python = Version::from_str(&interpreter.version).map_err(|e| BuildError::Internal {
        label: label.to_string(),
        message: format!(
            "the interpreter {} reports the version `{}`: {e}",
            interpreter.executable.display(),
            interpreter.version
        ),
    })?;
    let platform = crate::target::host().map_err(|source| BuildError::Target {
        label: label.to_string(),
        source,
    })?;
    Ok(Target::from_parts(python, platform))
}

/// An isolated build environment holding `requirements` (resolved to wheels, fetched,
/// installed), made or reused in `ctx.cache_dir`. `salt` separates environments that hold
/// the same wheels but must not be shared.
pub async fn isolated_env<S: PackageSource>(
    ctx: &BuildContext<'_, S>,
    requirements: &[Requirement],
    salt: &str,
    label: &str,
) -> Result<BuildEnv, BuildError> {
    let desired = resolve_wheels(ctx, requirements, &[], label).await?;
    // Builds that want the same environment at once (every setuptools sdist of a lock) wait
    // for the first to make it, instead of each fetching and unpacking its wheels.
    let key = env_key(ctx.interpreter, &desired, salt);
    let gate = env_gate(&key);
    let _made = gate.lock().await;
    let bucket = CacheRoot::new(ctx.cache_dir).build_envs();
    let root = std::path::absolute(bucket.join(&key)).unwrap_or_else(|_| bucket.join(&key));
    if root.join(COMPLETE).is_file() {
        tracing::debug!("{label}: reusing the build environment {}", root.display());
        return Ok(BuildEnv::venv(&root));
    }
    let wheels = fetch_wheels(ctx, desired, label).await?;
    materialize_blocking(ctx, wheels, salt, label).await
}

/// The in-process gate of the build environment `key` (other processes wait on its lock
/// file in [`materialize`]).
fn env_gate(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    static GATES: std::sync::OnceLock<
        std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    > = std::sync::OnceLock::new();
    let gates = GATES.get_or_init(Default::default);
    // A poisoned map only means a thread panicked while inserting; the map is intact.
    let mut gates = gates
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    gates.entry(key.to_string()).or_default().clone()
}

/// A Foundation build environment: `foundation` (a key's locked wheels, fetched already) and
/// `requires` resolved with every Foundation package pinned to its locked version, so the
/// build compiles against exactly the torch the venv holds.
pub async fn foundation_env<S: PackageSource>(
    ctx: &BuildContext<'_, S>,
    foundation: Vec<EnvWheel>,
    requires: &[Requirement],
    salt: &str,
    label: &str,
) -> Result<BuildEnv, BuildError> {
    let pins: Vec<Requirement> = foundation
        .iter()
        .filter_map(|w| {
            let text = format!("{}=={}", w.desired.name, w.desired.version);
            Requirement::from_str(&text).ok()
        })
        .collect();
    let provided: std::collections::HashSet<&PackageName> =
        foundation.iter().map(|w| &w.desired.name).collect();
    let extra: Vec<Desired> = resolve_wheels(ctx, requires, &pins, label)
        .await?
        .into_iter()
        .filter(|d| !provided.contains(&d.name))
        .collect();
    let mut wheels = foundation;
    wheels.extend(fetch_wheels(ctx, extra, label).await?);
    materialize_blocking(ctx, wheels, salt, label).await
}

/// Fetch (or take from the cache) the wheels of `desired`.
async fn fetch_wheels<S: PackageSource>(
    ctx: &BuildContext<'_, S>,
    desired: Vec<Desired>,
    label: &str,
) -> Result<Vec<EnvWheel>, BuildError> {
    let cache = WheelCache::new(ctx.cache_dir);
    let fetches = desired.into_iter().map(|desired| {
        let cache = &cache;
        async move {
            let (unpacked, _) = fetch(
                ctx.client,
                cache,
                &desired.artifact,
                ctx.offline,
                Arc::new(|_| {}),
            )
            .await
            .map_err(|source| BuildError::Fetch {
                label: label.to_string(),
                source: Box::new(source),
            })?;
            Ok::<_, BuildError>(EnvWheel { desired, unpacked })
        }
    });
    futures::future::try_join_all(fetches).await
}

/// [`materialize`] on the blocking pool.
async fn materialize_blocking<S: PackageSource>(
    ctx: &BuildContext<'_, S>,
    wheels: Vec<EnvWheel>,
    salt: &str,
    label: &str,
) -> Result<BuildEnv, BuildError> {
    let (cache_dir, interpreter) = (ctx.cache_dir.to_path_buf(), ctx.interpreter.clone());
    let (salt, owned_label) = (salt.to_string(), label.to_string());
    tokio::task::spawn_blocking(move || {
        materialize(&cache_dir, &interpreter, &wheels, &salt, &owned_label)
    })
    .await
    .map_err(|e| BuildError::Internal {
        label: label.to_string(),
        message: format!("making the build environment stopped: {e}"),
    })?
}

/// `requirements` resolved for the interpreter on this machine, each package with its best
/// wheel.
async fn resolve_wheels<S: PackageSource>(
    ctx: &BuildContext<'_, S>,
    requirements: &[Requirement],
    constraints: &[Requirement],
    label: &str,
) -> Result<Vec<Desired>, BuildError> {
    if requirements.is_empty() {
        return Ok(Vec::new());
    }
    let origin = Origin {
        layer: format!("{label} build"),
        kind: "requirement".to_string(),
        file: None,
        line: None,
    };
    let request = ResolveRequest {
        requirements: requirements
            .iter()
            .map(|r| RootRequirement {
                requirement: r.clone(),
                origin: origin.clone(),
            })
            .collect(),
        constraints: constraints
            .iter()
            .map(|r| RootRequirement {
                requirement: r.clone(),
                origin: Origin {
                    kind: "pin".to_string(),
                    ..origin.clone()
                },
            })
            .collect(),
        target: host_target(ctx.interpreter, label)?,
        prereleases: PrereleaseMode::default(),
        preferences: HashMap::new(),
        upgrade: Default::default(),
        upgrade_all: false,
        no_binary: Default::default(),
        // Build requirements come as wheels: building them would recurse.
        build: crate::resolve::BuildPolicy::no_build(),
        report_width: None,
    };
    let resolution = crate::resolve::resolve(Arc::clone(&ctx.source), request)
        .await
        .map_err(|source| BuildError::Resolve {
            label: label.to_string(),
            source: Box::new(source),
        })?;
    let mut out = Vec::new();
    for package in resolution.packages.into_values() {
        let shown = format!("{} {}", package.name, package.version);
        let Some(wheel) = package.files.first() else {
            return Err(BuildError::Internal {
                label: label.to_string(),
                message: format!("the resolver chose {shown}, which has no wheel"),
            });
        };
        let Some(sha256) = &wheel.sha256 else {
            return Err(BuildError::NoHash {
                label: label.to_string(),
                package: shown,
                file: wheel.filename.clone(),
                index: package.index.name.clone(),
            });
        };
        out.push(Desired {
            artifact: Artifact {
                package: shown,
                filename: wheel.filename.clone(),
                url: wheel.url.clone(),
                size: wheel.size,
                sha256: sha256.to_ascii_lowercase(),
                index: package.index.name.clone(),
            },
            name: package.name,
            version: package.version,
            build: None,
            layer: "build".to_string(),
            direct: package.direct,
        });
    }
    Ok(out)
}
