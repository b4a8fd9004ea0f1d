//! Unpacking a wheel while it downloads, ahead of the checks that decide whether it is kept.
//!
//! A large wheel takes about as long to unpack as to download; done one after the other,
//! the unpacking of the largest wheels is most of a cold sync's tail. [`Ahead`] reads the
//! download file as it grows, on a blocking thread, and unpacks its entries in archive
//! order, the way a streaming zip reader does: each local header, then its data inflated
//! into `<tmp>/files/<name>`, hashed (sha256, CRC-32) as it is written, in a private
//! temporary directory beside the cache entry (an `.unpack-` name, as every unpacking's).
//!
//! Nothing here is trusted. The download is verified (size, sha256) as before; then
//! [`super::unpack`] checks the whole archive as it always does (the structure, every local
//! header against the central directory, the names, the dist-info files, `RECORD`), and
//! only then takes a file unpacked ahead in place of unpacking it itself, when it was
//! unpacked from the very local header the central directory points to, with the same name,
//! method, sizes and CRC-32 (see [`Extracted::take_for`]); anything else it unpacks itself.
//! A download that fails, or a wheel refused, removes the directory with everything in it.
//!
//! Unpacking ahead stops, leaving the rest of the archive to [`super::unpack`], at the
//! first entry it does not handle: a data descriptor, encryption, zip64 sizes, a method other
//! than stored or deflate, an unsafe name, data that does not inflate to exactly its
//! declared size and CRC-32, declared sizes adding up to more than
//! [`super::archive::MAX_UNPACKED_SIZE`], or anything but a local header where one should
//! start (the central directory, at the end). It never reads past what the download wrote.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest as _, Sha256};

use super::archive::{LocalHeader, MAX_UNPACKED_SIZE};
use super::wheel::{UNPACK_PREFIX, check_entry_name};
use crate::index::range::CdEntry;

/// How far the download has written, and whether it is over.
#[derive(Default)]
struct Progress {
    /// Bytes of the file written (and readable).
    written: u64,
    /// The download is complete: there will be no more.
    finished: bool,
    /// The download failed or was dropped: stop, keep nothing.
    cancelled: bool,
}

#[derive(Default)]
struct Shared {
    progress: Mutex<Progress>,
    wake: Condvar,
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut Progress)) {
        change(&mut self.progress.lock().unwrap_or_else(PoisonError::into_inner));
        self.wake.notify_all();
    }
}

/// The download's handle on the unpacking ahead of one wheel: see the module documentation.
/// Dropped without [`Ahead::finish`], it stops the unpacking, which then removes its
/// directory.
pub(crate) struct Ahead {
    shared: Arc<Shared>,
    /// What the thread unpacked, once it is done (`None`: cancelled, its directory gone).
    result: Option<tokio::sync::oneshot::Receiver<Option<Extracted>>>,
}

impl Ahead {
    /// Start unpacking `file`, which the caller is writing, into a new temporary directory
    /// in `parent` (the cache entry's parent). `None` when it cannot start; the wheel is
    /// then unpacked after its download, as any other.
    pub(crate) fn start(file: &Path, parent: &Path) -> Option<Ahead> {
        let reader = File::open(file).ok()?;
        std::fs::create_dir_all(parent).ok()?;
        let tmp = tempfile::Builder::new()
            .prefix(UNPACK_PREFIX)
            .tempdir_in(parent)
            .ok()?;
        let shared = Arc::new(Shared::default());
        let input = Tail::new(reader, shared.clone());
        let (send, result) = tokio::sync::oneshot::channel();
        // A thread of its own: it mostly waits for the download, and a runtime's blocking
        // pool is for work that ends.
        std::thread::Builder::new()
            .name("unpack-ahead".to_string())
            .spawn(move || {
                let _ = send.send(unpack_ahead(input, tmp));
            })
            .ok()?;
        Some(Ahead {
            shared,
            result: Some(result),
        })
    }

    /// The download has written `written` bytes.
    pub(crate) fn advance(&self, written: u64) {
        self.shared.update(|p| p.written = written);
    }

    /// The download is complete and verified: what was unpacked ahead, once the unpacking
    /// has read what it could.
    pub(crate) async fn finish(mut self) -> Option<Extracted> {
        self.shared.update(|p| p.finished = true);
        self.result.take()?.await.ok().flatten()
    }

    /// [`Ahead::finish`] outside a runtime.
    #[cfg(test)]
    pub(crate) fn finish_blocking(mut self) -> Option<Extracted> {
        self.shared.update(|p| p.finished = true);
        let mut result = self.result.take()?;
        // Polled: `blocking_recv` refuses to run on a runtime's thread, where some tests
        // unpack.
        loop {
            match result.try_recv() {
                Ok(extracted) => return extracted,
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(_) => return None,
            }
        }
    }

    /// The download failed: stop, and return once the directory is removed.
    pub(crate) async fn abandon(mut self) {
        self.shared.update(|p| p.cancelled = true);
        if let Some(result) = self.result.take() {
            let _ = result.await;
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        if self.result.is_some() {
            self.shared.update(|p| p.cancelled = true);
        }
    }
}

/// One file unpacked ahead, and the local header it was unpacked from.
#[derive(Debug)]
pub(crate) struct Done {
    local_offset: u64,
    name_raw: Vec<u8>,
    method: u16,
    crc32: u32,
    compressed_size: u64,
    size: u64,
    /// Its path under `files/`, as [`check_entry_name`] splits the name.
    pub(crate) parts: Vec<String>,
    pub(crate) sha256: Vec<u8>,
}

/// What was unpacked ahead: a temporary directory (removed when dropped) holding `files/`.
pub(crate) struct Extracted {
    pub(crate) tmp: tempfile::TempDir,
    /// By the offset of the local header each was unpacked from.
    done: FxHashMap<u64, Done>,
}

impl Extracted {
    /// The files unpacked ahead, each given to the central directory entry (by index in
    /// `central`) it was unpacked for; `None` unless every one was unpacked from the local
    /// header that entry points to, under its name, method, sizes and CRC-32, and is one of
    /// `files` (index and path of the archive's files).
    pub(crate) fn take_for(
        self,
        central: &[CdEntry],
        files: &[(usize, &[String])],
    ) -> Option<(tempfile::TempDir, FxHashMap<usize, Done>)> {
        let by_offset: FxHashMap<u64, usize> = central
            .iter()
            .enumerate()
            .map(|(i, e)| (e.local_offset, i))
            .collect();
        let paths: FxHashMap<usize, &[String]> = files.iter().copied().collect();
        let mut out = FxHashMap::default();
        for (offset, done) in self.done {
            let index = *by_offset.get(&offset)?;
            let cd = &central[index];
            let same = cd.name_raw == done.name_raw
                && cd.method == done.method
                && cd.crc32 == done.crc32
                && cd.compressed_size == done.compressed_size
                && cd.uncompressed_size == done.size
                && done.local_offset == offset
                && paths
                    .get(&index)
                    .is_some_and(|p| *p == done.parts.as_slice());
            if !same {
                return None;
            }
            out.insert(index, done);
        }
        Some((self.tmp, out))
    }
}

/// Why reading stopped.
enum Stop {
    /// The download is over (or ahead of nothing more to read).
    End,
    /// The download failed: keep nothing.
    Cancelled,
}

/// The download file, read as it is written.
struct Tail {
    file: File,
    shared: Arc<Shared>,
    /// Bytes read from the file.
    read: u64,
    buf: Vec<u8>,
    /// `buf[start..end]` is read and not consumed yet.
    start: usize,
    end: usize,
    /// Offset in the archive of `buf[start]`.
    offset: u64,
}

const READ_SIZE: usize = 128 * 1024;

impl Tail {
    fn new(file: File, shared: Arc<Shared>) -> Tail {
        Tail {
            file,
            shared,
            read: 0,
            buf: vec![0; READ_SIZE],
            start: 0,
            end: 0,
            offset: 0,
        }
    }

    /// Read more into the buffer, waiting for the download to write it.
    fn fill(&mut self) -> Result<(), Stop> {
        let written = {
            let mut p = self
                .shared
                .progress
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            loop {
                if p.cancelled {
                    return Err(Stop::Cancelled);
                }
                if p.written > self.read {
                    break p.written;
                }
                if p.finished {
                    return Err(Stop::End);
                }
                p = self
                    .shared
                    .wake
                    .wait(p)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let room = (self.buf.len() - self.end)
            .min(usize::try_from(written - self.read).unwrap_or(usize::MAX));
        let n = loop {
            match self.file.read(&mut self.buf[self.end..self.end + room]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Ok(n) if n > 0 => break n,
                _ => return Err(Stop::End),
            }
        };
        self.end += n;
        self.read += n as u64;
        Ok(())
    }

    /// At least one and at most `max` bytes (`max` > 0), not consumed.
    fn available(&mut self, max: u64) -> Result<&[u8], Stop> {
        if self.start == self.end {
            self.fill()?;
        }
        let n = (self.end - self.start).min(usize::try_from(max).unwrap_or(usize::MAX));
        Ok(&self.buf[self.start..self.start + n])
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    fn read_exact(&mut self, out: &mut [u8]) -> Result<(), Stop> {
        let mut at = 0;
        while at < out.len() {
            let piece = self.available((out.len() - at) as u64)?;
            let n = piece.len();
            out[at..at + n].copy_from_slice(piece);
            self.consume(n);
            at += n;
        }
        Ok(())
    }
}

/// The blocking half: unpack entries from `input` into `tmp` until one is not handled (see
/// the module documentation). `None` when the download failed.
fn unpack_ahead(mut input: Tail, tmp: tempfile::TempDir) -> Option<Extracted> {
    let mut unpacker = Unpacker {
        files: tmp.path().join("files"),
        made_dirs: FxHashSet::default(),
        declared: 0,
        out: vec![0; 256 * 1024],
        inflater: flate2::Decompress::new(false),
    };
    let mut done = FxHashMap::default();
    loop {
        match unpacker.next(&mut input) {
            Ok(Next::File(file)) => {
                done.insert(file.local_offset, file);
            }
            Ok(Next::Directory) => {}
            Ok(Next::Stop) | Err(Stop::End) => break,
            Err(Stop::Cancelled) => {
                // Removed before the download hears of it.
                drop(tmp);
                return None;
            }
        }
    }
    Some(Extracted { tmp, done })
}

enum Next {
    File(Done),
    Directory,
    /// Not handled here: the rest is [`super::unpack`]'s.
    Stop,
}

struct Unpacker {
    files: PathBuf,
    made_dirs: FxHashSet<PathBuf>,
    /// Declared sizes so far.
    declared: u64,
    /// Inflated bytes on their way to the file.
    out: Vec<u8>,
    /// One inflater for every entry, reset between them (see `unpack::EntryReader`).
    inflater: flate2::Decompress,
}

impl Unpacker {
    fn next(&mut self, input: &mut Tail) -> Result<Next, Stop> {
        let local_offset = input.offset;
        let mut fixed = [0u8; LocalHeader::LEN];
        input.read_exact(&mut fixed)?;
        // Anything but a local header (the central directory, at the end), encryption, a
        // data descriptor, zip64 sizes, another method: not here.
        let Some(header) = LocalHeader::parse(&fixed).filter(|h| {
            h.flags & 0x09 == 0
                && matches!(h.method, 0 | 8)
                && h.compressed_size != u32::MAX
                && h.uncompressed_size != u32::MAX
        }) else {
            return Ok(Next::Stop);
        };
        let (method, crc32) = (header.method, header.crc32);
        let compressed = u64::from(header.compressed_size);
        let size = u64::from(header.uncompressed_size);
        let mut variable = vec![0u8; header.name_len + header.extra_len];
        input.read_exact(&mut variable)?;
        let name_raw = variable[..header.name_len].to_vec();
        let Some(parts) = std::str::from_utf8(&name_raw)
            .ok()
            .and_then(|n| check_entry_name(n).ok())
        else {
            return Ok(Next::Stop);
        };
        self.declared = self.declared.saturating_add(size);
        if self.declared > MAX_UNPACKED_SIZE {
            return Ok(Next::Stop);
        }
        if name_raw.ends_with(b"/") {
            if compressed != 0 {
                return Ok(Next::Stop);
            }
            return Ok(Next::Directory);
        }
        let path = parts.iter().fold(self.files.clone(), |p, c| p.join(c));
        let Some(file) = self.create(&path) else {
            return Ok(Next::Stop);
        };
        let written = match method {
            0 if compressed == size => self.copy(input, file, compressed),
            8 => self.inflate(input, file, compressed, size),
            _ => Ok(None),
        };
        match written {
            Ok(Some((sha256, crc))) if crc == crc32 => Ok(Next::File(Done {
                local_offset,
                name_raw,
                method,
                crc32,
                compressed_size: compressed,
                size,
                parts,
                sha256,
            })),
            other => {
                // A file half written, or not what its header says: not kept.
                let _ = std::fs::remove_file(&path);
                other.map(|_| Next::Stop)
            }
        }
    }

    /// A new file at `path` (its directories made), mode 0644 less the umask.
    fn create(&mut self, path: &Path) -> Option<File> {
        let dir = path.parent()?;
        if !self.made_dirs.contains(dir) {
            std::fs::create_dir_all(dir).ok()?;
            self.made_dirs.insert(dir.to_path_buf());
        }
        crate::spent::time(crate::spent::Work::Writing, || {
            super::unpack::create_file(path, false)
        })
        .ok()
    }

    /// Copy a stored entry: its sha256 and CRC-32, or `None` when it cannot be written.
    fn copy(
        &mut self,
        input: &mut Tail,
        mut file: File,
        mut left: u64,
    ) -> Result<Option<(Vec<u8>, u32)>, Stop> {
        let mut sha = Sha256::new();
        let mut crc = flate2::Crc::new();
        while left > 0 {
            let piece = input.available(left)?;
            super::unpack::hash_timed(&mut sha, piece);
            crc.update(piece);
            if super::unpack::write_timed(&mut file, piece).is_err() {
                return Ok(None);
            }
            let n = piece.len();
            input.consume(n);
            left -= n as u64;
        }
        Ok(Some((sha.finalize().to_vec(), crc.sum())))
    }

    /// Inflate a deflated entry of `compressed` bytes that must give exactly `size`: its
    /// sha256 and CRC-32, or `None` when it does not (or cannot be written).
    fn inflate(
        &mut self,
        input: &mut Tail,
        mut file: File,
        compressed: u64,
        size: u64,
    ) -> Result<Option<(Vec<u8>, u32)>, Stop> {
        let mut sha = Sha256::new();
        let mut crc = flate2::Crc::new();
        let inflater = &mut self.inflater;
        inflater.reset(false);
        let mut left = compressed;
        let mut produced = 0u64;
        let mut held = 0usize;
        loop {
            let piece: &[u8] = if left > 0 {
                input.available(left)?
            } else {
                &[]
            };
            let Ok((used, made, end)) =
                super::unpack::inflate_some(inflater, piece, &mut self.out[held..])
            else {
                return Ok(None);
            };
            input.consume(used);
            left -= used as u64;
            held += made;
            produced += made as u64;
            if produced > size {
                return Ok(None);
            }
            if held == self.out.len() || (end && held > 0) {
                let chunk = &self.out[..held];
                super::unpack::hash_timed(&mut sha, chunk);
                crc.update(chunk);
                if super::unpack::write_timed(&mut file, chunk).is_err() {
                    return Ok(None);
                }
                held = 0;
            }
            if end {
                // The stream must end with the entry's data, at its declared size.
                return Ok(
                    (left == 0 && produced == size).then(|| (sha.finalize().to_vec(), crc.sum()))
                );
            }
            if used == 0 && made == 0 {
                // Stuck (with room for output): the data ended before the stream did, or
                // is not deflate.
                return Ok(None);
            }
        }
    }
}

/// Test support: the same archive unpacked ahead gives what [`super::unpack`] gave.
#[cfg(test)]
pub(crate) mod check {
    use std::io::Write as _;
    use std::path::Path;

    use super::Ahead;
    use crate::install::wheel::{InstallError, UNPACK_PREFIX, UnpackOptions, UnpackedWheel};

    /// An error and its causes, the paths of both runs made the same.
    fn chain(e: &InstallError, paths: &[(&Path, &Path)]) -> String {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        for (from, to) in paths {
            text = text.replace(&from.display().to_string(), &to.display().to_string());
        }
        text
    }

    /// Write `bytes` to a file in odd pieces while [`Ahead`] unpacks it, then unpack it with
    /// what was unpacked ahead: the same outcome as `expected` (the plain unpacking of the
    /// same archive as `wheel`, into `dest`), the same files with the same modes, and no
    /// temporary directory left. Run by every unpacking in the tests.
    pub(crate) fn same_when_unpacked_ahead(
        wheel: &Path,
        bytes: &[u8],
        dest: &Path,
        options: &UnpackOptions,
        expected: &Result<UnpackedWheel, InstallError>,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp
            .path()
            .join(wheel.file_name().unwrap_or("w.whl".as_ref()));
        let cache = tmp.path().join("wheels");
        let entry = cache.join("entry");
        let mut file = std::fs::File::create(&path).unwrap();
        let ahead = Ahead::start(&path, &cache).expect("unpacking ahead starts");
        let mut written = 0u64;
        for piece in bytes.chunks(777) {
            file.write_all(piece).unwrap();
            written += piece.len() as u64;
            ahead.advance(written);
        }
        let extracted = ahead.finish_blocking();
        let got = crate::install::wheel::unpack_ahead(&path, &entry, options, extracted);
        let left: Vec<String> = std::fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(UNPACK_PREFIX))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
        match (expected, &got) {
            (Ok(want), Ok(got)) => {
                let mut same = got.clone();
                same.root = want.root.clone();
                assert_eq!(&same, want, "unpacked ahead");
                for f in &want.files {
                    let (a, b) = (want.file(&f.path), got.file(&f.path));
                    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
                    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions();
                    assert_eq!(mode(&a), mode(&b), "the mode of {}", f.path);
                }
            }
            (Err(want), Err(got)) => {
                assert_eq!(
                    std::mem::discriminant(want),
                    std::mem::discriminant(got),
                    "{want} / {got}"
                );
                let paths = [(path.as_path(), wheel), (entry.as_path(), dest)];
                let (want, got) = (chain(want, &[]), chain(got, &paths));
                if !want.contains(UNPACK_PREFIX) {
                    assert_eq!(want, got);
                }
            }
            (want, got) => panic!("unpacked: {want:?}, unpacked ahead: {got:?}"),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write as _;

    use zip::write::SimpleFileOptions;

    use super::*;
    use crate::install::wheel::{UnpackOptions, unpack, unpack_ahead};

    /// A deflated wheel with a file of several MiB (more than one read and one output
    /// buffer), a stored one, an empty one, a directory entry and an executable.
    pub(crate) fn large_wheel() -> Vec<u8> {
        let big: Vec<u8> = (0..3_000_000u32)
            .flat_map(|i| (i.wrapping_mul(2_654_435_761) >> 13).to_le_bytes())
            .map(|b| b % 16)
            .collect();
        let files: Vec<(&str, Vec<u8>, SimpleFileOptions)> = {
            let deflated =
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
            let stored =
                SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
            vec![
                ("demo/__init__.py", b"x = 1\n".to_vec(), deflated),
                ("demo/big.bin", big, deflated),
                ("demo/empty.py", Vec::new(), deflated),
                ("demo/stored.txt", b"stored".repeat(1000), stored),
                (
                    "demo/tool.so",
                    b"\x7fELF".repeat(5000),
                    deflated.unix_permissions(0o755),
                ),
                (
                    "demo-1.0.dist-info/METADATA",
                    b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n".to_vec(),
                    deflated,
                ),
                (
                    "demo-1.0.dist-info/WHEEL",
                    b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n".to_vec(),
                    deflated,
                ),
            ]
        };
        let files: Vec<(&str, &[u8], SimpleFileOptions)> = files
            .iter()
            .map(|(name, content, options)| (*name, content.as_slice(), *options))
            .collect();
        crate::install::tests::zip_wheel(&["demo/"], &files, SimpleFileOptions::default())
    }

    /// Every file of a wheel written while it is read is unpacked ahead and taken, and the
    /// result is the plain unpacking's (the executable's mode too).
    #[test]
    fn a_wheel_written_while_read_is_unpacked_ahead_whole() {
        let bytes = large_wheel();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("demo-1.0-py3-none-any.whl");
        let cache = tmp.path().join("wheels");
        let mut file = File::create(&path).unwrap();
        let ahead = Ahead::start(&path, &cache).unwrap();
        let mut written = 0u64;
        for piece in bytes.chunks(50_000) {
            file.write_all(piece).unwrap();
            written += piece.len() as u64;
            ahead.advance(written);
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let extracted = ahead.finish_blocking().expect("not cancelled");
        assert_eq!(extracted.done.len(), 8, "every file, not the directory");
        let options = UnpackOptions::default();
        let got = unpack_ahead(&path, &cache.join("a"), &options, Some(extracted)).unwrap();
        let want = unpack(&path, &tmp.path().join("plain"), &options).unwrap();
        assert_eq!(got.files, want.files);
        let tool = std::fs::metadata(got.file("demo/tool.so")).unwrap();
        let plain = std::fs::metadata(want.file("demo/tool.so")).unwrap();
        assert_eq!(tool.permissions(), plain.permissions());
        assert!(
            got.files
                .iter()
                .any(|f| f.path == "demo/tool.so" && f.executable)
        );
    }

    /// A download that fails half-way leaves no directory, and the thread ends.
    #[tokio::test]
    async fn an_abandoned_download_leaves_nothing() {
        let bytes = large_wheel();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("w.whl");
        let cache = tmp.path().join("wheels");
        let mut file = File::create(&path).unwrap();
        let ahead = Ahead::start(&path, &cache).unwrap();
        file.write_all(&bytes[..bytes.len() / 2]).unwrap();
        ahead.advance(bytes.len() as u64 / 2);
        ahead.abandon().await;
        assert_eq!(std::fs::read_dir(&cache).unwrap().count(), 0);
    }

    /// Files unpacked ahead from other bytes than the archive checked are not taken.
    #[test]
    fn files_unpacked_from_another_archive_are_not_taken() {
        let bytes = large_wheel();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("w.whl");
        let cache = tmp.path().join("wheels");
        std::fs::write(&path, &bytes).unwrap();
        let ahead = Ahead::start(&path, &cache).unwrap();
        ahead.advance(bytes.len() as u64);
        let archive = crate::install::archive::check(&mut File::open(&path).unwrap()).unwrap();
        let parts: Vec<(usize, Vec<String>)> = archive
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.name.ends_with('/'))
            .map(|(i, e)| (i, check_entry_name(&e.name).unwrap()))
            .collect();
        let files: Vec<(usize, &[String])> =
            parts.iter().map(|(i, p)| (*i, p.as_slice())).collect();
        let unpack_ahead = || {
            let ahead = Ahead::start(&path, &cache).unwrap();
            ahead.advance(bytes.len() as u64);
            ahead.finish_blocking().unwrap()
        };
        let (_, taken) = unpack_ahead().take_for(&archive.entries, &files).unwrap();
        assert_eq!(taken.len(), 8);
        let mut other = unpack_ahead();
        if let Some(done) = other.done.values_mut().next() {
            done.crc32 ^= 1;
        }
        assert!(other.take_for(&archive.entries, &files).is_none());
    }
}
