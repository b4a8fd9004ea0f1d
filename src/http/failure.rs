//! Why one attempt at a request failed ([`Failure`]), whether it is worth another, and the
//! [`IndexError`] it becomes after the last attempt: each reason in its own words, free of
//! URLs and credentials (callers name the URL, redacted).

use std::time::Duration;

use url::Url;

use super::redact::{redact_text, redacted};
use super::{HttpTimeouts, Limit};
use crate::index::IndexError;

/// The longest `Retry-After` we wait for; longer ones fall back to our own backoff.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// Why one streaming attempt stopped: the network, or the sink.
pub(super) enum StreamFailure {
    Net(Failure),
    Sink(std::io::Error),
}

/// Why one attempt failed, its reason already free of URLs and credentials.
#[derive(Debug)]
pub(super) enum Failure {
    /// No connection: name resolution, refused, TLS handshake. Retried.
    Connect(String),
    /// The server was silent for longer than the read timeout. Retried.
    Stalled(String),
    /// The connection broke before the whole answer arrived. Retried.
    Broken(String),
    /// The whole request took longer than this deadline. Not retried.
    Deadline(Duration),
    /// The answer is larger than this. Not retried.
    TooLarge(Limit),
    /// Anything else (too many redirects, a request that cannot be built). Not retried.
    Other(String),
}

impl From<reqwest::Error> for Failure {
    fn from(err: reqwest::Error) -> Failure {
        let kind: fn(String) -> Failure = if err.is_timeout() {
            Failure::Stalled
        } else if err.is_connect() {
            Failure::Connect
        } else if err.is_redirect() || err.is_builder() {
            Failure::Other
        } else {
            Failure::Broken
        };
        // Callers name the URL themselves, with its credentials masked.
        kind(redact_text(&error_chain(&err.without_url())).into_owned())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Connect(r) | Failure::Stalled(r) | Failure::Broken(r) | Failure::Other(r) => {
                f.write_str(r)
            }
            Failure::Deadline(after) => write!(f, "deadline of {after:?} passed"),
            Failure::TooLarge(limit) => write!(f, "more than {} bytes", limit.bytes),
        }
    }
}

impl Failure {
    pub(super) fn transient(&self) -> bool {
        matches!(
            self,
            Failure::Connect(_) | Failure::Stalled(_) | Failure::Broken(_)
        )
    }

    /// The error to report after `attempts` attempts at `url` (of index `index`), made
    /// with `timeouts`.
    pub(super) fn into_error(
        self,
        index: &str,
        url: &Url,
        attempts: u32,
        timeouts: HttpTimeouts,
    ) -> IndexError {
        let url = url.clone();
        match self {
            Failure::Connect(reason) => IndexError::Unreachable {
                index: index.to_string(),
                url,
                reason,
            },
            Failure::Stalled(_) => IndexError::Stalled {
                url,
                after: timeouts.read,
                attempts,
            },
            Failure::Broken(reason) => IndexError::BrokenOff {
                url,
                attempts,
                reason,
            },
            Failure::Deadline(after) => IndexError::Deadline { url, after },
            Failure::TooLarge(limit) => IndexError::TooLarge {
                url,
                limit: limit.bytes,
                what: limit.what,
            },
            Failure::Other(reason) => IndexError::Other(format!(
                "the request to {} failed: {reason}",
                redacted(&url)
            )),
        }
    }
}

/// A status worth asking again for.
pub(super) fn retryable(status: u16) -> bool {
    status >= 500 || status == 429
}

/// A `Retry-After` in seconds, when short enough to honour.
pub(super) fn retry_after(value: Option<&str>) -> Option<Duration> {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .filter(|d| *d <= MAX_RETRY_AFTER)
}

/// An error and its sources, `: `-separated (reqwest's own message is terse).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
