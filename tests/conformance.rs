//! Resolver conformance against the packse scenarios (astral-sh/packse), read from
//! `$CARGO_MANIFEST_DIR/../shared/conformance/packse/scenarios` (never copied into the
//! project). Each scenario is resolved for its target and compared with `[expected]`:
//! satisfiability and every expected version. Scenarios that need a capability sanctuary does
//! not have (universal resolution, building from source) are listed with the reason.
//!
//! Each scenario is served by the project's local package index server (`tests/support`:
//! generated wheels and sdists, HTML/JSON pages, PEP 658, range requests) and resolved through
//! the real index client (`IndexSet`) with a fresh cache, so the whole path is exercised.

use std::str::FromStr;
use std::sync::Arc;

use sanctuary::index::{IndexKind, IndexSet, IndexSettings, IndexUrl};
use sanctuary::resolve::{
    Origin, PrereleaseMode, ResolveError, ResolveRequest, RootRequirement, resolve,
};
use sanctuary::target::Target;
use sanctuary::{PackageName, Requirement, Version, VersionSpecifiers};

mod support;

use support::TestIndex;
use support::scenario::{Scenario, VersionSpec, packse_dir, scenario_files};

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

/// Whether `name==version` has a wheel the target can use (tags and requires-python).
fn has_usable_wheel(data: &VersionSpec, name: &str, version: &str, target: &Target) -> bool {
    if !data.wheel {
        return false;
    }
    // A lower bound that excludes the target makes the wheel unusable; upper bounds alone do
    // not, since an exact pin admits them (see `Policy::python_allows`).
    if let Some(spec) = &data.requires_python
        && let Ok(spec) = VersionSpecifiers::from_str(spec)
        && spec.iter().any(|s| {
            !s.contains(&target.python)
                && !matches!(
                    s.operator(),
                    pep440_rs::Operator::LessThan | pep440_rs::Operator::LessThanEqual
                )
        })
    {
        return false;
    }
    let tags = if data.wheel_tags.is_empty() {
        vec!["py3-none-any".to_string()]
    } else {
        data.wheel_tags.clone()
    };
    tags.iter().any(|tag| {
        format!("{}-{version}-{tag}.whl", name.replace('-', "_"))
            .parse()
            .is_ok_and(|wheel| target.wheel_priority(&wheel).is_some())
    })
}

/// Why the scenario is skipped, if it is.
fn skip_reason(scenario: &Scenario, target: &Target) -> Option<String> {
    if scenario.resolver_options.universal {
        return Some("universal resolution".to_string());
    }
    if !scenario.resolver_options.no_binary.is_empty() {
        return Some("needs building from source (no_binary)".to_string());
    }
    if !scenario.expected.satisfiable {
        return None;
    }
    for (name, version) in &scenario.expected.packages {
        let data = scenario
            .packages
            .get(name)
            .and_then(|p| p.versions.get(version));
        if let Some(data) = data
            && !has_usable_wheel(data, name, version, target)
            && data.sdist
        {
            return Some(format!(
                "needs building from source (expected {name}=={version} has only an sdist for {target})"
            ));
        }
    }
    if scenario.expected.packages.is_empty() {
        // Satisfiable with no versions listed: if a required package can only come from an
        // sdist, the expected resolution builds it.
        for requirement in &scenario.root.requires {
            let Ok(requirement) = Requirement::<pep508_rs::VerbatimUrl>::from_str(requirement)
            else {
                continue;
            };
            let Some(package) = scenario.packages.get(requirement.name.as_ref()) else {
                continue;
            };
            let specifiers = match &requirement.version_or_url {
                Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)) => s.clone(),
                _ => VersionSpecifiers::empty(),
            };
            let matching: Vec<_> = package
                .versions
                .iter()
                .filter(|(v, _)| Version::from_str(v).is_ok_and(|v| specifiers.contains(&v)))
                .collect();
            let any_wheel = matching
                .iter()
                .any(|(v, d)| has_usable_wheel(d, requirement.name.as_ref(), v, target));
            let any_sdist = matching.iter().any(|(_, d)| d.sdist);
            if !any_wheel && any_sdist {
                return Some(format!(
                    "needs building from source (no version of `{}` has a usable wheel, only sdists)",
                    requirement.name
                ));
            }
        }
    }
    None
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
        no_binary: Default::default(),
        build: sanctuary::resolve::BuildPolicy::no_build(),
        report_width: None,
    }
}

/// `None` when the scenario passes, else what differed.
fn check(runtime: &tokio::runtime::Runtime, scenario: &Scenario, target: Target) -> Option<String> {
    let index = TestIndex::start(scenario.clone());
    let cache = tempfile::tempdir().expect("temporary cache dir");
    let url = url::Url::parse(&index.index_url()).expect("server URL");
    let result = runtime.block_on(async {
        let source = IndexSet::new(
            vec![IndexUrl {
                name: "packse".to_string(),
                url,
                explicit: false,
                kind: IndexKind::Simple,
                credentials: None,
            }],
            Default::default(),
            IndexSettings {
                cache_dir: cache.path().to_path_buf(),
                offline: false,
                refresh: false,
                concurrency: 16,
                http: Default::default(),
                netrc: None,
            },
        )
        .expect("index set");
        resolve(Arc::new(source), request(scenario, target)).await
    });
    match (scenario.expected.satisfiable, result) {
        (true, Ok(resolution)) => {
            let mut diffs = Vec::new();
            for (name, expected) in &scenario.expected.packages {
                let name = PackageName::from_str(name).ok()?;
                let expected = Version::from_str(expected).ok()?;
                match resolution.packages.get(&name) {
                    Some(p) if p.version == expected => {}
                    Some(p) => {
                        diffs.push(format!("{name}: expected {expected}, got {}", p.version))
                    }
                    None => diffs.push(format!("{name}: expected {expected}, not in resolution")),
                }
            }
            (!diffs.is_empty()).then(|| diffs.join("; "))
        }
        (true, Err(ResolveError::NoSolution { report })) => Some(format!(
            "expected a resolution, got no solution: {}",
            report.replace('\n', " / ")
        )),
        (true, Err(e)) => Some(format!("expected a resolution, got error: {e}")),
        (false, Ok(resolution)) => Some(format!(
            "expected no solution, got {}",
            resolution
                .packages
                .values()
                .map(|p| format!("{}=={}", p.name, p.version))
                .collect::<Vec<_>>()
                .join(" ")
        )),
        (false, Err(ResolveError::NoSolution { .. })) => None,
        (false, Err(e)) => Some(format!("expected no solution, got error: {e}")),
    }
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
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
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
        let target = target(&scenario);
        if let Some(reason) = skip_reason(&scenario, &target) {
            report!("SKIP {}: {reason}", scenario.name);
            skipped += 1;
            continue;
        }
        match check(&runtime, &scenario, target) {
            None => passed += 1,
            Some(diff) => {
                report!("FAIL {}: {diff}", scenario.name);
                failed += 1;
            }
        }
    }
    report!("{passed} passed, {failed} failed, {skipped} skipped");
    assert_eq!(failed, 0, "{failed} packse scenarios failed");
}
