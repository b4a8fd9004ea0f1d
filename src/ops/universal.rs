//! Locking one layer over every environment of a [`Universe`] (platforms x Python minors):
//! one resolution per environment, versions shared across environments unless something
//! forces a split, and the resolutions merged into lockfile entries with markers.
//!
//! Each environment gets a complete resolution of its own for its target (its marker
//! environment and wheel tags), so every package it selects has a usable wheel (or an sdist
//! to build) there: checked by the resolver, not hoped. Sharing is by preferences, which the
//! resolver honours where it can: after the first round, every environment prefers the
//! version the others chose (the existing lock's where it had one, else the newest chosen),
//! and the environments that disagree are resolved again until nothing moves. When locking
//! again, each environment first prefers the version the existing lock holds for it
//! (`ops::layers::preferences_for`), so a package locked in several versions keeps each. What still
//! differs is a real split (a `Requires-Python`, a platform without wheels, a marker on a
//! requirement), and [`explain_splits`] says which in one line a package.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::Arc;

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};

use crate::error::{Error, Result};
use crate::index::PackageSource;
use crate::resolve::{
    self, Origin, Resolution, ResolveError, ResolveRequest, ResolvedPackage, RootRequirement,
};
use crate::target::{Platform, Target};
use crate::universe::{Subset, Universe, short_name};

/// Rounds of sharing after the first resolution; each only re-resolves the environments
/// that disagree, and in practice one suffices.
const SHARING_ROUNDS: usize = 3;

/// One layer could not be resolved for one environment of the universe.
#[derive(Debug, thiserror::Error)]
#[error("cannot lock {layer} for {environment}{others}:\n{report}")]
pub struct UnresolvableEnvironment {
    /// `the application layer`, `the Foundation for cu130`.
    pub layer: String,
    /// `Python 3.11 on macos-arm64-13.0`.
    pub environment: String,
    /// `macos-arm64`: the platform as `platforms` may list it.
    pub platform: String,
    /// The environment's `sys_platform` (`darwin`), for the marker the hint suggests.
    pub sys_platform: String,
    /// A higher floor of the platform to suggest (`macos-arm64-14`); none for Windows.
    pub higher_floor: Option<String>,
    /// `` (every other environment resolves)`` when only some fail.
    pub others: String,
    pub report: String,
}

impl UnresolvableEnvironment {
    pub fn hint(&self) -> String {
        let floor = match &self.higher_floor {
            Some(f) => format!(", or raise the platform's floor (e.g. `{f}`)"),
            None => String::new(),
        };
        format!(
            "if {} is not needed, drop it from [project] platforms (or narrow `python`); else add a marker to the requirement that cannot be met there (e.g. `; sys_platform != '{}'`){floor}",
            self.platform, self.sys_platform
        )
    }
}

/// Resolve `requests` (one per environment of `universe`, in its order) on `view`, sharing
/// versions across environments where the resolver can.
pub async fn resolve_universe<V: PackageSource>(
    view: Arc<V>,
    universe: &Universe,
    layer: &str,
    requests: Vec<ResolveRequest>,
) -> Result<Vec<Resolution>> {
    let first = futures::future::join_all(
        requests
            .iter()
            .map(|r| resolve::resolve(Arc::clone(&view), r.clone())),
    )
    .await;
    let failed: Vec<usize> = (0..first.len()).filter(|&i| first[i].is_err()).collect();
    let mut resolutions = Vec::new();
    for (i, result) in first.into_iter().enumerate() {
        match result {
            Ok(r) => resolutions.push(r),
            Err(e) => return Err(environment_error(universe, layer, i, &failed, e)),
        }
    }
    if !universe.is_universal() {
        return Ok(resolutions);
    }
    for _ in 0..SHARING_ROUNDS {
        let shared = shared_preferences(&resolutions, &requests);
        // The environments to resolve again, each with its preferences: the shared ones, but
        // where it cannot take the shared version at all (its Requires-Python, no file for
        // its platform), the version it has (so a fork keeps its pin).
        let mut disagree: Vec<(usize, HashMap<PackageName, Version>)> = Vec::new();
        for (i, resolution) in resolutions.iter().enumerate() {
            let mut preferences = shared.clone();
            let mut again = false;
            for p in resolution.packages.values() {
                let Some(v) = shared.get(&p.name).filter(|v| **v != p.version) else {
                    continue;
                };
                let target = &universe.targets()[i];
                if root_reason(target, &p.name, v, &requests[i]).is_some()
                    || static_reason(&view, target, &p.name, v, &requests[i])
                        .await
                        .is_some()
                {
                    preferences.insert(p.name.clone(), p.version.clone());
                } else {
                    again = true;
                }
            }
            if again {
                disagree.push((i, preferences));
            }
        }
        if disagree.is_empty() {
            break;
        }
        let again = futures::future::join_all(disagree.iter().map(|(i, preferences)| {
            let mut request = requests[*i].clone();
            request.preferences = preferences.clone();
            request.upgrade_all = false;
            request.upgrade.clear();
            resolve::resolve(Arc::clone(&view), request)
        }))
        .await;
        let mut moved = false;
        for ((i, preferences), result) in disagree.iter().zip(again) {
            let i = *i;
            let resolution = result.map_err(|e| environment_error(universe, layer, i, &[i], e))?;
            // Sharing may only move a package to the version it was asked to prefer: one that
            // lands elsewhere (the shared version out of reach, the next best taken instead)
            // would churn the lock for nothing, so the environment keeps what it had.
            let before = versions(&resolutions[i]);
            let stray = resolution.packages.values().any(|p| {
                before.get(&p.name).is_some_and(|v| **v != p.version)
                    && preferences.get(&p.name) != Some(&p.version)
            });
            if stray || versions(&resolution) == before {
                continue;
            }
            moved = true;
            resolutions[i] = resolution;
        }
        if !moved {
            break;
        }
    }
    Ok(resolutions)
}

/// The error of environment `i`, among the environments `failed` (indexes) that failed.
fn environment_error(
    universe: &Universe,
    layer: &str,
    i: usize,
    failed: &[usize],
    e: ResolveError,
) -> Error {
    let all = universe.targets().len();
    let others: Vec<String> = failed
        .iter()
        .filter(|&&j| j != i)
        .map(|&j| universe.targets()[j].to_string())
        .collect();
    let others = match (others.len(), failed.len() == all) {
        (_, true) if all > 1 => " (and for every other environment)".to_string(),
        (0, _) => " (the other environments resolve)".to_string(),
        _ => format!(
            " (and for {}; the other environments resolve)",
            others.join(", ")
        ),
    };
    let target = &universe.targets()[i];
    match e {
        ResolveError::NoSolution { report } if universe.is_universal() => UnresolvableEnvironment {
            layer: layer.to_string(),
            environment: target.to_string(),
            platform: short_name(&target.platform),
            sys_platform: target.markers().sys_platform().to_string(),
            higher_floor: higher_floor(&target.platform),
            others,
            // The report's own first line names the environment again.
            report: match report.split_once('\n') {
                Some((first, rest)) if first.starts_with("no resolution for ") => rest.to_string(),
                _ => report,
            },
        }
        .into(),
        e => e.into(),
    }
}

/// A floor above `platform`'s to suggest when its wheels are too new for it: macOS 14 (or
/// the next major), glibc 2.34 (or the next minor); none for Windows and musl.
fn higher_floor(platform: &Platform) -> Option<String> {
    let short = short_name(platform);
    match platform {
        Platform::MacOs { min, .. } => Some(format!("{short}-{}", (min.0 + 1).max(14))),
        Platform::Linux { glibc, .. } => {
            Some(format!("{short}-manylinux_2_{}", (glibc.1 + 1).max(34)))
        }
        _ => None,
    }
}

fn versions(r: &Resolution) -> BTreeMap<&PackageName, &Version> {
    r.packages.values().map(|p| (&p.name, &p.version)).collect()
}

/// The version every environment is asked to prefer, per package: the newest version some
/// environment was asked to keep (an existing lock's, unless released) and chose, else the
/// newest any environment chose. An environment that cannot take it at all keeps its own
/// (it is not resolved again), so each version of a package forked by a `Requires-Python` or
/// a platform's wheels keeps its pin; a fork nothing forces any more is joined.
fn shared_preferences(
    resolutions: &[Resolution],
    requests: &[ResolveRequest],
) -> HashMap<PackageName, Version> {
    let mut chosen: BTreeMap<&PackageName, BTreeSet<&Version>> = BTreeMap::new();
    for r in resolutions {
        for p in r.packages.values() {
            chosen.entry(&p.name).or_default().insert(&p.version);
        }
    }
    let mut shared = HashMap::new();
    for (name, versions) in chosen {
        // The newest version some environment was asked to keep (an existing lock's) and
        // chose, else the newest chosen.
        let kept = requests
            .iter()
            .filter(|r| !r.upgrade_all && !r.upgrade.contains(name))
            .filter_map(|r| r.preferences.get(name))
            .filter(|v| versions.contains(v))
            .max();
        let version = kept.or_else(|| versions.last().copied());
        if let Some(v) = version {
            shared.insert(name.clone(), v.clone());
        }
    }
    shared
}

/// One entry of a merged universal resolution: a package's version, with the files, the
/// dependencies and the extras it has in any environment that selects it, and which those
/// environments are.
pub struct MergedPackage {
    pub package: ResolvedPackage,
    pub environments: Subset,
    /// Each dependency, with the environments (of `environments`) in which it applies.
    pub dependency_environments: BTreeMap<PackageName, Subset>,
    /// The environments (of `environments`) with no wheel of it: `sync` builds it there.
    pub built_in: Subset,
}

/// Merge per-environment resolutions (`(environment index, resolution, names to leave out)`)
/// into one entry per package version. Deterministic: by name, then version.
pub fn merge(resolutions: &[(usize, &Resolution, &BTreeSet<PackageName>)]) -> Vec<MergedPackage> {
    let mut merged: BTreeMap<(PackageName, Version), MergedPackage> = BTreeMap::new();
    for (env, resolution, skip) in resolutions {
        for p in resolution.packages.values() {
            if skip.contains(&p.name) {
                continue;
            }
            let entry = merged
                .entry((p.name.clone(), p.version.clone()))
                .or_insert_with(|| MergedPackage {
                    package: ResolvedPackage {
                        files: Vec::new(),
                        dependencies: BTreeSet::new(),
                        extras: BTreeSet::new(),
                        direct: false,
                        ..p.clone()
                    },
                    environments: Subset::new(),
                    dependency_environments: BTreeMap::new(),
                    built_in: Subset::new(),
                });
            entry.environments.insert(*env);
            if !p.files.iter().any(|f| f.parsed.as_wheel().is_some()) {
                entry.built_in.insert(*env);
            }
            for d in &p.dependencies {
                entry
                    .dependency_environments
                    .entry(d.clone())
                    .or_default()
                    .insert(*env);
            }
            let q = &mut entry.package;
            for f in &p.files {
                if !q.files.iter().any(|g| g.filename == f.filename) {
                    q.files.push(f.clone());
                }
            }
            q.dependencies.extend(p.dependencies.iter().cloned());
            q.extras.extend(p.extras.iter().cloned());
            q.direct |= p.direct;
        }
    }
    // Files stay in the order first seen: the first environment's best first, then what the
    // others add, so a single environment's lock lists its wheels as the resolver ranked them.
    merged.into_values().collect()
}

/// One warning per package version that has wheels for some of its environments but must be
/// built from its sdist in others (`uvloop 0.23.0 has no wheel for windows-x86_64: sync
/// builds it from source there`): a surprise on one platform that a lock for one target
/// would not show.
pub fn partial_builds(universe: &Universe, merged: &[MergedPackage]) -> Vec<String> {
    merged
        .iter()
        .filter(|m| !m.built_in.is_empty() && m.built_in != m.environments)
        .map(|m| {
            format!(
                "{} {} has no wheel for {}: `sync` builds it from its source distribution there",
                m.package.name,
                m.package.version,
                universe.describe(&m.built_in)
            )
        })
        .collect()
}

/// One line per package locked in more than one version: which version serves which
/// environments, and why the others could not take the newest
/// (`numpy: 2.4.6 for python < 3.12, 2.5.5 otherwise: numpy 2.5.5 requires python >=3.12`).
pub(crate) async fn explain_splits<V: PackageSource>(
    view: Arc<V>,
    universe: &Universe,
    merged: &[MergedPackage],
    requests: &[ResolveRequest],
) -> Vec<String> {
    let mut by_name: BTreeMap<&PackageName, Vec<&MergedPackage>> = BTreeMap::new();
    for m in merged {
        by_name.entry(&m.package.name).or_default().push(m);
    }
    let mut lines = Vec::new();
    for (name, mut versions) in by_name {
        if versions.len() < 2 {
            continue;
        }
        versions.sort_by(|a, b| b.package.version.cmp(&a.package.version));
        let newest = &versions[0].package.version;
        let mut parts = Vec::new();
        let mut reasons = Vec::new();
        for older in &versions[1..] {
            parts.push(format!(
                "{} for {}",
                older.package.version,
                universe.describe(&older.environments)
            ));
            let Some(&env) = older.environments.iter().next() else {
                continue;
            };
            let reason = why_not(
                &view,
                &universe.targets()[env],
                name,
                newest,
                &requests[env],
            )
            .await;
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        lines.push(format!(
            "{name}: {}, {newest} otherwise: {}",
            parts.join(", "),
            reasons.join("; ")
        ));
    }
    lines
}

/// Why `target` cannot take `name==version` whatever else is chosen: its `Requires-Python`
/// excludes the target's Python, or no file of it can be installed there.
async fn static_reason<V: PackageSource>(
    view: &Arc<V>,
    target: &Target,
    name: &PackageName,
    version: &Version,
    request: &ResolveRequest,
) -> Option<String> {
    let files = view.files(name).await.ok()??;
    let files = files.versions.get(version)?;
    let python = &target.python;
    let excluded = |f: &crate::index::DistFile| {
        f.requires_python
            .as_ref()
            .filter(|s| !s.contains(python))
            .map(ToString::to_string)
    };
    if let Some(spec) = files.first().and_then(excluded)
        && files.iter().all(|f| excluded(f).is_some())
    {
        return Some(format!("{name} {version} requires python {spec}"));
    }
    let usable = files
        .iter()
        .filter_map(|f| f.parsed.as_wheel())
        .any(|w| target.wheel_priority(w).is_some());
    let sdist = files.iter().any(|f| f.parsed.as_wheel().is_none());
    if !usable && !sdist {
        return Some(format!(
            "{name} {version} has no wheel for {} with Python {}",
            target.platform_name(),
            target.python_shown()
        ));
    }
    if !usable && !request.build.allows(name) {
        return Some(format!(
            "{name} {version} has no wheel for {} and building it is off",
            target.platform_name()
        ));
    }
    None
}

/// A requirement or constraint of the layer that applies in `target` (its marker holds there)
/// and excludes `name==version`: `` application requirement (sanctuary.toml:12) `a<2 ;
/// sys_platform == 'darwin'` excludes a 2.0.0 there``.
fn root_reason(
    target: &Target,
    name: &PackageName,
    version: &Version,
    request: &ResolveRequest,
) -> Option<String> {
    request
        .requirements
        .iter()
        .chain(&request.constraints)
        .find(|r| {
            let req = &r.requirement;
            &req.name == name
                && req.marker.evaluate(target.markers(), &[])
                && matches!(
                    &req.version_or_url,
                    Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)) if !s.contains(version)
                )
        })
        .map(|r| {
            format!(
                "{} `{}` excludes {name} {version} there",
                r.origin, r.requirement
            )
        })
}

/// Why `target` could not take `name==version`: its `Requires-Python`, no file for the
/// platform, a requirement of the layer that applies there, or else the conflict the pin runs
/// into there.
async fn why_not<V: PackageSource>(
    view: &Arc<V>,
    target: &Target,
    name: &PackageName,
    version: &Version,
    request: &ResolveRequest,
) -> String {
    if let Some(reason) = static_reason(view, target, name, version, request).await {
        return reason;
    }
    if let Some(reason) = root_reason(target, name, version, request) {
        return reason;
    }
    let mut pinned = request.clone();
    if let Ok(requirement) = Requirement::from_str(&format!("{name}=={version}")) {
        pinned.requirements.push(RootRequirement {
            requirement,
            origin: Origin {
                layer: "the split's check".to_string(),
                kind: "pin".to_string(),
                file: None,
                line: None,
            },
        });
    }
    // One unwrapped line a statement, so that the conflict reads as one sentence.
    pinned.report_width = Some(usize::MAX / 2);
    match resolve::resolve(Arc::clone(view), pinned).await {
        Err(ResolveError::NoSolution { report }) => {
            format!("on {target}, {}", conflict_words(&report))
        }
        _ => format!("the resolver kept {name} below {version} on {target}"),
    }
}

/// The derivation of a conflict report in one line: its statements after the `no resolution
/// for ...:` header, without the hints.
fn conflict_words(report: &str) -> String {
    report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("no resolution for "))
        .take_while(|l| !l.starts_with("hint:"))
        .collect::<Vec<_>>()
        .join(" ")
}
