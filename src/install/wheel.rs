//! Installing one wheel (the binary distribution format, PEP 427) into a [`Venv`].
//!
//! Two phases. **Plan** reads the whole archive and refuses it, with nothing written, when
//! an entry's name is unsafe (`..`, absolute, `\`, `:` / drive letters, NUL), two entries land
//! on the same file, a local file header disagrees with the central directory (name,
//! method, CRC, sizes), an entry fails its CRC or its declared size, a file's sha256 differs
//! from the wheel's `RECORD` (or it is missing from it), `WHEEL` is absent or of an
//! unsupported major version, an existing directory on the way is a symlink leading out of
//! the venv, or an entry point is refused (see [`super::entry_points`]).
//! **Write** then copies each file to its scheme directory through a temporary file in the
//! destination directory and a rename, rewrites `#!python` shebangs of `.data/scripts`,
//! writes the entry-point launchers, `INSTALLER` and, last, a fresh `RECORD` (its presence
//! marks a complete install). An I/O error while writing removes the files this install
//! created; files it overwrote stay overwritten.
//!
//! The dist-info and `.data` directories are found in the archive (`<name>-<version>`); an
//! existing install of the same distribution is not removed here (that is `sync`'s job,
//! through [`super::uninstall`]).

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::entry_points::{self, EntryPointError};
use super::{Venv, relative_to};
use crate::environment::parse::{RecordEntry, RecordHash, b64_urlsafe_encode, parse_record};

/// Choices of an installation.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// Check every file against the wheel's own `RECORD` (sha256), refusing the wheel on a
    /// mismatch or an unlisted file. On by default.
    pub verify_record: bool,
    /// Written to `INSTALLER`.
    pub installer: String,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            verify_record: true,
            installer: "sanctuary".to_string(),
        }
    }
}

/// What an installation wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledRecord {
    /// `<name>-<version>` as the dist-info directory spells it.
    pub name: String,
    pub version: String,
    /// The installed `*.dist-info` directory.
    pub dist_info: PathBuf,
    /// The `RECORD` written, in its order (RECORD itself last, without hash).
    pub record: Vec<RecordEntry>,
    /// Scripts and launchers written to `bin`.
    pub scripts: Vec<PathBuf>,
}

/// A wheel cannot be installed. Every variant names the wheel; those about one archive
/// entry name it too.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot read wheel {}", wheel.display())]
    Read {
        wheel: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid zip archive", wheel.display())]
    Zip {
        wheel: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{}: entry `{entry}` is refused: {reason}", wheel.display())]
    UnsafePath {
        wheel: PathBuf,
        entry: String,
        reason: &'static str,
    },
    #[error("{}: entries `{first}` and `{entry}` both install {}", wheel.display(), dest.display())]
    Duplicate {
        wheel: PathBuf,
        first: String,
        entry: String,
        dest: PathBuf,
    },
    #[error("{}: entry `{entry}`: the local file header disagrees with the central directory ({field})", wheel.display())]
    HeaderMismatch {
        wheel: PathBuf,
        entry: String,
        field: &'static str,
    },
    #[error("{}: entry `{entry}` is corrupt", wheel.display())]
    Corrupt {
        wheel: PathBuf,
        entry: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", wheel.display())]
    Layout { wheel: PathBuf, message: String },
    #[error("{}: entry `{entry}` {message}", wheel.display())]
    Record {
        wheel: PathBuf,
        entry: String,
        message: String,
    },
    #[error("{}: entry_points.txt", wheel.display())]
    EntryPoint {
        wheel: PathBuf,
        #[source]
        source: EntryPointError,
    },
    #[error("{}: cannot write {}", wheel.display(), path.display())]
    Write {
        wheel: PathBuf,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where one archive file goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Copied as is.
    Plain,
    /// `.data/scripts`: `#!python` rewritten, always executable.
    Script,
}

#[derive(Debug)]
struct Planned {
    index: usize,
    entry: String,
    dest: PathBuf,
    kind: Kind,
    executable: bool,
}

/// Install the wheel at `wheel_path` into `venv`. See the module documentation for what is
/// checked before anything is written.
pub fn install(
    wheel_path: &Path,
    venv: &Venv,
    options: &InstallOptions,
) -> Result<InstalledRecord, InstallError> {
    let wheel = wheel_path.to_path_buf();
    let read_err = |source| InstallError::Read {
        wheel: wheel.clone(),
        source,
    };
    let zip_err = |source| InstallError::Zip {
        wheel: wheel.clone(),
        source,
    };
    let file = File::open(wheel_path).map_err(read_err)?;
    let mut raw = File::open(wheel_path).map_err(read_err)?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_err)?;

    // Names first: all must be safe before the layout is inferred from them.
    let mut names: Vec<(usize, String, Vec<String>)> = Vec::new();
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(zip_err)?;
        let name_raw = entry.name_raw().to_vec();
        let name = String::from_utf8_lossy(&name_raw).into_owned();
        let unsafe_path = |reason| InstallError::UnsafePath {
            wheel: wheel.clone(),
            entry: name.clone(),
            reason,
        };
        let text = std::str::from_utf8(&name_raw).map_err(|_| unsafe_path("not UTF-8"))?;
        let parts = check_entry_name(text).map_err(unsafe_path)?;
        let header = LocalHeader {
            start: entry.header_start(),
            name: &name_raw,
            method: entry.compression(),
            crc32: entry.crc32(),
            compressed: entry.compressed_size(),
            size: entry.size(),
        };
        if let Err(field) = header.check(&mut raw) {
            return Err(InstallError::HeaderMismatch {
                wheel: wheel.clone(),
                entry: name,
                field,
            });
        }
        if entry.is_dir() || name.ends_with('/') {
            continue;
        }
        names.push((index, name, parts));
    }

    // The one `<name>-<version>.dist-info` directory at the top.
    let dist_infos: BTreeSet<&str> = names
        .iter()
        .filter(|(_, _, p)| p.len() > 1 && p[0].ends_with(".dist-info"))
        .map(|(_, _, p)| p[0].as_str())
        .collect();
    let layout = |message: String| InstallError::Layout {
        wheel: wheel.clone(),
        message,
    };
    let dist_info = match dist_infos.len() {
        1 => dist_infos
            .iter()
            .next()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        0 => return Err(layout("no .dist-info directory".to_string())),
        _ => {
            return Err(layout(format!(
                "several .dist-info directories: {}",
                dist_infos.into_iter().collect::<Vec<_>>().join(", ")
            )));
        }
    };
    let stem = dist_info.trim_end_matches(".dist-info").to_string();
    let (dist_name, dist_version) = stem
        .rsplit_once('-')
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .ok_or_else(|| layout(format!("`{dist_info}` is not `<name>-<version>.dist-info`")))?;
    let data_dir = format!("{stem}.data");

    // Where every file goes, refusing two entries on one destination.
    let real_root = std::fs::canonicalize(&venv.root).map_err(|source| InstallError::Write {
        wheel: wheel.clone(),
        path: venv.root.clone(),
        source,
    })?;
    let mut planned: Vec<Planned> = Vec::new();
    let mut seen: HashMap<PathBuf, String> = HashMap::new();
    let mut small: HashMap<String, Vec<u8>> = HashMap::new();
    for (index, name, parts) in &names {
        let unsafe_path = |reason| InstallError::UnsafePath {
            wheel: wheel.clone(),
            entry: name.clone(),
            reason,
        };
        let in_dist_info = parts[0] == dist_info;
        if in_dist_info && parts.len() == 2 {
            let file = parts[1].as_str();
            if matches!(file, "WHEEL" | "RECORD" | "entry_points.txt") {
                small.insert(file.to_string(), Vec::new());
            }
            // Replaced by ours (signatures signed the wheel's RECORD, not ours).
            if matches!(file, "RECORD" | "RECORD.jws" | "RECORD.p7s" | "INSTALLER") {
                continue;
            }
        }
        let (root, rest, kind) = if parts[0] == data_dir {
            let key = parts.get(1).map(String::as_str).unwrap_or_default();
            let rest = &parts[2.min(parts.len())..];
            if rest.is_empty() {
                return Err(unsafe_path("a file directly in the .data directory"));
            }
            match key {
                "purelib" | "platlib" => (venv.site_packages.clone(), rest, Kind::Plain),
                "scripts" => (venv.bin.clone(), rest, Kind::Script),
                "headers" => (venv.headers.join(&dist_name), rest, Kind::Plain),
                "data" => (venv.data.clone(), rest, Kind::Plain),
                _ => return Err(unsafe_path("an unknown .data scheme key")),
            }
        } else if parts[0].ends_with(".data") && parts.len() > 1 {
            return Err(unsafe_path(
                "a .data directory not named after the dist-info",
            ));
        } else {
            (venv.site_packages.clone(), &parts[..], Kind::Plain)
        };
        let dest = rest.iter().fold(root.clone(), |p, c| p.join(c));
        // Defense in depth: by components, never by string prefix.
        if !dest.starts_with(&root) || dest == root {
            return Err(unsafe_path("it leaves its destination directory"));
        }
        if !resolves_inside(&dest, &real_root) {
            return Err(unsafe_path(
                "its destination directory is a symlink leading out of the venv",
            ));
        }
        if let Some(first) = seen.insert(dest.clone(), name.clone()) {
            return Err(InstallError::Duplicate {
                wheel: wheel.clone(),
                first,
                entry: name.clone(),
                dest,
            });
        }
        let executable = {
            let entry = archive.by_index_raw(*index).map_err(zip_err)?;
            entry.unix_mode().is_some_and(|m| m & 0o111 != 0)
        };
        planned.push(Planned {
            index: *index,
            entry: name.clone(),
            dest,
            kind,
            executable: executable || kind == Kind::Script,
        });
    }

    // Read every entry to its end: the zip crate checks the CRC there; we check the size and
    // hash for RECORD.
    let mut digests: HashMap<String, (Vec<u8>, u64)> = HashMap::new();
    for (index, name, parts) in &names {
        let corrupt = |source| InstallError::Corrupt {
            wheel: wheel.clone(),
            entry: name.clone(),
            source,
        };
        let mut entry = archive.by_index(*index).map_err(zip_err)?;
        let expected_size = entry.size();
        let keep = parts.len() == 2 && parts[0] == dist_info && small.contains_key(&parts[1]);
        let mut kept = Vec::new();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(corrupt(e)),
            };
            hasher.update(&buf[..n]);
            size += n as u64;
            if keep {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        if size != expected_size {
            return Err(corrupt(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{size} bytes, the central directory says {expected_size}"),
            )));
        }
        if keep {
            small.insert(parts[1].clone(), kept);
        }
        digests.insert(name.clone(), (hasher.finalize().to_vec(), size));
    }

    check_wheel_file(small.get("WHEEL"), &layout)?;
    if options.verify_record {
        let record = small
            .get("RECORD")
            .ok_or_else(|| layout(format!("no {dist_info}/RECORD")))?;
        check_record(&wheel, &dist_info, record, &digests)?;
    }
    let launchers = match small.get("entry_points.txt") {
        Some(text) => entry_points::parse(&String::from_utf8_lossy(text)).map_err(|source| {
            InstallError::EntryPoint {
                wheel: wheel.clone(),
                source,
            }
        })?,
        None => Vec::new(),
    };
    for ep in &launchers {
        let dest = venv.bin.join(&ep.name);
        if let Some(first) = seen.insert(dest.clone(), ep.name.clone()) {
            return Err(InstallError::Duplicate {
                wheel: wheel.clone(),
                first,
                entry: format!("entry_points.txt: {}", ep.name),
                dest,
            });
        }
    }

    // Everything checked: write.
    let mut writer = Writer {
        wheel: &wheel,
        created_files: Vec::new(),
        created_dirs: Vec::new(),
    };
    match write_all(
        &mut writer,
        &mut archive,
        &planned,
        &launchers,
        venv,
        options,
        &dist_info,
    ) {
        Ok((record, scripts)) => Ok(InstalledRecord {
            name: dist_name,
            version: dist_version,
            dist_info: venv.site_packages.join(&dist_info),
            record,
            scripts,
        }),
        Err(e) => {
            writer.roll_back();
            Err(e)
        }
    }
}

/// Check an archive entry name; its components (`.` and empty ones dropped) if safe.
fn check_entry_name(name: &str) -> Result<Vec<String>, &'static str> {
    if name.is_empty() {
        return Err("empty name");
    }
    if name.contains('\\') {
        return Err("it contains a backslash");
    }
    if name.contains('\0') {
        return Err("it contains a NUL");
    }
    if name.starts_with('/') {
        return Err("it is an absolute path");
    }
    if name.contains(':') {
        return Err("it contains `:` (a drive letter or stream name)");
    }
    let parts: Vec<String> = name
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
        .collect();
    if parts.iter().any(|p| p == "..") {
        return Err("it contains a `..` component");
    }
    if parts.is_empty() {
        return Err("it names no file");
    }
    Ok(parts)
}

/// Whether the deepest existing ancestor of `dest`'s directory, symlinks resolved, is inside
/// `real_root` (itself canonical). `dest` itself may be a symlink: the rename replaces it.
fn resolves_inside(dest: &Path, real_root: &Path) -> bool {
    let mut dir = dest.parent();
    while let Some(d) = dir {
        if d.symlink_metadata().is_ok() {
            return std::fs::canonicalize(d).is_ok_and(|real| real.starts_with(real_root));
        }
        dir = d.parent();
    }
    false
}

/// What the central directory says of one entry, to compare with its local header.
struct LocalHeader<'a> {
    start: u64,
    name: &'a [u8],
    method: zip::CompressionMethod,
    crc32: u32,
    compressed: u64,
    size: u64,
}

impl LocalHeader<'_> {
    /// Read the local file header at `start`; the first field that disagrees.
    fn check(&self, raw: &mut File) -> Result<(), &'static str> {
        let mut fixed = [0u8; 30];
        raw.seek(SeekFrom::Start(self.start))
            .and_then(|_| raw.read_exact(&mut fixed))
            .map_err(|_| "unreadable local header")?;
        let u16_at = |i: usize| u16::from_le_bytes([fixed[i], fixed[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
        if u32_at(0) != 0x0403_4b50 {
            return Err("signature");
        }
        let flags = u16_at(6);
        #[allow(deprecated)]
        let method = zip::CompressionMethod::from_u16(u16_at(8));
        if method != self.method {
            return Err("compression method");
        }
        let name_len = usize::from(u16_at(26));
        let mut name = vec![0u8; name_len];
        raw.read_exact(&mut name)
            .map_err(|_| "unreadable local header")?;
        if name != self.name {
            return Err("file name");
        }
        // With a data descriptor (flag bit 3) the local CRC and sizes are zero.
        if flags & 0x08 == 0 {
            if u32_at(14) != self.crc32 {
                return Err("CRC-32");
            }
            let (compressed, size) = (u32_at(18), u32_at(22));
            // 0xFFFFFFFF: the sizes are in the zip64 extra field.
            if compressed != u32::MAX && u64::from(compressed) != self.compressed {
                return Err("compressed size");
            }
            if size != u32::MAX && u64::from(size) != self.size {
                return Err("uncompressed size");
            }
        }
        Ok(())
    }
}

/// `WHEEL` must exist and say `Wheel-Version: 1.x`.
fn check_wheel_file(
    wheel_file: Option<&Vec<u8>>,
    layout: &impl Fn(String) -> InstallError,
) -> Result<(), InstallError> {
    let text = wheel_file.ok_or_else(|| layout("no WHEEL file in the dist-info".to_string()))?;
    let text = String::from_utf8_lossy(text);
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("Wheel-Version:"))
        .map(str::trim)
        .ok_or_else(|| layout("WHEEL has no Wheel-Version".to_string()))?;
    if version.split('.').next() != Some("1") {
        return Err(layout(format!("unsupported Wheel-Version {version}")));
    }
    Ok(())
}

/// Every file but RECORD and its signatures is listed in the wheel's RECORD with a
/// matching sha256 (other algorithms are accepted unchecked) and size.
fn check_record(
    wheel: &Path,
    dist_info: &str,
    record: &[u8],
    digests: &HashMap<String, (Vec<u8>, u64)>,
) -> Result<(), InstallError> {
    let record_err = |entry: &str, message: String| InstallError::Record {
        wheel: wheel.to_path_buf(),
        entry: entry.to_string(),
        message,
    };
    let entries = parse_record(&String::from_utf8_lossy(record))
        .map_err(|e| record_err(&format!("{dist_info}/RECORD"), e.to_string()))?;
    let listed: HashMap<&str, &RecordEntry> =
        entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let mut names: Vec<&String> = digests.keys().collect();
    names.sort();
    for name in names {
        let tail = name
            .strip_prefix(dist_info)
            .and_then(|t| t.strip_prefix('/'))
            .unwrap_or_default();
        if !matches!(tail, "RECORD" | "RECORD.jws" | "RECORD.p7s") {
            check_one(name, &listed, digests, &record_err)?;
        }
    }
    Ok(())
}

fn check_one(
    name: &str,
    listed: &HashMap<&str, &RecordEntry>,
    digests: &HashMap<String, (Vec<u8>, u64)>,
    record_err: &impl Fn(&str, String) -> InstallError,
) -> Result<(), InstallError> {
    let Some((digest, size)) = digests.get(name) else {
        return Ok(());
    };
    let entry = listed
        .get(name)
        .ok_or_else(|| record_err(name, "is not listed in the wheel's RECORD".to_string()))?;
    match &entry.hash {
        Some(h) if h.algorithm == "sha256" && &h.digest != digest => Err(record_err(
            name,
            format!(
                "has sha256={}, the wheel's RECORD says {}",
                b64_urlsafe_encode(digest),
                h.to_record()
            ),
        )),
        None => Err(record_err(
            name,
            "has no hash in the wheel's RECORD".to_string(),
        )),
        _ if entry.size.is_some_and(|s| s != *size) => Err(record_err(
            name,
            format!("is {size} bytes, the wheel's RECORD says {:?}", entry.size),
        )),
        _ => Ok(()),
    }
}

/// The write phase: what it created, to roll back on failure.
struct Writer<'a> {
    wheel: &'a Path,
    created_files: Vec<PathBuf>,
    created_dirs: Vec<PathBuf>,
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
        let mut missing = Vec::new();
        let mut d = dir;
        while !d.exists() {
            missing.push(d.to_path_buf());
            match d.parent() {
                Some(p) => d = p,
                None => break,
            }
        }
        std::fs::create_dir_all(dir).map_err(self.err(dir))?;
        self.created_dirs.extend(missing.into_iter().rev());
        Ok(())
    }

    /// Write `dest` from `source` through a temporary file and a rename; the sha256 and
    /// size of what was written.
    fn write(
        &mut self,
        dest: &Path,
        source: &mut dyn Read,
        executable: bool,
    ) -> Result<(Vec<u8>, u64), InstallError> {
        let parent = dest
            .parent()
            .ok_or_else(|| self.err(dest)(std::io::ErrorKind::InvalidInput.into()))?;
        self.mkdirs(parent)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".sanctuary-")
            .tempfile_in(parent)
            .map_err(self.err(dest))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.err(dest)(e)),
            };
            hasher.update(&buf[..n]);
            size += n as u64;
            tmp.write_all(&buf[..n]).map_err(self.err(dest))?;
        }
        tmp.as_file().flush().map_err(self.err(dest))?;
        set_mode(tmp.as_file(), executable).map_err(self.err(dest))?;
        let existed = dest.exists();
        tmp.persist(dest).map_err(|e| self.err(dest)(e.error))?;
        if !existed {
            self.created_files.push(dest.to_path_buf());
        }
        Ok((hasher.finalize().to_vec(), size))
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
        path: relative_to(dest, site_packages),
        hash: Some(RecordHash {
            algorithm: "sha256".to_string(),
            digest,
        }),
        size: Some(size),
    }
}

#[allow(clippy::too_many_arguments)]
fn write_all(
    w: &mut Writer,
    archive: &mut zip::ZipArchive<File>,
    planned: &[Planned],
    launchers: &[entry_points::EntryPoint],
    venv: &Venv,
    options: &InstallOptions,
    dist_info: &str,
) -> Result<(Vec<RecordEntry>, Vec<PathBuf>), InstallError> {
    let shebang = entry_points::shebang(&venv.python);
    let site_packages = super::normalize(&venv.site_packages);
    let mut record = Vec::new();
    let mut scripts = Vec::new();
    for p in planned {
        let mut entry = archive
            .by_index(p.index)
            .map_err(|source| InstallError::Zip {
                wheel: w.wheel.to_path_buf(),
                source,
            })?;
        let (digest, size) = match p.kind {
            Kind::Plain => w.write(&p.dest, &mut entry, p.executable)?,
            Kind::Script => {
                let mut content = Vec::new();
                entry
                    .read_to_end(&mut content)
                    .map_err(|source| InstallError::Corrupt {
                        wheel: w.wheel.to_path_buf(),
                        entry: p.entry.clone(),
                        source,
                    })?;
                let content = rewrite_shebang(content, &shebang);
                scripts.push(p.dest.clone());
                w.write(&p.dest, &mut content.as_slice(), true)?
            }
        };
        record.push(record_entry(
            &super::normalize(&p.dest),
            &site_packages,
            digest,
            size,
        ));
    }
    for ep in launchers {
        let dest = venv.bin.join(&ep.name);
        let text = entry_points::launcher(ep, &shebang);
        let (digest, size) = w.write(&dest, &mut text.as_bytes(), true)?;
        record.push(record_entry(
            &super::normalize(&dest),
            &site_packages,
            digest,
            size,
        ));
        scripts.push(dest);
    }
    let dist_info_dir = venv.site_packages.join(dist_info);
    let installer = format!("{}\n", options.installer);
    let (digest, size) = w.write(
        &dist_info_dir.join("INSTALLER"),
        &mut installer.as_bytes(),
        false,
    )?;
    record.push(record_entry(
        &site_packages.join(dist_info).join("INSTALLER"),
        &site_packages,
        digest,
        size,
    ));
    record.push(RecordEntry {
        path: format!("{dist_info}/RECORD"),
        hash: None,
        size: None,
    });
    let text: String = record.iter().map(record_line).collect();
    w.write(&dist_info_dir.join("RECORD"), &mut text.as_bytes(), false)?;
    Ok((record, scripts))
}

/// `path,sha256=...,size` with CSV quoting of the path when needed.
fn record_line(e: &RecordEntry) -> String {
    let path = if e.path.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", e.path.replace('"', "\"\""))
    } else {
        e.path.clone()
    };
    let hash = e
        .hash
        .as_ref()
        .map(RecordHash::to_record)
        .unwrap_or_default();
    let size = e.size.map(|s| s.to_string()).unwrap_or_default();
    format!("{path},{hash},{size}\n")
}
