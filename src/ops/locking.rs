//! Locking a project: per hardware key, the Foundation from that key's index, then the
//! Application against the pins of every key's Foundation (it can never move them), written
//! as one shared Application lockfile or, where keys disagree, one per key; all lockfiles of a
//! run together or not at all. Also `lock --check` and the staleness `sync` asks about.
//!
//! The packages come from a [`LockSource`] (the index set, or in-memory data in tests), and
//! what happens is told to a [`LockProgress`]: this module prints nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pep508_rs::PackageName;

use super::building::MetadataBuilder;
use super::indexes::{shared_indexes, trusted_indexes};
use super::layers::{
    application_inputs, application_pins, application_request, chain, differences,
    foundation_inputs, foundation_pins, foundation_pins_for_key, foundation_request,
    locked_packages, preferences_for,
};
use super::local::{self, LocalProject};
use super::lockfiles::{
    APPLICATION_LOCKFILE, LockfileWriter, Staleness, Written, application_files,
    application_key_lockfile, foundation_lockfile, lockfile_dir, read_existing, staleness,
};
use super::universal;
use crate::bail;
use crate::error::{Context as _, Error, Result};
use crate::hardware::family;
use crate::index::{DistFile, IndexSet, IndexView, PackageSource};
use crate::manifest::{FoundationSpec, Manifest};
use crate::pylock::origin::{OriginError, TrustedIndexes};
use crate::pylock::{FORMAT_VERSION, InputSummary, LockedPackage, Lockfile, ToolTable};
use crate::resolve::{Resolution, ResolveRequest};
use crate::settings::NetworkSettings;
use crate::universe::Universe;

/// What a lock run may change: the versions to release and the keys to lock.
#[derive(Clone, Debug, Default)]
pub struct LockRequest {
    /// Ignore the versions of the existing lockfiles.
    pub upgrade_all: bool,
    /// Ignore the locked versions of these packages.
    pub upgrade: HashSet<PackageName>,
    /// Lock the Foundation of these keys only (every declared key when empty).
    pub keys: Vec<String>,
    /// Width to wrap conflict reports at (the report's default when `None`).
    pub report_width: Option<usize>,
    /// The Application's local projects, located and described ([`lock_manifest`] fills it).
    pub local: Vec<LocalProject>,
}

/// Where locking gets packages: one source for every layer and key, seen with the pins of
/// each (`pins` maps a package to the name of the index it must come from).
pub trait LockSource: Send + Sync + 'static {
    type View: PackageSource;

    fn view(&self, pins: HashMap<PackageName, String>) -> Result<Self::View>;

    /// `file` with the facts a lockfile needs that its listing lacked (size, upload time).
    fn complete(&self, file: &DistFile) -> impl Future<Output = Result<DistFile>> + Send;
}

impl LockSource for Arc<IndexSet> {
    type View = IndexView;

    fn view(&self, pins: HashMap<PackageName, String>) -> Result<IndexView> {
        Ok(IndexSet::view(self, pins)?)
    }

    async fn complete(&self, file: &DistFile) -> Result<DistFile> {
        Ok(IndexSet::complete(self, file).await?)
    }
}

/// What a lock run tells as it goes (a spinner, "Resolved ..." lines); every method has a
/// silent default.
pub trait LockProgress: Sync {
    /// Resolving starts for `what` ("the Foundation for cu130", "the application layer").
    fn resolving(&self, what: &str) {
        let _ = what;
    }
    /// Resolving ended, or failed.
    fn done(&self) {}
    /// `lockfile` was resolved; `existing` is the file it replaces.
    fn resolved(&self, lockfile: &Lockfile, existing: Option<&Lockfile>) {
        let _ = (lockfile, existing);
    }
    /// The Application differs between keys, for these reasons (one line a package).
    fn split(&self, reasons: &[String]) {
        let _ = reasons;
    }
    /// `what` (a layer) holds packages in more than one version across the environments of
    /// a universal lock: one line a package, saying why.
    fn forks(&self, what: &str, lines: &[String]) {
        let _ = (what, lines);
    }
    /// Something the user should know about the lock (a newer version skipped because
    /// building is off).
    fn warning(&self, message: &str) {
        tracing::warn!("{message}");
    }
}

/// Progress nobody hears.
pub struct Silent;

impl LockProgress for Silent {}

/// What `lock` produces for a manifest: the inputs and hash of every declared key's
/// Foundation and of the Application.
#[derive(Clone, Debug)]
pub struct LockPlan {
    dir: PathBuf,
    /// Declared keys, best first, with their Foundation inputs and hash.
    foundations: Vec<(String, InputSummary, String)>,
    /// Keys whose Foundation is (re)locked in this run.
    selected: Vec<String>,
    application: InputSummary,
}

/// What `lock --check` found for one lockfile.
#[derive(Clone, Debug)]
pub enum FileCheck {
    UpToDate(String),
    Stale(Staleness),
    /// Made from the current inputs, but naming artifacts no declared index serves.
    Inconsistent(OriginError),
    /// Made from the current inputs, but unusable in a declared environment it covers: two
    /// entries of a package apply there, or a dependency applies with none (a hand edit).
    Invalid {
        file: String,
        problems: Vec<String>,
    },
}

impl LockPlan {
    /// The plan for `manifest`, locking the Foundation of `keys` (every key when empty).
    pub fn new(manifest: &Manifest, keys: &[String]) -> Result<LockPlan> {
        let platform = manifest.universe.platform_names();
        let mut foundations = Vec::new();
        if let Some(f) = &manifest.foundation {
            for key in &f.keys {
                let inputs = foundation_inputs(manifest, f, key);
                let hash = inputs.hash("foundation", Some(key), &manifest.python, &platform);
                foundations.push((key.clone(), inputs, hash));
            }
        }
        let declared: Vec<&String> = foundations.iter().map(|(k, _, _)| k).collect();
        for key in keys {
            if manifest.foundation.is_none() {
                return Err(Error::usage(format!(
                    "--key {key}: {} declares no [foundation], so there are no hardware keys",
                    manifest.path.display()
                )));
            }
            if !declared.contains(&key) {
                return Err(Error::usage(format!(
                    "--key {key}: the key is not declared in {} (declared: {})",
                    manifest.path.display(),
                    declared
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let selected = declared
            .iter()
            .filter(|k| keys.is_empty() || keys.contains(k))
            .map(|k| k.to_string())
            .collect();
        let application = application_inputs(manifest, &foundations);
        Ok(LockPlan {
            dir: lockfile_dir(manifest),
            foundations,
            selected,
            application,
        })
    }

    fn keys(&self) -> Vec<String> {
        self.foundations.iter().map(|(k, _, _)| k.clone()).collect()
    }

    fn application_hash(&self, manifest: &Manifest, key: Option<&str>) -> String {
        self.application.hash(
            "application",
            key,
            &manifest.python,
            &manifest.universe.platform_names(),
        )
    }

    /// `lock --check`: every lockfile is present, made from the current inputs, and names
    /// only artifacts of the declared indexes.
    pub fn check(&self, manifest: &Manifest, trusted: &TrustedIndexes) -> Vec<FileCheck> {
        let files =
            self.foundations
                .iter()
                .map(|(key, inputs, hash)| {
                    (
                        self.dir.join(foundation_lockfile(key)),
                        inputs,
                        hash.clone(),
                    )
                })
                .chain(application_files(&self.dir, &self.keys()).into_iter().map(
                    |(key, path)| {
                        let hash = self.application_hash(manifest, key.as_deref());
                        (path, &self.application, hash)
                    },
                ));
        files
            .map(|(path, inputs, hash)| check_file(&path, manifest, inputs, &hash, trusted))
            .collect()
    }

    /// Why the lockfiles that serve `key` (its Foundation and its Application; the
    /// Application alone without a key) are stale; empty when both are up to date.
    pub fn stale_for(&self, manifest: &Manifest, key: Option<&str>) -> Vec<Staleness> {
        let mut out = Vec::new();
        if let Some(key) = key
            && let Some((_, inputs, hash)) = self.foundations.iter().find(|(k, _, _)| k == key)
        {
            let path = self.dir.join(foundation_lockfile(key));
            out.extend(staleness(&path, manifest, inputs, hash));
        }
        let files = application_files(&self.dir, &self.keys());
        let (file_key, path) = match key {
            Some(key) => files
                .into_iter()
                .find(|(k, _)| k.as_deref() == Some(key) || k.is_none())
                .unwrap_or((None, self.dir.join(APPLICATION_LOCKFILE))),
            None => (None, self.dir.join(APPLICATION_LOCKFILE)),
        };
        let hash = self.application_hash(manifest, file_key.as_deref());
        out.extend(staleness(&path, manifest, &self.application, &hash));
        out
    }
}

/// One lockfile for `lock --check`.
fn check_file(
    path: &Path,
    manifest: &Manifest,
    inputs: &InputSummary,
    hash: &str,
    trusted: &TrustedIndexes,
) -> FileCheck {
    let file = crate::fs::display(path, manifest.dir());
    if let Some(stale) = staleness(path, manifest, inputs, hash) {
        return FileCheck::Stale(stale);
    }
    let Some(lock) = read_existing(path) else {
        return FileCheck::UpToDate(file);
    };
    if let Err(e) = trusted.check_file(&file, &lock) {
        return FileCheck::Inconsistent(e);
    }
    // Every declared environment the file covers must see one entry a package and every
    // dependency served: what `sync` will ask of it on each machine.
    let problems: Vec<String> = manifest
        .universe
        .targets()
        .iter()
        .filter(|t| lock.covers(t.markers()))
        .filter_map(|t| lock.for_environment(t.markers()).err())
        .map(|e| e.to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if problems.is_empty() {
        FileCheck::UpToDate(file)
    } else {
        FileCheck::Invalid { file, problems }
    }
}

/// Lock `manifest` from its indexes (on a runtime of its own): see the module documentation.
pub fn lock_manifest(
    manifest: &Manifest,
    network: &NetworkSettings,
    request: &LockRequest,
    progress: &dyn LockProgress,
) -> Result<Written> {
    let plan = LockPlan::new(manifest, &request.keys)?;
    let trusted = trusted_indexes(manifest, &network.index_overrides)?;
    let indexes = shared_indexes(manifest, &network.index_overrides, &plan.keys())?;
    let mut set = IndexSet::new(indexes, HashMap::new(), network.index.clone())?;
    // Build requirements are resolved on a set of their own, which builds nothing.
    let build_set = Arc::new(set.sibling());
    let client = build_set.client().clone();
    let builder = Arc::new(MetadataBuilder::new(
        manifest,
        build_set,
        client,
        &network.index,
    ));
    set = set.with_builder(builder.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let index = &network.index;
    let locked = locked_sources(&plan, request);
    let local = runtime.block_on(local::prepare(
        manifest,
        &index.cache_dir,
        index.offline,
        Some(&builder),
        &locked,
    ))?;
    for project in &local {
        set = set.with_local(&project.name, &project.metadata.version, &project.tree)?;
    }
    let request = LockRequest {
        local,
        ..request.clone()
    };
    let set = Arc::new(set);
    let written = runtime.block_on(lock(manifest, &plan, &request, &set, trusted, progress));
    // Every page and metadata read is in the set: the command need not wait for them to be
    // freed (the runtime, which may still hold a cache write, is shut down here).
    drop(runtime);
    crate::memory::drop_in_background(set);
    written
}

/// The local projects the existing Application lockfiles record, but those `request`
/// upgrades: their git commits are kept.
fn locked_sources(plan: &LockPlan, request: &LockRequest) -> Vec<crate::pylock::LocalSource> {
    if request.upgrade_all {
        return Vec::new();
    }
    application_files(&plan.dir, &plan.keys())
        .iter()
        .filter_map(|(_, path)| read_existing(path))
        .flat_map(|lock| lock.packages)
        .filter(|p| !request.upgrade.contains(&p.name))
        .filter_map(|p| p.source)
        .collect()
}

/// Lock `manifest` from `source` following `plan`, and write the lockfiles (all or none).
pub async fn lock<S: LockSource>(
    manifest: &Manifest,
    plan: &LockPlan,
    request: &LockRequest,
    source: &S,
    trusted: TrustedIndexes,
    progress: &dyn LockProgress,
) -> Result<Written> {
    check_keys(manifest)?;
    let mut writer = LockfileWriter::new(&plan.dir, trusted);
    let result = async {
        let foundations =
            lock_foundations(manifest, plan, request, source, &mut writer, progress).await?;
        let per_key =
            lock_application(manifest, plan, request, source, &foundations, progress).await?;
        Ok::<_, Error>(per_key)
    }
    .await;
    let per_key = match result {
        Ok(per_key) => per_key,
        Err(e) => {
            progress.done();
            return Err(e);
        }
    };
    let written = write_application(
        manifest,
        plan,
        per_key,
        source,
        &request.local,
        &mut writer,
        progress,
    )
    .await;
    progress.done();
    written?;
    writer.commit()
}

/// The Foundation of every key: locked now when selected, else read from disk.
async fn lock_foundations<S: LockSource>(
    manifest: &Manifest,
    plan: &LockPlan,
    request: &LockRequest,
    source: &S,
    writer: &mut LockfileWriter,
    progress: &dyn LockProgress,
) -> Result<Vec<(String, Lockfile)>> {
    let mut foundations = Vec::new();
    let Some(spec) = &manifest.foundation else {
        return Ok(foundations);
    };
    for (key, inputs, hash) in &plan.foundations {
        let path = plan.dir.join(foundation_lockfile(key));
        if !plan.selected.contains(key) {
            match read_existing(&path) {
                Some(lock) => foundations.push((key.clone(), lock)),
                None => tracing::warn!(
                    "no Foundation lockfile for key `{key}`; the Application is not checked against it"
                ),
            }
            continue;
        }
        progress.resolving(&format!("the Foundation for {key}"));
        let existing = read_existing(&path);
        let universe = key_universe(manifest, key)?;
        let packages = lock_foundation(
            manifest,
            spec,
            source,
            key,
            &universe,
            existing.as_ref(),
            request,
            progress,
        )
        .await?;
        let lockfile = Lockfile {
            environments: universe.environment_markers(),
            requires_python: universe.requires_python(),
            packages,
            tool: ToolTable {
                format: FORMAT_VERSION,
                layer: "foundation".to_string(),
                key: Some(key.clone()),
                python: manifest.python.clone(),
                platform: manifest.universe.platform_names(),
                inputs_hash: hash.clone(),
                inputs: inputs.clone(),
            },
        };
        progress.resolved(&lockfile, existing.as_ref());
        writer.write(&path, &lockfile)?;
        foundations.push((key.clone(), lockfile));
    }
    if request.keys.is_empty() {
        writer.remove_undeclared(&plan.dir, &plan.keys());
    }
    Ok(foundations)
}

/// The environments of the manifest that `key`'s builds run on (every one for `cpu`); an
/// error when none is declared.
fn key_universe(manifest: &Manifest, key: &str) -> Result<Universe> {
    manifest
        .universe
        .restricted(|p| family::serves(key, p))
        .ok_or_else(|| {
            Error::msg(format!(
                "{}: key `{key}` runs on none of the declared platforms ({}): its builds run on {}\nhint: drop the key from [foundation] keys, or add a platform it runs on to [project] platforms",
                manifest.file_name().display(),
                manifest.universe.platform_names(),
                family::served_words(key)
            ))
        })
}

/// The packages of the Foundation of `key`, over the environments it runs on.
#[allow(clippy::too_many_arguments)]
async fn lock_foundation<S: LockSource>(
    manifest: &Manifest,
    spec: &FoundationSpec,
    source: &S,
    key: &str,
    universe: &Universe,
    existing: Option<&Lockfile>,
    request: &LockRequest,
    progress: &dyn LockProgress,
) -> Result<Vec<LockedPackage>> {
    let requests: Vec<ResolveRequest> = universe
        .targets()
        .iter()
        .map(|t| foundation_request(manifest, spec, key, t, existing, request))
        .collect();
    let view = Arc::new(source.view(foundation_pins_for_key(manifest, spec, key)?)?);
    let what = format!("the Foundation for {key}");
    let resolutions =
        universal::resolve_universe(Arc::clone(&view), universe, &what, requests.clone()).await?;
    for resolution in &resolutions {
        warn_skipped(resolution, progress);
        check_cuda_families(key, resolution)?;
    }
    let each: Vec<(usize, &Resolution, &BTreeSet<PackageName>)> = resolutions
        .iter()
        .enumerate()
        .map(|(i, r)| (i, r, &NOTHING))
        .collect();
    let merged = universal::merge(&each);
    report_forks(&view, universe, &merged, &requests, &what, progress).await;
    locked_packages(source, universe, &merged, &request.local).await
}

/// No package left out.
static NOTHING: BTreeSet<PackageName> = BTreeSet::new();

/// Tell `progress` which packages `merged` holds in several versions, and why, and which
/// must be built from source on some of its environments only.
async fn report_forks<V: PackageSource>(
    view: &Arc<V>,
    universe: &Universe,
    merged: &[universal::MergedPackage],
    requests: &[ResolveRequest],
    what: &str,
    progress: &dyn LockProgress,
) {
    if !universe.is_universal() {
        return;
    }
    for warning in universal::partial_builds(universe, merged) {
        progress.warning(&warning);
    }
    let lines = universal::explain_splits(Arc::clone(view), universe, merged, requests).await;
    if !lines.is_empty() {
        progress.forks(what, &lines);
    }
}

/// The Application of one key (or of none): the key's environments and their resolutions,
/// and in each environment the Foundation's packages there, which the Application file
/// leaves out there.
struct KeyApplication {
    key: Option<String>,
    universe: Universe,
    resolutions: Vec<Resolution>,
    requests: Vec<ResolveRequest>,
    provided: Vec<BTreeSet<PackageName>>,
}

/// The Application, against each key's Foundation (or alone), over the environments each key
/// runs on.
async fn lock_application<S: LockSource>(
    manifest: &Manifest,
    plan: &LockPlan,
    request: &LockRequest,
    source: &S,
    foundations: &[(String, Lockfile)],
    progress: &dyn LockProgress,
) -> Result<Vec<KeyApplication>> {
    progress.resolving("the application layer");
    let existing: Vec<Lockfile> = if request.upgrade_all {
        Vec::new()
    } else {
        application_files(&plan.dir, &plan.keys())
            .iter()
            .filter_map(|(_, path)| read_existing(path))
            .collect()
    };
    // Later keys prefer what earlier keys chose in the same environment, so the layers agree
    // where they can (a fork of the first key stays in its own environments).
    let mut chosen: HashMap<crate::target::Target, HashMap<PackageName, pep440_rs::Version>> =
        HashMap::new();
    let keys: Vec<(Option<&str>, Option<&Lockfile>)> = if manifest.foundation.is_none() {
        vec![(None, None)]
    } else {
        foundations
            .iter()
            .map(|(k, f)| (Some(k.as_str()), Some(f)))
            .collect()
    };
    let mut per_key = Vec::new();
    for (key, foundation) in keys {
        let universe = match key {
            Some(key) => key_universe(manifest, key)?,
            None => manifest.universe.clone(),
        };
        let view = Arc::new(source.view(application_pins(manifest, key))?);
        let mut requests = Vec::new();
        let mut provided = Vec::new();
        for target in universe.targets() {
            let (pins, names) = match (key, foundation) {
                (Some(key), Some(f)) => {
                    let seen = f.for_environment(target.markers()).map_err(|e| {
                        Error::from(e).context(format!(
                            "the Foundation lockfile of key `{key}` for {target}"
                        ))
                    })?;
                    let names: BTreeSet<PackageName> =
                        seen.packages.iter().map(|p| p.name.clone()).collect();
                    (foundation_pins(key, &seen)?, names)
                }
                _ => (Vec::new(), BTreeSet::new()),
            };
            provided.push(names);
            let mut preferences = preferences_for(&existing, target);
            for (name, version) in chosen.get(target).into_iter().flatten() {
                preferences
                    .entry(name.clone())
                    .or_insert_with(|| version.clone());
            }
            requests.push(application_request(
                manifest,
                request,
                target,
                &preferences,
                &pins,
            ));
        }
        let what = match key {
            Some(key) => format!("the application layer for {key}"),
            None => "the application layer".to_string(),
        };
        let resolutions =
            universal::resolve_universe(view, &universe, &what, requests.clone()).await?;
        resolutions.iter().for_each(|r| warn_skipped(r, progress));
        for (target, resolution) in universe.targets().iter().zip(&resolutions) {
            let seen = chosen.entry(target.clone()).or_default();
            for p in resolution.packages.values() {
                seen.entry(p.name.clone())
                    .or_insert_with(|| p.version.clone());
            }
        }
        per_key.push(KeyApplication {
            key: key.map(str::to_string),
            universe,
            resolutions,
            requests,
            provided,
        });
    }
    Ok(per_key)
}

/// Before anything is resolved: every declared key runs on some declared platform, and every
/// declared environment has a key whose builds run there (else it would have no Foundation
/// and no Application).
fn check_keys(manifest: &Manifest) -> Result<()> {
    let Some(spec) = &manifest.foundation else {
        return Ok(());
    };
    for key in &spec.keys {
        key_universe(manifest, key)?;
    }
    for target in manifest.universe.targets() {
        if !spec
            .keys
            .iter()
            .any(|k| family::serves(k, &target.platform))
        {
            bail!(
                "{}: no declared key runs on {} ({target}): the keys are {}\nhint: add `cpu` to [foundation] keys, or drop the platform from [project] platforms",
                manifest.file_name().display(),
                crate::universe::short_name(&target.platform),
                spec.keys.join(", ")
            );
        }
    }
    Ok(())
}

/// For each declared environment, the (key, environment of the key) pairs that serve it.
fn serving(global: &Universe, per_key: &[KeyApplication]) -> Vec<Vec<(usize, usize)>> {
    global
        .targets()
        .iter()
        .map(|t| {
            per_key
                .iter()
                .enumerate()
                .filter_map(|(k, ka)| {
                    ka.universe
                        .targets()
                        .iter()
                        .position(|u| u == t)
                        .map(|j| (k, j))
                })
                .collect()
        })
        .collect()
}

/// Whether, in every declared environment, every key that serves it resolved the Application
/// alike: each package's version, index and files (a keyed index can serve one version with
/// other files per key).
fn keys_agree(per_key: &[KeyApplication], serving: &[Vec<(usize, usize)>]) -> bool {
    type Seen<'a> = BTreeMap<&'a PackageName, (&'a pep440_rs::Version, &'a str, Vec<&'a str>)>;
    let own = |k: usize, j: usize| -> Seen<'_> {
        per_key[k].resolutions[j]
            .packages
            .values()
            .filter(|p| !per_key[k].provided[j].contains(&p.name))
            .map(|p| {
                let files = p.files.iter().map(|f| f.filename.as_str()).collect();
                let hashes: Vec<&str> =
                    p.files.iter().filter_map(|f| f.sha256.as_deref()).collect();
                (
                    &p.name,
                    (&p.version, p.index.url.as_str(), [files, hashes].concat()),
                )
            })
            .collect()
    };
    serving.iter().all(|s| {
        s.windows(2)
            .all(|w| own(w[0].0, w[0].1) == own(w[1].0, w[1].1))
    })
}

/// Stage the Application: one shared file when, in every environment, every key that runs
/// there resolved it alike; else one per key over the key's environments (and say why).
async fn write_application<S: LockSource>(
    manifest: &Manifest,
    plan: &LockPlan,
    per_key: Vec<KeyApplication>,
    source: &S,
    local: &[LocalProject],
    writer: &mut LockfileWriter,
    progress: &dyn LockProgress,
) -> Result<()> {
    let make = |key: Option<&str>, universe: &Universe, packages: Vec<LockedPackage>| Lockfile {
        environments: universe.environment_markers(),
        requires_python: universe.requires_python(),
        packages,
        tool: ToolTable {
            format: FORMAT_VERSION,
            layer: "application".to_string(),
            key: key.map(str::to_string),
            python: manifest.python.clone(),
            platform: manifest.universe.platform_names(),
            inputs_hash: plan.application_hash(manifest, key),
            inputs: plan.application.clone(),
        },
    };
    let global = &manifest.universe;
    let serving = serving(global, &per_key);
    let agree = keys_agree(&per_key, &serving);
    let shared_path = plan.dir.join(APPLICATION_LOCKFILE);
    if agree {
        let chosen: Vec<(usize, usize)> =
            serving.iter().filter_map(|s| s.first().copied()).collect();
        let each: Vec<(usize, &Resolution, &BTreeSet<PackageName>)> = chosen
            .iter()
            .enumerate()
            .map(|(g, &(k, j))| (g, &per_key[k].resolutions[j], &per_key[k].provided[j]))
            .collect();
        let requests: Vec<ResolveRequest> = chosen
            .iter()
            .map(|&(k, j)| per_key[k].requests[j].clone())
            .collect();
        let merged = universal::merge(&each);
        let key = per_key.first().and_then(|k| k.key.as_deref());
        let view = Arc::new(source.view(application_pins(manifest, key))?);
        report_forks(
            &view,
            global,
            &merged,
            &requests,
            "the application layer",
            progress,
        )
        .await;
        let packages = locked_packages(source, global, &merged, local).await?;
        let lockfile = make(None, global, packages);
        progress.resolved(&lockfile, read_existing(&shared_path).as_ref());
        writer.write(&shared_path, &lockfile)?;
        for key in plan.keys() {
            writer.remove(&plan.dir.join(application_key_lockfile(&key)));
        }
        return Ok(());
    }
    let mut files = Vec::new();
    for ka in &per_key {
        let each: Vec<(usize, &Resolution, &BTreeSet<PackageName>)> = ka
            .resolutions
            .iter()
            .enumerate()
            .map(|(j, r)| (j, r, &ka.provided[j]))
            .collect();
        let merged = universal::merge(&each);
        let view = Arc::new(source.view(application_pins(manifest, ka.key.as_deref()))?);
        let what = format!(
            "the application layer for {}",
            ka.key.as_deref().unwrap_or("")
        );
        report_forks(&view, &ka.universe, &merged, &ka.requests, &what, progress).await;
        let packages = locked_packages(source, &ka.universe, &merged, local).await?;
        files.push((ka.key.clone(), packages));
    }
    progress.split(&differences(&files));
    for ((key, packages), ka) in files.into_iter().zip(&per_key) {
        let key = key.unwrap_or_default();
        let path = plan.dir.join(application_key_lockfile(&key));
        let lockfile = make(Some(&key), &ka.universe, packages);
        progress.resolved(&lockfile, read_existing(&path).as_ref());
        writer.write(&path, &lockfile)?;
    }
    writer.remove(&shared_path);
    Ok(())
}

/// Say which packages a newer, sdist-only version would have replaced had building been on.
fn warn_skipped(resolution: &Resolution, progress: &dyn LockProgress) {
    for (name, (newer, dep)) in &resolution.held_back {
        if let Some(p) = resolution.packages.get(name) {
            progress.warning(&format!(
                "{name}: locked {} because building is off; {name} {newer} needs {dep}, which is published only as a source distribution (or has no wheel for this target)",
                p.version
            ));
        }
    }
    for (name, skipped) in &resolution.skipped_sdists {
        if let Some(p) = resolution.packages.get(name) {
            progress.warning(&format!(
                "{name}: locked {} because building is off; {name} {skipped} is published only as a source distribution (or has no wheel for this target)",
                p.version
            ));
        }
    }
}

/// Refuse a Foundation that mixes CUDA families, or pulls CUDA libraries into a `cpu` key,
/// naming each offending package and the chain that pulled it in.
fn check_cuda_families(key: &str, resolution: &Resolution) -> Result<()> {
    let packages = resolution.packages.values().map(|p| (&p.name, &p.version));
    let Some(mixed) = family::mixed(key, packages) else {
        return Ok(());
    };
    let mut message = match mixed.expected {
        Some(e) => format!("the Foundation for key `{key}` (CUDA {e}) would mix CUDA families:"),
        None => format!("the Foundation for key `{key}` would pull in CUDA libraries:"),
    };
    for (family, name) in &mixed.wrong {
        let p = &resolution.packages[name];
        message.push_str(&format!(
            "\n  - {} {} (CUDA {family}), pulled in by {}",
            p.name,
            p.version,
            chain(resolution, name)
        ));
    }
    message.push_str(&format!(
        "\nhint: the index for `{key}` served builds for another CUDA version; check `foundation.index`, and pin the build with a local label (e.g. `torch==2.9.0+{key}`)"
    ));
    Err(Error::msg(message))
}

#[cfg(test)]
#[path = "locking_tests.rs"]
mod tests;
