//! Pure parsers for what an installer leaves in a `*.dist-info` directory: `METADATA` (name
//! and version), `RECORD` (path, hash, size per file), `INSTALLER`, `direct_url.json`
//! (PEP 610), and the urlsafe base64 of RECORD digests. No I/O.

use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A dist-info file could not be understood.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("METADATA has no `{0}` field")]
    MissingField(&'static str),
    #[error("METADATA names an invalid {field} `{value}`: {message}")]
    InvalidField {
        field: &'static str,
        value: String,
        message: String,
    },
    #[error("RECORD line {line}: {message}")]
    Record { line: usize, message: String },
    #[error("direct_url.json: {0}")]
    DirectUrl(String),
}

/// The name and version of a distribution, from its core metadata (`METADATA`).
///
/// Only the header block counts (up to the first empty line; the body is the description).
/// Header names are case-insensitive; the first `Name` and `Version` win.
pub fn parse_metadata(text: &str) -> Result<(PackageName, Version), ParseError> {
    let mut name = None;
    let mut version = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue; // continuation of a folded header
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if key.eq_ignore_ascii_case("name") && name.is_none() {
            name = Some(value.to_string());
        } else if key.eq_ignore_ascii_case("version") && version.is_none() {
            version = Some(value.to_string());
        }
    }
    let name = name.ok_or(ParseError::MissingField("Name"))?;
    let version = version.ok_or(ParseError::MissingField("Version"))?;
    let name = PackageName::from_str(&name).map_err(|e| ParseError::InvalidField {
        field: "Name",
        value: name.clone(),
        message: e.to_string(),
    })?;
    let version = Version::from_str(&version).map_err(|e| ParseError::InvalidField {
        field: "Version",
        value: version.clone(),
        message: e.to_string(),
    })?;
    Ok((name, version))
}

/// The name and version a `<name>-<version>.dist-info` directory name spells, if it does.
/// The directory name is a hint only; `METADATA` is the truth.
pub fn parse_dist_info_name(dir: &str) -> Option<(String, String)> {
    let stem = dir.strip_suffix(".dist-info")?;
    let (name, version) = stem.rsplit_once('-')?;
    (!name.is_empty() && !version.is_empty()).then(|| (name.to_string(), version.to_string()))
}

/// A file hash as RECORD writes it: `<algorithm>=<urlsafe-base64-nopad digest>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordHash {
    /// Lower-case algorithm name (`sha256`).
    pub algorithm: String,
    pub digest: Vec<u8>,
}

impl RecordHash {
    /// As RECORD writes it.
    pub fn to_record(&self) -> String {
        format!("{}={}", self.algorithm, b64_urlsafe_encode(&self.digest))
    }
}

/// One line of RECORD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordEntry {
    /// As written: `/`-separated, relative to the site-packages directory (may start with
    /// `../` for scripts and data installed elsewhere in the environment).
    pub path: String,
    /// None for RECORD itself, signatures and `.pyc` files written after installation.
    pub hash: Option<RecordHash>,
    pub size: Option<u64>,
}

impl RecordEntry {
    /// Whether the installed file can be checked: it has a sha256 and is not a compiled
    /// `.pyc` under `__pycache__` (Python rewrites those at will).
    pub fn is_checkable(&self) -> bool {
        let pyc =
            self.path.ends_with(".pyc") && self.path.split('/').any(|part| part == "__pycache__");
        !pyc && self.hash.as_ref().is_some_and(|h| h.algorithm == "sha256")
    }
}

/// Parse RECORD: CSV lines of `path,hash,size` (paths with `,` or `"` are quoted as CSV
/// does). Empty lines are skipped.
pub fn parse_record(text: &str) -> Result<Vec<RecordEntry>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| ParseError::Record {
            line: line_no,
            message,
        };
        let fields = split_csv(line).map_err(err)?;
        let [path, hash, size] = match <[String; 3]>::try_from(fields) {
            Ok(f) => f,
            Err(f) => return Err(err(format!("expected 3 fields, found {}", f.len()))),
        };
        if path.is_empty() {
            return Err(err("empty path".to_string()));
        }
        let hash = if hash.is_empty() {
            None
        } else {
            let (algorithm, digest) = hash
                .split_once('=')
                .ok_or_else(|| err(format!("hash `{hash}` is not `<algorithm>=<digest>`")))?;
            let digest = b64_urlsafe_decode(digest)
                .ok_or_else(|| err(format!("hash `{hash}` is not urlsafe base64")))?;
            Some(RecordHash {
                algorithm: algorithm.to_ascii_lowercase(),
                digest,
            })
        };
        let size = if size.is_empty() {
            None
        } else {
            Some(
                size.parse::<u64>()
                    .map_err(|_| err(format!("size `{size}` is not a number")))?,
            )
        };
        out.push(RecordEntry { path, hash, size });
    }
    Ok(out)
}

/// Split one CSV line (RFC 4180 quoting: `"a,b"`, `""` for a quote inside quotes).
fn split_csv(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => {
                quoted = false;
                if !matches!(chars.peek(), None | Some(',')) {
                    return Err("text after a closing quote".to_string());
                }
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            (_, c) => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err("unterminated quote".to_string());
    }
    fields.push(field);
    Ok(fields)
}

/// `INSTALLER`: the tool that installed the distribution (`pip`, `uv`), first line.
pub fn parse_installer(text: &str) -> Option<String> {
    let first = text.lines().next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

/// PEP 610 `direct_url.json`: where a distribution was installed from when not from an
/// index (a local wheel, a directory, a VCS checkout, an editable install).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DirectUrl {
    pub url: String,
    /// `dir_info.editable`.
    pub editable: bool,
    /// `vcs_info.vcs` (`git`, ...), for VCS installs.
    pub vcs: Option<String>,
    /// `vcs_info.commit_id`.
    pub commit: Option<String>,
}

/// Parse `direct_url.json`.
pub fn parse_direct_url(text: &str) -> Result<DirectUrl, ParseError> {
    #[derive(Deserialize)]
    struct Raw {
        url: String,
        dir_info: Option<RawDir>,
        vcs_info: Option<RawVcs>,
    }
    #[derive(Deserialize)]
    struct RawDir {
        #[serde(default)]
        editable: bool,
    }
    #[derive(Deserialize)]
    struct RawVcs {
        vcs: String,
        commit_id: Option<String>,
    }
    let raw: Raw = serde_json::from_str(text).map_err(|e| ParseError::DirectUrl(e.to_string()))?;
    Ok(DirectUrl {
        url: raw.url,
        editable: raw.dir_info.is_some_and(|d| d.editable),
        vcs: raw.vcs_info.as_ref().map(|v| v.vcs.clone()),
        commit: raw.vcs_info.and_then(|v| v.commit_id),
    })
}

/// `provenance_url.json` (PEP 710, draft): the index URL of the artifact a distribution was
/// installed from and its hashes. sanctuary writes it so that a later sync can tell the
/// locked artifact from another build of the same version (a `+cu128` wheel from a `+cu130`
/// one with the same label stripped, a re-uploaded file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Provenance {
    pub url: String,
    /// `archive_info.hashes.sha256`, lower-case hex.
    pub sha256: Option<String>,
    /// For a wheel sanctuary built from an sdist (the sdist is the archive above): the digest
    /// of what the build depended on besides the sdist (`sanctuary_build`).
    pub build: Option<String>,
}

/// The file name of [`Provenance`] in a dist-info directory.
pub const PROVENANCE_FILE: &str = "provenance_url.json";

/// Where sanctuary records a local project's install (the [`Provenance`] shape: the
/// project's identity and build), since PEP 710 forbids `provenance_url.json` beside
/// `direct_url.json`.
pub const LOCAL_FILE: &str = "sanctuary_local.json";

/// Parse `provenance_url.json`.
pub fn parse_provenance(text: &str) -> Result<Provenance, ParseError> {
    #[derive(Deserialize)]
    struct Raw {
        url: String,
        archive_info: Option<RawArchive>,
        sanctuary_build: Option<String>,
    }
    #[derive(Deserialize)]
    struct RawArchive {
        #[serde(default)]
        hashes: std::collections::BTreeMap<String, String>,
    }
    let raw: Raw = serde_json::from_str(text).map_err(|e| ParseError::DirectUrl(e.to_string()))?;
    Ok(Provenance {
        url: raw.url,
        sha256: raw
            .archive_info
            .and_then(|a| a.hashes.get("sha256").map(|h| h.to_ascii_lowercase())),
        build: raw.sanctuary_build,
    })
}

/// `provenance_url.json` for an artifact, one line, keys in a fixed order; `build` for a
/// wheel built from the sdist `url` (see [`Provenance::build`]).
pub fn render_provenance(url: &str, sha256: &str, build: Option<&str>) -> String {
    let mut body = serde_json::json!({
        "url": url,
        "archive_info": { "hashes": { "sha256": sha256 } },
    });
    if let Some(build) = build {
        body["sanctuary_build"] = serde_json::Value::from(build);
    }
    format!("{body}\n")
}

// RFC 4648 §5 base64 (URL- and file-name-safe alphabet: `-` and `_` for `+` and `/`),
// without `=` padding, as RECORD writes digests (PEP 376 / the wheel spec). Written by hand:
// two short functions do not justify a dependency.
const B64_URLSAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encode as urlsafe base64 without padding.
pub fn b64_urlsafe_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(B64_URLSAFE[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decode urlsafe base64; `=` padding is tolerated, anything else outside the alphabet (and
/// a length no encoder produces) is refused.
pub fn b64_urlsafe_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let value = |c: u8| B64_URLSAFE.iter().position(|&a| a == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_known_digests() {
        // sha256 of the empty string, as pip writes it in RECORD.
        let digest =
            hex::decode("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                .unwrap();
        assert_eq!(
            b64_urlsafe_encode(&digest),
            "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
        assert_eq!(
            b64_urlsafe_decode("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU").unwrap(),
            digest
        );
        for len in 0..10 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            let text = b64_urlsafe_encode(&bytes);
            assert!(!text.contains('='));
            assert_eq!(b64_urlsafe_decode(&text).unwrap(), bytes, "{text}");
        }
        assert_eq!(b64_urlsafe_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(b64_urlsafe_decode("Zm8=").unwrap(), b"fo");
        assert!(b64_urlsafe_decode("Zm9v+").is_none());
        assert!(b64_urlsafe_decode("a+b/").is_none());
    }

    #[test]
    fn record_lines() {
        let text = "demo/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n\
                    \"demo/a,b.py\",sha256=Zm9v,3\r\n\
                    demo/__pycache__/__init__.cpython-312.pyc,,\n\
                    \n\
                    demo-1.0.dist-info/RECORD,,\n\
                    ../../../bin/demo,sha256=Zm9v,3\n";
        let entries = parse_record(text).unwrap();
        assert_eq!(entries.len(), 5);
        assert_eq!(entries[0].size, Some(0));
        assert!(entries[0].is_checkable());
        assert_eq!(entries[1].path, "demo/a,b.py");
        assert_eq!(entries[1].hash.as_ref().unwrap().to_record(), "sha256=Zm9v");
        assert!(!entries[2].is_checkable());
        assert_eq!(entries[3].hash, None);
        assert_eq!(entries[4].path, "../../../bin/demo");
        let pyc_with_hash = RecordEntry {
            path: "x/__pycache__/y.pyc".into(),
            hash: entries[1].hash.clone(),
            size: None,
        };
        assert!(!pyc_with_hash.is_checkable());
    }

    #[test]
    fn bad_record_lines_name_the_line() {
        let err = parse_record("a,sha256=Zm9v,3\nb,sha256,1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "RECORD line 2: hash `sha256` is not `<algorithm>=<digest>`"
        );
        let err = parse_record("a,,x\n").unwrap_err();
        assert_eq!(err.to_string(), "RECORD line 1: size `x` is not a number");
        let err = parse_record("a,b\n").unwrap_err();
        assert_eq!(err.to_string(), "RECORD line 1: expected 3 fields, found 2");
        assert!(parse_record("\"a,,\n").is_err());
    }

    #[test]
    fn metadata_headers_only() {
        let text = "Metadata-Version: 2.1\nname: Foo_Bar\nVersion: 2.9.0+cu130\nSummary: x\n\nVersion: 9\n";
        let (name, version) = parse_metadata(text).unwrap();
        assert_eq!(name.as_ref(), "foo-bar");
        assert_eq!(version.to_string(), "2.9.0+cu130");
        assert_eq!(
            parse_metadata("Name: x\n").unwrap_err(),
            ParseError::MissingField("Version")
        );
        assert!(parse_metadata("Name: x\nVersion: not a version\n").is_err());
    }

    #[test]
    fn dist_info_names_installer_direct_url() {
        assert_eq!(
            parse_dist_info_name("torch-2.9.0+cu130.dist-info"),
            Some(("torch".into(), "2.9.0+cu130".into()))
        );
        assert_eq!(parse_dist_info_name("torch.egg-info"), None);
        assert_eq!(parse_installer("uv\n"), Some("uv".into()));
        assert_eq!(parse_installer("\n"), None);
        let d = parse_direct_url(r#"{"url": "file:///src/app", "dir_info": {"editable": true}}"#)
            .unwrap();
        assert!(d.editable);
        let d = parse_direct_url(
            r#"{"url": "https://github.com/x/y", "vcs_info": {"vcs": "git", "commit_id": "abc"}}"#,
        )
        .unwrap();
        assert_eq!(
            (d.vcs.as_deref(), d.commit.as_deref()),
            (Some("git"), Some("abc"))
        );
        assert!(parse_direct_url("{}").is_err());
    }
}
