//! The warm sync's floor on this machine: how long the kernel takes to make the directories
//! and hard links a warm sync makes, with nothing else done, on as many threads as there are
//! cores. The performance issue names it ("a warm sync is a few thousand hard links"); the
//! bench measures it in the same run as the tools, so a reader sees whether a warm target lies
//! below what any installer that links from a cache can reach here.
//!
//! One pass follows every repetition of the tools (see [`Progress`]). The tree is the
//! `site-packages` of the venv the repetition left: every directory in it is made
//! again and every regular file hard-linked, into a fresh directory beside it (the same file
//! system). Files an installer writes rather than links (`RECORD`, `INSTALLER`, scripts in
//! `bin/`) are linked here too, which is cheaper, so the figure is a lower bound. Nothing is
//! read from or written to the tools' caches.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::common::{self, Passes};
use crate::{Mode, ReqSet, SetResult, Tool, Workspace, target};

/// What the floor of one set measured.
#[derive(Debug, Serialize)]
pub(crate) struct Floor {
    pub set: String,
    /// The venv whose `site-packages` was replicated, by tool.
    pub from: &'static str,
    pub dirs: usize,
    pub links: usize,
    pub threads: usize,
    #[serde(flatten)]
    pub passes: Passes,
}

/// One top-level entry of `site-packages` (a package's directory, a `.dist-info`, a module
/// file), with everything under it: directories parents first, then files. Threads take
/// whole entries, as an installer that links package by package would.
#[derive(Debug, Default)]
struct Entry {
    dirs: Vec<PathBuf>,
    files: Vec<PathBuf>,
}

/// The entries of `site`, each with its paths relative to `site`, largest first.
fn entries(site: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for top in fs::read_dir(site).with_context(|| format!("reading {}", site.display()))? {
        let top = top?;
        let mut entry = Entry::default();
        walk(site, &PathBuf::from(top.file_name()), &mut entry)?;
        out.push(entry);
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.dirs.len() + e.files.len()));
    Ok(out)
}

fn walk(site: &Path, rel: &Path, entry: &mut Entry) -> Result<()> {
    let meta = fs::symlink_metadata(site.join(rel))?;
    if meta.is_dir() {
        entry.dirs.push(rel.to_path_buf());
        let mut children: Vec<_> = fs::read_dir(site.join(rel))?
            .map(|c| c.map(|c| c.file_name()))
            .collect::<Result<_, _>>()?;
        children.sort();
        for child in children {
            walk(site, &rel.join(child), entry)?;
        }
    } else if meta.is_file() {
        entry.files.push(rel.to_path_buf());
    }
    Ok(())
}

/// Make `entries` again under `dest` (which must not exist) from `site`: one timed pass, on
/// `threads` threads taking entries in turn. Returns the wall time in seconds.
fn replicate(site: &Path, entries: &[Entry], dest: &Path, threads: usize) -> Result<f64> {
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    fs::create_dir(dest).with_context(|| format!("creating {}", dest.display()))?;
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    while let Some(entry) = entries.get(next.fetch_add(1, Ordering::Relaxed)) {
                        for dir in &entry.dirs {
                            fs::create_dir(dest.join(dir))?;
                        }
                        for file in &entry.files {
                            fs::hard_link(site.join(file), dest.join(file))?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("a floor thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(started.elapsed().as_secs_f64())
}

/// The warm floor of a set while its warm runs go on: one pass after every repetition of the
/// tools, so that the floor meets the same state of the machine as they do.
#[derive(Default)]
pub(crate) struct Progress {
    /// The tool whose venv the first pass replicated, and what it held.
    from: Option<&'static str>,
    counts: (usize, usize),
    samples: Vec<f64>,
    /// Why the floor stopped, if it did.
    error: Option<String>,
}

impl Progress {
    /// After repetition `rep`: a pass from the venv the repetition left (sanctuary's, else
    /// uv's).
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
        let Some(ws) = synced_workspace(workspaces, synced, None) else {
            self.error = Some("no warm run left a synced venv".to_string());
            return;
        };
        eprintln!("[{} warm] the floor, pass {}", set.name, rep + 1);
        if let Err(e) = self.pass_from(ws.tool.name(), &ws.venv, &ws.dir, &ws.trash, rep) {
            self.error = Some(format!("{e:#}"));
        }
    }

    /// One pass from the `site-packages` of `venv` (made by the tool `from`; walked again
    /// each time, untimed, since every repetition makes a new venv), into a fresh directory
    /// under `scratch` that is then moved to `trash` (deleted with the set's other leftovers,
    /// outside any timed run).
    fn pass_from(
        &mut self,
        from: &'static str,
        venv: &Path,
        scratch: &Path,
        trash: &Path,
        rep: usize,
    ) -> Result<()> {
        // The library's own answer, as `sync` finds it.
        let site = sanctuary::environment::find_site_packages(venv)?;
        let entries = entries(&site)?;
        let dest = scratch.join(format!("floor-{rep}"));
        common::discard(&dest, trash)?;
        common::settle();
        self.samples
            .push(replicate(&site, &entries, &dest, common::cpus())?);
        common::discard(&dest, trash)?;
        if self.from.is_none() {
            self.from = Some(from);
            self.counts = (
                entries.iter().map(|e| e.dirs.len()).sum(),
                entries.iter().map(|e| e.files.len()).sum(),
            );
        }
        Ok(())
    }

    /// What the passes measured, or why there were none; `None` when none was due.
    pub(crate) fn finish(self, set: &str) -> Option<Result<Floor, String>> {
        if let Some(error) = self.error {
            return Some(Err(error));
        }
        Some(Ok(Floor {
            set: set.to_string(),
            from: self.from?,
            dirs: self.counts.0,
            links: self.counts.1,
            threads: common::cpus(),
            passes: Passes::of(self.samples),
        }))
    }
}

/// The workspace of the first tool (`only` that one, when given) whose venv the last
/// repetition left synced.
pub(crate) fn synced_workspace<'a>(
    workspaces: &'a [(Tool, Result<Workspace, String>)],
    synced: &BTreeSet<Tool>,
    only: Option<Tool>,
) -> Option<&'a Workspace> {
    workspaces
        .iter()
        .filter(|(tool, _)| synced.contains(tool) && only.is_none_or(|only| *tool == only))
        .find_map(|(_, ws)| ws.as_ref().ok())
}

/// uv's median time in `mode` for the set of `result`, what a floor is set against.
pub(crate) fn uv_median(result: &SetResult, mode: Mode) -> Option<f64> {
    result
        .cells
        .iter()
        .find(|c| c.mode == mode.name() && c.tool == Tool::Uv.name())
        .and_then(|c| c.stats.median_s)
}

/// The floor line of a set (see `floor`), against uv's warm median.
pub(crate) fn print(result: &SetResult) {
    let set = &result.prepare.set;
    match &result.floor {
        Some(Ok(f)) => println!(
            "floor {set} warm: the {} directories and {} hard links of {}'s venv, made again on {} \
             thread(s) with nothing else done: {}{} (the warm target: {:.1}x)",
            f.dirs,
            f.links,
            f.from,
            f.threads,
            f.passes.line(),
            f.passes
                .against(uv_median(result, Mode::Warm), Mode::Warm.name()),
            target(Mode::Warm),
        ),
        Some(Err(why)) => println!("floor {set} warm: not measured ({why})"),
        None => {}
    }
}

/// The offline self-check: a small tree is made again, the same directories and the same
/// files (as links to the originals), and counted.
pub(crate) fn self_check() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let site = dir.path().join("venv/lib/python3.11/site-packages");
    for d in ["pkg/sub/deep", "pkg-1.0.dist-info", "other"] {
        fs::create_dir_all(site.join(d))?;
    }
    for f in [
        "pkg/__init__.py",
        "pkg/sub/a.py",
        "pkg/sub/deep/b.so",
        "pkg-1.0.dist-info/RECORD",
        "module.py",
    ] {
        fs::write(site.join(f), f)?;
    }
    let mut progress = Progress::default();
    for rep in 0..2 {
        let trash = dir.path().join("trash");
        progress.pass_from(
            "sanctuary",
            &dir.path().join("venv"),
            dir.path(),
            &trash,
            rep,
        )?;
    }
    let floor = progress
        .finish("test")
        .context("no pass was made")?
        .map_err(|e| anyhow::anyhow!(e))?;
    assert_eq!((floor.dirs, floor.links), (5, 5), "{floor:?}");
    assert_eq!(floor.passes.samples_s.len(), 2);
    // Each pass left a whole copy in the trash: the same files, as links to the originals.
    let copies: Vec<_> = fs::read_dir(dir.path().join("trash"))?.collect::<Result<_, _>>()?;
    assert_eq!(copies.len(), 2);
    for copy in copies {
        let linked = copy.path().join("pkg/sub/deep/b.so");
        assert_eq!(fs::read_to_string(&linked)?, "pkg/sub/deep/b.so");
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            assert_eq!(
                fs::metadata(&linked)?.ino(),
                fs::metadata(site.join("pkg/sub/deep/b.so"))?.ino()
            );
        }
        assert!(copy.path().join("other").is_dir());
    }
    Ok(())
}
