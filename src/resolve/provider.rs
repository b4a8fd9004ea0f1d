//! The PubGrub `DependencyProvider`: packages (root, real, `name[extra]`), candidate
//! versions (wheel tags, requires-python, yanked, pre-releases, preferences), dependencies from
//! core metadata (markers evaluated for the target), and the fetch cache shared with the tokio
//! runtime so index pages and metadata are prefetched while PubGrub works.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{ExtraName, PackageName, Requirement, VersionOrUrl};
use pubgrub::{
    Dependencies, DependencyConstraints, DependencyProvider, PackageResolutionStatistics, Ranges,
};
use rustc_hash::FxHashMap;
use tokio::runtime::Handle;
use tokio::sync::OnceCell;
use tracing::{debug, trace};

use super::ranges::specifiers_to_ranges;
use super::{PrereleaseMode, ResolveRequest, RootRequirement};
use crate::index::{CoreMetadata, DistFile, IndexError, PackageFiles, PackageSource};
use crate::target::Target;

/// A PubGrub package.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pkg {
    /// The user's requirements.
    Root,
    /// A real package.
    Base(PackageName),
    /// `name[extra]`: depends on `name` at the same version plus the extra's requirements.
    Extra(PackageName, ExtraName),
}

impl Pkg {
    pub fn name(&self) -> Option<&PackageName> {
        match self {
            Pkg::Root => None,
            Pkg::Base(n) | Pkg::Extra(n, _) => Some(n),
        }
    }
}

impl fmt::Display for Pkg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkg::Root => write!(f, "the requirements"),
            Pkg::Base(n) => write!(f, "{n}"),
            Pkg::Extra(n, e) => write!(f, "{n}[{e}]"),
        }
    }
}

/// The version given to the root package.
pub fn root_version() -> Version {
    Version::new([0u64])
}

type FilesResult = Result<Option<Arc<PackageFiles>>, Arc<IndexError>>;
type MetadataResult = Result<Arc<CoreMetadata>, Arc<IndexError>>;

/// Index pages and metadata, fetched once each on the tokio runtime and shared between the
/// PubGrub thread and prefetch tasks.
pub struct Fetcher<S> {
    source: Arc<S>,
    handle: Handle,
    files: Mutex<HashMap<PackageName, Arc<OnceCell<FilesResult>>>>,
    metadata: Mutex<HashMap<String, Arc<OnceCell<MetadataResult>>>>,
    /// The packages a guess was started for (see [`super::speculate`]).
    speculated: Mutex<HashSet<PackageName>>,
}

impl<S: PackageSource> Fetcher<S> {
    pub fn new(source: Arc<S>, handle: Handle) -> Self {
        Fetcher {
            source,
            handle,
            files: Mutex::new(HashMap::new()),
            metadata: Mutex::new(HashMap::new()),
            speculated: Mutex::new(HashSet::new()),
        }
    }

    /// The runtime the fetches run on.
    pub(super) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Whether no guess was started for `name` yet; from now on one is.
    pub(super) fn first_guess(&self, name: &PackageName) -> bool {
        let mut set = self.speculated.lock().unwrap_or_else(|e| e.into_inner());
        set.insert(name.clone())
    }

    fn files_cell(&self, name: &PackageName) -> Arc<OnceCell<FilesResult>> {
        // A poisoned lock only means another thread panicked while inserting; the map is
        // still usable.
        let mut map = self.files.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(name.clone()).or_default().clone()
    }

    fn metadata_cell(&self, file: &DistFile) -> Arc<OnceCell<MetadataResult>> {
        let mut map = self.metadata.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(file.url.to_string()).or_default().clone()
    }

    pub async fn files(&self, name: &PackageName) -> FilesResult {
        let cell = self.files_cell(name);
        cell.get_or_init(|| async {
            trace!(%name, "fetching files");
            self.source.files(name).await.map_err(Arc::new)
        })
        .await
        .clone()
    }

    pub async fn metadata(&self, package: &PackageFiles, file: &DistFile) -> MetadataResult {
        let cell = self.metadata_cell(file);
        cell.get_or_init(|| async {
            trace!(file = %file.filename, "fetching metadata");
            self.source.metadata(package, file).await.map_err(Arc::new)
        })
        .await
        .clone()
    }

    /// The files of `name` if they were fetched already (for reports).
    pub fn files_if_fetched(&self, name: &PackageName) -> Option<Arc<PackageFiles>> {
        let map = self.files.lock().unwrap_or_else(|e| e.into_inner());
        map.get(name)?.get()?.as_ref().ok()?.clone()
    }

    /// Where the source looks for `name` (for reports).
    pub fn scope(&self, name: &PackageName) -> Option<crate::index::SearchScope> {
        self.source.scope(name)
    }

    /// Names that no index knows (fetched, answered `None`).
    pub fn missing(&self) -> BTreeSet<PackageName> {
        let map = self.files.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .filter(|(_, cell)| matches!(cell.get(), Some(Ok(None))))
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// Why a version of a package cannot be used on the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Only a source distribution (or no wheel for the target: the tags the wheels have),
    /// and building is off for the package.
    NoBuild(Vec<String>),
    /// The package is `no_binary` and the version has no sdist.
    NoBinary,
    /// Wheels exist, none for the target, and no sdist; the tags they have.
    NoCompatibleWheel(Vec<String>),
    /// Every compatible file requires another Python.
    RequiresPython(VersionSpecifiers),
    /// Every usable file is yanked (and the version is not pinned exactly).
    Yanked(String),
    /// The index lists no file at all.
    NoFiles,
}

/// The wheel tags a version has, for a message: listed when there are a few (`available
/// tags cp312-cp312-manylinux_2_17_x86_64, ...`), else summed up by Python tag and system
/// (`wheels for cp310-cp313 on Linux aarch64, Linux x86_64, macOS arm64 (48 tags)`), since a
/// popular package has a hundred.
pub(crate) fn tags_in_words(tags: &[String]) -> String {
    if tags.len() <= 8 {
        return format!("available tags {}", tags.join(", "));
    }
    let mut pythons = BTreeSet::new();
    let mut systems = BTreeSet::new();
    for tag in tags {
        let mut parts = tag.splitn(3, '-');
        if let (Some(py), Some(_), Some(platform)) = (parts.next(), parts.next(), parts.next()) {
            pythons.insert(py.to_string());
            for p in platform.split('.') {
                systems.insert(system_of(p));
            }
        }
    }
    let pythons: Vec<String> = pythons.into_iter().collect();
    let pythons = match pythons.as_slice() {
        [one] => one.clone(),
        [first, .., last] if pythons.len() > 4 => format!("{first} to {last}"),
        all => all.join(", "),
    };
    format!(
        "wheels for {pythons} on {} ({} tags)",
        systems.into_iter().collect::<Vec<_>>().join(", "),
        tags.len()
    )
}

/// `manylinux_2_28_aarch64` -> `Linux aarch64`, `macosx_11_0_arm64` -> `macOS arm64`,
/// `win_amd64` -> `Windows x86_64`; another tag as it is.
fn system_of(platform: &str) -> String {
    let arch = |p: &str| p.rsplit('_').next().unwrap_or(p).to_string();
    if platform == "any" {
        "any platform".to_string()
    } else if platform.starts_with("musllinux") {
        format!(
            "musl Linux {}",
            platform.splitn(4, '_').nth(3).unwrap_or(platform)
        )
    } else if platform.starts_with("manylinux") || platform.starts_with("linux") {
        let arch = [
            "x86_64", "aarch64", "i686", "ppc64le", "s390x", "armv7l", "riscv64",
        ]
        .into_iter()
        .find(|a| platform.ends_with(a))
        .map_or_else(|| arch(platform), str::to_string);
        format!("Linux {arch}")
    } else if platform.starts_with("macosx") {
        let arch = ["universal2", "arm64", "x86_64", "intel", "universal"]
            .into_iter()
            .find(|a| platform.ends_with(a))
            .map_or_else(|| arch(platform), str::to_string);
        format!("macOS {arch}")
    } else {
        match platform {
            "win_amd64" => "Windows x86_64".to_string(),
            "win32" => "Windows x86".to_string(),
            "win_arm64" => "Windows arm64".to_string(),
            other => other.to_string(),
        }
    }
}

impl Rejection {
    pub fn describe(&self, name: &PackageName, version: &Version, target: &Target) -> String {
        match self {
            Rejection::NoBuild(tags) if tags.is_empty() => format!(
                "{name}=={version} exists only as a source distribution, and building {name} is off (`[build] no-build`)"
            ),
            Rejection::NoBuild(tags) => format!(
                "{name}=={version} has no wheel for {target} ({}) and building its source distribution is off (`[build] no-build`)",
                tags_in_words(tags)
            ),
            Rejection::NoBinary => format!(
                "{name} is marked no-binary, and {name}=={version} has no source distribution to build"
            ),
            Rejection::NoCompatibleWheel(tags) => format!(
                "{name}=={version} has no wheel for {target}: {}",
                tags_in_words(tags)
            ),
            Rejection::RequiresPython(spec) => format!(
                "{name}=={version} requires Python {spec}, but the target is Python {}",
                target.python_shown()
            ),
            Rejection::Yanked(reason) if reason.is_empty() => format!(
                "{name}=={version} was yanked; pin it exactly (`{name}=={version}`) to use it anyway"
            ),
            Rejection::Yanked(reason) => format!(
                "{name}=={version} was yanked ({reason}); pin it exactly (`{name}=={version}`) to use it anyway"
            ),
            Rejection::NoFiles => format!("{name}=={version} has no files in the index"),
        }
    }
}

/// The version-selection rules of one resolution, shared with prefetch tasks.
#[derive(Debug)]
pub struct Policy {
    pub target: Target,
    pub mode: PrereleaseMode,
    /// Packages whose root requirement or constraint names a pre-release.
    pub explicit_prerelease: HashSet<PackageName>,
    /// `==X` pins from root requirements and constraints: yanked versions there are allowed.
    pub pins: HashMap<PackageName, Vec<Ranges<Version>>>,
    pub no_binary: HashSet<PackageName>,
    /// Preferences that apply (upgrades already removed).
    pub preferences: HashMap<PackageName, Version>,
    /// Constraint ranges, applied to every dependency on the package.
    pub constraints: HashMap<PackageName, Ranges<Version>>,
    pub build: super::BuildPolicy,
    /// With building off: the newest version of each package passed over because it is
    /// sdist-only (or has an sdist and no wheel for the target), for the warning.
    pub(crate) skipped: std::sync::Mutex<HashMap<PackageName, Version>>,
    /// What [`Policy::usable_files`] found for each `name==version`, kept for the resolution.
    pub(crate) usable: Mutex<UsableMemo>,
}

/// What [`Policy::pick`] found: the candidate and its usable files, and the newest version
/// passed over for want of a build.
type Picked<'f> = (Option<(Version, Usable)>, Option<&'f Version>);

/// The usable files of a version, best first (shared: [`Policy::usable_files`] keeps them).
pub type Usable = Arc<[DistFile]>;

/// `name` -> `version` -> its usable files or why there are none.
type UsableMemo = FxHashMap<PackageName, FxHashMap<Version, Result<Usable, Rejection>>>;

impl Policy {
    pub fn from_request(request: &ResolveRequest) -> Result<Self, super::ResolveError> {
        let env = request.target.markers();
        let mut explicit_prerelease = HashSet::new();
        let mut pins: HashMap<PackageName, Vec<Ranges<Version>>> = HashMap::new();
        let mut constraints: HashMap<PackageName, Ranges<Version>> = HashMap::new();
        for (root, is_constraint) in request
            .requirements
            .iter()
            .map(|r| (r, false))
            .chain(request.constraints.iter().map(|r| (r, true)))
        {
            if !root.requirement.marker.evaluate(env, &[]) {
                continue;
            }
            let name = &root.requirement.name;
            let specifiers = root_specifiers(root)?;
            if super::ranges::names_prerelease(&specifiers) {
                explicit_prerelease.insert(name.clone());
            }
            pins.entry(name.clone())
                .or_default()
                .extend(super::ranges::exact_pins(&specifiers));
            if is_constraint {
                let range = constraints.entry(name.clone()).or_insert_with(Ranges::full);
                *range = range.intersection(&specifiers_to_ranges(&specifiers));
            }
        }
        let preferences = if request.upgrade_all {
            HashMap::new()
        } else {
            request
                .preferences
                .iter()
                .filter(|(name, _)| !request.upgrade.contains(*name))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect()
        };
        Ok(Policy {
            target: request.target.clone(),
            mode: request.prereleases,
            explicit_prerelease,
            pins,
            no_binary: request.no_binary.clone(),
            preferences,
            constraints,
            build: request.build.clone(),
            skipped: std::sync::Mutex::default(),
            usable: Mutex::default(),
        })
    }

    fn pinned(&self, name: &PackageName, version: &Version) -> bool {
        self.pins
            .get(name)
            .is_some_and(|pins| pins.iter().any(|r| r.contains(version)))
    }

    /// Whether `requires-python` of `name==version` admits the target Python. A version the
    /// user pinned exactly (`==X` in the manifest) is admitted when only the upper bounds of
    /// `spec` exclude the target, as uv does: such caps are often wrong, and the user asked for
    /// exactly this version. A warning says so.
    pub fn python_allows(
        &self,
        name: &PackageName,
        version: &Version,
        spec: &VersionSpecifiers,
    ) -> bool {
        let python = &self.target.python;
        if spec.contains(python) {
            return true;
        }
        let only_upper_bounds_fail = spec.iter().filter(|s| !s.contains(python)).all(|s| {
            matches!(
                s.operator(),
                pep440_rs::Operator::LessThan | pep440_rs::Operator::LessThanEqual
            )
        });
        if only_upper_bounds_fail && self.pinned(name, version) {
            tracing::warn!(
                "{name}=={version} declares requires-python `{spec}`, which excludes the target Python {python}; using it because the manifest pins it exactly"
            );
            return true;
        }
        false
    }

    /// The files of `name==version` usable on the target, best first, or why there are none;
    /// worked out once per version. A policy serves one resolution, whose files of a name are
    /// fetched once (the [`Fetcher`]'s cell) and passed to every call, so the answer cannot
    /// change; and PubGrub and the guesses ask it again and again (a warm lock of nine targets
    /// asked some 5,500 times about 1,100 versions, each time going over the tags of every
    /// wheel of the version).
    pub fn usable_files(
        &self,
        name: &PackageName,
        version: &Version,
        files: &[DistFile],
    ) -> Result<Usable, Rejection> {
        let memo = || self.usable.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = memo().get(name).and_then(|versions| versions.get(version)) {
            return known.clone();
        }
        // Worked out unlocked: two threads asking at once both work it out, to the same end.
        let found = self.find_usable(name, version, files).map(Arc::from);
        memo()
            .entry(name.clone())
            .or_default()
            .insert(version.clone(), found.clone());
        found
    }

    /// [`Policy::usable_files`] worked out afresh.
    pub(super) fn find_usable(
        &self,
        name: &PackageName,
        version: &Version,
        files: &[DistFile],
    ) -> Result<Vec<DistFile>, Rejection> {
        if files.is_empty() {
            return Err(Rejection::NoFiles);
        }
        let wheels: Vec<_> = files
            .iter()
            .filter_map(|f| f.parsed.as_wheel().map(|w| (f, w)))
            .collect();
        let sdist = best_sdist(files);
        if self.no_binary.contains(name) {
            return match sdist {
                Some(sdist) => self.sdist_candidate(name, version, sdist, Vec::new()),
                None => Err(Rejection::NoBinary),
            };
        }
        let compatible: Vec<(u32, &DistFile)> = wheels
            .iter()
            .filter_map(|(f, w)| self.target.wheel_priority(w).map(|p| (p, *f)))
            .collect();
        if compatible.is_empty() {
            let tags: BTreeSet<String> = wheels
                .iter()
                .flat_map(|(_, w)| {
                    w.tag_triples()
                        .map(|(p, a, pl)| format!("{p}-{a}-{pl}"))
                        .collect::<Vec<_>>()
                })
                .collect();
            let tags: Vec<String> = tags.into_iter().collect();
            return match sdist {
                Some(sdist) => self.sdist_candidate(name, version, sdist, tags),
                None if wheels.is_empty() => Err(Rejection::NoFiles),
                None => Err(Rejection::NoCompatibleWheel(tags)),
            };
        }
        self.usable_of(name, version, compatible)
    }

    /// The one sdist of `name==version` as its usable file, when building it is allowed;
    /// `tags` are those of the wheels the target cannot use.
    fn sdist_candidate(
        &self,
        name: &PackageName,
        version: &Version,
        sdist: &DistFile,
        tags: Vec<String>,
    ) -> Result<Vec<DistFile>, Rejection> {
        if !self.build.allows(name) {
            return Err(Rejection::NoBuild(tags));
        }
        self.usable_of(name, version, vec![(0, sdist)])
    }

    /// `compatible` (with their tag priorities) less what requires another Python or is
    /// yanked, best first.
    fn usable_of(
        &self,
        name: &PackageName,
        version: &Version,
        mut compatible: Vec<(u32, &DistFile)>,
    ) -> Result<Vec<DistFile>, Rejection> {
        if let Some((_, f)) = compatible.iter().find(|(_, f)| {
            f.requires_python
                .as_ref()
                .is_some_and(|spec| !self.python_allows(name, version, spec))
        }) {
            let spec = f.requires_python.clone();
            compatible.retain(|(_, f)| {
                f.requires_python
                    .as_ref()
                    .is_none_or(|s| self.python_allows(name, version, s))
            });
            if compatible.is_empty() {
                // `spec` is Some: the `find` above matched a file with a requirement.
                return Err(Rejection::RequiresPython(spec.unwrap_or_default()));
            }
        }
        if !self.pinned(name, version) {
            let reason = compatible
                .iter()
                .find_map(|(_, f)| f.yanked.clone())
                .unwrap_or_default();
            compatible.retain(|(_, f)| f.yanked.is_none());
            if compatible.is_empty() {
                return Err(Rejection::Yanked(reason));
            }
        }
        // Best tag first; ties keep index order.
        compatible.sort_by_key(|(p, _)| Reverse(*p));
        Ok(compatible.into_iter().map(|(_, f)| f.clone()).collect())
    }

    /// Whether pre-releases of `name` may be chosen.
    pub fn allows_prereleases(&self, name: &PackageName, files: &PackageFiles) -> bool {
        match self.mode {
            PrereleaseMode::Allow => true,
            PrereleaseMode::Disallow => false,
            PrereleaseMode::IfNecessaryOrExplicit => {
                self.explicit_prerelease.contains(name)
                    || files.versions.keys().all(|v| v.any_prerelease())
            }
        }
    }

    /// The version to try for `name` in `range`: the preference if it fits, else the newest
    /// usable one; with its files, best first. A newer version passed over because building
    /// is off is remembered for the report.
    pub fn candidate(
        &self,
        name: &PackageName,
        files: &PackageFiles,
        range: &Ranges<Version>,
    ) -> Option<(Version, Usable)> {
        let (found, skipped) = self.pick(name, files, range);
        if let Some(skipped) = skipped {
            let mut map = self.skipped.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = map.entry(name.clone()).or_insert_with(|| skipped.clone());
            if *entry < *skipped {
                *entry = skipped.clone();
            }
        }
        found
    }

    /// [`Policy::candidate`] without remembering anything: what a guess may call.
    pub fn likely_candidate(
        &self,
        name: &PackageName,
        files: &PackageFiles,
        range: &Ranges<Version>,
    ) -> Option<(Version, Usable)> {
        self.pick(name, files, range).0
    }

    /// The candidate, and the newest version passed over for want of a build.
    fn pick<'f>(
        &self,
        name: &PackageName,
        files: &'f PackageFiles,
        range: &Ranges<Version>,
    ) -> Picked<'f> {
        let pre_ok = self.allows_prereleases(name, files);
        let eligible = |v: &Version| range.contains(v) && (pre_ok || !v.any_prerelease());
        if let Some(preferred) = self.preferences.get(name)
            && eligible(preferred)
            && let Some(dist) = files.versions.get(preferred)
            && let Ok(usable) = self.usable_files(name, preferred, dist)
        {
            return (Some((preferred.clone(), usable)), None);
        }
        let mut skipped: Option<&Version> = None;
        let found = files
            .versions
            .iter()
            .rev()
            .filter(|(v, _)| eligible(v))
            .find_map(|(v, dist)| match self.usable_files(name, v, dist) {
                Ok(usable) => Some((v.clone(), usable)),
                Err(Rejection::NoBuild(_)) => {
                    skipped.get_or_insert(v);
                    None
                }
                Err(_) => None,
            });
        (found, skipped)
    }

    /// The versions `requirement` (a dependency) allows, within the constraints; `Err` with
    /// the URL of a direct-URL requirement, which has none.
    pub fn requirement_range(&self, requirement: &Requirement) -> Result<Ranges<Version>, String> {
        let mut range = match &requirement.version_or_url {
            None => Ranges::full(),
            Some(VersionOrUrl::VersionSpecifier(s)) => specifiers_to_ranges(s),
            Some(VersionOrUrl::Url(url)) => return Err(url.to_string()),
        };
        if let Some(constraint) = self.constraints.get(&requirement.name) {
            range = range.intersection(constraint);
        }
        Ok(range)
    }

    /// The newest version of each package passed over because building it is off.
    pub fn skipped_sdists(&self) -> HashMap<PackageName, Version> {
        self.skipped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The file whose metadata stands for `version`: its best usable file, except that a
/// version to be built from its sdist takes the metadata of one of its wheels for other
/// targets when it has one. A release's files share their metadata (uv relies on it too), and
/// this spares running a build backend; `sync` checks the wheel it builds against what was
/// locked, so a release whose files disagree is caught there.
pub(super) fn metadata_file(
    files: &PackageFiles,
    version: &Version,
    usable: &[DistFile],
) -> Option<DistFile> {
    let best = usable.first()?;
    if best.parsed.as_wheel().is_some() {
        return Some(best.clone());
    }
    let wheel = files
        .versions
        .get(version)
        .and_then(|dist| dist.iter().find(|f| f.parsed.as_wheel().is_some()));
    Some(wheel.unwrap_or(best).clone())
}

/// The sdist to build among `files`: a PEP 625 `.tar.gz` before a legacy `.zip`, then index
/// order.
fn best_sdist(files: &[DistFile]) -> Option<&DistFile> {
    let sdists = || {
        files
            .iter()
            .filter(|f| matches!(f.parsed, crate::wheel::DistFilename::Sdist { .. }))
    };
    sdists()
        .find(|f| f.filename.ends_with(".tar.gz"))
        .or_else(|| sdists().next())
}

/// The specifiers of a root requirement; a URL requirement is refused.
pub fn root_specifiers(root: &RootRequirement) -> Result<VersionSpecifiers, super::ResolveError> {
    match &root.requirement.version_or_url {
        None => Ok(VersionSpecifiers::empty()),
        Some(VersionOrUrl::VersionSpecifier(s)) => Ok(s.clone()),
        Some(VersionOrUrl::Url(url)) => Err(super::ResolveError::BadRequirement {
            origin: root.origin.clone(),
            reason: format!(
                "`{}` is a direct URL ({url}); sanctuary resolves from indexes only",
                root.requirement
            ),
        }),
    }
}

/// An error that stops the resolution (not a conflict).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error(transparent)]
    Index(Arc<IndexError>),
}

/// What the provider learned about one chosen `(package, version)`.
#[derive(Clone, Debug, Default)]
pub struct Chosen {
    pub dependencies: BTreeSet<PackageName>,
    pub requires_python: Option<VersionSpecifiers>,
}

/// The PubGrub provider. Lives on the PubGrub thread; talks to the runtime through
/// [`Fetcher`].
pub struct Provider<S> {
    pub fetcher: Arc<Fetcher<S>>,
    pub policy: Arc<Policy>,
    root_dependencies: Vec<(Pkg, Ranges<Version>)>,
    /// Order in which packages were first seen (earlier is decided first, all else equal).
    discovered: RefCell<HashMap<Pkg, u32>>,
    pub chosen: RefCell<HashMap<(Pkg, Version), Chosen>>,
}

impl<S: PackageSource> Provider<S> {
    pub fn new(
        fetcher: Arc<Fetcher<S>>,
        policy: Arc<Policy>,
        root_dependencies: Vec<(Pkg, Ranges<Version>)>,
    ) -> Self {
        let provider = Provider {
            fetcher,
            policy,
            root_dependencies,
            discovered: RefCell::new(HashMap::new()),
            chosen: RefCell::new(HashMap::new()),
        };
        let deps = provider.root_dependencies.clone();
        provider.discover(&deps);
        provider
    }

    /// Note new dependencies and start fetching their files and likely metadata.
    fn discover(&self, deps: &[(Pkg, Ranges<Version>)]) {
        let mut discovered = self.discovered.borrow_mut();
        for (pkg, range) in deps {
            if discovered.contains_key(pkg) {
                continue;
            }
            let order = discovered.len() as u32;
            discovered.insert(pkg.clone(), order);
            if let Pkg::Base(name) = pkg {
                self.prefetch(name.clone(), range.clone());
            }
        }
    }

    fn prefetch(&self, name: PackageName, range: Ranges<Version>) {
        self.fetcher.first_guess(&name);
        super::speculate::start(
            self.fetcher.clone(),
            self.policy.clone(),
            super::speculate::Guess::discovered(name, range),
        );
    }

    fn files(&self, name: &PackageName) -> Result<Option<Arc<PackageFiles>>, ProviderError> {
        crate::spent::time(crate::spent::Work::Waiting, || {
            self.fetcher.handle.block_on(self.fetcher.files(name))
        })
        .map_err(ProviderError::Index)
    }

    /// The edges of `name` (or of its `extra`) at `version` from its `requires_dist`; `Err`
    /// with a reason when a requirement makes the version unusable.
    fn edges(
        &self,
        name: &PackageName,
        extra: Option<&ExtraName>,
        version: &Version,
        requires_dist: &[Requirement],
    ) -> Result<Vec<(Pkg, Ranges<Version>)>, String> {
        let env = self.policy.target.markers();
        let mut edges = Vec::new();
        // `name[extra]` is `name` at the same version plus only what the extra adds; the base
        // requirements come through `name` itself.
        let extras: &[ExtraName] = match extra {
            Some(extra) => {
                push_edge(
                    &mut edges,
                    Pkg::Base(name.clone()),
                    Ranges::singleton(version.clone()),
                );
                std::slice::from_ref(extra)
            }
            None => &[],
        };
        for requirement in requires_dist {
            let applies = requirement.marker.evaluate(env, extras)
                && (extra.is_none() || !requirement.marker.evaluate(env, &[]));
            if !applies {
                continue;
            }
            if &requirement.name == name {
                // A package asking for its own extras (`foo[all]` needs `foo[a]`).
                for other in requirement.extras.iter().filter(|o| Some(*o) != extra) {
                    push_edge(
                        &mut edges,
                        Pkg::Extra(name.clone(), other.clone()),
                        Ranges::singleton(version.clone()),
                    );
                }
                continue;
            }
            self.requirement_edges(requirement, &mut edges)?;
        }
        Ok(edges)
    }

    /// The dependency edges of `requirement` (already known to apply), with constraints.
    fn requirement_edges(
        &self,
        requirement: &Requirement,
        out: &mut Vec<(Pkg, Ranges<Version>)>,
    ) -> Result<(), String> {
        let range = self.policy.requirement_range(requirement).map_err(|url| {
            format!(
                "it depends on `{}` at a direct URL ({url}), which sanctuary does not support",
                requirement.name
            )
        })?;
        push_edge(out, Pkg::Base(requirement.name.clone()), range.clone());
        for extra in &requirement.extras {
            push_edge(
                out,
                Pkg::Extra(requirement.name.clone(), extra.clone()),
                range.clone(),
            );
        }
        Ok(())
    }
}

/// Add `pkg in range` to `out`, intersecting with an existing edge to the same package.
pub fn push_edge(out: &mut Vec<(Pkg, Ranges<Version>)>, pkg: Pkg, range: Ranges<Version>) {
    if let Some((_, existing)) = out.iter_mut().find(|(p, _)| *p == pkg) {
        *existing = existing.intersection(&range);
    } else {
        out.push((pkg, range));
    }
}

/// How urgently PubGrub should decide a package: exact pins first, then packages involved
/// in many conflicts, then in discovery order (breadth first).
pub type Priority = (u8, u32, Reverse<u32>);

impl<S: PackageSource> DependencyProvider for Provider<S> {
    type P = Pkg;
    type V = Version;
    type VS = Ranges<Version>;
    type M = String;
    type Priority = Priority;
    type Err = ProviderError;

    fn prioritize(
        &self,
        package: &Pkg,
        range: &Ranges<Version>,
        stats: &PackageResolutionStatistics,
    ) -> Priority {
        let order = self
            .discovered
            .borrow()
            .get(package)
            .copied()
            .unwrap_or(u32::MAX);
        let class = match package {
            Pkg::Root => 3,
            _ if range.as_singleton().is_some() => 2,
            Pkg::Base(name) | Pkg::Extra(name, _)
                if self.policy.pins.get(name).is_some_and(|p| !p.is_empty()) =>
            {
                2
            }
            _ => 1,
        };
        (class, stats.conflict_count(), Reverse(order))
    }

    fn choose_version(
        &self,
        package: &Pkg,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ProviderError> {
        let Some(name) = package.name() else {
            return Ok(Some(root_version()));
        };
        let Some(files) = self.files(name)? else {
            debug!(%name, "not found in any index");
            return Ok(None);
        };
        let chosen = self
            .policy
            .candidate(name, &files, range)
            .map(|(v, usable)| {
                // Start the metadata fetch now; `get_dependencies` follows right away.
                if let Some(best) = metadata_file(&files, &v, &usable)
                    && self.policy.build.declared(name, &v).is_none()
                {
                    let fetcher = self.fetcher.clone();
                    let files = files.clone();
                    self.fetcher.handle.spawn(async move {
                        let _ = fetcher.metadata(&files, &best).await;
                    });
                }
                v
            });
        debug!(%package, %range, chosen = ?chosen.as_ref().map(|v| v.to_string()), "choose_version");
        Ok(chosen)
    }

    fn get_dependencies(
        &self,
        package: &Pkg,
        version: &Version,
    ) -> Result<Dependencies<Pkg, Ranges<Version>, String>, ProviderError> {
        let (name, extra) = match package {
            Pkg::Root => {
                return Ok(Dependencies::Available(DependencyConstraints::from_iter(
                    self.root_dependencies.clone(),
                )));
            }
            Pkg::Base(name) => (name, None),
            Pkg::Extra(name, extra) => (name, Some(extra)),
        };
        let files = self.files(name)?.ok_or_else(|| {
            ProviderError::Index(Arc::new(IndexError::Other(format!(
                "{name} disappeared from the index during resolution"
            ))))
        })?;
        let dist = files
            .versions
            .get(version)
            .map(|f| f.as_slice())
            .unwrap_or(&[]);
        let usable = match self.policy.usable_files(name, version, dist) {
            Ok(usable) => usable,
            Err(rejection) => {
                return Ok(Dependencies::Unavailable(rejection.describe(
                    name,
                    version,
                    &self.policy.target,
                )));
            }
        };
        // `usable_files` never returns an empty list.
        let Some(best) = usable.first() else {
            return Ok(Dependencies::Unavailable(
                "it has no usable file".to_string(),
            ));
        };
        let metadata = match self.policy.build.declared(name, version) {
            Some(declared) => Arc::new(declared),
            None => {
                let file = metadata_file(&files, version, &usable).unwrap_or_else(|| best.clone());
                crate::spent::time(crate::spent::Work::Waiting, || {
                    self.fetcher
                        .handle
                        .block_on(self.fetcher.metadata(&files, &file))
                })
                .map_err(ProviderError::Index)?
            }
        };
        // The lockfile lists every usable file of the chosen version with its size; the range
        // requests that read the metadata gave the best file's, ask for the others' now
        // rather than after the resolution.
        if usable.iter().any(|f| f.size.is_none()) {
            let source = self.fetcher.source.clone();
            let files = usable.to_vec();
            self.fetcher
                .handle
                .spawn(async move { source.prefetch_facts(files).await });
        }
        let target = &self.policy.target;
        if let Some(spec) = &metadata.requires_python
            && !self.policy.python_allows(name, version, spec)
        {
            return Ok(Dependencies::Unavailable(format!(
                "it requires Python {spec}, but the target is Python {}",
                target.python_shown()
            )));
        }
        let edges = match self.edges(name, extra, version, &metadata.requires_dist) {
            Ok(edges) => edges,
            Err(reason) => return Ok(Dependencies::Unavailable(reason)),
        };
        self.discover(&edges);
        let dependencies = edges
            .iter()
            .filter_map(|(p, _)| p.name())
            .filter(|n| *n != name)
            .cloned()
            .collect();
        self.chosen.borrow_mut().insert(
            (package.clone(), version.clone()),
            Chosen {
                dependencies,
                requires_python: metadata
                    .requires_python
                    .clone()
                    .or_else(|| best.requires_python.clone()),
            },
        );
        Ok(Dependencies::Available(DependencyConstraints::from_iter(
            edges,
        )))
    }
}
