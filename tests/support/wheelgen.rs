//! Generates the distributions a scenario publishes: real, installable wheels (package
//! `__init__.py`, extra files, optional padding, then the `.dist-info` entries `METADATA`,
//! `WHEEL`, `entry_points.txt`, optional `licenses/PADDING` and `RECORD` last) and small sdists
//! (`.tar.gz` holding `PKG-INFO`, legacy 2.1 or static 2.2 as the server's `sdist_pkg_info`
//! says, written by `tarball`; a version with a `build` table gets the buildable sdist of
//! `sdistgen` instead), and the core metadata both share. Output is deterministic: fixed
//! 1980-01-01 zip timestamps, mtime 0 in tar and gzip, entries in a fixed order.

use std::io::{Cursor, Write};
use std::str::FromStr;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use super::scenario::{SdistPkgInfo, VersionSpec, normalize};
use super::sdistgen;
use super::tarball::TarWriter;

/// One generated file.
#[derive(Clone, Debug)]
pub struct Dist {
    pub filename: String,
    pub bytes: Vec<u8>,
    /// Lowercase hex sha256 of `bytes`.
    pub sha256: String,
    /// The wheel's `METADATA` (what PEP 658 serves); `None` for sdists.
    pub metadata: Option<Vec<u8>>,
}

impl Dist {
    pub fn new(filename: String, bytes: Vec<u8>, metadata: Option<Vec<u8>>) -> Self {
        let sha256 = sha256_hex(&bytes);
        Self {
            filename,
            bytes,
            sha256,
            metadata,
        }
    }

    pub fn is_wheel(&self) -> bool {
        self.filename.ends_with(".whl")
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The version as it appears in file names and metadata: PEP 440 normalized when it parses,
/// otherwise as written.
pub fn normalize_version(version: &str) -> String {
    pep440_rs::Version::from_str(version)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| version.to_string())
}

/// The distribution name as file names spell it: normalized, `-` → `_`.
pub fn file_name_part(name: &str) -> String {
    normalize(name).replace('-', "_")
}

/// Every file one version publishes: its wheels (one per tag, default `py3-none-any`), then
/// its sdist (the crafted `sdist_override` when set; a plain one carries `pkg_info`).
pub fn dists_for(
    name: &str,
    version: &str,
    spec: &VersionSpec,
    pkg_info: SdistPkgInfo,
) -> Vec<Dist> {
    let mut out = Vec::new();
    if spec.wheel {
        let default_tags = ["py3-none-any".to_string()];
        let tags: &[String] = if spec.wheel_tags.is_empty() {
            &default_tags
        } else {
            &spec.wheel_tags
        };
        for tag in tags {
            out.push(wheel(name, version, spec, tag));
        }
    }
    if let Some(crafted) = &spec.sdist_override {
        out.push(crafted.clone());
    } else if spec.sdist {
        out.push(sdist(name, version, spec, pkg_info));
    }
    out
}

/// The core metadata (`METADATA` / `PKG-INFO`) of a version: Metadata-Version 2.1 with its
/// requirements.
pub fn metadata(name: &str, version: &str, spec: &VersionSpec) -> String {
    core_metadata(
        name,
        version,
        spec,
        &MetadataFields {
            metadata_version: "2.1",
            requires_python: true,
            requires: Some(&spec.requires),
            dynamic: &[],
        },
    )
}

/// The version's core metadata as Metadata-Version 2.2 with no `Dynamic` field: static under
/// PEP 643, so a frontend may take an sdist's `PKG-INFO` as the built wheel's metadata.
pub fn static_metadata(name: &str, version: &str, spec: &VersionSpec) -> String {
    core_metadata(
        name,
        version,
        spec,
        &MetadataFields {
            metadata_version: "2.2",
            requires_python: true,
            requires: Some(&spec.requires),
            dynamic: &[],
        },
    )
}

/// Which fields [`core_metadata`] writes.
pub struct MetadataFields<'a> {
    pub metadata_version: &'a str,
    /// Write `Requires-Python` (when the version has one).
    pub requires_python: bool,
    /// The `Requires-Dist` lines, then the extras (`Provides-Extra` and theirs); `None`:
    /// neither.
    pub requires: Option<&'a [String]>,
    /// `Dynamic` lines (Metadata-Version 2.2).
    pub dynamic: &'a [&'a str],
}

/// Core metadata with the fields `fields` selects: `Metadata-Version`, `Name`, `Version`,
/// `Summary`, `Dynamic`, `Requires-Python`, `Requires-Dist`, then each extra.
pub fn core_metadata(
    name: &str,
    version: &str,
    spec: &VersionSpec,
    fields: &MetadataFields,
) -> String {
    let mut m = String::new();
    m.push_str(&format!("Metadata-Version: {}\n", fields.metadata_version));
    m.push_str(&format!("Name: {name}\n"));
    m.push_str(&format!("Version: {}\n", normalize_version(version)));
    m.push_str(&format!("Summary: Test package {name}\n"));
    for field in fields.dynamic {
        m.push_str(&format!("Dynamic: {field}\n"));
    }
    if let (true, Some(rp)) = (fields.requires_python, &spec.requires_python) {
        m.push_str(&format!("Requires-Python: {rp}\n"));
    }
    let Some(requires) = fields.requires else {
        return m;
    };
    for req in requires {
        m.push_str(&format!("Requires-Dist: {req}\n"));
    }
    for (extra, reqs) in &spec.extras {
        m.push_str(&format!("Provides-Extra: {extra}\n"));
        for req in reqs {
            m.push_str(&format!(
                "Requires-Dist: {}\n",
                with_extra_marker(req, extra)
            ));
        }
    }
    m
}

/// `entry_points.txt` of a version, `None` when it has none.
pub fn entry_points_txt(spec: &VersionSpec) -> Option<String> {
    if spec.entry_points.is_empty() {
        return None;
    }
    let mut ep = String::new();
    for (group, items) in &spec.entry_points {
        ep.push_str(&format!("[{group}]\n"));
        for (k, v) in items {
            ep.push_str(&format!("{k} = {v}\n"));
        }
        ep.push('\n');
    }
    Some(ep)
}

/// The package's `__init__.py` (what `import <pkg>` runs), in wheels and source trees alike.
pub fn init_py(version: &str) -> String {
    format!("__version__ = \"{}\"\n", normalize_version(version))
}

/// `req` restricted to `extra`: `b>=1 ; extra == "x"`, or `b ; (marker) and extra == "x"`.
fn with_extra_marker(req: &str, extra: &str) -> String {
    match req.split_once(';') {
        Some((head, marker)) => format!(
            "{} ; ({}) and extra == \"{extra}\"",
            head.trim(),
            marker.trim()
        ),
        None => format!("{} ; extra == \"{extra}\"", req.trim()),
    }
}

/// Expands a compressed tag set (`cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64`)
/// into its tags.
pub fn expand_tags(tag: &str) -> Vec<String> {
    let parts: Vec<&str> = tag.splitn(3, '-').collect();
    if parts.len() != 3 {
        return vec![tag.to_string()];
    }
    let mut out = Vec::new();
    for py in parts[0].split('.') {
        for abi in parts[1].split('.') {
            for plat in parts[2].split('.') {
                out.push(format!("{py}-{abi}-{plat}"));
            }
        }
    }
    out
}

/// Builds one wheel for `tag`.
pub fn wheel(name: &str, version: &str, spec: &VersionSpec, tag: &str) -> Dist {
    let dist = file_name_part(name);
    let ver = normalize_version(version);
    let filename = format!("{dist}-{ver}-{tag}.whl");
    let dist_info = format!("{dist}-{ver}.dist-info");

    let mut entries: Vec<(String, Vec<u8>, CompressionMethod)> = Vec::new();
    entries.push((
        format!("{dist}/__init__.py"),
        init_py(version).into_bytes(),
        CompressionMethod::Deflated,
    ));
    for (path, content) in &spec.files {
        entries.push((
            path.clone(),
            content.clone().into_bytes(),
            CompressionMethod::Deflated,
        ));
    }
    if spec.pad_bytes > 0 {
        entries.push((
            format!("{dist}/_padding.bin"),
            noise(spec.pad_bytes),
            CompressionMethod::Stored,
        ));
    }
    let meta = metadata(name, version, spec).into_bytes();
    entries.push((
        format!("{dist_info}/METADATA"),
        meta.clone(),
        CompressionMethod::Deflated,
    ));
    let mut wheel_file = String::from(
        "Wheel-Version: 1.0\nGenerator: sanctuary-testgen (0.1)\nRoot-Is-Purelib: true\n",
    );
    for t in expand_tags(tag) {
        wheel_file.push_str(&format!("Tag: {t}\n"));
    }
    entries.push((
        format!("{dist_info}/WHEEL"),
        wheel_file.into_bytes(),
        CompressionMethod::Deflated,
    ));
    if let Some(ep) = entry_points_txt(spec) {
        entries.push((
            format!("{dist_info}/entry_points.txt"),
            ep.into_bytes(),
            CompressionMethod::Deflated,
        ));
    }
    if spec.tail_pad_bytes > 0 {
        entries.push((
            format!("{dist_info}/licenses/PADDING"),
            noise(spec.tail_pad_bytes),
            CompressionMethod::Stored,
        ));
    }
    let mut record = String::new();
    for (path, bytes, _) in &entries {
        record.push_str(&format!(
            "{path},sha256={},{}\n",
            b64_urlsafe_nopad(&Sha256::digest(bytes)),
            bytes.len()
        ));
    }
    let record_path = format!("{dist_info}/RECORD");
    record.push_str(&format!("{record_path},,\n"));
    entries.push((
        record_path,
        record.into_bytes(),
        CompressionMethod::Deflated,
    ));

    // Deflated bytes depend on flate2's backend (zlib-rs, set in Cargo.toml): changing it
    // changes every generated wheel's hash, which `tests/fixtures.rs` reports.
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for (path, bytes, method) in &entries {
        let options = SimpleFileOptions::default()
            .compression_method(*method)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644);
        zip.start_file(path.as_str(), options).expect("zip entry");
        zip.write_all(bytes).expect("zip write");
    }
    let bytes = zip.finish().expect("zip finish").into_inner();
    Dist::new(filename, bytes, Some(meta))
}

/// Builds the sdist: `<dist>-<ver>.tar.gz` with `<dist>-<ver>/PKG-INFO` as `pkg_info` says,
/// or, for a version with a `build` table, the buildable source tree of
/// [`sdistgen::build_sdist`].
pub fn sdist(name: &str, version: &str, spec: &VersionSpec, pkg_info: SdistPkgInfo) -> Dist {
    if spec.build.is_some() {
        return sdistgen::build_sdist(name, version, spec);
    }
    let stem = sdist_stem(name, version);
    let pkg_info = match pkg_info {
        SdistPkgInfo::Legacy => metadata(name, version, spec),
        SdistPkgInfo::Static => static_metadata(name, version, spec),
    }
    .into_bytes();
    let mut tar = TarWriter::new();
    tar.file(&format!("{stem}/PKG-INFO"), &pkg_info);
    Dist::new(format!("{stem}.tar.gz"), tar.finish_gz(), None)
}

/// `<dist>-<ver>`: an sdist's file stem and top directory (PEP 625).
pub fn sdist_stem(name: &str, version: &str) -> String {
    format!("{}-{}", file_name_part(name), normalize_version(version))
}

/// Deterministic incompressible bytes (xorshift64*).
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// RFC 4648 §5 base64 (URL- and file-name-safe alphabet), no padding, as RECORD uses.
pub fn b64_urlsafe_nopad(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
