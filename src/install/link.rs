//! [`link`]: installing an [`UnpackedWheel`] into a venv, in two steps so that a sync checks
//! every wheel before it changes anything.
//!
//! [`prepare`] maps every file to its scheme directory (purelib, platlib, scripts, headers,
//! data) and checks, writing nothing, that the wheel holds the distribution the caller
//! expects ([`InstallOptions::expect`]), that no destination (archive file, `.data` file,
//! launcher, dist-info file) leaves its directory, passes through a symlink leading out of
//! the venv, is one of the venv's own files ([`super::guard::venv_file`]) or a file another
//! distribution owns with other contents ([`OwnedFiles`]); scripts are read and their
//! `#!python` rewritten there, so every write's sha256 is known. [`check_disjoint`] does
//! the same between the wheels of one sync. [`PreparedLink::link`] then hard-links (or
//! copies, when links are impossible or [`LinkMode::Copy`] is asked for) each file into place
//! through a temporary name and a rename, writes the launchers, `INSTALLER`, any extra
//! dist-info files and, last, a fresh `RECORD` (its presence marks a complete install). An
//! I/O error while writing removes the files this install created; files it overwrote stay
//! overwritten.
//!
//! An existing install of the same distribution is not removed here (that is `sync`'s job,
//! through [`super::uninstall`]).

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest as _, Sha256};

use super::entry_points::{self, EntryPoint};
use super::guard::{OwnedFiles, VenvFiles};
use super::wheel::{
    InstallError, InstallOptions, InstalledRecord, LinkMode, MAX_ENTRY_POINTS_SIZE, UnpackedFile,
    UnpackedWheel, check_entry_name,
};
use super::{Venv, normalize, relative_to};
use crate::environment::parse::{RecordEntry, RecordHash, b64_urlsafe_encode};

/// Where one archive file goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Linked or copied as is.
    Plain,
    /// `.data/scripts`: `#!python` rewritten, always executable.
    Script,
}

/// Every destination of one wheel in one venv, checked.
struct Paths<'a> {
    files: Vec<(&'a UnpackedFile, PathBuf, Kind)>,
    launchers: Vec<(EntryPoint, PathBuf)>,
    /// `INSTALLER` and the extra dist-info files: (file name, destination).
    own: Vec<(String, PathBuf)>,
    record: PathBuf,
}

/// What the destinations are checked against, once per wheel.
struct DestCheck<'a> {
    wheel: &'a Path,
    venv_files: VenvFiles,
    dirs: RealDirs<'a>,
    /// Destination → the entry writing it.
    seen: FxHashMap<PathBuf, String>,
}

impl DestCheck<'_> {
    /// `dest`, written for `entry`, is neither a venv file, nor reached through a symlink
    /// leading out of the venv, nor written twice.
    fn check(&mut self, entry: &str, dest: &Path) -> Result<(), InstallError> {
        if let Some(venv_file) = self.venv_files.check(dest) {
            return Err(InstallError::VenvFile {
                wheel: self.wheel.to_path_buf(),
                entry: entry.to_string(),
                venv_file,
            });
        }
        if !self.dirs.holds(dest) {
            return Err(InstallError::UnsafePath {
                wheel: self.wheel.to_path_buf(),
                entry: entry.to_string(),
                reason: "its destination directory is a symlink leading out of the venv",
            });
        }
        if let Some(first) = self.seen.insert(dest.to_path_buf(), entry.to_string()) {
            return Err(InstallError::Duplicate {
                wheel: self.wheel.to_path_buf(),
                first,
                entry: entry.to_string(),
                dest: dest.to_path_buf(),
            });
        }
        Ok(())
    }
}

/// Where the archive file `file` goes in `venv` (`None`: replaced by ours).
fn file_destination(
    unpacked: &UnpackedWheel,
    file: &UnpackedFile,
    venv: &Venv,
    data_dir: &str,
) -> Result<Option<(PathBuf, Kind)>, InstallError> {
    let unsafe_path = |reason| InstallError::UnsafePath {
        wheel: PathBuf::from(&unpacked.wheel),
        entry: file.path.clone(),
        reason,
    };
    let dist_info = unpacked.dist_info.as_str();
    let parts: Vec<&str> = file.path.split('/').collect();
    if parts.len() == 2
        && parts[0] == dist_info
        && matches!(
            parts[1],
            "RECORD" | "RECORD.jws" | "RECORD.p7s" | "INSTALLER"
        )
    {
        // Replaced by ours (signatures signed the wheel's RECORD, not ours).
        return Ok(None);
    }
    let site_packages = std::borrow::Cow::Borrowed(venv.site_packages.as_path());
    let (root, rest, kind) = if parts[0] == data_dir && parts.len() > 2 {
        match parts[1] {
            "purelib" | "platlib" => (site_packages, &parts[2..], Kind::Plain),
            "scripts" => (venv.bin.as_path().into(), &parts[2..], Kind::Script),
            "headers" => {
                let (name, _) = unpacked.name_version();
                (venv.headers.join(name).into(), &parts[2..], Kind::Plain)
            }
            "data" => (venv.data.as_path().into(), &parts[2..], Kind::Plain),
            _ => return Err(unsafe_path("an unknown .data scheme key")),
        }
    } else {
        (site_packages, &parts[..], Kind::Plain)
    };
    if rest.iter().any(|c| c.is_empty() || *c == "." || *c == "..") {
        return Err(unsafe_path("it contains a `..` component"));
    }
    let mut dest = PathBuf::with_capacity(root.as_os_str().len() + file.path.len() + 1);
    dest.push(&root);
    for c in rest {
        dest.push(c);
    }
    // Defense in depth: by components, never by string prefix.
    if !dest.starts_with(&root) || dest == root {
        return Err(unsafe_path("it leaves its destination directory"));
    }
    Ok(Some((dest, kind)))
}

/// Where every file, launcher and dist-info file of `unpacked` goes in `venv`, checked:
/// see the module documentation.
fn plan_paths<'a>(
    unpacked: &'a UnpackedWheel,
    venv: &Venv,
    options: &InstallOptions,
) -> Result<Paths<'a>, InstallError> {
    let wheel = PathBuf::from(&unpacked.wheel);
    let real_root = std::fs::canonicalize(&venv.root).map_err(|source| InstallError::Write {
        wheel: wheel.clone(),
        path: venv.root.clone(),
        source,
    })?;
    let mut check = DestCheck {
        wheel: &wheel,
        venv_files: VenvFiles::new(venv),
        dirs: RealDirs::new(&venv.root, real_root),
        seen: FxHashMap::with_capacity_and_hasher(unpacked.files.len() + 8, Default::default()),
    };
    let data_dir = format!("{}.data", unpacked.dist_info.trim_end_matches(".dist-info"));
    let mut files = Vec::with_capacity(unpacked.files.len());
    for file in &unpacked.files {
        if let Some((dest, kind)) = file_destination(unpacked, file, venv, &data_dir)? {
            check.check(&file.path, &dest)?;
            files.push((file, dest, kind));
        }
    }
    let launchers: Vec<(EntryPoint, PathBuf)> = read_entry_points(unpacked)?
        .into_iter()
        .map(|ep| {
            let dest = venv.bin.join(&ep.name);
            (ep, dest)
        })
        .collect();
    for (ep, dest) in &launchers {
        check.check(&format!("entry_points.txt: {}", ep.name), dest)?;
    }
    let dist_info = venv.site_packages.join(&unpacked.dist_info);
    let mut own = vec![("INSTALLER".to_string(), dist_info.join("INSTALLER"))];
    for (name, _) in &options.extra_dist_info {
        if check_entry_name(name).map_or(true, |p| p.len() != 1)
            || matches!(name.as_str(), "RECORD" | "INSTALLER")
        {
            return Err(InstallError::Layout {
                wheel: wheel.clone(),
                message: format!("`{name}` cannot be written into the dist-info"),
            });
        }
        own.push((name.clone(), dist_info.join(name)));
    }
    let record = dist_info.join("RECORD");
    for (name, dest) in own.iter().chain([&("RECORD".to_string(), record.clone())]) {
        check.check(&format!("{}/{name}", unpacked.dist_info), dest)?;
    }
    Ok(Paths {
        files,
        launchers,
        own,
        record,
    })
}

/// The console and GUI scripts of the unpacked `entry_points.txt`, read through its cap.
fn read_entry_points(unpacked: &UnpackedWheel) -> Result<Vec<EntryPoint>, InstallError> {
    let path = unpacked.file(&format!("{}/entry_points.txt", unpacked.dist_info));
    let read_err = |source| InstallError::Read {
        wheel: path.clone(),
        source,
    };
    let mut text = Vec::new();
    match File::open(&path) {
        Ok(f) => f
            .take(MAX_ENTRY_POINTS_SIZE + 1)
            .read_to_end(&mut text)
            .map_err(read_err)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_err(e)),
    };
    if text.len() as u64 > MAX_ENTRY_POINTS_SIZE {
        return Err(InstallError::TooLarge {
            wheel: PathBuf::from(&unpacked.wheel),
            entry: format!("{}/entry_points.txt", unpacked.dist_info),
            declared: text.len() as u64,
            cap: MAX_ENTRY_POINTS_SIZE,
        });
    }
    entry_points::parse(&String::from_utf8_lossy(&text)).map_err(|source| {
        InstallError::EntryPoint {
            wheel: PathBuf::from(&unpacked.wheel),
            source,
        }
    })
}

/// Every path [`link`] would write for `unpacked` in `venv` (files, launchers and the
/// dist-info's own files), so that an interrupted install can be cleaned up.
pub fn destinations(
    unpacked: &UnpackedWheel,
    venv: &Venv,
    options: &InstallOptions,
) -> Result<Vec<PathBuf>, InstallError> {
    let paths = plan_paths(unpacked, venv, options)?;
    let mut out: Vec<PathBuf> = paths.files.into_iter().map(|(_, d, _)| d).collect();
    out.extend(paths.launchers.into_iter().map(|(_, d)| d));
    out.extend(paths.own.into_iter().map(|(_, d)| d));
    out.push(paths.record);
    Ok(out)
}

/// One write of a prepared link, its content known.
struct Planned<'a> {
    dest: PathBuf,
    sha256: Vec<u8>,
    what: Source<'a>,
}

enum Source<'a> {
    /// An unpacked file, linked or copied.
    Place(&'a UnpackedFile),
    /// Bytes written: a rewritten script or a launcher (executable), a dist-info file.
    Bytes { content: Vec<u8>, script: bool },
}

/// A link checked and ready to write: see [`prepare`].
pub struct PreparedLink<'a> {
    unpacked: &'a UnpackedWheel,
    /// `name version`, for messages about it as an owner.
    dist: String,
    writes: Vec<Planned<'a>>,
    record: PathBuf,
    link: LinkMode,
}

/// Check that `unpacked` can be installed into `venv`, writing nothing: see the module
/// documentation. `owned` holds the files of the distributions staying in the venv.
pub fn prepare<'a>(
    unpacked: &'a UnpackedWheel,
    venv: &Venv,
    options: &InstallOptions,
    owned: &OwnedFiles,
) -> Result<PreparedLink<'a>, InstallError> {
    if let Some((name, version)) = &options.expect {
        unpacked.check_identity(name, version)?;
    }
    let paths = plan_paths(unpacked, venv, options)?;
    let shebang = entry_points::shebang(&venv.python);
    let mut writes = Vec::with_capacity(paths.files.len() + paths.launchers.len() + 2);
    for (file, dest, kind) in paths.files {
        let write = match kind {
            Kind::Plain => Planned {
                dest,
                // Our own hex, checked by `UnpackedWheel::load`.
                sha256: hex::decode(&file.sha256).unwrap_or_default(),
                what: Source::Place(file),
            },
            Kind::Script => {
                let source = unpacked.file(&file.path);
                let content = std::fs::read(&source).map_err(|source| InstallError::Read {
                    wheel: PathBuf::from(&unpacked.wheel),
                    source,
                })?;
                bytes(dest, rewrite_shebang(content, &shebang), true)
            }
        };
        writes.push(write);
    }
    for (ep, dest) in paths.launchers {
        writes.push(bytes(
            dest,
            entry_points::launcher(&ep, &shebang).into_bytes(),
            true,
        ));
    }
    let installer = format!("{}\n", options.installer).into_bytes();
    let extra = options.extra_dist_info.iter().map(|(_, c)| c.clone());
    for ((_, dest), content) in paths
        .own
        .into_iter()
        .zip(std::iter::once(installer).chain(extra))
    {
        writes.push(bytes(dest, content, false));
    }
    let (name, version) = unpacked.name_version();
    let prepared = PreparedLink {
        unpacked,
        dist: format!("{name} {version}"),
        writes,
        record: paths.record,
        link: options.link,
    };
    prepared.check_owned(owned)?;
    Ok(prepared)
}

fn bytes<'a>(dest: PathBuf, content: Vec<u8>, script: bool) -> Planned<'a> {
    Planned {
        dest,
        sha256: Sha256::digest(&content).to_vec(),
        what: Source::Bytes { content, script },
    }
}

impl PreparedLink<'_> {
    /// Every path written, with the sha256 of its content (`RECORD`'s is not known).
    fn writes(&self) -> impl Iterator<Item = (&Path, Option<&[u8]>)> {
        self.writes
            .iter()
            .map(|w| (w.dest.as_path(), Some(w.sha256.as_slice())))
            .chain([(self.record.as_path(), None)])
    }

    fn owned_error(&self, path: &Path, owner: String) -> InstallError {
        InstallError::Owned {
            wheel: PathBuf::from(&self.unpacked.wheel),
            path: path.to_path_buf(),
            owner,
        }
    }

    /// No write replaces a file another distribution owns, unless byte-identical.
    fn check_owned(&self, owned: &OwnedFiles) -> Result<(), InstallError> {
        if owned.is_empty() {
            return Ok(());
        }
        for (dest, sha256) in self.writes() {
            if let Some(owner) = owned.get(dest)
                && (sha256.is_none() || owner.sha256.as_deref() != sha256)
            {
                return Err(self.owned_error(dest, owner.dist.clone()));
            }
        }
        Ok(())
    }

    /// Write it all. See the module documentation.
    pub fn link(self, venv: &Venv) -> Result<InstalledRecord, InstallError> {
        let wheel = PathBuf::from(&self.unpacked.wheel);
        let mut writer = Writer {
            wheel: &wheel,
            created_files: Vec::new(),
            created_dirs: Vec::new(),
            made_dirs: FxHashSet::default(),
            last_dir: None,
            bases: match self.link {
                LinkMode::Hardlink => Bases::open(&self.unpacked.root.join("files"), venv),
                LinkMode::Copy => Bases::default(),
            },
        };
        match self.write_all(&mut writer, venv) {
            Ok((record, scripts)) => {
                let (name, version) = self.unpacked.name_version();
                Ok(InstalledRecord {
                    name,
                    version,
                    dist_info: venv.site_packages.join(&self.unpacked.dist_info),
                    record,
                    scripts,
                })
            }
            Err(e) => {
                writer.roll_back();
                Err(e)
            }
        }
    }

    fn write_all(
        &self,
        w: &mut Writer,
        venv: &Venv,
    ) -> Result<(Vec<RecordEntry>, Vec<PathBuf>), InstallError> {
        let mut record = Vec::with_capacity(self.writes.len() + 1);
        let mut scripts = Vec::new();
        for write in &self.writes {
            let size = match &write.what {
                Source::Place(file) => {
                    let source = self.unpacked.file(&file.path);
                    w.place((&source, &file.path), &write.dest, self.link)?;
                    file.size
                }
                Source::Bytes { content, script } => {
                    if *script {
                        scripts.push(write.dest.clone());
                    }
                    w.write(&write.dest, content, *script)?
                }
            };
            record.push(record_entry(
                &write.dest,
                &venv.site_packages,
                write.sha256.clone(),
                size,
            ));
        }
        record.push(RecordEntry {
            path: format!("{}/RECORD", self.unpacked.dist_info),
            hash: None,
            size: None,
        });
        let mut text = String::with_capacity(record.len() * 100);
        for entry in &record {
            push_record_line(&mut text, entry);
        }
        w.write(&self.record, text.as_bytes(), false)?;
        Ok((record, scripts))
    }
}

/// No two of `prepared` (the wheels of one sync) write one path, unless with identical
/// contents (a namespace package's `__init__.py`).
pub fn check_disjoint(prepared: &[PreparedLink]) -> Result<(), InstallError> {
    // Every destination is the venv's directory joined with plain names (see `plan_paths`),
    // so one file has one spelling: compared as bytes, without normalizing.
    let total = prepared.iter().map(|p| p.writes.len() + 1).sum();
    let mut seen: rustc_hash::FxHashMap<&std::ffi::OsStr, (usize, Option<&[u8]>)> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(total, Default::default());
    for (i, p) in prepared.iter().enumerate() {
        for (dest, sha256) in p.writes() {
            match seen.entry(dest.as_os_str()) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert((i, sha256));
                }
                std::collections::hash_map::Entry::Occupied(o) => {
                    let (first, other) = *o.get();
                    if sha256.is_none() || other != sha256 {
                        let owner = format!("{} (in this sync)", prepared[first].dist);
                        return Err(p.owned_error(dest, owner));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Install the unpacked wheel into `venv`: [`prepare`] (with no other distribution's files
/// to respect) and [`PreparedLink::link`].
pub fn link(
    unpacked: &UnpackedWheel,
    venv: &Venv,
    options: &InstallOptions,
) -> Result<InstalledRecord, InstallError> {
    prepare(unpacked, venv, options, &OwnedFiles::default())?.link(venv)
}

/// Where the directories of a wheel's destinations really are, symlinks resolved.
///
/// A destination may be written when the deepest existing ancestor of its directory,
/// canonicalized, lies inside the venv's canonical root (`dest` itself may be a symlink: the
/// rename replaces it). Canonicalizing each directory would walk (and `readlink`) every
/// component of its path; below the venv's root, a directory that is missing resolves as
/// its parent does, and one that is no symlink resolves to its parent's resolution joined
/// with its name, so each directory costs one `lstat` and the answers are kept.
struct RealDirs<'a> {
    /// The venv's root as its paths spell it, and canonicalized.
    root: &'a Path,
    real_root: PathBuf,
    /// Directory → the canonical path of it, or of its deepest existing ancestor.
    known: FxHashMap<PathBuf, Option<PathBuf>>,
    /// The directory last asked about, and whether it holds.
    last: Option<(PathBuf, bool)>,
}

impl<'a> RealDirs<'a> {
    fn new(root: &'a Path, real_root: PathBuf) -> RealDirs<'a> {
        RealDirs {
            root,
            real_root,
            known: FxHashMap::default(),
            last: None,
        }
    }

    /// Whether `dest` may be written: see the type's documentation.
    fn holds(&mut self, dest: &Path) -> bool {
        let Some(dir) = dest.parent() else {
            return false;
        };
        // The files of a directory mostly follow one another.
        if let Some((last, inside)) = &self.last
            && last == dir
        {
            return *inside;
        }
        let inside = self
            .resolve(dir)
            .is_some_and(|real| real.starts_with(&self.real_root));
        self.last = Some((dir.to_path_buf(), inside));
        inside
    }

    /// The canonical path of `dir` if it exists, else of its deepest existing ancestor.
    fn resolve(&mut self, dir: &Path) -> Option<PathBuf> {
        if dir == self.root {
            return Some(self.real_root.clone());
        }
        if let Some(known) = self.known.get(dir) {
            return known.clone();
        }
        let name = match dir.components().next_back() {
            Some(std::path::Component::Normal(name)) if dir.starts_with(self.root) => Some(name),
            _ => None,
        };
        let resolved = match (dir.symlink_metadata(), name) {
            // Missing: where its parent leads.
            (Err(_), _) => dir.parent().and_then(|p| self.resolve(p)),
            (Ok(meta), Some(name)) if !meta.file_type().is_symlink() => dir
                .parent()
                .and_then(|p| self.resolve(p))
                .map(|p| p.join(name)),
            // A symlink, or a directory outside the venv's paths: resolved by the system.
            (Ok(_), _) => std::fs::canonicalize(dir).ok(),
        };
        self.known.insert(dir.to_path_buf(), resolved.clone());
        resolved
    }
}

/// The write phase: what it created, to roll back on failure.
struct Writer<'a> {
    wheel: &'a Path,
    created_files: Vec<PathBuf>,
    created_dirs: Vec<PathBuf>,
    /// Directories known to exist, so each is checked once.
    made_dirs: FxHashSet<PathBuf>,
    /// The directory of the file last written.
    last_dir: Option<PathBuf>,
    bases: Bases,
}

/// The directories most links start from, open: the unpacked wheel's `files/` and the venv's
/// site-packages. A link named from them walks a few components instead of two whole
/// absolute paths (most of a link's time in the kernel is that walk). Either may be missing:
/// then the absolute path is used.
#[derive(Default)]
struct Bases {
    #[cfg(unix)]
    files: Option<std::os::fd::OwnedFd>,
    #[cfg(unix)]
    site: Option<(PathBuf, std::os::fd::OwnedFd)>,
}

impl Bases {
    #[cfg(unix)]
    fn open(files: &Path, venv: &Venv) -> Bases {
        use rustix::fs::{Mode, OFlags, open};
        let dir = |p: &Path| {
            open(
                p,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .ok()
        };
        Bases {
            files: dir(files),
            site: dir(&venv.site_packages).map(|fd| (venv.site_packages.clone(), fd)),
        }
    }

    #[cfg(not(unix))]
    fn open(_files: &Path, _venv: &Venv) -> Bases {
        Bases::default()
    }

    /// Hard-link the unpacked file `source` (`rel` below `files/`) to `dest`.
    #[cfg(unix)]
    fn hard_link(&self, (source, rel): (&Path, &str), dest: &Path) -> std::io::Result<()> {
        use std::os::fd::AsFd as _;

        use rustix::fs::{AtFlags, CWD, linkat};
        let (from_dir, from) = match &self.files {
            Some(fd) => (fd.as_fd(), Path::new(rel)),
            None => (CWD, source),
        };
        let (to_dir, to) = match &self.site {
            Some((site, fd)) => match plain_below(dest, site) {
                Some(below) => (fd.as_fd(), Path::new(below)),
                None => (CWD, dest),
            },
            None => (CWD, dest),
        };
        Ok(linkat(from_dir, from, to_dir, to, AtFlags::empty())?)
    }

    #[cfg(not(unix))]
    fn hard_link(&self, (source, _): (&Path, &str), dest: &Path) -> std::io::Result<()> {
        std::fs::hard_link(source, dest)
    }

    /// `mkdir` of `dir`, named from site-packages when below it (mode 0777 less the umask,
    /// as `std::fs::create_dir`).
    #[cfg(unix)]
    fn create_dir(&self, dir: &Path) -> std::io::Result<()> {
        use std::os::fd::AsFd as _;

        use rustix::fs::{Mode, mkdirat};
        if let Some((site, fd)) = &self.site
            && let Some(below) = plain_below(dir, site)
        {
            return Ok(mkdirat(fd.as_fd(), below, Mode::from_raw_mode(0o777))?);
        }
        std::fs::create_dir(dir)
    }

    #[cfg(not(unix))]
    fn create_dir(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir(dir)
    }
}

impl Writer<'_> {
    fn err(&self, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError {
        let wheel = self.wheel.to_path_buf();
        let path = path.to_path_buf();
        move |source| InstallError::Write {
            wheel,
            path,
            source,
        }
    }

    /// Create `dir` and its missing ancestors, remembering those created.
    fn mkdirs(&mut self, dir: &Path) -> Result<(), InstallError> {
        // The files of a directory mostly follow one another.
        if self.last_dir.as_deref() == Some(dir) || self.made_dirs.contains(dir) {
            return Ok(());
        }
        self.make_dir(dir)?;
        self.made_dirs.insert(dir.to_path_buf());
        self.last_dir = Some(dir.to_path_buf());
        Ok(())
    }

    /// `create_dir_all`, asking first with one `mkdir` (in a new venv the parent mostly
    /// exists) and recording the directories it created, ancestors first.
    fn make_dir(&mut self, dir: &Path) -> Result<(), InstallError> {
        let first = match self.bases.create_dir(dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => e,
            other => return self.made(dir, other),
        };
        match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(parent) if !self.made_dirs.contains(parent) => {
                self.make_dir(parent)?;
                self.made_dirs.insert(parent.to_path_buf());
            }
            Some(_) => {}
            None => return Err(self.err(dir)(first)),
        }
        let again = self.bases.create_dir(dir);
        self.made(dir, again)
    }

    /// The outcome of one `mkdir` of `dir`: an existing directory is as good.
    fn made(&mut self, dir: &Path, outcome: std::io::Result<()>) -> Result<(), InstallError> {
        match outcome {
            Ok(()) => {
                self.created_dirs.push(dir.to_path_buf());
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
            Err(e) => Err(self.err(dir)(e)),
        }
    }

    /// Write `content` to `dest` through a temporary file and a rename; its size.
    fn write(
        &mut self,
        dest: &Path,
        content: &[u8],
        executable: bool,
    ) -> Result<u64, InstallError> {
        let parent = dest
            .parent()
            .ok_or_else(|| self.err(dest)(std::io::ErrorKind::InvalidInput.into()))?;
        self.mkdirs(parent)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".sanctuary-")
            .tempfile_in(parent)
            .map_err(self.err(dest))?;
        tmp.write_all(content).map_err(self.err(dest))?;
        tmp.as_file().flush().map_err(self.err(dest))?;
        set_mode(tmp.as_file(), executable).map_err(self.err(dest))?;
        let existed = dest.exists();
        tmp.persist(dest).map_err(|e| self.err(dest)(e.error))?;
        if !existed {
            self.created_files.push(dest.to_path_buf());
        }
        Ok(content.len() as u64)
    }

    /// Put `source` (an unpacked file) at `dest`: a hard link when `mode` allows and the
    /// file system can, else a copy; through a temporary name and a rename when `dest`
    /// exists, so it is replaced whole.
    fn place(
        &mut self,
        (source, rel): (&Path, &str),
        dest: &Path,
        mode: LinkMode,
    ) -> Result<(), InstallError> {
        let parent = dest
            .parent()
            .ok_or_else(|| self.err(dest)(std::io::ErrorKind::InvalidInput.into()))?;
        self.mkdirs(parent)?;
        super::failpoint::hit("place-file");
        if mode == LinkMode::Hardlink {
            match self.bases.hard_link((source, rel), dest) {
                Ok(()) => {
                    self.created_files.push(dest.to_path_buf());
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let tmp = temp_name(parent);
                    if std::fs::hard_link(source, &tmp).is_ok() {
                        return std::fs::rename(&tmp, dest).map_err(|e| {
                            let _ = std::fs::remove_file(&tmp);
                            self.err(dest)(e)
                        });
                    }
                }
                // Another file system, too many links, no permission: copy instead.
                Err(_) => {}
            }
        }
        let existed = dest.symlink_metadata().is_ok();
        let tmp = temp_name(parent);
        std::fs::copy(source, &tmp).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.err(dest)(e)
        })?;
        std::fs::rename(&tmp, dest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            self.err(dest)(e)
        })?;
        if !existed {
            self.created_files.push(dest.to_path_buf());
        }
        Ok(())
    }

    /// Remove what this install created, files first, then directories deepest first.
    fn roll_back(&mut self) {
        for f in self.created_files.drain(..).rev() {
            let _ = std::fs::remove_file(f);
        }
        for d in self.created_dirs.drain(..).rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// A fresh name in `dir` for a file about to be renamed into place.
fn temp_name(dir: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".sanctuary-{}-{n}.tmp", std::process::id()))
}

#[cfg(unix)]
fn set_mode(file: &File, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = if executable { 0o755 } else { 0o644 };
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _executable: bool) -> std::io::Result<()> {
    Ok(())
}

/// A `.data/scripts` file: a first line `#!python` or `#!pythonw` (optionally followed by
/// arguments) becomes the venv's interpreter.
fn rewrite_shebang(content: Vec<u8>, shebang: &str) -> Vec<u8> {
    let first_end = content
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(content.len());
    let first = &content[..first_end];
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let rest = first
        .strip_prefix(b"#!pythonw")
        .or_else(|| first.strip_prefix(b"#!python"));
    let Some(args) = rest.filter(|a| a.is_empty() || a[0] == b' ' || a[0] == b'\t') else {
        return content;
    };
    let mut out = shebang.as_bytes().to_vec();
    // Arguments only fit a plain `#!/path` line, not the /bin/sh trampoline.
    if !shebang.contains('\n') {
        out.extend_from_slice(args);
    }
    out.extend_from_slice(&content[first_end..]);
    if first_end == content.len() {
        out.push(b'\n');
    }
    out
}

/// One RECORD line for a file written at `dest`.
fn record_entry(dest: &Path, site_packages: &Path, digest: Vec<u8>, size: u64) -> RecordEntry {
    RecordEntry {
        path: record_path(dest, site_packages),
        hash: Some(RecordHash {
            algorithm: "sha256".to_string(),
            digest,
        }),
        size: Some(size),
    }
}

/// `dest` as `RECORD` writes it: [`relative_to`] site-packages, both normalized. Most
/// destinations are site-packages joined with plain names, whose names after it are the
/// answer (normalizing both would change neither that prefix nor those names).
fn record_path(dest: &Path, site_packages: &Path) -> String {
    if let Some(rest) = plain_below(dest, site_packages) {
        return rest.to_string();
    }
    if let Ok(rest) = dest.strip_prefix(site_packages) {
        let mut out = String::with_capacity(rest.as_os_str().len());
        let plain = rest.components().all(|c| match c {
            std::path::Component::Normal(name) => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(&name.to_string_lossy());
                true
            }
            _ => false,
        });
        if plain && !out.is_empty() {
            return out;
        }
    }
    relative_to(&normalize(dest), &normalize(site_packages))
}

/// `path` below `base` when it is `base`, a `/` and `/`-separated plain names (no empty,
/// `.` or `..` one), as the venv's destinations are built: the names, found by comparing
/// bytes (then the components of both would say the same) rather than parsing components,
/// thousands of times a sync.
#[cfg(unix)]
fn plain_below<'p>(path: &'p Path, base: &Path) -> Option<&'p str> {
    let rest = path
        .as_os_str()
        .as_encoded_bytes()
        .strip_prefix(base.as_os_str().as_encoded_bytes())?
        .strip_prefix(b"/")?;
    let rest = std::str::from_utf8(rest).ok()?;
    let plain = !rest.is_empty()
        && rest
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    plain.then_some(rest)
}

#[cfg(not(unix))]
fn plain_below<'p>(_path: &'p Path, _base: &Path) -> Option<&'p str> {
    None
}

/// Append `path,sha256=...,size` with CSV quoting of the path when needed.
fn push_record_line(out: &mut String, e: &RecordEntry) {
    use std::fmt::Write as _;
    if e.path.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&e.path.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&e.path);
    }
    out.push(',');
    if let Some(hash) = &e.hash {
        out.push_str(&hash.algorithm);
        out.push('=');
        out.push_str(&b64_urlsafe_encode(&hash.digest));
    }
    out.push(',');
    if let Some(size) = e.size {
        // Writing into a String cannot fail.
        let _ = write!(out, "{size}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `RECORD` path of a destination is `relative_to` site-packages of both normalized,
    /// whichever way it is found.
    #[test]
    fn record_paths_are_relative_to_site_packages_normalized() {
        let site = Path::new("/v/lib/python3.12/site-packages");
        for (dest, want) in [
            (
                "/v/lib/python3.12/site-packages/demo/__init__.py",
                "demo/__init__.py",
            ),
            (
                "/v/lib/python3.12/site-packages/demo-1.0.dist-info/RECORD",
                "demo-1.0.dist-info/RECORD",
            ),
            ("/v/bin/demo", "../../../bin/demo"),
            (
                "/v/lib/python3.12/site-packages-evil/x",
                "../site-packages-evil/x",
            ),
            ("/v/lib/python3.12/site-packages/./demo/x.py", "demo/x.py"),
            (
                "/v/lib/python3.12/site-packages/demo/../other.py",
                "other.py",
            ),
        ] {
            let dest = Path::new(dest);
            assert_eq!(record_path(dest, site), want, "{}", dest.display());
            assert_eq!(
                record_path(dest, site),
                relative_to(&normalize(dest), &normalize(site))
            );
        }
        let odd = Path::new("/v/x/../lib/python3.12/site-packages");
        let dest = odd.join("demo").join("a.py");
        assert_eq!(record_path(&dest, odd), "demo/a.py");
    }
}
