//! `sanctuary tree`: the dependency tree of a layer's lockfile, from the packages the layer
//! requires itself (or, with `--invert`, from one package up to them). Of a universal lock,
//! the tree of one environment: `--platform` and `--python`, else the host's.

use std::process::ExitCode;
use std::str::FromStr;

use pep508_rs::PackageName;

use crate::bail;
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::ops::environments;
use crate::ops::lockfiles::select_for;
use crate::printer::Printer;
use crate::pylock::graph::{Graph, TreeOptions};
use crate::settings::TreeSettings;

/// Run `sanctuary tree`.
pub fn tree(settings: &TreeSettings) -> Result<ExitCode> {
    let manifest = Manifest::read(&settings.global.manifest)?;
    let asked = &settings.environment;
    let choice = environments::for_reading(
        &manifest,
        asked.platform.as_deref(),
        asked.python.as_deref(),
        "tree",
    )?;
    let (selection, chosen) =
        select_for(&manifest, settings.layer, settings.key.as_deref(), &choice)?;
    let files = selection.files();
    let layer: Vec<&crate::pylock::Lockfile> = files.iter().map(|f| &f.lock).collect();
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
            let package = PackageName::from_str(name).map_err(|e| {
                Error::usage(format!("--invert: invalid package name `{name}`: {e}"))
            })?;
            match graph.render_inverted(&package, options) {
                Some(text) => text,
                None => bail!(
                    "--invert {name}: no package `{package}` in {}{}",
                    files
                        .iter()
                        .map(|f| f.rel.as_str())
                        .collect::<Vec<_>>()
                        .join(" or "),
                    // A universal lock may hold it for other environments only.
                    if chosen.universal {
                        format!(" for {}", chosen.describe())
                    } else {
                        String::new()
                    }
                ),
            }
        }
    };
    Printer::new(settings.global.quiet).data(&text)?;
    Ok(ExitCode::SUCCESS)
}
