//! What each layer of a lock is made of: the canonical inputs (and so the staleness hash) of
//! every key's Foundation and of the Application, where each package comes from (the
//! Foundation index, `sources`), the resolver requests of both layers, and the lockfile
//! entries of a resolution. Used by [`super::locking`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::str::FromStr;

use futures::stream::{self, StreamExt, TryStreamExt};
use pep508_rs::{PackageName, Requirement};

use super::indexes::index_for_key;
use super::local::LocalProject;
use super::lockfiles::foundation_lockfile;
use super::locking::{LockRequest, LockSource};
use super::universal::MergedPackage;
use crate::bail;
use crate::error::{Error, Result};
use crate::http::redact::{strip_credentials_text, without_credentials};
use crate::index::DistFile;
use crate::manifest::{Channel, FoundationSpec, IndexFormat, Manifest, ManifestRequirement};
use crate::pylock::{InputSummary, LockedArtifact, LockedPackage, Lockfile};
use crate::resolve::{
    BuildPolicy, Origin, PrereleaseMode, Resolution, ResolveRequest, RootRequirement,
};
use crate::target::Target;
use crate::universe::Universe;

pub(crate) fn texts(reqs: &[ManifestRequirement]) -> Vec<String> {
    reqs.iter().map(|r| r.text.trim().to_string()).collect()
}

pub(crate) fn index_inputs(manifest: &Manifest) -> Vec<String> {
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
pub(crate) fn foundation_requirements<'a>(
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
pub(crate) fn foundation_packages(spec: &FoundationSpec) -> BTreeSet<PackageName> {
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
pub(crate) fn foundation_routes(spec: &FoundationSpec) -> BTreeMap<PackageName, String> {
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
pub(crate) fn foundation_pins_for_key(
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
pub(crate) fn foundation_inputs(
    manifest: &Manifest,
    spec: &FoundationSpec,
    key: &str,
) -> InputSummary {
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
        build: manifest.build.lock_inputs(),
    }
}

/// `[build]`'s inputs, and which local projects are editable (`editable=name`).
fn application_build_inputs(manifest: &Manifest) -> Vec<String> {
    let mut inputs = manifest.build.lock_inputs();
    for r in &manifest.application.requirements {
        if let Some(crate::manifest::LocalSource::Directory { editable: true, .. }) = &r.local {
            inputs.push(format!("editable={}", r.requirement.name));
        }
    }
    inputs
}

/// The canonical inputs of the Application layer: its own, plus the inputs hash of every
/// key's Foundation (a Foundation change makes the Application stale too).
pub(crate) fn application_inputs(
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
        build: application_build_inputs(manifest),
    }
}

/// Pins of the Application for `key`: `application.sources`, and the Foundation packages to
/// the Foundation index.
pub(crate) fn application_pins(
    manifest: &Manifest,
    key: Option<&str>,
) -> HashMap<PackageName, String> {
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

pub(crate) fn origin(manifest: &Manifest, layer: &str, kind: &str, line: Option<usize>) -> Origin {
    Origin {
        layer: layer.to_string(),
        kind: kind.to_string(),
        file: Some(manifest.file_name().to_path_buf()),
        line,
    }
}

pub(crate) fn root_requirements(
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

/// The versions `target` prefers when re-locking: each existing lockfile's entries for that
/// environment first (a forked package keeps the version it had there), then any locked
/// version of a package the environment had none of (a platform just added takes the
/// versions the others have).
pub(crate) fn preferences_for(
    existing: &[Lockfile],
    target: &Target,
) -> HashMap<PackageName, pep440_rs::Version> {
    let mut out = HashMap::new();
    for lock in existing {
        // A lockfile whose entries overlap or leave a dependency out there gives no
        // preferences for the environment (the lock rewrites it).
        if lock.covers(target.markers())
            && let Ok(seen) = lock.for_environment(target.markers())
        {
            for (name, version) in seen.versions() {
                out.entry(name).or_insert(version);
            }
        }
    }
    for lock in existing {
        for (name, version) in lock.versions() {
            out.entry(name).or_insert(version);
        }
    }
    out
}

/// What the resolver may build, from `[build]`.
pub(crate) fn build_policy(manifest: &Manifest) -> BuildPolicy {
    BuildPolicy {
        no_build: manifest.build.no_build,
        no_build_package: manifest.build.no_build_package.iter().cloned().collect(),
        declared_metadata: manifest.build.dependency_metadata.clone(),
        local: HashSet::new(),
    }
}

/// The Application's build policy: `[build]`, and its local projects always built, with
/// the metadata read from them.
fn application_build_policy(manifest: &Manifest, request: &LockRequest) -> BuildPolicy {
    let mut policy = build_policy(manifest);
    for project in &request.local {
        policy.local.insert(project.name.clone());
        policy.declared_metadata.push(project.declared());
    }
    policy
}

/// The resolver request of the Foundation of `key` in the environment `target`, preferring
/// what `existing` locks there (nothing with `--upgrade`).
pub(crate) fn foundation_request(
    manifest: &Manifest,
    spec: &FoundationSpec,
    key: &str,
    target: &Target,
    existing: Option<&Lockfile>,
    request: &LockRequest,
) -> ResolveRequest {
    let (requirements, constraints) = foundation_requirements(spec, key);
    let layer = format!("foundation ({key})");
    ResolveRequest {
        requirements: root_requirements(manifest, &layer, "requirement", requirements),
        constraints: root_requirements(manifest, &layer, "constraint", constraints),
        target: target.clone(),
        prereleases: match spec.channel {
            Channel::Nightly => PrereleaseMode::Allow,
            Channel::Stable => PrereleaseMode::IfNecessaryOrExplicit,
        },
        preferences: match (existing, request.upgrade_all) {
            (Some(lock), false) => preferences_for(std::slice::from_ref(lock), target),
            _ => HashMap::new(),
        },
        upgrade: request.upgrade.clone(),
        upgrade_all: request.upgrade_all,
        no_binary: HashSet::new(),
        build: build_policy(manifest),
        report_width: request.report_width,
    }
}

/// `==version` constraints for every package of a key's Foundation.
pub(crate) fn foundation_pins(key: &str, foundation: &Lockfile) -> Result<Vec<RootRequirement>> {
    let file = PathBuf::from("lockfiles").join(foundation_lockfile(key));
    foundation
        .packages
        .iter()
        .map(|p| {
            let text = format!("{}=={}", p.name, p.version);
            let requirement = Requirement::from_str(&text)
                .map_err(|e| Error::msg(format!("pin `{text}` from {}: {e}", file.display())))?;
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

/// The resolver request of the Application, with a key's Foundation `pins` (none without a
/// Foundation).
pub(crate) fn application_request(
    manifest: &Manifest,
    request: &LockRequest,
    target: &Target,
    preferences: &HashMap<PackageName, pep440_rs::Version>,
    pins: &[RootRequirement],
) -> ResolveRequest {
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
    ResolveRequest {
        requirements,
        constraints: root_requirements(
            manifest,
            "application",
            "constraint",
            &manifest.application.constraints,
        ),
        target: target.clone(),
        prereleases: if manifest.application.prereleases {
            PrereleaseMode::Allow
        } else {
            PrereleaseMode::IfNecessaryOrExplicit
        },
        preferences: preferences.clone(),
        upgrade: request.upgrade.clone(),
        upgrade_all: request.upgrade_all,
        no_binary: HashSet::new(),
        build: application_build_policy(manifest, request),
        report_width: request.report_width,
    }
}

/// The lockfile entries of a merged resolution over `universe` (each with the marker of the
/// environments it serves), with the artifact facts the simple pages did not give filled in.
pub(crate) async fn locked_packages<S: LockSource>(
    source: &S,
    universe: &Universe,
    merged: &[MergedPackage],
    local: &[LocalProject],
) -> Result<Vec<LockedPackage>> {
    let is_local = |name: &PackageName| local.iter().any(|l| &l.name == name);
    let files: Vec<(usize, DistFile)> = merged
        .iter()
        .enumerate()
        .filter(|(_, m)| !is_local(&m.package.name))
        .flat_map(|(i, m)| m.package.files.iter().map(move |f| (i, f.clone())))
        .collect();
    let completed: Vec<(usize, DistFile)> = stream::iter(files)
        .map(|(i, file)| async move { source.complete(&file).await.map(|f| (i, f)) })
        .buffered(64)
        .try_collect()
        .await?;
    let mut by_entry: BTreeMap<usize, Vec<DistFile>> = BTreeMap::new();
    for (i, file) in completed {
        by_entry.entry(i).or_default().push(file);
    }
    let mut packages = Vec::new();
    for (i, m) in merged.iter().enumerate() {
        let p = &m.package;
        let mut entry = LockedPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            marker: universe.marker_of(&m.environments),
            index: String::new(),
            requires_python: p.requires_python.as_ref().map(ToString::to_string),
            dependencies: p.dependencies.iter().cloned().collect(),
            dependency_markers: dependency_markers(universe, m),
            sdist: None,
            wheels: Vec::new(),
            source: None,
            direct: p.direct,
            extras: p.extras.iter().map(ToString::to_string).collect(),
        };
        if let Some(project) = local.iter().find(|l| l.name == p.name) {
            entry.source = Some(project.locked_source()?);
            packages.push(entry);
            continue;
        }
        entry.index = p.index.url.to_string();
        for f in by_entry.remove(&i).unwrap_or_default() {
            let Some(sha256) = f.sha256.clone() else {
                bail!(
                    "the index gave no sha256 for {} ({}); sanctuary only writes hashed lockfiles",
                    f.filename,
                    f.url
                );
            };
            let artifact = LockedArtifact {
                name: f.filename.clone(),
                url: without_credentials(&f.url).to_string(),
                size: f.size,
                upload_time: f.upload_time.clone(),
                sha256,
            };
            if f.parsed.as_wheel().is_some() {
                entry.wheels.push(artifact);
            } else {
                entry.sdist = Some(artifact);
            }
        }
        packages.push(entry);
    }
    Ok(packages)
}

/// The dependencies of a merged entry that apply in only some of its environments, with the
/// marker of those.
fn dependency_markers(universe: &Universe, m: &MergedPackage) -> BTreeMap<PackageName, String> {
    m.dependency_environments
        .iter()
        .filter(|(_, envs)| **envs != m.environments)
        .filter_map(|(name, envs)| Some((name.clone(), universe.marker_of(envs)?)))
        .collect()
}

/// The shortest chain from a requirement of the layer to `target`:
/// `torch 2.9.0 -> nvidia-cudnn-cu12 9.10.2.21 -> nvidia-cublas-cu12 12.8.4.1`.
pub(crate) fn chain(resolution: &Resolution, target: &PackageName) -> String {
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
pub(crate) fn differences(per_key: &[(Option<String>, Vec<LockedPackage>)]) -> Vec<String> {
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
