//! Syncing a venv with the lockfiles of one hardware key: choosing the key (as `detect`
//! does), the distributions the lockfiles ask for and the wheel of each for this target, the
//! checks before anything is fetched (origins, host, interpreter), fetching every wheel into
//! the unpacked-wheel cache, and the sync itself through [`crate::install`]: a missing venv is
//! created only once every wheel is in hand, an interrupted sync is repaired first, and the
//! plan is applied crash-safely ([`crate::install::transaction`]).
//!
//! What happens is told to a [`SyncProgress`]: this module prints nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use pep508_rs::PackageName;

use super::building::{WheelBuilds, build_wheels};
use super::environments::ChosenEnv;
use super::indexes::{index_urls, trusted_indexes};
use super::local;
use super::lockfiles::{Loaded, Selection, Staleness};
use super::locking::LockPlan;
use crate::bail;
use crate::environment::Environment;
use crate::error::{Context as _, Error, Result};
use crate::hardware::{self, KeySettings, Selection as KeySelection};
use crate::http::HttpClient;
use crate::http::auth::Auth;
use crate::index::IndexSet;
use crate::install::fetch::{Artifact, Fetched, Progress, WheelCache, fetch};
use crate::install::journal::{self, Journal};
use crate::install::plan::{BuildRecipe, Desired, LocalBuild, SyncPlan};
use crate::install::transaction::{self, dist_info_extras, reinstall_damaged};
use crate::install::venv::{self as venvs, EnvironmentLock, Interpreter};
use crate::install::{InstallOptions, LinkMode, UnpackedWheel, Venv};
use crate::manifest::Manifest;
use crate::pylock::{
    LocalSource as LockedSource, LockedArtifact, LockedPackage, LockedSdist, LockedWheel,
};
use crate::settings::NetworkSettings;
use crate::target::Target;
use crate::wheel::WheelFilename;

/// The hardware key to install (with why), or `None` when the manifest has no Foundation.
pub fn choose_key(manifest: &Manifest, keys: &KeySettings) -> Result<Option<KeySelection>> {
    let Some(foundation) = &manifest.foundation else {
        if let Some(requested) = &keys.requested {
            return Err(Error::usage(format!(
                "{requested} was asked for, but {} declares no [foundation], so there are no hardware keys",
                manifest.path.display()
            )));
        }
        return Ok(None);
    };
    let detection = hardware::detect(keys);
    Ok(Some(hardware::select_key(
        &foundation.keys,
        keys,
        &detection,
    )?))
}

/// Why the lockfiles that serve `key` are stale; empty when they are up to date.
pub fn stale(manifest: &Manifest, key: Option<&str>) -> Result<Vec<Staleness>> {
    Ok(LockPlan::new(manifest, &[])?.stale_for(manifest, key))
}

/// Nothing is fetched from a host the manifest does not declare, whatever the freshness.
pub fn check_origins(
    manifest: &Manifest,
    network: &NetworkSettings,
    selection: &Selection,
) -> Result<()> {
    let trusted = trusted_indexes(manifest, &network.index_overrides)?;
    for loaded in selection.files() {
        trusted.check_file(&loaded.rel, &loaded.lock)?;
    }
    Ok(())
}

/// One entry per locked package, Foundation first, with the best wheel for the chosen
/// environment (`selection` seen from it: [`super::lockfiles::select_for`]).
pub fn desired(
    manifest: &Manifest,
    environment: &ChosenEnv,
    selection: &Selection,
) -> Result<Vec<Desired>> {
    let mut out: BTreeMap<PackageName, Desired> = BTreeMap::new();
    let layers: Vec<(String, &Loaded)> = selection
        .foundation
        .iter()
        .map(|l| {
            (
                format!("foundation ({})", selection.key.as_deref().unwrap_or("")),
                l,
            )
        })
        .chain(
            selection
                .application
                .iter()
                .map(|l| ("application".to_string(), l)),
        )
        .collect();
    for (layer, loaded) in layers {
        // A universal lockfile was checked to cover the environment instead.
        if !environment.universal
            && (loaded.lock.tool.python != manifest.python
                || loaded.lock.tool.platform != manifest.target.platform_name())
        {
            tracing::warn!(
                "{} was locked for Python {} on {}; the manifest targets Python {} on {}",
                loaded.rel,
                loaded.lock.tool.python,
                loaded.lock.tool.platform,
                manifest.python,
                manifest.target.platform_name()
            );
        }
        for package in &loaded.lock.packages {
            let (artifact, build) = match best_wheel(&environment.target, &loaded.rel, package)? {
                Chosen::Wheel(wheel) => (wheel, None),
                Chosen::Sdist(sdist) => (sdist, Some(recipe(manifest, selection, package))),
                Chosen::Local(source) => {
                    let want = local_desired(manifest, selection, &loaded.rel, package, source)?;
                    insert(&mut out, &loaded.rel, want, &layer, package.direct)?;
                    continue;
                }
            };
            let LockedArtifact {
                name: filename,
                url,
                size,
                sha256,
                ..
            } = artifact;
            let url = url::Url::parse(url).with_context(|| {
                format!(
                    "{}: {} {}: invalid URL `{url}`",
                    loaded.rel, package.name, package.version
                )
            })?;
            let want = Desired {
                name: package.name.clone(),
                version: package.version.clone(),
                artifact: Artifact {
                    package: format!("{} {}", package.name, package.version),
                    filename: filename.clone(),
                    url,
                    size: *size,
                    sha256: sha256.to_ascii_lowercase(),
                    index: package.index.clone(),
                },
                build,
                layer: layer.clone(),
                direct: package.direct,
            };
            insert(&mut out, &loaded.rel, want, &layer, package.direct)?;
        }
    }
    Ok(out.into_values().collect())
}

/// Add `want` to `out`, unless an earlier layer has it (at the same version).
fn insert(
    out: &mut BTreeMap<PackageName, Desired>,
    rel: &str,
    mut want: Desired,
    layer: &str,
    direct: bool,
) -> Result<()> {
    want.layer = layer.to_string();
    want.direct = direct;
    match out.get(&want.name) {
        Some(first) if first.version != want.version => bail!(
            "{rel} locks {} {}, but the {} locks {}: the layers disagree",
            want.name,
            want.version,
            first.layer,
            first.version
        ),
        Some(_) => {}
        None => {
            out.insert(want.name.clone(), want);
        }
    }
    Ok(())
}

/// A local project of the lockfile as the venv gets it: it must be one the manifest asks
/// for (a lockfile from a pull request may not point sync at another directory or
/// repository), and its identity is its location (and commit), so that a change of either
/// reinstalls it.
fn local_desired(
    manifest: &Manifest,
    selection: &Selection,
    rel: &str,
    package: &LockedPackage,
    source: &LockedSource,
) -> Result<Desired> {
    use sha2::{Digest as _, Sha256};
    let written = manifest
        .application
        .requirements
        .iter()
        .find(|r| r.requirement.name == package.name && r.local.is_some())
        .and_then(|r| r.local.as_ref());
    let asked = written.and_then(|w| local::LocalProject::source_of(w).ok());
    // The manifest names a revision; the lockfile adds the commit it resolved to.
    let mut located = source.clone();
    if let LockedSource::Vcs { commit_id, .. } = &mut located {
        commit_id.clear();
    }
    if asked.as_ref() != Some(&located) {
        bail!(
            "{rel}: `{} {}` is locked from {source}, which the manifest does not ask for; run `sanctuary lock`",
            package.name,
            package.version
        );
    }
    let (local, url, id) = match source {
        LockedSource::Directory { path, editable } => {
            let dir = local::directory_of(manifest, path);
            let tree = std::fs::canonicalize(&dir).with_context(|| {
                format!("the local project `{}` ({})", package.name, dir.display())
            })?;
            let url = url::Url::from_directory_path(&tree)
                .map_err(|()| Error::msg(format!("{} is not absolute", tree.display())))?;
            // What sanctuary itself writes beside the manifest is not the project's source.
            let dir = manifest.dir();
            let skip: Vec<PathBuf> = [
                dir.join(&manifest.venv),
                dir.join("lockfiles"),
                dir.join("reports"),
            ]
            .iter()
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect();
            let id = local::tree_fingerprint(&tree, *editable, &skip)?;
            let local = LocalBuild::Directory {
                tree,
                editable: *editable,
            };
            (local, url, id)
        }
        LockedSource::Vcs {
            url,
            requested_revision,
            commit_id,
            subdirectory,
            ..
        } => {
            let parsed = url::Url::parse(url).with_context(|| format!("{rel}: invalid git URL"))?;
            // Fetched from the URL as the manifest writes it: the lockfile's has no
            // credentials (and is the same repository: checked above).
            let fetch_url = match written {
                Some(crate::manifest::LocalSource::Git { url, .. }) => url.clone(),
                _ => url.clone(),
            };
            let local = LocalBuild::Git {
                url: fetch_url,
                requested_revision: requested_revision.clone(),
                commit: commit_id.clone(),
                subdirectory: subdirectory.clone(),
            };
            (local, parsed, "git".to_string())
        }
    };
    let identity = hex::encode(Sha256::digest(
        format!("local 1\0{source}\0{url}\0{}", package.version).as_bytes(),
    ));
    let mut build = recipe(manifest, selection, package);
    build.id = hex::encode(Sha256::digest(format!("{}\0{id}", build.id).as_bytes()));
    build.local = Some(local);
    Ok(Desired {
        name: package.name.clone(),
        version: package.version.clone(),
        artifact: Artifact {
            package: format!("{} {}", package.name, package.version),
            filename: format!("{} (local project)", package.name),
            url,
            size: None,
            sha256: identity,
            index: String::new(),
        },
        build: Some(build),
        layer: String::new(),
        direct: package.direct,
    })
}

/// What a locked package is installed from.
enum Chosen<'a> {
    Wheel(&'a LockedWheel),
    /// Built into a wheel first.
    Sdist(&'a LockedSdist),
    /// A directory or a git commit, built.
    Local(&'a LockedSource),
}

/// How the locked sdist of `package` is built: `[build.package.<name>]`, and the digest of
/// what the wheel depends on besides the sdist (for a Foundation build, the key's Foundation
/// pins and artifacts).
fn recipe(manifest: &Manifest, selection: &Selection, package: &LockedPackage) -> BuildRecipe {
    use sha2::{Digest as _, Sha256};
    let spec = manifest
        .build
        .packages
        .get(&package.name)
        .cloned()
        .unwrap_or_default();
    let mut id = Sha256::new();
    let mut line = |text: &str| {
        id.update(text.as_bytes());
        id.update([0]);
    };
    line("recipe 1");
    for (var, value) in &spec.env {
        line(&format!("env {var}={value}"));
    }
    for r in &spec.requires {
        line(&format!("requires {r}"));
    }
    if spec.foundation {
        line(&format!("key {}", selection.key.as_deref().unwrap_or("")));
        for p in selection.foundation.iter().flat_map(|l| &l.lock.packages) {
            let artifacts: Vec<&str> = p.wheels.iter().map(|w| w.sha256.as_str()).collect();
            line(&format!(
                "foundation {}=={} {}",
                p.name,
                p.version,
                artifacts.join(",")
            ));
        }
    }
    BuildRecipe {
        foundation: spec.foundation,
        requires: spec.requires,
        env: spec.env,
        dependencies: package.dependencies.clone(),
        extras: package.extras.clone(),
        id: hex::encode(id.finalize()),
        local: None,
    }
}

/// The wheel of `package` that fits `target` best, else its sdist; an error naming the
/// package when there is neither. A local project (a directory, a git commit) is built.
fn best_wheel<'a>(target: &Target, rel: &str, package: &'a LockedPackage) -> Result<Chosen<'a>> {
    if let Some(source) = &package.source {
        return Ok(Chosen::Local(source));
    }
    let best = package
        .wheels
        .iter()
        .filter_map(|w| {
            let parsed: WheelFilename = w.name.parse().ok()?;
            Some((target.wheel_priority(&parsed)?, w))
        })
        .max_by_key(|(p, _)| *p)
        .map(|(_, w)| w);
    if let Some(wheel) = best {
        return Ok(Chosen::Wheel(wheel));
    }
    if let Some(sdist) = &package.sdist {
        return Ok(Chosen::Sdist(sdist));
    }
    bail!(
        "{rel}: {} {} has no wheel for {} (locked wheels: {})",
        package.name,
        package.version,
        target,
        if package.wheels.is_empty() {
            "none".to_string()
        } else {
            package
                .wheels
                .iter()
                .map(|w| w.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
}

/// The chosen environment's platform must be this machine's (a manifest with one environment
/// may name another platform; one with several is read for this machine's).
pub fn check_host(manifest: &Manifest, environment: &ChosenEnv) -> Result<()> {
    let host = crate::target::host()?;
    if !environment.target.platform.same_system(&host) {
        bail!(
            "{} targets {}, which cannot run on this machine",
            manifest.path.display(),
            environment.target.platform_name()
        );
    }
    Ok(())
}

/// The venv's interpreter must be the chosen environment's Python.
pub fn check_venv_python(manifest: &Manifest, environment: &ChosenEnv, root: &Path) -> Result<()> {
    match venvs::venv_python_version(root)? {
        Some(version) if venvs::python_matches(&version, &environment.python) => Ok(()),
        Some(version) => Err(Error::msg(format!(
            "{} runs Python {version}, but {} asks for Python {}",
            root.display(),
            manifest.path.display(),
            environment.python
        ))
        .context("the environment's interpreter does not match the manifest")),
        None => bail!("{}/pyvenv.cfg names no Python version", root.display()),
    }
}

/// The venv a sync makes: `--venv`, else `[sync] venv` beside the manifest; absolute.
pub fn venv_root(manifest: &Manifest, venv: Option<&Path>) -> Result<PathBuf> {
    let root = venv.map_or_else(|| manifest.dir().join(&manifest.venv), Path::to_path_buf);
    std::path::absolute(&root).with_context(|| format!("cannot resolve {}", root.display()))
}

/// The hardware key the venv at `root` was last synced with.
pub fn remembered_key(root: &Path) -> Option<String> {
    venvs::synced_key(root)
}

/// What `sync --dry-run` reports: the plan against the venv as it is (empty when it does not
/// exist yet).
pub fn plan_only(
    manifest: &Manifest,
    chosen: &ChosenEnv,
    desired: &[Desired],
    root: &Path,
    exact: bool,
) -> Result<(SyncPlan, bool)> {
    let exists = root.join("pyvenv.cfg").is_file();
    let environment = if exists {
        check_venv_python(manifest, chosen, root)?;
        Environment::read(root)?
    } else {
        empty_environment(root)
    };
    Ok((SyncPlan::new(desired, &environment, exact), !exists))
}

/// What a sync tells as it goes.
pub trait SyncProgress: Sync {
    /// A new venv is made at `root` with `interpreter`.
    fn creating(&self, root: &Path, interpreter: &Interpreter) {
        let _ = (root, interpreter);
    }
    /// Another process holds the venv; this one waits.
    fn waiting(&self, root: &Path) {
        let _ = root;
    }
    /// `count` wheels of `bytes` in all start downloading: the progress callback, or none.
    fn downloading(&self, count: usize, bytes: u64) -> Option<Progress> {
        let _ = (count, bytes);
        None
    }
    /// The downloads ended.
    fn downloaded(&self) {}
    /// `what` is built (`name version from its source distribution`, `name version (local
    /// project)`).
    fn building(&self, what: &str) {
        let _ = what;
    }
}

/// How a sync installs.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// The environment installed (its Python, and the interpreter that chose it).
    pub environment: ChosenEnv,
    /// The interpreter for a new venv (a path, or a name on PATH).
    pub python: Option<PathBuf>,
    /// Remove what the lockfiles do not list.
    pub exact: bool,
    pub link: LinkMode,
    /// Compile the installed modules to bytecode.
    pub compile: bool,
}

/// What a sync did.
#[derive(Clone, Debug)]
pub struct SyncReport {
    pub plan: SyncPlan,
    /// Files of half-done installs a killed sync left, removed first (with their count).
    pub recovered: Option<(usize, usize)>,
    /// Wheels downloaded, and their bytes.
    pub downloaded: (usize, u64),
    /// Downloading (and unpacking) wheels and building sdists: `download_time` + `build_time`.
    pub fetch_time: Duration,
    pub download_time: Duration,
    pub build_time: Duration,
    /// Creating a missing venv (running the interpreter).
    pub venv_time: Duration,
    pub install_time: Duration,
}

/// What fetching the wheels of a new venv took, before the venv was made.
#[derive(Default)]
struct FirstFetch {
    downloaded: (usize, u64),
    download_time: Duration,
    build_time: Duration,
    venv_time: Duration,
}

/// A missing venv is made only once every wheel it will hold is fetched and built, so a
/// failed download leaves none.
fn create_with_wheels(
    builds: &Builds<'_>,
    root: &Path,
    options: &SyncOptions,
    unpacked: &mut HashMap<String, UnpackedWheel>,
    progress: &dyn SyncProgress,
) -> Result<(Venv, FirstFetch)> {
    let interpreter = match &options.environment.interpreter {
        Some(found) => found.clone(),
        None => venvs::find_interpreter(&options.environment.python, options.python.as_deref())?,
    };
    let plan = SyncPlan::new(builds.desired, &empty_environment(root), options.exact);
    let started = Instant::now();
    let downloaded = fetch_all(builds.network, &plan, builds.auth, unpacked, progress)?;
    let download_time = started.elapsed();
    let build_started = Instant::now();
    build_all(
        builds,
        &plan,
        || Ok(interpreter.clone()),
        unpacked,
        progress,
    )?;
    let build_time = build_started.elapsed();
    progress.creating(root, &interpreter);
    let venv_started = Instant::now();
    let venv = venvs::create(root, &interpreter, &builds.manifest.name)?;
    Ok((
        venv,
        FirstFetch {
            downloaded,
            download_time,
            build_time,
            venv_time: venv_started.elapsed(),
        },
    ))
}

/// Make the venv at `root` exactly `desired` (see the module documentation).
pub fn sync(
    manifest: &Manifest,
    network: &NetworkSettings,
    key: Option<&str>,
    desired: &[Desired],
    root: &Path,
    options: &SyncOptions,
    progress: &dyn SyncProgress,
) -> Result<SyncReport> {
    let auth = download_auth(manifest, network, key)?;
    let builds = Builds {
        manifest,
        network,
        key,
        desired,
        auth: &auth,
    };

    let mut unpacked: HashMap<String, UnpackedWheel> = HashMap::new();
    let chosen = &options.environment;
    let (venv, first) = if root.join("pyvenv.cfg").is_file() {
        check_venv_python(manifest, chosen, root)?;
        (Venv::from_root(root)?, FirstFetch::default())
    } else {
        create_with_wheels(&builds, root, options, &mut unpacked, progress)?
    };
    let _lock = EnvironmentLock::acquire(root, || progress.waiting(root))?;
    let install_options = |desired: Option<&Desired>| InstallOptions {
        extra_dist_info: desired.map(dist_info_extras).unwrap_or_default(),
        link: options.link,
        expect: desired.map(|d| (d.name.clone(), d.version.clone())),
        ..InstallOptions::default()
    };

    // A sync killed half-way left a journal: undo its half-done installs first.
    let interrupted = Journal::read(root)?;
    let mut damaged: BTreeSet<PathBuf> = BTreeSet::new();
    let mut recovered = None;
    if let Some(journal) = &interrupted {
        let recovery = journal::recover(journal, &venv, &install_options(None))?;
        recovered = Some((
            recovery.removed_files.len(),
            recovery.removed_dist_infos.len(),
        ));
        damaged = recovery.removed_files;
    }

    // RECORDs are only needed to uninstall, or to find what a recovery damaged.
    let environment = if damaged.is_empty() {
        Environment::read_summary(root)?
    } else {
        Environment::read(root)?
    };
    for u in &environment.unreadable {
        tracing::warn!("leaving {} alone: {}", u.dist_info.display(), u.message);
    }
    let mut plan = SyncPlan::new(desired, &environment, options.exact);
    reinstall_damaged(&mut plan, desired, &environment, &damaged);
    let mut report = SyncReport {
        plan,
        recovered,
        downloaded: first.downloaded,
        fetch_time: first.download_time + first.build_time,
        download_time: first.download_time,
        build_time: first.build_time,
        venv_time: first.venv_time,
        install_time: Duration::ZERO,
    };
    if report.plan.is_empty() {
        if interrupted.is_some() {
            Journal::clear(root)?;
        }
        record_key(root, key)?;
        return Ok(report);
    }

    // Every wheel checked and unpacked before the environment changes.
    let fetch_started = Instant::now();
    let more = fetch_all(network, &report.plan, &auth, &mut unpacked, progress)?;
    report.download_time += fetch_started.elapsed();
    let build_started = Instant::now();
    let base = || Ok(venvs::Interpreter::query(&venv.python)?);
    build_all(&builds, &report.plan, base, &mut unpacked, progress)?;
    report.build_time += build_started.elapsed();
    report.fetch_time += fetch_started.elapsed();
    report.downloaded = (report.downloaded.0 + more.0, report.downloaded.1 + more.1);

    let install_started = Instant::now();
    transaction::apply(&report.plan, &venv, &unpacked, &install_options)?;
    if options.compile {
        compile(&venv)?;
    }
    crate::install::failpoint::hit("before-clear");
    Journal::clear(root)?;
    report.install_time = install_started.elapsed();
    record_key(root, key)?;
    Ok(report)
}

/// Remember `key` in the venv (see [`remembered_key`]), when it changed.
fn record_key(root: &Path, key: Option<&str>) -> Result<()> {
    if let Some(key) = key
        && venvs::synced_key(root).as_deref() != Some(key)
    {
        venvs::record_synced_key(root, key)
            .with_context(|| format!("cannot write {}", root.join(venvs::KEY_FILE).display()))?;
    }
    Ok(())
}

fn empty_environment(root: &Path) -> Environment {
    Environment {
        root: root.to_path_buf(),
        site_packages: root.to_path_buf(),
        python: None,
        distributions: Vec::new(),
        unreadable: Vec::new(),
    }
}

/// The credentials downloads send: those of the indexes of `key` and the netrc file.
fn download_auth(
    manifest: &Manifest,
    network: &NetworkSettings,
    key: Option<&str>,
) -> Result<Auth> {
    let indexes = index_urls(manifest, &network.index_overrides, key)?;
    Ok(Auth::new(
        indexes
            .iter()
            .filter_map(|i| Some((&i.url, i.credentials.as_ref()?))),
        Auth::read_netrc(network.index.netrc.as_deref()),
    ))
}

/// Fetch every wheel the plan installs that `out` does not hold yet into `out` (the unpacked
/// trees by sha256); returns (count, bytes) downloaded.
fn fetch_all(
    network: &NetworkSettings,
    plan: &SyncPlan,
    auth: &Auth,
    out: &mut HashMap<String, UnpackedWheel>,
    progress: &dyn SyncProgress,
) -> Result<(usize, u64)> {
    let mut artifacts: BTreeMap<String, Artifact> = BTreeMap::new();
    // Sdists are built by `build_all`.
    for i in plan.install.iter().filter(|i| i.desired.build.is_none()) {
        if !out.contains_key(&i.desired.artifact.sha256) {
            artifacts
                .entry(i.desired.artifact.sha256.clone())
                .or_insert_with(|| i.desired.artifact.clone());
        }
    }
    if artifacts.is_empty() {
        return Ok((0, 0));
    }
    let cache = WheelCache::new(&network.index.cache_dir);
    // A day: no sync runs that long, so these belong to one that was killed.
    cache.remove_leftovers(std::time::Duration::from_secs(24 * 3600));
    // What the cache holds is taken as it is (each entry read once); only the rest is
    // fetched, and with nothing to fetch no runtime or HTTP client is started.
    // Each entry's description is read and checked: in parallel.
    let found: Vec<(&Artifact, Option<UnpackedWheel>)> = {
        use rayon::prelude::*;
        let wanted: Vec<&Artifact> = artifacts.values().collect();
        wanted
            .into_par_iter()
            .map(|a| (a, cache.get(&a.sha256)))
            .collect()
    };
    let mut missing: Vec<&Artifact> = Vec::new();
    for (a, cached) in found {
        match cached {
            Some(unpacked) => {
                out.insert(a.sha256.clone(), unpacked);
            }
            None => missing.push(a),
        }
    }
    if missing.is_empty() {
        return Ok((0, 0));
    }
    let total: u64 = missing.iter().filter_map(|a| a.size).sum();
    let on_bytes: Progress = progress
        .downloading(missing.len(), total)
        .unwrap_or_else(|| Arc::new(|_| {}));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let index = &network.index;
    let client = HttpClient::with_timeouts(index.concurrency, index.http)?.with_auth(auth.clone());
    let offline = network.index.offline;
    // Largest first: the long downloads and unpacks start at once and the small ones fill
    // the gaps, instead of one big wheel found last holding up the end.
    let mut order = missing;
    order.sort_by_key(|a| std::cmp::Reverse(a.size.unwrap_or(0)));
    let result = runtime.block_on(async {
        let mut results = futures::stream::iter(order)
            .map(|a| {
                let (client, cache, on_bytes) = (&client, &cache, on_bytes.clone());
                async move {
                    let result = fetch(client, cache, a, offline, on_bytes).await;
                    (a.sha256.clone(), result)
                }
            })
            .buffer_unordered(network.index.concurrency.max(1));
        let mut downloaded = (0usize, 0u64);
        let mut since_release = 0u64;
        while let Some((sha, result)) = results.next().await {
            let (unpacked, how) = result?;
            if how == Fetched::Downloaded {
                let size = artifacts.get(&sha).and_then(|a| a.size).unwrap_or(0);
                downloaded.0 += 1;
                downloaded.1 += size;
                since_release += size;
            }
            out.insert(sha, unpacked);
            // What unpacking freed, back to the system every few MiB of wheels (see
            // `memory::release_freed`).
            if since_release >= RELEASE_EVERY {
                crate::memory::release_freed();
                since_release = 0;
            }
        }
        Ok::<_, Error>(downloaded)
    });
    progress.downloaded();
    result
}

/// How many bytes of wheels are downloaded and unpacked between two hand-backs of freed
/// memory.
const RELEASE_EVERY: u64 = 4 << 20;

/// What building the plan's sdists needs from the sync.
struct Builds<'a> {
    manifest: &'a Manifest,
    network: &'a NetworkSettings,
    key: Option<&'a str>,
    /// Everything the lockfiles ask for (the Foundation among it).
    desired: &'a [Desired],
    auth: &'a Auth,
}

/// Build every sdist the plan installs that `out` does not hold yet into a wheel and unpack
/// it into `out` (by the sdist's sha256); `interpreter` is the venv's base interpreter,
/// asked for only when something must be built.
fn build_all(
    builds: &Builds<'_>,
    plan: &SyncPlan,
    interpreter: impl FnOnce() -> Result<Interpreter>,
    out: &mut HashMap<String, UnpackedWheel>,
    progress: &dyn SyncProgress,
) -> Result<()> {
    let wanted: Vec<&Desired> = plan
        .install
        .iter()
        .map(|i| &i.desired)
        .filter(|d| d.build.is_some() && !out.contains_key(&d.artifact.sha256))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let interpreter = interpreter()?;
    let network = builds.network;
    let indexes = index_urls(builds.manifest, &network.index_overrides, builds.key)?;
    let set = Arc::new(IndexSet::new(
        indexes,
        HashMap::new(),
        network.index.clone(),
    )?);
    let client = HttpClient::with_timeouts(network.index.concurrency, network.index.http)?
        .with_auth(builds.auth.clone());
    let foundation: Vec<Desired> = builds
        .desired
        .iter()
        .filter(|d| d.layer.starts_with("foundation"))
        .cloned()
        .collect();
    let wheel_builds = WheelBuilds {
        manifest: builds.manifest,
        set,
        client: &client,
        cache_dir: &network.index.cache_dir,
        offline: network.index.offline,
        interpreter: &interpreter,
        foundation: &foundation,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let on_build = |what: &str| progress.building(what);
    let (built, _) = runtime.block_on(build_wheels(&wheel_builds, &wanted, &on_build))?;
    out.extend(built);
    Ok(())
}

/// `python -m compileall` over site-packages.
fn compile(venv: &Venv) -> Result<()> {
    let status = std::process::Command::new(&venv.python)
        .args(["-m", "compileall", "-q", "-j", "0"])
        .arg(&venv.site_packages)
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("cannot run {}", venv.python.display()))?;
    if !status.success() {
        bail!(
            "compiling {} to bytecode failed ({status})",
            venv.site_packages.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pylock::{LocalSource, LockedSdist};

    fn manifest() -> Manifest {
        let text = "[project]\nname = \"t\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n";
        Manifest::parse(text, Path::new("sanctuary.toml")).unwrap()
    }

    fn package(wheels: &[&str], sdist: bool, source: Option<LocalSource>) -> LockedPackage {
        let file = |name: &str| (name.to_string(), format!("https://x.test/{name}"));
        LockedPackage {
            name: "demo".parse().unwrap(),
            version: "1.0".parse().unwrap(),
            marker: None,
            index: String::new(),
            requires_python: None,
            dependencies: vec![],
            dependency_markers: Default::default(),
            sdist: sdist.then(|| {
                let (name, url) = file("demo-1.0.tar.gz");
                LockedSdist {
                    name,
                    url,
                    size: None,
                    upload_time: None,
                    sha256: "a".repeat(64),
                }
            }),
            wheels: wheels
                .iter()
                .map(|w| {
                    let (name, url) = file(w);
                    LockedWheel {
                        name,
                        url,
                        size: None,
                        upload_time: None,
                        sha256: "b".repeat(64),
                    }
                })
                .collect(),
            source,
            direct: true,
            extras: vec![],
        }
    }

    /// A git project is fetched with the credentials the manifest's URL carries (the
    /// lockfile's URL has none), and they are not written into `direct_url.json`.
    #[test]
    fn a_git_project_is_fetched_with_the_manifests_credentials() {
        let text = "[project]\nname = \"t\"\npython = \"3.12\"\nplatform = \"linux-x86_64\"\n\n\
             [application]\nrequirements = [\"demo @ git+https://tok:secret@git.test/org/demo.git@v1\"]\n";
        let m = Manifest::parse(text, Path::new("sanctuary.toml")).unwrap();
        let source = LocalSource::Vcs {
            kind: crate::pylock::VcsKind::Git,
            url: "https://git.test/org/demo.git".to_string(),
            requested_revision: Some("v1".to_string()),
            commit_id: "c".repeat(40),
            subdirectory: None,
        };
        let selection = Selection {
            layer: crate::ops::lockfiles::Layer::Application,
            key: None,
            foundation: None,
            application: None,
            beneath: None,
            declared: vec![],
        };
        let package = package(&[], false, Some(source.clone()));
        let want = local_desired(&m, &selection, "f.toml", &package, &source).unwrap();
        let local = want.build.and_then(|b| b.local).unwrap();
        let LocalBuild::Git { url, .. } = &local else {
            panic!("{local:?}");
        };
        assert_eq!(url, "https://tok:secret@git.test/org/demo.git");
        let direct = local.direct_url();
        assert!(
            !direct.contains("secret") && !direct.contains("tok"),
            "{direct}"
        );
        assert!(direct.contains("https://git.test/org/demo.git"), "{direct}");
    }

    /// A fitting wheel is installed even beside an sdist; an sdist-only package is built.
    #[test]
    fn a_wheel_is_preferred_and_an_sdist_only_package_is_built() {
        let m = manifest();
        let wheel = "demo-1.0-py3-none-any.whl";
        let both = package(&[wheel], true, None);
        assert!(
            matches!(best_wheel(&m.target, "f.toml", &both), Ok(Chosen::Wheel(w)) if w.name == wheel)
        );
        let sdist_only = package(&[], true, None);
        assert!(matches!(
            best_wheel(&m.target, "f.toml", &sdist_only),
            Ok(Chosen::Sdist(s)) if s.name == "demo-1.0.tar.gz"
        ));
        let dir = LocalSource::Directory {
            path: "../libs/demo".to_string(),
            editable: false,
        };
        let local = package(&[], false, Some(dir.clone()));
        assert!(
            matches!(best_wheel(&m.target, "f.toml", &local), Ok(Chosen::Local(s)) if *s == dir)
        );
    }
}
