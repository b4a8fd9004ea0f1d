//! Reading an sdist archive, which is untrusted input: [`unpack`] extracts it, and
//! [`read_static_files`] reads its `PKG-INFO` and `pyproject.toml` without writing anything.
//!
//! Both see the archive through the same rules (see `tree`): one top-level directory and
//! nothing else at the top, no absolute or `..` names, no backslash, `:` or NUL, no path
//! twice, parents that are directories of the archive itself, symlinks that stay inside the
//! tree, hard links only to files listed earlier, no device, FIFO or sparse file, and the
//! [`Limits`]. A `.tar.gz` is also held to what Python's `tarfile` (and so pip) would read
//! (see `tarball`); a `.zip` to the structure checks wheels get ([`crate::install::archive`]).
//!
//! Extraction writes only below `dest`, never through a symlink: every member's parents are
//! directories this extraction created, every file, directory and link is created new (never
//! opened if it exists), files get `0o644`, or `0o755` when the archive gives any execute
//! bit, and directories `0o755` (the umask applies, as it does for pip); setuid, setgid and
//! sticky bits, owners and times are never kept. Symlinks that stay inside the tree are
//! created as they are (sdists carry a few, e.g. a `README` pointing at `docs/`); a hard link
//! becomes a copy of the file it names. [`read_static_files`] reads a `PKG-INFO` or
//! `pyproject.toml` held as a link from the member the link names, in a second pass.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use super::SdistError;
use super::tree::{Action, Admitted, EntryKind, Tree, refuse, shown};
use super::{tarball, zipfile};
use crate::install::wheel::check_entry_name;

/// The most a `PKG-INFO` read by [`read_static_files`] may hold.
pub const MAX_PKG_INFO_BYTES: u64 = 16 << 20;
/// The most a `pyproject.toml` read by [`read_static_files`] may hold.
pub const MAX_PYPROJECT_BYTES: u64 = 4 << 20;

/// How much an sdist may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// All files together (a hard link counts as the copy it becomes).
    pub max_bytes: u64,
    /// Members of the archive, directories and links included.
    pub max_entries: u64,
    /// One file.
    pub max_file_bytes: u64,
    /// The decompressed stream of a `.tar.gz`, headers and members that are not extracted
    /// included: a compression bomb stops here whatever its headers say.
    pub max_decompressed_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 4 << 30,
            max_entries: 200_000,
            max_file_bytes: 2 << 30,
            // Room for the headers of `max_entries` members above `max_bytes`.
            max_decompressed_bytes: 5 << 30,
        }
    }
}

/// The files of an sdist read without extracting it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticFiles {
    /// `<top>/PKG-INFO`, when the archive has it.
    pub pkg_info: Option<Vec<u8>>,
    /// `<top>/pyproject.toml`, when the archive has it.
    pub pyproject: Option<Vec<u8>>,
    /// The top-level directory, normally `name-version`.
    pub top: String,
}

/// The archive formats of sdists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    TarGz,
    Zip,
}

/// The format `filename` names: `.tar.gz` (PEP 625) or the legacy `.zip`.
fn format(filename: &str) -> Result<Format, SdistError> {
    let lower = filename.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") {
        return Ok(Format::TarGz);
    }
    if lower.ends_with(".zip") {
        return Ok(Format::Zip);
    }
    let reason = [
        ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".tar.zst",
    ]
    .iter()
    .find(|ext| lower.ends_with(*ext))
    .map_or_else(
        || "not a `.tar.gz` or `.zip` file".to_string(),
        |ext| format!("`{ext}` archives are not read; sdists are `.tar.gz` (PEP 625)"),
    );
    Err(SdistError::Unsupported {
        sdist: filename.to_string(),
        reason,
    })
}

/// What consumes the members of an archive, in order; `data` is the member's contents.
pub(super) trait Visitor {
    fn visit(&mut self, name: &str, kind: EntryKind, data: &mut dyn Read)
    -> Result<(), SdistError>;
}

/// Feed every member of the archive in `reader` to `visitor`.
fn walk(
    reader: impl Read + Seek,
    filename: &str,
    limits: &Limits,
    visitor: &mut dyn Visitor,
) -> Result<(), SdistError> {
    match format(filename)? {
        Format::TarGz => tarball::walk(reader, filename, limits, visitor),
        Format::Zip => zipfile::walk(reader, filename, visitor),
    }
}

/// Extract the sdist at `archive` (its file name, for the format and messages, is
/// `filename`) into `dest`, a new or empty directory, and return the source tree: the
/// archive's top-level directory under `dest`. On an error, `dest` may hold part of the tree;
/// the caller discards it.
pub fn unpack(
    archive: &Path,
    filename: &str,
    dest: &Path,
    limits: &Limits,
) -> Result<PathBuf, SdistError> {
    let file = File::open(archive).map_err(read_error(filename))?;
    unpack_reader(file, filename, dest, limits)
}

/// [`unpack`] for an sdist held in memory.
pub fn unpack_bytes(
    bytes: &[u8],
    filename: &str,
    dest: &Path,
    limits: &Limits,
) -> Result<PathBuf, SdistError> {
    unpack_reader(std::io::Cursor::new(bytes), filename, dest, limits)
}

fn unpack_reader(
    reader: impl Read + Seek,
    filename: &str,
    dest: &Path,
    limits: &Limits,
) -> Result<PathBuf, SdistError> {
    // The format first: an unsupported archive leaves no directory behind.
    format(filename)?;
    prepare_dest(dest, filename)?;
    let mut extract = Extract {
        tree: Tree::new(filename, limits),
        dest,
        sdist: filename,
        buf: vec![0; 64 * 1024],
    };
    walk(reader, filename, limits, &mut extract)?;
    let top = top(&extract.tree, filename)?;
    Ok(dest.join(top))
}

/// Read `<top>/PKG-INFO` and `<top>/pyproject.toml` of the sdist at `archive` without
/// extracting it; every member is checked as [`unpack`] would.
pub fn read_static_files(
    archive: &Path,
    filename: &str,
    limits: &Limits,
) -> Result<StaticFiles, SdistError> {
    let file = File::open(archive).map_err(read_error(filename))?;
    read_static_reader(file, filename, limits)
}

/// [`read_static_files`] for an sdist held in memory.
pub fn read_static_files_from_bytes(
    bytes: &[u8],
    filename: &str,
    limits: &Limits,
) -> Result<StaticFiles, SdistError> {
    read_static_reader(std::io::Cursor::new(bytes), filename, limits)
}

fn read_static_reader(
    mut reader: impl Read + Seek,
    filename: &str,
    limits: &Limits,
) -> Result<StaticFiles, SdistError> {
    let mut statics = ReadStatic {
        tree: Tree::new(filename, limits),
        files: [None, None],
        links: [None, None],
    };
    walk(&mut reader, filename, limits, &mut statics)?;
    let top = top(&statics.tree, filename)?.to_string();
    let ReadStatic {
        tree,
        mut files,
        links,
    } = statics;
    // A file held as a link is read from the member it names, in a second pass.
    let mut wanted = Vec::new();
    for (which, link) in links.into_iter().enumerate() {
        if let Some((name, source)) = link {
            if tree.file_size(&source).is_none() {
                let reason = format!(
                    "a link to `{}`, which is not a file of the archive",
                    shown(&source.join("/"))
                );
                return Err(tree.refuse(&name, reason));
            }
            wanted.push((which, name, source.join("/")));
        }
    }
    if !wanted.is_empty() {
        reader
            .seek(std::io::SeekFrom::Start(0))
            .map_err(read_error(filename))?;
        let mut linked = ReadLinked {
            sdist: filename,
            wanted,
            files: &mut files,
        };
        walk(&mut reader, filename, limits, &mut linked)?;
    }
    let [pkg_info, pyproject] = files;
    Ok(StaticFiles {
        pkg_info,
        pyproject,
        top,
    })
}

fn top<'t>(tree: &'t Tree<'_>, filename: &str) -> Result<&'t str, SdistError> {
    tree.top().ok_or_else(|| SdistError::Archive {
        sdist: filename.to_string(),
        reason: "the archive is empty".to_string(),
    })
}

fn read_error(sdist: &str) -> impl Fn(std::io::Error) -> SdistError + '_ {
    move |source| SdistError::Read {
        sdist: sdist.to_string(),
        source,
    }
}

fn write_error(sdist: &str, path: PathBuf) -> impl FnOnce(std::io::Error) -> SdistError + '_ {
    move |source| SdistError::Write {
        sdist: sdist.to_string(),
        path,
        source,
    }
}

/// `dest` exists as an empty directory (not a symlink to one) or is created.
fn prepare_dest(dest: &Path, sdist: &str) -> Result<(), SdistError> {
    let refused = || SdistError::Destination {
        sdist: sdist.to_string(),
        path: dest.to_path_buf(),
    };
    match std::fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_dir() => {
            let mut entries =
                std::fs::read_dir(dest).map_err(write_error(sdist, dest.to_path_buf()))?;
            match entries.next() {
                None => Ok(()),
                Some(_) => Err(refused()),
            }
        }
        Ok(_) => Err(refused()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dest).map_err(write_error(sdist, dest.to_path_buf()))
        }
        Err(err) => Err(write_error(sdist, dest.to_path_buf())(err)),
    }
}

/// The [`Visitor`] of [`unpack`].
struct Extract<'a> {
    tree: Tree<'a>,
    dest: &'a Path,
    sdist: &'a str,
    /// The buffer files are copied through.
    buf: Vec<u8>,
}

impl Extract<'_> {
    fn path(&self, parts: &[String]) -> PathBuf {
        let mut path = self.dest.to_path_buf();
        path.extend(parts);
        path
    }

    fn create(
        &mut self,
        name: &str,
        admitted: Admitted,
        data: &mut dyn Read,
    ) -> Result<(), SdistError> {
        for dir in &admitted.new_dirs {
            let path = self.path(dir);
            create_dir(&path).map_err(write_error(self.sdist, path))?;
        }
        let path = self.path(&admitted.parts);
        match admitted.action {
            Action::Dir { exists: true } => Ok(()),
            Action::Dir { exists: false } => {
                create_dir(&path).map_err(write_error(self.sdist, path))
            }
            Action::File { size, executable } => {
                let mut file = create_file(&path, executable)
                    .map_err(write_error(self.sdist, path.clone()))?;
                self.copy(name, data, &mut file, &path, size)
            }
            Action::Copy {
                source,
                size,
                executable,
            } => {
                let source = self.path(&source);
                let mut from = File::open(&source).map_err(write_error(self.sdist, source))?;
                let mut file = create_file(&path, executable)
                    .map_err(write_error(self.sdist, path.clone()))?;
                self.copy(name, &mut from, &mut file, &path, size)
            }
            Action::Symlink(target) => create_symlink(&target, &path)
                .map_err(|source| self.symlink_error(name, path, source)),
        }
    }

    /// Copy exactly `size` bytes of `data` to `file`: a member longer or shorter than its
    /// header says is refused.
    fn copy(
        &mut self,
        name: &str,
        data: &mut dyn Read,
        file: &mut File,
        path: &Path,
        size: u64,
    ) -> Result<(), SdistError> {
        let mut written = 0u64;
        let mut limited = data.take(size.saturating_add(1));
        loop {
            let n = limited
                .read(&mut self.buf)
                .map_err(read_error(self.sdist))?;
            if n == 0 {
                break;
            }
            written += n as u64;
            if written > size {
                return Err(refuse(
                    self.sdist,
                    name,
                    format!("more data than the {size} bytes its header declares"),
                ));
            }
            file.write_all(&self.buf[..n])
                .map_err(write_error(self.sdist, path.to_path_buf()))?;
        }
        if written < size {
            return Err(refuse(
                self.sdist,
                name,
                format!("{written} bytes of the {size} its header declares"),
            ));
        }
        Ok(())
    }

    fn symlink_error(&self, name: &str, path: PathBuf, source: std::io::Error) -> SdistError {
        if source.kind() == std::io::ErrorKind::Unsupported {
            refuse(
                self.sdist,
                name,
                "symlinks are not supported on this platform",
            )
        } else {
            write_error(self.sdist, path)(source)
        }
    }
}

impl Visitor for Extract<'_> {
    fn visit(
        &mut self,
        name: &str,
        kind: EntryKind,
        data: &mut dyn Read,
    ) -> Result<(), SdistError> {
        match self.tree.admit(name, kind)? {
            Some(admitted) => self.create(name, admitted, data),
            None => Ok(()),
        }
    }
}

/// A new directory, `0o755` less the umask; one that exists (a link included) is an error.
fn create_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o755);
    }
    builder.create(path)
}

/// A new file, `0o644` or `0o755` less the umask; one that exists (a dangling symlink
/// included) is an error, and none is followed.
fn create_file(path: &Path, executable: bool) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if executable { 0o755 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = executable;
    options.open(path)
}

#[cfg(unix)]
fn create_symlink(target: &str, path: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, path)
}

#[cfg(not(unix))]
fn create_symlink(_target: &str, _path: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// The files [`read_static_files`] reads, as indexes into its arrays.
const PKG_INFO: usize = 0;
const PYPROJECT: usize = 1;

/// The index and cap of `<top>/{file}`, if it is one [`read_static_files`] reads.
fn static_file(file: &str) -> Option<(usize, u64)> {
    match file {
        "PKG-INFO" => Some((PKG_INFO, MAX_PKG_INFO_BYTES)),
        "pyproject.toml" => Some((PYPROJECT, MAX_PYPROJECT_BYTES)),
        _ => None,
    }
}

/// The first [`Visitor`] of [`read_static_files`]: every member checked, the files read.
struct ReadStatic<'a> {
    tree: Tree<'a>,
    files: [Option<Vec<u8>>; 2],
    /// A file held as a link: the link's name and the components of the member it names.
    links: [Option<(String, Vec<String>)>; 2],
}

impl Visitor for ReadStatic<'_> {
    fn visit(
        &mut self,
        name: &str,
        kind: EntryKind,
        data: &mut dyn Read,
    ) -> Result<(), SdistError> {
        let Some(admitted) = self.tree.admit(name, kind)? else {
            return Ok(());
        };
        let [_, file] = admitted.parts.as_slice() else {
            return Ok(());
        };
        let Some((which, cap)) = static_file(file) else {
            return Ok(());
        };
        match admitted.action {
            Action::File { size, .. } => {
                self.files[which] = Some(read_capped(self.tree.sdist(), name, data, size, cap)?);
            }
            Action::Dir { .. } => {}
            Action::Copy { source, .. } => self.links[which] = Some((name.to_string(), source)),
            Action::Symlink(target) => {
                let source = resolve_symlink(&admitted.parts, &target);
                self.links[which] = Some((name.to_string(), source));
            }
        }
        Ok(())
    }
}

/// The components of what the symlink at `link` names: `target` (checked by the tree to stay
/// inside it) applied lexically to the link's directory.
fn resolve_symlink(link: &[String], target: &str) -> Vec<String> {
    let mut parts = link[..link.len().saturating_sub(1)].to_vec();
    for part in target.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            parts.pop();
        } else {
            parts.push(part.to_string());
        }
    }
    parts
}

/// The second [`Visitor`] of [`read_static_files`]: the members that links named, read into
/// the files (the archive is the one the first pass checked).
struct ReadLinked<'a, 'f> {
    sdist: &'a str,
    /// The index of the file, the link's name, and the member's path.
    wanted: Vec<(usize, String, String)>,
    files: &'f mut [Option<Vec<u8>>; 2],
}

impl Visitor for ReadLinked<'_, '_> {
    fn visit(
        &mut self,
        name: &str,
        kind: EntryKind,
        data: &mut dyn Read,
    ) -> Result<(), SdistError> {
        let EntryKind::File { size, .. } = kind else {
            return Ok(());
        };
        let Ok(parts) = check_entry_name(name) else {
            return Ok(());
        };
        let path = parts.join("/");
        for (which, link, _) in self.wanted.iter().filter(|(_, _, p)| *p == path) {
            let cap = if *which == PKG_INFO {
                MAX_PKG_INFO_BYTES
            } else {
                MAX_PYPROJECT_BYTES
            };
            self.files[*which] = Some(read_capped(self.sdist, link, data, size, cap)?);
        }
        Ok(())
    }
}

/// A member of `size` bytes, at most `cap`, read whole; `name` names it in errors.
fn read_capped(
    sdist: &str,
    name: &str,
    data: &mut dyn Read,
    size: u64,
    cap: u64,
) -> Result<Vec<u8>, SdistError> {
    if size > cap {
        return Err(refuse(
            sdist,
            name,
            format!("{size} bytes, more than the {cap} this file may hold"),
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    data.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error(sdist))?;
    if bytes.len() as u64 != size {
        return Err(refuse(
            sdist,
            name,
            format!("{} bytes where its header declares {size}", bytes.len()),
        ));
    }
    Ok(bytes)
}
