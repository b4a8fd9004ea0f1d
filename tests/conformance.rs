//! Resolver conformance against the packse scenarios (astral-sh/packse), read from
//! `$CARGO_MANIFEST_DIR/../shared/conformance/packse/scenarios` (never copied into the
//! project). Each scenario is resolved for its target, with building allowed except where
//! its `resolver_options` say `no_build` (and wheels refused where they say `no_binary`), and
//! compared with `[expected]`: satisfiability, every expected version, and that no no-build
//! package comes from its sdist nor a no-binary one from a wheel. The universal scenarios
//! (`resolver_options.universal`) are locked over several environments (`universal`), and
//! the few whose answer differs from uv's by design are listed there with the reason.
//!
//! Each scenario is served by the project's local package index server (`tests/support`:
//! generated wheels and sdists, HTML/JSON pages, PEP 658, range requests) and resolved through
//! the real index client (`IndexSet`) with a fresh cache, so the whole path is exercised. The
//! sdists carry static metadata (`PKG-INFO` 2.2, no `Dynamic`), as packse's do, so an
//! sdist-only version resolves without a build backend, which the harness does not install.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;

use sanctuary::index::{DistFile, IndexKind, IndexSet, IndexSettings, IndexUrl};
use sanctuary::resolve::{
    BuildPolicy, Origin, PrereleaseMode, Resolution, ResolveError, ResolveRequest, RootRequirement,
    resolve,
};
use sanctuary::target::Target;
use sanctuary::{PackageName, Requirement, Version};

mod support;

#[path = "conformance/universal.rs"]
mod universal;

use support::TestIndex;
use support::scenario::{Scenario, SdistPkgInfo, packse_dir, scenario_files};

/// `x86_64-manylinux2014` -> `linux-x86_64-manylinux_2_17`.
fn platform_name(python_platform: &str) -> String {
    let (arch, rest) = python_platform
        .split_once('-')
        .unwrap_or((python_platform, ""));
    let libc = match rest {
        "manylinux2014" => "manylinux_2_17".to_string(),
        "manylinux2010" => "manylinux_2_12".to_string(),
        "manylinux1" => "manylinux_2_5".to_string(),
        other => other.to_string(),
    };
    match arch {
        "windows" | "macos" => arch.to_string(),
        _ if libc.is_empty() || libc == "unknown-linux-gnu" => format!("linux-{arch}"),
        _ => format!("linux-{arch}-{libc}"),
    }
}

fn target(scenario: &Scenario) -> Target {
    let python = scenario
        .resolver_options
        .python
        .as_deref()
        .or(scenario.environment.python.as_deref())
        .unwrap_or("3.12");
    let platform = scenario
        .resolver_options
        .python_platform
        .as_deref()
        .map(platform_name)
        .unwrap_or_else(|| "linux-x86_64".to_string());
    Target::new(python, Some(&platform))
        .unwrap_or_else(|e| panic!("scenario {}: {e}", scenario.name))
}

/// The package names of a `no_binary` / `no_build` option.
fn package_names(scenario: &Scenario, names: &[String]) -> HashSet<PackageName> {
    names
        .iter()
        .map(|n| {
            PackageName::from_str(n).unwrap_or_else(|e| panic!("scenario {}: {e}", scenario.name))
        })
        .collect()
}

fn request(scenario: &Scenario, target: Target) -> ResolveRequest {
    let requirements = scenario
        .root
        .requires
        .iter()
        .enumerate()
        .map(|(i, r)| RootRequirement {
            requirement: Requirement::from_str(r)
                .unwrap_or_else(|e| panic!("scenario {}: {e}", scenario.name)),
            origin: Origin {
                layer: "scenario".to_string(),
                kind: "requirement".to_string(),
                file: None,
                line: Some(i + 1),
            },
        })
        .collect();
    ResolveRequest {
        requirements,
        constraints: Vec::new(),
        target,
        prereleases: if scenario.resolver_options.prereleases == Some(true) {
            PrereleaseMode::Allow
        } else {
            PrereleaseMode::IfNecessaryOrExplicit
        },
        preferences: Default::default(),
        upgrade: Default::default(),
        upgrade_all: false,
        no_binary: package_names(scenario, &scenario.resolver_options.no_binary),
        build: BuildPolicy {
            no_build_package: package_names(scenario, &scenario.resolver_options.no_build),
            ..BuildPolicy::default()
        },
        report_width: None,
    }
}

/// The scenario's index, its sdists with static metadata (`PKG-INFO` 2.2, as packse's).
fn serve(scenario: &Scenario) -> TestIndex {
    TestIndex::start(scenario.clone().with_server(|s| {
        s.sdist_pkg_info = SdistPkgInfo::Static;
    }))
}

/// The real index client over `index`, with its cache in `cache`.
fn index_source(index: &TestIndex, cache: &std::path::Path) -> IndexSet {
    let url = url::Url::parse(&index.index_url()).expect("server URL");
    IndexSet::new(
        vec![IndexUrl {
            name: "packse".to_string(),
            url,
            explicit: false,
            kind: IndexKind::Simple,
            credentials: None,
        }],
        Default::default(),
        IndexSettings {
            cache_dir: cache.to_path_buf(),
            offline: false,
            refresh: false,
            concurrency: 16,
            http: Default::default(),
            netrc: None,
        },
    )
    .expect("index set")
    // Static sdist metadata only: no build backend runs in the conformance suite.
    .with_builder(Arc::new(sanctuary::ops::building::StaticMetadata))
}

/// What differed from `[expected]` (`Err`), or, when the scenario passes, the packages the
/// resolution takes from an sdist (to be built).
fn check(
    runtime: &tokio::runtime::Runtime,
    scenario: &Scenario,
    target: Target,
) -> Result<Vec<String>, String> {
    let index = serve(scenario);
    let cache = tempfile::tempdir().expect("temporary cache dir");
    let result = runtime.block_on(async {
        resolve(
            Arc::new(index_source(&index, cache.path())),
            request(scenario, target),
        )
        .await
    });
    match (scenario.expected.satisfiable, result) {
        (true, Ok(resolution)) => {
            let mut diffs = Vec::new();
            for (name, expected) in &scenario.expected.packages {
                let name = PackageName::from_str(name).map_err(|e| e.to_string())?;
                let expected = Version::from_str(expected).map_err(|e| e.to_string())?;
                match resolution.packages.get(&name) {
                    Some(p) if p.version == expected => {}
                    Some(p) => {
                        diffs.push(format!("{name}: expected {expected}, got {}", p.version))
                    }
                    None => diffs.push(format!("{name}: expected {expected}, not in resolution")),
                }
            }
            diffs.extend(build_option_diffs(scenario, &resolution));
            if !diffs.is_empty() {
                return Err(diffs.join("; "));
            }
            Ok(resolution
                .packages
                .values()
                .filter(|p| p.files.iter().any(is_sdist))
                .map(|p| format!("{}=={}", p.name, p.version))
                .collect())
        }
        (true, Err(ResolveError::NoSolution { report })) => Err(format!(
            "expected a resolution, got no solution: {}",
            report.replace('\n', " / ")
        )),
        (true, Err(e)) => Err(format!("expected a resolution, got error: {e}")),
        (false, Ok(resolution)) => Err(format!(
            "expected no solution, got {}",
            resolution
                .packages
                .values()
                .map(|p| format!("{}=={}", p.name, p.version))
                .collect::<Vec<_>>()
                .join(" ")
        )),
        (false, Err(ResolveError::NoSolution { .. })) => Ok(Vec::new()),
        (false, Err(e)) => Err(format!("expected no solution, got error: {e}")),
    }
}

fn is_sdist(file: &DistFile) -> bool {
    file.parsed.as_wheel().is_none()
}

/// Where the resolution ignores `no_binary` (a wheel chosen) or `no_build` (an sdist chosen).
fn build_option_diffs(scenario: &Scenario, resolution: &Resolution) -> Vec<String> {
    let options = &scenario.resolver_options;
    let no_binary = package_names(scenario, &options.no_binary);
    let no_build = package_names(scenario, &options.no_build);
    let mut diffs = Vec::new();
    for package in resolution.packages.values() {
        let (name, version) = (&package.name, &package.version);
        if no_binary.contains(name) && !package.files.iter().all(is_sdist) {
            diffs.push(format!(
                "{name}=={version} is no-binary, but a wheel was chosen"
            ));
        }
        if no_build.contains(name) && package.files.iter().any(is_sdist) {
            diffs.push(format!(
                "{name}=={version} is no-build, but its sdist was chosen"
            ));
        }
    }
    diffs
}

/// Like `println!`, but written to stderr directly, past the test harness's output capture, so
/// the skip list and the closing `N passed, N failed, N skipped` line show in every run.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

#[test]
fn packse_scenarios() {
    let Some(dir) = packse_dir() else {
        report!(
            "packse scenarios not found at ../shared/conformance/packse/scenarios; skipping conformance"
        );
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (mut passed, mut failed, mut from_source) = (0, 0, 0);
    let (mut universal_passed, mut deviations, mut gaps) = (0, 0, 0);
    let mut seen = HashSet::new();
    for path in scenario_files(&dir) {
        let text = std::fs::read_to_string(&path).expect("readable scenario");
        let scenario = match Scenario::from_toml(&text) {
            Ok(s) => s,
            Err(e) => {
                report!("FAIL {}: cannot parse: {e}", path.display());
                failed += 1;
                continue;
            }
        };
        seen.insert(scenario.name.clone());
        let universal = scenario.resolver_options.universal;
        let result = if universal {
            universal::check(&runtime, &scenario)
        } else {
            check(&runtime, &scenario, target(&scenario))
        };
        let listed = universal::deviation(&scenario.name)
            .map(|r| ("DEVIATION", r))
            .or_else(|| universal::known_gap(&scenario.name).map(|r| ("KNOWN GAP", r)));
        match (result, listed) {
            (Ok(_), Some(_)) => {
                report!(
                    "FAIL {}: listed in DEVIATIONS or KNOWN_GAPS but now passes: remove it",
                    scenario.name
                );
                failed += 1;
            }
            (Err(diff), Some((what, reason))) => {
                report!("{what} {}: {reason}\n    (got: {diff})", scenario.name);
                if what == "DEVIATION" {
                    deviations += 1;
                } else {
                    gaps += 1;
                }
                if let Some((narrow, universe)) = universal::narrowed(&scenario) {
                    match universal::check(&runtime, &narrow) {
                        Ok(_) => report!("    (passes over {universe})"),
                        Err(diff) => {
                            report!("FAIL {} over {universe}: {diff}", scenario.name);
                            failed += 1;
                        }
                    }
                }
            }
            (Ok(sdists), None) => {
                passed += 1;
                universal_passed += usize::from(universal);
                if !sdists.is_empty() {
                    report!(
                        "PASS {} (from source: {})",
                        scenario.name,
                        sdists.join(", ")
                    );
                    from_source += 1;
                }
            }
            (Err(diff), None) => {
                report!("FAIL {}: {diff}", scenario.name);
                failed += 1;
            }
        }
    }
    for name in universal::named_scenarios() {
        if !seen.contains(name) {
            report!("FAIL {name}: named in the universal tables, but no such scenario");
            failed += 1;
        }
    }
    report!(
        "{passed} passed ({universal_passed} of them universal, {from_source} from source), {failed} failed, {deviations} deviations, {gaps} known gaps"
    );
    assert_eq!(failed, 0, "{failed} packse scenarios failed");
}
