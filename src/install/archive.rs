//! The zip structure of a wheel, checked before a byte of it is unpacked, so that the
//! archive sanctuary installs is the one every other reader sees: Python's `zipfile` and pip
//! read the central directory, streaming readers (uv's) read the local headers in order.
//!
//! [`check`] refuses an archive unless:
//! - the end-of-central-directory record ends the file (only its own comment may follow it);
//! - the central directory runs exactly up to the (zip64) end record, holds the number of
//!   entries the record declares and nothing else, and lists no name twice;
//! - the declared uncompressed sizes add up to at most [`MAX_UNPACKED_SIZE`];
//! - each local header agrees with its central directory record: signature, name, method,
//!   the data-descriptor flag, CRC-32 and sizes (those of a zip64 extra field included; one
//!   such field at most), no encryption; a data descriptor, when flagged, repeats them;
//! - the entries, ordered by offset, tile the archive from its first byte to the central
//!   directory: no prefix (a self-extracting stub, or an archive joined to the front of this
//!   one), no gap (room for a local header only a streaming reader would see), no overlap
//!   (two names for one byte range).
//!
//! The records are parsed by [`crate::index::range`] ([`find_eocd`],
//! [`parse_central_directory_exact`]), the same code that reads a remote wheel's metadata.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};

use crate::index::range::{CdEntry, find_eocd, parse_central_directory_exact, zip64_extra};

/// The most a wheel may unpack to, all entries together (as their central directory
/// declares; reading an entry stops past its declared size). The largest wheels (CUDA
/// libraries, torch) unpack to a few GiB.
pub const MAX_UNPACKED_SIZE: u64 = 16 << 30;

/// The end-of-central-directory record (22 bytes), its longest comment, and room for a
/// zip64 end record and locator before it.
const TAIL: u64 = 22 + 0xffff + 20 + 56 + 1024;

/// Why an archive is refused.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot read the archive")]
    Io(#[from] std::io::Error),
    /// The archive as a whole.
    #[error("{0}")]
    Layout(String),
    #[error(
        "entry `{entry}`: the local file header disagrees with the central directory ({field})"
    )]
    Header { entry: String, field: &'static str },
    #[error("the central directory lists `{0}` twice")]
    Duplicate(String),
}

/// The central directory of a checked archive, in its order.
#[derive(Debug)]
pub struct Checked {
    pub entries: Vec<CdEntry>,
    pub cd_offset: u64,
}

/// Check the archive `raw` holds; see the module documentation.
pub fn check(raw: &mut (impl Read + Seek)) -> Result<Checked, ArchiveError> {
    let len = raw.seek(SeekFrom::End(0))?;
    let tail_start = len.saturating_sub(TAIL);
    let mut tail = Vec::new();
    raw.seek(SeekFrom::Start(tail_start))?;
    raw.read_to_end(&mut tail)?;
    let eocd = find_eocd(&tail, tail_start).ok_or_else(|| {
        layout("no end-of-central-directory record ends the file: bytes after the end record, or not a zip archive".to_string())
    })?;
    // The central directory ends where the end records begin; where it starts then says
    // whether every offset counts from the first byte of the file.
    let cd_start = eocd
        .cd_end
        .checked_sub(eocd.cd_size)
        .ok_or_else(|| layout("the central directory is larger than the file".to_string()))?;
    if cd_start > eocd.cd_offset {
        return Err(prefix(cd_start - eocd.cd_offset));
    }
    if cd_start < eocd.cd_offset {
        return Err(layout(
            "the central directory runs past its end record".to_string(),
        ));
    }
    let mut cd = vec![0u8; usize::try_from(eocd.cd_size).map_err(|_| too_big())?];
    raw.seek(SeekFrom::Start(eocd.cd_offset))?;
    raw.read_exact(&mut cd)?;
    let entries = parse_central_directory_exact(&cd).map_err(layout)?;
    if entries.len() as u64 != eocd.entries {
        return Err(layout(format!(
            "the end record declares {} entries, the central directory holds {}",
            eocd.entries,
            entries.len()
        )));
    }
    check_total(&entries)?;
    let mut names = HashSet::with_capacity(entries.len());
    if let Some(twice) = entries.iter().find(|e| !names.insert(&e.name_raw)) {
        return Err(ArchiveError::Duplicate(twice.name.clone()));
    }
    let mut spans = Vec::with_capacity(entries.len());
    for entry in &entries {
        spans.push(local_span(raw, entry)?);
    }
    check_tiling(spans, eocd.cd_offset)?;
    Ok(Checked {
        entries,
        cd_offset: eocd.cd_offset,
    })
}

fn layout(message: String) -> ArchiveError {
    ArchiveError::Layout(message)
}

fn too_big() -> ArchiveError {
    layout("the central directory does not fit in memory".to_string())
}

fn prefix(bytes: u64) -> ArchiveError {
    layout(format!(
        "{bytes} bytes before the first entry that the archive's offsets do not count (a self-extracting stub, or another archive joined in front)"
    ))
}

/// `n` bytes in GiB, MiB or KiB (`16 MiB`, `22.0 GiB`).
pub fn human(n: u64) -> String {
    let (unit, name) = match n {
        n if n >= 1 << 30 => (1u64 << 30, "GiB"),
        n if n >= 1 << 20 => (1 << 20, "MiB"),
        _ => (1 << 10, "KiB"),
    };
    if n.is_multiple_of(unit) {
        format!("{} {name}", n / unit)
    } else {
        format!("{:.1} {name}", n as f64 / unit as f64)
    }
}

/// The declared uncompressed sizes, together, within [`MAX_UNPACKED_SIZE`].
fn check_total(entries: &[CdEntry]) -> Result<(), ArchiveError> {
    let total = entries
        .iter()
        .try_fold(0u64, |sum, e| sum.checked_add(e.uncompressed_size))
        .unwrap_or(u64::MAX);
    if total > MAX_UNPACKED_SIZE {
        return Err(layout(format!(
            "it declares {} uncompressed, more than the {} sanctuary unpacks from one wheel",
            human(total),
            human(MAX_UNPACKED_SIZE)
        )));
    }
    Ok(())
}

/// The bytes one entry occupies: local header, data, data descriptor.
struct Span<'a> {
    start: u64,
    end: u64,
    name: &'a str,
}

/// The fixed part of a local file header: its first 30 bytes, which the name and the extra
/// field follow.
pub(super) struct LocalHeader {
    pub(super) flags: u16,
    pub(super) method: u16,
    pub(super) crc32: u32,
    pub(super) compressed_size: u32,
    pub(super) uncompressed_size: u32,
    pub(super) name_len: usize,
    pub(super) extra_len: usize,
}

impl LocalHeader {
    pub(super) const LEN: usize = 30;

    /// The header in `fixed`; `None` when it does not start with the signature `PK\x03\x04`.
    pub(super) fn parse(fixed: &[u8; LocalHeader::LEN]) -> Option<LocalHeader> {
        let u16_at = |i: usize| u16::from_le_bytes([fixed[i], fixed[i + 1]]);
        let u32_at =
            |i: usize| u32::from_le_bytes([fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]]);
        (u32_at(0) == 0x0403_4b50).then(|| LocalHeader {
            flags: u16_at(6),
            method: u16_at(8),
            crc32: u32_at(14),
            compressed_size: u32_at(18),
            uncompressed_size: u32_at(22),
            name_len: usize::from(u16_at(26)),
            extra_len: usize::from(u16_at(28)),
        })
    }
}

/// Read the local header of `entry`, compare it with the central directory, and return
/// the span of the entry.
fn local_span<'a>(
    raw: &mut (impl Read + Seek),
    entry: &'a CdEntry,
) -> Result<Span<'a>, ArchiveError> {
    let mismatch = |field| ArchiveError::Header {
        entry: entry.name.clone(),
        field,
    };
    let mut fixed = [0u8; LocalHeader::LEN];
    raw.seek(SeekFrom::Start(entry.local_offset))
        .and_then(|_| raw.read_exact(&mut fixed))
        .map_err(|_| mismatch("unreadable local header"))?;
    let header = LocalHeader::parse(&fixed).ok_or_else(|| mismatch("signature"))?;
    let flags = header.flags;
    if flags & 0x01 != 0 || entry.flags & 0x01 != 0 {
        return Err(mismatch("encrypted"));
    }
    if flags & 0x08 != entry.flags & 0x08 {
        return Err(mismatch("data descriptor flag"));
    }
    if header.method != entry.method {
        return Err(mismatch("compression method"));
    }
    let (name_len, extra_len) = (header.name_len, header.extra_len);
    let mut variable = vec![0u8; name_len + extra_len];
    raw.read_exact(&mut variable)
        .map_err(|_| mismatch("unreadable local header"))?;
    let (name, extra) = variable.split_at(name_len);
    if name != entry.name_raw.as_slice() {
        return Err(mismatch("file name"));
    }
    if extra_fields(extra).filter(|(id, _)| *id == 1).count() > 1 {
        return Err(mismatch("two zip64 extra fields"));
    }
    // With a data descriptor (flag bit 3) the local CRC and sizes are zero; the descriptor
    // after the data holds them.
    if flags & 0x08 == 0 {
        if header.crc32 != entry.crc32 {
            return Err(mismatch("CRC-32"));
        }
        check_sizes(
            entry,
            header.compressed_size,
            header.uncompressed_size,
            zip64_extra(extra),
        )
        .map_err(mismatch)?;
    }
    let data_start = entry.local_offset + (LocalHeader::LEN + name_len + extra_len) as u64;
    let data_end = data_start
        .checked_add(entry.compressed_size)
        .ok_or_else(|| mismatch("compressed size"))?;
    let descriptor = if flags & 0x08 != 0 {
        descriptor_len(raw, data_end, entry).map_err(mismatch)?
    } else {
        0
    };
    Ok(Span {
        start: entry.local_offset,
        end: data_end + descriptor,
        name: &entry.name,
    })
}

/// The local sizes: the 32-bit fields, or where one is `0xFFFFFFFF`, the zip64 extra
/// field's (uncompressed first), must be the central directory's.
fn check_sizes(
    entry: &CdEntry,
    compressed: u32,
    uncompressed: u32,
    zip64: Option<&[u8]>,
) -> Result<(), &'static str> {
    let mut body = zip64.unwrap_or_default();
    let mut next = |field: u32, name: &'static str| -> Result<u64, &'static str> {
        if field != u32::MAX {
            return Ok(u64::from(field));
        }
        let (value, rest) = body.split_first_chunk::<8>().ok_or(name)?;
        body = rest;
        Ok(u64::from_le_bytes(*value))
    };
    let uncompressed = next(uncompressed, "zip64 uncompressed size")?;
    let compressed = next(compressed, "zip64 compressed size")?;
    let zip64 = zip64.is_some();
    if uncompressed != entry.uncompressed_size {
        return Err(if zip64 {
            "zip64 uncompressed size"
        } else {
            "uncompressed size"
        });
    }
    if compressed != entry.compressed_size {
        return Err(if zip64 {
            "zip64 compressed size"
        } else {
            "compressed size"
        });
    }
    Ok(())
}

/// `(id, body)` of each field of an extra field.
fn extra_fields(extra: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = extra;
    std::iter::from_fn(move || {
        let (head, tail) = rest.split_first_chunk::<4>()?;
        let id = u16::from_le_bytes([head[0], head[1]]);
        let size = usize::from(u16::from_le_bytes([head[2], head[3]])).min(tail.len());
        let (body, after) = tail.split_at(size);
        rest = after;
        Some((id, body))
    })
}

/// The length of the data descriptor at `at` (12, 16, 20 or 24 bytes: an optional
/// signature, the CRC-32, then 4- or 8-byte sizes), which must repeat the central
/// directory's values.
fn descriptor_len(
    raw: &mut (impl Read + Seek),
    at: u64,
    entry: &CdEntry,
) -> Result<u64, &'static str> {
    let mut bytes = Vec::with_capacity(24);
    raw.seek(SeekFrom::Start(at))
        .and_then(|_| raw.by_ref().take(24).read_to_end(&mut bytes))
        .map_err(|_| "unreadable data descriptor")?;
    let signed = bytes.starts_with(&0x0807_4b50u32.to_le_bytes());
    let body = if signed { &bytes[4..] } else { &bytes[..] };
    let u32_at = |i: usize| {
        body.get(i..i + 4)
            .map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    };
    let u64_at = |i: usize| {
        body.get(i..i + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if u32_at(0) != Some(u64::from(entry.crc32)) {
        return Err("data descriptor CRC-32");
    }
    let expected = (Some(entry.compressed_size), Some(entry.uncompressed_size));
    let head = if signed { 4 } else { 0 };
    if (u32_at(4), u32_at(8)) == expected {
        Ok(head + 12)
    } else if (u64_at(4), u64_at(12)) == expected {
        Ok(head + 20)
    } else {
        Err("data descriptor sizes")
    }
}

/// The spans, ordered by offset, must run from byte 0 to the central directory, each
/// starting where the previous one ends.
fn check_tiling(mut spans: Vec<Span>, cd_offset: u64) -> Result<(), ArchiveError> {
    spans.sort_by_key(|s| s.start);
    let mut end = 0u64;
    let mut previous: Option<&str> = None;
    for span in &spans {
        match (span.start.cmp(&end), previous) {
            (std::cmp::Ordering::Equal, _) => {}
            (std::cmp::Ordering::Greater, None) => return Err(prefix(span.start)),
            (std::cmp::Ordering::Greater, Some(before)) => {
                return Err(layout(format!(
                    "{} bytes between entries `{before}` and `{}` belong to no entry",
                    span.start - end,
                    span.name
                )));
            }
            (std::cmp::Ordering::Less, before) => {
                return Err(layout(format!(
                    "entries `{}` and `{}` overlap",
                    before.unwrap_or_default(),
                    span.name
                )));
            }
        }
        end = span.end;
        previous = Some(span.name);
    }
    match (end.cmp(&cd_offset), previous) {
        (std::cmp::Ordering::Equal, _) => Ok(()),
        (std::cmp::Ordering::Less, None) => Err(prefix(cd_offset)),
        (std::cmp::Ordering::Less, Some(last)) => Err(layout(format!(
            "{} bytes between the last entry `{last}` and the central directory belong to no entry",
            cd_offset - end
        ))),
        (std::cmp::Ordering::Greater, last) => Err(layout(format!(
            "entry `{}` overlaps the central directory",
            last.unwrap_or_default()
        ))),
    }
}
