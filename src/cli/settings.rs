//! The command line and the environment, made checked settings ([`crate::settings`]). Every
//! environment variable sanctuary reads (but `SANCTUARY_LOG`, read by the logger, and the
//! hardware probe's `SANCTUARY_HARDWARE_ROOT`) is read here, once.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;

use pep508_rs::PackageName;

use super::args::{
    Command, DiffArgs, DiffFormatArg, ExportFormatArg, GlobalArgs, KeyArgs, LayerArg, LinkModeArg,
    NetworkArgs,
};
use crate::error::{Context as _, Error, Result};
use crate::hardware::{KeyRequest, KeySettings};
use crate::index::IndexSettings;
use crate::install::LinkMode;
use crate::ops::lockfiles::Layer;
use crate::settings::{
    DetectSettings, DiffFormat, DiffSettings, DiffSource, DoctorSettings, EnvironmentRequest,
    ExportFormat, ExportSettings, Freshness, GlobalSettings, InitSettings, LockSettings,
    NetworkSettings, SyncSettings, TreeSettings,
};

/// A command with its checked settings.
pub enum Checked {
    Init(InitSettings),
    Lock(LockSettings),
    Sync(SyncSettings),
    Detect(DetectSettings),
    Doctor(DoctorSettings),
    Export(ExportSettings),
    Tree(TreeSettings),
    Diff(DiffSettings),
}

/// The environment variables sanctuary reads, read once.
struct Environment {
    /// `SANCTUARY_INDEX_*`, by the rest of their name.
    index_overrides: BTreeMap<String, String>,
    key: Option<String>,
    driver: Option<String>,
    hardware_root: Option<PathBuf>,
    http_timeout: Option<String>,
    http_deadline: Option<String>,
    netrc: Option<PathBuf>,
    /// `COLUMNS`, else the width of stderr when it is a terminal.
    report_width: Option<usize>,
}

impl Environment {
    fn read() -> Environment {
        let var = |name: &str| std::env::var(name).ok();
        Environment {
            index_overrides: std::env::vars()
                .filter_map(|(k, v)| {
                    k.strip_prefix("SANCTUARY_INDEX_")
                        .map(|name| (name.to_string(), v))
                })
                .collect(),
            key: var("SANCTUARY_KEY"),
            driver: var("SANCTUARY_CUDA_DRIVER_VERSION"),
            hardware_root: crate::hardware::hardware_root_from_env(),
            http_timeout: var("SANCTUARY_HTTP_TIMEOUT"),
            http_deadline: var("SANCTUARY_HTTP_DEADLINE"),
            // The netrc file: `NETRC`, else `~/.netrc`.
            netrc: std::env::var_os("NETRC")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .or_else(|| dirs::home_dir().map(|home| home.join(".netrc"))),
            report_width: var("COLUMNS")
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|&c| c > 0)
                .or_else(|| {
                    console::Term::stderr()
                        .size_checked()
                        .map(|(_, columns)| usize::from(columns))
                }),
        }
    }
}

/// Check `command` with the global options and the environment.
pub fn check(global: &GlobalArgs, command: Command) -> Result<Checked> {
    let env = Environment::read();
    let global_settings = GlobalSettings {
        manifest: global
            .manifest
            .clone()
            .unwrap_or_else(|| PathBuf::from("sanctuary.toml")),
        manifest_named: global.manifest.is_some(),
        quiet: global.quiet,
        report_width: env.report_width,
    };
    let g = || global_settings.clone();
    Ok(match command {
        Command::Init(args) => Checked::Init(InitSettings {
            global: g(),
            foundation: args.foundation,
            name: args.name,
            python: args.python,
        }),
        Command::Lock(args) => Checked::Lock(LockSettings {
            global: g(),
            network: network(&args.network, &env)?,
            check: args.check,
            upgrade_all: args.upgrade,
            upgrade: args
                .upgrade_package
                .iter()
                .map(|n| {
                    PackageName::from_str(n)
                        .map_err(|e| Error::usage(format!("invalid --upgrade-package `{n}`: {e}")))
                })
                .collect::<Result<HashSet<_>>>()?,
            keys: args.keys,
            timings: args.timings,
        }),
        Command::Sync(args) => Checked::Sync(SyncSettings {
            global: g(),
            network: network(&args.network, &env)?,
            keys: keys(&args.key, &env)?,
            venv: args.venv,
            freshness: match (args.locked, args.frozen) {
                (true, _) => Freshness::Locked,
                (_, true) => Freshness::Frozen,
                _ => Freshness::Relock,
            },
            dry_run: args.dry_run,
            json: args.json,
            python: args.python,
            compile: args.compile,
            exact: !args.inexact,
            link: match args.link_mode {
                LinkModeArg::Hardlink => LinkMode::Hardlink,
                LinkModeArg::Copy => LinkMode::Copy,
            },
            timings: args.timings,
        }),
        Command::Detect(args) => Checked::Detect(DetectSettings {
            global: g(),
            keys: keys(&args.key, &env)?,
            json: args.json,
        }),
        Command::Doctor(args) => Checked::Doctor(DoctorSettings {
            global: g(),
            keys: keys(&args.key, &env)?,
            venv: args.venv,
            json: args.json,
        }),
        Command::Export(args) => Checked::Export(ExportSettings {
            global: g(),
            index_overrides: env.index_overrides.clone(),
            layer: layer(args.layer),
            key: args.key,
            format: match args.format {
                ExportFormatArg::RequirementsTxt => ExportFormat::RequirementsTxt,
            },
            output: args.output,
            environment: EnvironmentRequest {
                platform: args.platform,
                python: args.python,
            },
        }),
        Command::Tree(args) => Checked::Tree(TreeSettings {
            global: g(),
            layer: layer(args.layer),
            key: args.key,
            invert: args.invert,
            depth: args.depth,
            environment: EnvironmentRequest {
                platform: args.platform,
                python: args.python,
            },
        }),
        Command::Diff(args) => Checked::Diff(diff(g(), args)?),
    })
}

fn layer(arg: LayerArg) -> Layer {
    match arg {
        LayerArg::Foundation => Layer::Foundation,
        LayerArg::Application => Layer::Application,
        LayerArg::All => Layer::All,
    }
}

/// The index client's settings: the cache, `--offline`, timeouts, netrc, redirections.
fn network(args: &NetworkArgs, env: &Environment) -> Result<NetworkSettings> {
    let cache_dir = match &args.cache_dir {
        Some(dir) => dir.clone(),
        None => dirs::cache_dir()
            .map(|d| d.join("sanctuary"))
            .context("no user cache directory on this system; set SANCTUARY_CACHE_DIR")?,
    };
    if args.concurrency == 0 {
        return Err(Error::usage("--concurrency must be at least 1".to_string()));
    }
    let mut http = crate::http::HttpTimeouts::default();
    for (name, value, slot) in [
        ("SANCTUARY_HTTP_TIMEOUT", &env.http_timeout, &mut http.read),
        (
            "SANCTUARY_HTTP_DEADLINE",
            &env.http_deadline,
            &mut http.deadline,
        ),
    ] {
        if let Some(text) = value {
            *slot = text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
                .ok_or_else(|| {
                    Error::usage(format!(
                        "{name} must be a positive number of seconds, not `{text}`"
                    ))
                })?;
        }
    }
    Ok(NetworkSettings {
        index: IndexSettings {
            cache_dir,
            offline: args.offline,
            refresh: args.refresh,
            concurrency: args.concurrency,
            http,
            netrc: env.netrc.clone(),
        },
        index_overrides: env.index_overrides.clone(),
    })
}

/// The key flags with `SANCTUARY_KEY`, `SANCTUARY_CUDA_DRIVER_VERSION` and
/// `SANCTUARY_HARDWARE_ROOT` (probe a directory standing for `/`, for tests).
fn keys(args: &KeyArgs, env: &Environment) -> Result<KeySettings> {
    let request = match args {
        KeyArgs { cuda13: true, .. } => Some(KeyRequest::Cuda13),
        KeyArgs { cuda12: true, .. } => Some(KeyRequest::Cuda12),
        KeyArgs { cpu: true, .. } => Some(KeyRequest::Cpu),
        KeyArgs { key: Some(k), .. } => Some(KeyRequest::Key(k.clone())),
        _ => None,
    };
    let mut settings = KeySettings::new(
        request,
        env.key.as_deref(),
        env.driver.as_deref(),
        args.ignore_driver,
    )?;
    settings.hardware_root = env.hardware_root.clone();
    Ok(settings)
}

/// `sanctuary diff OLD NEW` or `sanctuary diff --git [REV]`.
fn diff(global: GlobalSettings, args: DiffArgs) -> Result<DiffSettings> {
    let source = match (args.git, args.old, args.new) {
        (Some(rev), _, _) => DiffSource::Git { rev },
        (None, Some(old), Some(new)) => DiffSource::Paths { old, new },
        // clap requires NEW with OLD.
        (None, _, _) => {
            return Err(Error::usage(
                "sanctuary diff compares two lockfiles (or two lockfile directories): `sanctuary diff OLD NEW`; or the lockfiles with a git revision: `sanctuary diff --git [REV]` (default HEAD)"
                    .to_string(),
            ));
        }
    };
    Ok(DiffSettings {
        global,
        source,
        format: match args.format {
            DiffFormatArg::Text => DiffFormat::Text,
            DiffFormatArg::Markdown => DiffFormat::Markdown,
            DiffFormatArg::Json => DiffFormat::Json,
        },
        exit_code: args.exit_code,
    })
}
