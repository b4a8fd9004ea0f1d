//! The steps of [`super::wheel::unpack`]: the archive's structure ([`super::archive`]), the
//! names and layout of its entries, the dist-info files it is judged by (`WHEEL`,
//! `METADATA`, `RECORD`, `entry_points.txt`, each read through its size cap), then the
//! files, each written once, hashed as it is written and compared with `RECORD` before the
//! next is read, into a temporary directory renamed into place.
//!
//! Memory and disk stay bounded whatever the archive claims: the declared sizes are capped
//! as a whole before anything is written, no entry is read past its declared size, and the
//! only entries held in memory are the four dist-info files, each under its cap.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use sha2::{Digest as _, Sha256};

use super::ahead::{Done, Extracted};
use super::archive::{self, ArchiveError, Checked};
use super::entry_points;
use super::wheel::{
    InstallError, MAX_ENTRY_POINTS_SIZE, MAX_METADATA_SIZE, MAX_RECORD_SIZE, MAX_WHEEL_SIZE,
    SCHEME_KEYS, UNPACK_PREFIX, UNPACKED_FORMAT, UNPACKED_MANIFEST, UnpackOptions, UnpackedFile,
    UnpackedWheel, check_entry_name, same_distribution,
};
use crate::environment::parse::{
    RecordHash, b64_urlsafe_encode, parse_dist_info_name, parse_metadata, parse_record,
};

/// One file of the archive (directories left out).
struct Entry {
    index: usize,
    /// As the archive spells it.
    name: String,
    /// Its components, `.` and empty ones dropped.
    parts: Vec<String>,
    /// The declared uncompressed size.
    size: u64,
    executable: bool,
}

/// [`super::wheel::unpack`] from `reader`, with a second reader `raw` on the same bytes for
/// the checks of the records the zip crate reads for itself.
/// `ahead`: what [`super::ahead`] unpacked while the archive downloaded, taken in place of
/// unpacking those files again once the archive passed every check.
pub(super) fn unpack_from(
    wheel_path: &Path,
    reader: impl Read + Seek,
    mut raw: impl Read + Seek,
    dest: &Path,
    options: &UnpackOptions,
    ahead: Option<Extracted>,
) -> Result<UnpackedWheel, InstallError> {
    let wheel = wheel_path.to_path_buf();
    let checked = archive::check(&mut raw).map_err(|e| archive_error(&wheel, e))?;
    let mut zip = zip::ZipArchive::new(reader).map_err(|source| InstallError::Zip {
        wheel: wheel.clone(),
        source,
    })?;
    let entries = entries(&wheel, &mut zip, &checked)?;
    let dist_info = find_dist_info(&wheel, &entries)?;
    check_layout(&wheel, &entries, &dist_info)?;
    let mut reader = EntryReader::new();
    let small = read_dist_info_files(&wheel, &mut zip, &entries, &dist_info, &mut reader)?;
    check_dist_info_files(&wheel, &small, &dist_info)?;
    let record = if options.verify_record {
        Some(Record::new(&wheel, &dist_info, small.get("RECORD"))?)
    } else {
        None
    };
    if let Some(record) = &record {
        record.check_listed(&entries, &dist_info)?;
    }
    let taken = ahead.and_then(|a| {
        let files: Vec<(usize, &[String])> = entries
            .iter()
            .map(|e| (e.index, e.parts.as_slice()))
            .collect();
        a.take_for(&checked.entries, &files)
    });
    let mut writer = match taken {
        Some((tmp, done)) => Extract::with(&wheel, dest, tmp, done, reader),
        None => Extract::new(&wheel, dest, reader)?,
    };
    let mut files = Vec::with_capacity(entries.len());
    let mut taken = 0;
    for entry in &entries {
        if let Some(adopted) = writer.adopt(entry)? {
            taken += 1;
            let (file, digest) = adopted;
            if let Some(record) = &record {
                record.verify(&entry.name, &digest)?;
            }
            files.push(file);
            continue;
        }
        let kept = small.values().find(|(i, _)| *i == entry.index);
        let (file, digest) = writer.extract(&mut zip, entry, kept.map(|(_, b)| b.as_slice()))?;
        if let Some(record) = &record {
            record.verify(&entry.name, &digest)?;
        }
        files.push(file);
    }
    #[cfg(test)]
    TAKEN_AHEAD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((dest.to_path_buf(), taken));
    tracing::trace!("{}: {taken} files unpacked ahead", wheel.display());
    let unpacked = UnpackedWheel {
        format: UNPACKED_FORMAT,
        root: dest.to_path_buf(),
        wheel: wheel_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sha256: options.sha256.clone(),
        dist_info,
        files,
    };
    writer.finish(unpacked)
}

/// Test support: how many files each unpacking (by destination) took from
/// [`super::ahead`].
#[cfg(test)]
pub(crate) static TAKEN_AHEAD: std::sync::Mutex<Vec<(PathBuf, usize)>> =
    std::sync::Mutex::new(Vec::new());

fn archive_error(wheel: &Path, e: ArchiveError) -> InstallError {
    let wheel = wheel.to_path_buf();
    match e {
        ArchiveError::Io(source) => InstallError::Read { wheel, source },
        ArchiveError::Layout(message) => InstallError::Archive { wheel, message },
        ArchiveError::Header { entry, field } => InstallError::HeaderMismatch {
            wheel,
            entry,
            field,
        },
        ArchiveError::Duplicate(name) => InstallError::Duplicate {
            wheel,
            first: name.clone(),
            entry: name.clone(),
            dest: PathBuf::from(name),
        },
    }
}

/// The archive's files, with names checked, after making sure the zip crate reads the
/// central directory [`archive::check`] checked.
fn entries<R: Read + Seek>(
    wheel: &Path,
    zip: &mut zip::ZipArchive<R>,
    checked: &Checked,
) -> Result<Vec<Entry>, InstallError> {
    let other = |what: &str| InstallError::Archive {
        wheel: wheel.to_path_buf(),
        message: format!("the zip reader reads another archive than the one checked ({what})"),
    };
    if zip.len() != checked.entries.len()
        || zip.offset() != 0
        || zip.central_directory_start() != checked.cd_offset
    {
        return Err(other("its central directory"));
    }
    let mut out = Vec::with_capacity(zip.len());
    for (index, cd) in checked.entries.iter().enumerate() {
        let entry = zip
            .by_index_raw(index)
            .map_err(|source| InstallError::Zip {
                wheel: wheel.to_path_buf(),
                source,
            })?;
        let same = entry.name_raw() == cd.name_raw.as_slice()
            && entry.header_start() == cd.local_offset
            && entry.compressed_size() == cd.compressed_size
            && entry.size() == cd.uncompressed_size
            && entry.crc32() == cd.crc32;
        if !same {
            return Err(other(&cd.name));
        }
        let unsafe_path = |reason| InstallError::UnsafePath {
            wheel: wheel.to_path_buf(),
            entry: cd.name.clone(),
            reason,
        };
        let text = std::str::from_utf8(&cd.name_raw).map_err(|_| unsafe_path("not UTF-8"))?;
        let parts = check_entry_name(text).map_err(unsafe_path)?;
        if entry.is_dir() || text.ends_with('/') {
            continue;
        }
        out.push(Entry {
            index,
            name: text.to_string(),
            parts,
            size: cd.uncompressed_size,
            executable: entry.unix_mode().is_some_and(|m| m & 0o111 != 0),
        });
    }
    Ok(out)
}

fn layout_error(wheel: &Path, message: String) -> InstallError {
    InstallError::Layout {
        wheel: wheel.to_path_buf(),
        message,
    }
}

/// The one `<name>-<version>.dist-info` directory at the top.
fn find_dist_info(wheel: &Path, entries: &[Entry]) -> Result<String, InstallError> {
    let dist_infos: BTreeSet<&str> = entries
        .iter()
        .filter(|e| e.parts.len() > 1 && e.parts[0].ends_with(".dist-info"))
        .map(|e| e.parts[0].as_str())
        .collect();
    let dist_info = match dist_infos.iter().collect::<Vec<_>>().as_slice() {
        [one] => one.to_string(),
        [] => return Err(layout_error(wheel, "no .dist-info directory".to_string())),
        many => {
            let many: Vec<&str> = many.iter().map(|s| **s).collect();
            return Err(layout_error(
                wheel,
                format!("several .dist-info directories: {}", many.join(", ")),
            ));
        }
    };
    if parse_dist_info_name(&dist_info).is_none() {
        return Err(layout_error(
            wheel,
            format!("`{dist_info}` is not `<name>-<version>.dist-info`"),
        ));
    }
    Ok(dist_info)
}

/// The `.data` directory's use, and no two entries on one normalized path.
fn check_layout(wheel: &Path, entries: &[Entry], dist_info: &str) -> Result<(), InstallError> {
    let data_dir = format!("{}.data", dist_info.trim_end_matches(".dist-info"));
    let mut seen: HashMap<String, &str> = HashMap::new();
    for Entry { name, parts, .. } in entries {
        let unsafe_path = |reason| InstallError::UnsafePath {
            wheel: wheel.to_path_buf(),
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
        if let Some(first) = seen.insert(parts.join("/"), name) {
            return Err(InstallError::Duplicate {
                wheel: wheel.to_path_buf(),
                first: first.to_string(),
                entry: name.clone(),
                dest: PathBuf::from(parts.join("/")),
            });
        }
    }
    Ok(())
}

/// The dist-info files the wheel is judged by, and the most of each that is read.
const JUDGED_BY: [(&str, u64); 4] = [
    ("WHEEL", MAX_WHEEL_SIZE),
    ("METADATA", MAX_METADATA_SIZE),
    ("RECORD", MAX_RECORD_SIZE),
    ("entry_points.txt", MAX_ENTRY_POINTS_SIZE),
];

/// `WHEEL`, `METADATA`, `RECORD` and `entry_points.txt`, by file name: (entry index,
/// content), each read through its cap.
fn read_dist_info_files<R: Read + Seek>(
    wheel: &Path,
    zip: &mut zip::ZipArchive<R>,
    entries: &[Entry],
    dist_info: &str,
    reader: &mut EntryReader,
) -> Result<HashMap<&'static str, (usize, Vec<u8>)>, InstallError> {
    let mut out = HashMap::new();
    for entry in entries {
        if entry.parts.len() != 2 || entry.parts[0] != dist_info {
            continue;
        }
        let Some((file, cap)) = JUDGED_BY.iter().find(|(f, _)| *f == entry.parts[1]) else {
            continue;
        };
        if entry.size > *cap {
            return Err(InstallError::TooLarge {
                wheel: wheel.to_path_buf(),
                entry: entry.name.clone(),
                declared: entry.size,
                cap: *cap,
            });
        }
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
        read_entry(wheel, zip, entry, reader, &mut |chunk| {
            bytes.extend_from_slice(chunk);
            Ok(())
        })?;
        out.insert(*file, (entry.index, bytes));
    }
    Ok(out)
}

/// What reading entries reuses from one entry to the next (one for a whole unpack): the
/// inflater, tens of KiB of state that the zip crate's reader allocates and frees for every
/// entry (thousands a wheel; the holes they leave between longer-lived allocations
/// fragmented the heap of a cold sync), and the buffers.
pub(super) struct EntryReader {
    inflater: flate2::Decompress,
    input: Box<[u8]>,
    output: Box<[u8]>,
}

impl EntryReader {
    pub(super) fn new() -> EntryReader {
        EntryReader {
            inflater: flate2::Decompress::new(false),
            input: vec![0u8; 64 * 1024].into_boxed_slice(),
            output: vec![0u8; 64 * 1024].into_boxed_slice(),
        }
    }
}

/// One step of `inflater` from `input` into `output`: the input bytes it used, the output
/// bytes it made, and whether the deflate stream ended.
pub(super) fn inflate_some(
    inflater: &mut flate2::Decompress,
    input: &[u8],
    output: &mut [u8],
) -> Result<(usize, usize, bool), flate2::DecompressError> {
    let (before_in, before_out) = (inflater.total_in(), inflater.total_out());
    let status = crate::spent::time(crate::spent::Work::Inflating, || {
        inflater.decompress(input, output, flate2::FlushDecompress::None)
    })?;
    // Both differences are at most the slices' lengths.
    let used = (inflater.total_in() - before_in) as usize;
    let made = (inflater.total_out() - before_out) as usize;
    Ok((used, made, status == flate2::Status::StreamEnd))
}

/// `read`, retried when interrupted.
fn read_some(from: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match from.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// Stream the content of `entry` into `sink`, never past its declared size (an error), and
/// to its end, where its size and CRC-32 must be the central directory's. The archive is
/// read raw and inflated here, with `reader`'s inflater (stored and deflated entries only:
/// what wheels use).
fn read_entry<R: Read + Seek>(
    wheel: &Path,
    zip: &mut zip::ZipArchive<R>,
    entry: &Entry,
    reader: &mut EntryReader,
    sink: &mut dyn FnMut(&[u8]) -> Result<(), InstallError>,
) -> Result<(), InstallError> {
    let corrupt = |message: String| InstallError::Corrupt {
        wheel: wheel.to_path_buf(),
        entry: entry.name.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, message),
    };
    let read_err = |source| InstallError::Corrupt {
        wheel: wheel.to_path_buf(),
        entry: entry.name.clone(),
        source,
    };
    let mut raw = zip
        .by_index_raw(entry.index)
        .map_err(|source| InstallError::Zip {
            wheel: wheel.to_path_buf(),
            source,
        })?;
    let expected_crc = raw.crc32();
    let mut crc = flate2::Crc::new();
    let mut size = 0u64;
    let mut emit = |chunk: &[u8]| {
        size += chunk.len() as u64;
        if size > entry.size {
            return Err(InstallError::TooLong {
                wheel: wheel.to_path_buf(),
                entry: entry.name.clone(),
                declared: entry.size,
            });
        }
        crc.update(chunk);
        sink(chunk)
    };
    let EntryReader {
        inflater,
        input,
        output,
    } = reader;
    match raw.compression() {
        zip::CompressionMethod::Stored => loop {
            let n = read_some(&mut raw, output).map_err(read_err)?;
            if n == 0 {
                break;
            }
            emit(&output[..n])?;
        },
        zip::CompressionMethod::Deflated => {
            inflater.reset(false);
            let (mut start, mut end, mut eof) = (0, 0, false);
            loop {
                if start == end && !eof {
                    (start, end) = (0, read_some(&mut raw, input).map_err(read_err)?);
                    eof = end == 0;
                }
                let (used, made, ended) = inflate_some(inflater, &input[start..end], output)
                    .map_err(|e| corrupt(format!("not deflate data: {e}")))?;
                start += used;
                if made > 0 {
                    emit(&output[..made])?;
                }
                if ended {
                    break;
                }
                if used == 0 && made == 0 && (eof || start < end) {
                    return Err(corrupt(if eof {
                        "the data ends before the deflate stream does".to_string()
                    } else {
                        "the deflate stream does not advance".to_string()
                    }));
                }
            }
        }
        other => {
            return Err(corrupt(format!(
                "compression method {other} is not supported"
            )));
        }
    }
    if size != entry.size {
        return Err(corrupt(format!(
            "{size} bytes, the central directory says {}",
            entry.size
        )));
    }
    if crc.sum() != expected_crc {
        return Err(corrupt(
            "its CRC-32 is not the central directory's".to_string(),
        ));
    }
    Ok(())
}

/// `WHEEL` must say `Wheel-Version: 1.x`, `METADATA` name the dist-info's project and
/// version, and the entry points be acceptable.
fn check_dist_info_files(
    wheel: &Path,
    small: &HashMap<&'static str, (usize, Vec<u8>)>,
    dist_info: &str,
) -> Result<(), InstallError> {
    let layout = |message: String| layout_error(wheel, message);
    let text = |file: &str| small.get(file).map(|(_, b)| String::from_utf8_lossy(b));
    let wheel_file =
        text("WHEEL").ok_or_else(|| layout("no WHEEL file in the dist-info".to_string()))?;
    let version = wheel_file
        .lines()
        .find_map(|l| l.strip_prefix("Wheel-Version:"))
        .map(str::trim)
        .ok_or_else(|| layout("WHEEL has no Wheel-Version".to_string()))?;
    if version.split('.').next() != Some("1") {
        return Err(layout(format!("unsupported Wheel-Version {version}")));
    }
    let metadata = text("METADATA").ok_or_else(|| layout(format!("no {dist_info}/METADATA")))?;
    let (name, version) =
        parse_metadata(&metadata).map_err(|e| layout(format!("{dist_info}/METADATA: {e}")))?;
    let (dir_name, dir_version) = parse_dist_info_name(dist_info).unwrap_or_default();
    if !same_distribution(
        (name.as_ref(), &version.to_string()),
        (&dir_name, &dir_version),
    ) {
        return Err(layout(format!(
            "{dist_info}/METADATA names {name} {version}, not the project and version of the dist-info directory `{dist_info}`"
        )));
    }
    if let Some(text) = text("entry_points.txt") {
        entry_points::parse(&text).map_err(|source| InstallError::EntryPoint {
            wheel: wheel.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// The wheel's `RECORD`, by path.
struct Record<'a> {
    wheel: &'a Path,
    /// Path → (hash, size).
    entries: HashMap<String, (Option<RecordHash>, Option<u64>)>,
}

impl<'a> Record<'a> {
    fn new(
        wheel: &'a Path,
        dist_info: &str,
        record: Option<&(usize, Vec<u8>)>,
    ) -> Result<Record<'a>, InstallError> {
        let (_, text) =
            record.ok_or_else(|| layout_error(wheel, format!("no {dist_info}/RECORD")))?;
        let entries =
            parse_record(&String::from_utf8_lossy(text)).map_err(|e| InstallError::Record {
                wheel: wheel.to_path_buf(),
                entry: format!("{dist_info}/RECORD"),
                message: e.to_string(),
            })?;
        Ok(Record {
            wheel,
            entries: entries
                .into_iter()
                .map(|e| (e.path, (e.hash, e.size)))
                .collect(),
        })
    }

    fn error(&self, entry: &str, message: String) -> InstallError {
        InstallError::Record {
            wheel: self.wheel.to_path_buf(),
            entry: entry.to_string(),
            message,
        }
    }

    /// Before anything is written: every file but RECORD and its signatures is listed,
    /// with a hash, and at the size the central directory declares.
    fn check_listed(&self, entries: &[Entry], dist_info: &str) -> Result<(), InstallError> {
        for entry in entries {
            let own = entry.parts.len() == 2
                && entry.parts[0] == dist_info
                && matches!(
                    entry.parts[1].as_str(),
                    "RECORD" | "RECORD.jws" | "RECORD.p7s"
                );
            if own {
                continue;
            }
            let listed = self.entries.get(&entry.name).ok_or_else(|| {
                self.error(
                    &entry.name,
                    "is not listed in the wheel's RECORD".to_string(),
                )
            })?;
            let (hash, size) = listed;
            if hash.is_none() {
                return Err(
                    self.error(&entry.name, "has no hash in the wheel's RECORD".to_string())
                );
            }
            if let Some(size) = size.filter(|s| *s != entry.size) {
                return Err(self.error(
                    &entry.name,
                    format!("is {} bytes, the wheel's RECORD says {size}", entry.size),
                ));
            }
        }
        Ok(())
    }

    /// Right after `name` was written: its sha256 (other algorithms are accepted
    /// unchecked) is the one `RECORD` lists.
    fn verify(&self, name: &str, digest: &[u8]) -> Result<(), InstallError> {
        let Some(hash) = self.entries.get(name).and_then(|(h, _)| h.as_ref()) else {
            return Ok(()); // RECORD itself and its signatures.
        };
        if hash.algorithm == "sha256" && hash.digest != digest {
            return Err(self.error(
                name,
                format!(
                    "has sha256={}, the wheel's RECORD says {}",
                    b64_urlsafe_encode(digest),
                    hash.to_record()
                ),
            ));
        }
        Ok(())
    }
}

/// The most of a file gathered before it is written.
const PENDING_MAX: usize = 1 << 20;

/// Writing the files into a temporary sibling of the destination.
struct Extract<'a> {
    wheel: &'a Path,
    dest: &'a Path,
    tmp: tempfile::TempDir,
    made_dirs: BTreeSet<PathBuf>,
    /// What entries are read through, one for all.
    reader: EntryReader,
    /// What is written to a file at once, one for all (at most [`PENDING_MAX`]).
    pending: Vec<u8>,
    /// Files unpacked ahead into `tmp`, by entry index.
    ahead: FxHashMap<usize, Done>,
}

impl<'a> Extract<'a> {
    fn new(
        wheel: &'a Path,
        dest: &'a Path,
        reader: EntryReader,
    ) -> Result<Extract<'a>, InstallError> {
        let parent = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(write_err(wheel, parent))?;
        let tmp = tempfile::Builder::new()
            .prefix(UNPACK_PREFIX)
            .tempdir_in(parent)
            .map_err(write_err(wheel, parent))?;
        Ok(Extract::with(
            wheel,
            dest,
            tmp,
            FxHashMap::default(),
            reader,
        ))
    }

    /// Into `tmp`, where the files of `ahead` were unpacked already.
    fn with(
        wheel: &'a Path,
        dest: &'a Path,
        tmp: tempfile::TempDir,
        ahead: FxHashMap<usize, Done>,
        reader: EntryReader,
    ) -> Extract<'a> {
        Extract {
            wheel,
            dest,
            tmp,
            made_dirs: BTreeSet::new(),
            reader,
            pending: Vec::new(),
            ahead,
        }
    }

    /// The file of `entry` unpacked ahead, with its final mode, and its sha256; `None`
    /// when it was not (or its mode cannot be given: it is removed, to be unpacked anew).
    fn adopt(&mut self, entry: &Entry) -> Result<Option<(UnpackedFile, Vec<u8>)>, InstallError> {
        let Some(done) = self.ahead.remove(&entry.index) else {
            return Ok(None);
        };
        let path = done
            .parts
            .iter()
            .fold(self.tmp.path().join("files"), |p, c| p.join(c));
        if entry.executable {
            // Unpacked ahead as 0644 (a local header has no mode); made what
            // `create_file` makes of an executable.
            match executable_mode() {
                Some(mode) => set_mode(&path, mode).map_err(write_err(self.wheel, &path))?,
                None => {
                    std::fs::remove_file(&path).map_err(write_err(self.wheel, &path))?;
                    return Ok(None);
                }
            }
        }
        let file = UnpackedFile {
            path: entry.parts.join("/"),
            sha256: hex::encode(&done.sha256),
            size: entry.size,
            executable: entry.executable,
        };
        Ok(Some((file, done.sha256)))
    }

    /// Write one file (from `kept` when it was read already), hashing it as it goes; the
    /// file and its sha256.
    fn extract<R: Read + Seek>(
        &mut self,
        zip: &mut zip::ZipArchive<R>,
        entry: &Entry,
        kept: Option<&[u8]>,
    ) -> Result<(UnpackedFile, Vec<u8>), InstallError> {
        let wheel = self.wheel;
        let path = entry
            .parts
            .iter()
            .fold(self.tmp.path().join("files"), |p, c| p.join(c));
        if let Some(dir) = path.parent()
            && self.made_dirs.insert(dir.to_path_buf())
        {
            std::fs::create_dir_all(dir).map_err(write_err(wheel, dir))?;
        }
        let mut out = crate::spent::time(crate::spent::Work::Writing, || {
            create_file(&path, entry.executable)
        })
        .map_err(write_err(wheel, &path))?;
        let mut hasher = Sha256::new();
        // One write for most files (the decompressor hands out small pieces), through one
        // buffer for all of them.
        let pending = &mut self.pending;
        pending.clear();
        let mut sink = |chunk: &[u8]| {
            hash_timed(&mut hasher, chunk);
            if pending.len() + chunk.len() > PENDING_MAX && !pending.is_empty() {
                write_timed(&mut out, pending).map_err(|e| write_err(wheel, &path)(e))?;
                pending.clear();
            }
            if chunk.len() >= PENDING_MAX {
                write_timed(&mut out, chunk).map_err(|e| write_err(wheel, &path)(e))?;
            } else {
                pending.extend_from_slice(chunk);
            }
            Ok(())
        };
        match kept {
            Some(bytes) => sink(bytes)?,
            None => read_entry(wheel, zip, entry, &mut self.reader, &mut sink)?,
        }
        if !pending.is_empty() {
            write_timed(&mut out, pending).map_err(write_err(wheel, &path))?;
        }
        let digest = hasher.finalize().to_vec();
        let file = UnpackedFile {
            path: entry.parts.join("/"),
            sha256: hex::encode(&digest),
            size: entry.size,
            executable: entry.executable,
        };
        Ok((file, digest))
    }

    /// Write `unpacked.json` and rename the tree into place. When the destination exists,
    /// another process unpacked the same wheel first and that copy is returned; one that
    /// [`UnpackedWheel::load`] does not trust is moved aside, removed and replaced.
    fn finish(self, unpacked: UnpackedWheel) -> Result<UnpackedWheel, InstallError> {
        let (wheel, dest) = (self.wheel, self.dest);
        let json = serde_json::to_vec(&unpacked).map_err(|e| layout_error(wheel, e.to_string()))?;
        let manifest = self.tmp.path().join(UNPACKED_MANIFEST);
        std::fs::write(&manifest, json).map_err(write_err(wheel, &manifest))?;
        let tmp = self.tmp.keep();
        let ours = |u: &UnpackedWheel| u.sha256 == unpacked.sha256;
        let result = match std::fs::rename(&tmp, dest) {
            Ok(()) => return Ok(unpacked),
            Err(e) => match UnpackedWheel::load(dest).filter(ours) {
                Some(theirs) => Ok(theirs),
                None => replace_corrupt(dest, &tmp)
                    .map(|()| unpacked.clone())
                    .or_else(|_| {
                        UnpackedWheel::load(dest)
                            .filter(ours)
                            .ok_or_else(|| write_err(wheel, dest)(e))
                    }),
            },
        };
        let _ = std::fs::remove_dir_all(&tmp);
        result
    }
}

/// Move the untrusted `dest` aside (a `.unpack-` name, which leftover cleaning removes
/// should this process die) and put `fresh` in its place.
fn replace_corrupt(dest: &Path, fresh: &Path) -> std::io::Result<()> {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let aside = dest.with_file_name(format!(
        "{UNPACK_PREFIX}corrupt-{name}-{}",
        std::process::id()
    ));
    std::fs::rename(dest, &aside)?;
    tracing::warn!("replacing the corrupt unpacked wheel {}", dest.display());
    if std::fs::remove_dir_all(&aside).is_err() {
        let _ = std::fs::remove_file(&aside);
    }
    std::fs::rename(fresh, dest)
}

fn write_err(wheel: &Path, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + use<> {
    let (wheel, path) = (wheel.to_path_buf(), path.to_path_buf());
    move |source| InstallError::Write {
        wheel,
        path,
        source,
    }
}

/// The mode [`create_file`] gives an executable (0755 less the umask), when the umask is
/// known (Linux says it in `/proc/self/status`).
#[cfg(unix)]
fn executable_mode() -> Option<u32> {
    static MODE: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *MODE.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let umask = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())?;
        Some(0o755 & !umask)
    })
}

#[cfg(not(unix))]
fn executable_mode() -> Option<u32> {
    None
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// `out.write_all(bytes)`, counted as writing for `--timings`.
pub(super) fn write_timed(out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
    crate::spent::time(crate::spent::Work::Writing, || out.write_all(bytes))
}

/// `hasher.update(bytes)`, counted as hashing for `--timings`.
pub(super) fn hash_timed(hasher: &mut Sha256, bytes: &[u8]) {
    crate::spent::time(crate::spent::Work::Hashing, || hasher.update(bytes));
}

/// A new file, created with its final mode (the umask applies, as it does for pip), so that
/// unpacking costs no `chmod` per file.
#[cfg(unix)]
pub(super) fn create_file(path: &Path, executable: bool) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if executable { 0o755 } else { 0o644 })
        .open(path)
}

#[cfg(not(unix))]
pub(super) fn create_file(path: &Path, _executable: bool) -> std::io::Result<File> {
    File::create(path)
}
