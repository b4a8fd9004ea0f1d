//! `sanctuary export`: a layer's lockfile (or a key's whole environment) as a pinned,
//! hashed `requirements.txt` that `pip install --require-hashes` accepts. Of a universal lock,
//! the pins of one environment: `--platform` and `--python`, else the host's
//! ([`crate::ops::environments::for_reading`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use crate::bail;
use crate::error::Result;
use crate::index::{IndexKind, IndexUrl};
use crate::manifest::Manifest;
use crate::ops::environments::{self, ChosenEnv};
use crate::ops::indexes::index_urls;
use crate::ops::lockfiles::{Layer, Selection, select_for};
use crate::printer::Printer;
use crate::pylock::LockedPackage;
use crate::settings::{ExportFormat, ExportSettings};
use crate::universe::short_name;

/// Run `sanctuary export`.
pub fn export(settings: &ExportSettings) -> Result<ExitCode> {
    let manifest = Manifest::read(&settings.global.manifest)?;
    let asked = &settings.environment;
    let choice = environments::for_reading(
        &manifest,
        asked.platform.as_deref(),
        asked.python.as_deref(),
        "export",
    )?;
    let (selection, environment) =
        select_for(&manifest, settings.layer, settings.key.as_deref(), &choice)?;
    let universal = environment.universal.then_some(&environment);
    let indexes = index_urls(
        &manifest,
        &settings.index_overrides,
        selection.key.as_deref(),
    )?;
    let text = match settings.format {
        ExportFormat::RequirementsTxt => {
            requirements_txt(&selection, universal, &indexes, settings.output.as_deref())?
        }
    };
    let printer = Printer::new(settings.global.quiet);
    match &settings.output {
        Some(path) => {
            crate::fs::write_atomically(path, text.as_bytes())?;
            let count = text.lines().filter(|l| l.contains("==")).count();
            printer.status(format_args!("Wrote {count} packages to {}", path.display()));
        }
        None => printer.data(&text)?,
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
/// regenerate command; `universal`, the environment a universal lock was read for, in the
/// header and the command.
pub fn requirements_txt(
    selection: &Selection,
    universal: Option<&ChosenEnv>,
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
    let target = match universal {
        Some(environment) => format!("; {}", environment.describe()),
        None => files
            .first()
            .map(|f| format!("; Python {}, {}", f.lock.tool.python, f.lock.tool.platform))
            .unwrap_or_default(),
    };
    let _ = writeln!(
        out,
        "# This file is @generated by sanctuary from {} ({layers}{key}{target}).",
        names.join(" and ")
    );
    let mut command = format!("sanctuary export --layer {} ", selection.layer.as_str());
    if let Some(k) = &selection.key {
        let _ = write!(command, "--key {k} ");
    }
    if let Some(environment) = universal {
        let _ = write!(
            command,
            "--platform {} --python {} ",
            short_name(&environment.target.platform),
            environment.python
        );
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
    // Never build an sdist that happens to share a version: wheels only, except for the
    // packages locked from an sdist alone, which pip may build from exactly that file.
    out.push_str("--only-binary :all:\n");
    for p in &all {
        if let Some(source) = &p.source {
            bail!(
                "`{} {}` is locked from a {source}, which a hashed requirements.txt cannot install; exporting it is not supported yet",
                p.name,
                p.version
            );
        }
        if p.wheels.is_empty() && p.sdist.is_some() {
            let _ = writeln!(out, "--no-binary {}", p.name);
        }
    }

    for p in all {
        let mut hashes: BTreeSet<&str> = p.wheels.iter().map(|w| w.sha256.as_str()).collect();
        if hashes.is_empty() {
            hashes.extend(p.sdist.iter().map(|s| s.sha256.as_str()));
        }
        if hashes.is_empty() {
            bail!(
                "{} {} has no hashed wheel or sdist in the lockfile; run `sanctuary lock`",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::lockfiles::Loaded;
    use crate::pylock::{LocalSource, LockedSdist, Lockfile};

    fn selection(packages: Vec<LockedPackage>) -> Selection {
        let lock = Lockfile {
            packages,
            ..Lockfile::empty_for_tests()
        };
        Selection {
            layer: Layer::Application,
            key: None,
            foundation: None,
            application: Some(Loaded {
                rel: "lockfiles/pylock.application.toml".to_string(),
                lock,
            }),
            beneath: None,
            declared: vec![],
        }
    }

    fn sdist_only(name: &str) -> LockedPackage {
        LockedPackage {
            name: name.parse().unwrap(),
            version: "1.0".parse().unwrap(),
            marker: None,
            index: "https://pypi.org/simple".to_string(),
            requires_python: None,
            dependencies: vec![],
            dependency_markers: Default::default(),
            sdist: Some(LockedSdist {
                name: format!("{name}-1.0.tar.gz"),
                url: format!("https://x.test/{name}-1.0.tar.gz"),
                size: None,
                upload_time: None,
                sha256: "a".repeat(64),
            }),
            wheels: vec![],
            source: None,
            direct: true,
            extras: vec![],
        }
    }

    /// An sdist-only package may be built by pip from exactly its hashed sdist; everything else
    /// stays binary only.
    #[test]
    fn an_sdist_only_package_is_exported_with_its_sdist_hash() {
        let text = requirements_txt(&selection(vec![sdist_only("demo")]), None, &[], None).unwrap();
        assert!(
            text.contains("--only-binary :all:\n--no-binary demo\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "demo==1.0 \\\n    --hash=sha256:{}",
                "a".repeat(64)
            )),
            "{text}"
        );
    }

    /// A hashed requirements.txt cannot install a directory or a repository: refused by name.
    #[test]
    fn a_local_package_is_refused_by_name() {
        let mut local = sdist_only("core");
        local.sdist = None;
        local.index = String::new();
        local.source = Some(LocalSource::Directory {
            path: "../libs/core".to_string(),
            editable: true,
        });
        let err = requirements_txt(&selection(vec![local]), None, &[], None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`core 1.0` is locked from a directory ../libs/core (editable)"),
            "{err}"
        );
    }
}
