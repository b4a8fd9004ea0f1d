//! Reading a remote wheel's `*.dist-info/METADATA` with HTTP range requests.
//!
//! One suffix request (`Range: bytes=-65536`) usually suffices: it holds the end-of-central-
//! directory record, the central directory and, since wheels store `.dist-info` last, the
//! METADATA entry itself. Only what is missing is fetched next (the central directory, then
//! exactly the entry's span). Servers that ignore `Range` (200) give us the whole file; 416 and
//! 501 fall back to downloading the wheel (sha256-verified when known).
//!
//! The zip structures are read by hand rather than through `zip::ZipArchive` over a
//! `Read + Seek` adapter: the archive reader reads the whole central directory and every
//! local header through synchronous seeks, which would mean blocking HTTP requests inside
//! async code and no control over how many requests are made. Reading the three fixed-layout
//! records we need (EOCD, central directory entries, one local header) lets us plan requests
//! from the offsets we already hold.
//!
//! Answers read into memory are capped ([`Limit::RANGE`]); a server that answers with a
//! whole wheel larger than that (it ignored `Range`), or with no range support at all, has
//! the wheel streamed into a temporary file, where the same records are read.

use std::io::{Read, Seek as _, SeekFrom, Write as _};

use sha2::{Digest, Sha256};
use url::Url;

use super::IndexError;
use crate::http::redact::redacted;
use crate::http::{HttpClient, Limit, StreamError};

/// The size of the first (suffix) range request.
pub const TAIL_SIZE: u64 = 65_536;

/// Largest METADATA we accept after decompression (guards against zip bombs).
const MAX_METADATA: u64 = 64 * 1024 * 1024;

/// The METADATA of a wheel, and what was learnt about the wheel on the way.
#[derive(Clone, Debug)]
pub struct WheelMetadata {
    pub bytes: Vec<u8>,
    /// Path of the METADATA entry inside the wheel.
    pub path: String,
    /// The total size of the wheel, when the server told us.
    pub size: Option<u64>,
    /// The wheel's `Last-Modified` header, when the server sent one.
    pub last_modified: Option<String>,
}

/// Read the METADATA of the remote wheel at `url` (served by index `index`).
pub async fn fetch_wheel_metadata(
    client: &HttpClient,
    index: &str,
    url: &Url,
    sha256: Option<&str>,
) -> Result<WheelMetadata, IndexError> {
    match from_ranges(client, index, url, sha256).await {
        Err(IndexError::TooLarge { .. }) => {
            tracing::debug!(url = %redacted(url), "an answer too large to hold; downloading");
            download(client, index, url, sha256).await
        }
        result => result,
    }
}

async fn from_ranges(
    client: &HttpClient,
    index: &str,
    url: &Url,
    sha256: Option<&str>,
) -> Result<WheelMetadata, IndexError> {
    let bad = |reason: String| IndexError::BadMetadata {
        file: redacted(url).to_string(),
        reason,
    };
    let range = format!("bytes=-{TAIL_SIZE}");
    let first = client
        .send(
            index,
            reqwest::Method::GET,
            url,
            &[("Range", range)],
            Limit::RANGE,
        )
        .await?;
    let (start, total) = match first.status {
        206 => match first.header("content-range").and_then(parse_content_range) {
            Some((start, _, total)) => (start, total),
            None => {
                tracing::debug!(url = %redacted(url), "206 without a usable Content-Range; downloading");
                return download(client, index, url, sha256).await;
            }
        },
        200 => {
            tracing::debug!(url = %redacted(url), "the server ignored Range; using the full body");
            let last_modified = first.header("last-modified").map(str::to_string);
            return from_full_body(first.body, last_modified, url, sha256);
        }
        416 | 501 => {
            tracing::debug!(url = %redacted(url), status = first.status, "no range support; downloading");
            return download(client, index, url, sha256).await;
        }
        status => {
            return Err(IndexError::from_status(
                index,
                url,
                status,
                first.credentials,
            ));
        }
    };
    let last_modified = first.header("last-modified").map(str::to_string);
    let mut fetched = Fetched {
        chunks: vec![(start, first.body)],
    };
    let total = total.or_else(|| start.checked_add(fetched.chunks[0].1.len() as u64));

    let Some(eocd) = find_eocd(&fetched.chunks[0].1, start) else {
        tracing::debug!(url = %redacted(url), "no end-of-central-directory in the tail; downloading");
        return download(client, index, url, sha256).await;
    };
    let cd_end = eocd
        .cd_offset
        .checked_add(eocd.cd_size)
        .ok_or_else(|| bad("central directory overflows".into()))?;
    if fetched.slice(eocd.cd_offset, cd_end).is_none() {
        let chunk = fetch_range(client, index, url, eocd.cd_offset, cd_end).await?;
        if chunk.0 == 0 && chunk.1.len() as u64 != cd_end - eocd.cd_offset {
            return from_full_body(chunk.1, last_modified, url, sha256);
        }
        fetched.chunks.push(chunk);
    }
    let cd = fetched
        .slice(eocd.cd_offset, cd_end)
        .ok_or_else(|| bad("the server did not return the central directory".into()))?;
    let entries = parse_central_directory(cd).map_err(bad)?;
    let entry = pick_metadata_entry(&entries, url).map_err(bad)?;
    let span_end = span_end(&entries, entry, eocd.cd_offset);
    if fetched.slice(entry.local_offset, span_end).is_none() {
        let chunk = fetch_range(client, index, url, entry.local_offset, span_end).await?;
        if chunk.0 == 0 && chunk.1.len() as u64 != span_end - entry.local_offset {
            return from_full_body(chunk.1, last_modified, url, sha256);
        }
        fetched.chunks.push(chunk);
    }
    let data = fetched
        .slice(entry.local_offset, span_end)
        .ok_or_else(|| bad("the server did not return the METADATA entry".into()))?;
    let bytes = extract(data, entry).map_err(bad)?;
    Ok(WheelMetadata {
        bytes,
        path: entry.name.clone(),
        size: total,
        last_modified,
    })
}

/// Fetch `[start, end)`; returns `(offset, bytes)`. A 200 answer is the whole file at 0.
async fn fetch_range(
    client: &HttpClient,
    index: &str,
    url: &Url,
    start: u64,
    end: u64,
) -> Result<(u64, Vec<u8>), IndexError> {
    if end <= start {
        return Ok((start, Vec::new()));
    }
    let range = format!("bytes={start}-{}", end - 1);
    let resp = client
        .send(
            index,
            reqwest::Method::GET,
            url,
            &[("Range", range)],
            Limit::RANGE,
        )
        .await?;
    match resp.status {
        206 => {
            let offset = resp
                .header("content-range")
                .and_then(parse_content_range)
                .map(|(s, _, _)| s)
                .unwrap_or(start);
            Ok((offset, resp.body))
        }
        200 => Ok((0, resp.body)),
        status => Err(IndexError::from_status(
            index,
            url,
            status,
            resp.credentials,
        )),
    }
}

/// Stream the whole wheel into a temporary file (sha256-verified when known) and read its
/// METADATA there: memory stays bounded whatever the wheel's size.
async fn download(
    client: &HttpClient,
    index: &str,
    url: &Url,
    sha256: Option<&str>,
) -> Result<WheelMetadata, IndexError> {
    let io = |e: std::io::Error| {
        IndexError::Other(format!(
            "cannot store the download of {}: {e}",
            redacted(url)
        ))
    };
    let file = tempfile::tempfile().map_err(io)?;
    let state = std::sync::Mutex::new((std::io::BufWriter::new(file), Sha256::new(), 0u64));
    let sink = || {
        state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let result = client
        .stream(
            index,
            url,
            &mut || {
                let mut s = sink();
                s.0.seek(SeekFrom::Start(0))?;
                s.0.get_ref().set_len(0)?;
                s.1 = Sha256::new();
                s.2 = 0;
                Ok(())
            },
            &mut |chunk: &[u8]| {
                let mut s = sink();
                s.0.write_all(chunk)?;
                s.1.update(chunk);
                s.2 += chunk.len() as u64;
                Ok(())
            },
        )
        .await;
    let (writer, hasher, size) = state
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match result {
        Ok(200) => {}
        Ok(status) => {
            let sent = client.sends_credentials(url);
            return Err(IndexError::from_status(index, url, status, sent));
        }
        Err(StreamError::Transport(err)) => return Err(err),
        Err(StreamError::Sink(err)) => return Err(io(err)),
    }
    if let Some(expected) = sha256 {
        let actual = hex::encode(hasher.finalize());
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(IndexError::HashMismatch {
                url: url.clone(),
                expected: expected.to_string(),
                actual,
            });
        }
    }
    let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
    let shown = url.clone();
    let (path, bytes) = tokio::task::spawn_blocking(move || metadata_from_file(file, size, &shown))
        .await
        .map_err(|e| io(std::io::Error::other(e)))??;
    Ok(WheelMetadata {
        bytes,
        path,
        size: Some(size),
        last_modified: None,
    })
}

/// The `(path, METADATA)` of a complete wheel of `len` bytes in `file`, reading only its
/// end-of-central-directory, central directory and METADATA entry.
fn metadata_from_file(
    mut file: std::fs::File,
    len: u64,
    url: &Url,
) -> Result<(String, Vec<u8>), IndexError> {
    let bad = |reason: String| IndexError::BadMetadata {
        file: redacted(url).to_string(),
        reason,
    };
    let mut read_at = |offset: u64, n: u64| -> Result<Vec<u8>, IndexError> {
        if n > Limit::RANGE.bytes || offset.checked_add(n).is_none_or(|end| end > len) {
            return Err(bad(format!(
                "a zip record at {offset} of {n} bytes is out of bounds"
            )));
        }
        let mut buf = vec![0; n as usize];
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| bad(format!("cannot read the downloaded wheel: {e}")))?;
        Ok(buf)
    };
    let tail_start = len.saturating_sub(TAIL_SIZE);
    let tail = read_at(tail_start, len - tail_start)?;
    let eocd = find_eocd(&tail, tail_start)
        .ok_or_else(|| bad("not a zip file (no end of central directory)".into()))?;
    let cd = read_at(eocd.cd_offset, eocd.cd_size)?;
    let entries = parse_central_directory(&cd).map_err(bad)?;
    let entry = pick_metadata_entry(&entries, url).map_err(bad)?;
    let span_end = span_end(&entries, entry, eocd.cd_offset);
    let span = span_end
        .checked_sub(entry.local_offset)
        .ok_or_else(|| bad("METADATA starts past the central directory".into()))?;
    let data = read_at(entry.local_offset, span)?;
    let bytes = extract(&data, entry).map_err(bad)?;
    Ok((entry.name.clone(), bytes))
}

fn from_full_body(
    body: Vec<u8>,
    last_modified: Option<String>,
    url: &Url,
    sha256: Option<&str>,
) -> Result<WheelMetadata, IndexError> {
    if let Some(expected) = sha256 {
        let actual = hex::encode(Sha256::digest(&body));
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(IndexError::HashMismatch {
                url: url.clone(),
                expected: expected.to_string(),
                actual,
            });
        }
    }
    let (path, bytes) = metadata_from_zip(&body, url)?;
    Ok(WheelMetadata {
        bytes,
        path,
        size: Some(body.len() as u64),
        last_modified,
    })
}

/// The `(path, METADATA)` of a complete wheel held in memory.
pub fn metadata_from_zip(wheel: &[u8], url: &Url) -> Result<(String, Vec<u8>), IndexError> {
    let bad = |reason: String| IndexError::BadMetadata {
        file: redacted(url).to_string(),
        reason,
    };
    let eocd = find_eocd(wheel, 0)
        .ok_or_else(|| bad("not a zip file (no end of central directory)".into()))?;
    let cd = slice_at(wheel, eocd.cd_offset, eocd.cd_size)
        .ok_or_else(|| bad("truncated central directory".into()))?;
    let entries = parse_central_directory(cd).map_err(bad)?;
    let entry = pick_metadata_entry(&entries, url).map_err(bad)?;
    let start = usize::try_from(entry.local_offset).map_err(|_| bad("offset too large".into()))?;
    let data = wheel
        .get(start..)
        .ok_or_else(|| bad("METADATA offset past the end".into()))?;
    let bytes = extract(data, entry).map_err(bad)?;
    Ok((entry.name.clone(), bytes))
}

/// Byte ranges of the file fetched so far.
struct Fetched {
    chunks: Vec<(u64, Vec<u8>)>,
}

impl Fetched {
    /// `[start, end)` when one chunk holds all of it.
    fn slice(&self, start: u64, end: u64) -> Option<&[u8]> {
        self.chunks.iter().find_map(|(offset, bytes)| {
            let from = start.checked_sub(*offset)?;
            slice_at(bytes, from, end.checked_sub(start)?)
        })
    }
}

fn slice_at(bytes: &[u8], from: u64, len: u64) -> Option<&[u8]> {
    let from = usize::try_from(from).ok()?;
    let len = usize::try_from(len).ok()?;
    bytes.get(from..from.checked_add(len)?)
}

/// Where `entry`'s span ends: where the next entry (or the central directory) starts.
fn span_end(entries: &[CdEntry], entry: &CdEntry, cd_offset: u64) -> u64 {
    entries
        .iter()
        .map(|e| e.local_offset)
        .filter(|&o| o > entry.local_offset)
        .min()
        .unwrap_or(cd_offset)
        .min(cd_offset)
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`).
pub fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    (start <= end).then_some((start, end, total))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Where the central directory is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Eocd {
    pub cd_offset: u64,
    pub cd_size: u64,
    /// The number of entries the record declares.
    pub entries: u64,
    /// Where the central directory must end for no byte to go unaccounted for: the offset
    /// of the zip64 end record, or of the end record itself.
    pub cd_end: u64,
}

/// Find the end-of-central-directory record in `tail`, the bytes of the file from offset
/// `tail_start` to its end (zip64 aware: its records must lie in `tail` too, the zip64 end
/// record immediately followed by its locator and then the end record).
pub fn find_eocd(tail: &[u8], tail_start: u64) -> Option<Eocd> {
    const SIG: u32 = 0x0605_4b50;
    let last = tail.len().checked_sub(22)?;
    // The record is followed by its comment and nothing else: scan backwards.
    let pos = (0..=last).rev().find(|&p| {
        u32_at(tail, p) == Some(SIG)
            && u16_at(tail, p + 20).is_some_and(|c| p + 22 + usize::from(c) == tail.len())
    })?;
    let cd_size = u32_at(tail, pos + 12)?;
    let cd_offset = u32_at(tail, pos + 16)?;
    let entries = u16_at(tail, pos + 10)?;
    if cd_size != u32::MAX && cd_offset != u32::MAX && entries != u16::MAX {
        return Some(Eocd {
            cd_offset: u64::from(cd_offset),
            cd_size: u64::from(cd_size),
            entries: u64::from(entries),
            cd_end: tail_start.checked_add(u64::try_from(pos).ok()?)?,
        });
    }
    // Zip64: a 20-byte locator precedes the EOCD and points at the zip64 EOCD record.
    let loc = pos.checked_sub(20)?;
    if u32_at(tail, loc)? != 0x0706_4b50 {
        return None;
    }
    let record_at = u64_at(tail, loc + 8)?;
    let record = usize::try_from(record_at.checked_sub(tail_start)?).ok()?;
    if u32_at(tail, record)? != 0x0606_4b50 {
        return None;
    }
    // The record's size field counts what follows it (12 bytes in).
    let record_len = usize::try_from(u64_at(tail, record + 4)?.checked_add(12)?).ok()?;
    if record.checked_add(record_len)? != loc {
        return None;
    }
    Some(Eocd {
        entries: u64_at(tail, record + 32)?,
        cd_size: u64_at(tail, record + 40)?,
        cd_offset: u64_at(tail, record + 48)?,
        cd_end: record_at,
    })
}

/// One central directory entry (the fields we use).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CdEntry {
    pub name: String,
    /// The name as stored.
    pub name_raw: Vec<u8>,
    pub method: u16,
    /// The general purpose flags (bit 3: a data descriptor follows the data).
    pub flags: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub local_offset: u64,
}

/// Parse every entry of a central directory.
pub fn parse_central_directory(cd: &[u8]) -> Result<Vec<CdEntry>, String> {
    parse_entries(cd).map(|(entries, _)| entries)
}

/// Parse a central directory that must be entries and nothing else: no byte after the
/// last one, and each zip64 field the record defers to present in its extra field.
pub fn parse_central_directory_exact(cd: &[u8]) -> Result<Vec<CdEntry>, String> {
    let (entries, used) = parse_entries(cd)?;
    if used != cd.len() {
        return Err(format!(
            "the central directory is {} bytes, its entries {used}",
            cd.len()
        ));
    }
    match entries.iter().find(|e| {
        [e.compressed_size, e.uncompressed_size, e.local_offset].contains(&u64::from(u32::MAX))
    }) {
        Some(e) => Err(format!(
            "entry `{}` defers a size or offset to a zip64 field it lacks",
            e.name
        )),
        None => Ok(entries),
    }
}

/// The entries, and how many bytes of `cd` they take.
fn parse_entries(cd: &[u8]) -> Result<(Vec<CdEntry>, usize), String> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    while at < cd.len() {
        let truncated = || format!("truncated central directory entry at byte {at}");
        if u32_at(cd, at).ok_or_else(truncated)? != 0x0201_4b50 {
            // Trailing data (e.g. a digital signature record) ends the listing.
            break;
        }
        let flags = u16_at(cd, at + 8).ok_or_else(truncated)?;
        let method = u16_at(cd, at + 10).ok_or_else(truncated)?;
        let crc32 = u32_at(cd, at + 16).ok_or_else(truncated)?;
        let mut compressed = u64::from(u32_at(cd, at + 20).ok_or_else(truncated)?);
        let mut uncompressed = u64::from(u32_at(cd, at + 24).ok_or_else(truncated)?);
        let name_len = usize::from(u16_at(cd, at + 28).ok_or_else(truncated)?);
        let extra_len = usize::from(u16_at(cd, at + 30).ok_or_else(truncated)?);
        let comment_len = usize::from(u16_at(cd, at + 32).ok_or_else(truncated)?);
        let mut offset = u64::from(u32_at(cd, at + 42).ok_or_else(truncated)?);
        let name_start = at + 46;
        let name = cd
            .get(name_start..name_start + name_len)
            .ok_or_else(truncated)?;
        let extra = cd
            .get(name_start + name_len..name_start + name_len + extra_len)
            .ok_or_else(truncated)?;
        // Zip64 extended information: present fields follow in a fixed order.
        if let Some(body) = zip64_extra(extra) {
            let mut f = 0usize;
            for field in [&mut uncompressed, &mut compressed, &mut offset] {
                if *field == u64::from(u32::MAX) {
                    if let Some(v) = u64_at(body, f) {
                        *field = v;
                    }
                    f += 8;
                }
            }
        }
        entries.push(CdEntry {
            name: String::from_utf8_lossy(name).into_owned(),
            name_raw: name.to_vec(),
            method,
            flags,
            crc32,
            compressed_size: compressed,
            uncompressed_size: uncompressed,
            local_offset: offset,
        });
        at = name_start + name_len + extra_len + comment_len;
    }
    Ok((entries, at))
}

/// The body of the zip64 extended information field (id 1) of an extra field, if any.
pub fn zip64_extra(extra: &[u8]) -> Option<&[u8]> {
    let mut e = 0usize;
    while let (Some(id), Some(size)) = (u16_at(extra, e), u16_at(extra, e + 2)) {
        let body = extra
            .get(e + 4..e + 4 + usize::from(size))
            .unwrap_or_default();
        if id == 0x0001 {
            return Some(body);
        }
        e += 4 + usize::from(size);
    }
    None
}

/// The top-level `*.dist-info/METADATA` entry; when there are several, the one whose
/// directory matches the wheel's `name-version` (compared normalized).
fn pick_metadata_entry<'e>(entries: &'e [CdEntry], url: &Url) -> Result<&'e CdEntry, String> {
    let candidates: Vec<&CdEntry> = entries
        .iter()
        .filter(|e| {
            e.name.split_once('/').is_some_and(|(dir, file)| {
                file == "METADATA" && dir.to_ascii_lowercase().ends_with(".dist-info")
            })
        })
        .collect();
    match candidates.as_slice() {
        [] => Err("the wheel has no `*.dist-info/METADATA`".to_string()),
        [one] => Ok(one),
        many => {
            let norm = |s: &str| s.to_ascii_lowercase().replace(['-', '.'], "_");
            let filename = super::simple::filename_of(url).unwrap_or_default();
            // `name-version` of the wheel file name.
            let stem: String = filename
                .splitn(3, '-')
                .take(2)
                .collect::<Vec<_>>()
                .join("-");
            let wanted = norm(&format!("{stem}.dist-info"));
            many.iter()
                .find(|e| {
                    e.name
                        .split_once('/')
                        .is_some_and(|(dir, _)| norm(dir) == wanted)
                })
                .copied()
                .ok_or_else(|| {
                    format!(
                        "{} `.dist-info/METADATA` entries and none matches `{stem}`",
                        many.len()
                    )
                })
        }
    }
}

/// Decompress `entry` from `data`, the bytes starting at its local header.
pub fn extract(data: &[u8], entry: &CdEntry) -> Result<Vec<u8>, String> {
    if u32_at(data, 0) != Some(0x0403_4b50) {
        return Err(format!("no local header for `{}`", entry.name));
    }
    let truncated = || format!("truncated entry `{}`", entry.name);
    let name_len = usize::from(u16_at(data, 26).ok_or_else(truncated)?);
    let extra_len = usize::from(u16_at(data, 28).ok_or_else(truncated)?);
    let start = 30 + name_len + extra_len;
    let len = usize::try_from(entry.compressed_size).map_err(|_| truncated())?;
    let compressed = data
        .get(start..start.checked_add(len).ok_or_else(truncated)?)
        .ok_or_else(truncated)?;
    match entry.method {
        0 => Ok(compressed.to_vec()),
        8 => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(compressed)
                .take(MAX_METADATA)
                .read_to_end(&mut out)
                .map_err(|e| format!("cannot inflate `{}`: {e}", entry.name))?;
            Ok(out)
        }
        m => Err(format!(
            "`{}` uses unsupported compression method {m}",
            entry.name
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::http::test_server::{Recorded, Reply, TestServer};
    use proptest::prelude::*;
    use std::io::Write;
    use std::time::Duration;

    /// A wheel with `metadata` in `foo-1.0.dist-info/METADATA`; `padding_after` bytes of
    /// incompressible data stored after it push it out of the 64 KiB tail.
    pub(crate) fn wheel(metadata: &str, padding_after: usize, deflate: bool) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let method = if deflate {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        zip.start_file("foo/__init__.py", opts).unwrap();
        zip.write_all(&noise(100_000)).unwrap();
        zip.start_file("foo-1.0.dist-info/METADATA", opts).unwrap();
        zip.write_all(metadata.as_bytes()).unwrap();
        if padding_after > 0 {
            let stored = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            zip.start_file("foo/zz_data.bin", stored).unwrap();
            zip.write_all(&noise(padding_after)).unwrap();
        }
        zip.start_file("foo-1.0.dist-info/RECORD", opts).unwrap();
        zip.write_all(b"foo/__init__.py,,\n").unwrap();
        zip.finish().unwrap().into_inner()
    }

    /// Deterministic incompressible bytes (a linear congruential generator).
    fn noise(len: usize) -> Vec<u8> {
        let mut x = 12345u32;
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect()
    }

    pub(crate) const META: &str =
        "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nRequires-Dist: bar>=1\n\nHello\n";

    /// Serve `bytes` honouring (suffix and bounded) range requests when `ranges` is true.
    pub(crate) fn range_handler(
        bytes: Vec<u8>,
        ranges: bool,
    ) -> impl Fn(&Recorded) -> Reply + Send + Sync {
        move |req| {
            let total = bytes.len();
            match req.header("range").filter(|_| ranges) {
                Some(range) => {
                    let spec = range.strip_prefix("bytes=").unwrap();
                    let (start, end) = match spec.split_once('-').unwrap() {
                        ("", n) => (total.saturating_sub(n.parse().unwrap()), total - 1),
                        (s, e) => (
                            s.parse().unwrap(),
                            e.parse::<usize>().unwrap().min(total - 1),
                        ),
                    };
                    Reply::new(206, bytes[start..=end].to_vec())
                        .header("Content-Range", &format!("bytes {start}-{end}/{total}"))
                }
                None => Reply::new(200, bytes.clone()),
            }
        }
    }

    fn client() -> HttpClient {
        HttpClient::new(4)
            .unwrap()
            .with_retries(1, Duration::from_millis(5))
    }

    #[tokio::test]
    async fn one_range_request_when_metadata_is_in_the_tail() {
        for deflate in [true, false] {
            let w = wheel(META, 0, deflate);
            assert!(w.len() > 65_536);
            let server = TestServer::start(range_handler(w.clone(), true)).await;
            let url = server.url("foo-1.0-py3-none-any.whl");
            let meta = fetch_wheel_metadata(&client(), "t", &url, None)
                .await
                .unwrap();
            assert_eq!(meta.bytes, META.as_bytes());
            assert_eq!(meta.path, "foo-1.0.dist-info/METADATA");
            assert_eq!(meta.size, Some(w.len() as u64));
            let reqs = server.requests();
            assert_eq!(reqs.len(), 1, "{reqs:?}");
            assert_eq!(reqs[0].header("range"), Some("bytes=-65536"));
        }
    }

    #[tokio::test]
    async fn two_requests_when_metadata_is_outside_the_tail() {
        let w = wheel(META, 100_000, true);
        let server = TestServer::start(range_handler(w.clone(), true)).await;
        let url = server.url("foo-1.0-py3-none-any.whl");
        let meta = fetch_wheel_metadata(&client(), "t", &url, None)
            .await
            .unwrap();
        assert_eq!(meta.bytes, META.as_bytes());
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2, "{reqs:?}");
        let second = reqs[1].header("range").unwrap();
        assert!(
            second.starts_with("bytes=") && !second.starts_with("bytes=-"),
            "{second}"
        );
    }

    #[tokio::test]
    async fn three_requests_when_the_central_directory_is_bigger_than_the_tail() {
        // Thousands of entries (like torch): the central directory alone exceeds 64 KiB.
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for i in 0..2500 {
            zip.start_file(format!("foo/some/rather/long/module/path/m{i:05}.py"), opts)
                .unwrap();
            zip.write_all(b"x = 1\n").unwrap();
        }
        zip.start_file("Foo-1.0.dist-info/METADATA", opts).unwrap();
        zip.write_all(META.as_bytes()).unwrap();
        for i in 0..2500 {
            zip.start_file(format!("foo/more/rather/long/module/path/n{i:05}.py"), opts)
                .unwrap();
            zip.write_all(b"y = 2\n").unwrap();
        }
        let w = zip.finish().unwrap().into_inner();
        let server = TestServer::start(range_handler(w, true)).await;
        let url = server.url("foo-1.0-py3-none-any.whl");
        let meta = fetch_wheel_metadata(&client(), "t", &url, None)
            .await
            .unwrap();
        assert_eq!(meta.bytes, META.as_bytes());
        assert_eq!(meta.path, "Foo-1.0.dist-info/METADATA");
        let reqs = server.requests();
        assert_eq!(reqs.len(), 3, "{reqs:?}");
        assert!(reqs.iter().all(|r| r.header("range").is_some()));
    }

    #[tokio::test]
    async fn ignored_range_uses_the_full_body_and_checks_the_hash() {
        let w = wheel(META, 0, true);
        let server = TestServer::start(range_handler(w.clone(), false)).await;
        let url = server.url("foo-1.0-py3-none-any.whl");
        let sha = hex::encode(Sha256::digest(&w));
        let meta = fetch_wheel_metadata(&client(), "t", &url, Some(&sha))
            .await
            .unwrap();
        assert_eq!(meta.bytes, META.as_bytes());
        assert_eq!(meta.size, Some(w.len() as u64));
        assert_eq!(server.requests().len(), 1);
        let wrong = "0".repeat(64);
        let err = fetch_wheel_metadata(&client(), "t", &url, Some(&wrong))
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::HashMismatch { .. }), "{err}");
    }

    #[tokio::test]
    async fn unsatisfiable_range_falls_back_to_download() {
        let w = wheel(META, 0, false);
        let server = TestServer::start(move |req| {
            if req.header("range").is_some() {
                Reply::new(416, "")
            } else {
                Reply::new(200, w.clone())
            }
        })
        .await;
        let url = server.url("foo-1.0-py3-none-any.whl");
        let meta = fetch_wheel_metadata(&client(), "t", &url, None)
            .await
            .unwrap();
        assert_eq!(meta.bytes, META.as_bytes());
        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        assert!(reqs[1].header("range").is_none());
    }

    /// Regression: a server without range support had the whole wheel read into memory,
    /// whatever its size; it is streamed into a temporary file now, and read there.
    #[tokio::test]
    async fn a_download_is_read_from_a_temporary_file() {
        let w = wheel(META, 100_000, true);
        let sha = hex::encode(Sha256::digest(&w));
        let server = TestServer::start(move |req| match req.header("range") {
            Some(_) => Reply::new(501, ""),
            None => Reply::new(200, w.clone()),
        })
        .await;
        let url = server.url("foo-1.0-py3-none-any.whl");
        let meta = fetch_wheel_metadata(&client(), "t", &url, Some(&sha))
            .await
            .unwrap();
        assert_eq!(meta.bytes, META.as_bytes());
        assert_eq!(meta.path, "foo-1.0.dist-info/METADATA");
        let wrong = "0".repeat(64);
        let err = fetch_wheel_metadata(&client(), "t", &url, Some(&wrong))
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::HashMismatch { .. }), "{err}");
        let junk = TestServer::start(|req| match req.header("range") {
            Some(_) => Reply::new(416, ""),
            None => Reply::new(200, "not a zip at all"),
        })
        .await;
        let url = junk.url("foo-1.0-py3-none-any.whl");
        let err = fetch_wheel_metadata(&client(), "t", &url, None)
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::BadMetadata { .. }), "{err}");
    }

    #[test]
    fn small_wheel_read_whole() {
        let w = wheel(META, 0, true);
        let url = Url::parse("file:///x/foo-1.0-py3-none-any.whl").unwrap();
        let (path, bytes) = metadata_from_zip(&w, &url).unwrap();
        assert_eq!(path, "foo-1.0.dist-info/METADATA");
        assert_eq!(bytes, META.as_bytes());
        assert!(metadata_from_zip(b"not a zip", &url).is_err());
    }

    #[test]
    fn content_ranges() {
        assert_eq!(
            parse_content_range("bytes 10-19/100"),
            Some((10, 19, Some(100)))
        );
        assert_eq!(parse_content_range("bytes 10-19/*"), Some((10, 19, None)));
        assert_eq!(parse_content_range("bytes 19-10/100"), None);
        assert_eq!(parse_content_range("items 1-2/3"), None);
    }

    proptest! {
        #[test]
        fn zip_parsers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), start in 0u64..1000) {
            let _ = find_eocd(&bytes, start);
            if let Ok(entries) = parse_central_directory(&bytes) {
                for e in &entries {
                    let _ = extract(&bytes, e);
                }
            }
            let _ = metadata_from_zip(&bytes, &Url::parse("http://x/y.whl").unwrap());
            let _ = parse_content_range(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn any_tail_of_a_wheel_finds_its_directory(tail_len in 22usize..4000) {
            let w = wheel(META, 0, true);
            let tail_len = tail_len.min(w.len());
            let start = w.len() - tail_len;
            let full = find_eocd(&w, 0).unwrap();
            if let Some(eocd) = find_eocd(&w[start..], start as u64) {
                prop_assert_eq!(eocd, full);
            }
        }
    }
}
