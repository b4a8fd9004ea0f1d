//! `sanctuary export`: a layer's lockfile (or a key's whole environment) as a pinned,
//! hashed `requirements.txt` that `pip install --require-hashes` accepts.
//!
//! Also home of the lockfile selection shared with `sanctuary tree`: which files a layer and
//! key name, and the errors (with hints) when they are missing or the key is ambiguous.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};

use crate::cli::GlobalSettings;
use crate::commands::lock::{
    APPLICATION_LOCKFILE, application_key_lockfile, foundation_lockfile, index_urls,
    write_atomically,
};
use crate::index::{IndexKind, IndexUrl};
use crate::lock::{LockedPackage, Lockfile};
use crate::manifest::Manifest;

/// Which lockfiles a command reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Layer {
    /// The Foundation of one hardware key.
    Foundation,
    /// The Application (shared, or of one key).
    Application,
    /// The Foundation and the Application of one key together: the whole environment.
    All,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Foundation => "foundation",
            Layer::Application => "application",
            Layer::All => "all",
        }
    }
}

/// Output formats of `sanctuary export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// Pinned requirements with `--hash` lines, for `pip install --require-hashes -r`.
    RequirementsTxt,
}

/// Checked settings of `sanctuary export`.
#[derive(Clone, Debug)]
pub struct ExportSettings {
    pub global: GlobalSettings,
    pub layer: Layer,
    pub key: Option<String>,
    pub format: ExportFormat,
    /// Write here instead of stdout.
    pub output: Option<PathBuf>,
}

/// The lockfiles named by a layer and key could not be chosen.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectError {
    #[error("{what}: {path} does not exist")]
    Missing { what: String, path: String },
    #[error(
        "--layer {layer} needs --key: the lockfiles differ per hardware key (keys: {})",
        keys.join(", ")
    )]
    NeedKey { layer: String, keys: Vec<String> },
    #[error(
        "--key {key}: the key is not declared in {manifest} (declared: {})",
        declared.join(", ")
    )]
    UnknownKey {
        key: String,
        manifest: String,
        declared: Vec<String>,
    },
    #[error("{what}: {manifest} declares no [foundation], so there are no hardware keys")]
    NoFoundation { what: String, manifest: String },
}

impl SelectError {
    /// The `hint:` line for this error.
    pub fn hint(&self) -> Option<String> {
        match self {
            SelectError::Missing { .. } => {
                Some("run `sanctuary lock` to write the lockfiles".to_string())
            }
            SelectError::NeedKey { keys, .. } => Some(format!(
                "name one, e.g. `--key {}`",
                keys.first().map_or("TAG", String::as_str)
            )),
            SelectError::UnknownKey { .. } => {
                Some("use one of the declared keys, or add it to [foundation] keys".to_string())
            }
            SelectError::NoFoundation { .. } => None,
        }
    }
}

/// One lockfile read from disk.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// Relative to the manifest's directory: `lockfiles/pylock.<name>.toml`.
    pub rel: String,
    pub lock: Lockfile,
}

/// The lockfiles of a layer and key.
#[derive(Clone, Debug)]
pub struct Selection {
    pub layer: Layer,
    /// The key asked for, or the only declared one.
    pub key: Option<String>,
    /// Part of the layer (`foundation`, `all`).
    pub foundation: Option<Loaded>,
    /// Part of the layer (`application`, `all`).
    pub application: Option<Loaded>,
    /// With `--layer application` and a known key: that key's Foundation, when locked, to say
    /// which version of a Foundation package the Application builds on.
    pub beneath: Option<Loaded>,
    /// The hardware keys the manifest declares.
    pub declared: Vec<String>,
}

impl Selection {
    /// The lockfiles of the layer, Foundation first.
    pub fn files(&self) -> Vec<&Loaded> {
        self.foundation.iter().chain(&self.application).collect()
    }
}

/// Choose and read the lockfiles of `layer` for `key` (under `<manifest dir>/lockfiles/`).
pub fn select(manifest: &Manifest, layer: Layer, key: Option<&str>) -> Result<Selection> {
    let dir = manifest.dir().join("lockfiles");
    let manifest_name = manifest.path.display().to_string();
    let declared: Vec<String> = manifest
        .foundation
        .as_ref()
        .map(|f| f.keys.clone())
        .unwrap_or_default();
    if let Some(key) = key {
        if manifest.foundation.is_none() {
            return Err(SelectError::NoFoundation {
                what: format!("--key {key}"),
                manifest: manifest_name,
            }
            .into());
        }
        if !declared.iter().any(|k| k == key) {
            return Err(SelectError::UnknownKey {
                key: key.to_string(),
                manifest: manifest_name,
                declared,
            }
            .into());
        }
    }
    let key = key
        .map(str::to_string)
        .or_else(|| (declared.len() == 1).then(|| declared[0].clone()));
    let need_key = |keys: Vec<String>| SelectError::NeedKey {
        layer: layer.as_str().to_string(),
        keys,
    };
    let read = |name: String, what: String| -> Result<Loaded> {
        let path = dir.join(&name);
        let rel = format!("lockfiles/{name}");
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SelectError::Missing {
                    what,
                    path: path.display().to_string(),
                }
                .into());
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let lock =
            Lockfile::parse(&text).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Loaded { rel, lock })
    };

    let foundation = match layer {
        Layer::Application => None,
        Layer::Foundation | Layer::All if manifest.foundation.is_none() => {
            if layer == Layer::Foundation {
                return Err(SelectError::NoFoundation {
                    what: "--layer foundation".to_string(),
                    manifest: manifest_name,
                }
                .into());
            }
            None
        }
        Layer::Foundation | Layer::All => {
            let Some(key) = &key else {
                return Err(need_key(declared).into());
            };
            Some(read(
                foundation_lockfile(key),
                format!("no Foundation lockfile for key {key}"),
            )?)
        }
    };
    let application = match layer {
        Layer::Foundation => None,
        Layer::Application | Layer::All => {
            let shared = dir.join(APPLICATION_LOCKFILE);
            let per_key: Vec<String> = declared
                .iter()
                .filter(|k| dir.join(application_key_lockfile(k)).is_file())
                .cloned()
                .collect();
            if shared.is_file() || per_key.is_empty() {
                Some(read(
                    APPLICATION_LOCKFILE.to_string(),
                    "no Application lockfile".to_string(),
                )?)
            } else {
                let Some(key) = &key else {
                    return Err(need_key(per_key).into());
                };
                Some(read(
                    application_key_lockfile(key),
                    format!("no Application lockfile for key {key}"),
                )?)
            }
        }
    };
    let beneath = match (&key, layer) {
        (Some(key), Layer::Application) => read(foundation_lockfile(key), String::new()).ok(),
        _ => None,
    };
    Ok(Selection {
        layer,
        key,
        foundation,
        application,
        beneath,
        declared,
    })
}

/// Run `sanctuary export`.
pub fn export(settings: &ExportSettings) -> Result<ExitCode> {
    let manifest = Manifest::read(&settings.global.manifest)?;
    let selection = select(&manifest, settings.layer, settings.key.as_deref())?;
    let indexes = index_urls(
        &manifest,
        &settings.global.index_overrides,
        selection.key.as_deref(),
    )?;
    let text = match settings.format {
        ExportFormat::RequirementsTxt => {
            requirements_txt(&selection, &indexes, settings.output.as_deref())?
        }
    };
    match &settings.output {
        Some(path) => {
            write_atomically(path, &text)?;
            if !settings.global.quiet {
                let count = text.lines().filter(|l| l.contains("==")).count();
                eprintln!("Wrote {count} packages to {}", path.display());
            }
        }
        None => {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .context("cannot write to stdout")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The index options pip needs for `packages`: `--index-url` for the default index (the
/// first declared index that is not explicit), `--extra-index-url` for the other simple
/// indexes the packages came from, `--find-links` for flat ones, in manifest order.
fn index_options(indexes: &[IndexUrl], packages: &[&LockedPackage]) -> Vec<String> {
    let used: BTreeSet<&str> = packages.iter().map(|p| p.index.as_str()).collect();
    let default = indexes
        .iter()
        .find(|i| !i.explicit && i.kind == IndexKind::Simple);
    let mut out = Vec::new();
    match default {
        Some(i) => out.push(format!("--index-url {}", i.url)),
        None => out.push("--no-index".to_string()),
    }
    let mut known = BTreeSet::new();
    for i in indexes {
        let url = i.url.to_string();
        known.insert(url.clone());
        if !used.contains(url.as_str()) || default.is_some_and(|d| d.url == i.url) {
            continue;
        }
        match i.kind {
            IndexKind::Simple => out.push(format!("--extra-index-url {url}")),
            IndexKind::Flat => out.push(format!("--find-links {url}")),
        }
    }
    // Indexes the manifest no longer names (or names under another URL): still where the
    // packages were locked from.
    for url in used
        .iter()
        .filter(|u| !u.is_empty() && !known.contains(**u))
    {
        out.push(format!("--extra-index-url {url}"));
    }
    out
}

/// Render the selection as a hashed `requirements.txt`. `output` is named in the header's
/// regenerate command.
pub fn requirements_txt(
    selection: &Selection,
    indexes: &[IndexUrl],
    output: Option<&Path>,
) -> Result<String> {
    let files = selection.files();
    let mut packages: BTreeMap<&str, &LockedPackage> = BTreeMap::new();
    for file in &files {
        for p in &file.lock.packages {
            if let Some(prev) = packages.insert(p.name.as_ref(), p)
                && prev.version != p.version
            {
                bail!(
                    "{} is locked at {} and at {} in the lockfiles of this key; run `sanctuary lock`",
                    p.name,
                    prev.version,
                    p.version
                );
            }
        }
    }

    let mut out = String::new();
    let names: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
    let layers = match selection.layer {
        Layer::Foundation => "the foundation layer".to_string(),
        Layer::Application => "the application layer".to_string(),
        Layer::All => "the foundation and application layers".to_string(),
    };
    let key = selection
        .key
        .as_deref()
        .map(|k| format!(", key {k}"))
        .unwrap_or_default();
    let target = files
        .first()
        .map(|f| format!("; Python {}, {}", f.lock.tool.python, f.lock.tool.platform))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# This file is @generated by sanctuary from {} ({layers}{key}{target}).",
        names.join(" and ")
    );
    let mut command = format!("sanctuary export --layer {} ", selection.layer.as_str());
    if let Some(k) = &selection.key {
        let _ = write!(command, "--key {k} ");
    }
    command.push_str("--format requirements-txt");
    if let Some(path) = output {
        let _ = write!(command, " -o {}", path.display());
    }
    let _ = writeln!(
        out,
        "# Do not edit it by hand; run `sanctuary lock`, then regenerate it with:\n#\n#    {command}\n#"
    );
    if selection.layer == Layer::Application && !selection.declared.is_empty() {
        out.push_str(
            "# It installs on top of the Foundation (`--layer foundation`), whose packages it\n\
             # leaves out; `--layer all --key TAG` gives the whole environment in one file.\n",
        );
    }
    out.push_str("# Install with `pip install --require-hashes --no-deps -r <this file>`.\n\n");

    let all: Vec<&LockedPackage> = packages.values().copied().collect();
    for option in index_options(indexes, &all) {
        let _ = writeln!(out, "{option}");
    }
    // The lockfiles hold wheels only: never build an sdist that happens to share a version.
    out.push_str("--only-binary :all:\n");

    for p in all {
        let hashes: BTreeSet<&str> = p.wheels.iter().map(|w| w.sha256.as_str()).collect();
        if hashes.is_empty() {
            bail!(
                "{} {} has no hashed wheel in the lockfile; run `sanctuary lock`",
                p.name,
                p.version
            );
        }
        let _ = write!(out, "\n{}=={}", p.name, p.version);
        for h in hashes {
            let _ = write!(out, " \\\n    --hash=sha256:{h}");
        }
        out.push('\n');
    }
    Ok(out)
}
