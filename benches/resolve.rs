//! `cargo bench --bench resolve`: how long `sanctuary lock`, `uv pip compile` and `pip-compile`
//! take to resolve and hash the same requirement sets against the live index, cold and warm.
//!
//! A plain binary (`harness = false`): every tool is timed as a whole process, started and reaped
//! here, because what a user waits for is the process. See `benches/README.md` for the knobs.
//!
//! Order of work, per requirement set and mode: repetition 1 of every tool, then repetition 2 of
//! every tool (in the reverse order), and so on, so that a drift in the machine or the network
//! touches all tools alike and no tool always runs first.

#[path = "common/mod.rs"]
mod common;
#[path = "resolve/floor.rs"]
mod floor;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use common::{
    Outcome, PYTHON, ReqSet, STDERR_TAIL_LINES, ToolInfo, count_pins, discard, empty_trash,
    env_choices, env_flag, env_number, manifest, measure, opt, order_of, ratio, settle, tail,
    trash_of,
};

/// The sets run when neither `BENCH_SETS` nor a positional argument names any, in this order;
/// other files in `benches/sets/` are run after them, by name.
const DEFAULT_SET_ORDER: [&str; 4] = ["small", "standard", "data-science", "ml-app"];
/// The targets of the performance issue: sanctuary's median over uv's median, per mode.
const DEFAULT_TARGETS: Targets = Targets {
    cold: 0.5,
    warm: 0.2,
};
/// Sets whose issue states other targets than [`DEFAULT_TARGETS`]. `sdists`: a cold lock runs
/// build backends for the metadata of sdist-only packages, work that uv does too and that no
/// metadata file of the index spares, hence at most uv's time; the metadata is cached by the sdist's sha256
/// (immutable), so warm keeps the usual target.
/// `standard-universal`: the universal-lockfile issue's targets for a lock over 3 platforms
/// x 3 Pythons against `uv pip compile --universal`.
const SET_TARGETS: [(&str, Targets); 2] = [
    (
        "sdists",
        Targets {
            cold: 1.0,
            warm: 0.2,
        },
    ),
    (
        "standard-universal",
        Targets {
            cold: 1.0,
            warm: 0.2,
        },
    ),
];
/// The platform uv resolves for (sanctuary's is in the manifest, `common::SANCTUARY_PLATFORM`).
/// pip-compile cannot be told: it resolves for the interpreter it runs on, which must be a
/// Python `common::PYTHON` (its version is recorded).
const UV_PLATFORM: &str = "x86_64-manylinux_2_28";

// ---------------------------------------------------------------------------------------------
// Tools, modes, configuration
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Tool {
    Sanctuary,
    Uv,
    PipCompile,
}

impl Tool {
    const ALL: [Tool; 3] = [Tool::Sanctuary, Tool::Uv, Tool::PipCompile];

    fn name(self) -> &'static str {
        match self {
            Tool::Sanctuary => "sanctuary",
            Tool::Uv => "uv",
            Tool::PipCompile => "pip-compile",
        }
    }

    /// The environment variable that overrides where the executable is.
    fn override_var(self) -> &'static str {
        match self {
            Tool::Sanctuary => "BENCH_SANCTUARY",
            Tool::Uv => "BENCH_UV",
            Tool::PipCompile => "BENCH_PIP_COMPILE",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Cold,
    Warm,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Cold => "cold",
            Mode::Warm => "warm",
        }
    }
}

/// The highest ratio sanctuary/uv that passes, per mode.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
struct Targets {
    cold: f64,
    warm: f64,
}

impl Targets {
    /// The targets of the set named `set`: its own from [`SET_TARGETS`], else the defaults.
    fn of(set: &str) -> Targets {
        SET_TARGETS
            .iter()
            .find(|(name, _)| *name == set)
            .map_or(DEFAULT_TARGETS, |(_, targets)| *targets)
    }

    fn get(self, mode: Mode) -> f64 {
        match mode {
            Mode::Cold => self.cold,
            Mode::Warm => self.warm,
        }
    }
}

struct Config {
    runs: usize,
    tools: Vec<Tool>,
    modes: Vec<Mode>,
    sets: Vec<ReqSet>,
    timeout: Duration,
    keep: bool,
    /// Each tool's executable, or why there is none.
    bins: BTreeMap<Tool, Result<PathBuf, String>>,
    results_path: PathBuf,
}

impl Config {
    fn from_env(positional_sets: Vec<String>) -> Result<Config> {
        let runs = env_number("BENCH_RUNS", common::DEFAULT_RUNS)? as usize;
        let timeout = Duration::from_secs(env_number("BENCH_TIMEOUT", 900)?);
        let keep = env_flag("BENCH_KEEP");
        let mut tools = env_choices("BENCH_TOOLS", &Tool::ALL, Tool::name)?;
        tools.sort();
        let modes = env_choices("BENCH_MODES", &[Mode::Cold, Mode::Warm], Mode::name)?;
        let sets = common::chosen_sets(positional_sets, &DEFAULT_SET_ORDER, None)?;
        let bins = Tool::ALL
            .into_iter()
            .map(|tool| (tool, locate(tool)))
            .collect();

        Ok(Config {
            runs,
            tools,
            modes,
            sets,
            timeout,
            keep,
            bins,
            results_path: common::results_dir().join("latest.json"),
        })
    }
}

/// Where a tool's executable is: `BENCH_<TOOL>` when set; for sanctuary the release binary that
/// `cargo bench` builds for this bench; for the others the first one on `PATH`, seen through a
/// pyenv shim (see `common::locate_on_path`).
fn locate(tool: Tool) -> Result<PathBuf, String> {
    match tool {
        Tool::Sanctuary => common::locate_sanctuary(),
        Tool::Uv | Tool::PipCompile => common::locate_on_path(tool.name(), tool.override_var()),
    }
}

// ---------------------------------------------------------------------------------------------
// One tool on one requirement set: its files and its command line
// ---------------------------------------------------------------------------------------------

/// `WORK/<set>/<tool>/`: `project/` (the input and the output the tool writes), `cache-*`
/// (one fresh directory per cold run, one kept for warm runs), and the logs of the last run.
struct Workspace {
    tool: Tool,
    /// The set is locked universally.
    universal: bool,
    /// `PATH` for the tool (`common::path_with_real_python`).
    path: Option<std::ffi::OsString>,
    bin: PathBuf,
    dir: PathBuf,
    project: PathBuf,
}

impl Workspace {
    fn create(root: &Path, set: &ReqSet, tool: Tool, bin: PathBuf) -> Result<Workspace> {
        let dir = root.join(&set.name).join(tool.name());
        let project = dir.join("project");
        fs::create_dir_all(&project)?;
        match tool {
            Tool::Sanctuary => fs::write(project.join("sanctuary.toml"), manifest(set, ""))?,
            Tool::Uv | Tool::PipCompile => fs::write(
                project.join("requirements.in"),
                set.requirements.join("\n") + "\n",
            )?,
        }
        Ok(Workspace {
            tool,
            universal: set.universal,
            path: common::path_with_real_python(),
            bin,
            dir,
            project,
        })
    }

    /// The file the tool writes; removed before every run so that each run resolves from
    /// scratch (an existing lockfile or output file would act as preferences).
    fn output(&self) -> PathBuf {
        match self.tool {
            Tool::Sanctuary => self
                .project
                .join("lockfiles")
                .join("pylock.application.toml"),
            Tool::Uv | Tool::PipCompile => self.project.join("out.txt"),
        }
    }

    fn clear_output(&self) -> Result<()> {
        let out = self.output();
        let target = match self.tool {
            Tool::Sanctuary => out.parent().expect("lockfile has a parent").to_path_buf(),
            _ => out,
        };
        if target.is_dir() {
            fs::remove_dir_all(&target)?;
        } else if target.exists() {
            fs::remove_file(&target)?;
        }
        Ok(())
    }

    fn command(&self, cache: &Path) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.current_dir(&self.project);
        // Every tool finds the real interpreter first (no pyenv shim to try) and uv never
        // downloads one, as on a machine where Python is installed.
        common::peer_env(&mut cmd, self.path.as_ref());
        match self.tool {
            Tool::Sanctuary => {
                cmd.arg("lock")
                    .arg("--manifest")
                    .arg(self.project.join("sanctuary.toml"))
                    .arg("-q")
                    .env("SANCTUARY_CACHE_DIR", cache)
                    .env_remove("SANCTUARY_MANIFEST");
            }
            Tool::Uv => {
                cmd.args(["pip", "compile", "--no-config", "--generate-hashes"])
                    .args(["--python-version", PYTHON]);
                // A universal set: uv's universal resolution (every platform, Python 3.11 and
                // up), which is what a uv user runs for a team on several systems.
                if self.universal {
                    cmd.arg("--universal");
                } else {
                    cmd.args(["--python-platform", UV_PLATFORM]);
                }
                cmd.args(["--quiet", "requirements.in", "-o", "out.txt"])
                    .env("UV_CACHE_DIR", cache);
            }
            Tool::PipCompile => {
                // pip-tools' own cache (`--cache-dir`) and pip's HTTP and wheel cache
                // (`PIP_CACHE_DIR`, read by the pip that pip-compile drives: no `--pip-args`
                // quoting of the path needed). `--allow-unsafe` and `--strip-extras` make its
                // output like uv's (uv pins setuptools/pip and strips extras by default).
                // A find-links directory from the environment would add a second source that
                // the other tools do not see, so it is dropped.
                cmd.args(["--quiet", "--no-config", "--generate-hashes"])
                    .args(["--allow-unsafe", "--strip-extras"])
                    .arg("--cache-dir")
                    .arg(cache.join("pip-tools"))
                    .args(["-o", "out.txt", "requirements.in"])
                    .env("PIP_CACHE_DIR", cache.join("pip"))
                    .env_remove("PIP_TOOLS_CACHE_DIR")
                    .env_remove("PIP_FIND_LINKS")
                    .env_remove("PIP_NO_CACHE_DIR");
            }
        }
        cmd
    }

    /// How many packages the output pins, or why it cannot be read.
    fn pins(&self) -> Result<usize, String> {
        let path = self.output();
        let text = fs::read_to_string(&path)
            .map_err(|e| format!("exit 0 but no output at {}: {e}", path.display()))?;
        Ok(match self.tool {
            Tool::Sanctuary => count_lock_packages(&text),
            Tool::Uv | Tool::PipCompile => count_pins(&text),
        })
    }
}

/// `[[packages]]` entries of a PEP 751 lockfile; by line when it does not parse.
fn count_lock_packages(text: &str) -> usize {
    common::lock_packages(text).map_or_else(
        |_| text.lines().filter(|l| l.trim() == "[[packages]]").count(),
        |p| p.len(),
    )
}

// ---------------------------------------------------------------------------------------------
// Cells: the runs of one (set, mode, tool)
// ---------------------------------------------------------------------------------------------

/// What a cell records besides its runs.
#[derive(Debug, Default, Serialize)]
struct Pins {
    /// Pins in the tool's output after the last run.
    pins: Option<usize>,
}

type Cell = common::Cell<Pins>;

/// Runs once with `cache`; on success records the sample and the pin count.
fn run_once(cell: &mut Cell, ws: &Workspace, cache: &Path, timeout: Duration) -> Result<bool> {
    ws.clear_output()?;
    fs::create_dir_all(cache)?;
    settle();
    match measure(ws.command(cache), &ws.dir, timeout)? {
        Outcome::Ok(sample) => match ws.pins() {
            Ok(pins) => {
                eprintln!(
                    "    {:<12} {:>8.2} s  {:>7} MiB  {pins} pins",
                    ws.tool.name(),
                    sample.wall_s,
                    sample.rss_mib(),
                );
                cell.samples.push(sample);
                cell.extra.pins = Some(pins);
                Ok(true)
            }
            Err(why) => {
                cell.fail(why, tail(&ws.dir.join("stderr.log"), STDERR_TAIL_LINES));
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

/// All modes of one requirement set, every tool, repetitions interleaved across tools.
/// The cells of a set, and its warm floor (see `floor`) or why it was not measured (`None`
/// without warm runs).
type SetResult = (Vec<Cell>, Option<Result<floor::Floor, String>>);

fn bench_set(config: &Config, root: &Path, set: &ReqSet) -> Result<SetResult> {
    let mut workspaces: Vec<(Tool, Result<Workspace, String>)> = Vec::new();
    for &tool in &config.tools {
        let ws = match &config.bins[&tool] {
            // pip-compile resolves for the interpreter it runs on: it has no universal mode.
            Ok(_) if set.universal && tool == Tool::PipCompile => {
                Err("pip-compile has no universal resolution".to_string())
            }
            Ok(bin) => Ok(Workspace::create(root, set, tool, bin.clone())?),
            Err(why) => Err(why.clone()),
        };
        workspaces.push((tool, ws));
    }
    // The cache of each tool's last successful cold run: the warm runs start from it.
    let mut warm_cache: BTreeMap<Tool, PathBuf> = BTreeMap::new();
    // Caches done with are moved here and deleted after the set (see `common::discard`).
    let trash = trash_of(root, set);
    let mut cells = Vec::new();
    let mut warm_floor = None;

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

        if mode == Mode::Warm {
            for ((tool, ws), cell) in workspaces.iter().zip(&mut mode_cells) {
                let (Ok(ws), None) = (ws, &cell.error) else {
                    continue;
                };
                if warm_cache.contains_key(tool) {
                    continue;
                }
                eprintln!(
                    "[{} warm] priming {}'s cache (not counted)",
                    set.name,
                    tool.name()
                );
                let cache = ws.dir.join("cache-warm");
                let mut prime = Cell::new(&set.name, mode.name(), tool.name());
                if run_once(&mut prime, ws, &cache, config.timeout)? {
                    warm_cache.insert(*tool, cache);
                } else {
                    cell.fail(
                        format!("priming run: {}", prime.error.unwrap_or_default()),
                        prime.stderr_tail.unwrap_or_default(),
                    );
                }
            }
        }

        // The floor makes a pass after every warm repetition, as another contender would.
        let mut progress = floor::Progress::default();
        for rep in 0..config.runs {
            eprintln!("[{} {} {}/{}]", set.name, mode.name(), rep + 1, config.runs);
            for i in order_of(rep, workspaces.len()) {
                let (tool, ws) = &workspaces[i];
                let cell = &mut mode_cells[i];
                let (Ok(ws), None) = (ws, &cell.error) else {
                    continue;
                };
                match mode {
                    Mode::Cold => {
                        let cache = ws.dir.join(format!("cache-cold-{}", rep + 1));
                        discard(&cache, &trash)?;
                        if run_once(cell, ws, &cache, config.timeout)? {
                            if let Some(old) = warm_cache.insert(*tool, cache) {
                                discard(&old, &trash)?;
                            }
                        } else {
                            discard(&cache, &trash)?;
                        }
                    }
                    Mode::Warm => {
                        run_once(cell, ws, &warm_cache[tool], config.timeout)?;
                    }
                }
            }
            if mode == Mode::Warm && config.tools.contains(&Tool::Sanctuary) {
                let cache = warm_cache.get(&Tool::Sanctuary).map(PathBuf::as_path);
                progress.after_rep(&set.name, rep, cache);
            }
        }
        for cell in &mut mode_cells {
            cell.finish();
        }
        cells.extend(mode_cells);
        if mode == Mode::Warm {
            warm_floor = progress.finish(&set.name);
        }
    }
    // The set is done: what it discarded can go now, outside any timed run.
    empty_trash(&trash)?;
    Ok((cells, warm_floor))
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
struct Verdict {
    set: String,
    mode: &'static str,
    sanctuary_over_uv: Option<f64>,
    sanctuary_over_pip_compile: Option<f64>,
    target: f64,
    /// `PASS`, `MISS`, or `n/a: why`.
    verdict: String,
    /// Median peak RSS, sanctuary over uv, against [`RSS_TARGET`].
    rss_over_uv: Option<f64>,
    rss_verdict: String,
}

/// The performance issue's memory target, in every set and mode: sanctuary's median peak RSS
/// at most uv's.
const RSS_TARGET: f64 = 1.0;

fn find<'a>(cells: &'a [Cell], set: &str, mode: &str, tool: Tool) -> Option<&'a Cell> {
    cells
        .iter()
        .find(|c| c.set == set && c.mode == mode && c.tool == tool.name())
}

fn verdicts(config: &Config, cells: &[Cell]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for set in &config.sets {
        let targets = Targets::of(&set.name);
        for &mode in &config.modes {
            let target = targets.get(mode);
            let cell = |tool| find(cells, &set.name, mode.name(), tool);
            let ratio = |tool| {
                let s = cell(Tool::Sanctuary)?.stats.median_s?;
                let other = cell(tool)?.stats.median_s?;
                (other > 0.0).then(|| s / other)
            };
            let vs_uv = ratio(Tool::Uv);
            let why_not = |tool: Tool| match cell(tool) {
                None => format!("{} not run", tool.name()),
                Some(_) => format!("{} error", tool.name()),
            };
            let verdict = match vs_uv {
                Some(r) if r <= target => "PASS".to_string(),
                Some(_) => "MISS".to_string(),
                None if cell(Tool::Sanctuary)
                    .and_then(|c| c.stats.median_s)
                    .is_none() =>
                {
                    format!("n/a: {}", why_not(Tool::Sanctuary))
                }
                None => format!("n/a: {}", why_not(Tool::Uv)),
            };
            let rss = |tool| cell(tool).and_then(|c| c.stats.median_max_rss_mib);
            let rss_over_uv = match (rss(Tool::Sanctuary), rss(Tool::Uv)) {
                (Some(s), Some(u)) if u > 0.0 => Some(s / u),
                _ => None,
            };
            let rss_verdict = match rss_over_uv {
                Some(r) if r <= RSS_TARGET => "PASS",
                Some(_) => "MISS",
                None => "n/a",
            }
            .to_string();
            out.push(Verdict {
                set: set.name.clone(),
                mode: mode.name(),
                sanctuary_over_uv: vs_uv,
                sanctuary_over_pip_compile: ratio(Tool::PipCompile),
                target,
                verdict,
                rss_over_uv,
                rss_verdict,
            });
        }
    }
    out
}

fn print_report(
    config: &Config,
    cells: &[Cell],
    floors: &[(String, Option<Result<floor::Floor, String>>)],
    verdicts: &[Verdict],
) {
    println!();
    println!(
        "{:<14} {:<5} {:<12} {:>26} {:>8} {:>8} {:>6}",
        "set", "mode", "tool", "median s (min-max)", "cpu s", "MiB", "pins"
    );
    println!("{}", "-".repeat(85));
    for cell in cells {
        println!(
            "{:<14} {:<5} {:<12} {:>26} {:>8} {:>8} {:>6}",
            cell.set,
            cell.mode,
            cell.tool,
            cell.stats.time_cell(cell.error.is_some()),
            opt(cell.stats.median_cpu_s, 2),
            opt(cell.stats.median_max_rss_mib, 0),
            cell.extra.pins.map_or("-".to_string(), |p| p.to_string()),
        );
    }
    println!(
        "\n(median of {} run(s) each; MiB = median of each run's peak RSS; pins = packages in the output)",
        config.runs
    );

    if config.tools.contains(&Tool::Sanctuary) {
        println!();
        println!(
            "{:<18} {:<5} {:>13} {:>8} {:<10} {:>8} {:>8} {:<8} {:>22}",
            "set",
            "mode",
            "sanctuary/uv",
            "target",
            "verdict",
            "RSS/uv",
            "target",
            "verdict",
            "sanctuary/pip-compile"
        );
        println!("{}", "-".repeat(110));
        for v in verdicts {
            println!(
                "{:<18} {:<5} {:>13} {:>8} {:<10} {:>8} {:>8} {:<8} {:>22}",
                v.set,
                v.mode,
                ratio(v.sanctuary_over_uv),
                format!("<= {:.1}x", v.target),
                v.verdict,
                ratio(v.rss_over_uv),
                format!("<= {RSS_TARGET:.1}x"),
                v.rss_verdict,
                ratio(v.sanctuary_over_pip_compile),
            );
        }
    }

    if floors.iter().any(|(_, f)| f.is_some()) {
        println!();
    }
    for (set, f) in floors {
        let uv = find(cells, set, Mode::Warm.name(), Tool::Uv).and_then(|c| c.stats.median_s);
        floor::print(set, f, uv, Targets::of(set).get(Mode::Warm));
    }

    common::print_errors(cells);
}

#[derive(Serialize)]
struct Report<'a> {
    generated_unix_s: u64,
    runs: usize,
    cpus: usize,
    python: &'static str,
    /// `default`, then every set run whose targets differ from it.
    targets: BTreeMap<&'a str, Targets>,
    tools: BTreeMap<&'static str, ToolInfo>,
    sets: &'a [ReqSet],
    cells: &'a [Cell],
    /// The warm floor of each set where it was measured (see `floor`).
    floors: Vec<&'a floor::Floor>,
    verdicts: &'a [Verdict],
}

/// The targets the JSON records: `default`, and each of `sets` that has its own.
fn report_targets(sets: &[ReqSet]) -> BTreeMap<&str, Targets> {
    let mut targets = BTreeMap::from([("default", DEFAULT_TARGETS)]);
    for set in sets {
        let own = Targets::of(&set.name);
        if own != DEFAULT_TARGETS {
            targets.insert(set.name.as_str(), own);
        }
    }
    targets
}

fn write_json(
    config: &Config,
    cells: &[Cell],
    floors: &[(String, Option<Result<floor::Floor, String>>)],
    verdicts: &[Verdict],
) -> Result<()> {
    let tools = config
        .tools
        .iter()
        .map(|t| (t.name(), ToolInfo::of(&config.bins[t])))
        .collect();
    let report = Report {
        generated_unix_s: common::unix_now(),
        runs: config.runs,
        cpus: common::cpus(),
        python: PYTHON,
        targets: report_targets(&config.sets),
        tools,
        sets: &config.sets,
        cells,
        floors: floors
            .iter()
            .filter_map(|(_, f)| f.as_ref()?.as_ref().ok())
            .collect(),
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
    common::self_check(&DEFAULT_SET_ORDER)?;
    let lock = "lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\n[[packages.wheels]]\nname = \"w\"\n\
                [[packages]]\nname = \"b\"\n";
    assert_eq!(count_lock_packages(lock), 2);
    // Every set with its own targets names a set that exists, and `sdists` keeps the issue's.
    let available = common::available_sets(&common::sets_dir(), &DEFAULT_SET_ORDER)?;
    for (name, _) in SET_TARGETS {
        anyhow::ensure!(
            available.iter().any(|s| s == name),
            "SET_TARGETS names `{name}`, but benches/sets/{name}.txt is missing"
        );
    }
    assert_eq!(Targets::of("sdists").get(Mode::Cold), 1.0);
    assert_eq!(Targets::of("sdists").get(Mode::Warm), 0.2);
    assert_eq!(Targets::of("standard"), DEFAULT_TARGETS);
    floor::self_check()?;
    println!("resolve bench: self-check passed (run it with `cargo bench --bench resolve`)");
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
        .prefix("sanctuary-bench-")
        .tempdir()?;
    // Every run times one copy of the binary, taken now (see `common::copy_under_test`).
    if config.tools.contains(&Tool::Sanctuary)
        && let Some(Ok(bin)) = config.bins.get(&Tool::Sanctuary)
    {
        let copy = common::copy_under_test(bin, work.path())?;
        config.bins.insert(Tool::Sanctuary, Ok(copy));
    }
    let tools: Vec<_> = config
        .tools
        .iter()
        .map(|t| (t.name(), &config.bins[t]))
        .collect();
    common::print_banner(
        "resolve",
        &config.sets,
        &tools,
        config.modes.iter().map(|m| m.name()),
        config.runs,
        work.path(),
    );

    let (mut cells, mut floors) = (Vec::new(), Vec::new());
    for set in &config.sets {
        let (set_cells, floor) = bench_set(&config, work.path(), set)?;
        cells.extend(set_cells);
        floors.push((set.name.clone(), floor));
    }
    let verdicts = verdicts(&config, &cells);
    print_report(&config, &cells, &floors, &verdicts);
    write_json(&config, &cells, &floors, &verdicts)?;

    if config.keep {
        let kept = work.keep();
        println!("Work dir kept: {}", kept.display());
    }
    Ok(())
}
