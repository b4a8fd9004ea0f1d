//! The command line as clap sees it: the types only. [`super::settings`] turns them (and
//! the environment) into checked settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Locks and installs Python environments for ML teams.
#[derive(Debug, Parser)]
#[command(name = "sanctuary", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The manifest to use [default: ./sanctuary.toml].
    #[arg(long, global = true, env = "SANCTUARY_MANIFEST", value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// More logging on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// Options of the commands that reach package indexes (`lock`, `sync`).
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// Cache directory [default: the user cache dir].
    #[arg(long, env = "SANCTUARY_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use the cache only; make no network request.
    #[arg(long)]
    pub offline: bool,
    /// Ignore cached index pages and metadata.
    #[arg(long, conflicts_with = "offline")]
    pub refresh: bool,
    /// Most HTTP requests in flight at once.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub concurrency: usize,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented sanctuary.toml to start from (never overwrites one).
    Init(InitArgs),
    /// Resolve the manifest and write hashed PEP 751 lockfiles under `lockfiles/`.
    Lock(LockArgs),
    /// Make the virtual environment exactly what this machine's lockfiles say: install,
    /// replace and remove, locking first when the lockfiles are stale.
    Sync(SyncArgs),
    /// Show the NVIDIA driver, CUDA and GPUs found, and the hardware key this machine takes.
    Detect(DetectArgs),
    /// Check the environment against the lockfiles of this machine's key, and the installed
    /// CUDA builds against the driver; exit 1 on any error.
    Doctor(DoctorArgs),
    /// Write a layer's lockfile as a hashed requirements.txt for `pip install --require-hashes`.
    Export(ExportArgs),
    /// Show the dependency tree of a layer's lockfile.
    Tree(TreeArgs),
    /// Show what changed between two sets of lockfiles, grouped by layer and key, for review.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub network: NetworkArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Print where the time went (each phase, requests and bytes) on stderr at the end.
    #[arg(long)]
    pub timings: bool,
    /// The environment to sync [default: `[sync] venv` beside the manifest].
    #[arg(long, value_name = "DIR")]
    pub venv: Option<PathBuf>,
    /// Refuse to install when the lockfiles are stale (for CI), instead of locking first.
    #[arg(long, conflicts_with = "frozen")]
    pub locked: bool,
    /// Install the lockfiles as they are, without checking that they are up to date.
    #[arg(long)]
    pub frozen: bool,
    /// Print what would be installed and removed (on stdout); change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print the plan as JSON.
    #[arg(long, requires = "dry_run")]
    pub json: bool,
    /// The interpreter of a new environment: a path, a name on PATH, or a version (`3.12`:
    /// the python3.12 on PATH) [default: the first of python3.X, python3, python on PATH that
    /// is the manifest's Python; for a range, the newest declared minor found].
    #[arg(long, value_name = "PATH|VERSION")]
    pub python: Option<PathBuf>,
    /// Compile the installed Python files to bytecode.
    #[arg(long)]
    pub compile: bool,
    /// Keep packages the lockfiles do not list, instead of removing them.
    #[arg(long)]
    pub inexact: bool,
    /// How files get from the wheel cache into the environment.
    #[arg(long, value_enum, default_value = "hardlink", value_name = "MODE")]
    pub link_mode: LinkModeArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LinkModeArg {
    /// Hard links into the cache (copies where the file system cannot link).
    Hardlink,
    /// Independent copies.
    Copy,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// The environment to check [default: `[sync] venv` beside the manifest].
    #[arg(long, value_name = "DIR")]
    pub venv: Option<PathBuf>,
    /// Print the report as JSON (schema: schema/environment-report.schema.json).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The layer to export; `all` is the Foundation and Application of one key together.
    #[arg(long, value_enum)]
    pub layer: LayerArg,
    /// The hardware key (needed when the layer's lockfiles differ per key).
    #[arg(long, value_name = "TAG")]
    pub key: Option<String>,
    /// The output format.
    #[arg(long, value_enum, default_value = "requirements-txt")]
    pub format: ExportFormatArg,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// With a manifest declaring several environments: the platform whose pins to export
    /// (one of `[project] platforms`, e.g. macos-arm64) [default: this machine's].
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// With a manifest declaring several environments: the Python minor whose pins to export
    /// (one `python` declares, e.g. 3.12) [default: the Python of the manifest's venv].
    #[arg(long, value_name = "VERSION")]
    pub python: Option<String>,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// The layer to show; `all` is the Foundation and Application of one key together.
    #[arg(long, value_enum, default_value = "application")]
    pub layer: LayerArg,
    /// The hardware key (needed when the layer's lockfiles differ per key).
    #[arg(long, value_name = "TAG")]
    pub key: Option<String>,
    /// Show what pulls this package in, up to the layer's own requirements.
    #[arg(short, long, value_name = "PACKAGE")]
    pub invert: Option<String>,
    /// Draw this many levels below the top (0: the top only).
    #[arg(long, value_name = "N")]
    pub depth: Option<usize>,
    /// With a manifest declaring several environments: the platform whose pins to show
    /// (one of `[project] platforms`, e.g. macos-arm64) [default: this machine's].
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<String>,
    /// With a manifest declaring several environments: the Python minor whose pins to show
    /// (one `python` declares, e.g. 3.12) [default: the Python of the manifest's venv].
    #[arg(long, value_name = "VERSION")]
    pub python: Option<String>,
}

/// `sanctuary diff OLD NEW` or `sanctuary diff --git [REV]`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old lockfile, or the old `lockfiles/` directory (files pair by name).
    #[arg(value_name = "OLD", requires = "new")]
    pub old: Option<PathBuf>,
    /// The new lockfile, or the new `lockfiles/` directory.
    #[arg(value_name = "NEW")]
    pub new: Option<PathBuf>,
    /// Compare the manifest's lockfiles at this git revision [default: HEAD] with the
    /// working tree.
    #[arg(long, value_name = "REV", num_args = 0..=1, default_missing_value = "HEAD",
          conflicts_with_all = ["old", "new"])]
    pub git: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: DiffFormatArg,
    /// Exit 1 when something changed and 0 when nothing did, like `git diff --exit-code`;
    /// errors then exit 2 (without this flag: 0, or 1 on an error).
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// Write the report as JSON (schema: schema/detect-report.schema.json).
    #[arg(long)]
    pub json: bool,
}

/// The choice of a hardware key, shared by `detect`, `lock` and `sync`. Without a flag,
/// `SANCTUARY_KEY`, else detection (`SANCTUARY_CUDA_DRIVER_VERSION` pretends a driver).
#[derive(Clone, Debug, Default, Args)]
pub struct KeyArgs {
    /// Take the best declared CUDA 13 key (cu13x) that the driver runs.
    #[arg(long, conflicts_with_all = ["cuda12", "cpu", "key"])]
    pub cuda13: bool,
    /// Take the best declared CUDA 12 key (cu12x) that the driver runs.
    #[arg(long, conflicts_with_all = ["cpu", "key"])]
    pub cuda12: bool,
    /// Take the `cpu` key.
    #[arg(long, conflicts_with = "key")]
    pub cpu: bool,
    /// Take this declared key (e.g. cu128, rocm6-4).
    #[arg(long, value_name = "TAG")]
    pub key: Option<String>,
    /// Use the asked-for key even when the NVIDIA driver is too old to run it.
    #[arg(long)]
    pub ignore_driver: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(flatten)]
    pub network: NetworkArgs,
    /// Write nothing; exit 1 naming what is stale when the manifest changed since the
    /// lockfiles were written.
    #[arg(long)]
    pub check: bool,
    /// Ignore the versions in the existing lockfiles.
    #[arg(short = 'U', long)]
    pub upgrade: bool,
    /// Ignore the locked version of this package (repeatable).
    #[arg(short = 'P', long = "upgrade-package", value_name = "NAME")]
    pub upgrade_package: Vec<String>,
    /// Lock the Foundation of this hardware key only (repeatable; default: every declared
    /// key). The Application is still checked against every key's Foundation.
    #[arg(long = "key", value_name = "TAG")]
    pub keys: Vec<String>,
    /// Print where the time went (each phase, requests and bytes) on stderr at the end.
    #[arg(long)]
    pub timings: bool,
}

/// `sanctuary init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also declare the PyTorch index and hardware keys (a Foundation).
    #[arg(long)]
    pub foundation: bool,
    /// The project's name [default: the directory's name].
    #[arg(long)]
    pub name: Option<String>,
    /// The Python version the lockfiles target [default: the python3 on PATH, else 3.12].
    #[arg(long, value_name = "VERSION")]
    pub python: Option<String>,
}

/// Which lockfiles a command reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LayerArg {
    /// The Foundation of one hardware key.
    Foundation,
    /// The Application (shared, or of one key).
    Application,
    /// The Foundation and the Application of one key together: the whole environment.
    All,
}

/// Output formats of `sanctuary export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormatArg {
    /// Pinned requirements with `--hash` lines, for `pip install --require-hashes -r`.
    RequirementsTxt,
}

/// The output formats of `sanctuary diff`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormatArg {
    /// One line per change, grouped by layer and key; coloured on a terminal unless NO_COLOR
    /// is set.
    #[default]
    Text,
    /// A table per layer and key, to paste into a pull request.
    Markdown,
    /// The report described by schema/diff-report.schema.json.
    Json,
}
