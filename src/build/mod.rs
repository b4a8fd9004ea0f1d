//! Building wheels from source trees: a PEP 517 build frontend.
//!
//! **A build backend is untrusted code.** `setup.py`, the backend and every build
//! requirement run as the user, with the user's files, network and environment variables;
//! nothing here sandboxes them. Isolation means only that the backend sees its declared
//! requirements and not the user's packages.
//!
//! - [`hooks`] runs one PEP 517 hook in a subprocess through a small embedded runner, with a
//!   time limit, and checks what it returned.
//! - [`env`](mod@env) makes build environments: `build-system.requires` resolved by sanctuary's own
//!   resolver for the interpreter on this machine (wheels only), fetched and installed like a
//!   sync's wheels into a venv kept in the cache and reused.
//! - [`BuildContext`] ties them together: [`BuildContext::build_metadata`]
//!   (`get_requires_for_build_wheel`, then `prepare_metadata_for_build_wheel`, or
//!   `build_wheel` and its `METADATA` when the backend cannot prepare metadata) and
//!   [`BuildContext::build_wheel`], in an isolated environment or in one the caller gives
//!   (a Foundation build: a venv that already holds torch).

pub mod env;
pub mod hooks;

#[cfg(test)]
mod tests;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pep508_rs::Requirement;

pub use env::{BuildEnv, EnvWheel, foundation_env, isolated_env, materialize};
pub use hooks::{Hook, HookOutput, HookRequest, HookResult, run_hook};

use crate::http::HttpClient;
use crate::index::{CoreMetadata, IndexError, PackageSource};
use crate::install::venv::{Interpreter, VenvError};
use crate::sdist::BuildSystem;

/// The most `METADATA` read from a build's output, as [`crate::install`] reads it.
const MAX_METADATA: u64 = 16 * 1024 * 1024;

/// A build failed. Every variant names the package being built (`label`).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("cannot build {label}: cannot run {}", python.display())]
    Spawn {
        label: String,
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot build {label}: the build backend's `{hook}` failed ({status}); its output ended with:\n{output_tail}"
    )]
    HookFailed {
        label: String,
        hook: Hook,
        /// How it exited, e.g. `exit status: 1`.
        status: String,
        /// The last lines of the backend's output.
        output_tail: String,
    },
    #[error(
        "cannot build {label}: the build backend's `{hook}` did not finish within {} s; it was stopped",
        timeout.as_secs_f64()
    )]
    HookTimeout {
        label: String,
        hook: Hook,
        timeout: Duration,
    },
    #[error(
        "cannot build {label}: the build backend `{backend}` cannot be loaded: {message}\n{output_tail}"
    )]
    BackendUnavailable {
        label: String,
        backend: String,
        message: String,
        output_tail: String,
    },
    #[error("cannot build {label}: the build backend `{backend}` has no `{hook}` hook")]
    MissingHook {
        label: String,
        backend: String,
        hook: Hook,
    },
    #[error(
        "cannot build {label}: the build backend `{backend}` asked for the invalid requirement `{requirement}`: {reason}"
    )]
    BadRequirement {
        label: String,
        backend: String,
        requirement: String,
        reason: String,
    },
    #[error(
        "cannot build {label}: the build backend's `{hook}` returned what cannot be used: {reason}"
    )]
    BadResult {
        label: String,
        hook: Hook,
        reason: String,
    },
    #[error("cannot build {label}: cannot read the metadata in {}: {reason}", path.display())]
    BadOutput {
        label: String,
        path: PathBuf,
        reason: String,
    },
    #[error("cannot build {label}: the metadata it built is invalid")]
    Metadata {
        label: String,
        #[source]
        source: Box<IndexError>,
    },
    #[error("cannot build {label}: cannot resolve its build requirements")]
    Resolve {
        label: String,
        #[source]
        source: Box<crate::resolve::ResolveError>,
    },
    #[error(
        "cannot build {label}: the build requirement {package} ({file}) has no sha256 on the index `{index}`, so it cannot be verified"
    )]
    NoHash {
        label: String,
        package: String,
        file: String,
        index: String,
    },
    #[error("cannot build {label}: cannot fetch a build requirement")]
    Fetch {
        label: String,
        #[source]
        source: Box<crate::install::fetch::FetchError>,
    },
    #[error("cannot build {label}: cannot create the build environment {}", root.display())]
    Venv {
        label: String,
        root: PathBuf,
        #[source]
        source: Box<VenvError>,
    },
    #[error("cannot build {label}: cannot install the build requirements into {}", root.display())]
    Install {
        label: String,
        root: PathBuf,
        #[source]
        source: Box<crate::install::transaction::ApplyError>,
    },
    #[error("cannot build {label}: the build environment cannot be made for this machine")]
    Target {
        label: String,
        #[source]
        source: crate::target::TargetError,
    },
    #[error("cannot build {label}: {}", path.display())]
    Io {
        label: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build {label}: {message}")]
    Internal { label: String, message: String },
}

impl BuildError {
    /// The package the build was for.
    pub fn label(&self) -> &str {
        match self {
            BuildError::Spawn { label, .. }
            | BuildError::HookFailed { label, .. }
            | BuildError::HookTimeout { label, .. }
            | BuildError::BackendUnavailable { label, .. }
            | BuildError::MissingHook { label, .. }
            | BuildError::BadRequirement { label, .. }
            | BuildError::BadResult { label, .. }
            | BuildError::BadOutput { label, .. }
            | BuildError::Metadata { label, .. }
            | BuildError::Resolve { label, .. }
            | BuildError::NoHash { label, .. }
            | BuildError::Fetch { label, .. }
            | BuildError::Venv { label, .. }
            | BuildError::Install { label, .. }
            | BuildError::Target { label, .. }
            | BuildError::Io { label, .. }
            | BuildError::Internal { label, .. } => label,
        }
    }
}

/// Where a build runs.
#[derive(Clone, Debug)]
pub enum EnvChoice {
    /// An isolated environment of `build-system.requires` and what the backend adds, made or
    /// reused in the cache.
    Isolated,
    /// An environment the caller prepared (a Foundation build: a venv that already holds
    /// torch), used as it is; nothing is installed into it.
    Given(BuildEnv),
}

/// One source tree to build.
#[derive(Clone, Copy, Debug)]
pub struct SourceTree<'a> {
    /// The unpacked source tree.
    pub path: &'a Path,
    pub system: &'a BuildSystem,
    /// `flash-attn 2.8.3 (sdist)`, for messages.
    pub label: &'a str,
}

/// What builds share: where build requirements come from and go, and the interpreter.
pub struct BuildContext<'a, S> {
    /// The indexes build requirements are resolved on (the `IndexSet`).
    pub source: Arc<S>,
    pub client: &'a HttpClient,
    /// `SANCTUARY_CACHE_DIR`: wheels and build environments are kept there.
    pub cache_dir: &'a Path,
    pub offline: bool,
    /// The base interpreter of isolated build environments.
    pub interpreter: &'a Interpreter,
    /// How long one hook may run.
    pub timeout: Duration,
    /// Separates isolated environments that hold the same wheels (see [`env::env_key`]).
    pub salt: String,
}

impl<S: PackageSource> BuildContext<'_, S> {
    /// The core metadata of `tree`: `prepare_metadata_for_build_wheel`, or, when the backend
    /// lacks it, `build_wheel` and the wheel's `METADATA`. `vars` are set for the backend.
    pub async fn build_metadata(
        &self,
        tree: SourceTree<'_>,
        choice: &EnvChoice,
        vars: &[(String, String)],
    ) -> Result<CoreMetadata, BuildError> {
        let _building = crate::spent::timer(crate::spent::Work::Building);
        let env = self
            .environment(tree, choice, vars, Hook::GetRequiresForBuildWheel)
            .await?;
        let scratch = scratch_dir(tree.label)?;
        let prepared = self
            .hook(
                tree,
                &env,
                vars,
                Hook::PrepareMetadataForBuildWheel,
                scratch.path(),
            )
            .await?;
        let (bytes, path) = match prepared.result {
            HookResult::Metadata(dist_info) => (
                metadata_from_prepared(&dist_info, tree.label)?,
                dist_info.join("METADATA"),
            ),
            _ => {
                tracing::debug!(
                    "{}: the backend cannot prepare metadata; building the wheel",
                    tree.label
                );
                let built = self
                    .hook(tree, &env, vars, Hook::BuildWheel, scratch.path())
                    .await?;
                let wheel = expect_wheel(built.result, tree.label)?;
                (metadata_from_wheel(&wheel, tree.label)?, wheel)
            }
        };
        crate::index::metadata::parse_metadata(&bytes, &path.display().to_string()).map_err(
            |source| BuildError::Metadata {
                label: tree.label.to_string(),
                source: Box::new(source),
            },
        )
    }

    /// Build a wheel of `tree` into `out_dir` and return its path. `vars` are set for the
    /// backend (`MAX_JOBS`, `TORCH_CUDA_ARCH_LIST`, ...).
    pub async fn build_wheel(
        &self,
        tree: SourceTree<'_>,
        choice: &EnvChoice,
        vars: &[(String, String)],
        out_dir: &Path,
    ) -> Result<PathBuf, BuildError> {
        self.build(tree, choice, vars, Hook::BuildWheel, out_dir)
            .await
    }

    /// Build an editable wheel (PEP 660 `build_editable`) of `tree` into `out_dir` and
    /// return its path.
    pub async fn build_editable(
        &self,
        tree: SourceTree<'_>,
        choice: &EnvChoice,
        vars: &[(String, String)],
        out_dir: &Path,
    ) -> Result<PathBuf, BuildError> {
        self.build(tree, choice, vars, Hook::BuildEditable, out_dir)
            .await
    }

    /// Run the wheel-building `hook` for `tree` in its environment; the wheel's path.
    async fn build(
        &self,
        tree: SourceTree<'_>,
        choice: &EnvChoice,
        vars: &[(String, String)],
        hook: Hook,
        out_dir: &Path,
    ) -> Result<PathBuf, BuildError> {
        let _building = crate::spent::timer(crate::spent::Work::Building);
        // PEP 660: an editable build asks for its own requirements (hatchling's `editables`).
        let requires = match hook {
            Hook::BuildEditable => Hook::GetRequiresForBuildEditable,
            _ => Hook::GetRequiresForBuildWheel,
        };
        let env = self.environment(tree, choice, vars, requires).await?;
        let built = self.hook(tree, &env, vars, hook, out_dir).await?;
        expect_wheel(built.result, tree.label)
    }

    /// The environment the wheel hooks run in: the given one, or an isolated one of
    /// `build-system.requires` extended by what `requires_hook` (`get_requires_for_build_wheel`
    /// or `_editable`) adds.
    pub async fn environment(
        &self,
        tree: SourceTree<'_>,
        choice: &EnvChoice,
        vars: &[(String, String)],
        requires_hook: Hook,
    ) -> Result<BuildEnv, BuildError> {
        let base = match choice {
            EnvChoice::Given(env) => env.clone(),
            EnvChoice::Isolated => {
                isolated_env(self, &tree.system.requires, &self.salt, tree.label).await?
            }
        };
        let scratch = scratch_dir(tree.label)?;
        let asked = self
            .hook(tree, &base, vars, requires_hook, scratch.path())
            .await?;
        let HookResult::Requires(extra) = asked.result else {
            return Ok(base);
        };
        let extra: Vec<Requirement> = extra
            .into_iter()
            .filter(|r| !tree.system.requires.contains(r))
            .collect();
        if extra.is_empty() {
            return Ok(base);
        }
        let shown: Vec<String> = extra.iter().map(ToString::to_string).collect();
        match choice {
            EnvChoice::Given(_) => {
                tracing::debug!(
                    "{}: the backend also asks for {}; the given environment is used as it is",
                    tree.label,
                    shown.join(", ")
                );
                Ok(base)
            }
            EnvChoice::Isolated => {
                tracing::debug!(
                    "{}: the backend also asks for {}",
                    tree.label,
                    shown.join(", ")
                );
                let mut all = tree.system.requires.clone();
                all.extend(extra);
                isolated_env(self, &all, &self.salt, tree.label).await
            }
        }
    }

    /// Run `hook` for `tree` in `env` on the blocking pool.
    async fn hook(
        &self,
        tree: SourceTree<'_>,
        env: &BuildEnv,
        vars: &[(String, String)],
        hook: Hook,
        output_dir: &Path,
    ) -> Result<HookOutput, BuildError> {
        let mut all_vars = vec![(
            "VIRTUAL_ENV".to_string(),
            env.root.to_string_lossy().into_owned(),
        )];
        all_vars.extend_from_slice(vars);
        let request = HookRequest {
            python: env.python.clone(),
            source_tree: tree.path.to_path_buf(),
            system: tree.system.clone(),
            hook,
            output_dir: output_dir.to_path_buf(),
            env: all_vars,
            path_prefix: Some(env.bin()),
            timeout: self.timeout,
            label: tree.label.to_string(),
        };
        tokio::task::spawn_blocking(move || run_hook(&request))
            .await
            .map_err(|e| BuildError::Internal {
                label: tree.label.to_string(),
                message: format!("the `{hook}` hook stopped: {e}"),
            })?
    }
}

/// A private temporary directory for one hook's output.
fn scratch_dir(label: &str) -> Result<tempfile::TempDir, BuildError> {
    tempfile::Builder::new()
        .prefix("sanctuary-build-")
        .tempdir()
        .map_err(|source| BuildError::Io {
            label: label.to_string(),
            path: std::env::temp_dir(),
            source,
        })
}

/// The wheel a `build_*` hook returned.
fn expect_wheel(result: HookResult, label: &str) -> Result<PathBuf, BuildError> {
    match result {
        HookResult::Wheel(path) => Ok(path),
        other => Err(BuildError::Internal {
            label: label.to_string(),
            message: format!("expected a wheel from the build backend, got {other:?}"),
        }),
    }
}

/// The `METADATA` of a `.dist-info` directory that `prepare_metadata_for_build_wheel` wrote.
pub fn metadata_from_prepared(dist_info: &Path, label: &str) -> Result<Vec<u8>, BuildError> {
    let path = dist_info.join("METADATA");
    let file = std::fs::File::open(&path).map_err(|source| BuildError::Io {
        label: label.to_string(),
        path: path.clone(),
        source,
    })?;
    read_capped(file, &path, label)
}

/// The `METADATA` of a built wheel: the one `<name>.dist-info/METADATA` at its top level.
/// Read through the zip's directory, so a wheel of hundreds of megabytes (a CUDA extension)
/// is not read whole.
pub fn metadata_from_wheel(wheel: &Path, label: &str) -> Result<Vec<u8>, BuildError> {
    let bad = |reason: String| BuildError::BadOutput {
        label: label.to_string(),
        path: wheel.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(wheel).map_err(|source| BuildError::Io {
        label: label.to_string(),
        path: wheel.to_path_buf(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(format!("not a zip: {e}")))?;
    let candidates: Vec<String> = archive
        .file_names()
        .filter(|name| {
            matches!(name.split('/').collect::<Vec<_>>()[..],
                [dir, "METADATA"] if dir.ends_with(".dist-info"))
        })
        .map(str::to_string)
        .collect();
    let [name] = &candidates[..] else {
        return Err(bad(format!(
            "expected one *.dist-info/METADATA, found {}",
            candidates.len()
        )));
    };
    let entry = archive
        .by_name(name)
        .map_err(|e| bad(format!("{name}: {e}")))?;
    read_capped(entry, &wheel.join(name), label)
}

/// All of `reader`, refusing more than [`MAX_METADATA`] bytes.
fn read_capped(
    reader: impl std::io::Read,
    path: &Path,
    label: &str,
) -> Result<Vec<u8>, BuildError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_METADATA + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| BuildError::Io {
            label: label.to_string(),
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > MAX_METADATA {
        return Err(BuildError::BadOutput {
            label: label.to_string(),
            path: path.to_path_buf(),
            reason: format!("METADATA is larger than {MAX_METADATA} bytes"),
        });
    }
    Ok(bytes)
}
