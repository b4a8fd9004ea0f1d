//! Source distributions fetched into the cache: `sdists/<sha256>/<file name>`, verified
//! against the sha256 the index (or the lockfile) gives before they are kept, and capped in
//! size. Locking reads their static metadata from there; syncing builds them from there. A
//! `file://` sdist is hashed where it lies and used in place.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use url::Url;

use super::IndexError;
use super::local::file_path;
use crate::cache::CacheRoot;
use crate::http::{HttpClient, StreamError};

/// The largest sdist sanctuary downloads (the largest on PyPI are a few hundred MiB).
pub const MAX_SDIST_BYTES: u64 = 2 << 30;

/// An sdist on disk, verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdistFile {
    pub path: PathBuf,
    /// Its sha256, lower-case hex.
    pub sha256: String,
}

/// What to fetch.
#[derive(Clone, Copy, Debug)]
pub struct SdistRequest<'a> {
    /// The index it comes from, for credentials and messages.
    pub index: &'a str,
    pub url: &'a Url,
    pub filename: &'a str,
    /// The sha256 it must have, when known.
    pub sha256: Option<&'a str>,
    pub offline: bool,
}

/// The verified sdist of `request`, from the cache or fetched into it.
pub async fn fetch_sdist(
    client: &HttpClient,
    cache: &CacheRoot,
    request: SdistRequest<'_>,
) -> Result<SdistFile, IndexError> {
    let name = plain_name(request.filename, request.url)?;
    if request.url.scheme() == "file" {
        let path = file_path(request.url)?;
        let sha256 = hash_file(&path)?;
        check(request, &sha256)?;
        return Ok(SdistFile { path, sha256 });
    }
    if let Some(expected) = request.sha256 {
        // Kept under the lower-case digest, whatever case the index writes it in.
        let expected = expected.to_ascii_lowercase();
        let path = cache.sdists().join(&expected).join(name);
        if path.is_file() {
            return Ok(SdistFile {
                path,
                sha256: expected,
            });
        }
    }
    if request.offline {
        return Err(IndexError::Offline {
            what: format!("the source distribution {}", request.filename),
        });
    }
    let bucket = cache.sdists();
    std::fs::create_dir_all(&bucket).map_err(|e| cache_error(&bucket, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".download-")
        .tempfile_in(&bucket)
        .map_err(|e| cache_error(&bucket, e))?;
    let sha256 = download(client, request, tmp.path()).await?;
    check(request, &sha256)?;
    let dir = bucket.join(&sha256);
    std::fs::create_dir_all(&dir).map_err(|e| cache_error(&dir, e))?;
    let path = dir.join(name);
    tmp.persist(&path)
        .map_err(|e| cache_error(&path, e.error))?;
    Ok(SdistFile { path, sha256 })
}

/// Stream `request` into `dest`; its sha256.
async fn download(
    client: &HttpClient,
    request: SdistRequest<'_>,
    dest: &Path,
) -> Result<String, IndexError> {
    let state = std::sync::Mutex::new((
        None::<std::io::BufWriter<std::fs::File>>,
        Sha256::new(),
        0u64,
    ));
    let lock = || {
        state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let status = client
        .stream(
            request.index,
            request.url,
            &mut || {
                let mut s = lock();
                let file = std::fs::File::create(dest)?;
                *s = (Some(std::io::BufWriter::new(file)), Sha256::new(), 0);
                Ok(())
            },
            &mut |chunk| {
                let mut s = lock();
                s.2 += chunk.len() as u64;
                if s.2 > MAX_SDIST_BYTES {
                    return Err(std::io::Error::other("too large"));
                }
                s.1.update(chunk);
                match s.0.as_mut() {
                    Some(out) => out.write_all(chunk),
                    None => Err(std::io::Error::other("no file to write to")),
                }
            },
        )
        .await
        .map_err(|e| match e {
            StreamError::Transport(e) => e,
            StreamError::Sink(_) if lock().2 > MAX_SDIST_BYTES => IndexError::TooLarge {
                url: request.url.clone(),
                limit: MAX_SDIST_BYTES,
                what: "a source distribution",
            },
            StreamError::Sink(e) => cache_error(dest, e),
        })?;
    if !(200..300).contains(&status) {
        return Err(IndexError::from_status(
            request.index,
            request.url,
            status,
            client.sends_credentials(request.url),
        ));
    }
    let (out, hasher, _) = std::mem::take(&mut *lock());
    if let Some(mut out) = out {
        out.flush().map_err(|e| cache_error(dest, e))?;
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The file name of an sdist, used as one only when it is a plain name.
fn plain_name<'a>(filename: &'a str, url: &Url) -> Result<&'a str, IndexError> {
    if filename.is_empty()
        || filename.contains(['/', '\\', '\0'])
        || filename == "."
        || filename == ".."
    {
        return Err(IndexError::Other(format!(
            "`{filename}` ({url}) is not a plain file name"
        )));
    }
    Ok(filename)
}

fn check(request: SdistRequest<'_>, actual: &str) -> Result<(), IndexError> {
    match request.sha256 {
        Some(expected) if !expected.eq_ignore_ascii_case(actual) => Err(IndexError::HashMismatch {
            url: request.url.clone(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }),
        _ => Ok(()),
    }
}

/// The sha256 of the file at `path`, read in chunks.
pub fn hash_file(path: &Path) -> Result<String, IndexError> {
    let mut file = std::fs::File::open(path).map_err(|e| cache_error(path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| cache_error(path, e))?;
    Ok(hex::encode(hasher.finalize()))
}

fn cache_error(path: &Path, source: std::io::Error) -> IndexError {
    IndexError::Cache {
        path: path.to_path_buf(),
        source: std::sync::Arc::new(source),
    }
}
