//! `sanctuary doctor`: is the environment what the lockfiles say, and will it run on this
//! machine?
//!
//! It detects the hardware and chooses a key as `sanctuary detect` does, reads the venv
//! (`[sync] venv` beside the manifest, or `--venv`) through [`crate::environment`], and
//! compares it with the Foundation lockfile of that key and the Application lockfile:
//! packages missing, extra (the bootstrap tools pip, setuptools and wheel are only noted),
//! at other versions, at the locked version from an artifact no lockfile names (the sha256
//! of its PEP 710 `provenance_url.json`), or with installed files whose sha256 no longer
//! matches `RECORD`. It
//! checks that the installed CUDA builds (`torch 2.9.0+cu130`) run on the driver. It writes
//! `reports/environment_report.md` and `.json` ([`EnvironmentReport`],
//! `schema/environment-report.schema.json`) beside the manifest, prints a summary (or the
//! JSON with `--json`) and exits 1 when any finding is an error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use pep440_rs::Version;
use pep508_rs::PackageName;
use schemars::JsonSchema;
use serde::Serialize;

use crate::cli::GlobalSettings;
use crate::commands::detect;
use crate::commands::lock::{
    APPLICATION_LOCKFILE, application_lockfile_for, foundation_lockfile, write_atomically,
};
use crate::environment::{Environment, FileMismatch, FileState, InstalledDistribution};
use crate::hardware::{
    self, CudaVersion, DetectReport, Detection, KeyFamily, KeySettings, REPORT_FORMAT, SelectError,
};
use crate::lock::Lockfile;
use crate::manifest::Manifest;

/// Checked settings of `sanctuary doctor`.
#[derive(Clone, Debug)]
pub struct DoctorSettings {
    pub global: GlobalSettings,
    pub keys: KeySettings,
    /// `--venv`: the environment to check instead of `[sync] venv`.
    pub venv: Option<PathBuf>,
    /// Print the report as JSON instead of the summary.
    pub json: bool,
}

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

/// Run `sanctuary doctor`.
pub fn doctor(settings: &DoctorSettings) -> Result<ExitCode> {
    let manifest = Manifest::read(&settings.global.manifest)?;
    let base = manifest.dir().to_path_buf();
    let venv = match &settings.venv {
        Some(v) => v.clone(),
        None => base.join(&manifest.venv),
    };
    let detection = hardware::detect(&settings.keys);
    let environment = Environment::read(&venv);
    let report = examine(&manifest, &settings.keys, detection, &venv, environment);

    let reports = base.join("reports");
    let mut json = serde_json::to_string_pretty(&report).context("cannot serialise the report")?;
    json.push('\n');
    write_atomically(
        &reports.join("environment_report.md"),
        &render_markdown(&report),
    )?;
    write_atomically(&reports.join("environment_report.json"), &json)?;
    if settings.json {
        print!("{json}");
    } else if !settings.global.quiet {
        print!("{}", render_summary(&report));
        println!(
            "reports:  {} and .json",
            display(&reports.join("environment_report.md"), &base)
        );
    }
    Ok(if report.summary.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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

    // The key, as `detect` chooses it; if the machine refuses it, still compare with
    // what was asked for (or what is installed), so the report says everything at once.
    let declared = manifest
        .foundation
        .as_ref()
        .map(|f| f.keys.clone())
        .unwrap_or_default();
    let mut selection = None;
    let mut key = None;
    if !declared.is_empty() {
        match hardware::select_key(&declared, keys, &detection) {
            Ok(sel) => {
                key = Some(KeyChoice {
                    key: sel.key.clone(),
                    chosen_by: KeySource::Selection,
                    reason: sel.reason.clone(),
                });
                selection = Some(sel);
            }
            Err(e) => {
                findings.push(Finding {
                    severity: Severity::Error,
                    kind: FindingKind::Key,
                    package: None,
                    message: e.to_string(),
                    hint: e.hint(),
                });
                key = match &e {
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
                    let env = environment.as_ref()?;
                    let (name, version, label) = installed_label(env, &declared)?;
                    Some(KeyChoice {
                        key: label.clone(),
                        reason: format!(
                            "no key could be chosen; the installed {name} {version} is a `{label}` build"
                        ),
                        chosen_by: KeySource::Installed,
                    })
                });
            }
        }
    }
    let hardware = DetectReport {
        format: REPORT_FORMAT,
        detection,
        manifest: Some(manifest.path.display().to_string()),
        keys: declared.clone(),
        requested: keys.requested.as_ref().map(|r| r.to_string()),
        selection,
    };

    // The lockfiles of that key.
    let lock_dir = base.join("lockfiles");
    let mut files: Vec<(&str, PathBuf)> = Vec::new();
    if let Some(k) = &key {
        files.push(("foundation", lock_dir.join(foundation_lockfile(&k.key))));
        files.push(("application", application_lockfile_for(&lock_dir, &k.key)));
    } else if declared.is_empty() {
        files.push(("application", lock_dir.join(APPLICATION_LOCKFILE)));
    }
    let mut locked: BTreeMap<PackageName, Locked> = BTreeMap::new();
    let mut lockfiles = Vec::new();
    let mut compared = key.is_some() || declared.is_empty();
    for (layer, path) in &files {
        lockfiles.push(display(path, base));
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| Lockfile::parse(&t).map_err(|e| e.to_string()));
        match parsed {
            Ok(lock) => {
                for p in lock.packages {
                    locked.entry(p.name).or_insert(Locked {
                        version: p.version,
                        layer,
                        sha256s: p.wheels.into_iter().map(|w| w.sha256).collect(),
                    });
                }
            }
            Err(e) => {
                compared = false;
                findings.push(Finding {
                    severity: Severity::Error,
                    kind: FindingKind::Lockfile,
                    package: None,
                    message: format!(
                        "cannot read the {layer} lockfile {}: {e}",
                        display(path, base)
                    ),
                    hint: Some("run `sanctuary lock`".to_string()),
                });
            }
        }
    }

    let mut packages = Vec::new();
    if let Some(env) = &environment {
        if let Some(py) = &env.python {
            let minor: Vec<&str> = py.split('.').take(2).collect();
            if minor.join(".") != manifest.python {
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
        if compared {
            packages = compare(
                env,
                &locked,
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

/// What the lockfiles say of one package.
struct Locked<'a> {
    version: Version,
    layer: &'a str,
    /// The sha256 of every locked wheel.
    sha256s: BTreeSet<String>,
}

/// Compare the installed distributions with the locked versions.
fn compare(
    env: &Environment,
    locked: &BTreeMap<PackageName, Locked>,
    key: Option<&str>,
    findings: &mut Vec<Finding>,
) -> Vec<PackageReport> {
    let installed = env.by_name();
    let mut names: Vec<&PackageName> = locked.keys().chain(installed.keys().copied()).collect();
    names.sort();
    names.dedup();
    let layer_name = |layer: &str| match (layer, key) {
        ("foundation", Some(k)) => format!("the {k} Foundation"),
        (l, _) => format!("the {l}"),
    };
    let mut out = Vec::new();
    for name in names {
        let copies = installed.get(name).cloned().unwrap_or_default();
        let dist: Option<&InstalledDistribution> = copies.first().copied();
        if copies.len() > 1 {
            let versions: Vec<String> = copies.iter().map(|d| d.version.to_string()).collect();
            findings.push(Finding {
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
            });
        }
        let lock = locked.get(name);
        let mut files = Vec::new();
        // The artifact the installer recorded (PEP 710), when no lockfile names it.
        let other_artifact = lock.zip(dist).and_then(|(lock, d)| {
            d.provenance
                .as_ref()
                .filter(|p| p.sha256.as_ref().is_some_and(|h| !lock.sha256s.contains(h)))
        });
        let status = match (lock.map(|l| (&l.version, l.layer)), dist, other_artifact) {
            (Some((version, layer)), None, _) => {
                findings.push(Finding {
                    severity: Severity::Error,
                    kind: FindingKind::Missing,
                    package: Some(name.to_string()),
                    message: format!("`{name}` {version} is locked in {} but not installed", layer_name(layer)),
                    hint: Some(format!("install it: `sanctuary sync` (or `pip install --no-deps {name}=={version}`)")),
                });
                PackageStatus::Missing
            }
            (None, Some(d), _) if BOOTSTRAP_TOOLS.contains(&name.as_ref()) => {
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
                PackageStatus::Bootstrap
            }
            (None, Some(d), _) => {
                let editable = d.direct_url.as_ref().filter(|u| u.editable);
                findings.push(match editable {
                    Some(u) => Finding {
                        severity: Severity::Warning,
                        kind: FindingKind::Extra,
                        package: Some(name.to_string()),
                        message: format!("`{name}` {} is an editable install of {}, in no lockfile", d.version, u.url),
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
            (Some((version, layer)), Some(d), _) if &d.version != version => {
                findings.push(Finding {
                    severity: Severity::Error,
                    kind: FindingKind::OtherVersion,
                    package: Some(name.to_string()),
                    message: format!("`{name}` {} is installed, but {} locks {version}", d.version, layer_name(layer)),
                    hint: Some(format!("install the locked version: `sanctuary sync` (or `pip install --no-deps {name}=={version}`)")),
                });
                PackageStatus::OtherVersion
            }
            (Some((version, layer)), Some(_), Some(provenance)) => {
                findings.push(Finding {
                    severity: Severity::Error,
                    kind: FindingKind::OtherArtifact,
                    package: Some(name.to_string()),
                    message: format!(
                        "`{name}` {version} is installed from {} (sha256 {}), an artifact {} does not lock",
                        provenance.url,
                        provenance.sha256.as_deref().unwrap_or_default(),
                        layer_name(layer)
                    ),
                    hint: Some("install the locked artifact: `sanctuary sync`".to_string()),
                });
                PackageStatus::OtherArtifact
            }
            (Some((version, _)), Some(d), None) => {
                files = d.verify(&env.site_packages);
                if !d.has_record {
                    findings.push(Finding {
                        severity: Severity::Warning,
                        kind: FindingKind::ModifiedFiles,
                        package: Some(name.to_string()),
                        message: format!("`{name}` {version} has no RECORD: its files cannot be checked"),
                        hint: Some(format!("reinstall it: `pip install --force-reinstall --no-deps {name}=={version}`")),
                    });
                }
                if files.is_empty() {
                    PackageStatus::Ok
                } else {
                    findings.push(Finding {
                        severity: Severity::Error,
                        kind: FindingKind::ModifiedFiles,
                        package: Some(name.to_string()),
                        message: format!(
                            "`{name}` {version}: {} installed file{} no longer match{} RECORD: {}",
                            files.len(),
                            if files.len() == 1 { "" } else { "s" },
                            if files.len() == 1 { "es" } else { "" },
                            list_files(&files)
                        ),
                        hint: Some(format!(
                            "reinstall it: `sanctuary sync` (or `pip install --force-reinstall --no-deps {name}=={version}`)"
                        )),
                    });
                    PackageStatus::Modified
                }
            }
            (None, None, _) => continue,
        };
        out.push(PackageReport {
            name: name.to_string(),
            layer: lock.map(|l| l.layer.to_string()),
            locked: lock.map(|l| l.version.to_string()),
            installed: dist.map(|d| d.version.to_string()),
            installer: dist.and_then(|d| d.installer.clone()),
            status,
            files,
        });
    }
    out
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

/// `path` relative to `base` when inside it.
pub(crate) fn display(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn status_word(s: PackageStatus) -> &'static str {
    match s {
        PackageStatus::Ok => "ok",
        PackageStatus::Missing => "missing",
        PackageStatus::Extra => "extra",
        PackageStatus::Bootstrap => "bootstrap",
        PackageStatus::OtherVersion => "other version",
        PackageStatus::OtherArtifact => "other artifact",
        PackageStatus::Modified => "modified",
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    }
}

fn verdict(report: &EnvironmentReport) -> String {
    let s = &report.summary;
    let counts = format!(
        "{} error{}, {} warning{}, {} note{}",
        s.errors,
        if s.errors == 1 { "" } else { "s" },
        s.warnings,
        if s.warnings == 1 { "" } else { "s" },
        s.infos,
        if s.infos == 1 { "" } else { "s" }
    );
    if s.ok {
        format!("ok: the environment matches the lockfiles and runs here ({counts})")
    } else {
        format!("not ok: {counts}")
    }
}

/// The summary printed on stdout.
pub fn render_summary(report: &EnvironmentReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "venv:     {}", report.venv);
    if let Some(py) = &report.python {
        let _ = writeln!(
            out,
            "python:   {py} (lockfiles target {})",
            report.target_python
        );
    }
    let d = &report.hardware.detection;
    let _ = match (&d.driver_version, d.cuda_version) {
        (Some(v), Some(c)) => writeln!(out, "driver:   {v} (CUDA {c} at most)"),
        (Some(v), None) => writeln!(out, "driver:   {v}"),
        (None, _) => writeln!(out, "driver:   none found"),
    };
    match &report.key {
        Some(k) => {
            let _ = writeln!(out, "key:      {} ({})", k.key, k.reason);
        }
        None if report.hardware.keys.is_empty() => {
            let _ = writeln!(out, "key:      none (no [foundation])");
        }
        None => {
            let _ = writeln!(out, "key:      none could be chosen");
        }
    }
    for l in &report.lockfiles {
        let _ = writeln!(out, "lockfile: {l}");
    }
    let counts = report.packages.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(status_word(p.status)).or_insert(0usize) += 1;
        m
    });
    if !counts.is_empty() {
        let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
        let _ = writeln!(out, "packages: {}", parts.join(", "));
    }
    for f in &report.findings {
        let _ = writeln!(out, "{}: {}", severity_word(f.severity), f.message);
        if let Some(h) = &f.hint {
            let _ = writeln!(out, "  hint: {h}");
        }
    }
    let _ = writeln!(out, "{}", verdict(report));
    out
}

/// `reports/environment_report.md`.
pub fn render_markdown(report: &EnvironmentReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Environment report\n");
    let _ = writeln!(out, "**{}**\n", verdict(report));
    let _ = writeln!(out, "- manifest: `{}`", report.manifest);
    let _ = writeln!(out, "- venv: `{}`", report.venv);
    if let Some(sp) = &report.site_packages {
        let _ = writeln!(out, "- site-packages: `{sp}`");
    }
    let _ = writeln!(
        out,
        "- python: {} (lockfiles target {})",
        report.python.as_deref().unwrap_or("unknown"),
        report.target_python
    );
    match &report.key {
        Some(k) => {
            let _ = writeln!(out, "- key: `{}`: {}", k.key, k.reason);
        }
        None => {
            let _ = writeln!(out, "- key: none");
        }
    }
    for l in &report.lockfiles {
        let _ = writeln!(out, "- lockfile: `{l}`");
    }
    let _ = writeln!(out, "\n## Findings\n");
    if report.findings.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for f in &report.findings {
        let _ = writeln!(out, "- **{}**: {}", severity_word(f.severity), f.message);
        if let Some(h) = &f.hint {
            let _ = writeln!(out, "  - hint: {h}");
        }
    }
    let _ = writeln!(out, "\n## Packages\n");
    let _ = writeln!(
        out,
        "| package | layer | locked | installed | installer | status |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    for p in &report.packages {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            p.name,
            cell(&p.layer),
            cell(&p.locked),
            cell(&p.installed),
            cell(&p.installer),
            status_word(p.status)
        );
    }
    let modified: Vec<&PackageReport> = report
        .packages
        .iter()
        .filter(|p| !p.files.is_empty())
        .collect();
    if !modified.is_empty() {
        let _ = writeln!(out, "\n## Files that no longer match RECORD\n");
        for p in modified {
            for f in &p.files {
                let _ = writeln!(
                    out,
                    "- `{}` {}: `{}` expected `{}`, found `{}`",
                    p.name,
                    match f.state {
                        FileState::Modified => "modified",
                        FileState::Missing => "missing",
                        FileState::Unreadable => "unreadable",
                    },
                    f.path,
                    f.expected,
                    f.actual.as_deref().unwrap_or("-")
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n## Hardware\n\n```text\n{}```",
        detect::render(&report.hardware)
    );
    out
}
