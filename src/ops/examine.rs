//! Examining an environment: is it what the lockfiles of a key say, and will it run on this
//! machine? The comparison is the one `sync` plans with ([`crate::install::plan`], over the
//! wheels [`super::syncing::desired`] selects), so `doctor` and `sync` cannot disagree about
//! what is in place; on top of it, installed files are checked against their `RECORD` and the
//! installed CUDA builds against the driver. The result is an [`EnvironmentReport`]
//! (`schema/environment-report.schema.json`).

use std::collections::BTreeMap;
use std::path::Path;

use pep440_rs::Version;
use pep508_rs::PackageName;
use schemars::JsonSchema;
use serde::Serialize;

use crate::environment::{Environment, FileMismatch, FileState, InstalledDistribution};
use crate::error::ErrorKind;
use crate::fs::display;
use crate::hardware::{
    self, CudaVersion, DetectReport, Detection, KeyFamily, KeySettings, REPORT_FORMAT, SelectError,
};
use crate::install::plan::{Desired, Reason, SyncPlan};
use crate::manifest::Manifest;
use crate::ops::environments::{self, Choice};
use crate::ops::lockfiles::{Layer, select_for};
use crate::ops::syncing::desired;

/// The current [`EnvironmentReport::format`].
pub const ENVIRONMENT_REPORT_FORMAT: u32 = 1;

/// Packages a venv is created with; installed but unlocked, they are noted, not drift.
pub const BOOTSTRAP_TOOLS: &[&str] = &["pip", "setuptools", "wheel"];

/// The report of `sanctuary doctor`; schema `schema/environment-report.schema.json`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
#[schemars(title = "sanctuary environment report")]
pub struct EnvironmentReport {
    /// The report format; bumped when a field changes meaning.
    pub format: u32,
    /// The manifest, as given.
    pub manifest: String,
    /// The environment checked, relative to the manifest's directory when inside it.
    pub venv: String,
    /// `site-packages`, relative to the venv; null when the venv could not be read.
    pub site_packages: Option<String>,
    /// The venv's Python (`pyvenv.cfg`).
    pub python: Option<String>,
    /// The Python version the lockfiles target (`project.python`).
    pub target_python: String,
    /// What `sanctuary detect --json` reports.
    pub hardware: DetectReport,
    /// The key whose lockfiles the environment was compared with; null without a
    /// `[foundation]` or when none could be chosen.
    pub key: Option<KeyChoice>,
    /// The lockfiles compared with, relative to the manifest's directory.
    pub lockfiles: Vec<String>,
    /// Every locked or installed package, by name.
    pub packages: Vec<PackageReport>,
    /// Everything found, errors first.
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

/// The key compared with, and how it was chosen.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct KeyChoice {
    pub key: String,
    pub chosen_by: KeySource,
    pub reason: String,
}

/// Where [`KeyChoice::key`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeySource {
    /// Key selection, as `sanctuary detect` chooses.
    Selection,
    /// The requested key, refused for this machine (an error finding says why).
    Requested,
    /// The local label of the installed torch build (`+cu130`), when nothing else chose.
    Installed,
}

/// One package: locked, installed, or both.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct PackageReport {
    pub name: String,
    /// `foundation` or `application`; null when not locked.
    pub layer: Option<String>,
    pub locked: Option<String>,
    pub installed: Option<String>,
    /// `INSTALLER` of the installed copy.
    pub installer: Option<String>,
    pub status: PackageStatus,
    /// Installed files that no longer match `RECORD`.
    pub files: Vec<FileMismatch>,
}

/// How an installed package compares with the lockfiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PackageStatus {
    /// Installed at the locked version, every file as `RECORD` says.
    Ok,
    /// Locked, not installed.
    Missing,
    /// Installed, in no lockfile.
    Extra,
    /// A bootstrap tool (pip, setuptools, wheel) installed and not locked.
    Bootstrap,
    /// Installed at another version than the locked one.
    OtherVersion,
    /// The locked version, but installed from an artifact that no lockfile names (its
    /// `provenance_url.json` records another sha256).
    OtherArtifact,
    /// The locked version, but installed files changed since.
    Modified,
}

/// How bad a finding is: errors make `doctor` exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// What a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// No key could be chosen for this machine.
    Key,
    /// A lockfile is absent or unreadable.
    Lockfile,
    /// The environment is absent or cannot be read.
    Environment,
    /// The venv's Python differs from the one the lockfiles target.
    Python,
    Missing,
    Extra,
    Bootstrap,
    OtherVersion,
    /// The locked version from another artifact than the locked ones.
    OtherArtifact,
    /// Installed files no longer match `RECORD`.
    ModifiedFiles,
    /// A `*.dist-info` directory that cannot be understood.
    Unreadable,
    /// An installed CUDA (or CPU) build against the driver.
    CudaBuild,
}

/// One thing found.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Finding {
    pub severity: Severity,
    pub kind: FindingKind,
    /// The package concerned, if one.
    pub package: Option<String>,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// Counts of findings.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    /// No error: the environment matches the lockfiles and runs here.
    pub ok: bool,
}

/// The JSON Schema of [`EnvironmentReport`], as in `schema/environment-report.schema.json`.
pub fn report_json_schema() -> String {
    let schema = schemars::schema_for!(EnvironmentReport);
    // Serialising a schema (plain maps and strings) cannot fail.
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serialises");
    text.push('\n');
    text
}

/// Build the report: pure but for reading the lockfiles and hashing installed files.
pub fn examine(
    manifest: &Manifest,
    keys: &KeySettings,
    detection: Detection,
    venv: &Path,
    environment: Result<Environment, crate::environment::EnvironmentError>,
) -> EnvironmentReport {
    let base = manifest.dir();
    let mut findings = Vec::new();
    let environment = match environment {
        Ok(e) => Some(e),
        Err(e) => {
            findings.push(Finding {
                severity: Severity::Error,
                kind: FindingKind::Environment,
                package: None,
                message: e.to_string(),
                hint: Some(format!(
                    "create it and install the lockfiles with `sanctuary sync` (it makes {0}), or name another with --venv",
                    display(venv, base)
                )),
            });
            None
        }
    };
    let declared = manifest
        .foundation
        .as_ref()
        .map(|f| f.keys.clone())
        .unwrap_or_default();
    let (key, selection) = choose_key(
        &declared,
        keys,
        &detection,
        environment.as_ref(),
        &mut findings,
    );
    let hardware = DetectReport {
        format: REPORT_FORMAT,
        detection,
        manifest: Some(manifest.path.display().to_string()),
        keys: declared.clone(),
        requested: keys.requested.as_ref().map(|r| r.to_string()),
        selection,
    };
    let compared = key.is_some() || declared.is_empty();
    // The environment of this machine and the venv's Python, as `sync` chooses it.
    let choice = match environments::for_venv(manifest, venv, None) {
        Ok(choice) => Some(choice),
        Err(e) => {
            findings.push(Finding {
                severity: Severity::Error,
                kind: FindingKind::Python,
                package: None,
                message: e.to_string(),
                hint: e.hint(),
            });
            None
        }
    };
    let (lockfiles, locked) = match &choice {
        Some(choice) if compared => locked_environment(
            manifest,
            key.as_ref().map(|k| k.key.as_str()),
            choice,
            &mut findings,
        ),
        _ => (Vec::new(), None),
    };

    let mut packages = Vec::new();
    if let Some(env) = &environment {
        environment_findings(manifest, env, &mut findings);
        if let Some(desired) = &locked {
            packages = compare(
                env,
                desired,
                key.as_ref().map(|k| k.key.as_str()),
                &mut findings,
            );
        }
        cuda_builds(env, &declared, &hardware.detection, &mut findings);
    }

    findings.sort_by_key(|f| f.severity);
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let summary = Summary {
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        infos: count(Severity::Info),
        ok: count(Severity::Error) == 0,
    };
    EnvironmentReport {
        format: ENVIRONMENT_REPORT_FORMAT,
        manifest: manifest.path.display().to_string(),
        venv: display(venv, base),
        site_packages: environment
            .as_ref()
            .map(|e| display(&e.site_packages, &e.root)),
        python: environment.as_ref().and_then(|e| e.python.clone()),
        target_python: manifest.python.clone(),
        hardware,
        key,
        lockfiles,
        packages,
        findings,
        summary,
    }
}

/// The key, as `detect` chooses it; if the machine refuses it, still the one asked for (or
/// the one installed), so that the report says everything at once.
fn choose_key(
    declared: &[String],
    keys: &KeySettings,
    detection: &Detection,
    environment: Option<&Environment>,
    findings: &mut Vec<Finding>,
) -> (Option<KeyChoice>, Option<hardware::Selection>) {
    if declared.is_empty() {
        return (None, None);
    }
    let e = match hardware::select_key(declared, keys, detection) {
        Ok(sel) => {
            let choice = KeyChoice {
                key: sel.key.clone(),
                chosen_by: KeySource::Selection,
                reason: sel.reason.clone(),
            };
            return (Some(choice), Some(sel));
        }
        Err(e) => e,
    };
    findings.push(Finding {
        severity: Severity::Error,
        kind: FindingKind::Key,
        package: None,
        message: e.to_string(),
        hint: e.hint(),
    });
    let key = match &e {
        SelectError::DriverTooOld { key, requested, .. } => Some(KeyChoice {
            key: key.clone(),
            chosen_by: KeySource::Requested,
            reason: format!(
                "{requested}, although this machine cannot run it: compared with its lockfiles anyway"
            ),
        }),
        _ => None,
    }
    .or_else(|| {
        let (name, version, label) = installed_label(environment?, declared)?;
        Some(KeyChoice {
            key: label.clone(),
            reason: format!(
                "no key could be chosen; the installed {name} {version} is a `{label}` build"
            ),
            chosen_by: KeySource::Installed,
        })
    });
    (key, None)
}

/// The lockfiles of `key` (as shown) and the distributions they ask for, as `sync` selects
/// them for the environment `choice` names; `None` with a finding when they cannot be read
/// or do not cover the environment.
fn locked_environment(
    manifest: &Manifest,
    key: Option<&str>,
    choice: &Choice,
    findings: &mut Vec<Finding>,
) -> (Vec<String>, Option<Vec<Desired>>) {
    let lockfile_error = |message: String, hint: Option<String>| Finding {
        severity: Severity::Error,
        kind: FindingKind::Lockfile,
        package: None,
        message,
        hint: hint.or_else(|| Some("run `sanctuary lock`".to_string())),
    };
    let (selection, environment) = match select_for(manifest, Layer::All, key, choice) {
        Ok(selected) => selected,
        Err(e) => {
            let hint = match e.innermost() {
                ErrorKind::Choice(c) => c.hint(),
                _ => None,
            };
            findings.push(lockfile_error(e.innermost().to_string(), hint));
            return (Vec::new(), None);
        }
    };
    let lockfiles = selection.files().iter().map(|l| l.rel.clone()).collect();
    match desired(manifest, &environment, &selection) {
        Ok(desired) => (lockfiles, Some(desired)),
        Err(e) => {
            findings.push(lockfile_error(e.to_string(), None));
            (lockfiles, None)
        }
    }
}

/// The venv's Python against the lockfiles', and dist-info directories that cannot be read.
fn environment_findings(manifest: &Manifest, env: &Environment, findings: &mut Vec<Finding>) {
    let base = manifest.dir();
    if let Some(py) = &env.python {
        let minor: Vec<&str> = py.split('.').take(2).collect();
        let minor = minor.join(".");
        // A universe of several minors takes any of them (each has its environment).
        let declared = if manifest.universe.is_universal() {
            manifest.universe.targets().iter().any(|t| {
                let (major, m) = t.python_minor();
                format!("{major}.{m}") == minor
            })
        } else {
            minor == manifest.python
        };
        if !declared {
            findings.push(Finding {
                severity: Severity::Warning,
                kind: FindingKind::Python,
                package: None,
                message: format!(
                    "the environment runs Python {py}, but the lockfiles target Python {}",
                    manifest.python
                ),
                hint: Some(format!(
                    "recreate the environment with Python {}, or set `project.python` and run `sanctuary lock`",
                    manifest.python
                )),
            });
        }
    }
    for u in &env.unreadable {
        findings.push(Finding {
            severity: Severity::Error,
            kind: FindingKind::Unreadable,
            package: None,
            message: format!("{}: {}", display(&u.dist_info, base), u.message),
            hint: Some(
                "reinstall the package, or remove the broken dist-info directory".to_string(),
            ),
        });
    }
}

/// The installed foundation build whose local label is a declared key (`torch 2.9.0+cu130`).
fn installed_label(env: &Environment, declared: &[String]) -> Option<(String, String, String)> {
    ["torch", "torchvision", "torchaudio"].iter().find_map(|n| {
        let d = env.distributions.iter().find(|d| d.name.as_ref() == *n)?;
        let label = local_label(&d.version)?;
        declared
            .contains(&label)
            .then(|| (n.to_string(), d.version.to_string(), label))
    })
}

fn local_label(version: &Version) -> Option<String> {
    let text = version.to_string();
    text.split_once('+').map(|(_, l)| l.to_string())
}

/// Compare the installed distributions with the desired ones, as `sync` plans: a package is
/// in place when the plan leaves it, or would only reinstall it to record its artifact (an
/// install by pip of the locked version), or could not judge it (no `RECORD`, installed
/// twice: reported apart); its files are then checked against `RECORD`.
fn compare(
    env: &Environment,
    desired: &[Desired],
    key: Option<&str>,
    findings: &mut Vec<Finding>,
) -> Vec<PackageReport> {
    let plan = SyncPlan::new(desired, env, true);
    let reasons: BTreeMap<&PackageName, &Reason> = plan
        .install
        .iter()
        .map(|i| (&i.desired.name, &i.reason))
        .collect();
    let wanted: BTreeMap<&PackageName, &Desired> = desired.iter().map(|d| (&d.name, d)).collect();
    let installed = env.by_name();
    let mut names: Vec<&PackageName> = wanted
        .keys()
        .copied()
        .chain(installed.keys().copied())
        .collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let copies = installed.get(name).cloned().unwrap_or_default();
        if copies.len() > 1 {
            findings.push(installed_twice(name, &copies));
        }
        let dist = copies.first().copied();
        let want = wanted.get(name).copied();
        let mut files = Vec::new();
        let status = match (want, dist) {
            (Some(want), None) => missing(want, key, findings),
            (None, Some(d)) => extra(d, findings),
            (Some(want), Some(d)) => match reasons.get(name) {
                Some(Reason::Version(_)) => other_version(want, d, key, findings),
                Some(Reason::Artifact(_)) => other_artifact(want, d, key, findings),
                Some(Reason::Rebuild) => outdated_build(want, findings),
                _ => {
                    files = d.verify(&env.site_packages);
                    verified(want, d, &files, findings)
                }
            },
            (None, None) => continue,
        };
        out.push(PackageReport {
            name: name.to_string(),
            layer: want.map(|w| layer_of(w).to_string()),
            locked: want.map(|w| w.version.to_string()),
            installed: dist.map(|d| d.version.to_string()),
            installer: dist.and_then(|d| d.installer.clone()),
            status,
            files,
        });
    }
    out
}

/// `foundation` or `application`.
fn layer_of(want: &Desired) -> &'static str {
    if want.layer.starts_with("foundation") {
        "foundation"
    } else {
        "application"
    }
}

/// `the cu130 Foundation`, `the application`.
fn layer_name(want: &Desired, key: Option<&str>) -> String {
    match (layer_of(want), key) {
        ("foundation", Some(k)) => format!("the {k} Foundation"),
        (l, _) => format!("the {l}"),
    }
}

fn installed_twice(name: &PackageName, copies: &[&InstalledDistribution]) -> Finding {
    let versions: Vec<String> = copies.iter().map(|d| d.version.to_string()).collect();
    Finding {
        severity: Severity::Error,
        kind: FindingKind::Unreadable,
        package: Some(name.to_string()),
        message: format!(
            "`{name}` is installed more than once: {}",
            versions.join(", ")
        ),
        hint: Some(format!(
            "remove the stale dist-info directories of `{name}` and reinstall it"
        )),
    }
}

fn missing(want: &Desired, key: Option<&str>, findings: &mut Vec<Finding>) -> PackageStatus {
    let (name, version) = (&want.name, &want.version);
    findings.push(Finding {
        severity: Severity::Error,
        kind: FindingKind::Missing,
        package: Some(name.to_string()),
        message: format!(
            "`{name}` {version} is locked in {} but not installed",
            layer_name(want, key)
        ),
        hint: Some(format!(
            "install it: `sanctuary sync` (or `pip install --no-deps {name}=={version}`)"
        )),
    });
    PackageStatus::Missing
}

fn extra(d: &InstalledDistribution, findings: &mut Vec<Finding>) -> PackageStatus {
    let name = &d.name;
    if BOOTSTRAP_TOOLS.contains(&name.as_ref()) {
        findings.push(Finding {
            severity: Severity::Info,
            kind: FindingKind::Bootstrap,
            package: Some(name.to_string()),
            message: format!(
                "`{name}` {} is installed (a bootstrap tool of the venv, in no lockfile)",
                d.version
            ),
            hint: None,
        });
        return PackageStatus::Bootstrap;
    }
    findings.push(match d.direct_url.as_ref().filter(|u| u.editable) {
        Some(u) => Finding {
            severity: Severity::Warning,
            kind: FindingKind::Extra,
            package: Some(name.to_string()),
            message: format!(
                "`{name}` {} is an editable install of {}, in no lockfile",
                d.version, u.url
            ),
            hint: None,
        },
        None => Finding {
            severity: Severity::Error,
            kind: FindingKind::Extra,
            package: Some(name.to_string()),
            message: format!("`{name}` {} is installed but in no lockfile", d.version),
            hint: Some(format!(
                "remove it (`sanctuary sync` removes what no lockfile names; `pip uninstall {name}`), or add it to the manifest's requirements and run `sanctuary lock`"
            )),
        },
    });
    PackageStatus::Extra
}

fn other_version(
    want: &Desired,
    d: &InstalledDistribution,
    key: Option<&str>,
    findings: &mut Vec<Finding>,
) -> PackageStatus {
    let (name, version) = (&want.name, &want.version);
    findings.push(Finding {
        severity: Severity::Error,
        kind: FindingKind::OtherVersion,
        package: Some(name.to_string()),
        message: format!(
            "`{name}` {} is installed, but {} locks {version}",
            d.version,
            layer_name(want, key)
        ),
        hint: Some(format!(
            "install the locked version: `sanctuary sync` (or `pip install --no-deps {name}=={version}`)"
        )),
    });
    PackageStatus::OtherVersion
}

/// The locked version, from another artifact than the one `sync` selects for this target
/// (the sha256 of its PEP 710 `provenance_url.json`).
fn other_artifact(
    want: &Desired,
    d: &InstalledDistribution,
    key: Option<&str>,
    findings: &mut Vec<Finding>,
) -> PackageStatus {
    let (name, version) = (&want.name, &want.version);
    let (url, sha256) = d
        .provenance
        .as_ref()
        .map(|p| (p.url.as_str(), p.sha256.as_deref().unwrap_or_default()))
        .unwrap_or_default();
    findings.push(Finding {
        severity: Severity::Error,
        kind: FindingKind::OtherArtifact,
        package: Some(name.to_string()),
        message: format!(
            "`{name}` {version} is installed from {url} (sha256 {sha256}), an artifact {} does not lock for this target",
            layer_name(want, key)
        ),
        hint: Some("install the locked artifact: `sanctuary sync`".to_string()),
    });
    PackageStatus::OtherArtifact
}

/// A package built from source against what has changed since (its sources, the Foundation,
/// the declared build settings): `sync` rebuilds it.
fn outdated_build(want: &Desired, findings: &mut Vec<Finding>) -> PackageStatus {
    let (name, version) = (&want.name, &want.version);
    findings.push(Finding {
        severity: Severity::Error,
        kind: FindingKind::OtherArtifact,
        package: Some(name.to_string()),
        message: format!(
            "`{name}` {version} was built from source against what has changed since (its sources, the Foundation or its build settings)"
        ),
        hint: Some("rebuild it: `sanctuary sync`".to_string()),
    });
    PackageStatus::OtherArtifact
}

/// The locked version in place: its files against `RECORD`.
fn verified(
    want: &Desired,
    d: &InstalledDistribution,
    files: &[FileMismatch],
    findings: &mut Vec<Finding>,
) -> PackageStatus {
    let (name, version) = (&want.name, &want.version);
    if !d.has_record {
        findings.push(Finding {
            severity: Severity::Warning,
            kind: FindingKind::ModifiedFiles,
            package: Some(name.to_string()),
            message: format!("`{name}` {version} has no RECORD: its files cannot be checked"),
            hint: Some(format!(
                "reinstall it: `pip install --force-reinstall --no-deps {name}=={version}`"
            )),
        });
    }
    if files.is_empty() {
        return PackageStatus::Ok;
    }
    findings.push(Finding {
        severity: Severity::Error,
        kind: FindingKind::ModifiedFiles,
        package: Some(name.to_string()),
        message: format!(
            "`{name}` {version}: {} installed file{} no longer match{} RECORD: {}",
            files.len(),
            if files.len() == 1 { "" } else { "s" },
            if files.len() == 1 { "es" } else { "" },
            list_files(files)
        ),
        hint: Some(format!(
            "reinstall it: `sanctuary sync` (or `pip install --force-reinstall --no-deps {name}=={version}`)"
        )),
    });
    PackageStatus::Modified
}

fn list_files(files: &[FileMismatch]) -> String {
    const SHOWN: usize = 5;
    let mut parts: Vec<String> = files
        .iter()
        .take(SHOWN)
        .map(|f| {
            let state = match f.state {
                FileState::Modified => "modified",
                FileState::Missing => "missing",
                FileState::Unreadable => "unreadable",
            };
            format!("{} ({state})", f.path)
        })
        .collect();
    if files.len() > SHOWN {
        parts.push(format!("and {} more", files.len() - SHOWN));
    }
    parts.join(", ")
}

/// Installed builds with a `+cuXY` label (or `+cpu`) against the driver.
fn cuda_builds(
    env: &Environment,
    declared: &[String],
    detection: &Detection,
    findings: &mut Vec<Finding>,
) {
    let mut by_need: BTreeMap<CudaVersion, Vec<String>> = BTreeMap::new();
    let mut cpu = Vec::new();
    for d in &env.distributions {
        let Some(label) = local_label(&d.version) else {
            continue;
        };
        match KeyFamily::of(&label) {
            KeyFamily::Cuda(need) => by_need
                .entry(need)
                .or_default()
                .push(format!("{} {}", d.name, d.version)),
            KeyFamily::Cpu => cpu.push(format!("{} {}", d.name, d.version)),
            KeyFamily::Other => {}
        }
    }
    // The best declared CUDA key the driver runs, for hints.
    let runnable = |cuda: Option<CudaVersion>| {
        declared.iter().find(|k| match KeyFamily::of(k) {
            KeyFamily::Cuda(v) => cuda.is_some_and(|c| c >= v),
            _ => false,
        })
    };
    for (need, builds) in by_need.iter().rev() {
        let what = builds.join(", ");
        let (is, builds_word) = if builds.len() == 1 {
            ("is a", "build")
        } else {
            ("are", "builds")
        };
        let package = builds
            .first()
            .and_then(|b| b.split(' ').next())
            .map(String::from);
        match (&detection.driver_version, detection.cuda_version) {
            (Some(_), Some(cuda)) if cuda >= *need => findings.push(Finding {
                severity: Severity::Info,
                kind: FindingKind::CudaBuild,
                package,
                message: format!("{what} {is} CUDA {need} {builds_word}; the driver runs CUDA {cuda}"),
                hint: None,
            }),
            (Some(driver), cuda) => {
                let update = hardware::cuda::DRIVER_CUDA_TABLE
                    .iter()
                    .rev()
                    .find(|(_, c)| c >= need)
                    .map(|(d, _)| format!("update the NVIDIA driver to {d} or newer"))
                    .unwrap_or_else(|| "update the NVIDIA driver".to_string());
                let instead = match runnable(cuda) {
                    Some(k) => {
                        let flag = match KeyFamily::of(k) {
                            KeyFamily::Cuda(v) if v.major == 12 => "--cuda12".to_string(),
                            KeyFamily::Cuda(v) if v.major == 13 => "--cuda13".to_string(),
                            _ => format!("--key {k}"),
                        };
                        format!("install a build this driver runs (`sanctuary sync {flag}`, key {k})")
                    }
                    None => "install the CPU build (`sanctuary sync --cpu`)".to_string(),
                };
                let runs = match cuda {
                    Some(c) => format!("runs CUDA {c} at most"),
                    None => "runs no CUDA version sanctuary knows".to_string(),
                };
                findings.push(Finding {
                    severity: Severity::Error,
                    kind: FindingKind::CudaBuild,
                    package,
                    message: format!(
                        "{what} {is} CUDA {need} {builds_word}, but the NVIDIA driver {driver} {runs}: it cannot use the GPU"
                    ),
                    hint: Some(format!("{instead}, or {update}")),
                });
            }
            (None, _) => findings.push(Finding {
                severity: Severity::Warning,
                kind: FindingKind::CudaBuild,
                package,
                message: format!(
                    "{what} {is} CUDA {need} {builds_word}, but no NVIDIA driver was found: it will run on the CPU only"
                ),
                hint: Some(
                    "on a machine without a GPU, `sanctuary sync --cpu` installs the smaller CPU build"
                        .to_string(),
                ),
            }),
        }
    }
    if !cpu.is_empty()
        && let Some(cuda) = detection.cuda_version
    {
        let hint = runnable(Some(cuda))
            .map(|k| format!("`sanctuary sync --key {k}` installs a build that uses the GPU"));
        findings.push(Finding {
            severity: Severity::Info,
            kind: FindingKind::CudaBuild,
            package: cpu
                .first()
                .and_then(|b| b.split(' ').next())
                .map(String::from),
            message: format!(
                "{} {} CPU build{}, though the NVIDIA driver runs CUDA {cuda}",
                cpu.join(", "),
                if cpu.len() == 1 { "is a" } else { "are" },
                if cpu.len() == 1 { "" } else { "s" }
            ),
            hint,
        });
    }
}
