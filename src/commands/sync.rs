//! `sanctuary sync`: make a virtual environment exactly what the lockfiles of one hardware
//! key say.
//!
//! The flow: choose the key (as `detect` does) → lock first if the lockfiles are stale
//! (`--locked` refuses, `--frozen` skips the check) → read the key's Foundation and the
//! Application lockfiles and pick each package's wheel for the target → create the venv if
//! it is missing → take the environment lock → finish an interrupted sync from its journal →
//! plan ([`crate::install::plan`]) → fetch every wheel to install into the unpacked-wheel
//! cache, checking sizes and hashes, and prepare every link (the locked distribution, no venv
//! file, no file a staying distribution owns: [`crate::install::prepare`]), before anything
//! in the venv changes → write the journal, uninstall, link, clear the journal → optionally
//! compile bytecode.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use futures::StreamExt as _;
use pep508_rs::PackageName;
use rayon::prelude::*;

use crate::cli::GlobalSettings;
use crate::commands::doctor::display;
use crate::commands::export::{self, Layer, Loaded};
use crate::commands::lock::{self, LockSettings};
use crate::environment::{Environment, parse::render_provenance};
use crate::hardware::{self, KeySettings};
use crate::http::HttpClient;
use crate::http::auth::Auth;
use crate::http::redact::without_credentials;
use crate::install::fetch::{Artifact, Fetched, Progress, WheelCache, fetch};
use crate::install::journal::{self, Journal, PendingInstall};
use crate::install::plan::{Desired, Reason, SyncPlan};
use crate::install::venv::{self as venvs, EnvironmentLock};
use crate::install::{self, InstallOptions, LinkMode, OwnedFiles, UnpackedWheel, Venv};
use crate::lock::origin::OriginError;
use crate::manifest::Manifest;
use crate::wheel::WheelFilename;

/// How much `sync` trusts the lockfiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Freshness {
    /// Lock first when they are stale.
    #[default]
    Relock,
    /// `--locked`: refuse stale lockfiles.
    Locked,
    /// `--frozen`: install what is there, check nothing.
    Frozen,
}

/// Checked settings of `sanctuary sync`.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    pub global: GlobalSettings,
    pub keys: KeySettings,
    /// The environment [default: `[sync] venv` beside the manifest].
    pub venv: Option<PathBuf>,
    pub freshness: Freshness,
    /// Print the plan; change nothing.
    pub dry_run: bool,
    /// The interpreter for a new venv (a path, or a name looked up on PATH).
    pub python: Option<PathBuf>,
    /// Compile the installed modules to bytecode.
    pub compile: bool,
    /// Remove what the lockfiles do not list (not with `--inexact`).
    pub exact: bool,
    pub link: LinkMode,
}

/// Run `sanctuary sync`.
pub fn sync(settings: &SyncSettings) -> Result<ExitCode> {
    let started = Instant::now();
    let manifest = Manifest::read(&settings.global.manifest)?;
    let key = choose_key(&manifest, &settings.keys)?;
    ensure_fresh(settings, &manifest, key.as_deref())?;
    let selection = export::select(&manifest, Layer::All, key.as_deref())?;
    // Whatever the freshness, nothing is fetched from a host the manifest does not declare.
    let trusted = lock::trusted_indexes(&manifest, &settings.global.index_overrides)?;
    for loaded in selection.files() {
        let problems = trusted.check(&loaded.lock);
        if !problems.is_empty() {
            return Err(OriginError {
                file: loaded.rel.clone(),
                problems,
            }
            .into());
        }
    }
    let desired = desired(&manifest, &selection)?;
    let root = settings
        .venv
        .clone()
        .unwrap_or_else(|| manifest.dir().join(&manifest.venv));
    let root =
        std::path::absolute(&root).with_context(|| format!("cannot resolve {}", root.display()))?;
    check_host(&manifest)?;

    if settings.dry_run {
        let environment = if root.join("pyvenv.cfg").is_file() {
            check_venv_python(&manifest, &root)?;
            Environment::read(&root)?
        } else {
            eprintln!("would create a virtual environment at {}", root.display());
            empty_environment(&root)
        };
        let plan = SyncPlan::new(&desired, &environment, settings.exact);
        print_plan(&plan, true);
        eprintln!(
            "dry run: would install {}, remove {}, leave {} unchanged",
            plan.install.len(),
            plan.remove.len(),
            plan.unchanged.len()
        );
        return Ok(ExitCode::SUCCESS);
    }

    // A venv that does not exist yet is created only once every wheel it will hold is
    // checked and unpacked: a failed fetch (or `--offline` with an empty cache) leaves none.
    let auth = download_auth(settings, &manifest, key.as_deref())?;
    let mut unpacked: HashMap<String, UnpackedWheel> = HashMap::new();
    let mut downloaded = (0usize, 0u64);
    let mut fetch_time = std::time::Duration::ZERO;
    let venv = if root.join("pyvenv.cfg").is_file() {
        check_venv_python(&manifest, &root)?;
        Venv::from_root(&root)?
    } else {
        let interpreter = venvs::find_interpreter(&manifest.python, settings.python.as_deref())?;
        let plan = SyncPlan::new(&desired, &empty_environment(&root), settings.exact);
        let fetch_started = Instant::now();
        downloaded = fetch_all(settings, &plan, &auth, &mut unpacked)?;
        fetch_time = fetch_started.elapsed();
        if !settings.global.quiet {
            eprintln!(
                "creating {} with Python {} ({})",
                display(&root, manifest.dir()),
                interpreter.version,
                interpreter.executable.display()
            );
        }
        venvs::create(&root, &interpreter, &manifest.name)?
    };
    let _lock = EnvironmentLock::acquire(&root, || {
        if !settings.global.quiet {
            eprintln!(
                "waiting for another sanctuary process to finish with {}",
                root.display()
            );
        }
    })?;
    let options = |desired: Option<&Desired>| InstallOptions {
        extra_dist_info: desired.map(dist_info_extras).unwrap_or_default(),
        link: settings.link,
        expect: desired.map(|d| (d.name.clone(), d.version.clone())),
        ..InstallOptions::default()
    };

    // A sync killed half-way left a journal: undo its half-done installs first.
    let interrupted = Journal::read(&root)?;
    let mut damaged: BTreeSet<PathBuf> = BTreeSet::new();
    if let Some(journal) = &interrupted {
        let recovery = journal::recover(journal, &venv, &options(None))?;
        tracing::warn!(
            "finishing an interrupted sync of {}: removed {} files of {} incomplete installs",
            root.display(),
            recovery.removed_files.len(),
            recovery.removed_dist_infos.len()
        );
        damaged = recovery.removed_files;
    }

    // RECORDs are only needed to uninstall, or to find what a recovery damaged.
    let environment = if damaged.is_empty() {
        Environment::read_summary(&root)?
    } else {
        Environment::read(&root)?
    };
    for u in &environment.unreadable {
        tracing::warn!("leaving {} alone: {}", u.dist_info.display(), u.message);
    }
    let mut plan = SyncPlan::new(&desired, &environment, settings.exact);
    reinstall_damaged(&mut plan, &desired, &environment, &damaged);
    if plan.is_empty() {
        if interrupted.is_some() {
            Journal::clear(&root)?;
        }
        if !settings.global.quiet {
            eprintln!(
                "{} packages in {} are up to date ({} ms)",
                plan.unchanged.len(),
                display(&root, manifest.dir()),
                started.elapsed().as_millis()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }

    // Every wheel checked and unpacked before the environment changes.
    let fetch_started = Instant::now();
    let more = fetch_all(settings, &plan, &auth, &mut unpacked)?;
    fetch_time += fetch_started.elapsed();
    downloaded = (downloaded.0 + more.0, downloaded.1 + more.1);

    let apply_started = Instant::now();
    apply(&plan, &venv, &unpacked, &options)?;
    if settings.compile {
        compile(&venv)?;
    }
    install::failpoint::hit("before-clear");
    Journal::clear(&root)?;

    if !settings.global.quiet {
        print_plan(&plan, false);
        eprintln!(
            "synced {}: {} installed, {} removed, {} unchanged in {:.2}s (fetch {:.2}s, {} downloaded, {:.1} MiB; install {:.2}s)",
            display(&root, manifest.dir()),
            plan.install.len(),
            plan.remove.len(),
            plan.unchanged.len(),
            started.elapsed().as_secs_f64(),
            fetch_time.as_secs_f64(),
            downloaded.0,
            downloaded.1 as f64 / (1024.0 * 1024.0),
            apply_started.elapsed().as_secs_f64(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The hardware key to install, or `None` when the manifest has no Foundation.
fn choose_key(manifest: &Manifest, keys: &KeySettings) -> Result<Option<String>> {
    let Some(foundation) = &manifest.foundation else {
        if let Some(requested) = &keys.requested {
            bail!(
                "{requested} was asked for, but {} declares no [foundation], so there are no hardware keys",
                manifest.path.display()
            );
        }
        return Ok(None);
    };
    let detection = hardware::detect(keys);
    let selection = hardware::select_key(&foundation.keys, keys, &detection)?;
    tracing::info!("hardware key {}: {}", selection.key, selection.reason);
    Ok(Some(selection.key))
}

/// Lock first when the lockfiles are stale (or refuse, with `--locked`).
fn ensure_fresh(settings: &SyncSettings, manifest: &Manifest, key: Option<&str>) -> Result<()> {
    if settings.freshness == Freshness::Frozen {
        return Ok(());
    }
    let lock_settings = LockSettings {
        global: settings.global.clone(),
        check: false,
        upgrade_all: false,
        upgrade: HashSet::new(),
        keys: Vec::new(),
    };
    let stale = lock::stale_lockfiles(&lock_settings, manifest, key)?;
    if stale.is_empty() {
        return Ok(());
    }
    if settings.freshness == Freshness::Locked {
        return Err(StaleLockfiles { lines: stale }.into());
    }
    if !settings.global.quiet {
        eprintln!("the lockfiles are out of date; locking first:");
        for line in &stale {
            eprintln!("  {line}");
        }
    }
    let code = lock::lock(&lock_settings)?;
    if code != ExitCode::SUCCESS {
        bail!("locking failed, so nothing was installed");
    }
    Ok(())
}

/// `--locked` and a stale lockfile.
#[derive(Debug, thiserror::Error)]
#[error("--locked: the lockfiles are out of date, so nothing was installed:\n  {}", lines.join("\n  "))]
pub struct StaleLockfiles {
    pub lines: Vec<String>,
}

/// One entry per locked package, Foundation first, with the best wheel for the target.
fn desired(manifest: &Manifest, selection: &export::Selection) -> Result<Vec<Desired>> {
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
        if loaded.lock.tool.python != manifest.python
            || loaded.lock.tool.platform != manifest.target.platform_name()
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
            let best = package
                .wheels
                .iter()
                .filter_map(|w| {
                    let parsed: WheelFilename = w.name.parse().ok()?;
                    Some((manifest.target.wheel_priority(&parsed)?, w))
                })
                .max_by_key(|(p, _)| *p)
                .map(|(_, w)| w);
            let Some(wheel) = best else {
                bail!(
                    "{}: {} {} has no wheel for {} (locked wheels: {})",
                    loaded.rel,
                    package.name,
                    package.version,
                    manifest.target,
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
            };
            let url = url::Url::parse(&wheel.url).with_context(|| {
                format!(
                    "{}: {} {}: invalid URL `{}`",
                    loaded.rel, package.name, package.version, wheel.url
                )
            })?;
            let want = Desired {
                name: package.name.clone(),
                version: package.version.clone(),
                artifact: Artifact {
                    package: format!("{} {}", package.name, package.version),
                    filename: wheel.name.clone(),
                    url,
                    size: wheel.size,
                    sha256: wheel.sha256.to_ascii_lowercase(),
                    index: package.index.clone(),
                },
                layer: layer.clone(),
                direct: package.direct,
            };
            match out.get(&package.name) {
                Some(first) if first.version != want.version => bail!(
                    "{} locks {} {}, but the {} locks {}: the layers disagree",
                    loaded.rel,
                    package.name,
                    package.version,
                    first.layer,
                    first.version
                ),
                Some(_) => {}
                None => {
                    out.insert(package.name.clone(), want);
                }
            }
        }
    }
    Ok(out.into_values().collect())
}

/// The manifest's platform must be this machine's.
fn check_host(manifest: &Manifest) -> Result<()> {
    let host = crate::target::host()?;
    if !manifest.target.platform.same_system(&host) {
        bail!(
            "{} targets {}, which cannot run on this machine",
            manifest.path.display(),
            manifest.target.platform_name()
        );
    }
    Ok(())
}

/// The venv's interpreter must be the manifest's Python.
fn check_venv_python(manifest: &Manifest, root: &Path) -> Result<()> {
    match venvs::venv_python_version(root)? {
        Some(version) if venvs::python_matches(&version, &manifest.python) => Ok(()),
        Some(version) => Err(anyhow::anyhow!(
            "{} runs Python {version}, but {} asks for Python {}",
            root.display(),
            manifest.path.display(),
            manifest.python
        )
        .context("the environment's interpreter does not match the manifest")),
        None => bail!("{}/pyvenv.cfg names no Python version", root.display()),
    }
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

/// What sanctuary writes into every dist-info it installs: the artifact
/// (`provenance_url.json`) and, for the layers' own requirements, `REQUESTED`.
fn dist_info_extras(desired: &Desired) -> Vec<(String, Vec<u8>)> {
    let mut extras = vec![(
        crate::environment::parse::PROVENANCE_FILE.to_string(),
        render_provenance(
            without_credentials(&desired.artifact.url).as_str(),
            &desired.artifact.sha256,
        )
        .into_bytes(),
    )];
    if desired.direct {
        extras.push(("REQUESTED".to_string(), Vec::new()));
    }
    extras
}

/// Distributions left in place whose files an interrupted sync's recovery removed.
fn reinstall_damaged(
    plan: &mut SyncPlan,
    desired: &[Desired],
    environment: &Environment,
    damaged: &BTreeSet<PathBuf>,
) {
    if damaged.is_empty() {
        return;
    }
    let site = install::normalize(&environment.site_packages);
    for dist in &environment.distributions {
        let hit = dist
            .record
            .iter()
            .any(|e| damaged.contains(&install::normalize(&site.join(&e.path))));
        if !hit || !plan.unchanged.contains(&dist.name) {
            continue;
        }
        if let Some(want) = desired.iter().find(|d| d.name == dist.name) {
            plan.unchanged.retain(|n| n != &dist.name);
            plan.install.push(install::plan::Install {
                desired: want.clone(),
                replaces: vec![dist.clone()],
                reason: Reason::Broken(
                    "files removed while finishing an interrupted sync".to_string(),
                ),
            });
        }
    }
    plan.install
        .sort_by(|a, b| a.desired.name.cmp(&b.desired.name));
}

/// The credentials downloads send: those of the indexes of `key` and the netrc file.
fn download_auth(settings: &SyncSettings, manifest: &Manifest, key: Option<&str>) -> Result<Auth> {
    let indexes = lock::index_urls(manifest, &settings.global.index_overrides, key)?;
    Ok(Auth::new(
        indexes
            .iter()
            .filter_map(|i| Some((&i.url, i.credentials.as_ref()?))),
        Auth::read_netrc(settings.global.index.netrc.as_deref()),
    ))
}

/// Fetch every wheel the plan installs that `out` does not hold yet into `out` (the unpacked
/// trees by sha256); returns (count, bytes) downloaded.
fn fetch_all(
    settings: &SyncSettings,
    plan: &SyncPlan,
    auth: &Auth,
    out: &mut HashMap<String, UnpackedWheel>,
) -> Result<(usize, u64)> {
    let mut artifacts: BTreeMap<String, Artifact> = BTreeMap::new();
    for i in &plan.install {
        if !out.contains_key(&i.desired.artifact.sha256) {
            artifacts
                .entry(i.desired.artifact.sha256.clone())
                .or_insert_with(|| i.desired.artifact.clone());
        }
    }
    if artifacts.is_empty() {
        return Ok((0, 0));
    }
    let cache = WheelCache::new(&settings.global.index.cache_dir);
    // A day: no sync runs that long, so these belong to one that was killed.
    cache.remove_leftovers(std::time::Duration::from_secs(24 * 3600));
    // What the cache holds is taken as it is (each entry read once); only the rest is
    // fetched, and with nothing to fetch no runtime or HTTP client is started.
    let mut missing: Vec<&Artifact> = Vec::new();
    for a in artifacts.values() {
        match cache.get(&a.sha256) {
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
    let bar = if settings.global.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} downloading {msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_message(format!("{} wheels", missing.len()));
        bar
    };
    let progress: Progress = {
        let bar = bar.clone();
        Arc::new(move |delta: i64| {
            if delta >= 0 {
                bar.inc(delta as u64);
            } else {
                bar.set_position(bar.position().saturating_sub(delta.unsigned_abs()));
            }
        })
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let index = &settings.global.index;
    let client = HttpClient::with_timeouts(index.concurrency, index.http)?.with_auth(auth.clone());
    let offline = settings.global.index.offline;
    // Largest first: the long downloads and unpacks start at once and the small ones fill
    // the gaps, instead of one big wheel found last holding up the end.
    let mut order = missing;
    order.sort_by_key(|a| std::cmp::Reverse(a.size.unwrap_or(0)));
    let result = runtime.block_on(async {
        let mut results = futures::stream::iter(order)
            .map(|a| {
                let (client, cache, progress) = (&client, &cache, progress.clone());
                async move {
                    let result = fetch(client, cache, a, offline, progress).await;
                    (a.sha256.clone(), result)
                }
            })
            .buffer_unordered(settings.global.index.concurrency.max(1));
        let mut downloaded = (0usize, 0u64);
        while let Some((sha, result)) = results.next().await {
            let (unpacked, how) = result?;
            if how == Fetched::Downloaded {
                downloaded.0 += 1;
                downloaded.1 += artifacts.get(&sha).and_then(|a| a.size).unwrap_or(0);
            }
            out.insert(sha, unpacked);
        }
        Ok::<_, anyhow::Error>(downloaded)
    });
    bar.finish_and_clear();
    result
}

/// Change the environment: check every link, journal, uninstall, link, clear.
fn apply(
    plan: &SyncPlan,
    venv: &Venv,
    unpacked: &HashMap<String, UnpackedWheel>,
    options: &(dyn Fn(Option<&Desired>) -> InstallOptions + Sync),
) -> Result<()> {
    let leaving: Vec<&PathBuf> = plan
        .remove
        .iter()
        .chain(plan.install.iter().flat_map(|i| i.replaces.iter()))
        .map(|d| &d.dist_info)
        .collect();
    let leaving_dirs: HashSet<&PathBuf> = leaving.iter().copied().collect();
    // The full records now (the plan was made without them): which files the
    // distributions staying in place own. A new wheel may not overwrite one (unless
    // byte-identical), and uninstalling never removes one.
    let environment = Environment::read(&venv.root)?;
    let owned = OwnedFiles::new(
        environment
            .distributions
            .iter()
            .filter(|d| !leaving_dirs.contains(&d.dist_info)),
        &venv.site_packages,
    );
    // Every link checked before anything changes: a refused wheel leaves the environment as
    // it was, and no journal.
    let prepared = plan
        .install
        .par_iter()
        .map(|i| {
            let u = unpacked
                .get(&i.desired.artifact.sha256)
                .with_context(|| format!("{} was not fetched", i.desired.artifact.package))?;
            install::prepare(u, venv, &options(Some(&i.desired)), &owned).with_context(|| {
                let a = &i.desired.artifact;
                format!("cannot install {} ({})", a.package, a.filename)
            })
        })
        .collect::<Result<Vec<_>>>()?;
    install::check_disjoint(&prepared)
        .context("cannot install the locked distributions together")?;

    let journal = Journal {
        removing: leaving.iter().map(|d| (*d).clone()).collect(),
        installing: plan
            .install
            .iter()
            .filter_map(|i| {
                let u = unpacked.get(&i.desired.artifact.sha256)?;
                Some(PendingInstall {
                    dist_info: venv.site_packages.join(&u.dist_info),
                    unpacked: u.root.clone(),
                })
            })
            .collect(),
    };
    install::failpoint::hit("before-journal");
    journal.write(&venv.root)?;
    install::failpoint::hit("after-journal");

    uninstall_leaving(&environment, &leaving_dirs, venv, &owned.paths())?;
    prepared
        .into_par_iter()
        .zip(&plan.install)
        .try_for_each(|(p, i)| -> Result<()> {
            p.link(venv)
                .with_context(|| format!("cannot install {}", i.desired.artifact.package))?;
            Ok(())
        })?;
    Ok(())
}

/// Uninstall the distributions whose dist-info is in `leaving`, never removing a path of
/// `keep` (files distributions staying in place also list).
fn uninstall_leaving(
    environment: &Environment,
    leaving: &HashSet<&PathBuf>,
    venv: &Venv,
    keep: &HashSet<PathBuf>,
) -> Result<()> {
    // One whose RECORD could not be parsed this time: its files are unknown; its
    // dist-info still goes, so the new install is the only one.
    for u in &environment.unreadable {
        if leaving.contains(&u.dist_info) {
            tracing::warn!(
                "removing {} without its files: {}",
                u.dist_info.display(),
                u.message
            );
            install::remove_dist_info(&u.dist_info)
                .with_context(|| format!("cannot remove {}", u.dist_info.display()))?;
        }
    }
    let dists: Vec<&crate::environment::InstalledDistribution> = environment
        .distributions
        .iter()
        .filter(|d| leaving.contains(&d.dist_info))
        .collect();
    dists.par_iter().try_for_each(|dist| -> Result<()> {
        install::failpoint::hit("uninstall");
        if !dist.has_record {
            return install::remove_dist_info(&dist.dist_info)
                .with_context(|| format!("cannot remove {}", dist.dist_info.display()));
        }
        let report = install::uninstall(dist, venv, keep)
            .with_context(|| format!("cannot uninstall {} {}", dist.name, dist.version))?;
        for path in &report.outside {
            tracing::warn!(
                "{} {}: left {path} alone: it is outside the environment",
                dist.name,
                dist.version
            );
        }
        for path in &report.venv_files {
            tracing::warn!(
                "{} {}: left {path} alone: it is the environment's own file",
                dist.name,
                dist.version
            );
        }
        Ok(())
    })
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

/// The plan, one line a change, on stderr.
fn print_plan(plan: &SyncPlan, dry_run: bool) {
    let (add, del) = if dry_run {
        ("would install", "would remove")
    } else {
        ("+", "-")
    };
    for d in &plan.remove {
        eprintln!(" {del} {}=={}", d.name, d.version);
    }
    for i in &plan.install {
        let want = &i.desired;
        let why = match &i.reason {
            Reason::Missing => String::new(),
            Reason::Version(old) => format!(" (was {old})"),
            Reason::Artifact(sha) => format!(
                " (another artifact was installed: sha256 {}…)",
                &sha[..sha.len().min(12)]
            ),
            Reason::Unrecorded { installer } => format!(
                " (reinstalled: installed by {} without a record of its artifact)",
                installer.as_deref().unwrap_or("another tool")
            ),
            Reason::Broken(why) => format!(" (reinstalled: {why})"),
        };
        eprintln!(" {add} {}=={}{why}", want.name, want.version);
    }
}
