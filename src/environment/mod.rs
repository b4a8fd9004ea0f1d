//! An installed Python environment as installers leave it: the `*.dist-info` directories of a
//! virtual environment's `site-packages` (PEP 376 / PEP 627 / PEP 610).
//!
//! [`Environment::read`] finds `site-packages` under a venv and reads every distribution's
//! name and version (`METADATA`), `RECORD`, `INSTALLER` and `direct_url.json`; a dist-info
//! that cannot be understood is kept aside in [`Environment::unreadable`] rather than failing
//! the whole read. [`InstalledDistribution::verify`] hashes the installed files against
//! `RECORD`. The parsers are pure and live in [`parse`]; this module does the file I/O.
//! Used by `sanctuary doctor`, and meant for `sync` (what is installed, what to remove).

pub mod parse;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use pep440_rs::Version;
use pep508_rs::PackageName;
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

pub use parse::{DirectUrl, ParseError, Provenance, RecordEntry, RecordHash};

/// The environment cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum EnvironmentError {
    #[error("no virtual environment at {}", .0.display())]
    NotFound(PathBuf),
    #[error(
        "{} has no site-packages directory (expected lib/python3.X/site-packages or Lib/site-packages)",
        .0.display()
    )]
    NoSitePackages(PathBuf),
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EnvironmentError + '_ {
    move |source| EnvironmentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One installed distribution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledDistribution {
    pub name: PackageName,
    pub version: Version,
    /// The `*.dist-info` directory.
    pub dist_info: PathBuf,
    /// `INSTALLER` (`pip`, `uv`), if written.
    pub installer: Option<String>,
    /// `direct_url.json`, when installed from a URL, a path or editable.
    pub direct_url: Option<DirectUrl>,
    /// `provenance_url.json` (PEP 710), which sanctuary writes: the artifact installed.
    pub provenance: Option<Provenance>,
    /// `RECORD`; empty when the installer wrote none.
    pub record: Vec<RecordEntry>,
    /// Whether a `RECORD` file exists.
    pub has_record: bool,
}

/// A dist-info directory that could not be understood.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub dist_info: PathBuf,
    pub message: String,
}

/// An installed virtual environment.
#[derive(Clone, Debug)]
pub struct Environment {
    /// The venv directory, as given.
    pub root: PathBuf,
    pub site_packages: PathBuf,
    /// `version` (or `version_info`) of `pyvenv.cfg`, e.g. `3.12.3`.
    pub python: Option<String>,
    /// Sorted by name.
    pub distributions: Vec<InstalledDistribution>,
    pub unreadable: Vec<Unreadable>,
}

impl Environment {
    /// Read the environment at `venv`.
    pub fn read(venv: &Path) -> Result<Environment, EnvironmentError> {
        Environment::read_with(venv, true)
    }

    /// Read the environment at `venv` without parsing `RECORD`s: every distribution's
    /// `record` is empty (`has_record` still says whether one exists). Enough to compare
    /// versions and artifacts, and much less to read.
    pub fn read_summary(venv: &Path) -> Result<Environment, EnvironmentError> {
        Environment::read_with(venv, false)
    }

    fn read_with(venv: &Path, records: bool) -> Result<Environment, EnvironmentError> {
        if !venv.is_dir() {
            return Err(EnvironmentError::NotFound(venv.to_path_buf()));
        }
        let site_packages = find_site_packages(venv)?;
        let python = std::fs::read_to_string(venv.join("pyvenv.cfg"))
            .ok()
            .and_then(|t| parse_pyvenv_version(&t));
        // The name first: site-packages holds as many packages as dist-infos, and the
        // entry's own type costs no system call (only a symlink is followed).
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&site_packages)
            .map_err(io(&site_packages))?
            .flatten()
            .filter(|e| Path::new(&e.file_name()).extension() == Some("dist-info".as_ref()))
            .filter(|e| {
                e.file_type()
                    .is_ok_and(|t| t.is_dir() || (t.is_symlink() && e.path().is_dir()))
            })
            .map(|e| e.path())
            .collect();
        dirs.sort();
        // A hundred dist-infos of a few small files each: read in parallel.
        let read: Vec<Result<InstalledDistribution, String>> = dirs
            .par_iter()
            .map(|dir| read_dist_info(dir, records))
            .collect();
        let mut distributions = Vec::new();
        let mut unreadable = Vec::new();
        for (dir, result) in dirs.into_iter().zip(read) {
            match result {
                Ok(d) => distributions.push(d),
                Err(message) => unreadable.push(Unreadable {
                    dist_info: dir,
                    message,
                }),
            }
        }
        distributions.sort_by(|a, b| a.name.cmp(&b.name).then(a.version.cmp(&b.version)));
        Ok(Environment {
            root: venv.to_path_buf(),
            site_packages,
            python,
            distributions,
            unreadable,
        })
    }

    /// The installed distributions by name; a name installed twice (two dist-info
    /// directories, a broken install) keeps every copy.
    pub fn by_name(&self) -> BTreeMap<&PackageName, Vec<&InstalledDistribution>> {
        let mut out: BTreeMap<&PackageName, Vec<&InstalledDistribution>> = BTreeMap::new();
        for d in &self.distributions {
            out.entry(&d.name).or_default().push(d);
        }
        out
    }

    /// The first installed distribution called `name`.
    pub fn get(&self, name: &PackageName) -> Option<&InstalledDistribution> {
        self.distributions.iter().find(|d| &d.name == name)
    }
}

/// `site-packages` of a venv: `lib/python3.X/site-packages` (the newest if several),
/// `lib64/...`, or Windows' `Lib/site-packages`.
pub fn find_site_packages(venv: &Path) -> Result<PathBuf, EnvironmentError> {
    let windows = venv.join("Lib").join("site-packages");
    let mut found = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(venv.join(lib)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let sp = e.path().join("site-packages");
            if name.starts_with("python") && sp.is_dir() {
                // Order by the numeric version (python3.9 < python3.12).
                let key: Vec<u32> = name["python".len()..]
                    .split('.')
                    .map(|p| p.parse().unwrap_or(0))
                    .collect();
                found.push((key, sp));
            }
        }
        if !found.is_empty() {
            break;
        }
    }
    found.sort();
    match found.pop() {
        Some((_, sp)) => Ok(sp),
        None if windows.is_dir() => Ok(windows),
        None => Err(EnvironmentError::NoSitePackages(venv.to_path_buf())),
    }
}

/// The Python version a `pyvenv.cfg` names (`version = 3.12.3`, or uv's `version_info`).
pub fn parse_pyvenv_version(text: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k.trim() {
            "version" => return Some(v.trim().to_string()),
            "version_info" => found = Some(v.trim().to_string()),
            _ => {}
        }
    }
    found
}

/// Read one dist-info directory; the error is a message for people.
fn read_dist_info(dir: &Path, records: bool) -> Result<InstalledDistribution, String> {
    let read = |name: &str| -> Result<Option<String>, String> {
        let path = dir.join(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {name}: {e}")),
        }
    };
    let metadata = match read_metadata_headers(&dir.join("METADATA")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("no METADATA file".to_string());
        }
        Err(e) => return Err(format!("cannot read METADATA: {e}")),
    };
    let (name, version) = parse::parse_metadata(&metadata).map_err(|e| e.to_string())?;
    let (record, has_record) = if records {
        match read("RECORD")? {
            Some(t) => (parse::parse_record(&t).map_err(|e| e.to_string())?, true),
            None => (Vec::new(), false),
        }
    } else {
        (Vec::new(), dir.join("RECORD").is_file())
    };
    let installer = read("INSTALLER")?.and_then(|t| parse::parse_installer(&t));
    let direct_url = match read("direct_url.json")? {
        Some(t) => Some(parse::parse_direct_url(&t).map_err(|e| e.to_string())?),
        None => None,
    };
    // A provenance file that cannot be read only means the artifact is unknown.
    let provenance = match read(parse::PROVENANCE_FILE)? {
        Some(text) => Some(text),
        None => read(parse::LOCAL_FILE)?,
    }
    .and_then(|t| parse::parse_provenance(&t).ok());
    Ok(InstalledDistribution {
        name,
        version,
        dist_info: dir.to_path_buf(),
        installer,
        direct_url,
        provenance,
        record,
        has_record,
    })
}

/// The headers of a `METADATA` file: its text up to and including the first blank line,
/// where [`parse::parse_metadata`] stops reading. The description after them, often most of
/// the file, is not read.
fn read_metadata_headers(path: &Path) -> std::io::Result<String> {
    const PIECE: usize = 8 * 1024;
    let mut file = std::fs::File::open(path)?;
    let mut buf: Vec<u8> = Vec::with_capacity(PIECE);
    // Bytes whose lines were looked at.
    let mut scanned = 0;
    loop {
        let len = buf.len();
        buf.resize(len + PIECE, 0);
        let n = loop {
            match file.read(&mut buf[len..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => break other,
            }
        }?;
        buf.truncate(len + n);
        if n == 0 {
            break;
        }
        // Whole lines only: a `\n` never falls inside a UTF-8 sequence, so the text up to
        // one reads the same as in the whole file.
        while let Some(end) = buf[scanned..].iter().position(|&b| b == b'\n') {
            let line = &buf[scanned..scanned + end];
            scanned += end + 1;
            if String::from_utf8_lossy(line).trim().is_empty() {
                buf.truncate(scanned);
                return Ok(String::from_utf8_lossy(&buf).into_owned());
            }
        }
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// How an installed file differs from its `RECORD` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FileState {
    /// The content changed: the sha256 differs.
    Modified,
    /// The file is gone.
    Missing,
    /// The file exists but cannot be read.
    Unreadable,
}

/// An installed file that does not match `RECORD`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FileMismatch {
    /// As `RECORD` writes it, relative to `site-packages`.
    pub path: String,
    pub state: FileState,
    /// `sha256=...` as `RECORD` has it.
    pub expected: String,
    /// `sha256=...` of the file now (modified files only).
    pub actual: Option<String>,
    /// Bytes now, when the file could be read.
    pub size: Option<u64>,
}

impl InstalledDistribution {
    /// Hash every checkable file of `RECORD` (see [`RecordEntry::is_checkable`]) under
    /// `site_packages`, in parallel; the mismatches in `RECORD` order.
    pub fn verify(&self, site_packages: &Path) -> Vec<FileMismatch> {
        self.record
            .par_iter()
            .filter(|e| e.is_checkable())
            .filter_map(|e| verify_entry(site_packages, e))
            .collect()
    }
}

fn verify_entry(site_packages: &Path, entry: &RecordEntry) -> Option<FileMismatch> {
    let expected = entry.hash.as_ref()?;
    let path = site_packages.join(&entry.path);
    let mismatch = |state, actual, size| FileMismatch {
        path: entry.path.clone(),
        state,
        expected: expected.to_record(),
        actual,
        size,
    };
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some(mismatch(FileState::Missing, None, None));
        }
        Err(_) => return Some(mismatch(FileState::Unreadable, None, None)),
    };
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Some(mismatch(FileState::Unreadable, None, None)),
        }
    }
    let digest = hasher.finalize();
    if digest.as_slice() == expected.digest.as_slice() {
        return None;
    }
    let actual = RecordHash {
        algorithm: "sha256".to_string(),
        digest: digest.to_vec(),
    };
    Some(mismatch(
        FileState::Modified,
        Some(actual.to_record()),
        Some(size),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn record_line(path: &str, content: &str) -> String {
        format!(
            "{path},sha256={},{}\n",
            parse::b64_urlsafe_encode(&Sha256::digest(content.as_bytes())),
            content.len()
        )
    }

    #[test]
    fn reads_and_verifies_a_fake_venv() {
        let tmp = tempfile::tempdir().unwrap();
        let venv = tmp.path();
        write(
            &venv.join("pyvenv.cfg"),
            "home = /usr/bin\nversion = 3.12.3\n",
        );
        let sp = venv.join("lib/python3.12/site-packages");
        std::fs::create_dir_all(venv.join("lib/python3.9/site-packages")).unwrap();
        write(&sp.join("demo/__init__.py"), "x = 1\n");
        write(&sp.join("demo/gone.py"), "");
        write(
            &sp.join("demo/__pycache__/__init__.cpython-312.pyc"),
            "junk",
        );
        let record = format!(
            "{}{}{}demo/__pycache__/__init__.cpython-312.pyc,,\ndemo-1.0.dist-info/RECORD,,\n",
            record_line("demo/__init__.py", "x = 1\n"),
            record_line("demo/gone.py", ""),
            record_line("demo/edited.py", "original\n"),
        );
        write(&sp.join("demo/edited.py"), "original\nedited\n");
        std::fs::remove_file(sp.join("demo/gone.py")).unwrap();
        let di = sp.join("demo-1.0.dist-info");
        write(
            &di.join("METADATA"),
            "Metadata-Version: 2.1\nName: Demo\nVersion: 1.0\n",
        );
        write(&di.join("RECORD"), &record);
        write(&di.join("INSTALLER"), "pip\n");
        write(
            &di.join("direct_url.json"),
            r#"{"url": "file:///w/demo-1.0-py3-none-any.whl", "archive_info": {}}"#,
        );
        write(&sp.join("broken-2.0.dist-info/METADATA"), "Name: broken\n");

        let env = Environment::read(venv).unwrap();
        assert_eq!(env.site_packages, sp);
        assert_eq!(env.python.as_deref(), Some("3.12.3"));
        assert_eq!(env.distributions.len(), 1);
        assert_eq!(env.unreadable.len(), 1);
        assert_eq!(env.unreadable[0].message, "METADATA has no `Version` field");
        let demo = &env.distributions[0];
        assert_eq!(demo.name.as_ref(), "demo");
        assert_eq!(demo.installer.as_deref(), Some("pip"));
        assert!(!demo.direct_url.as_ref().unwrap().editable);
        let problems = demo.verify(&env.site_packages);
        let states: Vec<(&str, &FileState)> = problems
            .iter()
            .map(|p| (p.path.as_str(), &p.state))
            .collect();
        assert_eq!(
            states,
            [
                ("demo/gone.py", &FileState::Missing),
                ("demo/edited.py", &FileState::Modified)
            ]
        );
        assert_eq!(problems[1].size, Some(16));
    }

    /// `METADATA` is read up to the blank line ending its headers, however long the
    /// headers or the description, and parses as the whole file does.
    #[test]
    fn metadata_is_read_up_to_the_end_of_its_headers() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("METADATA");
        let classifiers = "Classifier: Programming Language :: Python\r\n".repeat(500);
        let headers =
            format!("Metadata-Version: 2.1\r\nName: Demo\r\n{classifiers}Version: 1.0\r\n \t\r\n");
        let whole = format!("{headers}Version: 9.9\n{}", "description\n".repeat(10_000));
        write(&path, &whole);
        let read = read_metadata_headers(&path).unwrap();
        assert_eq!(read, headers);
        assert_eq!(
            parse::parse_metadata(&read).unwrap(),
            parse::parse_metadata(&whole).unwrap()
        );
        // No blank line: all of it.
        let no_end = "Name: demo\nVersion: 2.0";
        write(&path, no_end);
        assert_eq!(read_metadata_headers(&path).unwrap(), no_end);
    }

    #[test]
    fn missing_venv_and_site_packages() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            Environment::read(&tmp.path().join("nope")),
            Err(EnvironmentError::NotFound(_))
        ));
        assert!(matches!(
            Environment::read(tmp.path()),
            Err(EnvironmentError::NoSitePackages(_))
        ));
        assert_eq!(
            parse_pyvenv_version("implementation = CPython\nversion_info = 3.12.1\n"),
            Some("3.12.1".into())
        );
    }
}
