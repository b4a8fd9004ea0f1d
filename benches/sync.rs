//! `cargo bench --bench sync`: how long `sanctuary sync` and `uv pip sync` take to install the
//! same lockfile into a virtual environment: cold (empty caches), warm (filled caches, empty
//! venv) and noop (the venv is already synced).
//!
//! A plain binary (`harness = false`): every tool is timed as a whole process, started and reaped
//! here, because what a user waits for is the process. See `benches/README.md` for the knobs.
//!
//! Per requirement set, once and untimed: `sanctuary lock` writes the Application lockfile of a
//! scratch project, and both tools install that one PEP 751 file (`uv pip sync` reads
//! `pylock.*.toml`), the very same pins, URLs and hashes, as each tool's users run it. Both
//! tools find the real interpreter first on `PATH` (not a pyenv shim), uv never downloads one,
//! and the venv is made the same way for both, outside the timed run. Then, per mode, repetition 1 of both tools,
//! repetition 2, and so on, the order of the tools swapped from one repetition to the next.

#[path = "sync/cold_floor.rs"]
mod cold_floor;
#[path = "common/mod.rs"]
mod common;
#[path = "sync/floor.rs"]
mod floor;
#[path = "sync/venvs.rs"]
mod venvs;

use std::collections::{BTreeMap, BTreeSet};
use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

use common::{
    Outcome, PYTHON, ReqSet, STDERR_TAIL_LINES, ToolInfo, discard, empty_trash, env_choices,
    env_flag, env_number, measure, opt, order_of, ratio, settle, tail, trash_of,
};
use venvs::{VenvCheck, check_venvs, differences, installed, normalize, parse_dist_info};

/// The sets run when neither `BENCH_SETS` nor a positional argument names any.
const DEFAULT_SETS: [&str; 2] = ["small", "standard"];
/// The targets of the performance issue, sanctuary's median time over uv's: a cold sync at
/// most 0.7x, a warm one into a fresh venv at most 0.5x, a no-op at most 0.5x.
const fn target(mode: Mode) -> f64 {
    match mode {
        Mode::Cold => 0.7,
        Mode::Warm | Mode::Noop => 0.5,
    }
}
/// And in every mode, sanctuary's median peak RSS at most uv's.
const RSS_TARGET: f64 = 1.0;
/// What the bench appends to the manifest of `common::manifest`.
const SYNC_TABLE: &str = "\n[sync]\nvenv = \".venv\"\n";

// ---------------------------------------------------------------------------------------------
// Tools, modes, configuration
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tool {
    Sanctuary,
    Uv,
}

impl Tool {
    const ALL: [Tool; 2] = [Tool::Sanctuary, Tool::Uv];

    fn name(self) -> &'static str {
        match self {
            Tool::Sanctuary => "sanctuary",
            Tool::Uv => "uv",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Cold,
    Warm,
    Noop,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Cold, Mode::Warm, Mode::Noop];

    fn name(self) -> &'static str {
        match self {
            Mode::Cold => "cold",
            Mode::Warm => "warm",
            Mode::Noop => "noop",
        }
    }
}

struct Config {
    runs: usize,
    tools: Vec<Tool>,
    /// Always in the order cold, warm, noop: each leaves what the next starts from.
    modes: Vec<Mode>,
    sets: Vec<ReqSet>,
    timeout: Duration,
    keep: bool,
    /// Each tool's executable, or why there is none.
    bins: BTreeMap<Tool, Result<PathBuf, String>>,
    /// The interpreter the venvs are made with.
    python: Result<PathBuf, String>,
    results_path: PathBuf,
}

impl Config {
    fn from_env(positional_sets: Vec<String>) -> Result<Config> {
        let mut tools = env_choices("BENCH_TOOLS", &Tool::ALL, Tool::name)?;
        tools.sort();
        let mut modes = env_choices("BENCH_MODES", &Mode::ALL, Mode::name)?;
        modes.sort();
        let bins = BTreeMap::from([
            (Tool::Sanctuary, common::locate_sanctuary()),
            (Tool::Uv, common::locate_on_path("uv", "BENCH_UV")),
        ]);
        Ok(Config {
            runs: env_number("BENCH_RUNS", common::DEFAULT_RUNS)? as usize,
            tools,
            modes,
            sets: common::chosen_sets(positional_sets, &DEFAULT_SETS, Some(&DEFAULT_SETS))?,
            timeout: Duration::from_secs(env_number("BENCH_TIMEOUT", 900)?),
            keep: env_flag("BENCH_KEEP"),
            bins,
            python: common::locate_on_path(&format!("python{PYTHON}"), "BENCH_PYTHON"),
            results_path: common::results_dir().join("sync-latest.json"),
        })
    }
}

/// A command without the `PIP_*`, `UV_*` and `SANCTUARY_*` variables of the calling
/// environment (this machine sets `PIP_FIND_LINKS`, for one), nor an active venv's: each
/// tool sees only what the bench sets for it.
fn clean_command(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if ["PIP_", "UV_", "SANCTUARY_"]
            .iter()
            .any(|p| key.starts_with(p))
            || key == "VIRTUAL_ENV"
            || key == "CONDA_PREFIX"
        {
            cmd.env_remove(key);
        }
    }
    cmd
}

// ---------------------------------------------------------------------------------------------
// What is installed
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Preparing a set: one lockfile and its export, shared by both tools
// ---------------------------------------------------------------------------------------------

/// `WORK/<set>/project/`: the manifest and `lockfiles/pylock.application.toml`, which both
/// tools install.
struct Prepared {
    project: PathBuf,
    manifest: PathBuf,
    lockfile: PathBuf,
    /// `PATH` for both tools, the real interpreter first (`common::path_with_real_python`).
    path: Option<OsString>,
    /// What the lockfile pins: normalised name → version.
    locked: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
struct PrepareInfo {
    set: String,
    lock_s: Option<f64>,
    packages: Option<usize>,
    error: Option<String>,
}

/// Lock and export with sanctuary (untimed: not what is compared).
fn prepare(
    config: &Config,
    root: &Path,
    set: &ReqSet,
) -> Result<(Result<Prepared, String>, PrepareInfo)> {
    let mut info = PrepareInfo {
        set: set.name.clone(),
        lock_s: None,
        packages: None,
        error: None,
    };
    let dir = root.join(&set.name);
    let project = dir.join("project");
    fs::create_dir_all(&project)?;
    let manifest = project.join("sanctuary.toml");
    fs::write(&manifest, common::manifest(set, SYNC_TABLE))?;

    let bin = match &config.bins[&Tool::Sanctuary] {
        Ok(bin) => bin,
        Err(why) => {
            let why = format!("sanctuary is needed to lock the set: {why}");
            info.error = Some(why.clone());
            return Ok((Err(why), info));
        }
    };
    eprintln!("[{}] locking (not counted)", set.name);
    let steps: [(&str, Vec<&str>); 1] = [("lock", vec!["lock"])];
    for (step, args) in steps {
        let mut cmd = clean_command(bin);
        cmd.current_dir(&project)
            .args(args)
            .arg("--manifest")
            .arg(&manifest)
            .arg("-q")
            .env("SANCTUARY_CACHE_DIR", dir.join("prepare-cache"));
        match measure(cmd, &dir, config.timeout)? {
            Outcome::Ok(sample) => {
                if step == "lock" {
                    info.lock_s = Some(sample.wall_s);
                }
            }
            Outcome::Failed {
                status,
                stderr_tail,
            } => {
                let why = format!("sanctuary {step}: {status}\n{stderr_tail}");
                eprintln!("    {why}");
                info.error = Some(why.clone());
                return Ok((Err(why), info));
            }
        }
    }

    let lockfile = project.join("lockfiles").join("pylock.application.toml");
    let check = || -> Result<BTreeMap<String, String>> {
        let lock = fs::read_to_string(&lockfile)
            .with_context(|| format!("reading {}", lockfile.display()))?;
        let locked: BTreeMap<String, String> = common::lock_packages(&lock)?
            .into_iter()
            .map(|(n, v)| (normalize(&n), v))
            .collect();
        if locked.is_empty() {
            bail!("{} pins nothing", lockfile.display());
        }
        Ok(locked)
    };
    match check() {
        Ok(locked) => {
            eprintln!(
                "    {} packages locked in {:.2} s",
                locked.len(),
                info.lock_s.unwrap_or_default()
            );
            info.packages = Some(locked.len());
            Ok((
                Ok(Prepared {
                    project,
                    manifest,
                    lockfile,
                    path: common::path_with_real_python(),
                    locked,
                }),
                info,
            ))
        }
        Err(err) => {
            let why = format!("{err:#}");
            eprintln!("    {}: {why}", set.name);
            info.error = Some(why.clone());
            Ok((Err(why), info))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One tool on one set: its venv, its caches, its command line
// ---------------------------------------------------------------------------------------------

/// `WORK/<set>/<tool>/`: `venv/`, `cache-*` (one fresh directory per cold run, one kept for the
/// warm and noop runs), and the logs of the last run. What a run leaves behind goes to
/// `WORK/<set>/trash/` (see [`discard`]).
struct Workspace {
    tool: Tool,
    bin: PathBuf,
    dir: PathBuf,
    venv: PathBuf,
    trash: PathBuf,
}

impl Workspace {
    fn create(root: &Path, set: &ReqSet, tool: Tool, bin: PathBuf) -> Result<Workspace> {
        let dir = root.join(&set.name).join(tool.name());
        fs::create_dir_all(&dir)?;
        Ok(Workspace {
            tool,
            bin,
            venv: dir.join("venv"),
            trash: trash_of(root, set),
            dir,
        })
    }

    /// An empty venv in place of the old one, the same way for both tools (untimed).
    fn fresh_venv(&self, python: &Path) -> Result<(), String> {
        discard(&self.venv, &self.trash).map_err(|e| format!("{e:#}"))?;
        let out = clean_command(python)
            .args(["-m", "venv", "--without-pip"])
            .arg(&self.venv)
            .output()
            .map_err(|e| format!("running {}: {e}", python.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{} -m venv failed ({}): {}",
                python.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn command(&self, prepared: &Prepared, cache: &Path) -> Command {
        let mut cmd = clean_command(&self.bin);
        cmd.current_dir(&prepared.project);
        common::peer_env(&mut cmd, prepared.path.as_ref());
        match self.tool {
            Tool::Sanctuary => {
                cmd.arg("sync")
                    .arg("--manifest")
                    .arg(&prepared.manifest)
                    .arg("--venv")
                    .arg(&self.venv)
                    .args(["--frozen", "-q"])
                    .env("SANCTUARY_CACHE_DIR", cache);
            }
            Tool::Uv => {
                // The same PEP 751 lockfile sanctuary installs: `uv pip sync` reads it
                // (`pylock.*.toml`), so uv, like sanctuary, takes every URL and hash from it
                // and asks no index anything.
                cmd.args(["pip", "sync", "--python"])
                    .arg(self.venv.join("bin").join("python"))
                    .arg("--no-config")
                    .arg(&prepared.lockfile)
                    .arg("-q")
                    .env("UV_CACHE_DIR", cache);
            }
        }
        cmd
    }
}

/// What `Workspace::command` runs, for the record.
fn command_line(tool: Tool) -> &'static str {
    match tool {
        Tool::Sanctuary => {
            "sanctuary sync --manifest project/sanctuary.toml --venv VENV --frozen -q (SANCTUARY_CACHE_DIR=CACHE)"
        }
        Tool::Uv => {
            "uv pip sync --python VENV/bin/python --no-config project/lockfiles/pylock.application.toml -q (UV_CACHE_DIR=CACHE, UV_PYTHON_DOWNLOADS=never)"
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Cells: the runs of one (set, mode, tool)
// ---------------------------------------------------------------------------------------------

/// What a cell records besides its runs.
#[derive(Debug, Default, Serialize)]
struct Installed {
    /// Distributions in the venv after the last run.
    installed: Option<usize>,
}

type Cell = common::Cell<Installed>;

/// Syncs `ws.venv` once with `cache`; on success records the sample and what is installed.
fn run_once(
    cell: &mut Cell,
    ws: &Workspace,
    prepared: &Prepared,
    cache: &Path,
    timeout: Duration,
) -> Result<bool> {
    fs::create_dir_all(cache)?;
    settle();
    match measure(ws.command(prepared, cache), &ws.dir, timeout)? {
        Outcome::Ok(sample) => match installed(&ws.venv) {
            Ok(dists) if !dists.is_empty() || prepared.locked.is_empty() => {
                eprintln!(
                    "    {:<10} {:>8.2} s  {:>6.2} s cpu  {:>5} MiB  {} installed",
                    ws.tool.name(),
                    sample.wall_s,
                    sample.cpu_s.unwrap_or_default(),
                    sample.rss_mib(),
                    dists.len()
                );
                cell.samples.push(sample);
                cell.extra.installed = Some(dists.len());
                Ok(true)
            }
            Ok(_) => {
                cell.fail(
                    "exit 0 but the venv holds no distribution".to_string(),
                    tail(&ws.dir.join("stderr.log"), STDERR_TAIL_LINES),
                );
                Ok(false)
            }
            Err(err) => {
                cell.fail(format!("{err:#}"), String::new());
                Ok(false)
            }
        },
        Outcome::Failed {
            status,
            stderr_tail,
        } => {
            cell.fail(status, stderr_tail);
            Ok(false)
        }
    }
}

/// Everything of one set, or why the set could not run.
struct SetResult {
    cells: Vec<Cell>,
    check: Option<VenvCheck>,
    /// The warm floor (see `floor`), or why it was not measured; `None` without warm runs.
    floor: Option<Result<floor::Floor, String>>,
    /// The cold floor (see `cold_floor`), likewise; `None` without cold runs.
    cold_floor: Option<Result<cold_floor::ColdFloor, String>>,
    prepare: PrepareInfo,
}

/// All modes of one requirement set, both tools, repetitions interleaved across tools.
fn bench_set(config: &Config, root: &Path, set: &ReqSet) -> Result<SetResult> {
    let (prepared, prepare_info) = prepare(config, root, set)?;
    let python = config.python.as_ref();
    let mut workspaces: Vec<(Tool, Result<Workspace, String>)> = Vec::new();
    for &tool in &config.tools {
        let ws = match (&config.bins[&tool], &prepared, python) {
            (Err(why), _, _) => Err(why.clone()),
            (_, Err(why), _) => Err(format!("preparing the set failed: {why}")),
            (_, _, Err(why)) => Err(format!("no interpreter for the venvs: {why}")),
            (Ok(bin), Ok(_), Ok(_)) => Ok(Workspace::create(root, set, tool, bin.clone())?),
        };
        workspaces.push((tool, ws));
    }

    // The cache of each tool's last successful run; `synced` holds the tools whose venv that
    // run left synced (what a noop run starts from).
    let mut warm_cache: BTreeMap<Tool, PathBuf> = BTreeMap::new();
    let mut synced: BTreeSet<Tool> = BTreeSet::new();
    let mut check = None;
    let (mut floor, mut cold_floor) = (None, None);
    let mut cells = Vec::new();

    for &mode in &config.modes {
        let mut mode_cells: Vec<Cell> = workspaces
            .iter()
            .map(|(tool, ws)| {
                let mut cell = Cell::new(&set.name, mode.name(), tool.name());
                if let Err(why) = ws {
                    cell.fail(why.clone(), String::new());
                }
                cell
            })
            .collect();
        let (Ok(prepared), Ok(python)) = (&prepared, python) else {
            cells.extend(mode_cells);
            continue;
        };

        if mode != Mode::Cold {
            let state = Primed {
                warm_cache: &mut warm_cache,
                synced: &mut synced,
            };
            prime(
                config,
                set,
                mode,
                &workspaces,
                &mut mode_cells,
                state,
                prepared,
                python,
            )?;
        }

        // Each floor makes a pass after every repetition, as a third contender would.
        let mut cold_progress = cold_floor::Progress::default();
        let mut warm_progress = floor::Progress::default();
        for rep in 0..config.runs {
            eprintln!("[{} {} {}/{}]", set.name, mode.name(), rep + 1, config.runs);
            for i in order_of(rep, workspaces.len()) {
                let (tool, ws) = &workspaces[i];
                let cell = &mut mode_cells[i];
                let (Ok(ws), None) = (ws, &cell.error) else {
                    continue;
                };
                if mode != Mode::Noop
                    && let Err(why) = ws.fresh_venv(python)
                {
                    cell.fail(why, String::new());
                    continue;
                }
                let cache = match mode {
                    Mode::Cold => {
                        let cache = ws.dir.join(format!("cache-cold-{}", rep + 1));
                        discard(&cache, &ws.trash)?;
                        cache
                    }
                    Mode::Warm | Mode::Noop => warm_cache[tool].clone(),
                };
                synced.remove(tool);
                if run_once(cell, ws, prepared, &cache, config.timeout)? {
                    synced.insert(*tool);
                    if mode == Mode::Cold
                        && let Some(old) = warm_cache.insert(*tool, cache)
                    {
                        discard(&old, &ws.trash)?;
                    }
                } else if mode == Mode::Cold {
                    discard(&cache, &ws.trash)?;
                }
            }

            if rep == 0 && check.is_none() {
                check = check_first(config, set, mode, &workspaces, &synced, prepared);
            }
            match mode {
                Mode::Cold => cold_progress.after_rep(set, rep, &workspaces, &synced),
                Mode::Warm => warm_progress.after_rep(set, rep, &workspaces, &synced),
                Mode::Noop => {}
            }
        }
        for cell in &mut mode_cells {
            cell.finish();
        }
        cells.extend(mode_cells);
        match mode {
            Mode::Cold => cold_floor = cold_progress.finish(&set.name),
            Mode::Warm => floor = warm_progress.finish(&set.name),
            Mode::Noop => {}
        }
    }
    // The set is done: what it discarded can go now, outside any timed run.
    empty_trash(&trash_of(root, set))?;
    Ok(SetResult {
        cells,
        check,
        floor,
        cold_floor,
        prepare: prepare_info,
    })
}

/// Once per set, after the first warm repetition (or the first repetition of the first mode,
/// when warm is not run): do the venvs hold the same thing?
fn check_first(
    config: &Config,
    set: &ReqSet,
    mode: Mode,
    workspaces: &[(Tool, Result<Workspace, String>)],
    synced: &BTreeSet<Tool>,
    prepared: &Prepared,
) -> Option<VenvCheck> {
    let due =
        mode == Mode::Warm || (!config.modes.contains(&Mode::Warm) && mode == config.modes[0]);
    if !due {
        return None;
    }
    let venvs: Vec<(Tool, &Path)> = workspaces
        .iter()
        .filter(|(tool, _)| synced.contains(tool))
        .filter_map(|(tool, ws)| Some((*tool, ws.as_ref().ok()?.venv.as_path())))
        .collect();
    (!venvs.is_empty()).then(|| {
        check_venvs(
            &set.name,
            format!("{} run 1", mode.name()),
            prepared,
            &venvs,
        )
    })
}

/// What the runs of a set leave for the next: each tool's filled cache, and the tools whose
/// venv is synced.
struct Primed<'a> {
    warm_cache: &'a mut BTreeMap<Tool, PathBuf>,
    synced: &'a mut BTreeSet<Tool>,
}

/// Warm and noop runs need a filled cache, noop runs a synced venv: one uncounted run per tool
/// makes them where the modes before did not.
#[allow(clippy::too_many_arguments)]
fn prime(
    config: &Config,
    set: &ReqSet,
    mode: Mode,
    workspaces: &[(Tool, Result<Workspace, String>)],
    mode_cells: &mut [Cell],
    state: Primed<'_>,
    prepared: &Prepared,
    python: &Path,
) -> Result<()> {
    for ((tool, ws), cell) in workspaces.iter().zip(mode_cells.iter_mut()) {
        let (Ok(ws), None) = (ws, &cell.error) else {
            continue;
        };
        let have_cache = state.warm_cache.contains_key(tool);
        if have_cache && (mode == Mode::Warm || state.synced.contains(tool)) {
            continue;
        }
        eprintln!(
            "[{} {}] priming {}'s {} (not counted)",
            set.name,
            mode.name(),
            tool.name(),
            if have_cache { "venv" } else { "cache" }
        );
        let cache = state
            .warm_cache
            .get(tool)
            .cloned()
            .unwrap_or_else(|| ws.dir.join("cache-warm"));
        let mut prime = Cell::new(&set.name, mode.name(), tool.name());
        let primed = match ws.fresh_venv(python) {
            Ok(()) => run_once(&mut prime, ws, prepared, &cache, config.timeout)?,
            Err(why) => {
                prime.error = Some(why);
                false
            }
        };
        if primed {
            state.warm_cache.insert(*tool, cache);
            state.synced.insert(*tool);
        } else {
            cell.fail(
                format!("priming run: {}", prime.error.unwrap_or_default()),
                prime.stderr_tail.unwrap_or_default(),
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
struct Verdict {
    set: String,
    mode: &'static str,
    sanctuary_over_uv: Option<f64>,
    target: f64,
    /// `PASS`, `MISS`, or `n/a: why`.
    verdict: String,
    /// Median peak RSS, sanctuary over uv, against [`RSS_TARGET`].
    rss_over_uv: Option<f64>,
    rss_verdict: String,
}

fn verdicts(config: &Config, results: &[SetResult]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for (set, result) in config.sets.iter().zip(results) {
        for &mode in &config.modes {
            let find = |tool: Tool| {
                result
                    .cells
                    .iter()
                    .find(|c| c.mode == mode.name() && c.tool == tool.name())
            };
            let median = |tool| find(tool).and_then(|c| c.stats.median_s);
            let rss = |tool| find(tool).and_then(|c| c.stats.median_max_rss_mib);
            let why_not = |tool: Tool| match find(tool) {
                None => format!("{} not run", tool.name()),
                Some(_) => format!("{} error", tool.name()),
            };
            let (r, verdict) = match (median(Tool::Sanctuary), median(Tool::Uv)) {
                (Some(s), Some(u)) if u > 0.0 => {
                    let r = s / u;
                    (
                        Some(r),
                        if r <= target(mode) { "PASS" } else { "MISS" }.to_string(),
                    )
                }
                (None, _) => (None, format!("n/a: {}", why_not(Tool::Sanctuary))),
                _ => (None, format!("n/a: {}", why_not(Tool::Uv))),
            };
            let (rss_over_uv, rss_verdict) = match (rss(Tool::Sanctuary), rss(Tool::Uv)) {
                (Some(s), Some(u)) if u > 0.0 => {
                    let r = s / u;
                    let v = if r <= RSS_TARGET { "PASS" } else { "MISS" };
                    (Some(r), v.to_string())
                }
                _ => (None, "n/a".to_string()),
            };
            out.push(Verdict {
                set: set.name.clone(),
                mode: mode.name(),
                sanctuary_over_uv: r,
                target: target(mode),
                verdict,
                rss_over_uv,
                rss_verdict,
            });
        }
    }
    out
}

fn print_report(config: &Config, results: &[SetResult], verdicts: &[Verdict]) {
    println!();
    println!(
        "{:<10} {:<5} {:<10} {:>26} {:>8} {:>8} {:>6}",
        "set", "mode", "tool", "median s (min-max)", "cpu s", "MiB", "dists"
    );
    println!("{}", "-".repeat(79));
    for cell in results.iter().flat_map(|r| &r.cells) {
        println!(
            "{:<10} {:<5} {:<10} {:>26} {:>8} {:>8} {:>6}",
            cell.set,
            cell.mode,
            cell.tool,
            cell.stats.time_cell(cell.error.is_some()),
            opt(cell.stats.median_cpu_s, 2),
            opt(cell.stats.median_max_rss_mib, 0),
            cell.extra
                .installed
                .map_or("-".to_string(), |p| p.to_string()),
        );
    }
    println!(
        "\n(median of {} run(s) each; cpu s = median user+system time; MiB = median of each run's \
         peak RSS; dists = distributions in the venv after the run)",
        config.runs
    );

    if config.tools.contains(&Tool::Sanctuary) {
        println!();
        println!(
            "{:<10} {:<5} {:>14} {:>8} {:<10} {:>8} {:>8} {:<8}",
            "set", "mode", "sanctuary/uv", "target", "verdict", "RSS/uv", "target", "verdict"
        );
        println!("{}", "-".repeat(82));
        for v in verdicts {
            println!(
                "{:<10} {:<5} {:>14} {:>8} {:<10} {:>8} {:>8} {:<8}",
                v.set,
                v.mode,
                ratio(v.sanctuary_over_uv),
                format!("<= {:.1}x", v.target),
                v.verdict,
                ratio(v.rss_over_uv),
                format!("<= {RSS_TARGET:.1}x"),
                v.rss_verdict,
            );
        }
    }

    println!();
    for result in results {
        match &result.check {
            Some(c) if c.same => println!(
                "check {}: after {}, the venvs ({}) hold the lockfile's {} distributions, same versions",
                c.set,
                c.after,
                common::join(c.installed.keys().copied()),
                c.locked
            ),
            Some(c) => {
                println!(
                    "check {}: after {}, THE VENVS DIFFER ({} line(s)):",
                    c.set,
                    c.after,
                    c.differences.len()
                );
                for line in &c.differences {
                    println!("    {line}");
                }
            }
            None => println!(
                "check {}: not done (no venv was synced)",
                result.prepare.set
            ),
        }
    }

    for result in results {
        cold_floor::print(result);
        floor::print(result);
    }

    common::print_errors(results.iter().flat_map(|r| &r.cells));
}

#[derive(Serialize)]
struct Report<'a> {
    generated_unix_s: u64,
    runs: usize,
    cpus: usize,
    python: &'static str,
    python_executable: Option<String>,
    /// Per mode, sanctuary's median time over uv's at most this.
    targets: BTreeMap<&'static str, f64>,
    rss_target: f64,
    tools: BTreeMap<&'static str, ToolInfo>,
    commands: BTreeMap<&'static str, &'static str>,
    sets: &'a [ReqSet],
    prepared: Vec<&'a PrepareInfo>,
    checks: Vec<&'a VenvCheck>,
    /// The warm floor of each set where it was measured (see `floor`).
    floors: Vec<&'a floor::Floor>,
    /// The cold floor of each set where it was measured (see `cold_floor`).
    cold_floors: Vec<&'a cold_floor::ColdFloor>,
    cells: Vec<&'a Cell>,
    verdicts: &'a [Verdict],
}

fn write_json(config: &Config, results: &[SetResult], verdicts: &[Verdict]) -> Result<()> {
    let report = Report {
        generated_unix_s: common::unix_now(),
        runs: config.runs,
        cpus: common::cpus(),
        python: PYTHON,
        python_executable: config.python.as_ref().ok().map(|p| p.display().to_string()),
        targets: Mode::ALL.iter().map(|&m| (m.name(), target(m))).collect(),
        rss_target: RSS_TARGET,
        tools: config
            .tools
            .iter()
            .map(|t| (t.name(), ToolInfo::of(&config.bins[t])))
            .collect(),
        commands: config
            .tools
            .iter()
            .map(|t| (t.name(), command_line(*t)))
            .collect(),
        sets: &config.sets,
        prepared: results.iter().map(|r| &r.prepare).collect(),
        checks: results.iter().filter_map(|r| r.check.as_ref()).collect(),
        floors: results
            .iter()
            .filter_map(|r| r.floor.as_ref()?.as_ref().ok())
            .collect(),
        cold_floors: results
            .iter()
            .filter_map(|r| r.cold_floor.as_ref()?.as_ref().ok())
            .collect(),
        cells: results.iter().flat_map(|r| &r.cells).collect(),
        verdicts,
    };
    common::write_json(&config.results_path, &report)
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/// Under `cargo test --benches` (no `--bench` argument) the bench only checks its own inputs and
/// helpers, offline, in a moment, so that a test run never spends minutes on the network.
fn self_check() -> Result<()> {
    common::self_check(&DEFAULT_SETS)?;
    for name in DEFAULT_SETS {
        let set = common::load_set(&common::sets_dir(), name)?;
        let parsed: toml::Table = common::manifest(&set, SYNC_TABLE).parse()?;
        assert_eq!(parsed["sync"]["venv"].as_str(), Some(".venv"));
    }
    assert_eq!(normalize("Foo.Bar__baz"), "foo-bar-baz");
    assert_eq!(
        parse_dist_info("typing_extensions-4.12.2.dist-info"),
        Some(("typing-extensions".to_string(), "4.12.2".to_string()))
    );
    assert_eq!(
        parse_dist_info("torch-2.8.0+cpu.dist-info"),
        Some(("torch".to_string(), "2.8.0+cpu".to_string()))
    );
    assert_eq!(parse_dist_info("torch"), None);

    // A fake venv: what is installed is read from its dist-info directories.
    let dir = tempfile::tempdir()?;
    let site = dir
        .path()
        .join("lib")
        .join("python3.11")
        .join("site-packages");
    for d in ["Flask-3.1.0.dist-info", "blinker-1.9.0.dist-info", "flask"] {
        fs::create_dir_all(site.join(d))?;
    }
    let got = installed(dir.path())?;
    let want = BTreeMap::from([
        ("blinker".to_string(), "1.9.0".to_string()),
        ("flask".to_string(), "3.1.0".to_string()),
    ]);
    assert_eq!(got, want);
    let mut other = want.clone();
    other.insert("flask".to_string(), "3.0.0".to_string());
    other.insert("click".to_string(), "8.1.8".to_string());
    assert_eq!(
        differences("a", &want, "b", &other),
        ["click 8.1.8: only in b", "flask: a has 3.1.0, b has 3.0.0"]
    );

    // The children never see the caller's PIP_*/UV_* settings.
    let cmd = clean_command(Path::new("true"));
    for (key, value) in cmd.get_envs() {
        let key = key.to_string_lossy();
        if key.starts_with("PIP_") || key.starts_with("UV_") {
            assert!(value.is_none(), "{key} is passed on");
        }
    }
    let removed = cmd.get_envs().filter(|(_, v)| v.is_none()).count();
    let inherited = env::vars_os()
        .filter(|(k, _)| {
            k.to_str()
                .is_some_and(|k| k.starts_with("PIP_") || k.starts_with("UV_"))
        })
        .count();
    assert!(removed >= inherited);
    floor::self_check()?;
    cold_floor::self_check()?;
    println!("sync bench: self-check passed (run it with `cargo bench --bench sync`)");
    Ok(())
}

fn main() -> Result<()> {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    if let Some(launched) = common::launch::serve() {
        return launched;
    }
    let Some(positional) = common::bench_args() else {
        return self_check();
    };
    let mut config = Config::from_env(positional)?;

    let work = tempfile::Builder::new()
        .prefix("sanctuary-sync-bench-")
        .tempdir()?;
    // Every run times one copy of the binary, taken now (see `common::copy_under_test`); the
    // sets are locked with it too.
    if let Some(Ok(bin)) = config.bins.get(&Tool::Sanctuary) {
        let copy = common::copy_under_test(bin, work.path())?;
        config.bins.insert(Tool::Sanctuary, Ok(copy));
    }
    let tools: Vec<_> = config
        .tools
        .iter()
        .map(|t| (t.name(), &config.bins[t]))
        .collect();
    common::print_banner(
        "sync",
        &config.sets,
        &tools,
        config.modes.iter().map(|m| m.name()),
        config.runs,
        work.path(),
    );
    match &config.python {
        Ok(p) => eprintln!("  {:<12} {}", "venvs with", p.display()),
        Err(e) => eprintln!("  {:<12} unavailable: {e}", format!("python{PYTHON}")),
    }

    let mut results = Vec::new();
    for set in &config.sets {
        results.push(bench_set(&config, work.path(), set)?);
    }
    let verdicts = verdicts(&config, &results);
    print_report(&config, &results, &verdicts);
    write_json(&config, &results, &verdicts)?;

    if config.keep {
        let kept = work.keep();
        println!("Work dir kept: {}", kept.display());
    }
    Ok(())
}
