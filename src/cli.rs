//! The command line: clap definitions, parsed into checked settings that the commands take,
//! and the one place where errors become messages (with `hint:` lines) and exit codes.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};
use pep508_rs::PackageName;

use crate::commands;
use crate::index::{IndexError, IndexSettings};

/// Locks and installs Python environments for ML teams.
#[derive(Debug, Parser)]
#[command(name = "sanctuary", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// The manifest to use [default: ./sanctuary.toml].
    #[arg(long, global = true, env = "SANCTUARY_MANIFEST", value_name = "PATH")]
    manifest: Option<PathBuf>,
    /// Cache directory [default: the user cache dir].
    #[arg(long, global = true, env = "SANCTUARY_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Use the cache only; make no network request.
    #[arg(long, global = true)]
    offline: bool,
    /// Ignore cached index pages and metadata.
    #[arg(long, global = true, conflicts_with = "offline")]
    refresh: bool,
    /// Most HTTP requests in flight at once.
    #[arg(long, global = true, default_value_t = 64, value_name = "N")]
    concurrency: usize,
    /// More logging on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
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
struct SyncArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// The environment to sync [default: `[sync] venv` beside the manifest].
    #[arg(long, value_name = "DIR")]
    venv: Option<PathBuf>,
    /// Refuse to install when the lockfiles are stale (for CI), instead of locking first.
    #[arg(long, conflicts_with = "frozen")]
    locked: bool,
    /// Install the lockfiles as they are, without checking that they are up to date.
    #[arg(long)]
    frozen: bool,
    /// Print what would be installed and removed; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// The interpreter of a new environment: a path, or a name on PATH [default: the first
    /// of python3.X, python3, python on PATH that is the manifest's Python].
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
    /// Compile the installed Python files to bytecode.
    #[arg(long)]
    compile: bool,
    /// Keep packages the lockfiles do not list, instead of removing them.
    #[arg(long)]
    inexact: bool,
    /// How files get from the wheel cache into the environment.
    #[arg(long, value_enum, default_value = "hardlink", value_name = "MODE")]
    link_mode: LinkModeArg,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LinkModeArg {
    /// Hard links into the cache (copies where the file system cannot link).
    Hardlink,
    /// Independent copies.
    Copy,
}

#[derive(Debug, Args)]
struct DoctorArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// The environment to check [default: `[sync] venv` beside the manifest].
    #[arg(long, value_name = "DIR")]
    venv: Option<PathBuf>,
    /// Print the report as JSON (schema: schema/environment-report.schema.json).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// The layer to export; `all` is the Foundation and Application of one key together.
    #[arg(long, value_enum)]
    layer: commands::export::Layer,
    /// The hardware key (needed when the layer's lockfiles differ per key).
    #[arg(long, value_name = "TAG")]
    key: Option<String>,
    /// The output format.
    #[arg(long, value_enum, default_value = "requirements-txt")]
    format: commands::export::ExportFormat,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct TreeArgs {
    /// The layer to show; `all` is the Foundation and Application of one key together.
    #[arg(long, value_enum, default_value = "application")]
    layer: commands::export::Layer,
    /// The hardware key (needed when the layer's lockfiles differ per key).
    #[arg(long, value_name = "TAG")]
    key: Option<String>,
    /// Show what pulls this package in, up to the layer's own requirements.
    #[arg(short, long, value_name = "PACKAGE")]
    invert: Option<String>,
    /// Draw this many levels below the top (0: the top only).
    #[arg(long, value_name = "N")]
    depth: Option<usize>,
}

/// `sanctuary diff OLD NEW` or `sanctuary diff --git [REV]`.
#[derive(Debug, Args)]
struct DiffArgs {
    /// The old lockfile, or the old `lockfiles/` directory (files pair by name).
    #[arg(value_name = "OLD", required_unless_present = "git", requires = "new")]
    old: Option<PathBuf>,
    /// The new lockfile, or the new `lockfiles/` directory.
    #[arg(value_name = "NEW")]
    new: Option<PathBuf>,
    /// Compare the manifest's lockfiles at this git revision [default: HEAD] with the
    /// working tree.
    #[arg(long, value_name = "REV", num_args = 0..=1, default_missing_value = "HEAD",
          conflicts_with_all = ["old", "new"])]
    git: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: commands::diff::DiffFormat,
    /// Exit 1 when something changed and 0 when nothing did, like `git diff --exit-code`;
    /// errors then exit 2 (without this flag: 0, or 1 on an error).
    #[arg(long)]
    exit_code: bool,
}

#[derive(Debug, Args)]
struct DetectArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Write the report as JSON (schema: schema/detect-report.schema.json).
    #[arg(long)]
    json: bool,
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

impl KeyArgs {
    /// The flag, if any.
    pub fn request(&self) -> Option<crate::hardware::KeyRequest> {
        use crate::hardware::KeyRequest;
        match self {
            KeyArgs { cuda13: true, .. } => Some(KeyRequest::Cuda13),
            KeyArgs { cuda12: true, .. } => Some(KeyRequest::Cuda12),
            KeyArgs { cpu: true, .. } => Some(KeyRequest::Cpu),
            KeyArgs { key: Some(k), .. } => Some(KeyRequest::Key(k.clone())),
            _ => None,
        }
    }

    /// Checked settings: the flags with `SANCTUARY_KEY`, `SANCTUARY_CUDA_DRIVER_VERSION` and
    /// `SANCTUARY_HARDWARE_ROOT` (probe a directory standing for `/`, for tests).
    pub fn settings(&self) -> Result<crate::hardware::KeySettings> {
        let env = |name: &str| std::env::var(name).ok();
        let mut settings = crate::hardware::KeySettings::new(
            self.request(),
            env("SANCTUARY_KEY").as_deref(),
            env("SANCTUARY_CUDA_DRIVER_VERSION").as_deref(),
            self.ignore_driver,
        )?;
        settings.hardware_root = crate::hardware::hardware_root_from_env();
        Ok(settings)
    }
}

#[derive(Debug, Args)]
struct LockArgs {
    /// Write nothing; exit 1 naming what is stale when the manifest changed since the
    /// lockfiles were written.
    #[arg(long)]
    check: bool,
    /// Ignore the versions in the existing lockfiles.
    #[arg(short = 'U', long)]
    upgrade: bool,
    /// Ignore the locked version of this package (repeatable).
    #[arg(short = 'P', long = "upgrade-package", value_name = "NAME")]
    upgrade_package: Vec<String>,
    /// Lock the Foundation of this hardware key only (repeatable; default: every declared
    /// key). The Application is still checked against every key's Foundation.
    #[arg(long = "key", value_name = "TAG")]
    keys: Vec<String>,
}

/// Entry point of the binary: run, and turn an error into a message and an exit code.
pub fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            report(&err);
            ExitCode::FAILURE
        }
    }
}

/// Parse the command line and run the command.
pub fn run() -> Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with success; usage errors exit 2.
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return Ok(ExitCode::from(code));
        }
    };
    init_logging(cli.global.verbose, cli.global.quiet);
    let manifest_named = cli.global.manifest.is_some();
    let global = GlobalSettings::from_args(&cli.global)?;
    match cli.command {
        Command::Lock(args) => {
            let settings = commands::lock::LockSettings::from_args(global, &args)?;
            commands::lock::lock(&settings)
        }
        Command::Sync(args) => {
            use commands::sync::{Freshness, SyncSettings};
            let settings = SyncSettings {
                global,
                keys: args.key.settings()?,
                venv: args.venv,
                freshness: match (args.locked, args.frozen) {
                    (true, _) => Freshness::Locked,
                    (_, true) => Freshness::Frozen,
                    _ => Freshness::Relock,
                },
                dry_run: args.dry_run,
                python: args.python,
                compile: args.compile,
                exact: !args.inexact,
                link: match args.link_mode {
                    LinkModeArg::Hardlink => crate::install::LinkMode::Hardlink,
                    LinkModeArg::Copy => crate::install::LinkMode::Copy,
                },
            };
            commands::sync::sync(&settings)
        }
        Command::Detect(args) => {
            let settings = commands::detect::DetectSettings {
                global,
                keys: args.key.settings()?,
                json: args.json,
                manifest_named,
            };
            commands::detect::detect(&settings)
        }
        Command::Doctor(args) => {
            let settings = commands::doctor::DoctorSettings {
                global,
                keys: args.key.settings()?,
                venv: args.venv,
                json: args.json,
            };
            commands::doctor::doctor(&settings)
        }
        Command::Export(args) => commands::export::export(&commands::export::ExportSettings {
            global,
            layer: args.layer,
            key: args.key,
            format: args.format,
            output: args.output,
        }),
        Command::Tree(args) => commands::tree::tree(&commands::tree::TreeSettings {
            global,
            layer: args.layer,
            key: args.key,
            invert: args.invert,
            depth: args.depth,
        }),
        Command::Diff(args) => {
            let settings = commands::diff::DiffSettings::from_args(global, args);
            // With --exit-code, 1 means "changed": errors take 2, as with diff(1).
            commands::diff::diff(&settings).or_else(|err| {
                if !settings.exit_code {
                    return Err(err);
                }
                report(&err);
                Ok(ExitCode::from(2))
            })
        }
    }
}

/// Settings shared by every command, checked.
#[derive(Clone, Debug)]
pub struct GlobalSettings {
    pub manifest: PathBuf,
    pub index: IndexSettings,
    /// `SANCTUARY_INDEX_<NAME>=URL` redirections, keyed by upper-cased index name.
    pub index_overrides: BTreeMap<String, String>,
    pub quiet: bool,
    /// Width to wrap conflict reports at: `COLUMNS`, else the terminal's when stderr is one.
    pub report_width: Option<usize>,
}

impl GlobalSettings {
    fn from_args(args: &GlobalArgs) -> Result<Self> {
        let cache_dir = match &args.cache_dir {
            Some(dir) => dir.clone(),
            None => dirs::cache_dir()
                .map(|d| d.join("sanctuary"))
                .context("no user cache directory on this system; set SANCTUARY_CACHE_DIR")?,
        };
        if args.concurrency == 0 {
            anyhow::bail!("--concurrency must be at least 1");
        }
        let index_overrides = std::env::vars()
            .filter_map(|(k, v)| {
                k.strip_prefix("SANCTUARY_INDEX_")
                    .map(|name| (name.to_string(), v))
            })
            .collect();
        Ok(GlobalSettings {
            manifest: args
                .manifest
                .clone()
                .unwrap_or_else(|| PathBuf::from("sanctuary.toml")),
            index: IndexSettings {
                cache_dir,
                offline: args.offline,
                refresh: args.refresh,
                concurrency: args.concurrency,
                http: http_timeouts()?,
                netrc: netrc_path(),
            },
            index_overrides,
            quiet: args.quiet,
            report_width: report_width(),
        })
    }
}

/// The width of the terminal errors are printed on: `COLUMNS` when it is a positive number,
/// else the width of stderr when it is a terminal; `None` leaves the report's default.
fn report_width() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0)
        .or_else(|| {
            console::Term::stderr()
                .size_checked()
                .map(|(_, columns)| usize::from(columns))
        })
}

/// `SANCTUARY_HTTP_TIMEOUT` (read timeout) and `SANCTUARY_HTTP_DEADLINE` (whole request),
/// in seconds, over the defaults.
fn http_timeouts() -> Result<crate::index::client::HttpTimeouts> {
    let mut timeouts = crate::index::client::HttpTimeouts::default();
    for (name, slot) in [
        ("SANCTUARY_HTTP_TIMEOUT", &mut timeouts.read),
        ("SANCTUARY_HTTP_DEADLINE", &mut timeouts.deadline),
    ] {
        if let Ok(text) = std::env::var(name) {
            *slot = text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
                .with_context(|| {
                    format!("{name} must be a positive number of seconds, not `{text}`")
                })?;
        }
    }
    Ok(timeouts)
}

/// The netrc file: `NETRC`, else `~/.netrc`.
fn netrc_path() -> Option<PathBuf> {
    std::env::var_os("NETRC")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|home| home.join(".netrc")))
}

impl commands::lock::LockSettings {
    fn from_args(global: GlobalSettings, args: &LockArgs) -> Result<Self> {
        let upgrade = args
            .upgrade_package
            .iter()
            .map(|n| {
                PackageName::from_str(n).with_context(|| format!("invalid --upgrade-package `{n}`"))
            })
            .collect::<Result<HashSet<_>>>()?;
        Ok(commands::lock::LockSettings {
            global,
            check: args.check,
            upgrade_all: args.upgrade,
            upgrade,
            keys: args.keys.clone(),
        })
    }
}

impl commands::diff::DiffSettings {
    fn from_args(global: GlobalSettings, args: DiffArgs) -> Self {
        use commands::diff::DiffSource;
        let source = match (args.git, args.old, args.new) {
            (Some(rev), _, _) => DiffSource::Git { rev },
            // clap requires OLD and NEW together unless --git is given.
            (None, old, new) => DiffSource::Paths {
                old: old.unwrap_or_default(),
                new: new.unwrap_or_default(),
            },
        };
        commands::diff::DiffSettings {
            global,
            source,
            format: args.format,
            exit_code: args.exit_code,
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "sanctuary=info",
        (false, 2) => "sanctuary=debug",
        _ => "sanctuary=trace",
    };
    let filter =
        EnvFilter::try_from_env("SANCTUARY_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::index::redact::RedactingWriter(std::io::stderr()))
        .without_time()
        .with_target(false)
        .try_init();
}

/// Print an error with its causes and a hint where one helps.
fn report(err: &anyhow::Error) {
    // Every message names its URLs masked already; this catches any text that does not.
    let shown = |text: String| crate::index::redact::redact_text(&text).into_owned();
    eprintln!("error: {}", shown(err.to_string()));
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {}", shown(cause.to_string()));
    }
    if let Some(hint) = hint(err) {
        eprintln!("hint: {hint}");
    }
}

/// How to point an index at a mirror. A keyed index is shown as `pytorch[cu130]`; its
/// variable is `SANCTUARY_INDEX_PYTORCH`, and it takes a URL template with `{key}`.
fn mirror_hint(index: &str) -> String {
    let (name, keyed) = match index.split_once('[') {
        Some((name, _)) => (name, true),
        None => (index, false),
    };
    let variable = format!("SANCTUARY_INDEX_{}", crate::index::auth::env_key(name));
    if keyed {
        format!(
            "check the network, or point the index at a mirror with {variable}='https://mirror.example/whl/{{key}}' (a URL template: `{{key}}` becomes each hardware key)"
        )
    } else {
        format!("check the network, or point the index at a mirror with {variable}=URL")
    }
}

fn hint(err: &anyhow::Error) -> Option<String> {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<crate::hardware::SelectError>() {
            return e.hint();
        }
        if let Some(e) = cause.downcast_ref::<commands::export::SelectError>() {
            return e.hint();
        }
        if let Some(e) = cause.downcast_ref::<crate::install::venv::VenvError>() {
            return e.hint();
        }
        if let Some(e) = cause.downcast_ref::<crate::lock::origin::OriginError>() {
            return Some(e.hint());
        }
        if cause.is::<commands::sync::StaleLockfiles>() {
            return Some(
                "run `sanctuary lock` and commit the lockfiles, or sync without --locked to lock first"
                    .to_string(),
            );
        }
        if let Some(e) = cause.downcast_ref::<crate::install::wheel::InstallError>()
            && let Some(hint) = e.hint()
        {
            return Some(hint);
        }
        if let Some(e) = cause.downcast_ref::<crate::install::fetch::FetchError>() {
            use crate::install::fetch::FetchError;
            return match e {
                FetchError::HashMismatch { .. } | FetchError::SizeMismatch { .. } => Some(
                    "the file at that URL is not the one that was locked (re-uploaded, or tampered with); nothing was installed. If the change is expected, re-lock with `sanctuary lock --upgrade-package NAME` and review the diff"
                        .to_string(),
                ),
                FetchError::Offline { .. } => Some(
                    "run `sanctuary sync` once without --offline to fill the cache".to_string(),
                ),
                FetchError::Status {
                    status: 401 | 403, ..
                } => Some(credentials_hint("<NAME>")),
                // Downloads name their index by URL: no variable to suggest.
                FetchError::Index { source, .. } => match source.as_ref() {
                    IndexError::Unreachable { .. } => Some("check the network".to_string()),
                    other => index_hint(other),
                },
                _ => None,
            };
        }
        // `ResolveError::Index` is transparent, so the index error is not a link of its own.
        let index_error = cause.downcast_ref::<IndexError>().or_else(|| {
            match cause.downcast_ref::<crate::resolve::ResolveError>() {
                Some(crate::resolve::ResolveError::Index(e)) => Some(e),
                _ => None,
            }
        });
        if let Some(e) = index_error {
            return index_hint(e);
        }
    }
    None
}

fn index_hint(e: &IndexError) -> Option<String> {
    use crate::index::auth::env_key;
    match e {
        IndexError::Offline { .. } => {
            Some("run the same command once without --offline to fill the cache".to_string())
        }
        IndexError::Unreachable { index, .. } => Some(mirror_hint(index)),
        IndexError::Denied { index, .. } => Some(credentials_hint(&env_key(index))),
        IndexError::Stalled { .. } => Some(
            "the server stopped sending; on a slow link, raise SANCTUARY_HTTP_TIMEOUT (seconds, default 30)"
                .to_string(),
        ),
        IndexError::Deadline { .. } => Some(
            "on a slow link, raise SANCTUARY_HTTP_DEADLINE (seconds, default 300; answers get a second more per 128 KiB they announce)"
                .to_string(),
        ),
        IndexError::BrokenOff { .. } => Some(
            "the server or a proxy closed the connection early; try again, or use a mirror".to_string(),
        ),
        _ => None,
    }
}

/// Where the credentials of the index whose variables are `SANCTUARY_INDEX_<name>_*` go.
fn credentials_hint(name: &str) -> String {
    format!(
        "give the index credentials with SANCTUARY_INDEX_{name}_USERNAME and SANCTUARY_INDEX_{name}_PASSWORD, in its URL (https://user:password@host/...), or in ~/.netrc (or the file NETRC names)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    /// Flags of other tools that messages and comments name, with the tool.
    const FOREIGN_FLAGS: &[(&str, &str)] = &[
        ("--no-deps", "pip"),
        ("--require-hashes", "pip"),
        ("--extra-index-url", "pip"),
        ("--index-url", "pip"),
        ("--find-links", "pip"),
        ("--hash", "pip"),
        ("--force-reinstall", "pip"),
        ("--only-binary", "pip"),
        ("--no-index", "pip"),
        ("--exit-code", "git"),
        ("--show-toplevel", "git"),
        ("--name-only", "git"),
        ("--verify", "git"),
        ("--query-gpu", "nvidia-smi"),
        ("--without-pip", "python -m venv"),
        ("--symlinks", "python -m venv"),
        ("--version", "pip"),
        ("--lib", "cargo"),
        ("--features", "cargo"),
        // Not a flag: `py3--any` in a wheel-name property test.
        ("--any", "a test string"),
    ];

    /// Every long flag of every sanctuary command.
    fn our_flags() -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let cli = Cli::command();
        let mut commands = vec![cli.clone()];
        commands.extend(cli.get_subcommands().cloned());
        for command in commands {
            for arg in command.get_arguments() {
                if let Some(long) = arg.get_long() {
                    out.entry(format!("--{long}"))
                        .or_default()
                        .push(command.get_name().to_string());
                }
            }
        }
        out
    }

    fn sources() -> Vec<(std::path::PathBuf, String)> {
        let mut out = Vec::new();
        let mut stack = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path, text));
                }
            }
        }
        out
    }

    /// Regression: a hint named a pre-release flag that does not exist. Every flag
    /// the code names is one of ours or a listed one of another tool.
    #[test]
    fn every_flag_a_message_names_exists() {
        let ours = our_flags();
        let mut unknown = Vec::new();
        for (path, text) in sources() {
            for (i, line) in text.lines().enumerate() {
                let mut rest = line;
                while let Some(at) = rest.find("--") {
                    let tail = &rest[at + 2..];
                    let len = tail
                        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
                        .unwrap_or(tail.len());
                    let flag = format!("--{}", &tail[..len]);
                    rest = &tail[len..];
                    if len == 0 || !tail.starts_with(|c: char| c.is_ascii_lowercase()) {
                        continue;
                    }
                    if !ours.contains_key(&flag) && !FOREIGN_FLAGS.iter().any(|(f, _)| *f == flag) {
                        unknown.push(format!("{}:{}: {flag}", path.display(), i + 1));
                    }
                }
            }
        }
        assert!(
            unknown.is_empty(),
            "flags no command has:\n{}",
            unknown.join("\n")
        );
    }

    /// Every `sanctuary ...` command line a message or comment quotes in backticks parses.
    #[test]
    fn every_quoted_command_line_parses() {
        let mut checked = 0;
        let mut failures = Vec::new();
        for (path, text) in sources() {
            for quoted in text.split('`').skip(1).step_by(2) {
                let Some(args) = quoted.strip_prefix("sanctuary ") else {
                    continue;
                };
                if args.contains(['{', '<', '[', '|', '\\']) || args.contains("...") {
                    continue; // a synopsis, not a command line
                }
                let words: Vec<String> = std::iter::once("sanctuary".to_string())
                    .chain(args.split_whitespace().map(|w| {
                        match w {
                            "NAME" => "numpy",
                            "REV" => "HEAD",
                            "PATH" | "DIR" => "x",
                            "TAG" => "cu130",
                            "N" => "4",
                            other => other,
                        }
                        .to_string()
                    }))
                    .collect();
                checked += 1;
                // A quote may name a command without its operands (`sanctuary diff`); what
                // it does write must parse.
                match Cli::try_parse_from(&words) {
                    Err(e) if e.kind() != clap::error::ErrorKind::MissingRequiredArgument => {
                        failures.push(format!("{}: `{quoted}`: {}", path.display(), e.kind()));
                    }
                    _ => {}
                }
            }
        }
        assert!(checked > 5, "only {checked} command lines found");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
