//! Locking a project: per hardware key, the Foundation from that key's index, then the
//! Application against the pins of every key's Foundation (it can never move them), written
//! as one shared Application lockfile or, where keys disagree, one per key; all lockfiles of a
//! run together or not at all. Also `lock --check` and the staleness `sync` asks about.
//!
//! The packages come from a [`LockSource`] (the index set, or in-memory data in tests), and
//! what happens is told to a [`LockProgress`]: this module prints nothing.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pep508_rs::PackageName;

use super::building::MetadataBuilder;
use super::indexes::{shared_indexes, trusted_indexes};
use super::layers::{
    application_inputs, application_pins, application_request, chain, differences,
    environment_marker, foundation_inputs, foundation_pins, foundation_pins_for_key,
    foundation_request, locked_packages, requires_python,
};
use super::local::{self, LocalProject};
use super::lockfiles::{
    APPLICATION_LOCKFILE, LockfileWriter, Staleness, Written, application_files,
    application_key_lockfile, foundation_lockfile, lockfile_dir, read_existing, staleness,
};
use crate::error::{Context as _, Error, Result};
use crate::hardware::family;
use crate::index::{DistFile, IndexSet, IndexView, PackageSource};
use crate::manifest::{FoundationSpec, Manifest};
use crate::pylock::origin::{OriginError, TrustedIndexes};
use crate::pylock::{FORMAT_VERSION, InputSummary, LockedPackage, Lockfile, ToolTable};
use crate::resolve::{self, Resolution};
use crate::settings::NetworkSettings;

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
}

impl LockPlan {
    /// The plan for `manifest`, locking the Foundation of `keys` (every key when empty).
    pub fn new(manifest: &Manifest, keys: &[String]) -> Result<LockPlan> {
        let platform = manifest.target.platform_name();
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
            &manifest.target.platform_name(),
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
    match read_existing(path).map(|lock| trusted.check_file(&file, &lock)) {
        Some(Err(e)) => FileCheck::Inconsistent(e),
        _ => FileCheck::UpToDate(file),
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
    let mut set = IndexSet::new(indexes.clone(), HashMap::new(), network.index.clone())?;
    // Build requirements are resolved on a set of their own, which builds nothing.
    let build_set = Arc::new(IndexSet::new(
        indexes,
        HashMap::new(),
        network.index.clone(),
    )?);
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
    runtime.block_on(lock(manifest, &plan, &request, &set, trusted, progress))
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
    let mut writer = LockfileWriter::new(&plan.dir, trusted);
    let result = async {
        let foundations =
            lock_foundations(manifest, plan, request, source, &mut writer, progress).await?;
        let per_key =
            lock_application(manifest, plan, request, source, &foundations, progress).await?;
        Ok::<_, Error>(per_key)
    }
    .await;
    progress.done();
    let per_key = result?;
    write_application(manifest, plan, per_key, &mut writer, progress)?;
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
        let packages = lock_foundation(
            manifest,
            spec,
            source,
            key,
            existing.as_ref(),
            request,
            progress,
        )
        .await?;
        let lockfile = Lockfile {
            environments: vec![environment_marker(manifest)],
            requires_python: requires_python(manifest),
            packages,
            tool: ToolTable {
                format: FORMAT_VERSION,
                layer: "foundation".to_string(),
                key: Some(key.clone()),
                python: manifest.python.clone(),
                platform: manifest.target.platform_name(),
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

/// The packages of the Foundation of `key`.
async fn lock_foundation<S: LockSource>(
    manifest: &Manifest,
    spec: &FoundationSpec,
    source: &S,
    key: &str,
    existing: Option<&Lockfile>,
    request: &LockRequest,
    progress: &dyn LockProgress,
) -> Result<Vec<LockedPackage>> {
    let resolve_request = foundation_request(manifest, spec, key, existing, request);
    let view = Arc::new(source.view(foundation_pins_for_key(manifest, spec, key)?)?);
    let resolution = resolve::resolve(view, resolve_request).await?;
    warn_skipped(&resolution, progress);
    check_cuda_families(key, &resolution)?;
    locked_packages(source, &resolution, &BTreeSet::new(), &request.local).await
}

/// The Application, against each key's Foundation (or alone): its packages per key.
async fn lock_application<S: LockSource>(
    manifest: &Manifest,
    plan: &LockPlan,
    request: &LockRequest,
    source: &S,
    foundations: &[(String, Lockfile)],
    progress: &dyn LockProgress,
) -> Result<Vec<(Option<String>, Vec<LockedPackage>)>> {
    progress.resolving("the application layer");
    let mut preferences: HashMap<PackageName, pep440_rs::Version> = HashMap::new();
    if !request.upgrade_all {
        for (_, path) in application_files(&plan.dir, &plan.keys()) {
            for (name, version) in read_existing(&path).iter().flat_map(Lockfile::versions) {
                preferences.entry(name).or_insert(version);
            }
        }
    }
    let mut per_key = Vec::new();
    if manifest.foundation.is_none() {
        let view = Arc::new(source.view(application_pins(manifest, None))?);
        let resolve_request = application_request(manifest, request, &preferences, &[]);
        let resolution = resolve::resolve(view, resolve_request).await?;
        warn_skipped(&resolution, progress);
        let packages =
            locked_packages(source, &resolution, &BTreeSet::new(), &request.local).await?;
        per_key.push((None, packages));
        return Ok(per_key);
    }
    for (key, foundation) in foundations {
        let view = Arc::new(source.view(application_pins(manifest, Some(key)))?);
        let pins = foundation_pins(key, foundation)?;
        let resolve_request = application_request(manifest, request, &preferences, &pins);
        let resolution = resolve::resolve(view, resolve_request).await?;
        warn_skipped(&resolution, progress);
        // Later keys prefer what the first key chose, so the layers agree where they can.
        for p in resolution.packages.values() {
            preferences
                .entry(p.name.clone())
                .or_insert_with(|| p.version.clone());
        }
        let provided: BTreeSet<PackageName> =
            foundation.packages.iter().map(|p| p.name.clone()).collect();
        let packages = locked_packages(source, &resolution, &provided, &request.local).await?;
        per_key.push((Some(key.clone()), packages));
    }
    Ok(per_key)
}

/// Stage the Application: one shared file when every key agrees, else one per key (and say
/// why).
fn write_application(
    manifest: &Manifest,
    plan: &LockPlan,
    per_key: Vec<(Option<String>, Vec<LockedPackage>)>,
    writer: &mut LockfileWriter,
    progress: &dyn LockProgress,
) -> Result<()> {
    let make = |key: Option<&str>, packages: Vec<LockedPackage>| Lockfile {
        environments: vec![environment_marker(manifest)],
        requires_python: requires_python(manifest),
        packages,
        tool: ToolTable {
            format: FORMAT_VERSION,
            layer: "application".to_string(),
            key: key.map(str::to_string),
            python: manifest.python.clone(),
            platform: manifest.target.platform_name(),
            inputs_hash: plan.application_hash(manifest, key),
            inputs: plan.application.clone(),
        },
    };
    let shared_path = plan.dir.join(APPLICATION_LOCKFILE);
    if per_key.windows(2).all(|w| w[0].1 == w[1].1) {
        let packages = per_key
            .into_iter()
            .next()
            .map(|(_, p)| p)
            .unwrap_or_default();
        let lockfile = make(None, packages);
        progress.resolved(&lockfile, read_existing(&shared_path).as_ref());
        writer.write(&shared_path, &lockfile)?;
        for key in plan.keys() {
            writer.remove(&plan.dir.join(application_key_lockfile(&key)));
        }
        return Ok(());
    }
    progress.split(&differences(&per_key));
    for (key, packages) in per_key {
        let key = key.unwrap_or_default();
        let path = plan.dir.join(application_key_lockfile(&key));
        let lockfile = make(Some(&key), packages);
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
