//! `sanctuary tree`: the dependency tree of a layer's lockfile, from the packages the layer
//! requires itself (or, with `--invert`, from one package up to them).

use std::process::ExitCode;
use std::str::FromStr;

use pep508_rs::PackageName;

use crate::bail;
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::ops::lockfiles::select;
use crate::printer::Printer;
use crate::pylock::graph::{Graph, TreeOptions};
use crate::settings::TreeSettings;

/// Run `sanctuary tree`.
pub fn tree(settings: &TreeSettings) -> Result<ExitCode> {
    let manifest = Manifest::read(&settings.global.manifest)?;
    let selection = select(&manifest, settings.layer, settings.key.as_deref())?;
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
    Printer::new(settings.global.quiet).data(&text)?;
    Ok(ExitCode::SUCCESS)
}
