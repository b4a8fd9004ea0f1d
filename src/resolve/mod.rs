//! Dependency resolution: a PubGrub (`pubgrub` 0.4) `DependencyProvider` over an async
//! [`PackageSource`]. PubGrub runs on its own thread; index pages and metadata are fetched on
//! the tokio runtime, concurrently, and prefetched as soon as a dependency appears.
//!
//! Owns the PEP 440 -> PubGrub range conversion (local labels, pre-releases), marker and extra
//! handling for the declared [`Target`], wheel selection, yanked and pre-release rules,
//! preferences from an existing lockfile, and the plain-words conflict report.

// `ResolveError` wraps `IndexError` (owned by the index module, over clippy's size limit);
// boxing it would change the public error type the CLI matches on.
#![allow(clippy::result_large_err)]

pub mod memory;
pub mod provider;
pub mod ranges;
pub mod report;
mod speculate;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement};

use crate::index::{CoreMetadata, DistFile, IndexError, IndexUrl, PackageSource};
use crate::target::Target;

/// Where a root requirement came from, for error messages: "application requirement
/// `peft>=0.13` (sanctuary.toml:14)".
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// `foundation`, `foundation (cu130)`, `application`, ...
    pub layer: String,
    /// `requirement` or `constraint`.
    pub kind: String,
    pub file: Option<PathBuf>,
    /// 1-based line in `file`.
    pub line: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.layer, self.kind)?;
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, " ({}:{line})", file.display()),
            (Some(file), None) => write!(f, " ({})", file.display()),
            _ => Ok(()),
        }
    }
}

/// A requirement given by the user, with where it came from.
#[derive(Clone, Debug)]
pub struct RootRequirement {
    pub requirement: Requirement,
    pub origin: Origin,
}

/// When pre-releases may be chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PrereleaseMode {
    /// Only for a package whose requirement names a pre-release, or when a package has no
    /// final release that fits (uv's `if-necessary-or-explicit`).
    #[default]
    IfNecessaryOrExplicit,
    /// Always allowed (nightly channels, `prereleases = true`).
    Allow,
    /// Never.
    Disallow,
}

/// Everything a resolution needs besides the package source.
#[derive(Clone, Debug)]
pub struct ResolveRequest {
    pub requirements: Vec<RootRequirement>,
    /// Constrain versions of packages if they are required; never add packages.
    pub constraints: Vec<RootRequirement>,
    pub target: Target,
    pub prereleases: PrereleaseMode,
    /// Versions to prefer (from the existing lockfile), unless the package is released.
    pub preferences: HashMap<PackageName, Version>,
    /// Packages whose preference is ignored (`--upgrade-package`); `upgrade_all` ignores all.
    pub upgrade: HashSet<PackageName>,
    pub upgrade_all: bool,
    /// Packages that must not be installed from wheels (`no_binary`): they then need an sdist
    /// and a build.
    pub no_binary: HashSet<PackageName>,
    /// Which packages may be built from source, and metadata declared in their place.
    pub build: BuildPolicy,
    /// Width to wrap a conflict report at (the terminal's, chosen by the caller);
    /// [`report::wrap::DEFAULT_WIDTH`] when `None`.
    pub report_width: Option<usize>,
}

/// What may be built from source during a resolution: a version whose only usable file is
/// an sdist is a candidate unless building is off for its package. Metadata the user
/// declared (`[[build.dependency-metadata]]`) replaces the artifact's, so no build runs.
#[derive(Clone, Debug, Default)]
pub struct BuildPolicy {
    /// Build nothing.
    pub no_build: bool,
    /// Build none of these.
    pub no_build_package: HashSet<PackageName>,
    pub declared_metadata: Vec<crate::manifest::DependencyMetadata>,
    /// Local projects: always built, whatever `no_build` says (they are the user's own).
    pub local: HashSet<PackageName>,
}

impl BuildPolicy {
    /// Building switched off for every package.
    pub fn no_build() -> Self {
        BuildPolicy {
            no_build: true,
            ..BuildPolicy::default()
        }
    }

    /// Whether `name` may be built from source.
    pub fn allows(&self, name: &PackageName) -> bool {
        self.local.contains(name) || (!self.no_build && !self.no_build_package.contains(name))
    }

    /// The metadata the user declared for `name==version`, if any (the last declaration
    /// that describes it wins: a versioned one after a general one refines it).
    pub fn declared(&self, name: &PackageName, version: &Version) -> Option<CoreMetadata> {
        let declared = self
            .declared_metadata
            .iter()
            .rev()
            .find(|m| m.describes(name, version))?;
        Some(CoreMetadata {
            name: name.clone(),
            version: version.clone(),
            requires_dist: declared.requires_dist.clone(),
            requires_python: declared.requires_python.clone(),
            provides_extra: declared.provides_extra.clone(),
        })
    }
}

/// One package of a resolution.
#[derive(Clone, Debug)]
pub struct ResolvedPackage {
    pub name: PackageName,
    pub version: Version,
    pub index: Arc<IndexUrl>,
    /// Files of this version usable on the target, best first: its wheels, or else the one
    /// sdist to build.
    pub files: Vec<DistFile>,
    /// Dependencies of this package on the target (markers evaluated, extras merged).
    pub dependencies: BTreeSet<PackageName>,
    /// The extras of this package that were requested.
    pub extras: BTreeSet<ExtraName>,
    pub requires_python: Option<VersionSpecifiers>,
    /// True when a root requirement names this package.
    pub direct: bool,
}

/// A complete, consistent set of packages for the target.
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    pub packages: BTreeMap<PackageName, ResolvedPackage>,
    /// With building off: packages for which a newer version would have been chosen had it
    /// not been published only as an sdist, with the newest such version.
    pub skipped_sdists: BTreeMap<PackageName, Version>,
    /// With building off: packages held back because a newer version of them needs a package
    /// that is published only as an sdist: the newer version and that dependency
    /// (`hydra-core` 1.3.8 needs `antlr4-python3-runtime`).
    pub held_back: BTreeMap<PackageName, (Version, PackageName)>,
}

/// Why a resolution failed.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// The requirements cannot all be satisfied; the report explains why in plain words,
    /// naming each root requirement with its origin, with `hint:` lines where they help.
    #[error("{report}")]
    NoSolution { report: String },
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("invalid requirement from {origin}: {reason}")]
    BadRequirement { origin: Origin, reason: String },
    #[error("the resolver stopped unexpectedly: {0}")]
    Internal(String),
}

/// Resolve `request` against `source`. Must be called within a tokio runtime; PubGrub itself
/// runs on a dedicated thread.
///
/// The source may answer from its cache while it revalidates in the background
/// ([`PackageSource::settle`]): once PubGrub is done, every revalidation is awaited, and when
/// a page changed the resolution is redone on the fresh pages. The result is always the one
/// a fully revalidated source gives.
pub async fn resolve<S: PackageSource>(
    source: Arc<S>,
    request: ResolveRequest,
) -> Result<Resolution, ResolveError> {
    loop {
        let result = resolve_once(Arc::clone(&source), request.clone()).await;
        let revalidating = crate::spent::timer(crate::spent::Work::Revalidating);
        let changed = source.settle().await?;
        drop(revalidating);
        if changed {
            tracing::debug!("index pages changed during the resolution; resolving again");
            continue;
        }
        return result;
    }
}

async fn resolve_once<S: PackageSource>(
    source: Arc<S>,
    request: ResolveRequest,
) -> Result<Resolution, ResolveError> {
    let handle = tokio::runtime::Handle::current();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("sanctuary-pubgrub".to_string())
        .spawn(move || {
            let result = solve(source, request, handle);
            // The receiver is gone only when the caller stopped waiting.
            let _ = tx.send(result);
        })
        .map_err(|e| ResolveError::Internal(format!("cannot start the resolver thread: {e}")))?;
    rx.await
        .map_err(|_| ResolveError::Internal("the resolver thread panicked".to_string()))?
}

/// The root package's dependency edges: root requirements whose markers apply, with
/// constraints folded in.
fn root_edges(
    request: &ResolveRequest,
    policy: &provider::Policy,
) -> Result<Vec<(provider::Pkg, pubgrub::Ranges<Version>)>, ResolveError> {
    let env = request.target.markers();
    let mut edges = Vec::new();
    for root in &request.requirements {
        let specifiers = provider::root_specifiers(root)?;
        if !root.requirement.marker.evaluate(env, &[]) {
            tracing::debug!(requirement = %root.requirement, "marker excludes the target");
            continue;
        }
        let name = &root.requirement.name;
        let mut range = ranges::specifiers_to_ranges(&specifiers);
        if let Some(constraint) = policy.constraints.get(name) {
            range = range.intersection(constraint);
        }
        provider::push_edge(&mut edges, provider::Pkg::Base(name.clone()), range.clone());
        for extra in &root.requirement.extras {
            provider::push_edge(
                &mut edges,
                provider::Pkg::Extra(name.clone(), extra.clone()),
                range.clone(),
            );
        }
    }
    Ok(edges)
}

/// The body of the PubGrub thread.
fn solve<S: PackageSource>(
    source: Arc<S>,
    request: ResolveRequest,
    handle: tokio::runtime::Handle,
) -> Result<Resolution, ResolveError> {
    use provider::{Pkg, ProviderError};
    use pubgrub::PubGrubError;

    let policy = Arc::new(provider::Policy::from_request(&request)?);
    let edges = root_edges(&request, &policy)?;
    let direct: BTreeSet<PackageName> = edges
        .iter()
        .filter_map(|(p, _)| p.name().cloned())
        .collect();
    let fetcher = Arc::new(provider::Fetcher::new(source, handle));
    let provider = provider::Provider::new(fetcher.clone(), policy.clone(), edges);
    let index_error = |e: Arc<IndexError>| {
        ResolveError::Index(Arc::try_unwrap(e).unwrap_or_else(|e| (*e).clone()))
    };
    let solution = match pubgrub::resolve(&provider, Pkg::Root, provider::root_version()) {
        Ok(solution) => solution,
        Err(PubGrubError::NoSolution(tree)) => {
            return Err(conflict(&tree, &request, &policy, &fetcher, &provider));
        }
        Err(PubGrubError::ErrorChoosingVersion { source, .. })
        | Err(PubGrubError::ErrorRetrievingDependencies { source, .. }) => {
            let ProviderError::Index(e) = source;
            return Err(index_error(e));
        }
        Err(PubGrubError::ErrorInShouldCancel(e)) => {
            return Err(ResolveError::Internal(e.to_string()));
        }
    };

    let chosen = provider.chosen.borrow();
    let mut extras: BTreeMap<PackageName, BTreeSet<ExtraName>> = BTreeMap::new();
    let mut dependencies: BTreeMap<PackageName, BTreeSet<PackageName>> = BTreeMap::new();
    for (pkg, version) in solution.iter() {
        let Some(name) = pkg.name() else { continue };
        if let Pkg::Extra(_, extra) = pkg {
            extras
                .entry(name.clone())
                .or_default()
                .insert(extra.clone());
        }
        if let Some(c) = chosen.get(&(pkg.clone(), version.clone())) {
            dependencies
                .entry(name.clone())
                .or_default()
                .extend(c.dependencies.iter().cloned());
        }
    }
    let mut resolution = Resolution::default();
    for (pkg, version) in solution.iter() {
        let Pkg::Base(name) = pkg else { continue };
        let files = handle_files(&fetcher, name)?;
        let dist = files
            .versions
            .get(version)
            .map(|f| f.as_slice())
            .unwrap_or(&[]);
        let usable = policy.usable_files(name, version, dist).map_err(|r| {
            ResolveError::Internal(format!(
                "chosen version is unusable: {}",
                r.describe(name, version, &policy.target)
            ))
        })?;
        let requires_python = chosen
            .get(&(pkg.clone(), version.clone()))
            .and_then(|c| c.requires_python.clone());
        resolution.packages.insert(
            name.clone(),
            ResolvedPackage {
                name: name.clone(),
                version: version.clone(),
                index: files.index.clone(),
                files: usable.to_vec(),
                dependencies: dependencies.remove(name).unwrap_or_default(),
                extras: extras.remove(name).unwrap_or_default(),
                requires_python,
                direct: direct.contains(name),
            },
        );
    }
    note_skipped_sdists(&mut resolution, &policy, &chosen);
    tracing::info!(packages = resolution.packages.len(), "resolved");
    Ok(resolution)
}

/// With building off: which packages of `resolution` a newer, sdist-only version of them
/// would have replaced, and which were held back because a newer version of them needs an
/// sdist-only package (`chosen`: what each version tried depends on).
fn note_skipped_sdists(
    resolution: &mut Resolution,
    policy: &provider::Policy,
    chosen: &HashMap<(provider::Pkg, Version), provider::Chosen>,
) {
    use provider::Pkg;
    let skipped = policy.skipped_sdists();
    for (name, version) in &skipped {
        if let Some(p) = resolution.packages.get(name)
            && *version > p.version
        {
            resolution
                .skipped_sdists
                .insert(name.clone(), version.clone());
        }
    }
    // A newer version tried and given up because a dependency of it could only be built.
    for ((pkg, version), tried) in chosen.iter() {
        let Pkg::Base(name) = pkg else { continue };
        let Some(resolved) = resolution.packages.get(name) else {
            continue;
        };
        let Some(dep) = tried
            .dependencies
            .iter()
            .find(|d| skipped.contains_key(*d) && !resolution.packages.contains_key(*d))
        else {
            continue;
        };
        if *version > resolved.version
            && resolution
                .held_back
                .get(name)
                .is_none_or(|(newest, _)| version > newest)
        {
            resolution
                .held_back
                .insert(name.clone(), (version.clone(), dep.clone()));
        }
    }
}

/// The plain-words report of a failed resolution.
fn conflict<S: PackageSource>(
    tree: &pubgrub::DerivationTree<provider::Pkg, pubgrub::Ranges<Version>, String>,
    request: &ResolveRequest,
    policy: &provider::Policy,
    fetcher: &provider::Fetcher<S>,
    provider: &provider::Provider<S>,
) -> ResolveError {
    let mut roots: BTreeMap<PackageName, Vec<&RootRequirement>> = BTreeMap::new();
    for root in request.requirements.iter().chain(&request.constraints) {
        roots
            .entry(root.requirement.name.clone())
            .or_default()
            .push(root);
    }
    let mut files = BTreeMap::new();
    for name in tree.packages().iter().filter_map(|p| p.name()) {
        if let Some(f) = fetcher.files_if_fetched(name) {
            files.insert(name.clone(), f);
        }
    }
    let missing = fetcher.missing();
    let scopes = missing
        .iter()
        .filter_map(|name| Some((name.clone(), fetcher.scope(name)?)))
        .collect();
    let mut dependencies: BTreeMap<PackageName, BTreeMap<Version, BTreeSet<PackageName>>> =
        BTreeMap::new();
    for ((pkg, version), chosen) in provider.chosen.borrow().iter() {
        if let provider::Pkg::Base(name) = pkg {
            dependencies
                .entry(name.clone())
                .or_default()
                .insert(version.clone(), chosen.dependencies.clone());
        }
    }
    let context = report::ReportContext {
        roots,
        policy,
        files,
        missing,
        scopes,
        dependencies,
        width: request.report_width.unwrap_or(report::wrap::DEFAULT_WIDTH),
    };
    ResolveError::NoSolution {
        report: report::render(tree, &context),
    }
}

/// The files of a package of the solution (fetched during resolution).
fn handle_files<S: PackageSource>(
    fetcher: &provider::Fetcher<S>,
    name: &PackageName,
) -> Result<Arc<crate::index::PackageFiles>, ResolveError> {
    fetcher
        .files_if_fetched(name)
        .ok_or_else(|| ResolveError::Internal(format!("{name} was resolved without its files")))
}

#[cfg(test)]
mod tests;
