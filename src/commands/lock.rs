//! `sanctuary lock`: manifest -> resolution -> `lockfiles/pylock.application.toml`, written
//! atomically and only when it changed; `--check` compares the recorded inputs instead.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use futures::stream::{self, StreamExt, TryStreamExt};
use pep508_rs::PackageName;

use crate::cli::GlobalSettings;
use crate::index::{DistFile, IndexKind, IndexSet, IndexUrl};
use crate::lock::{FORMAT_VERSION, InputSummary, LockedPackage, LockedWheel, Lockfile, ToolTable};
use crate::manifest::{IndexFormat, Manifest, ManifestRequirement};
use crate::resolve::{self, Origin, PrereleaseMode, ResolveRequest, RootRequirement};

/// Checked settings of `sanctuary lock`.
#[derive(Clone, Debug)]
pub struct LockSettings {
    pub global: GlobalSettings,
    /// Compare only; write nothing.
    pub check: bool,
    pub upgrade_all: bool,
    pub upgrade: HashSet<PackageName>,
}

/// The file name of the Application lockfile.
pub const APPLICATION_LOCKFILE: &str = "pylock.application.toml";

/// Run `sanctuary lock`.
pub fn lock(settings: &LockSettings) -> Result<ExitCode> {
    let manifest = Manifest::read(&settings.global.manifest)?;
    if manifest.foundation.is_some() {
        tracing::warn!(
            "{}: the [foundation] layer is parsed but not locked yet; only the application layer is locked",
            manifest.path.display()
        );
    }
    let lock_path = manifest.dir().join("lockfiles").join(APPLICATION_LOCKFILE);
    let inputs = application_inputs(&manifest);
    let platform = manifest.target.platform_name();
    let inputs_hash = inputs.hash("application", None, &manifest.python, &platform);

    if settings.check {
        return check(&lock_path, &manifest, &inputs, &inputs_hash);
    }

    let existing = read_existing(&lock_path);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = Instant::now();
    let lockfile = runtime.block_on(lock_application(
        settings,
        &manifest,
        existing.as_ref(),
        inputs,
        inputs_hash,
    ))?;
    let text = lockfile.render();
    let relative = display_path(&lock_path, manifest.dir());
    let changed = std::fs::read_to_string(&lock_path).ok().as_deref() != Some(text.as_str());
    if changed {
        write_atomically(&lock_path, &text)?;
    }
    if !settings.global.quiet {
        eprintln!(
            "Resolved {} packages in {:.2}s",
            lockfile.packages.len(),
            started.elapsed().as_secs_f64()
        );
        for line in summarize_changes(existing.as_ref(), &lockfile) {
            eprintln!("  {line}");
        }
        if changed {
            eprintln!("Wrote {relative}");
        } else {
            eprintln!("{relative} is up to date");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `lock --check`: exit 1 naming what is stale.
fn check(
    lock_path: &Path,
    manifest: &Manifest,
    inputs: &InputSummary,
    inputs_hash: &str,
) -> Result<ExitCode> {
    let relative = display_path(lock_path, manifest.dir());
    let text = match std::fs::read_to_string(lock_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("{relative} is missing; run `sanctuary lock`");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", lock_path.display())),
    };
    let old = Lockfile::parse(&text).with_context(|| format!("{}", lock_path.display()))?;
    if old.tool.inputs_hash == inputs_hash {
        eprintln!("{relative} is up to date");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{relative} is stale: {} changed since it was written:",
        manifest.path.display()
    );
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
    for r in reasons {
        eprintln!("  - {r}");
    }
    eprintln!("hint: run `sanctuary lock` and commit the result");
    Ok(ExitCode::FAILURE)
}

/// The canonical inputs of the Application layer.
fn application_inputs(manifest: &Manifest) -> InputSummary {
    let texts =
        |reqs: &[ManifestRequirement]| reqs.iter().map(|r| r.text.trim().to_string()).collect();
    InputSummary {
        requirements: texts(&manifest.application.requirements),
        constraints: texts(&manifest.application.constraints),
        indexes: manifest
            .indexes
            .iter()
            .map(|i| {
                let mut s = format!("{}={}", i.name, i.url);
                if i.explicit {
                    s.push_str(" explicit");
                }
                if i.format == IndexFormat::Flat {
                    s.push_str(" flat");
                }
                s
            })
            .collect(),
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
    }
}

/// Read the current lockfile for preferences; a missing or unreadable one gives none.
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

/// The indexes of a layer: manifest order, `SANCTUARY_INDEX_<NAME>` redirections applied,
/// `{key}` expanded (indexes with `{key}` are left out when there is no key).
pub fn index_urls(
    manifest: &Manifest,
    overrides: &BTreeMap<String, String>,
    key: Option<&str>,
) -> Result<Vec<IndexUrl>> {
    let mut out = Vec::new();
    for spec in &manifest.indexes {
        let env_name = spec.name.to_uppercase().replace('-', "_");
        let raw = overrides.get(&env_name).unwrap_or(&spec.url);
        let expanded = match key {
            Some(key) => raw.replace("{key}", key),
            None if raw.contains("{key}") => continue,
            None => raw.clone(),
        };
        let url = url::Url::parse(&expanded).with_context(|| {
            if overrides.contains_key(&env_name) {
                format!("invalid URL `{expanded}` in SANCTUARY_INDEX_{env_name}")
            } else {
                format!("invalid URL `{expanded}` for index `{}`", spec.name)
            }
        })?;
        out.push(IndexUrl {
            name: spec.name.clone(),
            url,
            explicit: spec.explicit,
            kind: match spec.format {
                IndexFormat::Simple => IndexKind::Simple,
                IndexFormat::Flat => IndexKind::Flat,
            },
        });
    }
    Ok(out)
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
            origin: Origin {
                layer: layer.to_string(),
                kind: kind.to_string(),
                file: Some(
                    manifest
                        .path
                        .file_name()
                        .map_or_else(|| manifest.path.clone(), PathBuf::from),
                ),
                line: Some(r.line),
            },
        })
        .collect()
}

async fn lock_application(
    settings: &LockSettings,
    manifest: &Manifest,
    existing: Option<&Lockfile>,
    inputs: InputSummary,
    inputs_hash: String,
) -> Result<Lockfile> {
    let indexes = index_urls(manifest, &settings.global.index_overrides, None)?;
    let pins: HashMap<PackageName, String> = manifest
        .application
        .sources
        .iter()
        .map(|(p, i)| (p.clone(), i.clone()))
        .collect();
    for (package, index) in &pins {
        if !indexes.iter().any(|i| &i.name == index) {
            bail!(
                "`{package}` is pinned to index `{index}`, whose URL needs a hardware key; only Foundation packages can come from it"
            );
        }
    }
    let source = Arc::new(IndexSet::new(indexes, pins, settings.global.index.clone())?);
    let request = ResolveRequest {
        requirements: root_requirements(
            manifest,
            "application",
            "requirement",
            &manifest.application.requirements,
        ),
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
        preferences: if settings.upgrade_all {
            HashMap::new()
        } else {
            existing
                .map(|l| l.versions().into_iter().collect())
                .unwrap_or_default()
        },
        upgrade: settings.upgrade.clone(),
        upgrade_all: settings.upgrade_all,
        no_binary: HashSet::new(),
    };

    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    spinner.set_message("resolving the application layer");
    let resolution = resolve::resolve(Arc::clone(&source), request).await;
    let resolution = match resolution {
        Ok(r) => r,
        Err(e) => {
            spinner.finish_and_clear();
            return Err(e.into());
        }
    };
    spinner.set_message("collecting artifact sizes and hashes");

    // Fill in what the simple pages did not give (size, upload time), concurrently.
    let files: Vec<(PackageName, DistFile)> = resolution
        .packages
        .values()
        .flat_map(|p| p.files.iter().map(|f| (p.name.clone(), f.clone())))
        .collect();
    let completed: Vec<(PackageName, DistFile)> = stream::iter(files)
        .map(|(name, file)| {
            let source = Arc::clone(&source);
            async move { source.complete(&file).await.map(|f| (name, f)) }
        })
        .buffered(settings.global.index.concurrency)
        .try_collect()
        .await?;
    spinner.finish_and_clear();
    let mut by_package: BTreeMap<PackageName, Vec<DistFile>> = BTreeMap::new();
    for (name, file) in completed {
        by_package.entry(name).or_default().push(file);
    }

    let mut packages = Vec::new();
    for p in resolution.packages.values() {
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
                url: f.url.to_string(),
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

    let markers = manifest.target.markers();
    Ok(Lockfile {
        environment: format!(
            "python_version == '{}' and sys_platform == '{}' and platform_machine == '{}'",
            markers.python_version().string,
            markers.sys_platform(),
            markers.platform_machine()
        ),
        requires_python: format!("=={}.*", markers.python_version().string),
        packages,
        tool: ToolTable {
            format: FORMAT_VERSION,
            layer: "application".to_string(),
            key: None,
            python: manifest.python.clone(),
            platform: manifest.target.platform_name(),
            inputs_hash,
            inputs,
        },
    })
}

/// Lines saying what changed between two lockfiles (added, removed, version changes).
fn summarize_changes(old: Option<&Lockfile>, new: &Lockfile) -> Vec<String> {
    let old = old.map(Lockfile::versions).unwrap_or_default();
    let new = new.versions();
    let mut out = Vec::new();
    for (name, version) in &new {
        match old.get(name) {
            None => out.push(format!("+ {name} {version}")),
            Some(v) if v != version => out.push(format!("~ {name} {v} -> {version}")),
            Some(_) => {}
        }
    }
    for (name, version) in &old {
        if !new.contains_key(name) {
            out.push(format!("- {name} {version}"));
        }
    }
    out.sort_by(|a, b| a[2..].cmp(&b[2..]));
    out
}

/// Write `text` to `path` through a temporary file in the same directory and a rename, so a
/// crash never leaves a truncated file.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".pylock-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

fn display_path(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}
