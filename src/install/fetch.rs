//! Getting locked wheels into the cache of unpacked wheels, `<cache>/<version>/wheels/<sha256>/`
//! (see [`crate::cache`] for the layout).
//!
//! [`fetch`] returns the unpacked tree of one [`Artifact`]: from the cache when it is there
//! (keyed by the lockfile's sha256, so a tree is only ever found under the hash its wheel
//! had), otherwise it streams the wheel into memory (a small one, within a memory budget)
//! or a temporary file under `<cache>/<version>/downloads/`, hashing and counting as the bytes
//! arrive (more bytes than the lockfile's size stop the download at once), compares size
//! and sha256 with the lockfile, and only then unpacks it on the blocking pool
//! ([`super::wheel::unpack`], which checks the archive itself). A download to a file is
//! unpacked while it arrives ([`super::ahead`]); the checks after it are the same, and they
//! decide what of it is kept. A mismatch is an error that
//! shows both values; nothing reaches the cache. `file://` URLs are read in place and
//! checked the same way. An entry records the sha256 it was unpacked from, and one that
//! does not say the hash it is filed under, or whose description is unsound, is unpacked
//! again from a verified download (see [`UnpackedWheel::load`]).

use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use url::Url;

use super::ahead::{Ahead, Extracted};
use super::wheel::{
    InstallError, UNPACK_PREFIX, UnpackOptions, UnpackedWheel, unpack, unpack_ahead, unpack_bytes,
};
use crate::cache::CacheRoot;
use crate::http::redact::redacted;
use crate::http::{HttpClient, StreamError};
use crate::index::IndexError;
use crate::index::local::file_path;

/// One wheel to fetch, as the lockfile describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Artifact {
    /// `torch 2.9.0+cu130`, for messages.
    pub package: String,
    /// The wheel's file name.
    pub filename: String,
    pub url: Url,
    /// The size the lockfile records, when it records one.
    pub size: Option<u64>,
    /// Lower-case hex sha256 from the lockfile.
    pub sha256: String,
    /// The index it comes from, for messages.
    pub index: String,
}

/// The cache of unpacked wheels.
#[derive(Clone, Debug)]
pub struct WheelCache {
    dirs: CacheRoot,
}

impl WheelCache {
    /// The wheel cache under the cache directory `cache_dir` (`SANCTUARY_CACHE_DIR`).
    pub fn new(cache_dir: &Path) -> WheelCache {
        WheelCache {
            dirs: CacheRoot::new(cache_dir),
        }
    }

    /// Where the wheel with this sha256 is unpacked.
    pub fn entry(&self, sha256: &str) -> PathBuf {
        self.dirs.wheels().join(sha256)
    }

    /// The unpacked wheel with this sha256, if the cache has it complete, sound (see
    /// [`UnpackedWheel::load`]) and unpacked from an archive verified to have this sha256.
    pub fn get(&self, sha256: &str) -> Option<UnpackedWheel> {
        UnpackedWheel::load(&self.entry(sha256)).filter(|u| u.sha256.as_deref() == Some(sha256))
    }

    /// Remove what a killed process left behind: temporary download and unpack directories
    /// (`.download-*`, `.unpack-*`) last changed more than `older_than` ago (a younger one
    /// may belong to a process still running). Returns how many were removed; errors are
    /// ignored, as the next call tries again.
    pub fn remove_leftovers(&self, older_than: std::time::Duration) -> usize {
        let now = std::time::SystemTime::now();
        let places = [
            (self.dirs.downloads(), DOWNLOAD_PREFIX),
            (self.dirs.wheels(), UNPACK_PREFIX),
        ];
        let mut removed = 0;
        for (dir, prefix) in places {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let stale = entry.file_name().to_string_lossy().starts_with(prefix)
                    && entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| now.duration_since(t).is_ok_and(|age| age > older_than));
                if stale && std::fs::remove_dir_all(entry.path()).is_ok() {
                    tracing::debug!("removed the leftover {}", entry.path().display());
                    removed += 1;
                }
            }
        }
        removed
    }
}

/// The name prefix of a download's private directory under `downloads/`.
const DOWNLOAD_PREFIX: &str = ".download-";

/// A wheel could not be fetched. Every variant names the package and the URL.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "hash mismatch for {package} ({url}):\n  expected sha256 {expected}\n    actual sha256 {actual}"
    )]
    HashMismatch {
        package: String,
        url: String,
        expected: String,
        actual: String,
    },
    #[error(
        "size mismatch for {package} ({url}):\n  expected {expected} bytes\n    actual {actual}{more} bytes",
        more = if *.stopped { " or more" } else { "" }
    )]
    SizeMismatch {
        package: String,
        url: String,
        expected: u64,
        actual: u64,
        /// The download was stopped at `actual` bytes, past the expected size.
        stopped: bool,
    },
    #[error("cannot download {package}: {url} answered HTTP {status}")]
    Status {
        package: String,
        url: String,
        status: u16,
    },
    #[error("cannot download {package}")]
    Index {
        package: String,
        #[source]
        source: Box<IndexError>,
    },
    #[error("{package} ({filename}) is not in the cache, and --offline forbids downloading it")]
    Offline { package: String, filename: String },
    #[error("cannot download {package}: cannot write {}", path.display())]
    Io {
        package: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot install {package}")]
    Wheel {
        package: String,
        #[source]
        source: InstallError,
    },
}

/// How [`fetch`] reports progress: bytes received (negative when a retried download starts
/// over).
pub type Progress = Arc<dyn Fn(i64) + Send + Sync>;

/// Where the unpacked wheel came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fetched {
    Cached,
    Downloaded,
}

/// The unpacked wheel of `artifact`: see the module documentation.
pub async fn fetch(
    client: &HttpClient,
    cache: &WheelCache,
    artifact: &Artifact,
    offline: bool,
    progress: Progress,
) -> Result<(UnpackedWheel, Fetched), FetchError> {
    if let Some(unpacked) = cache.get(&artifact.sha256) {
        return Ok((unpacked, Fetched::Cached));
    }
    let package = artifact.package.clone();
    let io = |path: &Path| {
        let package = package.clone();
        let path = path.to_path_buf();
        move |source| FetchError::Io {
            package,
            path,
            source,
        }
    };
    // The archive to unpack: the local file itself, or a verified download.
    let source = if artifact.url.scheme() == "file" {
        let path = file_path(&artifact.url).map_err(|source| FetchError::Index {
            package: package.clone(),
            source: Box::new(source),
        })?;
        let checked = path.clone();
        let artifact_ = artifact.clone();
        tokio::task::spawn_blocking(move || check_local(&checked, &artifact_))
            .await
            .map_err(|e| io(&path)(std::io::Error::other(e)))??;
        Download::File(None, path, None)
    } else {
        if offline {
            return Err(FetchError::Offline {
                package,
                filename: artifact.filename.clone(),
            });
        }
        let started = std::time::Instant::now();
        let download = download(client, cache, artifact, progress).await?;
        tracing::debug!(
            "downloaded {} in {:.0} ms",
            artifact.filename,
            started.elapsed().as_secs_f64() * 1000.0
        );
        download
    };
    // Unpacking is file-system work more than CPU work (thousands of small files): on the
    // blocking pool, several at once so that one wheel's waits overlap another's.
    let dest = cache.entry(&artifact.sha256);
    let name = PathBuf::from(&artifact.filename);
    // Recorded in the entry: it is only ever used under the hash just verified.
    let options = UnpackOptions {
        verify_record: true,
        sha256: Some(artifact.sha256.clone()),
    };
    let unpacked = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let result = match source {
            Download::File(_, path, None) => unpack(&path, &dest, &options),
            Download::File(_, path, Some(ahead)) => unpack_ahead(&path, &dest, &options, ahead),
            Download::Memory(bytes, _) => unpack_bytes(&name, &bytes, &dest, &options),
        };
        tracing::debug!(
            "unpacked {} in {:.0} ms",
            name.display(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        result
    })
    .await
    .map_err(|e| io(&cache.entry(&artifact.sha256))(std::io::Error::other(e)))?
    .map_err(|source| FetchError::Wheel {
        package: package.clone(),
        source,
    })?;
    Ok((unpacked, Fetched::Downloaded))
}

/// A verified wheel, ready to unpack.
enum Download {
    /// On disk: the private directory holding a download (removed when dropped), the file,
    /// and what was unpacked of it while it downloaded (`None`: nothing was tried; `Some(None)`:
    /// it was, and nothing came of it).
    File(
        #[allow(dead_code, reason = "removed when dropped")] Option<tempfile::TempDir>,
        PathBuf,
        Option<Option<Extracted>>,
    ),
    /// In memory, with its share of the memory budget.
    Memory(
        Vec<u8>,
        #[allow(dead_code, reason = "held until unpacked")] MemoryPermit,
    ),
}

/// Downloads of up to this size are kept in memory and unpacked from there, never written
/// to disk: most wheels are small, and writing one only to read it back costs a file's
/// worth of system calls per wheel. A larger one goes to a file and is unpacked while it
/// downloads ([`Ahead`]): its unpacking would otherwise start only once it is all there,
/// and the memory of the largest ones, all downloading at once, is most of a cold sync's.
const IN_MEMORY_MAX: u64 = 1024 * 1024;

/// How many bytes all in-memory downloads may hold at once; a download that does not fit
/// goes to a temporary file instead of waiting.
const IN_MEMORY_BUDGET: u64 = 32 * IN_MEMORY_MAX;

/// How much of a download to a file is gathered before it is written (and so readable by
/// [`Ahead`]).
const FILE_PIECE: usize = 64 * 1024;

/// A share of [`IN_MEMORY_BUDGET`], in KiB, given back when dropped.
type MemoryPermit = tokio::sync::OwnedSemaphorePermit;

fn new_budget() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(
        (IN_MEMORY_BUDGET / 1024) as usize,
    ))
}

/// The process's memory budget for downloads.
fn memory_budget() -> &'static Arc<tokio::sync::Semaphore> {
    static BUDGET: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    BUDGET.get_or_init(new_budget)
}

/// A share of `budget` for a download of `size` bytes, if it is small enough and the budget
/// has room.
fn memory_permit(budget: &Arc<tokio::sync::Semaphore>, size: Option<u64>) -> Option<MemoryPermit> {
    let size = size.filter(|s| *s <= IN_MEMORY_MAX)?;
    let kib = u32::try_from(size.div_ceil(1024)).ok()?;
    budget.clone().try_acquire_many_owned(kib.max(1)).ok()
}

/// Stream `artifact` into memory (when small, see [`IN_MEMORY_MAX`]) or a temporary file,
/// checking its size as it arrives and its sha256 at the end.
async fn download(
    client: &HttpClient,
    cache: &WheelCache,
    artifact: &Artifact,
    progress: Progress,
) -> Result<Download, FetchError> {
    let io = |path: &Path, source| FetchError::Io {
        package: artifact.package.clone(),
        path: path.to_path_buf(),
        source,
    };
    // The name comes from the lockfile: only a plain file name is used as one.
    let name = Some(artifact.filename.as_str())
        .filter(|n| !n.is_empty() && !n.contains(['/', '\\', '\0']) && *n != "." && *n != "..")
        .unwrap_or("download.whl");
    let out = match memory_permit(memory_budget(), artifact.size) {
        Some(permit) => {
            let capacity = artifact.size.unwrap_or(0) as usize;
            Out::Memory(Vec::with_capacity(capacity), permit)
        }
        None => {
            let dir = cache.dirs.downloads();
            std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
            // A private directory holding the file under its own name, so that errors
            // about the archive name the wheel.
            let tmp = tempfile::Builder::new()
                .prefix(DOWNLOAD_PREFIX)
                .tempdir_in(&dir)
                .map_err(|e| io(&dir, e))?;
            let path = tmp.path().join(name);
            let file = std::fs::File::create(&path).map_err(|e| io(&path, e))?;
            let ahead = Ahead::start(&path, &cache.dirs.wheels());
            Out::File {
                dir: tmp,
                path,
                file,
                pending: Vec::with_capacity(FILE_PIECE),
                written: 0,
                ahead,
            }
        }
    };
    let shown = match &out {
        Out::File { path, .. } => path.clone(),
        Out::Memory(..) => PathBuf::from(name),
    };
    let state = std::sync::Mutex::new(Sink {
        out,
        hasher: Sha256::new(),
        received: 0,
        limit: artifact.size,
        stopped: false,
    });
    let sink = || {
        state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let result = client
        .stream(
            &artifact.index,
            &artifact.url,
            &mut || {
                let mut s = sink();
                progress(-(s.received as i64));
                s.restart()
            },
            &mut |chunk: &[u8]| {
                progress(chunk.len() as i64);
                sink().write(chunk)
            },
        )
        .await;
    let mut sink = state
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ahead = match &mut sink.out {
        Out::File { ahead, .. } => ahead.take(),
        Out::Memory(..) => None,
    };
    let checked = check_download(artifact, result, &mut sink, &shown);
    match (checked, ahead) {
        (Ok(()), ahead) => {
            let extracted = match ahead {
                Some(ahead) => Some(ahead.finish().await),
                None => None,
            };
            Ok(match sink.out {
                Out::Memory(bytes, permit) => Download::Memory(bytes, permit),
                Out::File { dir, path, .. } => Download::File(Some(dir), path, extracted),
            })
        }
        (Err(e), ahead) => {
            // Nothing of a refused download is left, in the cache either.
            if let Some(ahead) = ahead {
                ahead.abandon().await;
            }
            Err(e)
        }
    }
}

/// The outcome of a download: an HTTP error, a failed write, or a size or hash other than
/// the lockfile's is an error.
fn check_download(
    artifact: &Artifact,
    result: Result<u16, StreamError>,
    sink: &mut Sink,
    shown: &Path,
) -> Result<(), FetchError> {
    let io = |path: &Path, source| FetchError::Io {
        package: artifact.package.clone(),
        path: path.to_path_buf(),
        source,
    };
    match result {
        Ok(status) if (200..300).contains(&status) => {}
        Ok(status) => {
            return Err(FetchError::Status {
                package: artifact.package.clone(),
                url: redacted(&artifact.url).to_string(),
                status,
            });
        }
        // Past the expected size: reported as the size mismatch it is.
        Err(StreamError::Sink(_)) if sink.stopped => {}
        Err(StreamError::Sink(e)) => return Err(io(shown, e)),
        Err(StreamError::Transport(source)) => {
            return Err(FetchError::Index {
                package: artifact.package.clone(),
                source: Box::new(source),
            });
        }
    }
    sink.flush().map_err(|e| io(shown, e))?;
    let digest = hex::encode(sink.hasher.finalize_reset());
    verify(artifact, sink.received, sink.stopped, &digest)
}

/// Where a download goes.
enum Out {
    /// A file in a private directory of `downloads/`.
    File {
        dir: tempfile::TempDir,
        path: PathBuf,
        file: std::fs::File,
        /// Received, not written yet (at most [`FILE_PIECE`]).
        pending: Vec<u8>,
        /// Bytes written to `file`.
        written: u64,
        /// Unpacking what is written, as it is.
        ahead: Option<Ahead>,
    },
    Memory(Vec<u8>, MemoryPermit),
}

/// The state of one download: where the bytes go, the running hash and count.
struct Sink {
    out: Out,
    hasher: Sha256,
    received: u64,
    /// The size the lockfile records: more is refused as it arrives.
    limit: Option<u64>,
    stopped: bool,
}

impl Sink {
    fn restart(&mut self) -> std::io::Result<()> {
        match &mut self.out {
            Out::File {
                file,
                pending,
                written,
                ahead,
                ..
            } => {
                // Called before the first attempt too. After bytes arrived, what was
                // unpacked ahead came from bytes now dropped: not trusted, and not tried
                // again for this download.
                if self.received > 0 {
                    ahead.take();
                }
                pending.clear();
                *written = 0;
                file.set_len(0)?;
                file.rewind()?;
            }
            Out::Memory(bytes, _) => bytes.clear(),
        }
        self.hasher = Sha256::new();
        self.received = 0;
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.received += chunk.len() as u64;
        if self.limit.is_some_and(|limit| self.received > limit) {
            self.stopped = true;
            return Err(std::io::Error::other(
                "more bytes than the lockfile records",
            ));
        }
        super::unpack::hash_timed(&mut self.hasher, chunk);
        match &mut self.out {
            Out::File { pending, .. } => {
                pending.extend_from_slice(chunk);
                if pending.len() >= FILE_PIECE {
                    self.flush()?;
                }
                Ok(())
            }
            Out::Memory(bytes, _) => {
                bytes.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    /// Write what is pending to the file, and tell [`Ahead`] it is there.
    fn flush(&mut self) -> std::io::Result<()> {
        if let Out::File {
            file,
            pending,
            written,
            ahead,
            ..
        } = &mut self.out
            && !pending.is_empty()
        {
            super::unpack::write_timed(file, pending)?;
            *written += pending.len() as u64;
            pending.clear();
            if let Some(ahead) = ahead {
                ahead.advance(*written);
            }
        }
        Ok(())
    }
}

/// Hash a local wheel and compare it with the lockfile.
fn check_local(path: &Path, artifact: &Artifact) -> Result<(), FetchError> {
    let io = |source| FetchError::Io {
        package: artifact.package.clone(),
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        super::unpack::hash_timed(&mut hasher, &buf[..n]);
        size += n as u64;
    }
    verify(artifact, size, false, &hex::encode(hasher.finalize()))
}

/// Compare what was received with the lockfile: size first, then sha256.
fn verify(artifact: &Artifact, size: u64, stopped: bool, sha256: &str) -> Result<(), FetchError> {
    if let Some(expected) = artifact.size
        && (expected != size || stopped)
    {
        return Err(FetchError::SizeMismatch {
            package: artifact.package.clone(),
            url: redacted(&artifact.url).to_string(),
            expected,
            actual: size,
            stopped,
        });
    }
    if !sha256.eq_ignore_ascii_case(&artifact.sha256) {
        return Err(FetchError::HashMismatch {
            package: artifact.package.clone(),
            url: redacted(&artifact.url).to_string(),
            expected: artifact.sha256.clone(),
            actual: sha256.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::http::test_server::{Reply, TestServer};
    use crate::install::tests::{base_files, build_wheel};

    fn artifact(url: Url, bytes: &[u8]) -> Artifact {
        Artifact {
            package: "demo 1.0".to_string(),
            filename: "demo-1.0-py3-none-any.whl".to_string(),
            url,
            size: Some(bytes.len() as u64),
            sha256: hex::encode(Sha256::digest(bytes)),
            index: "test".to_string(),
        }
    }

    fn no_progress() -> Progress {
        Arc::new(|_| {})
    }

    /// A server answering `/w.whl` with `body`, after `failures` 503s.
    async fn server(body: Vec<u8>, failures: usize) -> TestServer {
        let seen = AtomicUsize::new(0);
        TestServer::start(move |_| {
            if seen.fetch_add(1, Ordering::SeqCst) < failures {
                Reply::new(503, "busy")
            } else {
                Reply::new(200, body.clone())
            }
        })
        .await
    }

    fn client() -> HttpClient {
        HttpClient::new(4)
            .unwrap()
            .with_retries(3, std::time::Duration::from_millis(1))
    }

    #[tokio::test]
    async fn downloads_verifies_unpacks_once_and_then_uses_the_cache() {
        let bytes = build_wheel(&base_files());
        let server = server(bytes.clone(), 2).await;
        let tmp = tempfile::tempdir().unwrap();
        let cache = WheelCache::new(tmp.path());
        let a = artifact(server.url("/w.whl"), &bytes);
        let (unpacked, how) = fetch(&client(), &cache, &a, false, no_progress())
            .await
            .unwrap();
        assert_eq!(how, Fetched::Downloaded);
        assert_eq!(unpacked.dist_info, "demo-1.0.dist-info");
        // The download opens the connection itself (no HEAD first): two 503s, then the wheel.
        let methods: Vec<String> = server.requests().iter().map(|r| r.method.clone()).collect();
        assert_eq!(methods, ["GET", "GET", "GET"]);
        let (again, how) = fetch(&client(), &cache, &a, true, no_progress())
            .await
            .unwrap();
        assert_eq!(how, Fetched::Cached);
        assert_eq!(again, unpacked);
        assert_eq!(server.requests().len(), 3, "the cache answered");
    }

    #[tokio::test]
    async fn a_hash_or_size_mismatch_keeps_nothing() {
        let bytes = build_wheel(&base_files());
        let server = server(bytes.clone(), 0).await;
        let tmp = tempfile::tempdir().unwrap();
        let cache = WheelCache::new(tmp.path());
        let good = artifact(server.url("/w.whl"), &bytes);

        let wrong_hash = Artifact {
            sha256: "00".repeat(32),
            ..good.clone()
        };
        let err = fetch(&client(), &cache, &wrong_hash, false, no_progress())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, FetchError::HashMismatch { expected, actual, .. }
                if *expected == "00".repeat(32) && *actual == good.sha256),
            "{err}"
        );
        let short = Artifact {
            size: Some(100),
            ..good.clone()
        };
        let err = fetch(&client(), &cache, &short, false, no_progress())
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                FetchError::SizeMismatch {
                    expected: 100,
                    stopped: true,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("or more bytes"), "{err}");
        let wheels = CacheRoot::new(tmp.path()).wheels();
        assert!(
            std::fs::read_dir(&wheels).map_or(true, |mut d| d.next().is_none()),
            "nothing was unpacked"
        );
        let downloads = CacheRoot::new(tmp.path()).downloads();
        assert_eq!(
            std::fs::read_dir(&downloads).map_or(0, Iterator::count),
            0,
            "no leftovers"
        );
    }

    #[test]
    fn only_small_downloads_of_known_size_are_kept_in_memory() {
        let budget = new_budget();
        assert!(memory_permit(&budget, None).is_none(), "unknown size");
        assert!(memory_permit(&budget, Some(IN_MEMORY_MAX + 1)).is_none());
        let permit = memory_permit(&budget, Some(IN_MEMORY_MAX)).expect("within the budget");
        assert_eq!(permit.num_permits() as u64, IN_MEMORY_MAX / 1024);
        // The budget runs out rather than making a download wait.
        let held: Vec<_> = std::iter::from_fn(|| memory_permit(&budget, Some(IN_MEMORY_MAX)))
            .take(64)
            .collect();
        assert_eq!(held.len() as u64 + 1, IN_MEMORY_BUDGET / IN_MEMORY_MAX);
        assert!(memory_permit(&budget, Some(1)).is_none(), "all taken");
        drop(held);
        drop(permit);
        assert!(
            memory_permit(&budget, Some(IN_MEMORY_MAX)).is_some(),
            "given back"
        );
    }

    #[tokio::test]
    async fn a_download_of_unknown_size_goes_through_a_file_and_leaves_none() {
        let bytes = build_wheel(&base_files());
        let server = server(bytes.clone(), 0).await;
        let tmp = tempfile::tempdir().unwrap();
        let cache = WheelCache::new(tmp.path());
        let a = Artifact {
            size: None,
            ..artifact(server.url("/w.whl"), &bytes)
        };
        let (unpacked, how) = fetch(&client(), &cache, &a, false, no_progress())
            .await
            .unwrap();
        assert_eq!(how, Fetched::Downloaded);
        assert_eq!(unpacked.wheel, a.filename);
        assert!(cache.get(&a.sha256).is_some());
        let downloads = CacheRoot::new(tmp.path()).downloads();
        assert!(downloads.is_dir(), "it went through a file");
        assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), 0);
        // A wrong hash is caught on this path too.
        let wrong = Artifact {
            sha256: "22".repeat(32),
            ..a.clone()
        };
        let err = fetch(&client(), &cache, &wrong, false, no_progress())
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::HashMismatch { .. }), "{err}");
        assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), 0);
    }

    /// A wheel too large for memory goes to a file and is unpacked while it arrives: every
    /// file is taken from what was unpacked ahead, and nothing is left behind.
    #[tokio::test]
    async fn a_large_download_is_unpacked_while_it_arrives() {
        let bytes = crate::install::ahead::tests::large_wheel();
        assert!(bytes.len() as u64 > IN_MEMORY_MAX);
        let server = server(bytes.clone(), 0).await;
        let tmp = tempfile::tempdir().unwrap();
        let cache = WheelCache::new(tmp.path());
        let a = artifact(server.url("/w.whl"), &bytes);
        let (unpacked, how) = fetch(&client(), &cache, &a, false, no_progress())
            .await
            .unwrap();
        assert_eq!(how, Fetched::Downloaded);
        let entry = cache.entry(&a.sha256);
        let taken: Vec<usize> = crate::install::unpack::TAKEN_AHEAD
            .lock()
            .unwrap()
            .iter()
            .filter(|(dest, _)| *dest == entry)
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(taken, [unpacked.files.len()]);
        let downloads = CacheRoot::new(tmp.path()).downloads();
        assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), 0);
        let wheels: Vec<_> = std::fs::read_dir(CacheRoot::new(tmp.path()).wheels())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(wheels, [std::ffi::OsString::from(&a.sha256)]);
    }

    #[test]
    fn leftovers_of_killed_syncs_are_removed_once_old() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = WheelCache::new(tmp.path());
        let wheels = CacheRoot::new(tmp.path()).wheels();
        let downloads = CacheRoot::new(tmp.path()).downloads();
        for dir in [
            wheels.join(".unpack-abc/files/pkg"),
            wheels.join("0123abcd/files"),
            downloads.join(".download-xyz"),
            downloads.join("other"),
        ] {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(downloads.join(".download-xyz/w.whl"), b"partial").unwrap();
        // Young: possibly another sync's, kept.
        assert_eq!(
            cache.remove_leftovers(std::time::Duration::from_secs(3600)),
            0
        );
        assert!(wheels.join(".unpack-abc").exists());
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            cache.remove_leftovers(std::time::Duration::from_millis(10)),
            2
        );
        assert!(!wheels.join(".unpack-abc").exists());
        assert!(!downloads.join(".download-xyz").exists());
        assert!(wheels.join("0123abcd/files").is_dir(), "entries stay");
        assert!(downloads.join("other").is_dir(), "only our temporaries go");
    }

    #[tokio::test]
    async fn offline_and_http_errors_name_the_package() {
        let bytes = build_wheel(&base_files());
        let tmp = tempfile::tempdir().unwrap();
        let cache = WheelCache::new(tmp.path());
        let server = TestServer::start(|_| Reply::new(404, "gone")).await;
        let a = artifact(server.url("/w.whl"), &bytes);
        let err = fetch(&client(), &cache, &a, true, no_progress())
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::Offline { .. }), "{err}");
        assert!(server.requests().is_empty());
        let err = fetch(&client(), &cache, &a, false, no_progress())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot download demo 1.0: {} answered HTTP 404", a.url)
        );
    }

    #[tokio::test]
    async fn a_local_file_is_checked_in_place() {
        let bytes = build_wheel(&base_files());
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("demo-1.0-py3-none-any.whl");
        std::fs::write(&path, &bytes).unwrap();
        let cache = WheelCache::new(&tmp.path().join("cache"));
        let mut a = artifact(Url::from_file_path(&path).unwrap(), &bytes);
        // Offline is no obstacle to a local file.
        let (_, how) = fetch(&client(), &cache, &a, true, no_progress())
            .await
            .unwrap();
        assert_eq!(how, Fetched::Downloaded);
        a.sha256 = "11".repeat(32);
        let err = fetch(&client(), &cache, &a, true, no_progress())
            .await
            .unwrap_err();
        assert!(matches!(err, FetchError::HashMismatch { .. }), "{err}");
    }

    /// Rewrite the `unpacked.json` of the cache entry `sha256` through `edit`.
    fn edit_manifest(cache: &WheelCache, sha256: &str, edit: impl Fn(&mut serde_json::Value)) {
        let path = cache
            .entry(sha256)
            .join(crate::install::wheel::UNPACKED_MANIFEST);
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut json);
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    }

    #[tokio::test]
    async fn a_cache_entry_whose_manifest_leaves_it_is_unpacked_again() {
        let bytes = build_wheel(&base_files());
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("demo-1.0-py3-none-any.whl");
        std::fs::write(&path, &bytes).unwrap();
        let cache = WheelCache::new(&tmp.path().join("cache"));
        let a = artifact(Url::from_file_path(&path).unwrap(), &bytes);
        let (good, _) = fetch(&client(), &cache, &a, true, no_progress())
            .await
            .unwrap();
        let edits: [fn(&mut serde_json::Value); 5] = [
            |j| j["dist_info"] = "../../../escape.dist-info".into(),
            |j| j["dist_info"] = "demo-1.0.dist-info/../x.dist-info".into(),
            |j| j["dist_info"] = "demo-1.0".into(),
            |j| j["files"][0]["path"] = "../../../../etc/evil".into(),
            |j| j["files"][0]["path"] = "/etc/evil".into(),
        ];
        for (i, edit) in edits.iter().enumerate() {
            edit_manifest(&cache, &a.sha256, edit);
            assert!(cache.get(&a.sha256).is_none(), "edit {i} was trusted");
            // Not followed: unpacked again from the verified file, in its place.
            let (again, how) = fetch(&client(), &cache, &a, true, no_progress())
                .await
                .unwrap();
            assert_eq!(how, Fetched::Downloaded, "edit {i}");
            assert_eq!(again, good, "edit {i}");
            assert_eq!(cache.get(&a.sha256).as_ref(), Some(&good), "edit {i}");
        }
    }

    #[tokio::test]
    async fn a_cache_entry_under_another_wheels_hash_is_not_trusted() {
        let bytes = build_wheel(&base_files());
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("demo-1.0-py3-none-any.whl");
        std::fs::write(&path, &bytes).unwrap();
        let cache = WheelCache::new(&tmp.path().join("cache"));
        let a = artifact(Url::from_file_path(&path).unwrap(), &bytes);
        fetch(&client(), &cache, &a, true, no_progress())
            .await
            .unwrap();
        // The entry copied under the key of another wheel.
        let other = "ab".repeat(32);
        let from = cache.entry(&a.sha256);
        let to = cache.entry(&other);
        std::fs::create_dir_all(to.join("files")).unwrap();
        std::fs::copy(
            from.join(crate::install::wheel::UNPACKED_MANIFEST),
            to.join(crate::install::wheel::UNPACKED_MANIFEST),
        )
        .unwrap();
        assert!(cache.get(&other).is_none(), "trusted by its name alone");
        assert!(cache.get(&a.sha256).is_some());
    }
}
