//! The universal packse scenarios (`resolver_options.universal = true`): each is locked over a
//! universe of declared environments (platforms x CPython minors) with
//! `ops::universal::resolve_universe`, one request per environment, and compared with
//! `[expected]` (satisfiable iff every environment resolves; an expected version chosen in
//! at least one environment), with what its description says of the environments it names
//! ([`DESCRIBED`]), and with what a lockfile needs of the merge (`ops::universal::merge`):
//! every entry's marker holds in exactly its environments, and every wheel it lists installs
//! in one of them.
//!
//! uv resolves over the whole marker space and forks where requirements' markers say so;
//! sanctuary resolves each declared environment completely and shares versions between them.
//! Where that gives another answer by design, the scenario is in [`DEVIATIONS`] with the
//! reason; a listed scenario that starts to pass fails the suite, so the table stays true.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::Arc;

use pep508_rs::MarkerTree;
use sanctuary::error::ErrorKind;
use sanctuary::ops::universal::{MergedPackage, merge, resolve_universe};
use sanctuary::resolve::{Resolution, ResolveError, ResolveRequest};
use sanctuary::target::{Target, parse_platform};
use sanctuary::universe::{self, Universe};
use sanctuary::{PackageName, Version};

use super::support::scenario::Scenario;
use super::{build_option_diffs, index_source, platform_name, request, serve};

/// The platforms a universal scenario is locked for, unless it names its own
/// (`python_platform`) or keeps those its `required_environments` select.
const PLATFORMS: [&str; 5] = [
    "linux-x86_64",
    "linux-aarch64",
    "macos-arm64",
    "macos-x86_64",
    "windows-x86_64",
];

/// Deviations that hold only for some environments: the scenario locked again over this
/// `requires_python` and the default platforms this marker selects must pass every check.
const NARROWED: &[(&str, &str, &str)] = &[(
    "specific-architecture",
    ">=3.13",
    "platform_machine != 'aarch64'",
)];

/// Every universe runs from the scenario's lowest Python up to 3.13.
const NEWEST: &str = "<3.14";

/// Scenarios whose outcome differs from uv's by design, with the reason.
pub const DEVIATIONS: &[(&str, &str)] = &[
    (
        "conflict-in-fork",
        "expected unsatisfiable for `sys_platform == 'os2'`, where `a<2` pulls in a conflict on `d`; \
         sanctuary resolves the declared environments only, and no declared platform has \
         sys_platform `os1` or `os2`, so `a` is required nowhere and every environment resolves",
    ),
    (
        "fork-non-local-fork-marker-direct",
        "expected unsatisfiable because uv's forking resolver does not see a fork on `c` through \
         `a` (linux) and `b` (darwin); sanctuary resolves each environment on its own (linux: \
         a, c 1.0.0; darwin: b, c 2.0.0), so there is nothing to detect and both resolve",
    ),
    (
        "fork-non-local-fork-marker-transitive",
        "expected unsatisfiable for the same limitation of uv's forking (the markers on `c` sit at \
         two places of the graph); resolved per environment, linux takes c 1.0.0 and darwin \
         c 2.0.0, which is the answer the scenario's description calls correct in principle",
    ),
    (
        "preferences-dependent-forking-conflicting",
        "expected unsatisfiable because uv, once it has not forked, needs one `foo`/`bar` for \
         linux and the rest together; resolved per environment, linux takes cleaver 1, foo 1, \
         bar 2 and the other platforms cleaver 1, foo 2, bar 1, each a complete, valid resolution",
    ),
    (
        "specific-architecture",
        "b, c and d publish only cp313 wheels and no sdist; uv's universal lock does not check \
         that a wheel exists for every environment it covers, sanctuary does (an environment \
         must be installable): with Python 3.12 declared (packse's default interpreter) \
         linux-x86_64 cannot install b, and c's only aarch64 wheel is tagged \
         `manylinux2010_aarch64`, a tag no aarch64 interpreter accepts (pip's tags for aarch64 \
         start at manylinux2014), so linux-aarch64 cannot install c; over Python 3.13 without \
         linux-aarch64 it resolves, each wheel listed only where it installs",
    ),
];

/// Scenarios sanctuary gets wrong, not by design: each is a limit of the resolver itself (it
/// fails the same way for a single environment), reported rather than hidden as a deviation.
pub const KNOWN_GAPS: &[(&str, &str)] = &[(
    "wrong-backtracking-basic",
    "the resolver decides a==2.0.0 first, then walks b down from 2.0.9 to 1.0.0 (each 2.0.x \
     needs a==1.0.0) instead of going back on `a` after repeated conflicts as uv does; it \
     locks a 2.0.0, b 1.0.0 and too-old, a valid but older answer than the expected a 1.0.0, \
     b 2.0.9 (wrong-backtracking-indirect, whose expectation packse leaves commented out, \
     locks b-inner 1.0.0 for the same reason)",
)];

/// What a scenario's description says of the environments it names: in the environments
/// `selector` (a PEP 508 marker; empty for all) selects, `package` is locked at `version`, or
/// is absent (`None`). Only CPython environments exist for sanctuary, so what a description
/// says of `implementation_name == 'pypy'` has no environment here.
#[rustfmt::skip]
const DESCRIBED: &[(&str, &str, &str, Option<&str>)] = &[
    ("fork-allows-non-conflicting-non-overlapping-dependencies", LINUX, "a", Some("2.0.0")),
    ("fork-allows-non-conflicting-non-overlapping-dependencies", DARWIN, "a", Some("1.0.0")),
    ("fork-allows-non-conflicting-non-overlapping-dependencies", WINDOWS, "a", None),
    ("fork-allows-non-conflicting-repeated-dependencies", ALL, "a", Some("1.0.0")),
    ("fork-basic", LINUX, "a", Some("2.0.0")),
    ("fork-basic", DARWIN, "a", Some("1.0.0")),
    ("fork-basic", WINDOWS, "a", None),
    // `b` only in the `a==4.4.0` fork and `c` only in the `a==4.3.0` one.
    ("fork-filter-sibling-dependencies", LINUX, "a", Some("4.4.0")),
    ("fork-filter-sibling-dependencies", LINUX, "b", Some("1.0.0")),
    ("fork-filter-sibling-dependencies", LINUX, "c", None),
    ("fork-filter-sibling-dependencies", LINUX, "d", Some("1.0.0")),
    ("fork-filter-sibling-dependencies", DARWIN, "a", Some("4.3.0")),
    ("fork-filter-sibling-dependencies", DARWIN, "b", None),
    ("fork-filter-sibling-dependencies", DARWIN, "c", Some("1.0.0")),
    ("fork-filter-sibling-dependencies", DARWIN, "d", Some("2.0.0")),
    // A fresh lock takes the newest `foo`, which does not fork.
    ("fork-upgrade", ALL, "foo", Some("2.0.0")),
    ("fork-upgrade", ALL, "bar", Some("2.0.0")),
    // `c` must be selected in the hole of `a`'s markers (Python 3.13).
    ("fork-incomplete-markers", "python_version < '3.13'", "a", Some("1.0.0")),
    ("fork-incomplete-markers", "python_version < '3.13'", "c", None),
    ("fork-incomplete-markers", "python_version == '3.13'", "a", None),
    ("fork-incomplete-markers", "python_version == '3.13'", "c", Some("1.0.0")),
    ("fork-incomplete-markers", ALL, "b", Some("1.0.0")),
    // `c` for linux through `a` (CPython); `b` is PyPy's alone.
    ("fork-marker-accrue", LINUX, "c", Some("1.0.0")),
    ("fork-marker-accrue", DARWIN, "c", None),
    ("fork-marker-accrue", ALL, "a", Some("1.0.0")),
    ("fork-marker-accrue", ALL, "b", None),
    // `c` is included only for PyPy, which sanctuary never locks for.
    ("fork-marker-inherit-combined-allowed", DARWIN, "b", Some("2.0.0")),
    ("fork-marker-inherit-combined-allowed", ALL, "c", None),
    ("fork-marker-inherit-combined-disallowed", ALL, "c", None),
    ("fork-marker-inherit-combined", DARWIN, "a", Some("1.0.0")),
    ("fork-marker-inherit-combined", DARWIN, "b", Some("2.0.0")),
    ("fork-marker-inherit-combined", ALL, "c", None),
    ("fork-marker-inherit-isolated", LINUX, "a", Some("2.0.0")),
    ("fork-marker-inherit-isolated", LINUX, "b", Some("1.0.0")),
    ("fork-marker-inherit-isolated", DARWIN, "a", Some("1.0.0")),
    ("fork-marker-inherit-isolated", DARWIN, "b", None),
    ("fork-marker-inherit-transitive", DARWIN, "a", Some("1.0.0")),
    ("fork-marker-inherit-transitive", DARWIN, "c", Some("1.0.0")),
    ("fork-marker-inherit-transitive", ALL, "d", None),
    ("fork-marker-inherit-transitive", LINUX, "b", None),
    ("fork-marker-inherit", DARWIN, "a", Some("1.0.0")),
    ("fork-marker-inherit", LINUX, "a", Some("2.0.0")),
    ("fork-marker-inherit", ALL, "b", None),
    // `c` through the unconditional `b` on linux, but not through `a<2` on darwin.
    ("fork-marker-limited-inherit", LINUX, "c", Some("1.0.0")),
    ("fork-marker-limited-inherit", DARWIN, "a", Some("1.0.0")),
    ("fork-marker-limited-inherit", DARWIN, "c", None),
    ("fork-marker-limited-inherit", ALL, "b", Some("1.0.0")),
    // One version of `a` per environment, not both everywhere.
    ("fork-marker-selection", LINUX, "a", Some("0.2.0")),
    ("fork-marker-selection", LINUX, "b", Some("2.0.0")),
    ("fork-marker-selection", DARWIN, "a", Some("0.1.0")),
    ("fork-marker-selection", DARWIN, "b", Some("1.0.0")),
    ("fork-marker-track", LINUX, "a", Some("4.3.0")),
    ("fork-marker-track", LINUX, "b", Some("2.8")),
    ("fork-marker-track", DARWIN, "a", Some("1.3.1")),
    ("fork-marker-track", DARWIN, "b", Some("2.7")),
    ("fork-marker-track", ALL, "c", None),
    ("fork-non-fork-marker-transitive", LINUX, "c", Some("2.0.0")),
    ("fork-non-fork-marker-transitive", DARWIN, "c", Some("2.0.0")),
    ("fork-non-fork-marker-transitive", WINDOWS, "c", None),
    // Nothing else constrains `a`: 1.2.0 everywhere.
    ("fork-overlapping-markers-basic", ALL, "a", Some("1.2.0")),
    ("fork-remaining-universe-partitioning", ALL, "z", None),
    ("fork-requires-python", ALL, "a", None),
    ("fork-requires-python-full", ALL, "a", None),
    ("fork-requires-python-full-prerelease", ALL, "a", None),
    ("fork-requires-python-patch-overlap", "python_version == '3.10'", "a", Some("1.0.0")),
    ("fork-requires-python-patch-overlap", "python_version > '3.10'", "a", None),
    ("requires-python-wheels", ALL, "a", Some("1.0.0")),
    ("unreachable-package", WINDOWS, "a", Some("1.0.0")),
    ("unreachable-package", "sys_platform != 'win32'", "a", None),
    ("unreachable-package", ALL, "b", None),
    ("unreachable-wheels", WINDOWS, "a", Some("1.0.0")),
    ("unreachable-wheels", "sys_platform != 'win32'", "a", None),
    ("unreachable-wheels", LINUX, "b", Some("1.0.0")),
    ("unreachable-wheels", "sys_platform != 'linux'", "b", None),
    ("unreachable-wheels", DARWIN, "c", Some("1.0.0")),
    ("unreachable-wheels", "sys_platform != 'darwin'", "c", None),
    ("marker-variants-have-different-extras", ALL, "psycopg", Some("1.0.0")),
    ("marker-variants-have-different-extras", ALL, "psycopg-binary", Some("1.0.0")),
    ("marker-variants-have-different-extras", WINDOWS, "tzdata", Some("1.0.0")),
    ("marker-variants-have-different-extras", "sys_platform != 'win32'", "tzdata", None),
    ("virtual-package-extra-priorities", ALL, "a", Some("1.0.0")),
    ("virtual-package-extra-priorities", ALL, "b", Some("1.0.0")),
    // `win-only` is used only on Windows.
    ("requires-python-subset", WINDOWS, "win-only", Some("1.0.0")),
    ("requires-python-subset", LINUX, "win-only", None),
    // cleaver 2 is rejected everywhere (reject-cleaver-2 needs unrelated-dep 3).
    // Checked over the narrowed universe (see NARROWED): no aarch64 environment there.
    ("specific-architecture", "platform_machine == 'x86_64'", "b", Some("1.0.0")),
    ("specific-architecture", "platform_machine != 'x86_64'", "b", None),
    ("specific-architecture", ALL, "c", None),
    ("specific-architecture", ALL, "d", None),
    ("preferences-dependent-forking", ALL, "cleaver", Some("1.0.0")),
    ("preferences-dependent-forking", LINUX, "foo", Some("1.0.0")),
    ("preferences-dependent-forking", LINUX, "bar", Some("2.0.0")),
    ("preferences-dependent-forking", "sys_platform != 'linux'", "foo", Some("2.0.0")),
    ("preferences-dependent-forking", "sys_platform != 'linux'", "bar", Some("1.0.0")),
];

const ALL: &str = "";
const LINUX: &str = "sys_platform == 'linux'";
const DARWIN: &str = "sys_platform == 'darwin'";
const WINDOWS: &str = "sys_platform == 'win32'";

/// The environments `scenario` is locked for: [`PLATFORMS`] (or its `python_platform`, or
/// those of them its `required_environments` select) for every CPython minor from its
/// `requires_python` (else its interpreter, else 3.12) up to 3.13.
pub fn universe(scenario: &Scenario) -> Universe {
    let options = &scenario.resolver_options;
    let names: Vec<String> = match &options.python_platform {
        Some(p) => vec![platform_name(p)],
        None => PLATFORMS
            .iter()
            .filter(|name| {
                options.required_environments.is_empty()
                    || options.required_environments.iter().any(|m| {
                        selects(
                            m,
                            &Target::new("3.12", Some(name)).expect("a known platform"),
                        )
                    })
            })
            .map(|name| name.to_string())
            .collect(),
    };
    let platforms = names
        .iter()
        .map(|n| parse_platform(n).unwrap_or_else(|e| panic!("scenario {}: {e}", scenario.name)))
        .collect();
    let lowest = scenario
        .root
        .requires_python
        .clone()
        .or_else(|| {
            options
                .python
                .as_ref()
                .or(scenario.environment.python.as_ref())
                .map(|p| format!(">={p}"))
        })
        .unwrap_or_else(|| ">=3.12".to_string());
    let pythons = universe::pythons(&format!("{lowest},{NEWEST}"))
        .unwrap_or_else(|e| panic!("scenario {}: {e}", scenario.name));
    Universe::new(platforms, pythons).unwrap_or_else(|e| panic!("scenario {}: {e}", scenario.name))
}

/// Whether the marker `marker` (empty: always) holds on `target`.
fn selects(marker: &str, target: &Target) -> bool {
    marker.is_empty()
        || MarkerTree::from_str(marker)
            .unwrap_or_else(|e| panic!("marker `{marker}`: {e}"))
            .evaluate(target.markers(), &[])
}

/// The reason `name` deviates by design, if it does.
pub fn deviation(name: &str) -> Option<&'static str> {
    DEVIATIONS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// `scenario` over the narrower universe [`NARROWED`] gives it, if any, and that universe in
/// words.
pub fn narrowed(scenario: &Scenario) -> Option<(Scenario, String)> {
    let (_, python, platforms) = NARROWED.iter().find(|(n, ..)| *n == scenario.name)?;
    let mut narrow = scenario.clone();
    narrow.root.requires_python = Some(python.to_string());
    narrow.resolver_options.required_environments = vec![platforms.to_string()];
    Some((narrow, format!("requires-python {python}, {platforms}")))
}

/// The resolver's limit `name` runs into, if it is a known gap.
pub fn known_gap(name: &str) -> Option<&'static str> {
    KNOWN_GAPS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// The scenario names [`DEVIATIONS`] and [`DESCRIBED`] mention, to check each exists.
pub fn named_scenarios() -> BTreeSet<&'static str> {
    DEVIATIONS
        .iter()
        .map(|(n, _)| *n)
        .chain(KNOWN_GAPS.iter().map(|(n, _)| *n))
        .chain(NARROWED.iter().map(|(n, ..)| *n))
        .chain(DESCRIBED.iter().map(|(n, ..)| *n))
        .collect()
}

/// What differed from the scenario's expectations (`Err`), or the packages taken from an
/// sdist in some environment.
pub fn check(
    runtime: &tokio::runtime::Runtime,
    scenario: &Scenario,
) -> Result<Vec<String>, String> {
    let universe = universe(scenario);
    let index = serve(scenario);
    let cache = tempfile::tempdir().expect("temporary cache dir");
    let requests: Vec<ResolveRequest> = universe
        .targets()
        .iter()
        .map(|t| request(scenario, t.clone()))
        .collect();
    let source = Arc::new(index_source(&index, cache.path()));
    let result = runtime.block_on(resolve_universe(
        source,
        &universe,
        "the scenario",
        requests,
    ));
    let result = result.map_err(|e| {
        let no_solution = matches!(
            e.kind(),
            ErrorKind::Universal(_) | ErrorKind::Resolve(ResolveError::NoSolution { .. })
        );
        (no_solution, e.to_string().replace('\n', " / "))
    });
    match (scenario.expected.satisfiable, result) {
        (true, Ok(resolutions)) => {
            let mut diffs = expected_diffs(scenario, &resolutions);
            diffs.extend(described_diffs(scenario, &universe, &resolutions));
            diffs.extend(merge_diffs(&universe, &resolutions));
            diffs.extend(relock_diffs(
                runtime,
                scenario,
                &universe,
                &index,
                &resolutions,
            ));
            for (target, resolution) in universe.targets().iter().zip(&resolutions) {
                diffs.extend(
                    build_option_diffs(scenario, resolution)
                        .into_iter()
                        .map(|d| format!("on {target}: {d}")),
                );
            }
            if !diffs.is_empty() {
                return Err(diffs.join("; "));
            }
            let mut from_source = BTreeSet::new();
            for r in &resolutions {
                for p in r.packages.values() {
                    if p.files.iter().any(super::is_sdist) {
                        from_source.insert(format!("{}=={}", p.name, p.version));
                    }
                }
            }
            Ok(from_source.into_iter().collect())
        }
        (true, Err((true, report))) => {
            Err(format!("expected a resolution, got no solution: {report}"))
        }
        (true, Err((false, e))) => Err(format!("expected a resolution, got error: {e}")),
        (false, Ok(resolutions)) => Err(format!(
            "expected no solution, got {}",
            summary(&universe, &resolutions)
        )),
        (false, Err((true, _))) => Ok(Vec::new()),
        (false, Err((false, e))) => Err(format!("expected no solution, got error: {e}")),
    }
}

/// Each `[expected.packages]` version must be chosen in at least one environment.
fn expected_diffs(scenario: &Scenario, resolutions: &[Resolution]) -> Vec<String> {
    let mut diffs = Vec::new();
    for (name, expected) in &scenario.expected.packages {
        let name = PackageName::from_str(name).expect("a package name");
        let expected = Version::from_str(expected).expect("a version");
        let chosen: BTreeSet<&Version> = resolutions
            .iter()
            .filter_map(|r| r.packages.get(&name).map(|p| &p.version))
            .collect();
        if !chosen.contains(&expected) {
            diffs.push(format!(
                "{name}: expected {expected} in some environment, got {chosen:?}"
            ));
        }
    }
    diffs
}

/// Where the resolutions contradict what [`DESCRIBED`] says of `scenario`.
fn described_diffs(
    scenario: &Scenario,
    universe: &Universe,
    resolutions: &[Resolution],
) -> Vec<String> {
    let mut diffs = Vec::new();
    for (_, selector, package, version) in DESCRIBED.iter().filter(|(n, ..)| *n == scenario.name) {
        let name = PackageName::from_str(package).expect("a package name");
        let expected = version.map(|v| Version::from_str(v).expect("a version"));
        let mut selected = 0;
        for (target, resolution) in universe.targets().iter().zip(resolutions) {
            if !selects(selector, target) {
                continue;
            }
            selected += 1;
            let got = resolution.packages.get(&name).map(|p| &p.version);
            if got != expected.as_ref() {
                diffs.push(format!(
                    "on {target}: {package} should be {}, got {}",
                    version.unwrap_or("absent"),
                    got.map_or("none".to_string(), ToString::to_string)
                ));
            }
        }
        if selected == 0 {
            diffs.push(format!(
                "`{selector}` selects no environment of {}",
                universe.platform_names()
            ));
        }
    }
    diffs
}

/// What a lockfile needs of the merged entries: one entry per package version, its marker
/// holding in exactly its environments, and each of its wheels installable in one of them.
fn merge_diffs(universe: &Universe, resolutions: &[Resolution]) -> Vec<String> {
    let nothing = BTreeSet::new();
    let each: Vec<(usize, &Resolution, &BTreeSet<PackageName>)> = resolutions
        .iter()
        .enumerate()
        .map(|(i, r)| (i, r, &nothing))
        .collect();
    let merged = merge(&each);
    let mut diffs = Vec::new();
    for m in &merged {
        let p = &m.package;
        let marker = universe.marker_of(&m.environments);
        for (i, target) in universe.targets().iter().enumerate() {
            let holds = marker.as_deref().is_none_or(|mk| selects(mk, target));
            let has = resolutions[i].packages.get(&p.name).map(|q| &q.version) == Some(&p.version);
            if holds != has || m.environments.contains(&i) != has {
                diffs.push(format!(
                    "{} {}: marker `{}` {} on {target}, where it is {}locked",
                    p.name,
                    p.version,
                    marker.as_deref().unwrap_or(""),
                    if holds { "holds" } else { "does not hold" },
                    if has { "" } else { "not " }
                ));
            }
        }
        for f in &p.files {
            let Some(wheel) = f.parsed.as_wheel() else {
                continue;
            };
            let targets = universe.targets();
            if !m
                .environments
                .iter()
                .any(|&i| targets[i].wheel_priority(wheel).is_some())
            {
                diffs.push(format!(
                    "{} {}: wheel {} installs in none of its environments ({})",
                    p.name,
                    p.version,
                    f.filename,
                    universe.describe(&m.environments)
                ));
            }
        }
    }
    diffs
}

/// Locking again with the lock's versions as preferences (of a package in several versions,
/// the newest, as `Lockfile::versions` gives them) must choose the same versions in every
/// environment: the preferences-dependent scenarios are bistable for a forking resolver.
fn relock_diffs(
    runtime: &tokio::runtime::Runtime,
    scenario: &Scenario,
    universe: &Universe,
    index: &super::TestIndex,
    first: &[Resolution],
) -> Vec<String> {
    let mut locked: HashMap<PackageName, Version> = HashMap::new();
    for p in first.iter().flat_map(|r| r.packages.values()) {
        let newest = locked
            .entry(p.name.clone())
            .or_insert_with(|| p.version.clone());
        if p.version > *newest {
            *newest = p.version.clone();
        }
    }
    let requests: Vec<ResolveRequest> = universe
        .targets()
        .iter()
        .map(|t| ResolveRequest {
            preferences: locked.clone(),
            ..request(scenario, t.clone())
        })
        .collect();
    let cache = tempfile::tempdir().expect("temporary cache dir");
    let source = Arc::new(index_source(index, cache.path()));
    let again = match runtime.block_on(resolve_universe(source, universe, "the scenario", requests))
    {
        Ok(again) => again,
        Err(e) => {
            return vec![format!(
                "locking again with the lock's versions preferred fails: {e}"
            )];
        }
    };
    let versions = |r: &Resolution| -> Vec<String> {
        r.packages
            .values()
            .map(|p| format!("{}=={}", p.name, p.version))
            .collect()
    };
    universe
        .targets()
        .iter()
        .zip(first.iter().zip(&again))
        .filter(|(_, (a, b))| versions(a) != versions(b))
        .map(|(t, (a, b))| {
            format!(
                "locking again on {t} moves {:?} to {:?}",
                versions(a),
                versions(b)
            )
        })
        .collect()
}

/// `a==1.0.0 (sys_platform == 'darwin'), a==2.0.0 (...)`: the merged resolution in words.
fn summary(universe: &Universe, resolutions: &[Resolution]) -> String {
    let nothing = BTreeSet::new();
    let each: Vec<(usize, &Resolution, &BTreeSet<PackageName>)> = resolutions
        .iter()
        .enumerate()
        .map(|(i, r)| (i, r, &nothing))
        .collect();
    let merged: Vec<MergedPackage> = merge(&each);
    let text = merged
        .iter()
        .map(|m| {
            format!(
                "{}=={} ({})",
                m.package.name,
                m.package.version,
                universe.describe(&m.environments)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    if text.is_empty() {
        "nothing: no requirement applies in any declared environment".to_string()
    } else {
        text
    }
}
