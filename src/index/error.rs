//! [`IndexError`]: what can go wrong reading an index. Every URL in a message is shown
//! through [`redacted`], so credentials never reach a message.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::http::redact::{redact_text, redacted};

/// Errors from indexes, the cache and metadata. `Clone`, because one failed fetch is shared
/// by every resolver task that waited on it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum IndexError {
    /// No connection could be made (name resolution, connection refused, TLS handshake).
    #[error(
        "index `{}` at {} is unreachable: {reason}",
        redact_text(.index),
        redacted(.url)
    )]
    Unreachable {
        index: String,
        url: Url,
        reason: String,
    },
    /// The connection broke before the whole answer arrived, on every attempt.
    #[error(
        "the connection to {} broke off before the whole answer arrived ({attempts} attempts): {reason}",
        redacted(.url)
    )]
    BrokenOff {
        url: Url,
        attempts: u32,
        reason: String,
    },
    /// The server stopped sending for longer than the read timeout, on every attempt.
    #[error(
        "{} sent nothing for {} s ({attempts} attempts)",
        redacted(.url),
        .after.as_secs_f64()
    )]
    Stalled {
        url: Url,
        after: Duration,
        attempts: u32,
    },
    /// The whole request took longer than its deadline.
    #[error("{} did not finish within its deadline of {} s", redacted(.url), .after.as_secs_f64())]
    Deadline { url: Url, after: Duration },
    /// The answer is larger than we read of its kind.
    #[error(
        "{} is larger than the {} MiB allowed for {what}; refusing to read it",
        redacted(.url),
        .limit >> 20
    )]
    TooLarge {
        url: Url,
        limit: u64,
        what: &'static str,
    },
    #[error("{} answered HTTP {status}", redacted(.url))]
    Status { url: Url, status: u16 },
    /// 401 or 403: the index wants credentials, or other ones.
    #[error(
        "{} answered HTTP {status}: index `{}` refused the {} credentials",
        redacted(.url),
        redact_text(.index),
        if *.sent { "given" } else { "missing" }
    )]
    Denied {
        index: String,
        url: Url,
        status: u16,
        /// Whether credentials were sent.
        sent: bool,
    },
    #[error("the simple page {} is not a valid page: {reason}", redacted(.url))]
    BadPage { url: Url, reason: String },
    #[error("invalid metadata in {file}: {reason}")]
    BadMetadata { file: String, reason: String },
    /// An sdist's metadata is not static and its build backend could not give it.
    #[error("cannot compute the metadata of {file}: {reason}")]
    SdistMetadata { file: String, reason: String },
    #[error(
        "hash mismatch for {}: expected sha256 {expected}, got {actual}",
        redacted(.url)
    )]
    HashMismatch {
        url: Url,
        expected: String,
        actual: String,
    },
    #[error("{what} is not in the cache, and --offline forbids network access")]
    Offline { what: String },
    #[error("cache error at {path}: {source}")]
    Cache {
        path: std::path::PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("{0}")]
    Other(String),
}

impl IndexError {
    /// The error for the final answer `status` to a request for `url` of the index called
    /// `index` (`credentials`: whether they were sent): [`IndexError::Denied`] for 401 and
    /// 403, else [`IndexError::Status`].
    pub fn from_status(index: &str, url: &Url, status: u16, credentials: bool) -> IndexError {
        match status {
            401 | 403 => IndexError::Denied {
                index: index.to_string(),
                url: url.clone(),
                status,
                sent: credentials,
            },
            _ => IndexError::Status {
                url: url.clone(),
                status,
            },
        }
    }
}
