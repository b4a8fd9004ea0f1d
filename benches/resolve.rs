//! `cargo bench --bench resolve`: how long `sanctuary lock`, `uv pip compile` and `pip-compile`
//! take to resolve and hash the same requirement sets against the live index, cold and warm.
//!
//! A plain binary (`harness = false`): every tool is timed as a whole process, started and reaped
//! here, because what a user waits for is the process. See `benches/README.md` for the knobs.
//!
//! Order of work, per requirement set and mode: repetition 1 of every tool, then repetition 2 of
//! every tool, and so on, so that a drift in the machine or the network touches all tools alike.

use std::collections::BTreeMap;
use std::env;
use std::ffi::OsString;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

/// The sets run when neither `BENCH_SETS` nor a positional argument names any, in this order;
/// other files in `benches/sets/` are run after them, by name.
const DEFAULT_SET_ORDER: [&str; 4] = ["small", "standard", "data-science", "ml-app"];
/// The targets from the performance issue: sanctuary's median over uv's median, per mode.
const TARGET_COLD: f64 = 0.5;
const TARGET_WARM: f64 = 0.2;
/// The Python and platform every tool resolves for. pip-compile cannot be told: it resolves
/// for the interpreter it runs on, which must be this one (its version is recorded).
const PYTHON: &str = "3.11";
const SANCTUARY_PLATFORM: &str = "linux-x86_64";
const UV_PLATFORM: &str = "x86_64-manylinux_2_28";
/// Lines of a failing run's stderr shown under the table.
const STDERR_TAIL_LINES: usize = 20;

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

    fn parse(s: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == s)
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

    fn target(self) -> f64 {
        match self {
            Mode::Cold => TARGET_COLD,
            Mode::Warm => TARGET_WARM,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
struct ReqSet {
    name: String,
    requirements: Vec<String>,
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

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches")
}

/// A comma-separated environment variable, or `None` when unset or blank.
fn env_list(var: &str) -> Option<Vec<String>> {
    let value = env::var(var).ok()?;
    let items: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

fn env_number(var: &str, default: u64) -> Result<u64> {
    match env::var(var) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("{var}={v:?}: expected a positive whole number")),
        _ => Ok(default),
    }
}

impl Config {
    fn from_env(positional_sets: Vec<String>) -> Result<Config> {
        let runs = env_number("BENCH_RUNS", 3)? as usize;
        let timeout = Duration::from_secs(env_number("BENCH_TIMEOUT", 900)?);
        let keep = env::var("BENCH_KEEP").is_ok_and(|v| !v.is_empty() && v != "0");

        let tools = match env_list("BENCH_TOOLS") {
            None => Tool::ALL.to_vec(),
            Some(names) => {
                let mut tools = Vec::new();
                for name in names {
                    let tool = Tool::parse(&name).with_context(|| {
                        format!("BENCH_TOOLS: unknown tool `{name}` (sanctuary, uv, pip-compile)")
                    })?;
                    if !tools.contains(&tool) {
                        tools.push(tool);
                    }
                }
                tools.sort();
                tools
            }
        };

        let modes = match env_list("BENCH_MODES") {
            None => vec![Mode::Cold, Mode::Warm],
            Some(names) => {
                let mut modes = Vec::new();
                for name in names {
                    let mode = match name.as_str() {
                        "cold" => Mode::Cold,
                        "warm" => Mode::Warm,
                        _ => bail!("BENCH_MODES: unknown mode `{name}` (cold, warm)"),
                    };
                    if !modes.contains(&mode) {
                        modes.push(mode);
                    }
                }
                modes
            }
        };

        let available = available_sets(&bench_dir().join("sets"))?;
        let wanted = env_list("BENCH_SETS")
            .or((!positional_sets.is_empty()).then_some(positional_sets))
            .unwrap_or_else(|| available.clone());
        let mut sets = Vec::new();
        for name in wanted {
            if !available.contains(&name) {
                bail!(
                    "requirement set `{name}` not found: expected benches/sets/{name}.txt (have: {})",
                    available.join(", ")
                );
            }
            sets.push(load_set(&bench_dir().join("sets"), &name)?);
        }

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
            results_path: bench_dir().join("results").join("latest.json"),
        })
    }
}

/// Names of `benches/sets/*.txt`, the default ones first in their order, then the rest by name.
fn available_sets(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "txt")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(stem.to_string());
        }
    }
    names.sort_by_key(|n| {
        let rank = DEFAULT_SET_ORDER
            .iter()
            .position(|d| d == n)
            .unwrap_or(DEFAULT_SET_ORDER.len());
        (rank, n.clone())
    });
    Ok(names)
}

/// One requirement a line; `#` starts a comment; blank lines are skipped.
fn parse_set(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

fn load_set(dir: &Path, name: &str) -> Result<ReqSet> {
    let path = dir.join(format!("{name}.txt"));
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let requirements = parse_set(&text);
    if requirements.is_empty() {
        bail!("{}: no requirements", path.display());
    }
    Ok(ReqSet {
        name: name.to_string(),
        requirements,
    })
}

/// Where a tool's executable is: `BENCH_<TOOL>` when set; for sanctuary the release binary that
/// `cargo bench` builds for this bench (`CARGO_BIN_EXE_sanctuary`); for the others the first one
/// on `PATH`, seen through a pyenv shim (a shell script that would add its own start-up time to
/// every run) to the real file with `pyenv which`.
fn locate(tool: Tool) -> Result<PathBuf, String> {
    if let Some(path) = env::var_os(tool.override_var()).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{}={} is not a file",
                tool.override_var(),
                path.display()
            ))
        };
    }
    if tool == Tool::Sanctuary {
        let path = PathBuf::from(env!("CARGO_BIN_EXE_sanctuary"));
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("{} is missing", path.display()))
        };
    }
    let name = tool.name();
    let found = env::var_os("PATH")
        .map(|paths| {
            env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_default()
        .ok_or_else(|| format!("`{name}` is not on PATH (or set {})", tool.override_var()))?;
    if found
        .parent()
        .and_then(|d| d.file_name())
        .is_some_and(|d| d == "shims")
        && let Ok(out) = Command::new("pyenv")
            .args(["which", name])
            .stderr(Stdio::null())
            .output()
        && out.status.success()
    {
        let real = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if real.is_file() {
            return Ok(real);
        }
    }
    Ok(found)
}

/// The first line `EXE --version` prints, for the record.
fn version_of(bin: &Path) -> Option<String> {
    let out = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    out.status
        .success()
        .then(|| text.lines().next().unwrap_or("").trim().to_string())
}

// ---------------------------------------------------------------------------------------------
// Running one process: wall time, CPU time and peak memory
// ---------------------------------------------------------------------------------------------

/// Peak memory and CPU time come from `wait4(2)`, declared here (std has no binding and no new
/// crate may be added): reaping a child with `wait4` returns that one child's `rusage`, its
/// waited-for descendants included, so each run gets its own figure. `getrusage(RUSAGE_CHILDREN)`
/// would not: its `ru_maxrss` is the largest child this process ever reaped, so after the first
/// big run it stops telling runs apart. `/usr/bin/time -f %M` would work too but adds a process
/// and a package that a machine may lack, and mixes its line into the tool's stderr.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod sys {
    use std::os::raw::{c_int, c_long};

    #[repr(C)]
    #[derive(Default)]
    pub struct Timeval {
        pub tv_sec: c_long,
        pub tv_usec: c_long,
    }

    /// `struct rusage` on 64-bit Linux: two `timeval`s, then fourteen `long`s, the first of
    /// which is `ru_maxrss` in KiB.
    #[repr(C)]
    #[derive(Default)]
    pub struct Rusage {
        pub ru_utime: Timeval,
        pub ru_stime: Timeval,
        pub ru_maxrss: c_long,
        pub rest: [c_long; 13],
    }

    pub const WNOHANG: c_int = 1;
    const EINTR: i32 = 4;

    unsafe extern "C" {
        fn wait4(pid: c_int, status: *mut c_int, options: c_int, rusage: *mut Rusage) -> c_int;
    }

    /// `Ok(None)` while the child runs (with `WNOHANG`), else its raw wait status and rusage.
    pub fn wait(pid: u32, options: c_int) -> std::io::Result<Option<(c_int, Rusage)>> {
        loop {
            let mut status: c_int = 0;
            let mut usage = Rusage::default();
            // SAFETY: both pointers are to live, properly laid-out locals; `pid` is our own
            // unreaped child, so no other process can be waited for or affected.
            let rc = unsafe { wait4(pid as c_int, &mut status, options, &mut usage) };
            match rc {
                0 => return Ok(None),
                r if r > 0 => return Ok(Some((status, usage))),
                _ => {
                    let err = std::io::Error::last_os_error();
                    if err.raw_os_error() != Some(EINTR) {
                        return Err(err);
                    }
                }
            }
        }
    }
}

#[derive(Clone, Debug, Serialize)]
struct Sample {
    wall_s: f64,
    cpu_s: Option<f64>,
    max_rss_kib: Option<u64>,
}

enum Outcome {
    Ok(Sample),
    Failed { status: String, stderr_tail: String },
}

fn tail(path: &Path, lines: usize) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_end(&mut bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `cmd` to completion (killing it at `timeout`), its output to `log_dir/{stdout,stderr}`.
fn measure(mut cmd: Command, log_dir: &Path, timeout: Duration) -> Result<Outcome> {
    let stdout_path = log_dir.join("stdout.log");
    let stderr_path = log_dir.join("stderr.log");
    cmd.stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path)?)
        .stderr(fs::File::create(&stderr_path)?);

    let start = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Ok(Outcome::Failed {
                status: format!("could not start: {err}"),
                stderr_tail: String::new(),
            });
        }
    };

    let (status, wall, cpu, rss, timed_out) = wait_child(&mut child, start, timeout)?;
    if status.success() && !timed_out {
        Ok(Outcome::Ok(Sample {
            wall_s: wall.as_secs_f64(),
            cpu_s: cpu,
            max_rss_kib: rss,
        }))
    } else {
        Ok(Outcome::Failed {
            status: if timed_out {
                format!("killed after the {} s timeout", timeout.as_secs())
            } else {
                status.to_string()
            },
            stderr_tail: tail(&stderr_path, STDERR_TAIL_LINES),
        })
    }
}

/// Exit status, wall time, CPU seconds, peak RSS in KiB, and whether the timeout killed it.
type Waited = (ExitStatus, Duration, Option<f64>, Option<u64>, bool);

/// Polls the child (every millisecond at first, then every 5 ms: well under the noise of runs
/// that take a second or more) so the timeout needs no second thread and no signal that could
/// reach a recycled pid; the child is reaped by `wait4` for its rusage.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
fn wait_child(
    child: &mut std::process::Child,
    start: Instant,
    timeout: Duration,
) -> Result<Waited> {
    use std::os::unix::process::ExitStatusExt as _;
    let pid = child.id();
    let mut killed = false;
    loop {
        if let Some((status, usage)) = sys::wait(pid, sys::WNOHANG)? {
            let wall = start.elapsed();
            let secs = |t: &sys::Timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            let cpu = secs(&usage.ru_utime) + secs(&usage.ru_stime);
            return Ok((
                ExitStatus::from_raw(status),
                wall,
                Some(cpu),
                Some(usage.ru_maxrss as u64),
                killed,
            ));
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout && !killed {
            // Not reaped yet, so the pid is still ours.
            let _ = child.kill();
            killed = true;
            continue;
        }
        let pause = if elapsed < Duration::from_secs(1) {
            1
        } else {
            5
        };
        std::thread::sleep(Duration::from_millis(pause));
    }
}

/// Elsewhere: std's wait, wall time only.
#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
fn wait_child(
    child: &mut std::process::Child,
    start: Instant,
    timeout: Duration,
) -> Result<Waited> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status, start.elapsed(), None, None, false));
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let status = child.wait()?;
            return Ok((status, start.elapsed(), None, None, true));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------------------
// One tool on one requirement set: its files and its command line
// ---------------------------------------------------------------------------------------------

/// `WORK/<set>/<tool>/`: `project/` (the input and the output the tool writes), `cache-*`
/// (one fresh directory per cold run, one kept for warm runs), and the logs of the last run.
struct Workspace {
    tool: Tool,
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
            Tool::Sanctuary => fs::write(project.join("sanctuary.toml"), manifest(set))?,
            Tool::Uv | Tool::PipCompile => fs::write(
                project.join("requirements.in"),
                set.requirements.join("\n") + "\n",
            )?,
        }
        Ok(Workspace {
            tool,
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
                    .args(["--python-version", PYTHON])
                    .args(["--python-platform", UV_PLATFORM])
                    .args(["--quiet", "requirements.in", "-o", "out.txt"])
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

/// The manifest of the CLI contract for `set`.
fn manifest(set: &ReqSet) -> String {
    let reqs: Vec<String> = set
        .requirements
        .iter()
        .map(|r| format!("    {},\n", toml::Value::String(r.clone())))
        .collect();
    format!(
        "[project]\nname = \"bench-{name}\"\npython = \"{PYTHON}\"\nplatform = \"{SANCTUARY_PLATFORM}\"\n\n\
         [application]\nrequirements = [\n{reqs}]\n",
        name = set.name,
        reqs = reqs.concat(),
    )
}

/// `name==version` lines of a requirements file (hash and comment lines are indented or `#`).
fn count_pins(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphanumeric()) && l.contains("=="))
        .count()
}

/// `[[packages]]` entries of a PEP 751 lockfile; by line when it does not parse.
fn count_lock_packages(text: &str) -> usize {
    match text.parse::<toml::Table>() {
        Ok(table) => table
            .get("packages")
            .and_then(|p| p.as_array())
            .map_or(0, Vec::len),
        Err(_) => text.lines().filter(|l| l.trim() == "[[packages]]").count(),
    }
}

// ---------------------------------------------------------------------------------------------
// Cells: the runs of one (set, mode, tool)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
struct Cell {
    set: String,
    mode: &'static str,
    tool: &'static str,
    samples: Vec<Sample>,
    median_s: Option<f64>,
    min_s: Option<f64>,
    max_s: Option<f64>,
    /// Median over the runs of each run's peak resident memory.
    median_max_rss_mib: Option<f64>,
    median_cpu_s: Option<f64>,
    pins: Option<usize>,
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stderr_tail: Option<String>,
}

impl Cell {
    fn new(set: &str, mode: Mode, tool: Tool) -> Cell {
        Cell {
            set: set.to_string(),
            mode: mode.name(),
            tool: tool.name(),
            samples: Vec::new(),
            median_s: None,
            min_s: None,
            max_s: None,
            median_max_rss_mib: None,
            median_cpu_s: None,
            pins: None,
            error: None,
            stderr_tail: None,
        }
    }

    fn fail(&mut self, error: String, stderr_tail: String) {
        eprintln!(
            "    {} {} {}: error: {error}",
            self.set, self.mode, self.tool
        );
        self.error = Some(error);
        self.stderr_tail = (!stderr_tail.is_empty()).then_some(stderr_tail);
    }

    fn finish(&mut self) {
        if self.error.is_some() || self.samples.is_empty() {
            return;
        }
        let walls: Vec<f64> = self.samples.iter().map(|s| s.wall_s).collect();
        self.median_s = median(&walls);
        self.min_s = walls.iter().copied().reduce(f64::min);
        self.max_s = walls.iter().copied().reduce(f64::max);
        let rss: Vec<f64> = self
            .samples
            .iter()
            .filter_map(|s| s.max_rss_kib.map(|k| k as f64 / 1024.0))
            .collect();
        self.median_max_rss_mib = median(&rss);
        let cpu: Vec<f64> = self.samples.iter().filter_map(|s| s.cpu_s).collect();
        self.median_cpu_s = median(&cpu);
    }
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Runs once with `cache`; on success records the sample and the pin count.
fn run_once(cell: &mut Cell, ws: &Workspace, cache: &Path, timeout: Duration) -> Result<bool> {
    ws.clear_output()?;
    fs::create_dir_all(cache)?;
    match measure(ws.command(cache), &ws.dir, timeout)? {
        Outcome::Ok(sample) => match ws.pins() {
            Ok(pins) => {
                eprintln!(
                    "    {:<12} {:>8.2} s  {:>7} MiB  {pins} pins",
                    ws.tool.name(),
                    sample.wall_s,
                    sample
                        .max_rss_kib
                        .map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0)),
                );
                cell.samples.push(sample);
                cell.pins = Some(pins);
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
fn bench_set(config: &Config, root: &Path, set: &ReqSet) -> Result<Vec<Cell>> {
    let mut workspaces: Vec<(Tool, Result<Workspace, String>)> = Vec::new();
    for &tool in &config.tools {
        let ws = match &config.bins[&tool] {
            Ok(bin) => Ok(Workspace::create(root, set, tool, bin.clone())?),
            Err(why) => Err(why.clone()),
        };
        workspaces.push((tool, ws));
    }
    // The cache of each tool's last successful cold run: the warm runs start from it.
    let mut warm_cache: BTreeMap<Tool, PathBuf> = BTreeMap::new();
    let mut cells = Vec::new();

    for &mode in &config.modes {
        let mut mode_cells: Vec<Cell> = workspaces
            .iter()
            .map(|(tool, ws)| {
                let mut cell = Cell::new(&set.name, mode, *tool);
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
                let mut prime = Cell::new(&set.name, mode, *tool);
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

        for rep in 0..config.runs {
            eprintln!("[{} {} {}/{}]", set.name, mode.name(), rep + 1, config.runs);
            for ((tool, ws), cell) in workspaces.iter().zip(&mut mode_cells) {
                let (Ok(ws), None) = (ws, &cell.error) else {
                    continue;
                };
                match mode {
                    Mode::Cold => {
                        let cache = ws.dir.join(format!("cache-cold-{}", rep + 1));
                        if cache.exists() {
                            fs::remove_dir_all(&cache)?;
                        }
                        if run_once(cell, ws, &cache, config.timeout)? {
                            if let Some(old) = warm_cache.insert(*tool, cache) {
                                let _ = fs::remove_dir_all(old);
                            }
                        } else {
                            let _ = fs::remove_dir_all(&cache);
                        }
                    }
                    Mode::Warm => {
                        run_once(cell, ws, &warm_cache[tool], config.timeout)?;
                    }
                }
            }
        }
        for cell in &mut mode_cells {
            cell.finish();
        }
        cells.extend(mode_cells);
    }
    Ok(cells)
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
}

fn find<'a>(cells: &'a [Cell], set: &str, mode: &str, tool: Tool) -> Option<&'a Cell> {
    cells
        .iter()
        .find(|c| c.set == set && c.mode == mode && c.tool == tool.name())
}

fn verdicts(config: &Config, cells: &[Cell]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for set in &config.sets {
        for &mode in &config.modes {
            let cell = |tool| find(cells, &set.name, mode.name(), tool);
            let ratio = |tool| {
                let s = cell(Tool::Sanctuary)?.median_s?;
                let other = cell(tool)?.median_s?;
                (other > 0.0).then(|| s / other)
            };
            let vs_uv = ratio(Tool::Uv);
            let why_not = |tool: Tool| match cell(tool) {
                None => format!("{} not run", tool.name()),
                Some(_) => format!("{} error", tool.name()),
            };
            let verdict = match vs_uv {
                Some(r) if r <= mode.target() => "PASS".to_string(),
                Some(_) => "MISS".to_string(),
                None if cell(Tool::Sanctuary).and_then(|c| c.median_s).is_none() => {
                    format!("n/a: {}", why_not(Tool::Sanctuary))
                }
                None => format!("n/a: {}", why_not(Tool::Uv)),
            };
            out.push(Verdict {
                set: set.name.clone(),
                mode: mode.name(),
                sanctuary_over_uv: vs_uv,
                sanctuary_over_pip_compile: ratio(Tool::PipCompile),
                target: mode.target(),
                verdict,
            });
        }
    }
    out
}

fn print_report(config: &Config, cells: &[Cell], verdicts: &[Verdict]) {
    println!();
    println!(
        "{:<14} {:<5} {:<12} {:>26} {:>8} {:>8} {:>6}",
        "set", "mode", "tool", "median s (min-max)", "cpu s", "MiB", "pins"
    );
    println!("{}", "-".repeat(85));
    for cell in cells {
        let time = match (cell.median_s, cell.min_s, cell.max_s, &cell.error) {
            (_, _, _, Some(_)) => "error".to_string(),
            (Some(m), Some(lo), Some(hi), None) => format!("{m:.2} ({lo:.2}-{hi:.2})"),
            _ => "-".to_string(),
        };
        let opt =
            |v: Option<f64>, prec: usize| v.map_or("-".to_string(), |v| format!("{v:.prec$}"));
        println!(
            "{:<14} {:<5} {:<12} {:>26} {:>8} {:>8} {:>6}",
            cell.set,
            cell.mode,
            cell.tool,
            time,
            opt(cell.median_cpu_s, 2),
            opt(cell.median_max_rss_mib, 0),
            cell.pins.map_or("-".to_string(), |p| p.to_string()),
        );
    }
    println!(
        "\n(median of {} run(s) each; MiB = median of each run's peak RSS; pins = packages in the output)",
        config.runs
    );

    if config.tools.contains(&Tool::Sanctuary) {
        println!();
        println!(
            "{:<14} {:<5} {:>14} {:>8} {:<24} {:>22}",
            "set", "mode", "sanctuary/uv", "target", "verdict", "sanctuary/pip-compile"
        );
        println!("{}", "-".repeat(92));
        for v in verdicts {
            let ratio = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}x"));
            println!(
                "{:<14} {:<5} {:>14} {:>8} {:<24} {:>22}",
                v.set,
                v.mode,
                ratio(v.sanctuary_over_uv),
                format!("<= {:.1}x", v.target),
                v.verdict,
                ratio(v.sanctuary_over_pip_compile),
            );
        }
    }

    let failed: Vec<&Cell> = cells.iter().filter(|c| c.error.is_some()).collect();
    if !failed.is_empty() {
        println!("\nErrors:");
        for cell in failed {
            println!(
                "- {} {} {}: {}",
                cell.set,
                cell.mode,
                cell.tool,
                cell.error.as_deref().unwrap_or_default()
            );
            if let Some(t) = &cell.stderr_tail {
                for line in t.lines() {
                    println!("    | {line}");
                }
            }
        }
    }
}

#[derive(Serialize)]
struct ToolInfo {
    path: Option<String>,
    version: Option<String>,
    error: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    generated_unix_s: u64,
    runs: usize,
    cpus: usize,
    python: &'static str,
    targets: BTreeMap<&'static str, f64>,
    tools: BTreeMap<&'static str, ToolInfo>,
    sets: &'a [ReqSet],
    cells: &'a [Cell],
    verdicts: &'a [Verdict],
}

fn write_json(config: &Config, cells: &[Cell], verdicts: &[Verdict]) -> Result<()> {
    let tools = config
        .tools
        .iter()
        .map(|t| {
            let info = match &config.bins[t] {
                Ok(p) => ToolInfo {
                    path: Some(p.display().to_string()),
                    version: version_of(p),
                    error: None,
                },
                Err(e) => ToolInfo {
                    path: None,
                    version: None,
                    error: Some(e.clone()),
                },
            };
            (t.name(), info)
        })
        .collect();
    let report = Report {
        generated_unix_s: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        runs: config.runs,
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        python: PYTHON,
        targets: BTreeMap::from([("cold", TARGET_COLD), ("warm", TARGET_WARM)]),
        tools,
        sets: &config.sets,
        cells,
        verdicts,
    };
    let path = &config.results_path;
    fs::create_dir_all(path.parent().expect("results path has a parent"))?;
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, serde_json::to_string_pretty(&report)? + "\n")?;
    fs::rename(&tmp, path)?;
    println!("\nResults written to {}", path.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------

/// Under `cargo test --benches` (no `--bench` argument) the bench only checks its own inputs and
/// helpers, offline, in a moment, so that a test run never spends minutes on the network.
fn self_check() -> Result<()> {
    let sets = available_sets(&bench_dir().join("sets"))?;
    for name in &DEFAULT_SET_ORDER {
        if !sets.iter().any(|s| s == name) {
            bail!("benches/sets/{name}.txt is missing");
        }
    }
    for name in &sets {
        let set = load_set(&bench_dir().join("sets"), name)?;
        let parsed: toml::Table = manifest(&set).parse()?;
        let reqs = parsed["application"]["requirements"]
            .as_array()
            .context("manifest has no requirements")?;
        assert_eq!(reqs.len(), set.requirements.len());
    }
    assert_eq!(
        parse_set("# c\n\nflask  # web\n pydantic>=2\n"),
        ["flask", "pydantic>=2"]
    );
    let req = "# header\nblinker==1.9.0 \\\n    --hash=sha256:aa\n    # via flask\nflask==3.1.3\n";
    assert_eq!(count_pins(req), 2);
    let lock = "lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\n[[packages.wheels]]\nname = \"w\"\n\
                [[packages]]\nname = \"b\"\n";
    assert_eq!(count_lock_packages(lock), 2);
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    // A failing command is an outcome, not an error of the harness.
    let dir = tempfile::tempdir()?;
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo boom >&2; exit 101"]);
    match measure(cmd, dir.path(), Duration::from_secs(10))? {
        Outcome::Failed { stderr_tail, .. } => assert_eq!(stderr_tail, "boom"),
        Outcome::Ok(_) => bail!("a failing command was measured as a success"),
    }
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 5"]);
    match measure(cmd, dir.path(), Duration::from_millis(200))? {
        Outcome::Failed { status, .. } => assert!(status.contains("timeout"), "{status}"),
        Outcome::Ok(_) => bail!("a command past its timeout was measured as a success"),
    }
    println!("resolve bench: self-check passed (run it with `cargo bench --bench resolve`)");
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return self_check();
    }
    let positional: Vec<String> = args
        .iter()
        .filter_map(|a| a.to_str())
        .filter(|a| !a.starts_with('-'))
        .map(str::to_string)
        .collect();
    let mut config = Config::from_env(positional)?;

    let work = tempfile::Builder::new()
        .prefix("sanctuary-bench-")
        .tempdir()?;
    // With a CARGO_TARGET_DIR shared between checkouts, another checkout's build can replace
    // target/release/sanctuary while this bench runs: time a copy taken now, so that every run
    // uses one and the same binary (the one `cargo bench` has just built).
    if config.tools.contains(&Tool::Sanctuary)
        && let Some(Ok(bin)) = config.bins.get(&Tool::Sanctuary)
    {
        let copy = work.path().join("sanctuary-under-test");
        fs::copy(bin, &copy).with_context(|| format!("copying {}", bin.display()))?;
        eprintln!("  (sanctuary copied from {})", bin.display());
        config.bins.insert(Tool::Sanctuary, Ok(copy));
    }
    eprintln!(
        "resolve bench: sets {}; tools {}; modes {}; {} run(s) each; work dir {}",
        config
            .sets
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(","),
        config
            .tools
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(","),
        config
            .modes
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(","),
        config.runs,
        work.path().display(),
    );
    for &tool in &config.tools {
        match &config.bins[&tool] {
            Ok(p) => eprintln!("  {:<12} {}", tool.name(), p.display()),
            Err(e) => eprintln!("  {:<12} unavailable: {e}", tool.name()),
        }
    }

    let mut cells = Vec::new();
    for set in &config.sets {
        cells.extend(bench_set(&config, work.path(), set)?);
    }
    let verdicts = verdicts(&config, &cells);
    print_report(&config, &cells, &verdicts);
    write_json(&config, &cells, &verdicts)?;

    if config.keep {
        let kept = work.keep();
        println!("Work dir kept: {}", kept.display());
    }
    Ok(())
}
