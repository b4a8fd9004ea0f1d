//! Applying a sync plan to a venv, crash-safely: every link is prepared and checked first (a
//! refused wheel leaves the venv as it was, and no journal), then the journal is written, the
//! leaving distributions are uninstalled and the new ones linked (both in parallel), and the
//! caller clears the journal. A sync killed at any point leaves the journal, and
//! [`super::journal::recover`] repairs what it left half done on the next run.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::PathBuf;

use rayon::prelude::*;

use super::journal::{Journal, JournalError, PendingInstall};
use super::plan::{Desired, Reason, SyncPlan};
use super::wheel::{InstallError, InstallOptions};
use super::{OwnedFiles, UninstallError, UnpackedWheel, Venv};
use crate::environment::{Environment, EnvironmentError, InstalledDistribution};

/// Applying a plan failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{package} was not fetched")]
    NotFetched { package: String },
    #[error("cannot install {package} ({filename})")]
    Refused {
        package: String,
        filename: String,
        #[source]
        source: Box<InstallError>,
    },
    #[error("cannot install the locked distributions together")]
    Overlap(#[source] Box<InstallError>),
    #[error("cannot install {package}")]
    Link {
        package: String,
        #[source]
        source: Box<InstallError>,
    },
    #[error("cannot uninstall {name} {version}")]
    Uninstall {
        name: String,
        version: String,
        #[source]
        source: UninstallError,
    },
    #[error("cannot remove {}", path.display())]
    RemoveDistInfo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Environment(#[from] EnvironmentError),
}

impl ApplyError {
    /// The install error underneath, for its hint.
    pub fn install_error(&self) -> Option<&InstallError> {
        match self {
            ApplyError::Refused { source, .. }
            | ApplyError::Overlap(source)
            | ApplyError::Link { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// What sanctuary writes into every dist-info it installs: the artifact
/// (`provenance_url.json`) and, for the layers' own requirements, `REQUESTED`.
pub fn dist_info_extras(desired: &Desired) -> Vec<(String, Vec<u8>)> {
    use crate::environment::parse::{LOCAL_FILE, PROVENANCE_FILE, render_provenance};
    let provenance = render_provenance(
        desired.artifact.url.as_str(),
        &desired.artifact.sha256,
        desired.build.as_ref().map(|b| b.id.as_str()),
    )
    .into_bytes();
    let mut extras = match desired.build.as_ref().and_then(|b| b.local.as_ref()) {
        // PEP 710 forbids `provenance_url.json` beside `direct_url.json`: what sanctuary
        // needs to recognise the install goes to a file of its own.
        Some(local) => vec![
            (
                "direct_url.json".to_string(),
                local.direct_url().into_bytes(),
            ),
            (LOCAL_FILE.to_string(), provenance),
        ],
        None => vec![(PROVENANCE_FILE.to_string(), provenance)],
    };
    if desired.direct {
        extras.push(("REQUESTED".to_string(), Vec::new()));
    }
    extras
}

/// Distributions left in place whose files an interrupted sync's recovery removed: planned
/// again as installs.
pub fn reinstall_damaged(
    plan: &mut SyncPlan,
    desired: &[Desired],
    environment: &Environment,
    damaged: &BTreeSet<PathBuf>,
) {
    if damaged.is_empty() {
        return;
    }
    let site = super::normalize(&environment.site_packages);
    for dist in &environment.distributions {
        let hit = dist
            .record
            .iter()
            .any(|e| damaged.contains(&super::normalize(&site.join(&e.path))));
        if !hit || !plan.unchanged.contains(&dist.name) {
            continue;
        }
        if let Some(want) = desired.iter().find(|d| d.name == dist.name) {
            plan.unchanged.retain(|n| n != &dist.name);
            plan.install.push(super::plan::Install {
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

/// Change the environment: check every link, journal, uninstall, link. The caller clears
/// the journal once whatever else it does (bytecode) is done.
pub fn apply(
    plan: &SyncPlan,
    venv: &Venv,
    unpacked: &HashMap<String, UnpackedWheel>,
    options: &(dyn Fn(Option<&Desired>) -> InstallOptions + Sync),
) -> Result<(), ApplyError> {
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
            let a = &i.desired.artifact;
            let u = unpacked
                .get(&a.sha256)
                .ok_or_else(|| ApplyError::NotFetched {
                    package: a.package.clone(),
                })?;
            super::prepare(u, venv, &options(Some(&i.desired)), &owned).map_err(|source| {
                ApplyError::Refused {
                    package: a.package.clone(),
                    filename: a.filename.clone(),
                    source: Box::new(source),
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    super::check_disjoint(&prepared).map_err(|e| ApplyError::Overlap(Box::new(e)))?;

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
    super::failpoint::hit("before-journal");
    journal.write(&venv.root)?;
    super::failpoint::hit("after-journal");

    uninstall_leaving(&environment, &leaving_dirs, venv, &owned.paths())?;
    prepared
        .into_par_iter()
        .zip(&plan.install)
        .try_for_each(|(p, i)| {
            p.link(venv).map(|_| ()).map_err(|source| ApplyError::Link {
                package: i.desired.artifact.package.clone(),
                source: Box::new(source),
            })
        })
}

/// Uninstall the distributions whose dist-info is in `leaving`, never removing a path of
/// `keep` (files distributions staying in place also list).
fn uninstall_leaving(
    environment: &Environment,
    leaving: &HashSet<&PathBuf>,
    venv: &Venv,
    keep: &HashSet<PathBuf>,
) -> Result<(), ApplyError> {
    let remove_dist_info = |path: &PathBuf| {
        super::remove_dist_info(path).map_err(|source| ApplyError::RemoveDistInfo {
            path: path.clone(),
            source,
        })
    };
    // One whose RECORD could not be parsed this time: its files are unknown; its
    // dist-info still goes, so the new install is the only one.
    for u in &environment.unreadable {
        if leaving.contains(&u.dist_info) {
            tracing::warn!(
                "removing {} without its files: {}",
                u.dist_info.display(),
                u.message
            );
            remove_dist_info(&u.dist_info)?;
        }
    }
    let dists: Vec<&InstalledDistribution> = environment
        .distributions
        .iter()
        .filter(|d| leaving.contains(&d.dist_info))
        .collect();
    dists.par_iter().try_for_each(|dist| {
        super::failpoint::hit("uninstall");
        if !dist.has_record {
            return remove_dist_info(&dist.dist_info);
        }
        let report =
            super::uninstall(dist, venv, keep).map_err(|source| ApplyError::Uninstall {
                name: dist.name.to_string(),
                version: dist.version.to_string(),
                source,
            })?;
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
