//! Installing one wheel (the binary distribution format, PEP 427) into a [`Venv`], in two
//! steps so that a wheel is checked and unpacked once and installed many times.
//!
//! [`unpack`] reads the whole archive and refuses it, with nothing kept, when an entry's
//! name is unsafe (`..`, absolute, `\`, `:` / drive letters, NUL), two entries land on the
//! same file, a local file header disagrees with the central directory (name, method, CRC,
//! sizes), an entry fails its CRC or its declared size, a file's sha256 differs from the
//! wheel's `RECORD` (or it is missing from it), `WHEEL` is absent or of an unsupported major
//! version, the `.data` directory is misused, or an entry point is refused (see
//! [`super::entry_points`]). Otherwise it leaves the files under `<dest>/files/` and what it
//! learnt (each file's sha256, size and mode) in `<dest>/unpacked.json`, built in a temporary
//! sibling and renamed into place, so a cache of unpacked wheels never holds half of one.
//! [`unpack_bytes`] does the same for a wheel held in memory.
//!
//! [`link`] installs an [`UnpackedWheel`] into a venv: it maps every file to its scheme
//! directory (purelib, platlib, scripts, headers, data), refuses destinations that leave
//! their directory or pass through a symlink leading out of the venv, then hard-links (or
//! copies, when links are impossible or [`LinkMode::Copy`] is asked for) each file into
//! place through a temporary name and a rename, rewrites `#!python` shebangs of
//! `.data/scripts`, writes the entry-point launchers, `INSTALLER`, any extra dist-info files
//! and, last, a fresh `RECORD` (its presence marks a complete install). An I/O error while
//! writing removes the files this install created; files it overwrote stay overwritten.
//!
//! [`install`] does both from a wheel file, unpacking into a temporary directory.
//!
//! The dist-info and `.data` directories are found in the archive (`<name>-<version>`); an
//! existing install of the same distribution is not removed here (that is `sync`'s job,
//! through [`super::uninstall`]).

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::entry_points::{self, EntryPointError};
use super::{Venv, relative_to};
use crate::environment::parse::{RecordEntry, RecordHash, b64_urlsafe_encode, parse_record};

/// The name prefix of the temporary directory [`unpack`] builds beside its destination.
pub(crate) const UNPACK_PREFIX: &str = ".unpack-";

/// How files reach the venv from an unpacked wheel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkMode {
    /// Hard links into the unpacked tree (a copy where a link is impossible, e.g. across
    /// file systems). Installed files then share their bytes with the cache: fast, small.
    #[default]
    Hardlink,
    /// Independent copies.
    Copy,
}

/// Choices of an installation.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// Check every file against the wheel's own `RECORD` (sha256), refusing the wheel on a
    /// mismatch or an unlisted file. On by default.
    pub verify_record: bool,
    /// Written to `INSTALLER`.
    pub installer: String,
    /// Extra files written into the dist-info directory (and listed in `RECORD`), e.g.
    /// `provenance_url.json`; `(file name, content)`.
    pub extra_dist_info: Vec<(String, Vec<u8>)>,
    pub link: LinkMode,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            verify_record: true,
            installer: "sanctuary".to_string(),
            extra_dist_info: Vec::new(),
            link: LinkMode::default(),
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

/// The file name of an unpacked wheel's description, beside its `files/` directory.
pub const UNPACKED_MANIFEST: &str = "unpacked.json";

/// Bumped when the unpacked layout or [`UnpackedWheel`] changes; older trees are unpacked
/// again.
const UNPACKED_FORMAT: u32 = 1;

/// A wheel checked and unpacked by [`unpack`]: its files under `<root>/files/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnpackedWheel {
    format: u32,
    /// The directory holding `files/` and `unpacked.json`.
    #[serde(skip)]
    pub root: PathBuf,
    /// The wheel's file name, for messages.
    pub wheel: String,
    /// `<name>-<version>.dist-info` as the archive spells it.
    pub dist_info: String,
    /// The archive's files (directories left out), in archive order.
    pub files: Vec<UnpackedFile>,
}

/// One unpacked file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnpackedFile {
    /// The archive path, normalized (`/`-separated, no `.` or empty components).
    pub path: String,
    /// Lower-case hex sha256 of the content.
    pub sha256: String,
    pub size: u64,
    pub executable: bool,
}

impl UnpackedWheel {
    /// Read the unpacked wheel at `root`, if one is complete there and of this format.
    pub fn load(root: &Path) -> Option<UnpackedWheel> {
        let text = std::fs::read(root.join(UNPACKED_MANIFEST)).ok()?;
        let mut wheel: UnpackedWheel = serde_json::from_slice(&text).ok()?;
        if wheel.format != UNPACKED_FORMAT {
            return None;
        }
        wheel.root = root.to_path_buf();
        Some(wheel)
    }

    /// The unpacked copy of the archive path `path`.
    pub fn file(&self, path: &str) -> PathBuf {
        path.split('/')
            .fold(self.root.join("files"), |p, c| p.join(c))
    }

    /// `(name, version)` from the dist-info directory's name.
    fn name_version(&self) -> (String, String) {
        let stem = self.dist_info.trim_end_matches(".dist-info");
        stem.rsplit_once('-')
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .unwrap_or_else(|| (stem.to_string(), String::new()))
    }
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
    /// Linked or copied as is.
    Plain,
    /// `.data/scripts`: `#!python` rewritten, always executable.
    Script,
}

#[derive(Debug)]
struct Planned<'a> {
    file: &'a UnpackedFile,
    dest: PathBuf,
    kind: Kind,
}

/// The `.data` scheme keys of the wheel spec.
const SCHEME_KEYS: [&str; 5] = ["purelib", "platlib", "scripts", "headers", "data"];

/// Install the wheel at `wheel_path` into `venv`: [`unpack`] into a temporary directory,
/// then [`link`] (as copies: the temporary tree goes away).
pub fn install(
    wheel_path: &Path,
    venv: &Venv,
    options: &InstallOptions,
) -> Result<InstalledRecord, InstallError> {
    let tmp = tempfile::tempdir().map_err(|source| InstallError::Read {
        wheel: wheel_path.to_path_buf(),
        source,
    })?;
    let unpacked = unpack(wheel_path, &tmp.path().join("wheel"), options.verify_record)?;
    let options = InstallOptions {
        link: LinkMode::Copy,
        ..options.clone()
    };
    link(&unpacked, venv, &options)
}

/// Check the wheel at `wheel_path` and unpack it to `dest` (which should not exist; when
/// another process unpacked it there first, that copy is returned). See the module
/// documentation for what is checked; `verify_record` checks every file against the wheel's
/// own `RECORD`.
pub fn unpack(
    wheel_path: &Path,
    dest: &Path,
    verify_record: bool,
) -> Result<UnpackedWheel, InstallError> {
    let read_err = |source| InstallError::Read {
        wheel: wheel_path.to_path_buf(),
        source,
    };
    // Buffered: the archive is read in many small pieces (headers, names, entries).
    let file = File::open(wheel_path).map_err(read_err)?;
    let raw = File::open(wheel_path).map_err(read_err)?;
    unpack_from(
        wheel_path,
        std::io::BufReader::with_capacity(256 * 1024, file),
        std::io::BufReader::new(raw),
        dest,
        verify_record,
    )
}

/// [`unpack`] for a wheel held in memory (a download that was never written to disk);
/// `wheel_name` names it in errors and in the manifest.
pub fn unpack_bytes(
    wheel_name: &Path,
    bytes: &[u8],
    dest: &Path,
    verify_record: bool,
) -> Result<UnpackedWheel, InstallError> {
    unpack_from(
        wheel_name,
        std::io::Cursor::new(bytes),
        std::io::Cursor::new(bytes),
        dest,
        verify_record,
    )
}

/// [`unpack`] from `reader`, with a second reader `raw` on the same bytes for the checks of
/// the records the zip crate reads for itself.
fn unpack_from(
    wheel_path: &Path,
    reader: impl Read + Seek,
    mut raw: impl Read + Seek,
    dest: &Path,
    verify_record: bool,
) -> Result<UnpackedWheel, InstallError> {
    let wheel = wheel_path.to_path_buf();
    let zip_err = |source| InstallError::Zip {
        wheel: wheel.clone(),
        source,
    };
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_err)?;

    // The zip crate keys entries by name, so a name the central directory lists twice would
    // silently shadow its twin: count the records ourselves.
    if let Some(name) = duplicate_record(&mut raw, archive.central_directory_start()) {
        return Err(InstallError::Duplicate {
            wheel: wheel.clone(),
            first: name.clone(),
            entry: name.clone(),
            dest: PathBuf::from(name),
        });
    }

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
    if stem.rsplit_once('-').is_none() {
        return Err(layout(format!(
            "`{dist_info}` is not `<name>-<version>.dist-info`"
        )));
    }
    let data_dir = format!("{stem}.data");

    // The `.data` directory's use, and no two entries on one normalized path.
    let mut seen: HashMap<String, String> = HashMap::new();
    for (_, name, parts) in &names {
        let unsafe_path = |reason| InstallError::UnsafePath {
            wheel: wheel.clone(),
            entry: name.clone(),
            reason,
        };
        if parts[0] == data_dir {
            match parts.get(1) {
                Some(key) if SCHEME_KEYS.contains(&key.as_str()) => {}
                _ => return Err(unsafe_path("an unknown .data scheme key")),
            }
            if parts.len() < 3 {
                return Err(unsafe_path("a file directly in the .data directory"));
            }
        } else if parts[0].ends_with(".data") && parts.len() > 1 {
            return Err(unsafe_path(
                "a .data directory not named after the dist-info",
            ));
        }
        if let Some(first) = seen.insert(parts.join("/"), name.clone()) {
            return Err(InstallError::Duplicate {
                wheel: wheel.clone(),
                first,
                entry: name.clone(),
                dest: PathBuf::from(parts.join("/")),
            });
        }
    }

    // Extract every entry to its end into a temporary sibling of `dest`: the zip crate
    // checks the CRC there; we check the size and hash for RECORD.
    let parent = dest.parent().unwrap_or(Path::new("."));
    let write_err = |path: &Path| {
        let wheel = wheel.clone();
        let path = path.to_path_buf();
        move |source| InstallError::Write {
            wheel,
            path,
            source,
        }
    };
    std::fs::create_dir_all(parent).map_err(write_err(parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(UNPACK_PREFIX)
        .tempdir_in(parent)
        .map_err(write_err(parent))?;
    let files_dir = tmp.path().join("files");
    let mut small: HashMap<String, Vec<u8>> = HashMap::new();
    let mut files: Vec<UnpackedFile> = Vec::with_capacity(names.len());
    let mut digests: HashMap<String, (Vec<u8>, u64)> = HashMap::new();
    let mut made_dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut buf = vec![0u8; 64 * 1024];
    for (index, name, parts) in &names {
        let corrupt = |source| InstallError::Corrupt {
            wheel: wheel.clone(),
            entry: name.clone(),
            source,
        };
        let mut entry = archive.by_index(*index).map_err(zip_err)?;
        let expected_size = entry.size();
        let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let keep = parts.len() == 2
            && parts[0] == dist_info
            && matches!(parts[1].as_str(), "WHEEL" | "RECORD" | "entry_points.txt");
        let path = parts.iter().fold(files_dir.clone(), |p, c| p.join(c));
        if let Some(dir) = path.parent()
            && made_dirs.insert(dir.to_path_buf())
        {
            std::fs::create_dir_all(dir).map_err(write_err(dir))?;
        }
        // One write for most files (the decompressor hands out small pieces).
        let mut out = std::io::BufWriter::with_capacity(
            usize::try_from(expected_size.clamp(4096, 1 << 20)).unwrap_or(1 << 20),
            create_file(&path, executable).map_err(write_err(&path))?,
        );
        let mut kept = Vec::new();
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(corrupt(e)),
            };
            hasher.update(&buf[..n]);
            size += n as u64;
            out.write_all(&buf[..n]).map_err(write_err(&path))?;
            if keep {
                kept.extend_from_slice(&buf[..n]);
            }
        }
        out.flush().map_err(write_err(&path))?;
        if size != expected_size {
            return Err(corrupt(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{size} bytes, the central directory says {expected_size}"),
            )));
        }
        if keep {
            small.insert(parts[1].clone(), kept);
        }
        let digest = hasher.finalize().to_vec();
        files.push(UnpackedFile {
            path: parts.join("/"),
            sha256: hex::encode(&digest),
            size,
            executable,
        });
        digests.insert(name.clone(), (digest, size));
    }

    check_wheel_file(small.get("WHEEL"), &layout)?;
    if verify_record {
        let record = small
            .get("RECORD")
            .ok_or_else(|| layout(format!("no {dist_info}/RECORD")))?;
        check_record(&wheel, &dist_info, record, &digests)?;
    }
    if let Some(text) = small.get("entry_points.txt") {
        entry_points::parse(&String::from_utf8_lossy(text)).map_err(|source| {
            InstallError::EntryPoint {
                wheel: wheel.clone(),
                source,
            }
        })?;
    }

    let unpacked = UnpackedWheel {
        format: UNPACKED_FORMAT,
        root: dest.to_path_buf(),
        wheel: wheel_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        dist_info,
        files,
    };
    let json = serde_json::to_vec(&unpacked).map_err(|e| layout(e.to_string()))?;
    let manifest = tmp.path().join(UNPACKED_MANIFEST);
    std::fs::write(&manifest, json).map_err(write_err(&manifest))?;
    let tmp = tmp.keep();
    match std::fs::rename(&tmp, dest) {
        Ok(()) => Ok(unpacked),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            // Another process unpacked the same wheel first.
            UnpackedWheel::load(dest).ok_or_else(|| write_err(dest)(e))
        }
    }
}

/// Every file and launcher of an unpacked wheel, with its destination in one venv.
struct LinkPlan<'a> {
    planned: Vec<Planned<'a>>,
    launchers: Vec<entry_points::EntryPoint>,
}

/// Where every file of `unpacked` goes in `venv`, checked: see the module documentation.
fn plan_link<'a>(
    unpacked: &'a UnpackedWheel,
    venv: &Venv,
    options: &InstallOptions,
) -> Result<LinkPlan<'a>, InstallError> {
    let wheel = PathBuf::from(&unpacked.wheel);
    let (dist_name, _) = unpacked.name_version();
    let dist_info = unpacked.dist_info.as_str();
    let data_dir = format!("{}.data", dist_info.trim_end_matches(".dist-info"));
    let real_root = std::fs::canonicalize(&venv.root).map_err(|source| InstallError::Write {
        wheel: wheel.clone(),
        path: venv.root.clone(),
        source,
    })?;

    // Where every file goes, refusing two entries on one destination.
    let mut planned: Vec<Planned> = Vec::with_capacity(unpacked.files.len());
    let mut checked_dirs: HashMap<PathBuf, bool> = HashMap::new();
    let mut seen: HashMap<PathBuf, String> = HashMap::new();
    for file in &unpacked.files {
        let unsafe_path = |reason| InstallError::UnsafePath {
            wheel: wheel.clone(),
            entry: file.path.clone(),
            reason,
        };
        let parts: Vec<&str> = file.path.split('/').collect();
        if parts.len() == 2
            && parts[0] == dist_info
            && matches!(
                parts[1],
                "RECORD" | "RECORD.jws" | "RECORD.p7s" | "INSTALLER"
            )
        {
            // Replaced by ours (signatures signed the wheel's RECORD, not ours).
            continue;
        }
        let (root, rest, kind) = if parts[0] == data_dir && parts.len() > 2 {
            match parts[1] {
                "purelib" | "platlib" => (venv.site_packages.clone(), &parts[2..], Kind::Plain),
                "scripts" => (venv.bin.clone(), &parts[2..], Kind::Script),
                "headers" => (venv.headers.join(&dist_name), &parts[2..], Kind::Plain),
                "data" => (venv.data.clone(), &parts[2..], Kind::Plain),
                _ => return Err(unsafe_path("an unknown .data scheme key")),
            }
        } else {
            (venv.site_packages.clone(), &parts[..], Kind::Plain)
        };
        if rest.iter().any(|c| c.is_empty() || *c == "." || *c == "..") {
            return Err(unsafe_path("it contains a `..` component"));
        }
        let dest = rest.iter().fold(root.clone(), |p, c| p.join(c));
        // Defense in depth: by components, never by string prefix.
        if !dest.starts_with(&root) || dest == root {
            return Err(unsafe_path("it leaves its destination directory"));
        }
        // Resolving symlinks walks every component: once per directory is enough.
        let parent = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        let inside = *checked_dirs
            .entry(parent)
            .or_insert_with(|| resolves_inside(&dest, &real_root));
        if !inside {
            return Err(unsafe_path(
                "its destination directory is a symlink leading out of the venv",
            ));
        }
        if let Some(first) = seen.insert(dest.clone(), file.path.clone()) {
            return Err(InstallError::Duplicate {
                wheel: wheel.clone(),
                first,
                entry: file.path.clone(),
                dest,
            });
        }
        planned.push(Planned { file, dest, kind });
    }

    let entry_points_file = unpacked.file(&format!("{dist_info}/entry_points.txt"));
    let launchers = match std::fs::read(&entry_points_file) {
        Ok(text) => entry_points::parse(&String::from_utf8_lossy(&text)).map_err(|source| {
            InstallError::EntryPoint {
                wheel: wheel.clone(),
                source,
            }
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(InstallError::Read {
                wheel: entry_points_file,
                source,
            });
        }
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
    for (name, _) in &options.extra_dist_info {
        if check_entry_name(name).map_or(true, |p| p.len() != 1)
            || matches!(name.as_str(), "RECORD" | "INSTALLER")
        {
            return Err(layout_error(
                &wheel,
                format!("`{name}` cannot be written into the dist-info"),
            ));
        }
    }

    Ok(LinkPlan { planned, launchers })
}

/// Every path [`link`] would write for `unpacked` in `venv` (files, launchers and the
/// dist-info's own files), so that an interrupted install can be cleaned up.
pub fn destinations(
    unpacked: &UnpackedWheel,
    venv: &Venv,
    options: &InstallOptions,
) -> Result<Vec<PathBuf>, InstallError> {
    let plan = plan_link(unpacked, venv, options)?;
    let dist_info = venv.site_packages.join(&unpacked.dist_info);
    let mut out: Vec<PathBuf> = plan.planned.into_iter().map(|p| p.dest).collect();
    out.extend(plan.launchers.iter().map(|ep| venv.bin.join(&ep.name)));
    out.push(dist_info.join("INSTALLER"));
    out.extend(
        options
            .extra_dist_info
            .iter()
            .map(|(n, _)| dist_info.join(n)),
    );
    out.push(dist_info.join("RECORD"));
    Ok(out)
}

/// Install the unpacked wheel into `venv`. See the module documentation.
pub fn link(
    unpacked: &UnpackedWheel,
    venv: &Venv,
    options: &InstallOptions,
) -> Result<InstalledRecord, InstallError> {
    let wheel = PathBuf::from(&unpacked.wheel);
    let (dist_name, dist_version) = unpacked.name_version();
    let dist_info = unpacked.dist_info.as_str();
    let LinkPlan { planned, launchers } = plan_link(unpacked, venv, options)?;

    // Everything checked: write.
    let mut writer = Writer {
        wheel: &wheel,
        created_files: Vec::new(),
        created_dirs: Vec::new(),
        made_dirs: BTreeSet::new(),
    };
    match write_all(&mut writer, unpacked, &planned, &launchers, venv, options) {
        Ok((record, scripts)) => Ok(InstalledRecord {
            name: dist_name,
            version: dist_version,
            dist_info: venv.site_packages.join(dist_info),
            record,
            scripts,
        }),
        Err(e) => {
            writer.roll_back();
            Err(e)
        }
    }
}

fn layout_error(wheel: &Path, message: String) -> InstallError {
    InstallError::Layout {
        wheel: wheel.to_path_buf(),
        message,
    }
}

/// A file name that the central directory starting at `start` lists more than once.
fn duplicate_record(raw: &mut (impl Read + Seek), start: u64) -> Option<String> {
    // Read whole (it is small), then walked in memory.
    let mut directory = Vec::new();
    raw.seek(SeekFrom::Start(start)).ok()?;
    raw.read_to_end(&mut directory).ok()?;
    let mut seen: BTreeSet<&[u8]> = BTreeSet::new();
    let mut at = 0usize;
    while let Some(fixed) = directory.get(at..at + 46) {
        if fixed[..4] != [0x50, 0x4b, 0x01, 0x02] {
            break;
        }
        let len = |i: usize| usize::from(u16::from_le_bytes([fixed[i], fixed[i + 1]]));
        let (name_len, rest) = (len(28), len(30) + len(32));
        let name = directory.get(at + 46..at + 46 + name_len)?;
        if !seen.insert(name) {
            return Some(String::from_utf8_lossy(name).into_owned());
        }
        at += 46 + name_len + rest;
    }
    None
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
    fn check(&self, raw: &mut (impl Read + Seek)) -> Result<(), &'static str> {
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
    /// Directories known to exist, so each is checked once.
    made_dirs: BTreeSet<PathBuf>,
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
        if self.made_dirs.contains(dir) {
            return Ok(());
        }
        self.made_dirs.insert(dir.to_path_buf());
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

    /// Put `source` (an unpacked file) at `dest`: a hard link when `mode` allows and the
    /// file system can, else a copy; through a temporary name and a rename when `dest`
    /// exists, so it is replaced whole.
    fn place(&mut self, source: &Path, dest: &Path, mode: LinkMode) -> Result<(), InstallError> {
        let parent = dest
            .parent()
            .ok_or_else(|| self.err(dest)(std::io::ErrorKind::InvalidInput.into()))?;
        self.mkdirs(parent)?;
        super::failpoint::hit("place-file");
        if mode == LinkMode::Hardlink {
            match std::fs::hard_link(source, dest) {
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

/// A new file, created with its final mode (the umask applies, as it does for pip), so that
/// unpacking costs no `chmod` per file.
#[cfg(unix)]
fn create_file(path: &Path, executable: bool) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(path)
}

#[cfg(not(unix))]
fn create_file(path: &Path, _executable: bool) -> std::io::Result<File> {
    File::create(path)
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

fn write_all(
    w: &mut Writer,
    unpacked: &UnpackedWheel,
    planned: &[Planned],
    launchers: &[entry_points::EntryPoint],
    venv: &Venv,
    options: &InstallOptions,
) -> Result<(Vec<RecordEntry>, Vec<PathBuf>), InstallError> {
    let shebang = entry_points::shebang(&venv.python);
    let site_packages = super::normalize(&venv.site_packages);
    let dist_info = unpacked.dist_info.as_str();
    let mut record = Vec::with_capacity(planned.len() + launchers.len() + 3);
    let mut scripts = Vec::new();
    for p in planned {
        let source = unpacked.file(&p.file.path);
        let (digest, size) = match p.kind {
            Kind::Plain => {
                w.place(&source, &p.dest, options.link)?;
                // The unpacked file was hashed when it was written; hex from our own
                // writer, so decoding cannot fail short of a corrupted cache entry.
                let digest = hex::decode(&p.file.sha256).map_err(|e| {
                    w.err(&source)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
                })?;
                (digest, p.file.size)
            }
            Kind::Script => {
                let content = std::fs::read(&source).map_err(|source| InstallError::Read {
                    wheel: w.wheel.to_path_buf(),
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
    let mut extra: Vec<(&str, &[u8])> = vec![("INSTALLER", installer.as_bytes())];
    extra.extend(
        options
            .extra_dist_info
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice())),
    );
    for (name, mut content) in extra {
        let (digest, size) = w.write(&dist_info_dir.join(name), &mut content, false)?;
        record.push(record_entry(
            &site_packages.join(dist_info).join(name),
            &site_packages,
            digest,
            size,
        ));
    }
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
