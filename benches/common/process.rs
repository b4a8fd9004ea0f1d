//! Running one process to completion while measuring its wall time, CPU time and peak memory
//! (through [`super::launch`] on Linux).

use std::fs;
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde::Serialize;

use super::STDERR_TAIL_LINES;
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
use super::launch;

/// Peak memory and CPU time come from `wait4(2)`, declared here (std has no binding and no new
/// crate may be added): reaping a child with `wait4` returns that one child's `rusage`, its
/// waited-for descendants included, so each run gets its own figure. `getrusage(RUSAGE_CHILDREN)`
/// would not: its `ru_maxrss` is the largest child this process ever reaped, so after the first
/// big run it stops telling runs apart. `/usr/bin/time -f %M` would work too but adds a process
/// and a package that a machine may lack, and mixes its line into the tool's stderr.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub(super) mod sys {
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
        fn getrusage(who: c_int, rusage: *mut Rusage) -> c_int;
    }

    /// This process's own rusage (`RUSAGE_SELF`).
    pub fn own() -> Option<Rusage> {
        let mut usage = Rusage::default();
        // SAFETY: a pointer to a live, properly laid-out local; `RUSAGE_SELF` (0) reads only
        // this process's figures.
        (unsafe { getrusage(0, &mut usage) } == 0).then_some(usage)
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
pub struct Sample {
    pub wall_s: f64,
    pub cpu_s: Option<f64>,
    pub max_rss_kib: Option<u64>,
    /// The peak RSS of the launcher's address space when it started the run (see
    /// [`super::launch`]): the least `max_rss_kib` can say.
    pub launcher_rss_kib: Option<u64>,
}

impl Sample {
    pub fn rss_mib(&self) -> String {
        self.max_rss_kib
            .map_or("?".into(), |k| format!("{:.0}", k as f64 / 1024.0))
    }
}

pub enum Outcome {
    Ok(Sample),
    Failed { status: String, stderr_tail: String },
}

/// The last `lines` lines of a file (empty when it cannot be read).
pub fn tail(path: &Path, lines: usize) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_end(&mut bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// This process's peak RSS in KiB, where it can be read.
pub fn own_peak_rss_kib() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    return sys::own().map(|u| u.ru_maxrss as u64);
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    None
}

/// Runs `cmd` to completion (killing it at `timeout`), its output to `log_dir/{stdout,stderr}.log`.
/// On Linux through [`launch`], so that its peak RSS is its own.
pub fn measure(cmd: Command, log_dir: &Path, timeout: Duration) -> Result<Outcome> {
    let stdout_path = log_dir.join("stdout.log");
    let stderr_path = log_dir.join("stderr.log");
    let stdio = |cmd: &mut Command| -> Result<()> {
        cmd.stdin(Stdio::null())
            .stdout(fs::File::create(&stdout_path)?)
            .stderr(fs::File::create(&stderr_path)?);
        Ok(())
    };
    let failed = |status: String| Outcome::Failed {
        status,
        stderr_tail: tail(&stderr_path, STDERR_TAIL_LINES),
    };
    let timed_out = || format!("killed after the {} s timeout", timeout.as_secs());

    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    {
        let report_path = log_dir.join("launch.json");
        if report_path.exists() {
            fs::remove_file(&report_path)?;
        }
        let mut launcher = launch::command(&cmd, &report_path, timeout)?;
        stdio(&mut launcher)?;
        let mut child = launcher.spawn().context("starting the bench's launcher")?;
        let (status, _, _, _, killed) =
            wait_child(&mut child, Instant::now(), timeout + launch::GRACE)?;
        if killed || !status.success() {
            return Ok(failed(format!("the bench's launcher failed ({status})")));
        }
        let text = fs::read_to_string(&report_path)
            .with_context(|| format!("reading {}", report_path.display()))?;
        let report: launch::Report = serde_json::from_str(&text)
            .with_context(|| format!("parsing {}", report_path.display()))?;
        Ok(match report {
            launch::Report {
                not_started: Some(why),
                ..
            } => failed(why),
            launch::Report {
                timed_out: true, ..
            } => failed(timed_out()),
            launch::Report { success: false, .. } => failed(report.status),
            _ => Outcome::Ok(Sample {
                wall_s: report.wall_s,
                cpu_s: report.cpu_s,
                max_rss_kib: report.max_rss_kib,
                launcher_rss_kib: report.launcher_rss_kib,
            }),
        })
    }

    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    {
        let mut cmd = cmd;
        stdio(&mut cmd)?;
        let start = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(err) => return Ok(failed(format!("could not start: {err}"))),
        };
        let (status, wall, cpu, rss, killed) = wait_child(&mut child, start, timeout)?;
        Ok(if killed {
            failed(timed_out())
        } else if !status.success() {
            failed(status.to_string())
        } else {
            Outcome::Ok(Sample {
                wall_s: wall.as_secs_f64(),
                cpu_s: cpu,
                max_rss_kib: rss,
                launcher_rss_kib: None,
            })
        })
    }
}

/// Exit status, wall time, CPU seconds, peak RSS in KiB, and whether the timeout killed it.
type Waited = (ExitStatus, Duration, Option<f64>, Option<u64>, bool);

/// Polls the child (every millisecond at first, then every 5 ms: well under the noise of runs
/// that take a second or more) so the timeout needs no second thread and no signal that could
/// reach a recycled pid; the child is reaped by `wait4` for its rusage.
#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
pub(super) fn wait_child(
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
pub(super) fn wait_child(
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

/// The offline self-check of [`measure`], in `dir`.
pub(super) fn self_check(dir: &Path) -> Result<()> {
    // A failing command is an outcome, not an error of the harness.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo boom >&2; exit 101"]);
    match measure(cmd, dir, Duration::from_secs(10))? {
        Outcome::Failed { stderr_tail, .. } => assert_eq!(stderr_tail, "boom"),
        Outcome::Ok(_) => bail!("a failing command was measured as a success"),
    }
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "sleep 5"]);
    match measure(cmd, dir, Duration::from_millis(200))? {
        Outcome::Failed { status, .. } => assert!(status.contains("timeout"), "{status}"),
        Outcome::Ok(_) => bail!("a command past its timeout was measured as a success"),
    }
    let mut cmd = Command::new("no-such-program-for-the-bench");
    cmd.arg("x");
    match measure(cmd, dir, Duration::from_secs(10))? {
        Outcome::Failed { status, .. } => assert!(status.contains("could not start"), "{status}"),
        Outcome::Ok(_) => bail!("a missing program was measured as a success"),
    }
    // The arguments, the environment and the directory reach the tool.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "echo \"$1 $BENCH_SELF_CHECK_VAR $(pwd)\" > out.txt",
        "sh",
        "an arg",
    ])
    .env("BENCH_SELF_CHECK_VAR", "a value")
    .current_dir(dir);
    assert!(matches!(
        measure(cmd, dir, Duration::from_secs(10))?,
        Outcome::Ok(_)
    ));
    assert_eq!(
        fs::read_to_string(dir.join("out.txt"))?.trim(),
        format!("an arg a value {}", dir.canonicalize()?.display())
    );
    a_runs_peak_rss_is_not_the_benchs(dir)?;
    Ok(())
}

/// Regression: every tool was reported with at least the bench's own peak RSS (the cold floor
/// had raised it to 306 MiB, and then a warm sync of either tool "took" 306 MiB), because a
/// child's `ru_maxrss` counts the address space it was spawned from.
fn a_runs_peak_rss_is_not_the_benchs(dir: &Path) -> Result<()> {
    if own_peak_rss_kib().is_none() {
        return Ok(());
    }
    const BIG: usize = 256 << 20;
    let mut big = vec![0u8; BIG];
    for page in big.chunks_mut(4096) {
        page[0] = 1;
    }
    std::hint::black_box(&big);
    drop(big);
    assert!(own_peak_rss_kib().unwrap_or(0) > (BIG >> 10) as u64);
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exit 0"]);
    match measure(cmd, dir, Duration::from_secs(10))? {
        Outcome::Ok(sample) => {
            let rss = sample.max_rss_kib.context("no peak RSS for a run")?;
            assert!(rss < 64 << 10, "`sh -c 'exit 0'` reported {rss} KiB");
            let floor = sample
                .launcher_rss_kib
                .context("no peak RSS for the launcher")?;
            assert!(
                floor <= rss,
                "the launcher's {floor} KiB over the run's {rss} KiB"
            );
        }
        Outcome::Failed { status, .. } => bail!("`sh -c 'exit 0'` failed: {status}"),
    }
    Ok(())
}
