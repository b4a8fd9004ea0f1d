//! The members of a `.tar.gz` sdist, held to what Python's `tarfile` — and so pip and the
//! build backends — would read from the same bytes, so that the tree sanctuary checks is the
//! tree they see.
//!
//! The `tar` crate reads the headers in raw mode; the extension headers (PAX `x` and `g`,
//! GNU long names `L` and `K`) are read here, each through a 1 MiB cap (the crate would
//! buffer any size), and applied to the member they describe. Refused, because readers would
//! disagree on where a member's data ends or what it is called:
//! - a PAX `size` that differs from the ustar header's size (the "size lie"; a PAX size over a
//!   zero ustar size too, which only files over 8 GiB need), a PAX `size` that is not a plain
//!   decimal, a PAX record that does not parse, or a `path`, `linkpath` or `size` given twice
//!   (readers differ on which one wins);
//! - a PAX `path` (or `linkpath`) beside a GNU long name (or link name): which one wins
//!   depends on their order in Python; two extension headers of one kind for one member; a
//!   global PAX header (`g`) that sets `path`, `linkpath` or `size`, or comes between a local
//!   one and its member; extension headers that describe no member;
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

/// The most an extension header (PAX, GNU long name) may hold.
const MAX_EXTENSION_HEADER: u64 = 1 << 20;

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

/// The extension headers read since the last member, for the next one.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Vec<(String, Vec<u8>)>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.long_name.is_none() && self.long_link.is_none() && self.pax.is_none()
    }
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
    let mut pending = Pending::default();
    let mut last = String::new();
    for entry in archive.entries().map_err(read_error)?.raw(true) {
        let mut entry = entry.map_err(read_error)?;
        let header_name = match entry.header().path_bytes() {
            name if name.is_empty() => "(unnamed)".to_string(),
            name => String::from_utf8_lossy(&name).into_owned(),
        };
        let bad = |reason: &str| refuse(sdist, &header_name, reason);
        match entry.header().entry_type() {
            EntryType::GNULongName if pending.long_name.is_some() => {
                return Err(bad("two GNU long names for one member"));
            }
            EntryType::GNULongName => {
                pending.long_name = Some(long_name(&mut entry, sdist, &header_name)?);
            }
            EntryType::GNULongLink if pending.long_link.is_some() => {
                return Err(bad("two GNU long link names for one member"));
            }
            EntryType::GNULongLink => {
                pending.long_link = Some(long_name(&mut entry, sdist, &header_name)?);
            }
            EntryType::XHeader if pending.pax.is_some() => {
                return Err(bad("two PAX headers for one member"));
            }
            EntryType::XHeader => {
                let data = extension_data(&mut entry, sdist, &header_name)?;
                pending.pax = Some(pax_records(&data, sdist, &header_name)?);
            }
            EntryType::XGlobalHeader if !pending.is_empty() => {
                return Err(bad(
                    "a global PAX header between a member and its extension headers",
                ));
            }
            EntryType::XGlobalHeader => check_global(&mut entry, sdist, &header_name)?,
            _ => {
                let (name, kind) = classify(&entry, std::mem::take(&mut pending), sdist)?;
                visitor.visit(&name, kind, &mut entry)?;
                last = name;
            }
        }
    }
    if !pending.is_empty() {
        return Err(refuse(
            sdist,
            &last,
            "extension headers after it that describe no member",
        ));
    }
    Ok(())
}

/// The member's name and kind from its header and the extension headers before it.
fn classify<R: Read>(
    entry: &tar::Entry<'_, R>,
    pending: Pending,
    sdist: &str,
) -> Result<(String, EntryKind), SdistError> {
    let header = entry.header();
    let pax = Pax::new(pending.pax.unwrap_or_default(), sdist, &header.path_bytes())?;
    let raw_name = match (pending.long_name, pax.path) {
        (Some(long), Some(_)) => {
            let name = String::from_utf8_lossy(&long).into_owned();
            return Err(refuse(
                sdist,
                &name,
                "both a GNU long name and a PAX `path`",
            ));
        }
        (Some(name), None) | (None, Some(name)) => name,
        (None, None) => header.path_bytes().into_owned(),
    };
    let lossy = String::from_utf8_lossy(&raw_name).into_owned();
    let name = String::from_utf8(raw_name)
        .map_err(|_| refuse(sdist, &lossy, "a name that is not UTF-8"))?;
    let bad = |reason: &str| refuse(sdist, &name, reason);
    if pax.sparse {
        return Err(bad("a sparse file"));
    }
    if header.as_ustar().is_none() && header.as_bytes()[345..500].iter().any(|b| *b != 0) {
        return Err(bad(
            "header bytes that Python's tarfile would read as a name prefix",
        ));
    }
    let size = header
        .entry_size()
        .map_err(|_| bad("an unreadable size field"))?;
    if let Some(pax_size) = pax.size
        && pax_size != size
    {
        return Err(bad(&format!(
            "its PAX header gives a size of {pax_size} bytes and its ustar header {size}: readers would disagree on where it ends"
        )));
    }
    let link = match (pending.long_link, pax.linkpath) {
        (Some(_), Some(_)) => return Err(bad("both a GNU long link name and a PAX `linkpath`")),
        (Some(link), None) | (None, Some(link)) => Some(link),
        (None, None) => header.link_name_bytes().map(|l| l.into_owned()),
    };
    let link = || -> Result<String, SdistError> {
        let link = link.ok_or_else(|| bad("a link without a target"))?;
        String::from_utf8(link).map_err(|_| bad("a link target that is not UTF-8"))
    };
    let kind = match header.entry_type() {
        // A v7 header: a "regular file" named with a trailing slash is a directory.
        EntryType::Regular if header.as_bytes()[156] == 0 && name.ends_with('/') => EntryKind::Dir,
        EntryType::Regular => {
            let mode = header.mode().map_err(|_| bad("an unreadable mode"))?;
            let executable = mode & 0o111 != 0;
            return Ok((name, EntryKind::File { size, executable }));
        }
        EntryType::Directory => EntryKind::Dir,
        EntryType::Symlink => EntryKind::Symlink(link()?),
        EntryType::Link => EntryKind::HardLink(link()?),
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
    Ok((name, kind))
}

/// What a local PAX header says that matters here.
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    sparse: bool,
}

impl Pax {
    /// `member` names the member in errors (its ustar name: the PAX one is not known yet).
    fn new(records: Vec<(String, Vec<u8>)>, sdist: &str, member: &[u8]) -> Result<Pax, SdistError> {
        let member = String::from_utf8_lossy(member);
        let bad = |reason: String| refuse(sdist, &member, reason);
        let mut pax = Pax {
            path: None,
            linkpath: None,
            size: None,
            sparse: false,
        };
        let mut seen = HashSet::new();
        for (key, value) in records {
            pax.sparse |= key.starts_with("GNU.sparse");
            if matches!(key.as_str(), "path" | "linkpath" | "size") && !seen.insert(key.clone()) {
                return Err(bad(format!("a PAX header that gives `{key}` twice")));
            }
            match key.as_str() {
                "path" => pax.path = Some(value),
                "linkpath" => pax.linkpath = Some(value),
                "size" => {
                    let size = std::str::from_utf8(&value)
                        .ok()
                        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                        .and_then(|v| v.parse::<u64>().ok())
                        .ok_or_else(|| {
                            bad("a PAX `size` that is not a decimal number".to_string())
                        })?;
                    pax.size = Some(size);
                }
                _ => {}
            }
        }
        Ok(pax)
    }
}

/// The data of an extension header, read through [`MAX_EXTENSION_HEADER`].
fn extension_data<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    sdist: &str,
    name: &str,
) -> Result<Vec<u8>, SdistError> {
    if entry.size() > MAX_EXTENSION_HEADER {
        return Err(refuse(sdist, name, "an extension header over 1 MiB"));
    }
    let mut data = Vec::new();
    entry
        .take(MAX_EXTENSION_HEADER)
        .read_to_end(&mut data)
        .map_err(|source| SdistError::Read {
            sdist: sdist.to_string(),
            source,
        })?;
    Ok(data)
}

/// A GNU long name: the data up to its terminating NULs, none inside.
fn long_name<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    sdist: &str,
    name: &str,
) -> Result<Vec<u8>, SdistError> {
    let mut data = extension_data(entry, sdist, name)?;
    while data.last() == Some(&0) {
        data.pop();
    }
    if data.contains(&0) {
        let shown = String::from_utf8_lossy(&data).into_owned();
        return Err(refuse(sdist, &shown, "a GNU long name with a NUL inside"));
    }
    Ok(data)
}

/// The records of a PAX header as `(key, value)`; a record that does not parse is refused.
fn pax_records(data: &[u8], sdist: &str, name: &str) -> Result<Vec<(String, Vec<u8>)>, SdistError> {
    let malformed = || refuse(sdist, name, "a malformed PAX header");
    let mut records = Vec::new();
    for extension in tar::PaxExtensions::new(data) {
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
    let data = extension_data(entry, sdist, name)?;
    for (key, _) in pax_records(&data, sdist, name)? {
        if matches!(key.as_str(), "path" | "linkpath" | "size") || key.starts_with("GNU.sparse") {
            return Err(refuse(
                sdist,
                name,
                format!("a global PAX header that sets `{key}` for the members after it"),
            ));
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
