//! `sanctuary tree`: the dependency tree of a layer's lockfile, from the packages the layer
//! requires itself (or, with `--invert`, from one package up to them).

use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context as _, Result, bail};
use pep508_rs::PackageName;

use crate::cli::GlobalSettings;
use crate::commands::export::{Layer, select};
use crate::lock::graph::{Graph, TreeOptions};
use crate::manifest::Manifest;

/// Checked settings of `sanctuary tree`.
#[derive(Clone, Debug)]
pub struct TreeSettings {
    pub global: GlobalSettings,
    pub layer: Layer,
    pub key: Option<String>,
    /// Show what pulls this package in.
    pub invert: Option<String>,
    pub depth: Option<usize>,
}

/// Run `sanctuary tree`.
pub fn tree(settings: &TreeSettings) -> Result<ExitCode> {
    let manifest = Manifest::read(&settings.global.manifest)?;
    let selection = select(&manifest, settings.layer, settings.key.as_deref())?;
    let files = selection.files();
    let layer: Vec<&crate::lock::Lockfile> = files.iter().map(|f| &f.lock).collect();
    let graph = Graph::new(
        &layer,
        selection.beneath.as_ref().map(|b| &b.lock),
        "foundation",
    );
    let options = TreeOptions {
        depth: settings.depth,
    };
    let text = match &settings.invert {
        None => graph.render(options),
        Some(name) => {
            let package = PackageName::from_str(name)
                .with_context(|| format!("--invert: invalid package name `{name}`"))?;
            match graph.render_inverted(&package, options) {
                Some(text) => text,
                None => bail!(
                    "--invert {name}: no package `{package}` in {}",
                    files
                        .iter()
                        .map(|f| f.rel.as_str())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            }
        }
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}
