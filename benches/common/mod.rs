//! What the benches share: the requirement sets, the manifest they lock, where the tools are,
//! reading `BENCH_*` variables, and running one child process to completion while measuring
//! its wall time, CPU time and peak memory.
//!
//! Included by every bench with `#[path = "common/mod.rs"] mod common;`. A bench that does not
//! use a helper would warn about it, hence the `allow` below.

#![allow(dead_code)]

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub mod launch;
mod process;

pub use process::{Outcome, Sample, measure, tail};

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

/// The Python and platform the manifests target.
pub const PYTHON: &str = "3.11";
pub const SANCTUARY_PLATFORM: &str = "linux-x86_64";
/// Lines of a failing run's stderr shown under the table.
pub const STDERR_TAIL_LINES: usize = 20;

pub fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches")
}

pub fn sets_dir() -> PathBuf {
    bench_dir().join("sets")
}

pub fn results_dir() -> PathBuf {
    bench_dir().join("results")
}

/// The bench's positional arguments, or `None` when it was not started by `cargo bench`
/// (`cargo test --benches` passes no `--bench`): the bench then runs its offline self-check.
pub fn bench_args() -> Option<Vec<String>> {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        return None;
    }
    Some(
        args.iter()
            .filter_map(|a| a.to_str())
            .filter(|a| !a.starts_with('-'))
            .map(str::to_string)
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Environment variables
// ---------------------------------------------------------------------------------------------

/// A comma-separated environment variable, or `None` when unset or blank.
pub fn env_list(var: &str) -> Option<Vec<String>> {
    let value = env::var(var).ok()?;
    let items: Vec<String> = value
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

pub fn env_number(var: &str, default: u64) -> Result<u64> {
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

/// Set, non-empty and not `0`.
pub fn env_flag(var: &str) -> bool {
    env::var(var).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// The choices a comma list in `var` names, in the order given, without repeats; all of `all`
/// when unset. An unknown name is an error that lists the known ones.
pub fn env_choices<T: Copy + PartialEq>(
    var: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Vec<T>> {
    let Some(names) = env_list(var) else {
        return Ok(all.to_vec());
    };
    let mut out = Vec::new();
    for wanted in names {
        let Some(choice) = all.iter().copied().find(|c| name(*c) == wanted) else {
            let known: Vec<&str> = all.iter().map(|c| name(*c)).collect();
            bail!("{var}: unknown value `{wanted}` ({})", known.join(", "));
        };
        if !out.contains(&choice) {
            out.push(choice);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Requirement sets and the manifest
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Serialize)]
pub struct ReqSet {
    pub name: String,
    pub requirements: Vec<String>,
    /// Locked universally (a `#! universal` line in the set file): sanctuary over
    /// [`UNIVERSAL_PLATFORMS`] for Python [`UNIVERSAL_PYTHON`], uv with `--universal`.
    pub universal: bool,
}

/// The platforms of a universal set's manifest: what a team on Linux, macOS and Windows
/// declares.
pub const UNIVERSAL_PLATFORMS: &str = r#"["linux-x86_64", "macos-arm64", "windows-x86_64"]"#;
/// The Pythons of a universal set's manifest: 3.11, 3.12 and 3.13.
pub const UNIVERSAL_PYTHON: &str = ">=3.11,<3.14";

/// Names of `dir/*.txt`, those in `order` first in that order, then the rest by name.
pub fn available_sets(dir: &Path, order: &[&str]) -> Result<Vec<String>> {
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
        let rank = order.iter().position(|d| d == n).unwrap_or(order.len());
        (rank, n.clone())
    });
    Ok(names)
}

/// One requirement a line; `#` starts a comment; blank lines are skipped.
pub fn parse_set(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn load_set(dir: &Path, name: &str) -> Result<ReqSet> {
    let path = dir.join(format!("{name}.txt"));
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let requirements = parse_set(&text);
    if requirements.is_empty() {
        bail!("{}: no requirements", path.display());
    }
    Ok(ReqSet {
        name: name.to_string(),
        requirements,
        universal: text.lines().any(|l| l.trim() == "#! universal"),
    })
}

/// The sets named by `BENCH_SETS`, else by the positional arguments, else `defaults` (`None`:
/// every set in `benches/sets/`, those in `order` first).
pub fn chosen_sets(
    positional: Vec<String>,
    order: &[&str],
    defaults: Option<&[&str]>,
) -> Result<Vec<ReqSet>> {
    let dir = sets_dir();
    let available = available_sets(&dir, order)?;
    let wanted = env_list("BENCH_SETS")
        .or((!positional.is_empty()).then_some(positional))
        .unwrap_or_else(|| match defaults {
            Some(d) => d.iter().map(|s| s.to_string()).collect(),
            None => available.clone(),
        });
    let mut sets = Vec::new();
    for name in wanted {
        if !available.contains(&name) {
            bail!(
                "requirement set `{name}` not found: expected benches/sets/{name}.txt (have: {})",
                available.join(", ")
            );
        }
        sets.push(load_set(&dir, &name)?);
    }
    Ok(sets)
}

/// The manifest of the CLI contract for `set`: Python 3.11 on linux x86_64, the default index
/// (PyPI), the set as the Application requirements; `extra` is appended as is.
pub fn manifest(set: &ReqSet, extra: &str) -> String {
    let reqs: Vec<String> = set
        .requirements
        .iter()
        .map(|r| format!("    {},\n", toml::Value::String(r.clone())))
        .collect();
    let target = if set.universal {
        format!("python = \"{UNIVERSAL_PYTHON}\"\nplatforms = {UNIVERSAL_PLATFORMS}\n")
    } else {
        format!("python = \"{PYTHON}\"\nplatform = \"{SANCTUARY_PLATFORM}\"\n")
    };
    format!(
        "[project]\nname = \"bench-{name}\"\n{target}\n\
         [application]\nrequirements = [\n{reqs}]\n{extra}",
        name = set.name,
        reqs = reqs.concat(),
    )
}

/// `(name, version)` of every `[[packages]]` entry of a PEP 751 lockfile.
pub fn lock_packages(text: &str) -> Result<Vec<(String, String)>> {
    let table: toml::Table = text.parse()?;
    let packages = table
        .get("packages")
        .and_then(|p| p.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default();
    packages
        .iter()
        .map(|p| {
            let field = |k: &str| {
                p.get(k)
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                    .with_context(|| format!("a [[packages]] entry has no `{k}`"))
            };
            Ok((field("name")?, field("version")?))
        })
        .collect()
}

/// `name==version` lines of a requirements file (hash and comment lines are indented or `#`).
pub fn count_pins(text: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphanumeric()) && l.contains("=="))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------------------------

/// `PATH` in `var` when set (it must be a file), else `None`.
fn override_path(var: &str) -> Option<Result<PathBuf, String>> {
    let path = PathBuf::from(env::var_os(var).filter(|p| !p.is_empty())?);
    Some(if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{var}={} is not a file", path.display()))
    })
}

/// `BENCH_SANCTUARY` when set, else the release binary that `cargo bench` builds for the
/// bench (`CARGO_BIN_EXE_sanctuary`).
pub fn locate_sanctuary() -> Result<PathBuf, String> {
    if let Some(found) = override_path("BENCH_SANCTUARY") {
        return found;
    }
    let path = PathBuf::from(env!("CARGO_BIN_EXE_sanctuary"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} is missing", path.display()))
    }
}

/// `var` when set, else the first `name` on `PATH`, seen through a pyenv shim (a shell script
/// that would add its own start-up time to every run) to the real file with `pyenv which`.
pub fn locate_on_path(name: &str, var: &str) -> Result<PathBuf, String> {
    if let Some(found) = override_path(var) {
        return found;
    }
    let found = env::var_os("PATH")
        .map(|paths| {
            env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_default()
        .ok_or_else(|| format!("`{name}` is not on PATH (or set {var})"))?;
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

/// `PATH` with the directory of the real `python{PYTHON}` first (ahead of pyenv's shims), for
/// every tool a bench runs: a tool that looks for an interpreter finds a real one at once, as
/// on a machine without pyenv, instead of trying shims that each start a shell. `None` when
/// no such interpreter is found (the tools then see the caller's `PATH`).
pub fn path_with_real_python() -> Option<std::ffi::OsString> {
    let python = locate_on_path(&format!("python{PYTHON}"), "BENCH_PYTHON").ok()?;
    let dir = python.parent()?.to_path_buf();
    let mut dirs = vec![dir];
    dirs.extend(env::split_paths(&env::var_os("PATH").unwrap_or_default()));
    env::join_paths(dirs).ok()
}

/// What every peer is run with: `path` (see [`path_with_real_python`]) and, for uv, no
/// interpreter downloads (`UV_PYTHON_DOWNLOADS=never`): uv is run as a user with Python
/// installed runs it, and never spends a run fetching an interpreter.
pub fn peer_env(cmd: &mut Command, path: Option<&std::ffi::OsString>) {
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.env("UV_PYTHON_DOWNLOADS", "never");
}

/// With a `CARGO_TARGET_DIR` shared between checkouts, another checkout's build can replace
/// `target/release/sanctuary` while a bench runs: the bench times a copy taken when it starts,
/// so that every run uses one and the same binary (the one `cargo bench` has just built).
pub fn copy_under_test(bin: &Path, dir: &Path) -> Result<PathBuf> {
    let copy = dir.join("sanctuary-under-test");
    fs::copy(bin, &copy).with_context(|| format!("copying {}", bin.display()))?;
    eprintln!("  (sanctuary copied from {})", bin.display());
    Ok(copy)
}

/// The first line `EXE --version` prints, for the record.
pub fn version_of(bin: &Path) -> Option<String> {
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

/// What the JSON records about one tool.
#[derive(Serialize)]
pub struct ToolInfo {
    pub path: Option<String>,
    pub version: Option<String>,
    pub error: Option<String>,
}

impl ToolInfo {
    pub fn of(bin: &Result<PathBuf, String>) -> ToolInfo {
        match bin {
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
        }
    }
}

/// Counted runs per (set, mode, tool) unless `BENCH_RUNS` says otherwise: even, so that with
/// [`order_of`] each end of the order runs first equally often. Whatever the machine did just
/// before a set (here, ext4 allocating inodes slowly for a few minutes after a large deletion)
/// weighs most on its first runs, and with an odd count the tool listed first ran first once
/// more than the other: three times in five.
pub const DEFAULT_RUNS: u64 = 6;

/// The tools in the order of repetition `rep`: as configured on even ones, reversed on odd
/// ones, so that no tool always runs first (or right after another's disk traffic).
pub fn order_of(rep: usize, count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    if rep % 2 == 1 {
        order.reverse();
    }
    order
}

// ---------------------------------------------------------------------------------------------
// Scratch directories between timed runs
// ---------------------------------------------------------------------------------------------

/// `WORK/<set>/trash/`: where [`discard`] puts what a set's runs left.
pub fn trash_of(root: &Path, set: &ReqSet) -> PathBuf {
    root.join(&set.name).join("trash")
}

/// Moves `path` (a venv or cache a run left) into `trash`, to be deleted by [`empty_trash`]
/// once the set is done: no inode is freed while tools are being timed. On ext4 without a
/// journal (this machine's `/tmp`) creating files right after thousands were deleted costs much
/// more kernel time (the allocator skips inodes freed recently), so a deletion just before a
/// run would slow the tool that happens to run next. A missing `path` is no error.
pub fn discard(path: &Path, trash: &Path) -> Result<()> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    if !path.exists() {
        return Ok(());
    }
    fs::create_dir_all(trash)?;
    let dest = trash.join(NEXT.fetch_add(1, Ordering::Relaxed).to_string());
    fs::rename(path, &dest)
        .with_context(|| format!("moving {} to {}", path.display(), dest.display()))
}

/// Deletes what [`discard`] put in `trash`, outside any timed run, and [`settle`]s.
pub fn empty_trash(trash: &Path) -> Result<()> {
    if trash.exists() {
        fs::remove_dir_all(trash).with_context(|| format!("removing {}", trash.display()))?;
        settle();
    }
    Ok(())
}

/// Writes dirty pages back (`sync`) before a timed run, so that no run pays for the
/// write-back of the one before it (a cold sync writes some 400 MiB of cache).
pub fn settle() {
    let _ = Command::new("sync")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

pub fn median(values: &[f64]) -> Option<f64> {
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

/// The median, minimum and maximum of `values` (all `None` when there are none).
pub fn median_min_max(values: &[f64]) -> (Option<f64>, Option<f64>, Option<f64>) {
    (
        median(values),
        values.iter().copied().reduce(f64::min),
        values.iter().copied().reduce(f64::max),
    )
}

/// The times of a floor's passes (a bench's measure of the least a tool could take, made
/// beside the tools' runs).
#[derive(Debug, Default, Serialize)]
pub struct Passes {
    pub samples_s: Vec<f64>,
    pub median_s: Option<f64>,
    pub min_s: Option<f64>,
    pub max_s: Option<f64>,
}

impl Passes {
    pub fn of(samples: Vec<f64>) -> Passes {
        let (median_s, min_s, max_s) = median_min_max(&samples);
        Passes {
            samples_s: samples,
            median_s,
            min_s,
            max_s,
        }
    }

    /// `median (min-max) s`, three decimals: floors are tens of milliseconds.
    pub fn line(&self) -> String {
        match (self.median_s, self.min_s, self.max_s) {
            (Some(m), Some(lo), Some(hi)) => format!("{m:.3} ({lo:.3}-{hi:.3}) s"),
            _ => "- s".to_string(),
        }
    }

    /// `, R.RRx uv's MODE median` against `uv`'s median, or nothing without one.
    pub fn against(&self, uv: Option<f64>, mode: &str) -> String {
        match (self.median_s, uv) {
            (Some(m), Some(u)) if u > 0.0 => format!(", {:.2}x uv's {mode} median", m / u),
            _ => String::new(),
        }
    }
}

/// The summary of one cell's runs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub median_s: Option<f64>,
    pub min_s: Option<f64>,
    pub max_s: Option<f64>,
    /// Median over the runs of each run's peak resident memory.
    pub median_max_rss_mib: Option<f64>,
    pub median_cpu_s: Option<f64>,
}

impl Stats {
    pub fn of(samples: &[Sample]) -> Stats {
        let walls: Vec<f64> = samples.iter().map(|s| s.wall_s).collect();
        let rss: Vec<f64> = samples
            .iter()
            .filter_map(|s| s.max_rss_kib.map(|k| k as f64 / 1024.0))
            .collect();
        let cpu: Vec<f64> = samples.iter().filter_map(|s| s.cpu_s).collect();
        let (median_s, min_s, max_s) = median_min_max(&walls);
        Stats {
            median_s,
            min_s,
            max_s,
            median_max_rss_mib: median(&rss),
            median_cpu_s: median(&cpu),
        }
    }

    /// `median (min-max)`, `error` when the cell failed, `-` when it has no runs.
    pub fn time_cell(&self, failed: bool) -> String {
        match (self.median_s, self.min_s, self.max_s) {
            _ if failed => "error".to_string(),
            (Some(m), Some(lo), Some(hi)) => format!("{m:.2} ({lo:.2}-{hi:.2})"),
            _ => "-".to_string(),
        }
    }
}

/// The runs of one (set, mode, tool), with what the bench records besides (`extra`, flattened
/// into the JSON).
#[derive(Debug, Serialize)]
pub struct Cell<X> {
    pub set: String,
    pub mode: &'static str,
    pub tool: &'static str,
    pub samples: Vec<Sample>,
    #[serde(flatten)]
    pub stats: Stats,
    #[serde(flatten)]
    pub extra: X,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr_tail: Option<String>,
}

impl<X: Default> Cell<X> {
    pub fn new(set: &str, mode: &'static str, tool: &'static str) -> Cell<X> {
        Cell {
            set: set.to_string(),
            mode,
            tool,
            samples: Vec::new(),
            stats: Stats::default(),
            extra: X::default(),
            error: None,
            stderr_tail: None,
        }
    }

    /// Marks the cell failed (its other runs are skipped), saying so on stderr.
    pub fn fail(&mut self, error: String, stderr_tail: String) {
        eprintln!(
            "    {} {} {}: error: {error}",
            self.set, self.mode, self.tool
        );
        self.error = Some(error);
        self.stderr_tail = (!stderr_tail.is_empty()).then_some(stderr_tail);
    }

    /// Computes the statistics of a cell that did not fail.
    pub fn finish(&mut self) {
        if self.error.is_none() && !self.samples.is_empty() {
            self.stats = Stats::of(&self.samples);
        }
    }
}

/// The `Errors:` list under a report: each failed cell with the tail of its stderr.
pub fn print_errors<'a, X: 'a>(cells: impl IntoIterator<Item = &'a Cell<X>>) {
    let failed: Vec<&Cell<X>> = cells.into_iter().filter(|c| c.error.is_some()).collect();
    if failed.is_empty() {
        return;
    }
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

/// A number with `prec` decimals, `-` for none.
pub fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.prec$}"))
}

pub fn ratio(r: Option<f64>) -> String {
    r.map_or("-".to_string(), |r| format!("{r:.2}x"))
}

/// The banner on stderr: what this run of `bench` compares, and where each tool is.
pub fn print_banner<'a>(
    bench: &str,
    sets: &[ReqSet],
    tools: &[(&'static str, &'a Result<PathBuf, String>)],
    modes: impl Iterator<Item = &'a str>,
    runs: usize,
    work: &Path,
) {
    eprintln!(
        "{bench} bench: sets {}; tools {}; modes {}; {runs} run(s) each; work dir {}",
        join(sets.iter().map(|s| s.name.as_str())),
        join(tools.iter().map(|(name, _)| *name)),
        join(modes),
        work.display(),
    );
    for (name, bin) in tools {
        match bin {
            Ok(p) => eprintln!("  {name:<12} {}", p.display()),
            Err(e) => eprintln!("  {name:<12} unavailable: {e}"),
        }
    }
}

/// Names joined with commas, for the banner line.
pub fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(",")
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}

/// Writes `value` as pretty JSON to `path` (through a temporary file, so a reader never sees
/// half of it) and says where.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    fs::create_dir_all(path.parent().context("results path has no parent")?)?;
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, serde_json::to_string_pretty(value)? + "\n")?;
    fs::rename(&tmp, path)?;
    println!("\nResults written to {}", path.display());
    Ok(())
}

/// The self-check of the helpers above, offline and in a moment: part of every bench's
/// self-check under `cargo test --benches`.
pub fn self_check(order: &[&str]) -> Result<()> {
    let sets = available_sets(&sets_dir(), order)?;
    for name in order {
        if !sets.iter().any(|s| s == name) {
            bail!("benches/sets/{name}.txt is missing");
        }
    }
    for name in &sets {
        let set = load_set(&sets_dir(), name)?;
        let parsed: toml::Table = manifest(&set, "").parse()?;
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
    let lock = "lock-version = \"1.0\"\n[[packages]]\nname = \"a\"\nversion = \"1\"\n\
                [[packages.wheels]]\nname = \"w\"\n[[packages]]\nname = \"b\"\nversion = \"2.0\"\n";
    assert_eq!(
        lock_packages(lock)?,
        [("a".into(), "1".into()), ("b".into(), "2.0".into())]
    );
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    let stats = Stats::of(&[
        Sample {
            wall_s: 2.0,
            cpu_s: Some(1.0),
            max_rss_kib: Some(2048),
            launcher_rss_kib: None,
        },
        Sample {
            wall_s: 1.0,
            cpu_s: None,
            max_rss_kib: None,
            launcher_rss_kib: None,
        },
    ]);
    assert_eq!(stats.time_cell(false), "1.50 (1.00-2.00)");
    assert_eq!(stats.median_max_rss_mib, Some(2.0));
    assert_eq!(Stats::default().time_cell(false), "-");

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Pick {
        A,
        B,
    }
    let name = |p: Pick| match p {
        Pick::A => "a",
        Pick::B => "b",
    };
    // An unset variable gives every choice.
    assert_eq!(
        env_choices("BENCH_SELF_CHECK_UNSET", &[Pick::A, Pick::B], name)?,
        [Pick::A, Pick::B]
    );

    assert_eq!(order_of(0, 2), [0, 1]);
    assert_eq!(order_of(1, 3), [2, 1, 0]);

    let dir = tempfile::tempdir()?;
    // Discarding moves a directory into the trash; a missing one is no error; emptying the
    // trash removes it.
    let old = dir.path().join("old-venv");
    fs::create_dir_all(old.join("bin"))?;
    let trash = dir.path().join("trash");
    discard(&old, &trash)?;
    discard(&old, &trash)?;
    assert!(!old.exists());
    assert_eq!(fs::read_dir(&trash)?.count(), 1);
    empty_trash(&trash)?;
    assert!(!trash.exists());

    process::self_check(dir.path())?;
    Ok(())
}
