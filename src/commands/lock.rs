//! `sanctuary lock`: manifest -> resolutions -> PEP 751 lockfiles under `lockfiles/`.
//!
//! With a `[foundation]`, each declared hardware key gets `pylock.foundation-<key>.toml`,
//! resolved from the Foundation index with `{key}` expanded; the Application is then resolved
//! once per key with that key's Foundation pins fixed (it can never move them), and written as
//! one `pylock.application.toml` when every key gives the same Application, or as
//! `pylock.application-<key>.toml` files when they differ (the output says why). Files are
//! written atomically and only when they changed; `--check` compares recorded inputs instead.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use futures::stream::{self, StreamExt, TryStreamExt};
use pep508_rs::{PackageName, Requirement};

use crate::cli::GlobalSettings;
use crate::fs::Staged;
use crate::hardware::KeyFamily;
use crate::index::auth::{Credentials, env_key};
use crate::index::redact::{redact_text, strip_credentials_text, without_credentials};
use crate::index::{DistFile, IndexKind, IndexSet, IndexUrl, IndexView};
use crate::lock::origin::{OriginError, TrustedIndexes};
use crate::lock::{FORMAT_VERSION, InputSummary, LockedPackage, LockedWheel, Lockfile, ToolTable};
use crate::manifest::{Channel, FoundationSpec, IndexFormat, Manifest, ManifestRequirement};
use crate::resolve::{self, Origin, PrereleaseMode, Resolution, ResolveRequest, RootRequirement};

/// Checked settings of `sanctuary lock`.
#[derive(Clone, Debug)]
pub struct LockSettings {
    pub global: GlobalSettings,
    /// Compare only; write nothing.
    pub check: bool,
    pub upgrade_all: bool,
    pub upgrade: HashSet<PackageName>,
    /// Lock the Foundation of these keys only (all declared keys when empty).
    pub keys: Vec<String>,
}

/// The file name of the shared Application lockfile.
pub const APPLICATION_LOCKFILE: &str = "pylock.application.toml";

/// The file name of the Foundation lockfile of `key`.
pub fn foundation_lockfile(key: &str) -> String {
    format!("pylock.foundation-{key}.toml")
}

/// The file name of the Application lockfile of `key`, when the Application differs per key.
pub fn application_key_lockfile(key: &str) -> String {
    format!("pylock.application-{key}.toml")
}

/// The Application lockfile that serves `key` in `dir` (a `lockfiles/` directory): the
/// per-key file when the Application differs per key, else the shared one.
pub fn application_lockfile_for(dir: &Path, key: &str) -> PathBuf {
    let per_key = dir.join(application_key_lockfile(key));
    if per_key.is_file() {
        per_key
    } else {
        dir.join(APPLICATION_LOCKFILE)
    }
}

/// Run `sanctuary lock`.
pub fn lock(settings: &LockSettings) -> Result<ExitCode> {
    let manifest = Manifest::read(&settings.global.manifest)?;
    let plan = Plan::new(&manifest, settings)?;
    if settings.check {
        let trusted = trusted_indexes(&manifest, &settings.global.index_overrides)?;
        return Ok(plan.check(&manifest, &trusted));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(plan.lock(&manifest, settings))?;
    Ok(ExitCode::SUCCESS)
}

/// What `lock` produces for this manifest: the Foundation inputs of every declared key and
/// the Application inputs, with their hashes.
struct Plan {
    dir: PathBuf,
    /// Declared keys, best first, with their Foundation inputs and hash.
    foundations: Vec<(String, InputSummary, String)>,
    /// Keys whose Foundation is (re)locked in this run.
    selected: Vec<String>,
    application: InputSummary,
}

impl Plan {
    fn new(manifest: &Manifest, settings: &LockSettings) -> Result<Plan> {
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
        for key in &settings.keys {
            if manifest.foundation.is_none() {
                bail!(
                    "--key {key}: {} declares no [foundation], so there are no hardware keys",
                    manifest.path.display()
                );
            }
            if !declared.contains(&key) {
                bail!(
                    "--key {key}: the key is not declared in {} (declared: {})",
                    manifest.path.display(),
                    declared
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
        let selected = if settings.keys.is_empty() {
            declared.iter().map(|k| k.to_string()).collect()
        } else {
            declared
                .iter()
                .filter(|k| settings.keys.contains(k))
                .map(|k| k.to_string())
                .collect()
        };
        let application = application_inputs(manifest, &foundations);
        Ok(Plan {
            dir: manifest.dir().join("lockfiles"),
            foundations,
            selected,
            application,
        })
    }

    fn application_hash(&self, manifest: &Manifest, key: Option<&str>) -> String {
        self.application.hash(
            "application",
            key,
            &manifest.python,
            &manifest.target.platform_name(),
        )
    }

    /// The Application lockfiles that exist now: the shared one, or per-key ones.
    fn application_files(&self) -> Vec<(Option<String>, PathBuf)> {
        let shared = self.dir.join(APPLICATION_LOCKFILE);
        let per_key: Vec<(Option<String>, PathBuf)> = self
            .foundations
            .iter()
            .map(|(k, _, _)| (Some(k.clone()), self.dir.join(application_key_lockfile(k))))
            .filter(|(_, p)| p.is_file())
            .collect();
        if per_key.is_empty() || shared.is_file() {
            vec![(None, shared)]
        } else {
            per_key
        }
    }

    /// `lock --check`: every lockfile is present and was made from the current inputs.
    fn check(&self, manifest: &Manifest, trusted: &TrustedIndexes) -> ExitCode {
        let mut stale = false;
        for (key, inputs, hash) in &self.foundations {
            let path = self.dir.join(foundation_lockfile(key));
            stale |= !check_file(&path, manifest, inputs, hash, trusted);
        }
        for (key, path) in self.application_files() {
            let hash = self.application_hash(manifest, key.as_deref());
            stale |= !check_file(&path, manifest, &self.application, &hash, trusted);
        }
        if stale {
            eprintln!("hint: run `sanctuary lock` and commit the result");
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }

    async fn lock(&self, manifest: &Manifest, settings: &LockSettings) -> Result<()> {
        let started = Instant::now();
        let quiet = settings.global.quiet;
        let keys: Vec<String> = self.foundations.iter().map(|(k, _, _)| k.clone()).collect();
        let set = Arc::new(IndexSet::new(
            shared_indexes(manifest, &settings.global.index_overrides, &keys)?,
            HashMap::new(),
            settings.global.index.clone(),
        )?);
        let spinner = Spinner::new(quiet);
        let trusted = trusted_indexes(manifest, &settings.global.index_overrides)?;
        let mut output = Output::new(&self.dir, trusted, quiet);

        // The Foundation of every key: locked now when selected, else read from disk.
        let mut foundations: Vec<(String, Lockfile)> = Vec::new();
        if let Some(spec) = &manifest.foundation {
            for (key, inputs, hash) in &self.foundations {
                let path = self.dir.join(foundation_lockfile(key));
                if !self.selected.contains(key) {
                    match read_existing(&path) {
                        Some(lock) => foundations.push((key.clone(), lock)),
                        None => tracing::warn!(
                            "no Foundation lockfile for key `{key}`; the Application is not checked against it"
                        ),
                    }
                    continue;
                }
                spinner.say(&format!("resolving the Foundation for {key}"));
                let existing = read_existing(&path);
                let lockfile = lock_foundation(
                    settings,
                    manifest,
                    spec,
                    &set,
                    key,
                    existing.as_ref(),
                    inputs.clone(),
                    hash.clone(),
                )
                .await;
                let lockfile = spinner.finish_on_error(lockfile)?;
                output.write(&path, existing.as_ref(), &lockfile)?;
                foundations.push((key.clone(), lockfile));
            }
            if settings.keys.is_empty() {
                output.remove_undeclared(&self.dir, &keys);
            }
        }

        // The Application, against each key's Foundation (or alone).
        spinner.say("resolving the application layer");
        let existing_app: BTreeMap<Option<String>, Lockfile> = self
            .application_files()
            .into_iter()
            .filter_map(|(k, p)| read_existing(&p).map(|l| (k, l)))
            .collect();
        let mut preferences: HashMap<PackageName, pep440_rs::Version> = HashMap::new();
        if !settings.upgrade_all {
            for lock in existing_app.values() {
                for (name, version) in lock.versions() {
                    preferences.entry(name).or_insert(version);
                }
            }
        }
        let mut per_key: Vec<(Option<String>, Vec<LockedPackage>)> = Vec::new();
        if manifest.foundation.is_none() {
            let view = set.view(application_pins(manifest, None))?;
            let resolution = resolve_application(settings, manifest, view, &preferences, &[]).await;
            let resolution = spinner.finish_on_error(resolution)?;
            per_key.push((
                None,
                locked_packages(&set, &resolution, &BTreeSet::new()).await?,
            ));
        } else {
            for (key, foundation) in &foundations {
                let view = set.view(application_pins(manifest, Some(key)))?;
                let pins = foundation_pins(key, foundation)?;
                let resolution =
                    resolve_application(settings, manifest, view, &preferences, &pins).await;
                let resolution = spinner.finish_on_error(resolution)?;
                // Later keys prefer what the first key chose, so the layers agree where they can.
                for p in resolution.packages.values() {
                    preferences
                        .entry(p.name.clone())
                        .or_insert_with(|| p.version.clone());
                }
                let provided: BTreeSet<PackageName> =
                    foundation.packages.iter().map(|p| p.name.clone()).collect();
                let packages = locked_packages(&set, &resolution, &provided).await?;
                per_key.push((Some(key.clone()), packages));
            }
        }
        spinner.clear();

        let shared = per_key.windows(2).all(|w| w[0].1 == w[1].1);
        let environment = environment_marker(manifest);
        let make = |key: Option<&str>, packages: Vec<LockedPackage>| Lockfile {
            environment: environment.clone(),
            requires_python: requires_python(manifest),
            packages,
            tool: ToolTable {
                format: FORMAT_VERSION,
                layer: "application".to_string(),
                key: key.map(str::to_string),
                python: manifest.python.clone(),
                platform: manifest.target.platform_name(),
                inputs_hash: self.application_hash(manifest, key),
                inputs: self.application.clone(),
            },
        };
        let shared_path = self.dir.join(APPLICATION_LOCKFILE);
        if shared {
            let packages = per_key
                .into_iter()
                .next()
                .map(|(_, p)| p)
                .unwrap_or_default();
            let lockfile = make(None, packages);
            output.write(&shared_path, existing_app.get(&None), &lockfile)?;
            for key in &keys {
                output.remove(&self.dir.join(application_key_lockfile(key)));
            }
        } else {
            if !quiet {
                eprintln!(
                    "The Application differs between hardware keys, so it is locked per key:"
                );
                for line in differences(&per_key) {
                    eprintln!("  {line}");
                }
            }
            for (key, packages) in per_key {
                let key = key.unwrap_or_default();
                let path = self.dir.join(application_key_lockfile(&key));
                let previous = read_existing(&path);
                output.write(&path, previous.as_ref(), &make(Some(&key), packages))?;
            }
            output.remove(&shared_path);
        }
        output.commit()?;
        if !quiet {
            eprintln!("Locked in {:.2}s", started.elapsed().as_secs_f64());
        }
        Ok(())
    }
}

/// A spinner on stderr while resolving (hidden when stderr is not a terminal or with `-q`).
struct Spinner(indicatif::ProgressBar);

impl Spinner {
    fn new(quiet: bool) -> Spinner {
        let bar = if quiet {
            indicatif::ProgressBar::hidden()
        } else {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        };
        Spinner(bar)
    }

    fn say(&self, message: &str) {
        self.0.set_message(message.to_string());
    }

    fn clear(&self) {
        self.0.finish_and_clear();
    }

    fn finish_on_error<T>(&self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            self.clear();
        }
        result
    }
}

/// Compare a lockfile's recorded inputs with the manifest's, and its artifacts' URLs with the
/// declared indexes; print why it is stale or inconsistent.
fn check_file(
    path: &Path,
    manifest: &Manifest,
    inputs: &InputSummary,
    hash: &str,
    trusted: &TrustedIndexes,
) -> bool {
    let relative = crate::fs::display(path, manifest.dir());
    match file_staleness(path, manifest, inputs, hash) {
        None => {
            let problems = std::fs::read_to_string(path)
                .ok()
                .and_then(|text| Lockfile::parse(&text).ok())
                .map(|lock| trusted.check(&lock))
                .unwrap_or_default();
            if !problems.is_empty() {
                eprintln!("{relative} is inconsistent with the declared indexes:");
                for p in problems {
                    eprintln!("  - {p}");
                }
                return false;
            }
            eprintln!("{relative} is up to date");
            true
        }
        Some(lines) => {
            for line in lines {
                eprintln!("{line}");
            }
            false
        }
    }
}

/// Why a lockfile is stale (a first line, then `  - reason` lines), or `None` when it was
/// made from the current inputs.
fn file_staleness(
    path: &Path,
    manifest: &Manifest,
    inputs: &InputSummary,
    hash: &str,
) -> Option<Vec<String>> {
    let relative = crate::fs::display(path, manifest.dir());
    let old = match std::fs::read_to_string(path) {
        Ok(text) => match Lockfile::parse(&text) {
            Ok(lock) => lock,
            Err(e) => return Some(vec![format!("{relative} cannot be read: {e}")]),
        },
        Err(_) => return Some(vec![format!("{relative} is missing")]),
    };
    if old.tool.inputs_hash == hash {
        return None;
    }
    let mut lines = vec![format!(
        "{relative} is stale: {} changed since it was written:",
        manifest.path.display()
    )];
    let mut reasons = inputs.changes_from(&old.tool.inputs);
    if old.tool.python != manifest.python {
        reasons.push(format!(
            "python changed from `{}` to `{}`",
            old.tool.python, manifest.python
        ));
    }
    let platform = manifest.target.platform_name();
    if old.tool.platform != platform {
        reasons.push(format!(
            "platform changed from `{}` to `{platform}`",
            old.tool.platform
        ));
    }
    if old.tool.format != FORMAT_VERSION {
        reasons.push(format!(
            "lockfile format {} is older than {FORMAT_VERSION}",
            old.tool.format
        ));
    }
    if reasons.is_empty() {
        reasons.push("the recorded inputs hash differs".to_string());
    }
    lines.extend(reasons.into_iter().map(|r| format!("  - {r}")));
    Some(lines)
}

/// Why the lockfiles that serve `key` (its Foundation and its Application; the Application
/// alone without a key) are stale: lines for people, empty when both are up to date.
pub fn stale_lockfiles(
    settings: &LockSettings,
    manifest: &Manifest,
    key: Option<&str>,
) -> Result<Vec<String>> {
    let plan = Plan::new(manifest, settings)?;
    let mut lines = Vec::new();
    if let Some(key) = key
        && let Some((_, inputs, hash)) = plan.foundations.iter().find(|(k, _, _)| k == key)
    {
        let path = plan.dir.join(foundation_lockfile(key));
        lines.extend(file_staleness(&path, manifest, inputs, hash).unwrap_or_default());
    }
    let files = plan.application_files();
    let (file_key, path) = match key {
        Some(key) => files
            .into_iter()
            .find(|(k, _)| k.as_deref() == Some(key) || k.is_none())
            .unwrap_or((None, plan.dir.join(APPLICATION_LOCKFILE))),
        None => (None, plan.dir.join(APPLICATION_LOCKFILE)),
    };
    let hash = plan.application_hash(manifest, file_key.as_deref());
    lines.extend(file_staleness(&path, manifest, &plan.application, &hash).unwrap_or_default());
    Ok(lines)
}

fn texts(reqs: &[ManifestRequirement]) -> Vec<String> {
    reqs.iter().map(|r| r.text.trim().to_string()).collect()
}

fn index_inputs(manifest: &Manifest) -> Vec<String> {
    manifest
        .indexes
        .iter()
        .map(|i| {
            // Without credentials: a new token must not make lockfiles stale.
            let mut s = format!("{}={}", i.name, strip_credentials_text(&i.url));
            if i.explicit {
                s.push_str(" explicit");
            }
            if i.format == IndexFormat::Flat {
                s.push_str(" flat");
            }
            s
        })
        .collect()
}

/// The requirements and constraints of the Foundation for `key` (per-key overrides applied).
fn foundation_requirements<'a>(
    spec: &'a FoundationSpec,
    key: &str,
) -> (&'a [ManifestRequirement], &'a [ManifestRequirement]) {
    let o = spec.overrides.get(key);
    (
        o.and_then(|o| o.requirements.as_deref())
            .unwrap_or(&spec.requirements),
        o.and_then(|o| o.constraints.as_deref())
            .unwrap_or(&spec.constraints),
    )
}

/// The Foundation's packages: every package any key's Foundation requirements name.
/// Constraints only constrain: they never make a package a Foundation package.
fn foundation_packages(spec: &FoundationSpec) -> BTreeSet<PackageName> {
    let overrides = spec.overrides.values().flat_map(|o| o.requirements.iter());
    [&spec.requirements]
        .into_iter()
        .chain(overrides)
        .flatten()
        .map(|r| r.requirement.name.clone())
        .collect()
}

/// Where the Foundation's packages come from, by index name (keyed names not yet expanded):
/// each Foundation package from `[foundation] sources` or else the Foundation index, and every
/// other package `sources` names from its index. A dependency that only the Foundation index
/// has (`pytorch-triton`) is named in `sources`, so the default index is never asked for it
/// (the `torchtriton` dependency-confusion attack of 2022).
fn foundation_routes(spec: &FoundationSpec) -> BTreeMap<PackageName, String> {
    let mut routes: BTreeMap<PackageName, String> = BTreeMap::new();
    if let Some(index) = &spec.index {
        for p in foundation_packages(spec) {
            routes.insert(p, index.clone());
        }
    }
    for (p, index) in &spec.sources {
        routes.insert(p.clone(), index.clone());
    }
    routes
}

/// [`foundation_routes`] with keyed index names expanded for `key`.
fn foundation_pins_for_key(
    manifest: &Manifest,
    spec: &FoundationSpec,
    key: &str,
) -> Result<HashMap<PackageName, String>> {
    foundation_routes(spec)
        .into_iter()
        .map(|(p, index)| Ok((p, index_for_key(manifest, &index, Some(key))?)))
        .collect()
}

/// The canonical inputs of the Foundation of `key`.
fn foundation_inputs(manifest: &Manifest, spec: &FoundationSpec, key: &str) -> InputSummary {
    let (requirements, constraints) = foundation_requirements(spec, key);
    InputSummary {
        requirements: texts(requirements),
        constraints: texts(constraints),
        indexes: index_inputs(manifest),
        sources: foundation_routes(spec)
            .into_iter()
            .map(|(p, index)| format!("{p}={index}"))
            .collect(),
        prereleases: match spec.channel {
            Channel::Nightly => "allow",
            Channel::Stable => "if-necessary-or-explicit",
        }
        .to_string(),
        foundation: vec![format!(
            "channel={}",
            match spec.channel {
                Channel::Nightly => "nightly",
                Channel::Stable => "stable",
            }
        )],
    }
}

/// The canonical inputs of the Application layer: its own, plus the inputs hash of every
/// key's Foundation (a Foundation change makes the Application stale too).
fn application_inputs(
    manifest: &Manifest,
    foundations: &[(String, InputSummary, String)],
) -> InputSummary {
    InputSummary {
        requirements: texts(&manifest.application.requirements),
        constraints: texts(&manifest.application.constraints),
        indexes: index_inputs(manifest),
        sources: manifest
            .application
            .sources
            .iter()
            .map(|(p, i)| format!("{p}={i}"))
            .collect(),
        prereleases: if manifest.application.prereleases {
            "allow"
        } else {
            "if-necessary-or-explicit"
        }
        .to_string(),
        foundation: foundations
            .iter()
            .map(|(key, _, hash)| format!("{key}={hash}"))
            .collect(),
    }
}

/// Read a lockfile for preferences; a missing or unreadable one gives none.
fn read_existing(path: &Path) -> Option<Lockfile> {
    let text = std::fs::read_to_string(path).ok()?;
    match Lockfile::parse(&text) {
        Ok(lock) => Some(lock),
        Err(e) => {
            tracing::warn!(
                "ignoring the existing {}: {e}; it will be rewritten",
                path.display()
            );
            None
        }
    }
}

/// The name of a keyed index in the shared set: `pytorch[cu130]`.
fn keyed_name(name: &str, key: &str) -> String {
    format!("{name}[{key}]")
}

/// The URL of an index: `SANCTUARY_INDEX_<NAME>` redirection applied.
fn index_url_text<'a>(
    manifest: &Manifest,
    name: &str,
    url: &'a str,
    overrides: &'a BTreeMap<String, String>,
) -> Result<(&'a str, Option<String>)> {
    let env_name = name.to_uppercase().replace('-', "_");
    let keys = manifest.foundation.as_ref().map_or(0, |f| f.keys.len());
    match overrides.get(&env_name) {
        // A keyed index serves one URL per hardware key: with several keys, a redirection
        // without `{key}` would send every key's Foundation to one tree.
        Some(redirect) if url.contains("{key}") && !redirect.contains("{key}") && keys > 1 => {
            bail!(
                "SANCTUARY_INDEX_{env_name}=`{}` has no `{{key}}`, but index `{name}` is keyed (`{url}`): give a URL template such as SANCTUARY_INDEX_{env_name}='https://mirror.example/whl/{{key}}'",
                crate::index::redact::redact_text(redirect)
            )
        }
        Some(redirect) => Ok((redirect, Some(env_name))),
        None => Ok((url, None)),
    }
}

/// `{key}` and the channel expanded: nightly inserts `nightly/` before a trailing `{key}`
/// (PyTorch's layout: `.../whl/cu130` and `.../whl/nightly/cu130`), or replaces `{channel}`.
fn expand_url(url: &str, key: &str, channel: Channel) -> String {
    let nightly = channel == Channel::Nightly;
    if url.contains("{channel}") {
        let url = if nightly {
            url.replace("{channel}", "nightly")
        } else {
            url.replace("{channel}/", "").replace("{channel}", "")
        };
        return url.replace("{key}", key);
    }
    if nightly && let Some(head) = url.trim_end_matches('/').strip_suffix("{key}") {
        return format!("{head}nightly/{key}");
    }
    url.replace("{key}", key)
}

/// The indexes of a layer: manifest order, `SANCTUARY_INDEX_<NAME>` redirections applied,
/// `{key}` expanded (indexes with `{key}` are left out when there is no key).
pub fn index_urls(
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
    key: Option<&str>,
) -> Result<Vec<IndexUrl>> {
    let channel = manifest
        .foundation
        .as_ref()
        .map_or(Channel::Stable, |f| f.channel);
    let mut out = Vec::new();
    for spec in &manifest.indexes {
        let (raw, env) = index_url_text(manifest, &spec.name, &spec.url, overrides)?;
        let keyed = raw.contains("{key}") || spec.url.contains("{key}");
        let (expanded, name) = match key {
            Some(key) if keyed => (expand_url(raw, key, channel), keyed_name(&spec.name, key)),
            None if keyed => continue,
            _ => (raw.to_string(), spec.name.clone()),
        };
        let url = url::Url::parse(&expanded).with_context(|| {
            let shown = redact_text(&expanded);
            match &env {
                Some(env) => format!("invalid URL `{shown}` in SANCTUARY_INDEX_{env}"),
                None => format!("invalid URL `{shown}` for index `{}`", spec.name),
            }
        })?;
        // Credentials are kept apart, and never recorded with the URL.
        let env_var = |part: &str| overrides.get(&format!("{}_{part}", env_key(&spec.name)));
        let credentials = Credentials::for_index(
            &url,
            env_var("USERNAME").map(String::as_str),
            env_var("PASSWORD").map(String::as_str),
        );
        out.push(IndexUrl {
            name,
            url: without_credentials(&url),
            credentials,
            // A keyed index serves only what is pinned to it: each key's packages must come
            // from that key's index alone.
            explicit: spec.explicit || keyed,
            kind: match spec.format {
                IndexFormat::Simple => IndexKind::Simple,
                IndexFormat::Flat => IndexKind::Flat,
            },
        });
    }
    Ok(out)
}

/// Every URL a declared index can have, as written and as redirected by
/// `SANCTUARY_INDEX_<NAME>`, with `{key}` expanded for each declared key, and its
/// `file-origins`: where a lockfile's artifacts may come from ([`crate::lock::origin`]).
pub fn trusted_indexes(
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
) -> Result<TrustedIndexes> {
    let (keys, channel) = match &manifest.foundation {
        Some(f) => (f.keys.clone(), f.channel),
        None => (Vec::new(), Channel::Stable),
    };
    let mut trusted = TrustedIndexes::default();
    for spec in &manifest.indexes {
        let (redirected, _) = index_url_text(manifest, &spec.name, &spec.url, overrides)?;
        let keyed = spec.url.contains("{key}") || redirected.contains("{key}");
        for raw in [spec.url.as_str(), redirected] {
            let urls: Vec<String> = if keyed {
                keys.iter().map(|k| expand_url(raw, k, channel)).collect()
            } else {
                vec![raw.to_string()]
            };
            for url in urls.iter().filter_map(|u| url::Url::parse(u).ok()) {
                trusted.add(&url, &spec.file_origins);
            }
        }
    }
    Ok(trusted)
}

/// One index set for every key: the plain indexes once, each keyed index once per key.
fn shared_indexes(
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
    keys: &[String],
) -> Result<Vec<IndexUrl>> {
    let mut out = index_urls(manifest, overrides, None)?;
    for key in keys {
        for index in index_urls(manifest, overrides, Some(key))? {
            if !out.iter().any(|i| i.name == index.name) {
                out.push(index);
            }
        }
    }
    Ok(out)
}

/// The name under which `index` serves `key` in the shared set.
fn index_for_key(manifest: &Manifest, index: &str, key: Option<&str>) -> Result<String> {
    let keyed = manifest
        .indexes
        .iter()
        .any(|i| i.name == index && i.url.contains("{key}"));
    match (keyed, key) {
        (false, _) => Ok(index.to_string()),
        (true, Some(key)) => Ok(keyed_name(index, key)),
        (true, None) => bail!(
            "index `{index}` has `{{key}}` in its URL, so only a [foundation] with hardware keys can use it"
        ),
    }
}

/// Pins of the Application for `key`: `application.sources`, and the Foundation packages to
/// the Foundation index.
fn application_pins(manifest: &Manifest, key: Option<&str>) -> HashMap<PackageName, String> {
    let mut pins = HashMap::new();
    if let (Some(spec), Some(key)) = (&manifest.foundation, key)
        && let Ok(routes) = foundation_pins_for_key(manifest, spec, key)
    {
        pins.extend(routes);
    }
    for (p, index) in &manifest.application.sources {
        if let Ok(name) = index_for_key(manifest, index, key) {
            pins.insert(p.clone(), name);
        }
    }
    pins
}

fn origin(manifest: &Manifest, layer: &str, kind: &str, line: Option<usize>) -> Origin {
    Origin {
        layer: layer.to_string(),
        kind: kind.to_string(),
        file: Some(
            manifest
                .path
                .file_name()
                .map_or_else(|| manifest.path.clone(), PathBuf::from),
        ),
        line,
    }
}

fn root_requirements(
    manifest: &Manifest,
    layer: &str,
    kind: &str,
    reqs: &[ManifestRequirement],
) -> Vec<RootRequirement> {
    reqs.iter()
        .map(|r| RootRequirement {
            requirement: r.requirement.clone(),
            origin: origin(manifest, layer, kind, Some(r.line)),
        })
        .collect()
}

fn preferences_from(
    existing: Option<&Lockfile>,
    upgrade_all: bool,
) -> HashMap<PackageName, pep440_rs::Version> {
    if upgrade_all {
        return HashMap::new();
    }
    existing
        .map(|l| l.versions().into_iter().collect())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn lock_foundation(
    settings: &LockSettings,
    manifest: &Manifest,
    spec: &FoundationSpec,
    set: &Arc<IndexSet>,
    key: &str,
    existing: Option<&Lockfile>,
    inputs: InputSummary,
    inputs_hash: String,
) -> Result<Lockfile> {
    let (requirements, constraints) = foundation_requirements(spec, key);
    let pins = foundation_pins_for_key(manifest, spec, key)?;
    let layer = format!("foundation ({key})");
    let request = ResolveRequest {
        requirements: root_requirements(manifest, &layer, "requirement", requirements),
        constraints: root_requirements(manifest, &layer, "constraint", constraints),
        target: manifest.target.clone(),
        prereleases: match spec.channel {
            Channel::Nightly => PrereleaseMode::Allow,
            Channel::Stable => PrereleaseMode::IfNecessaryOrExplicit,
        },
        preferences: preferences_from(existing, settings.upgrade_all),
        upgrade: settings.upgrade.clone(),
        upgrade_all: settings.upgrade_all,
        no_binary: HashSet::new(),
        report_width: settings.global.report_width,
    };
    let view = Arc::new(set.view(pins)?);
    let resolution = resolve::resolve(view, request).await?;
    check_cuda_families(key, &resolution)?;
    let packages = locked_packages(set, &resolution, &BTreeSet::new()).await?;
    Ok(Lockfile {
        environment: environment_marker(manifest),
        requires_python: requires_python(manifest),
        packages,
        tool: ToolTable {
            format: FORMAT_VERSION,
            layer: "foundation".to_string(),
            key: Some(key.to_string()),
            python: manifest.python.clone(),
            platform: manifest.target.platform_name(),
            inputs_hash,
            inputs,
        },
    })
}

/// `==version` constraints for every package of a key's Foundation.
fn foundation_pins(key: &str, foundation: &Lockfile) -> Result<Vec<RootRequirement>> {
    let file = PathBuf::from("lockfiles").join(foundation_lockfile(key));
    foundation
        .packages
        .iter()
        .map(|p| {
            let text = format!("{}=={}", p.name, p.version);
            let requirement = Requirement::from_str(&text)
                .with_context(|| format!("pin `{text}` from {}", file.display()))?;
            Ok(RootRequirement {
                requirement,
                origin: Origin {
                    layer: format!("foundation ({key})"),
                    kind: "pin".to_string(),
                    file: Some(file.clone()),
                    line: None,
                },
            })
        })
        .collect()
}

async fn resolve_application(
    settings: &LockSettings,
    manifest: &Manifest,
    view: IndexView,
    preferences: &HashMap<PackageName, pep440_rs::Version>,
    pins: &[RootRequirement],
) -> Result<Resolution> {
    // The Foundation pins are requirements, not constraints: the resolution then holds the
    // whole Foundation (left out of the Application file), and a conflict reads "accel 2.0
    // depends on torch>=2.9 and the foundation (cu126) pin asks for torch==2.8.0+cu126".
    let mut requirements = root_requirements(
        manifest,
        "application",
        "requirement",
        &manifest.application.requirements,
    );
    requirements.extend(pins.iter().cloned());
    let request = ResolveRequest {
        requirements,
        constraints: root_requirements(
            manifest,
            "application",
            "constraint",
            &manifest.application.constraints,
        ),
        target: manifest.target.clone(),
        prereleases: if manifest.application.prereleases {
            PrereleaseMode::Allow
        } else {
            PrereleaseMode::IfNecessaryOrExplicit
        },
        preferences: preferences.clone(),
        upgrade: settings.upgrade.clone(),
        upgrade_all: settings.upgrade_all,
        no_binary: HashSet::new(),
        report_width: settings.global.report_width,
    };
    Ok(resolve::resolve(Arc::new(view), request).await?)
}

/// The lockfile entries of a resolution, leaving out `provided` (the Foundation's packages),
/// with the artifact facts the simple pages did not give filled in.
async fn locked_packages(
    set: &Arc<IndexSet>,
    resolution: &Resolution,
    provided: &BTreeSet<PackageName>,
) -> Result<Vec<LockedPackage>> {
    let files: Vec<(PackageName, DistFile)> = resolution
        .packages
        .values()
        .filter(|p| !provided.contains(&p.name))
        .flat_map(|p| p.files.iter().map(|f| (p.name.clone(), f.clone())))
        .collect();
    let completed: Vec<(PackageName, DistFile)> = stream::iter(files)
        .map(|(name, file)| {
            let set = Arc::clone(set);
            async move { set.complete(&file).await.map(|f| (name, f)) }
        })
        .buffered(64)
        .try_collect()
        .await?;
    let mut by_package: BTreeMap<PackageName, Vec<DistFile>> = BTreeMap::new();
    for (name, file) in completed {
        by_package.entry(name).or_default().push(file);
    }
    let mut packages = Vec::new();
    for p in resolution.packages.values() {
        if provided.contains(&p.name) {
            continue;
        }
        let mut wheels = Vec::new();
        for f in by_package.remove(&p.name).unwrap_or_default() {
            let Some(sha256) = f.sha256.clone() else {
                bail!(
                    "the index gave no sha256 for {} ({}); sanctuary only writes hashed lockfiles",
                    f.filename,
                    f.url
                );
            };
            wheels.push(LockedWheel {
                name: f.filename.clone(),
                url: without_credentials(&f.url).to_string(),
                size: f.size,
                upload_time: f.upload_time.clone(),
                sha256,
            });
        }
        packages.push(LockedPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            index: p.index.url.to_string(),
            requires_python: p.requires_python.as_ref().map(ToString::to_string),
            dependencies: p.dependencies.iter().cloned().collect(),
            wheels,
            direct: p.direct,
            extras: p.extras.iter().map(ToString::to_string).collect(),
        });
    }
    Ok(packages)
}

/// Packages without a `-cuNN` suffix whose version follows the CUDA release (CUDA 13 dropped
/// the suffixes). The math libraries are left out on purpose: CUDA 13 ships cuFFT 12.0,
/// cuSOLVER 12.0 and cuSPARSE 12.6, so their versions say nothing about the family.
const CUDA_VERSIONED: &[&str] = &[
    "cuda-toolkit",
    "cuda-bindings",
    "cuda-python",
    "nvidia-cuda-runtime",
    "nvidia-cuda-nvrtc",
    "nvidia-cuda-cupti",
    "nvidia-cuda-nvcc",
    "nvidia-cublas",
    "nvidia-nvjitlink",
];

/// The CUDA family of a package: the `-cuNN` suffix of `nvidia-*` / `cuda-*` libraries, or
/// the major version of a package whose version follows CUDA's ([`CUDA_VERSIONED`]).
fn cuda_family(name: &PackageName, version: &pep440_rs::Version) -> Option<u64> {
    let name = name.as_ref();
    if let Some((_, suffix)) = name.rsplit_once("-cu")
        && (name.starts_with("nvidia-") || name.starts_with("cuda-"))
        && let Ok(major) = suffix.parse::<u64>()
    {
        return Some(major);
    }
    let major = version.release().first().copied()?;
    (CUDA_VERSIONED.contains(&name) && (11..=20).contains(&major)).then_some(major)
}

/// The CUDA family a key runs: `cu130` -> 13, `cu128` -> 12, `cpu` -> none; `None` for keys
/// outside these families (e.g. ROCm), which are not checked.
fn key_family(key: &str) -> Option<Option<u64>> {
    match KeyFamily::of(key) {
        KeyFamily::Cuda(cuda) => Some(Some(u64::from(cuda.major))),
        KeyFamily::Cpu => Some(None),
        KeyFamily::Other => None,
    }
}

/// Refuse a Foundation that mixes CUDA families, or pulls CUDA libraries into a `cpu` key,
/// naming each offending package and the chain that pulled it in.
fn check_cuda_families(key: &str, resolution: &Resolution) -> Result<()> {
    let Some(expected) = key_family(key) else {
        return Ok(());
    };
    let mut families: BTreeMap<u64, Vec<&PackageName>> = BTreeMap::new();
    for p in resolution.packages.values() {
        if let Some(f) = cuda_family(&p.name, &p.version) {
            families.entry(f).or_default().push(&p.name);
        }
    }
    let wrong: Vec<(u64, &PackageName)> = families
        .iter()
        .filter(|(f, _)| match expected {
            Some(e) => **f != e,
            None => true,
        })
        .flat_map(|(f, names)| names.iter().map(move |n| (*f, *n)))
        .collect();
    if wrong.is_empty() && families.len() <= 1 {
        return Ok(());
    }
    let mut message = match expected {
        Some(e) => format!("the Foundation for key `{key}` (CUDA {e}) would mix CUDA families:"),
        None => format!("the Foundation for key `{key}` would pull in CUDA libraries:"),
    };
    for (family, name) in wrong {
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
    bail!(message)
}

/// The shortest chain from a requirement of the layer to `target`:
/// `torch 2.9.0 -> nvidia-cudnn-cu12 9.10.2.21 -> nvidia-cublas-cu12 12.8.4.1`.
fn chain(resolution: &Resolution, target: &PackageName) -> String {
    let mut parent: HashMap<&PackageName, &PackageName> = HashMap::new();
    let mut queue: VecDeque<&PackageName> = resolution
        .packages
        .values()
        .filter(|p| p.direct)
        .map(|p| &p.name)
        .collect();
    let mut seen: HashSet<&PackageName> = queue.iter().copied().collect();
    while let Some(name) = queue.pop_front() {
        if name == target {
            break;
        }
        for dep in &resolution.packages[name].dependencies {
            if resolution.packages.contains_key(dep) && seen.insert(dep) {
                parent.insert(dep, name);
                queue.push_back(dep);
            }
        }
    }
    let mut path = vec![target];
    while let Some(p) = parent.get(path[path.len() - 1]) {
        path.push(p);
    }
    path.reverse();
    path.iter()
        .map(|n| format!("{n} {}", resolution.packages[*n].version))
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Why the Application differs between keys: each package whose entry differs, with its
/// version per key.
fn differences(per_key: &[(Option<String>, Vec<LockedPackage>)]) -> Vec<String> {
    let mut versions: BTreeMap<&PackageName, BTreeMap<String, Vec<&str>>> = BTreeMap::new();
    for (key, packages) in per_key {
        let key = key.as_deref().unwrap_or("");
        for p in packages {
            versions
                .entry(&p.name)
                .or_default()
                .entry(p.version.to_string())
                .or_default()
                .push(key);
        }
    }
    let all = per_key.len();
    versions
        .into_iter()
        .filter(|(_, by_version)| {
            by_version.len() > 1 || by_version.values().map(Vec::len).sum::<usize>() < all
        })
        .map(|(name, by_version)| {
            let parts: Vec<String> = by_version
                .iter()
                .map(|(v, keys)| format!("{v} for {}", keys.join(", ")))
                .collect();
            let present: usize = by_version.values().map(Vec::len).sum();
            let missing = if present < all {
                ", absent for the others"
            } else {
                ""
            };
            format!("{name}: {}{missing}", parts.join("; "))
        })
        .collect()
}

fn environment_marker(manifest: &Manifest) -> String {
    let markers = manifest.target.markers();
    format!(
        "python_version == '{}' and sys_platform == '{}' and platform_machine == '{}'",
        markers.python_version().string,
        markers.sys_platform(),
        markers.platform_machine()
    )
}

fn requires_python(manifest: &Manifest) -> String {
    format!("=={}.*", manifest.target.markers().python_version().string)
}

/// What one `lock` run writes and removes, committed together at the end (see
/// [`crate::fs::Staged`]): a failure anywhere before leaves every lockfile as it was.
struct Output {
    trusted: TrustedIndexes,
    staged: Staged,
    /// `(path, changed)` of every lockfile written, in order, for the report.
    files: Vec<(PathBuf, bool)>,
    /// The directory paths are shown relative to.
    base: PathBuf,
    quiet: bool,
}

impl Output {
    fn new(dir: &Path, trusted: TrustedIndexes, quiet: bool) -> Output {
        Output {
            trusted,
            staged: Staged::new(),
            files: Vec::new(),
            base: dir.parent().unwrap_or(dir).to_path_buf(),
            quiet,
        }
    }

    /// Stage `lockfile` for `path` when its bytes changed, and say what was resolved. A
    /// lockfile `sync` would refuse (an artifact on a host no declared index serves from) is
    /// an error here already.
    fn write(
        &mut self,
        path: &Path,
        existing: Option<&Lockfile>,
        lockfile: &Lockfile,
    ) -> Result<()> {
        let problems = self.trusted.check(lockfile);
        if !problems.is_empty() {
            return Err(OriginError {
                file: crate::fs::display(path, &self.base),
                problems,
            }
            .into());
        }
        let text = lockfile.render();
        let changed = std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str());
        if changed {
            self.staged.write(path, text);
        }
        self.files.push((path.to_path_buf(), changed));
        if !self.quiet {
            let what = match &lockfile.tool.key {
                Some(key) => format!("{} layer, key {key}", lockfile.tool.layer),
                None => format!("{} layer", lockfile.tool.layer),
            };
            eprintln!("Resolved {} packages ({what})", lockfile.packages.len());
            for line in summarize_changes(existing, lockfile) {
                eprintln!("  {line}");
            }
        }
        Ok(())
    }

    /// Remove a lockfile that no longer belongs, when it exists.
    fn remove(&mut self, path: &Path) {
        if path.is_file() {
            self.staged.remove(path);
        }
    }

    /// Remove Foundation and per-key Application lockfiles of keys the manifest no longer
    /// declares.
    fn remove_undeclared(&mut self, dir: &Path, keys: &[String]) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut stale: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                    return false;
                };
                let key = name
                    .strip_prefix("pylock.foundation-")
                    .or_else(|| name.strip_prefix("pylock.application-"))
                    .and_then(|rest| rest.strip_suffix(".toml"));
                key.is_some_and(|k| !keys.iter().any(|d| d == k))
            })
            .collect();
        stale.sort();
        for path in stale {
            self.remove(&path);
        }
    }

    /// Write and remove everything at once, then say what was done.
    fn commit(self) -> Result<()> {
        let removed = self.staged.commit()?;
        if !self.quiet {
            for (path, changed) in &self.files {
                let relative = crate::fs::display(path, &self.base);
                if *changed {
                    eprintln!("Wrote {relative}");
                } else {
                    eprintln!("{relative} is up to date");
                }
            }
            for path in removed {
                eprintln!("Removed {}", crate::fs::display(&path, &self.base));
            }
        }
        Ok(())
    }
}

/// Lines saying what changed between two lockfiles: the text form of `sanctuary diff`,
/// uncoloured (artifacts changed with no version change first, then by package name).
fn summarize_changes(old: Option<&Lockfile>, new: &Lockfile) -> Vec<String> {
    crate::lock::diff::summary_lines(old, new)
}

/// Write `text` to `path` whole or not at all (see [`crate::fs::write_atomically`]).
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    Ok(crate::fs::write_atomically(path, text.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> pep440_rs::Version {
        pep440_rs::Version::from_str(s).unwrap()
    }

    fn n(s: &str) -> PackageName {
        PackageName::from_str(s).unwrap()
    }

    #[test]
    fn cuda_families_of_packages_and_keys() {
        assert_eq!(
            cuda_family(&n("nvidia-cublas-cu12"), &v("12.8.4.1")),
            Some(12)
        );
        assert_eq!(
            cuda_family(&n("nvidia-cudnn-cu13"), &v("9.13.0.50")),
            Some(13)
        );
        assert_eq!(cuda_family(&n("nvidia-cublas"), &v("13.0.0.19")), Some(13));
        assert_eq!(cuda_family(&n("cuda-toolkit"), &v("13.0.2")), Some(13));
        // cuDNN and the math libraries carry their own versions, not CUDA's: CUDA 13 ships
        // cuFFT 12.0 (regression: the forge mirror's cu130 torch was refused for it).
        assert_eq!(cuda_family(&n("nvidia-cudnn"), &v("9.13.0")), None);
        assert_eq!(cuda_family(&n("nvidia-cufft"), &v("12.0.0.15")), None);
        assert_eq!(cuda_family(&n("nvidia-cusparse"), &v("12.6.2.49")), None);
        assert_eq!(cuda_family(&n("cuda-bindings"), &v("12.9.4")), Some(12));
        assert_eq!(cuda_family(&n("nvidia-ml-py"), &v("12.560.30")), None);
        assert_eq!(cuda_family(&n("triton"), &v("3.5.0")), None);
        assert_eq!(cuda_family(&n("numpy"), &v("2.1.0")), None);
        assert_eq!(key_family("cu130"), Some(Some(13)));
        assert_eq!(key_family("cu128"), Some(Some(12)));
        assert_eq!(key_family("cu126"), Some(Some(12)));
        assert_eq!(key_family("cpu"), Some(None));
        assert_eq!(key_family("rocm6-4"), None);
        assert_eq!(key_family("cu1"), None);
        assert_eq!(key_family("xpu"), None);
    }

    #[test]
    fn nightly_and_key_expansion() {
        let url = "https://download.pytorch.org/whl/{key}";
        assert_eq!(
            expand_url(url, "cu130", Channel::Stable),
            "https://download.pytorch.org/whl/cu130"
        );
        assert_eq!(
            expand_url(url, "cu130", Channel::Nightly),
            "https://download.pytorch.org/whl/nightly/cu130"
        );
        assert_eq!(
            expand_url(
                "https://m.example/{channel}/x/{key}/",
                "cpu",
                Channel::Nightly
            ),
            "https://m.example/nightly/x/cpu/"
        );
        assert_eq!(
            expand_url(
                "https://m.example/{channel}/x/{key}/",
                "cpu",
                Channel::Stable
            ),
            "https://m.example/x/cpu/"
        );
        assert_eq!(
            expand_url("file:///srv/whl/{key}", "cu128", Channel::Nightly),
            "file:///srv/whl/nightly/cu128"
        );
    }
}
