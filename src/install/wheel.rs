//! Installing one wheel (the binary distribution format, PEP 427) into a [`Venv`], in two
//! steps so that a wheel is checked and unpacked once and installed many times.
//!
//! [`unpack`] (in [`super::unpack`]) reads the archive and refuses it, with nothing kept,
//! when its zip structure is one other readers would read differently (see
//! [`super::archive`]: bytes before, between or after the entries, concatenated archives,
//! overlapping entries, local headers that disagree with the central directory, a declared
//! size over [`super::archive::MAX_UNPACKED_SIZE`]), an entry's name is unsafe (`..`,
//! absolute, `\`, `:` / drive letters, NUL), two entries land on the same file, `WHEEL` is
//! absent or of an unsupported major version, `METADATA` names another project or version
//! than the dist-info directory, the `.data` directory is misused, an entry point is
//! refused (see [`super::entry_points`]), `RECORD`, `METADATA`, `WHEEL` or
//! `entry_points.txt` is over its size cap ([`MAX_RECORD_SIZE`], ...), or a file is not
//! what the wheel's `RECORD` says (checked before the file is read for its size, and while
//! it is written for its sha256, stopping at the first disagreement). Reading an entry stops
//! one byte past its declared size. Otherwise it leaves the files under `<dest>/files/` and
//! what it learnt (each file's sha256, size and mode, the sha256 of the archive when the
//! caller verified one) in `<dest>/unpacked.json`, built in a temporary sibling and renamed
//! into place, so a cache of unpacked wheels never holds half of one. [`UnpackedWheel::load`]
//! trusts such a directory only when its description holds plain relative names.
//!
//! [`link`] (in [`super::link`]) installs an [`UnpackedWheel`] into a venv: see there.
//! [`install`] does both from a wheel file, unpacking into a temporary directory.

use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::{Deserialize, Serialize};

use super::Venv;
use super::entry_points::EntryPointError;
use crate::environment::parse::{RecordEntry, parse_dist_info_name};

pub use super::link::{PreparedLink, check_disjoint, destinations, link, prepare};

/// The name prefix of the temporary directory [`unpack`] builds beside its destination.
pub(crate) const UNPACK_PREFIX: &str = ".unpack-";

/// The largest `RECORD` read (a line per file: torch's is a few MiB).
pub const MAX_RECORD_SIZE: u64 = 16 << 20;
/// The largest `METADATA` read (its description is the project's whole README).
pub const MAX_METADATA_SIZE: u64 = 16 << 20;
/// The largest `entry_points.txt` read.
pub const MAX_ENTRY_POINTS_SIZE: u64 = 1 << 20;
/// The largest `WHEEL` read (a few lines).
pub const MAX_WHEEL_SIZE: u64 = 64 << 10;

/// The `.data` scheme keys of the wheel spec.
pub(crate) const SCHEME_KEYS: [&str; 5] = ["purelib", "platlib", "scripts", "headers", "data"];

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
    /// The distribution the wheel must hold (what the lockfile pins): its dist-info must
    /// name this project and version (compared normalized), or [`link`] refuses it.
    pub expect: Option<(PackageName, Version)>,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            verify_record: true,
            installer: "sanctuary".to_string(),
            extra_dist_info: Vec::new(),
            link: LinkMode::default(),
            expect: None,
        }
    }
}

/// Choices of an unpacking.
#[derive(Clone, Debug)]
pub struct UnpackOptions {
    /// See [`InstallOptions::verify_record`]. On by default.
    pub verify_record: bool,
    /// The lower-case hex sha256 the caller verified the archive against, recorded in
    /// `unpacked.json` so that a cache entry is only used under its own hash.
    pub sha256: Option<String>,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            verify_record: true,
            sha256: None,
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
/// again. 2: the archive's sha256.
pub(crate) const UNPACKED_FORMAT: u32 = 2;

/// A wheel checked and unpacked by [`unpack`]: its files under `<root>/files/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnpackedWheel {
    pub(crate) format: u32,
    /// The directory holding `files/` and `unpacked.json`.
    #[serde(skip)]
    pub root: PathBuf,
    /// The wheel's file name, for messages.
    pub wheel: String,
    /// The sha256 of the archive it was unpacked from, when the caller verified one
    /// ([`UnpackOptions::sha256`]).
    pub sha256: Option<String>,
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
    /// Read the unpacked wheel at `root`, if one is complete there, of this format, and
    /// sound: every path a plain relative name inside it, the dist-info one plain
    /// `<name>-<version>.dist-info` component, every hash 64 hex digits, and the archive's
    /// sha256, when recorded, the directory's name. Anything else is not followed: the
    /// caller unpacks the wheel again.
    pub fn load(root: &Path) -> Option<UnpackedWheel> {
        let text = std::fs::read(root.join(UNPACKED_MANIFEST)).ok()?;
        let mut wheel: UnpackedWheel = serde_json::from_slice(&text).ok()?;
        if wheel.format != UNPACKED_FORMAT {
            return None;
        }
        if let Some(sha) = &wheel.sha256
            && root.file_name() != Some(std::ffi::OsStr::new(sha))
        {
            tracing::warn!("ignoring {}: it was unpacked from {sha}", root.display());
            return None;
        }
        if let Err(why) = wheel.check() {
            tracing::warn!(
                "ignoring the corrupt unpacked wheel {}: {why}",
                root.display()
            );
            return None;
        }
        wheel.root = root.to_path_buf();
        Some(wheel)
    }

    /// See [`UnpackedWheel::load`].
    fn check(&self) -> Result<(), String> {
        // What `check_entry_name` accepts and leaves as it is (no empty or `.` parts), checked
        // without allocating: thousands of names a wheel, at every sync.
        let plain = |p: &str| {
            !p.is_empty()
                && !p.contains(['\\', '\0', ':'])
                && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        };
        let dist_info = &self.dist_info;
        if !plain(dist_info) || dist_info.contains('/') || parse_dist_info_name(dist_info).is_none()
        {
            return Err(format!(
                "dist_info `{dist_info}` is not one plain directory name"
            ));
        }
        let hex = |h: &str| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit());
        match self
            .files
            .iter()
            .find(|f| !plain(&f.path) || !hex(&f.sha256))
        {
            Some(f) => Err(format!(
                "file `{}` is not a plain relative name with a sha256",
                f.path
            )),
            None => Ok(()),
        }
    }

    /// The unpacked copy of the archive path `path`.
    pub fn file(&self, path: &str) -> PathBuf {
        let mut file = PathBuf::with_capacity(self.root.as_os_str().len() + path.len() + 8);
        file.push(&self.root);
        file.push("files");
        for c in path.split('/') {
            file.push(c);
        }
        file
    }

    /// `(name, version)` from the dist-info directory's name.
    pub(crate) fn name_version(&self) -> (String, String) {
        parse_dist_info_name(&self.dist_info).unwrap_or_else(|| {
            (
                self.dist_info.trim_end_matches(".dist-info").to_string(),
                String::new(),
            )
        })
    }

    /// The wheel must hold `name` at `version` (normalized: PEP 503 names, PEP 440
    /// versions).
    pub(crate) fn check_identity(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<(), InstallError> {
        let (found_name, found_version) = self.name_version();
        if same_distribution(
            (&found_name, &found_version),
            (name.as_ref(), &version.to_string()),
        ) {
            return Ok(());
        }
        Err(InstallError::Identity {
            wheel: PathBuf::from(&self.wheel),
            locked: format!("{name}=={version}"),
            found: format!("{found_name} {found_version} ({})", self.dist_info),
        })
    }
}

/// Whether two `(name, version)` spell the same distribution: names compared as PEP 503
/// normalizes them, versions as PEP 440 does (as text when one does not parse).
pub(crate) fn same_distribution(a: (&str, &str), b: (&str, &str)) -> bool {
    let name = |n: &str| PackageName::from_str(n).ok();
    let names = match (name(a.0), name(b.0)) {
        (Some(x), Some(y)) => x == y,
        _ => a.0 == b.0,
    };
    let versions = match (Version::from_str(a.1), Version::from_str(b.1)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.1 == b.1,
    };
    names && versions
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
    #[error("{} is refused: {message}", wheel.display())]
    Archive { wheel: PathBuf, message: String },
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
    #[error("{}: entry `{entry}` inflates to more than the {declared} bytes the central directory declares", wheel.display())]
    TooLong {
        wheel: PathBuf,
        entry: String,
        declared: u64,
    },
    #[error("{}: `{entry}` is larger than the {} sanctuary reads (the central directory declares {declared} bytes)", wheel.display(), super::archive::human(*cap))]
    TooLarge {
        wheel: PathBuf,
        entry: String,
        declared: u64,
        cap: u64,
    },
    #[error("{}: {message}", wheel.display())]
    Layout { wheel: PathBuf, message: String },
    #[error("{} is locked as {locked}, but it holds {found}", wheel.display())]
    Identity {
        wheel: PathBuf,
        /// `name==version` of the lockfile.
        locked: String,
        /// `name version (its dist-info directory)` of the wheel.
        found: String,
    },
    #[error("{}: `{entry}` would replace `{venv_file}`, which belongs to the virtual environment itself", wheel.display())]
    VenvFile {
        wheel: PathBuf,
        /// The archive entry or launcher.
        entry: String,
        /// The venv's file, relative to the venv.
        venv_file: String,
    },
    #[error("{} would overwrite {}, a file of {owner}, with other contents", wheel.display(), path.display())]
    Owned {
        wheel: PathBuf,
        path: PathBuf,
        /// `name version` of the distribution owning `path`.
        owner: String,
    },
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

impl InstallError {
    /// What the user can do about it, where there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            InstallError::Identity { .. } => Some(
                "the lockfile's URL or hash for this package points at another project's wheel (an edited lockfile, or a mix-up on the index); nothing was installed. Re-lock with `sanctuary lock --upgrade-package NAME` and review the diff".to_string(),
            ),
            InstallError::Owned { .. } => Some(
                "two distributions ship this file with different contents, so installing one would break the other; nothing was installed. Drop one of them from the requirements, or pin versions that agree".to_string(),
            ),
            InstallError::VenvFile { .. } => Some(
                "a wheel may not replace the environment's interpreter, activation scripts or configuration; nothing was installed. Report it to the package's authors".to_string(),
            ),
            _ => None,
        }
    }
}

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
    let unpack_options = UnpackOptions {
        verify_record: options.verify_record,
        sha256: None,
    };
    let unpacked = unpack(wheel_path, &tmp.path().join("wheel"), &unpack_options)?;
    let options = InstallOptions {
        link: LinkMode::Copy,
        ..options.clone()
    };
    link(&unpacked, venv, &options)
}

/// Check the wheel at `wheel_path` and unpack it to `dest` (which should not exist; when
/// another process unpacked it there first, that copy is returned, and a corrupt one is
/// replaced). See the module documentation for what is checked.
pub fn unpack(
    wheel_path: &Path,
    dest: &Path,
    options: &UnpackOptions,
) -> Result<UnpackedWheel, InstallError> {
    let result = unpack_ahead(wheel_path, dest, options, None);
    #[cfg(test)]
    if let Ok(bytes) = std::fs::read(wheel_path) {
        super::ahead::check::same_when_unpacked_ahead(wheel_path, &bytes, dest, options, &result);
    }
    result
}

/// [`unpack`] for a download unpacked in part while it arrived ([`super::ahead`]): the
/// archive is checked all the same, and only the files not unpacked already are.
pub(crate) fn unpack_ahead(
    wheel_path: &Path,
    dest: &Path,
    options: &UnpackOptions,
    ahead: Option<super::ahead::Extracted>,
) -> Result<UnpackedWheel, InstallError> {
    let read_err = |source| InstallError::Read {
        wheel: wheel_path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(wheel_path).map_err(read_err)?;
    let raw = std::fs::File::open(wheel_path).map_err(read_err)?;
    // Buffered: the archive is read in many small pieces (headers, names, entries). With
    // files unpacked ahead, mostly headers are read (each after a seek, which empties the
    // buffer): a large buffer would read far more than them.
    let capacity = if ahead.is_some() {
        16 * 1024
    } else {
        256 * 1024
    };
    super::unpack::unpack_from(
        wheel_path,
        std::io::BufReader::with_capacity(capacity, file),
        std::io::BufReader::new(raw),
        dest,
        options,
        ahead,
    )
}

/// [`unpack`] for a wheel held in memory (a download that was never written to disk);
/// `wheel_name` names it in errors and in the manifest.
pub fn unpack_bytes(
    wheel_name: &Path,
    bytes: &[u8],
    dest: &Path,
    options: &UnpackOptions,
) -> Result<UnpackedWheel, InstallError> {
    let result = super::unpack::unpack_from(
        wheel_name,
        std::io::Cursor::new(bytes),
        std::io::Cursor::new(bytes),
        dest,
        options,
        None,
    );
    #[cfg(test)]
    super::ahead::check::same_when_unpacked_ahead(wheel_name, bytes, dest, options, &result);
    result
}

/// Check an archive entry name; its components (`.` and empty ones dropped) if safe.
pub(crate) fn check_entry_name(name: &str) -> Result<Vec<String>, &'static str> {
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
