//! The cold sync's floor on this machine: how long it takes to hash, inflate and write the
//! wheels a cold sync installs, with the archives already in memory and nothing else done, on
//! as many threads as there are cores. A cold sync does at least that much (and downloads the
//! archives besides), so a reader sees in the same run as the tools whether a cold target lies
//! near or below what any installer can reach here.
//!
//! The wheels are the ones sanctuary's first cold run installed, found by the
//! `provenance_url.json` it writes into each `.dist-info` (uv records no such file), fetched
//! again outside any timed pass and checked against the recorded sha256. Each timed pass hashes
//! every archive (a lockfile's hashes are checked by both tools) and writes every file of it,
//! inflated, under a fresh directory beside the tools' (the same file system), one directory
//! per wheel: no cache, no hard links, no venv layout, no `RECORD` of its own, so the figure is
//! a lower bound. A second kind of pass also hashes every written file, the check of each
//! wheel's `RECORD` that sanctuary makes and uv does not. One pass of each kind follows every
//! repetition of the tools (see [`Progress`]).

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io::{Cursor, Read as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow, bail};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::common;
use crate::common::Passes;
use crate::floor::{synced_workspace, uv_median};
use crate::{Mode, ReqSet, SetResult, Tool, Workspace, target};

/// How many wheels are fetched at once before the passes (untimed).
const FETCHES_AT_ONCE: usize = 16;

/// One wheel, in memory.
struct Wheel {
    /// The last segment of its URL, the directory a pass writes it into.
    name: String,
    bytes: Vec<u8>,
}

/// What the cold floor of one set measured.
#[derive(Debug, Serialize)]
pub(crate) struct ColdFloor {
    pub set: String,
    pub wheels: usize,
    /// The archives' bytes.
    pub archive_bytes: u64,
    /// The files written per pass, and their bytes once inflated.
    pub files: usize,
    pub file_bytes: u64,
    pub threads: usize,
    /// Each archive hashed, each file inflated and written.
    pub plain: Passes,
    /// The same, and each written file hashed too (the `RECORD` check).
    pub record_checked: Passes,
}

/// The wheels sanctuary installed into `venv`: `(url, sha256)` from each distribution's
/// `provenance_url.json`, largest-first order decided later.
fn installed_wheels(venv: &Path) -> Result<Vec<(String, String)>> {
    let env = sanctuary::environment::Environment::read_summary(venv)?;
    let mut out = Vec::new();
    for dist in env.distributions {
        let Some(p) = dist.provenance else { continue };
        let Some(sha256) = p.sha256 else { continue };
        if p.build.is_none() && p.url.ends_with(".whl") {
            out.push((p.url, sha256));
        }
    }
    if out.is_empty() {
        bail!("no wheel recorded in {}", venv.display());
    }
    Ok(out)
}

/// Fetch every wheel (a `file://` URL is read from disk) and check its sha256.
fn fetch_all(wheels: &[(String, String)]) -> Result<Vec<Wheel>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    let mut fetched: Vec<Wheel> = runtime.block_on(
        futures::stream::iter(wheels)
            .map(|(url, sha256)| fetch(&client, url, sha256))
            .buffer_unordered(FETCHES_AT_ONCE)
            .try_collect(),
    )?;
    fetched.sort_by(|a, b| b.bytes.len().cmp(&a.bytes.len()).then(a.name.cmp(&b.name)));
    Ok(fetched)
}

async fn fetch(client: &reqwest::Client, url: &str, sha256: &str) -> Result<Wheel> {
    let parsed = url::Url::parse(url).with_context(|| format!("{url}: not a URL"))?;
    let bytes = if parsed.scheme() == "file" {
        let path = parsed
            .to_file_path()
            .map_err(|()| anyhow!("{url}: not a local path"))?;
        fs::read(&path).with_context(|| format!("reading {}", path.display()))?
    } else {
        let response = client.get(parsed.clone()).send().await?;
        response.error_for_status()?.bytes().await?.to_vec()
    };
    let got = hex::encode(Sha256::digest(&bytes));
    if got != sha256 {
        bail!("{url}: sha256 {got}, but the venv recorded {sha256}");
    }
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| anyhow!("{url}: no file name"))?
        .to_string();
    Ok(Wheel { name, bytes })
}

/// One wheel's files under `dest/<wheel name>/`: the archive hashed, each file inflated
/// (into `buf`, reused) and written in one call, and hashed too when `hash_files`. Returns the
/// files and their bytes.
fn unpack(wheel: &Wheel, dest: &Path, hash_files: bool, buf: &mut Vec<u8>) -> Result<(usize, u64)> {
    std::hint::black_box(Sha256::digest(&wheel.bytes));
    let mut archive = zip::ZipArchive::new(Cursor::new(&wheel.bytes[..]))
        .with_context(|| format!("{}: not a zip archive", wheel.name))?;
    let root = dest.join(&wheel.name);
    let mut made: HashSet<PathBuf> = HashSet::new();
    let (mut files, mut bytes) = (0, 0);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        if entry.is_dir() {
            continue;
        }
        let rel = entry
            .enclosed_name()
            .ok_or_else(|| anyhow!("{}: entry {} leaves the wheel", wheel.name, entry.name()))?;
        let path = root.join(rel);
        if let Some(parent) = path.parent()
            && made.insert(parent.to_path_buf())
        {
            fs::create_dir_all(parent)?;
        }
        buf.clear();
        entry.read_to_end(buf)?;
        if hash_files {
            std::hint::black_box(Sha256::digest(&buf[..]));
        }
        fs::write(&path, &buf[..])?;
        files += 1;
        bytes += buf.len() as u64;
    }
    Ok((files, bytes))
}

/// One timed pass into `dest` (which must not exist), on `threads` threads taking wheels in
/// turn, largest first. Returns the wall time, the files and their bytes.
fn pass(
    wheels: &[Wheel],
    dest: &Path,
    hash_files: bool,
    threads: usize,
) -> Result<(f64, usize, u64)> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
    let counts = std::thread::scope(|scope| -> Result<Vec<(usize, u64)>> {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<(usize, u64)> {
                    let (mut files, mut bytes, mut buf) = (0, 0, Vec::new());
                    while let Some(wheel) = wheels.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (f, b) = unpack(wheel, dest, hash_files, &mut buf)?;
                        files += f;
                        bytes += b;
                    }
                    Ok((files, bytes))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().map_err(|_| anyhow!("a floor thread panicked"))?)
            .collect()
    })?;
    let wall = started.elapsed().as_secs_f64();
    let (files, bytes) = counts
        .iter()
        .fold((0, 0), |(f, b), (wf, wb)| (f + wf, b + wb));
    Ok((wall, files, bytes))
}

/// The cold floor of a set while its cold runs go on: one pass of each kind after every
/// repetition of the tools, so that the floor meets the same state of the machine as they do
/// (a cold run's time drifts with what the runs before it left in the page cache and the file
/// system). The wheels are fetched once, before the first pass.
#[derive(Default)]
pub(crate) struct Progress {
    wheels: Option<Vec<Wheel>>,
    plain: Vec<f64>,
    checked: Vec<f64>,
    /// The files each pass wrote and their bytes, the same every time.
    counts: Option<(usize, u64)>,
    /// Why the floor stopped, if it did.
    error: Option<String>,
}

impl Progress {
    /// After repetition `rep`: the passes, from the venv of sanctuary's run.
    pub(crate) fn after_rep(
        &mut self,
        set: &ReqSet,
        rep: usize,
        workspaces: &[(Tool, Result<Workspace, String>)],
        synced: &BTreeSet<Tool>,
    ) {
        if self.error.is_some() {
            return;
        }
        let Some(ws) = synced_workspace(workspaces, synced, Some(Tool::Sanctuary)) else {
            self.error = Some(
                "no cold run of sanctuary left a synced venv (only sanctuary records where \
                 each wheel came from)"
                    .to_string(),
            );
            return;
        };
        if self.wheels.is_none() {
            eprintln!(
                "[{} cold] the floor: fetching the wheels of sanctuary's venv again (untimed)",
                set.name
            );
        }
        eprintln!("[{} cold] the floor, pass {}", set.name, rep + 1);
        if let Err(e) = self.pass_from(&ws.venv, &ws.dir, &ws.trash, rep) {
            self.error = Some(format!("{e:#}"));
        }
    }

    /// One pass of each kind (which first alternates with `rep`) from the wheels recorded in
    /// `venv`, each into a fresh directory under `scratch` that is then moved to `trash`
    /// (deleted with the set's other leftovers, outside any timed pass).
    fn pass_from(&mut self, venv: &Path, scratch: &Path, trash: &Path, rep: usize) -> Result<()> {
        if self.wheels.is_none() {
            self.wheels = Some(fetch_all(&installed_wheels(venv)?)?);
        }
        let wheels = self.wheels.as_deref().unwrap_or_default();
        let kinds = if rep.is_multiple_of(2) {
            [false, true]
        } else {
            [true, false]
        };
        for hash_files in kinds {
            let dest = scratch.join(format!("cold-floor-{rep}-{hash_files}"));
            common::discard(&dest, trash)?;
            common::settle();
            let (wall, files, bytes) = pass(wheels, &dest, hash_files, common::cpus())?;
            common::discard(&dest, trash)?;
            if let Some(counts) = self.counts
                && counts != (files, bytes)
            {
                bail!("two passes wrote different files: {counts:?}, then {files} ({bytes} bytes)");
            }
            self.counts = Some((files, bytes));
            if hash_files {
                self.checked.push(wall)
            } else {
                self.plain.push(wall)
            }
        }
        Ok(())
    }

    /// What the passes measured, or why there were none; `None` when none was due.
    pub(crate) fn finish(self, set: &str) -> Option<Result<ColdFloor, String>> {
        if let Some(error) = self.error {
            return Some(Err(error));
        }
        let wheels = self.wheels?;
        let (files, file_bytes) = self.counts.unwrap_or_default();
        Some(Ok(ColdFloor {
            set: set.to_string(),
            wheels: wheels.len(),
            archive_bytes: wheels.iter().map(|w| w.bytes.len() as u64).sum(),
            files,
            file_bytes,
            threads: common::cpus(),
            plain: Passes::of(self.plain),
            record_checked: Passes::of(self.checked),
        }))
    }
}

/// The floor measured `runs` times of each kind from the wheels recorded in `venv`, as the
/// bench does after each repetition (for the self-check).
fn measure(venv: &Path, scratch: &Path, trash: &Path, runs: usize) -> Result<ColdFloor> {
    let mut progress = Progress::default();
    for rep in 0..runs {
        progress.pass_from(venv, scratch, trash, rep)?;
    }
    progress
        .finish("test")
        .context("no pass was made")?
        .map_err(|e| anyhow!(e))
}

/// The cold floor line of a set, against uv's cold median.
pub(crate) fn print(result: &SetResult) {
    let set = &result.prepare.set;
    let f = match &result.cold_floor {
        Some(Ok(f)) => f,
        Some(Err(why)) => return println!("floor {set} cold: not measured ({why})"),
        None => return,
    };
    let uv = uv_median(result, Mode::Cold);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "floor {set} cold: the {} wheels ({:.1} MiB) of sanctuary's venv, already in memory, \
         hashed and their {} files ({:.1} MiB) inflated and written on {} thread(s) with nothing \
         else done: {}{} (the cold target: {:.1}x); with every file hashed too (the RECORD \
         check): {}{}",
        f.wheels,
        mib(f.archive_bytes),
        f.files,
        mib(f.file_bytes),
        f.threads,
        f.plain.line(),
        f.plain.against(uv, Mode::Cold.name()),
        target(Mode::Cold),
        f.record_checked.line(),
        f.record_checked.against(uv, Mode::Cold.name()),
    );
}

/// The offline self-check: two small wheels recorded in a venv by `file://` URLs are fetched,
/// checked and written out, twice of each kind, and what was written is compared with them; a
/// wheel whose bytes do not match the recorded sha256 is refused.
pub(crate) fn self_check() -> Result<()> {
    use std::io::Write as _;
    use zip::write::SimpleFileOptions;

    let dir = tempfile::tempdir()?;
    let site = dir.path().join("venv/lib/python3.11/site-packages");
    /// A wheel's name, version and files (path, content).
    type Fixture<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let wheels: [Fixture; 2] = [
        (
            "a",
            "1.0",
            &[
                ("a/__init__.py", "A"),
                ("a/sub/deep.py", "deep"),
                ("a-1.0.dist-info/RECORD", ""),
            ],
        ),
        ("b", "2.0", &[("b.py", "B")]),
    ];
    for (name, version, files) in wheels {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.add_directory(format!("{name}/"), SimpleFileOptions::default())?;
        for (path, body) in files {
            zip.start_file(*path, SimpleFileOptions::default())?;
            zip.write_all(body.as_bytes())?;
        }
        let bytes = zip.finish()?.into_inner();
        let file = dir
            .path()
            .join(format!("{name}-{version}-py3-none-any.whl"));
        fs::write(&file, &bytes)?;
        let url = url::Url::from_file_path(&file).map_err(|()| anyhow!("no file URL"))?;
        let dist_info = site.join(format!("{name}-{version}.dist-info"));
        fs::create_dir_all(&dist_info)?;
        fs::write(
            dist_info.join("METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"),
        )?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        fs::write(
            dist_info.join(sanctuary::environment::parse::PROVENANCE_FILE),
            sanctuary::environment::parse::render_provenance(url.as_str(), &sha256, None),
        )?;
    }
    let trash = dir.path().join("trash");
    let floor = measure(&dir.path().join("venv"), dir.path(), &trash, 2)?;
    assert_eq!(
        (floor.wheels, floor.files, floor.file_bytes),
        (2, 4, 6),
        "{floor:?}"
    );
    assert_eq!(floor.plain.samples_s.len(), 2);
    assert_eq!(floor.record_checked.samples_s.len(), 2);
    let copies: Vec<_> = fs::read_dir(&trash)?.collect::<Result<_, _>>()?;
    assert_eq!(copies.len(), 4);
    for copy in copies {
        let deep = copy.path().join("a-1.0-py3-none-any.whl/a/sub/deep.py");
        assert_eq!(fs::read_to_string(deep)?, "deep");
        assert_eq!(
            fs::read_to_string(copy.path().join("b-2.0-py3-none-any.whl/b.py"))?,
            "B"
        );
    }

    // Another archive under a recorded hash is refused, by its URL.
    fs::write(dir.path().join("b-2.0-py3-none-any.whl"), b"not the wheel")?;
    let err = measure(&dir.path().join("venv"), dir.path(), &trash, 1)
        .expect_err("a wheel that does not match its recorded sha256 was used");
    assert!(
        format!("{err:#}").contains("b-2.0-py3-none-any.whl: sha256"),
        "{err:#}"
    );
    Ok(())
}
