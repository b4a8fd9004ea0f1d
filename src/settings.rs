//! The checked settings every command takes. `cli::settings` makes them from the command line
//! and the environment (each variable read once, there); commands and operations read only
//! these values.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use pep508_rs::PackageName;

use crate::hardware::KeySettings;
use crate::index::IndexSettings;
use crate::install::LinkMode;
use crate::ops::lockfiles::Layer;

/// What every command has.
#[derive(Clone, Debug)]
pub struct GlobalSettings {
    pub manifest: PathBuf,
    /// The manifest was named (`--manifest`, `SANCTUARY_MANIFEST`) rather than defaulted.
    pub manifest_named: bool,
    /// Only errors on stderr.
    pub quiet: bool,
    /// Width to wrap conflict reports at: `COLUMNS`, else the terminal's when stderr is one.
    pub report_width: Option<usize>,
}

/// What the commands that reach indexes have (`lock`, `sync`).
#[derive(Clone, Debug)]
pub struct NetworkSettings {
    pub index: IndexSettings,
    /// `SANCTUARY_INDEX_<NAME>=URL` redirections (and `_USERNAME` / `_PASSWORD`), keyed by
    /// the upper-cased rest of the variable's name.
    pub index_overrides: BTreeMap<String, String>,
}

/// `sanctuary lock`.
#[derive(Clone, Debug)]
pub struct LockSettings {
    pub global: GlobalSettings,
    pub network: NetworkSettings,
    /// Compare only; write nothing.
    pub check: bool,
    pub upgrade_all: bool,
    pub upgrade: HashSet<PackageName>,
    /// Lock the Foundation of these keys only (all declared keys when empty).
    pub keys: Vec<String>,
    /// `--timings`: where the time went, at the end.
    pub timings: bool,
}

/// How much `sync` trusts the lockfiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Freshness {
    /// Lock first when they are stale.
    #[default]
    Relock,
    /// `--locked`: refuse stale lockfiles.
    Locked,
    /// `--frozen`: install what is there, check nothing.
    Frozen,
}

/// `sanctuary sync`.
#[derive(Clone, Debug)]
pub struct SyncSettings {
    pub global: GlobalSettings,
    pub network: NetworkSettings,
    pub keys: KeySettings,
    /// The environment [default: `[sync] venv` beside the manifest].
    pub venv: Option<PathBuf>,
    pub freshness: Freshness,
    /// Print the plan; change nothing.
    pub dry_run: bool,
    /// With `--dry-run`: the plan as JSON on stdout.
    pub json: bool,
    /// The interpreter for a new venv (a path, or a name looked up on PATH).
    pub python: Option<PathBuf>,
    /// Compile the installed modules to bytecode.
    pub compile: bool,
    /// Remove what the lockfiles do not list (not with `--inexact`).
    pub exact: bool,
    pub link: LinkMode,
    /// `--timings`: where the time went, at the end.
    pub timings: bool,
}

/// `sanctuary detect`.
#[derive(Clone, Debug)]
pub struct DetectSettings {
    pub global: GlobalSettings,
    pub keys: KeySettings,
    /// Write the report as JSON.
    pub json: bool,
}

/// `sanctuary doctor`.
#[derive(Clone, Debug)]
pub struct DoctorSettings {
    pub global: GlobalSettings,
    pub keys: KeySettings,
    /// `--venv`: the environment to check instead of `[sync] venv`.
    pub venv: Option<PathBuf>,
    /// Print the report as JSON instead of the summary.
    pub json: bool,
}

/// Output formats of `sanctuary export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// Pinned requirements with `--hash` lines, for `pip install --require-hashes -r`.
    RequirementsTxt,
}

/// `sanctuary export`.
#[derive(Clone, Debug)]
pub struct ExportSettings {
    pub global: GlobalSettings,
    /// `SANCTUARY_INDEX_<NAME>` redirections: the index URLs written for pip.
    pub index_overrides: BTreeMap<String, String>,
    pub layer: Layer,
    pub key: Option<String>,
    pub format: ExportFormat,
    /// Write here instead of stdout.
    pub output: Option<PathBuf>,
    /// The declared environment to export (`--platform`, `--python`).
    pub environment: EnvironmentRequest,
}

/// `sanctuary tree`.
#[derive(Clone, Debug)]
pub struct TreeSettings {
    pub global: GlobalSettings,
    pub layer: Layer,
    pub key: Option<String>,
    /// Show what pulls this package in.
    pub invert: Option<String>,
    pub depth: Option<usize>,
    /// The declared environment to show (`--platform`, `--python`).
    pub environment: EnvironmentRequest,
}

/// One environment of the manifest's, asked for by `export` and `tree`; each part defaults
/// to the host's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvironmentRequest {
    pub platform: Option<String>,
    pub python: Option<String>,
}

/// The output formats of `sanctuary diff`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiffFormat {
    /// One line per change, grouped by layer and key; coloured on a terminal unless NO_COLOR
    /// is set.
    #[default]
    Text,
    /// A table per layer and key, to paste into a pull request.
    Markdown,
    /// The report described by schema/diff-report.schema.json.
    Json,
}

/// What `sanctuary diff` compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffSource {
    /// Two lockfiles, or two directories of lockfiles.
    Paths { old: PathBuf, new: PathBuf },
    /// The lockfiles at a git revision against the working tree.
    Git { rev: String },
}

/// `sanctuary diff`.
#[derive(Clone, Debug)]
pub struct DiffSettings {
    pub global: GlobalSettings,
    pub source: DiffSource,
    pub format: DiffFormat,
    /// Exit 1 when something changed (and 2 on errors).
    pub exit_code: bool,
}

/// `sanctuary init`.
#[derive(Clone, Debug)]
pub struct InitSettings {
    pub global: GlobalSettings,
    /// Add the PyTorch index and hardware keys.
    pub foundation: bool,
    /// The project's name [default: the directory's].
    pub name: Option<String>,
    /// The Python version [default: the interpreter's on PATH, else 3.12].
    pub python: Option<String>,
}
