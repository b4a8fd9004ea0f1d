//! The members of a `.tar.gz` sdist, read by the `tar` crate and held to what Python's
//! `tarfile` — and so pip and the build backends — would read from the same bytes, so that
//! the tree sanctuary checks is the tree they see. Refused, because the two readers would
//! disagree on where a member's data ends or what it is called:
//! - a PAX `size` that differs from a non-zero size in the ustar header (the "size lie");
//!   a PAX record that does not parse, a PAX `size` that is not a plain decimal, or a
//!   `path`, `linkpath` or `size` given twice (the `tar` crate takes the first, Python the
//!   last);
//! - a PAX `path` (or `linkpath`) beside a GNU long name (or link name), which each reader
//!   ranks differently; a global PAX header (`g`) that sets `path`, `linkpath` or `size`;
//! - a non-ustar header with bytes in the ustar `prefix` field (Python joins them to the
//!   name whatever the header's magic);
//! - data on a directory, link or device entry (Python skips data only after files);
//! - sparse files, devices, FIFOs, and entry types neither reader shares.
//!
//! The gzip stream is read as Python's `gzip` reads it, every member of a multi-member
//! stream, through a cap on the decompressed bytes ([`Limits::max_decompressed_bytes`]).

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{BufReader, Read};

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use super::SdistError;
use super::archive::{Limits, Visitor};
use super::tree::{EntryKind, refuse};

/// The most a global PAX header may hold.
const MAX_GLOBAL_HEADER: u64 = 1 << 20;

/// Feed every member of the `.tar.gz` in `reader` to `visitor`.
pub(super) fn walk(
    reader: impl Read,
    sdist: &str,
    limits: &Limits,
    visitor: &mut dyn Visitor,
) -> Result<(), SdistError> {
    let read = Cell::new(0);
    let capped = Capped {
        inner: MultiGzDecoder::new(BufReader::with_capacity(64 * 1024, reader)),
        read: &read,
        cap: limits.max_decompressed_bytes,
    };
    let result = walk_entries(capped, sdist, visitor);
    if read.get() > limits.max_decompressed_bytes {
        return Err(SdistError::Archive {
            sdist: sdist.to_string(),
            reason: format!(
                "it decompresses to more than {} bytes",
                limits.max_decompressed_bytes
            ),
        });
    }
    result
}

fn walk_entries(
    reader: impl Read,
    sdist: &str,
    visitor: &mut dyn Visitor,
) -> Result<(), SdistError> {
    let read_error = |source| SdistError::Read {
        sdist: sdist.to_string(),
        source,
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(read_error)? {
        let mut entry = entry.map_err(read_error)?;
        if let Some((name, kind)) = classify(&mut entry, sdist)? {
            visitor.visit(&name, kind, &mut entry)?;
        }
    }
    Ok(())
}

/// The member's name and kind, once its headers are checked; `None` for a global PAX
/// header, which is no member.
fn classify<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    sdist: &str,
) -> Result<Option<(String, EntryKind)>, SdistError> {
    if entry.header().entry_type() == EntryType::XGlobalHeader {
        let name = String::from_utf8_lossy(&entry.header().path_bytes()).into_owned();
        check_global(entry, sdist, &name)?;
        return Ok(None);
    }
    let raw_name = entry.path_bytes().into_owned();
    let lossy = String::from_utf8_lossy(&raw_name).into_owned();
    let name = String::from_utf8(raw_name)
        .map_err(|_| refuse(sdist, &lossy, "a name that is not UTF-8"))?;
    let bad = |reason: &str| refuse(sdist, &name, reason);
    check_pax(entry, sdist, &name)?;
    let header = entry.header();
    if header.as_ustar().is_none() && header.as_bytes()[345..500].iter().any(|b| *b != 0) {
        return Err(bad(
            "header bytes that Python's tarfile would read as a name prefix",
        ));
    }
    let size = entry.size();
    let entry_type = header.entry_type();
    let kind = match entry_type {
        // A v7 header: a "regular file" named with a trailing slash is a directory.
        EntryType::Regular if header.as_bytes()[156] == 0 && name.ends_with('/') => EntryKind::Dir,
        EntryType::Regular => {
            let mode = header.mode().map_err(|_| bad("an unreadable mode"))?;
            return Ok(Some((
                name,
                EntryKind::File {
                    size,
                    executable: mode & 0o111 != 0,
                },
            )));
        }
        EntryType::Directory => EntryKind::Dir,
        EntryType::Symlink => EntryKind::Symlink(link_name(entry, sdist, &name)?),
        EntryType::Link => EntryKind::HardLink(link_name(entry, sdist, &name)?),
        EntryType::Char => return Err(bad("a character device")),
        EntryType::Block => return Err(bad("a block device")),
        EntryType::Fifo => return Err(bad("a FIFO")),
        EntryType::GNUSparse => return Err(bad("a sparse file")),
        other => {
            let byte = other.as_byte();
            return Err(bad(&format!(
                "an entry of type `{}` (0x{byte:02x}), which is not a file, directory or link",
                char::from(byte).escape_default()
            )));
        }
    };
    if size != 0 {
        return Err(bad(
            "data on an entry that is not a file (Python's tarfile would read it as the next header)",
        ));
    }
    Ok(Some((name, kind)))
}

fn link_name<R: Read>(
    entry: &tar::Entry<'_, R>,
    sdist: &str,
    name: &str,
) -> Result<String, SdistError> {
    let target = entry
        .link_name_bytes()
        .ok_or_else(|| refuse(sdist, name, "a link without a target"))?;
    String::from_utf8(target.into_owned())
        .map_err(|_| refuse(sdist, name, "a link target that is not UTF-8"))
}

/// The local PAX header of `entry`, if any, against the ustar header and the GNU long names;
/// see the module documentation.
fn check_pax<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    sdist: &str,
    name: &str,
) -> Result<(), SdistError> {
    let bad = |reason: String| refuse(sdist, name, reason);
    let header_size = entry
        .header()
        .entry_size()
        .map_err(|_| bad("an unreadable size field".to_string()))?;
    let records = pax_records(entry.pax_extensions(), sdist, name)?;
    let mut seen = HashSet::new();
    for (key, value) in &records {
        if key.starts_with("GNU.sparse") {
            return Err(bad("a sparse file".to_string()));
        }
        if !matches!(key.as_str(), "path" | "linkpath" | "size") {
            continue;
        }
        if !seen.insert(key.as_str()) {
            return Err(bad(format!("a PAX header that gives `{key}` twice")));
        }
        match key.as_str() {
            "size" => {
                let size = std::str::from_utf8(value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| bad("a PAX `size` that is not a decimal number".to_string()))?;
                if header_size != 0 && header_size != size {
                    return Err(bad(format!(
                        "its PAX header gives a size of {size} bytes and its ustar header {header_size}: readers would disagree on where it ends"
                    )));
                }
            }
            "path" if entry.path_bytes().as_ref() != value.as_slice() => {
                return Err(bad("both a GNU long name and a PAX `path`".to_string()));
            }
            "linkpath" if entry.link_name_bytes().as_deref() != Some(value.as_slice()) => {
                return Err(bad(
                    "both a GNU long link name and a PAX `linkpath`".to_string()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The records of a PAX header as `(key, value)`; a record that does not parse is refused.
fn pax_records(
    extensions: std::io::Result<Option<tar::PaxExtensions<'_>>>,
    sdist: &str,
    name: &str,
) -> Result<Vec<(String, Vec<u8>)>, SdistError> {
    let malformed = || refuse(sdist, name, "a malformed PAX header");
    let Some(extensions) = extensions.map_err(|_| malformed())? else {
        return Ok(Vec::new());
    };
    let mut records = Vec::new();
    for extension in extensions {
        let extension = extension.map_err(|_| malformed())?;
        let key = extension.key().map_err(|_| malformed())?;
        records.push((key.to_string(), extension.value_bytes().to_vec()));
    }
    Ok(records)
}

/// A global PAX header sets nothing that changes what a member is called or how long it is.
fn check_global<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    sdist: &str,
    name: &str,
) -> Result<(), SdistError> {
    let bad = |reason: &str| refuse(sdist, name, reason);
    if entry.size() > MAX_GLOBAL_HEADER {
        return Err(bad("a global PAX header over 1 MiB"));
    }
    let mut bytes = Vec::new();
    entry
        .read_to_end(&mut bytes)
        .map_err(|source| SdistError::Read {
            sdist: sdist.to_string(),
            source,
        })?;
    // With its own data read, what `pax_extensions` still finds is a local header that came
    // before this one (which the two readers would apply differently).
    let local = pax_records(entry.pax_extensions(), sdist, name)?;
    if !local.is_empty() {
        return Err(bad("a global PAX header with a local one before it"));
    }
    for extension in tar::PaxExtensions::new(&bytes) {
        let key = extension
            .ok()
            .and_then(|e| e.key().ok())
            .ok_or_else(|| bad("a malformed global PAX header"))?;
        if matches!(key, "path" | "linkpath" | "size") || key.starts_with("GNU.sparse") {
            return Err(bad(&format!(
                "a global PAX header that sets `{key}` for the members after it"
            )));
        }
    }
    Ok(())
}

/// The decompressed stream, counted; reading past `cap` is an error (the caller reports it
/// from the count, whatever error the tar reader wraps it in).
struct Capped<'c, R> {
    inner: R,
    read: &'c Cell<u64>,
    cap: u64,
}

impl<R: Read> Read for Capped<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        if self.read.get() > self.cap {
            return Err(std::io::Error::other(
                "the decompressed stream exceeds its cap",
            ));
        }
        Ok(n)
    }
}
