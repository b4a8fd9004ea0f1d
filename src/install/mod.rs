//! A virtual environment and the wheels in it: the machinery of `sanctuary sync`.
//!
//! - [`wheel`]: the types, and [`unpack`] ([`unpack`](mod@unpack) module) which checks a
//!   whole wheel before keeping anything (its zip structure in [`archive`], every archive
//!   entry stays inside its destination, no duplicates, capped dist-info files, `METADATA`
//!   matches the dist-info, every size, CRC and `RECORD` hash checks as it streams) and
//!   leaves it unpacked; [`link`](mod@link) installs an unpacked wheel into a venv (hard
//!   links or copies, `.data` schemes, scripts, launchers, `INSTALLER`, a fresh `RECORD`
//!   last), after [`prepare`] checked it holds the locked distribution and writes none of
//!   the venv's own files ([`guard`]) nor another distribution's; [`install`] does both
//!   from a file.
//! - [`uninstall`] removes exactly the files a `RECORD` lists (read by
//!   [`crate::environment`]), never one that resolves outside the venv, is one of the
//!   venv's own files, or that another distribution staying in it also lists, then the
//!   dist-info (`RECORD` and `METADATA` last) and the directories left empty.
//! - [`entry_points`] turns `entry_points.txt` into launcher scripts.
//! - [`fetch`] gets locked wheels, verified, into the cache of unpacked wheels; [`ahead`]
//!   unpacks a large one while it downloads, for [`unpack`] to take once it checked it.
//! - [`plan`] compares the lockfiles with what is installed (pure).
//! - [`journal`] records a sync in progress so that one killed half-way is repaired.
//! - [`venv`] finds a base interpreter, creates the venv itself (without pip) and locks it
//!   while it changes.
//! - [`failpoint`] is a test hook to stop a sync at a named point.
//!
//! Paths are checked by components, never by string prefixes: `<venv>-evil/x` is not inside
//! `<venv>`.

pub mod ahead;
pub mod archive;
pub mod entry_points;
pub mod failpoint;
pub mod fetch;
pub mod guard;
pub mod journal;
pub mod link;
pub mod plan;
pub mod transaction;
pub mod unpack;
pub mod venv;
pub mod wheel;

#[cfg(test)]
mod archive_tests;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use crate::environment::{self, EnvironmentError, InstalledDistribution};

pub use guard::OwnedFiles;
pub use wheel::{
    InstallOptions, InstalledRecord, LinkMode, PreparedLink, UnpackOptions, UnpackedWheel,
    check_disjoint, install, link, prepare, unpack,
};

/// The directories of a virtual environment a wheel installs into (the `sysconfig` "venv"
/// scheme on POSIX).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Venv {
    /// The venv directory; nothing is ever written or removed outside it.
    pub root: PathBuf,
    /// `<venv>/lib/pythonX.Y/site-packages`: purelib and platlib.
    pub site_packages: PathBuf,
    /// `<venv>/bin`: scripts and entry-point launchers.
    pub bin: PathBuf,
    /// The interpreter written into shebangs: `<venv>/bin/python`.
    pub python: PathBuf,
    /// `<venv>/include/site/pythonX.Y`: headers go to `<headers>/<distribution name>`.
    pub headers: PathBuf,
    /// `<venv>`: the `data` scheme key.
    pub data: PathBuf,
}

impl Venv {
    /// The layout of the existing venv at `root` (its `lib/pythonX.Y/site-packages` must
    /// exist). `root` is made absolute so that shebangs and `RECORD` paths are well defined.
    pub fn from_root(root: &Path) -> Result<Venv, EnvironmentError> {
        let root = std::path::absolute(root).map_err(|source| EnvironmentError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let site_packages = environment::find_site_packages(&root)?;
        // `lib/python3.12/site-packages` names the version; Windows' `Lib/site-packages`
        // does not, and falls back to `python3`.
        let python_dir = site_packages
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n.starts_with("python"))
            .unwrap_or_else(|| "python3".to_string());
        Ok(Venv {
            bin: root.join("bin"),
            python: root.join("bin").join("python"),
            headers: root.join("include").join("site").join(python_dir),
            data: root.clone(),
            site_packages,
            root,
        })
    }
}

/// An uninstallation could not proceed.
#[derive(Debug, thiserror::Error)]
pub enum UninstallError {
    #[error(
        "{} is not a dist-info directory directly inside {}",
        dist_info.display(),
        site_packages.display()
    )]
    NotInSitePackages {
        dist_info: PathBuf,
        site_packages: PathBuf,
    },
    #[error("{} has no RECORD: cannot tell which files it installed", .0.display())]
    NoRecord(PathBuf),
    #[error("cannot remove {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What [`uninstall`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UninstallReport {
    /// Files removed, in `RECORD` order (compiled `__pycache__` files of removed modules
    /// included).
    pub removed: Vec<PathBuf>,
    /// `RECORD` paths that resolve outside the venv (or through a symlink leaving it): left
    /// alone.
    pub outside: Vec<String>,
    /// `RECORD` paths already gone.
    pub missing: Vec<String>,
    /// Directories removed because they were left empty.
    pub removed_dirs: Vec<PathBuf>,
    /// `RECORD` paths another installed distribution also lists (a namespace package's
    /// `__init__.py` that several wheels ship): left for it.
    pub shared: Vec<String>,
    /// `RECORD` paths naming the venv's own files (`pyvenv.cfg`, `bin/python`, ...; see
    /// [`guard::venv_file`]): never removed.
    pub venv_files: Vec<String>,
}

/// Remove the distribution `dist` from `venv`: exactly the files its `RECORD` lists (plus
/// the `__pycache__/<module>.*.pyc` of each removed `.py`, which Python wrote, not the
/// installer), never one that resolves outside `venv.root` (reported in
/// [`UninstallReport::outside`]), none of the venv's own files (in
/// [`UninstallReport::venv_files`]) and none in `keep` (normalized absolute paths that
/// distributions staying in the venv also list), then the dist-info directory, then the
/// directories left empty under `site-packages` and `bin`. A `RECORD` entry naming a
/// directory is skipped. The dist-info goes last of all, `RECORD` and then `METADATA` at its
/// very end, so an uninstall cut short is either still listed with its `RECORD` (and can be
/// run again) or has no files left.
pub fn uninstall(
    dist: &InstalledDistribution,
    venv: &Venv,
    keep: &std::collections::HashSet<PathBuf>,
) -> Result<UninstallReport, UninstallError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| UninstallError::Io { path, source }
    };
    let site_packages = normalize(&venv.site_packages);
    let dist_info = normalize(&dist.dist_info);
    let is_dist_info = dist_info.parent() == Some(site_packages.as_path())
        && dist_info
            .extension()
            .is_some_and(|e| e == std::ffi::OsStr::new("dist-info"));
    if !is_dist_info {
        return Err(UninstallError::NotInSitePackages {
            dist_info: dist.dist_info.clone(),
            site_packages: venv.site_packages.clone(),
        });
    }
    if !dist.has_record {
        return Err(UninstallError::NoRecord(dist.dist_info.clone()));
    }
    let root = normalize(&venv.root);
    let real_root = std::fs::canonicalize(&root).map_err(io(&root))?;
    let mut report = UninstallReport::default();
    let mut parents = BTreeSet::new();
    let venv_files = guard::VenvFiles::new(venv);
    for entry in &dist.record {
        let path = normalize(&site_packages.join(&entry.path));
        if !path.starts_with(&root) || path == root {
            report.outside.push(entry.path.clone());
            continue;
        }
        if venv_files.check(&path).is_some() {
            report.venv_files.push(entry.path.clone());
            continue;
        }
        if keep.contains(&path) {
            report.shared.push(entry.path.clone());
            continue;
        }
        // The dist-info's own files go last, in their own order (see `remove_dist_info`).
        if path.starts_with(&dist_info) {
            continue;
        }
        // The parent must really be inside the venv (a symlinked directory could leave it).
        let Some(parent) = path.parent() else {
            report.outside.push(entry.path.clone());
            continue;
        };
        let real_parent = match std::fs::canonicalize(parent) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.missing.push(entry.path.clone());
                continue;
            }
            Err(e) => return Err(io(parent)(e)),
        };
        if !real_parent.starts_with(&real_root) {
            report.outside.push(entry.path.clone());
            continue;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.missing.push(entry.path.clone());
                continue;
            }
            Err(e) => return Err(io(&path)(e)),
        }
        failpoint::hit("remove-file");
        std::fs::remove_file(&path).map_err(io(&path))?;
        report.removed.push(path.clone());
        parents.insert(parent.to_path_buf());
        if path.extension().is_some_and(|e| e == "py") {
            remove_pycache(&path, &mut report, &mut parents)?;
        }
    }
    // The dist-info itself (INSTALLER, anything Python or a tool left there), RECORD and
    // METADATA last.
    remove_dist_info(&dist_info).map_err(io(&dist_info))?;
    // Empty directories, deepest first, up to (never including) site-packages and bin.
    let bin = normalize(&venv.bin);
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for parent in parents {
        let top = if parent.starts_with(&site_packages) {
            &site_packages
        } else if parent.starts_with(&bin) {
            &bin
        } else {
            continue;
        };
        let mut dir = parent.as_path();
        while dir != top && dir.starts_with(top) {
            dirs.insert(dir.to_path_buf());
            match dir.parent() {
                Some(p) => dir = p,
                None => break,
            }
        }
    }
    let mut dirs: Vec<PathBuf> = dirs.into_iter().collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in dirs {
        let empty = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_none());
        if empty && std::fs::remove_dir(&dir).is_ok() {
            report.removed_dirs.push(dir);
        }
    }
    Ok(report)
}

/// Remove a dist-info directory, `RECORD` second to last and `METADATA` last, so that a
/// removal cut short leaves either a `RECORD` or nothing to uninstall.
pub fn remove_dist_info(dist_info: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dist_info) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if name == "RECORD" || name == "METADATA" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    for last in ["RECORD", "METADATA"] {
        match std::fs::remove_file(dist_info.join(last)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    std::fs::remove_dir(dist_info)
}

/// Remove `__pycache__/<stem>.*.pyc` next to a removed `<stem>.py`.
fn remove_pycache(
    py: &Path,
    report: &mut UninstallReport,
    parents: &mut BTreeSet<PathBuf>,
) -> Result<(), UninstallError> {
    let (Some(parent), Some(stem)) = (py.parent(), py.file_stem()) else {
        return Ok(());
    };
    let cache = parent.join("__pycache__");
    let Ok(entries) = std::fs::read_dir(&cache) else {
        return Ok(());
    };
    let prefix = format!("{}.", stem.to_string_lossy());
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".pyc") {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::remove_file(&path).map_err(|source| UninstallError::Io {
                    path: path.clone(),
                    source,
                })?;
                report.removed.push(path);
                parents.insert(cache.clone());
            }
        }
    }
    Ok(())
}

/// Lexically normalize a path: drop `.`, resolve `..` against the preceding component
/// (never above the root). Does not touch the file system.
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// `to` relative to the directory `from`, both absolute and normalized: `../../../bin/foo`
/// from site-packages, as `RECORD` writes files installed outside it. `/`-separated.
pub(crate) fn relative_to(to: &Path, from: &Path) -> String {
    let to: Vec<Component> = to.components().collect();
    let from: Vec<Component> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}
