//! HTTP: the one client of the indexes and of downloads, the credentials it sends, and how
//! URLs are shown. Nothing here knows what a page or a wheel is (that is [`crate::index`] and
//! [`crate::install::fetch`]); every request is made for an index, named in its errors.
//!
//! The client ([`HttpClient`]): one shared `reqwest::Client` (HTTP/2, pooled, rustls with the
//! native roots), a semaphore bounding the requests in flight, a gate per origin (the first
//! request to an origin opens its connection and a burst waits for the head of its answer,
//! so all share that connection), and
//! retries with exponential backoff on 5xx, 429 (honouring a small `Retry-After`) and
//! transport failures: no connection, a connection that broke before the whole answer
//! arrived (reset, truncated body), and a server silent for longer than the read timeout.
//! Each is reported in its own words after the last attempt (`failure`): only a failure to
//! connect (name resolution, refused, TLS handshake) is [`IndexError::Unreachable`].
//!
//! Every request has a deadline besides the read timeout ([`HttpTimeouts`]), so a server
//! that drips bytes ends in an error; answers read into memory have a size cap by kind
//! ([`Limit`]), checked against `Content-Length` and again as the bytes arrive; downloads
//! stream into a caller's sink ([`HttpClient::stream`]).
//!
//! Credentials live here too, because they are a property of requests, not of pages:
//! [`auth`] keeps them apart from URLs and applies them per host as each request is sent
//! ([`netrc`] reads the netrc file), and [`redact`] is the one way a URL is shown (in a log
//! line or message) or recorded without them. [`date`] reads HTTP dates.
//!
//! Errors are [`IndexError`]s: the caller matches on that one type whether a page failed to
//! parse or its server could not be reached (the command line's hints do).

// `IndexError` carries the URL at fault, which clippy finds large: see `crate::index`.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod counters;
pub mod date;
mod failure;
pub mod netrc;
pub mod redact;
#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;

use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use url::Url;

use crate::index::IndexError;
use auth::Auth;
use failure::{Failure, StreamFailure, retry_after, retryable};
use redact::{redacted, without_credentials};

/// The most bytes of one answer read into memory, by what the answer is. Generous for the
/// real PyPI, whose largest simple pages (projects with tens of thousands of files) are
/// some tens of MiB, and whose largest METADATA files are well under a MiB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub bytes: u64,
    /// What the answer is, for the error.
    pub what: &'static str,
    /// Beyond `bytes`, drop the body (and the connection) instead of failing: the answer's
    /// head is what is wanted.
    pub head_only: bool,
}

impl Limit {
    /// A simple page (HTML, JSON or a flat listing).
    pub const PAGE: Limit = Limit {
        bytes: 128 << 20,
        what: "a simple page",
        head_only: false,
    };
    /// A PEP 658 `.metadata` file.
    pub const METADATA: Limit = Limit {
        bytes: 16 << 20,
        what: "a metadata file",
        head_only: false,
    };
    /// A range of a wheel (its central directory, its METADATA entry).
    pub const RANGE: Limit = Limit {
        bytes: 64 << 20,
        what: "a range of a wheel",
        head_only: false,
    };
    /// An answer whose body is not wanted (HEAD, a one-byte range).
    pub const PROBE: Limit = Limit {
        bytes: 64 << 10,
        what: "a probe",
        head_only: true,
    };
}

/// How long requests may take (`SANCTUARY_HTTP_TIMEOUT`, `SANCTUARY_HTTP_DEADLINE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpTimeouts {
    /// The longest wait for the next bytes: connecting, the answer's head, each read.
    pub read: Duration,
    /// The longest a whole request may take, body included, for an answer of up to
    /// [`DEADLINE_RATE`] bytes; a longer one gets a second more per [`DEADLINE_RATE`] bytes
    /// it announces, so that a 2.5 GB wheel gets about five and a half hours.
    pub deadline: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        HttpTimeouts {
            read: Duration::from_secs(30),
            deadline: Duration::from_secs(300),
        }
    }
}

/// Bytes per second of deadline an answer's `Content-Length` adds (see
/// [`HttpTimeouts::deadline`]): the slowest average rate a download may have.
pub const DEADLINE_RATE: u64 = 128 * 1024;

/// A complete HTTP response (body read in full).
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body, when read whole ([`HttpClient::send`]).
    pub body: Vec<u8>,
    /// The body as it arrived, when read in pieces ([`HttpClient::send_in_pieces`]).
    pub pieces: Vec<bytes::Bytes>,
    /// The final URL, after redirects, without credentials.
    pub url: Url,
    /// Whether credentials were sent.
    pub credentials: bool,
}

impl HttpResponse {
    /// A header value as a string, when present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The shared HTTP client; cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    http: reqwest::Client,
    permits: Arc<Semaphore>,
    retries: u32,
    backoff: Duration,
    timeouts: HttpTimeouts,
    auth: Arc<Auth>,
    /// Per origin: `true` once the head of the first answer from it has arrived (or the
    /// first request failed). Requests to an origin wait for the first one, so that a burst
    /// shares the one HTTP/2 connection it opened instead of each opening (and resolving the
    /// name for) its own.
    opened: Arc<std::sync::Mutex<std::collections::HashMap<String, watch::Receiver<bool>>>>,
}

/// Where a request stands at its origin's gate.
enum Gate {
    /// The connection is open: go.
    Open,
    /// This request is the origin's first: it opens the gate (when the head of its answer
    /// arrives, or when it is dropped, whatever the outcome).
    First(Opener),
    /// Another request is opening the connection: wait for it.
    Wait(watch::Receiver<bool>),
}

/// Opens its origin's gate when dropped.
struct Opener(watch::Sender<bool>);

impl Drop for Opener {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// The largest body buffer allocated up front from a `Content-Length`.
const MAX_PRESIZE: u64 = 64 << 20;

impl HttpClient {
    /// A client allowing `concurrency` requests in flight (at least one), with the default
    /// timeouts, no credentials, and 3 retries starting at 100 ms.
    pub fn new(concurrency: usize) -> Result<Self, IndexError> {
        HttpClient::with_timeouts(concurrency, HttpTimeouts::default())
    }

    /// A client allowing `concurrency` requests in flight (at least one), with `timeouts`.
    pub fn with_timeouts(concurrency: usize, timeouts: HttpTimeouts) -> Result<Self, IndexError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("sanctuary/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeouts.read.min(Duration::from_secs(10)))
            .read_timeout(timeouts.read)
            .pool_max_idle_per_host(concurrency.max(1))
            // HTTP/2's flow-control windows bound what the server may send ahead of what is
            // read. Every download shares one connection, so it needs room (the protocol's
            // 64 KiB would cap it at 64 KiB a round trip), but whatever is not read yet sits
            // in memory: with 64 MiB a cold sync, CPU-bound while unpacking, held some 25 MiB
            // of frames. 16 MiB keeps ~400 MB/s here and 160 MB/s at a 100 ms round trip.
            .http2_initial_stream_window_size(4 << 20)
            .http2_initial_connection_window_size(16 << 20)
            .build()
            .map_err(|e| IndexError::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClient {
            http,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            retries: 3,
            backoff: Duration::from_millis(100),
            timeouts,
            auth: Arc::default(),
            opened: Arc::default(),
        })
    }

    /// Change the retry policy (`retries` extra attempts, the first delay `backoff`,
    /// doubling each time).
    pub fn with_retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.backoff = backoff;
        self
    }

    /// Whether requests to `url` carry credentials.
    pub fn sends_credentials(&self, url: &Url) -> bool {
        self.auth.for_url(url).is_some()
    }

    /// Send credentials from `auth` with every request whose host it knows.
    pub fn with_auth(mut self, auth: Auth) -> Self {
        self.auth = Arc::new(auth);
        self
    }

    /// Send a request to `url` (served by the index named `index`), retrying transient
    /// failures, and read at most `limit` of the answer. Any final HTTP status is returned
    /// as a response; only transport failures (and a body over `limit`) are errors.
    pub async fn send(
        &self,
        index: &str,
        method: reqwest::Method,
        url: &Url,
        headers: &[(&str, String)],
        limit: Limit,
    ) -> Result<HttpResponse, IndexError> {
        self.send_with(index, method, url, headers, limit, false)
            .await
    }

    /// [`Self::send`], the body kept in the pieces it arrived in (`HttpResponse::pieces`)
    /// rather than copied into one buffer: a caller that may find it needs no body (a page
    /// identical to the cached one) then never pays for one.
    pub async fn send_in_pieces(
        &self,
        index: &str,
        method: reqwest::Method,
        url: &Url,
        headers: &[(&str, String)],
        limit: Limit,
    ) -> Result<HttpResponse, IndexError> {
        self.send_with(index, method, url, headers, limit, true)
            .await
    }

    async fn send_with(
        &self,
        index: &str,
        method: reqwest::Method,
        url: &Url,
        headers: &[(&str, String)],
        limit: Limit,
        in_pieces: bool,
    ) -> Result<HttpResponse, IndexError> {
        let mut opener = self.pass_gate(url).await;
        let ask = Ask {
            method,
            url,
            headers,
            limit,
            in_pieces,
        };
        self.send_retrying(index, &ask, &mut opener).await
    }

    async fn send_retrying(
        &self,
        index: &str,
        ask: &Ask<'_>,
        opener: &mut Option<Opener>,
    ) -> Result<HttpResponse, IndexError> {
        let url = ask.url;
        let mut attempt = 0u32;
        loop {
            let outcome = {
                let _permit = self.permit().await?;
                self.send_once(ask, opener).await
            };
            let delay = self.backoff.saturating_mul(2u32.saturating_pow(attempt));
            match outcome {
                Ok(resp) if attempt < self.retries && retryable(resp.status) => {
                    let wait = retry_after(resp.header("retry-after")).unwrap_or(delay);
                    tracing::debug!(url = %redacted(url), status = resp.status, attempt, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Ok(resp) => return Ok(resp),
                Err(failure) if attempt < self.retries && failure.transient() => {
                    tracing::debug!(url = %redacted(url), attempt, %failure, "retrying after a transport error");
                    tokio::time::sleep(delay).await;
                }
                Err(failure) => {
                    return Err(failure.into_error(index, url, attempt + 1, self.timeouts));
                }
            }
            attempt += 1;
        }
    }

    /// Stream the body of `url` (served by the index named `index`) into `sink`, retrying
    /// 5xx, 429 and transport failures, including a connection reset mid-body: `restart` is
    /// called before every attempt so the sink can start over. Returns the final status; a
    /// body is only streamed for a 2xx answer. An error from `sink` (for example a body
    /// longer than announced) ends the download at once, as [`StreamError::Sink`].
    pub async fn stream(
        &self,
        index: &str,
        url: &Url,
        restart: &mut (dyn FnMut() -> std::io::Result<()> + Send),
        sink: &mut (dyn FnMut(&[u8]) -> std::io::Result<()> + Send),
    ) -> Result<u16, StreamError> {
        // Like `send`: the first download from an origin opens its connection, and the others
        // wait for the head of its answer, so a burst of downloads shares one connection
        // instead of each resolving the name and opening its own.
        let mut opener = self.pass_gate(url).await;
        let mut attempt = 0u32;
        loop {
            let outcome = {
                let _permit = self.permit().await.map_err(StreamError::Transport)?;
                restart().map_err(StreamError::Sink)?;
                self.stream_once(url, sink, &mut opener).await
            };
            let delay = self.backoff.saturating_mul(2u32.saturating_pow(attempt));
            match outcome {
                Ok((status, after)) if attempt < self.retries && retryable(status) => {
                    let wait = retry_after(after.as_deref()).unwrap_or(delay);
                    tracing::debug!(url = %redacted(url), status, attempt, ?wait, "retrying the download");
                    tokio::time::sleep(wait).await;
                }
                Ok((status, _)) => return Ok(status),
                Err(StreamFailure::Sink(e)) => return Err(StreamError::Sink(e)),
                Err(StreamFailure::Net(failure))
                    if attempt < self.retries && failure.transient() =>
                {
                    tracing::debug!(url = %redacted(url), attempt, %failure, "retrying the download after a transport error");
                    tokio::time::sleep(delay).await;
                }
                Err(StreamFailure::Net(failure)) => {
                    return Err(StreamError::Transport(failure.into_error(
                        index,
                        url,
                        attempt + 1,
                        self.timeouts,
                    )));
                }
            }
            attempt += 1;
        }
    }

    async fn stream_once(
        &self,
        url: &Url,
        sink: &mut (dyn FnMut(&[u8]) -> std::io::Result<()> + Send),
        opener: &mut Option<Opener>,
    ) -> Result<(u16, Option<String>), StreamFailure> {
        let mut answer = self
            .open(reqwest::Method::GET, url, &[])
            .await
            .map_err(StreamFailure::Net)?;
        // The connection is up: the requests waiting at the gate may share it.
        opener.take();
        let status = answer.response.status().as_u16();
        if !(200..300).contains(&status) {
            let after = answer
                .response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            return Ok((status, after));
        }
        while let Some(chunk) = answer.chunk().await.map_err(StreamFailure::Net)? {
            sink(&chunk).map_err(StreamFailure::Sink)?;
        }
        Ok((status, None))
    }

    /// Wait at the gate of `url`'s origin; `Some` when this request is the first, and opens
    /// it (dropping the [`Opener`] does).
    async fn pass_gate(&self, url: &Url) -> Option<Opener> {
        match self.gate(url) {
            Gate::Open => None,
            Gate::First(opener) => Some(opener),
            Gate::Wait(open) => {
                wait_open(open).await;
                None
            }
        }
    }

    /// The gates, by origin.
    fn gates(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, watch::Receiver<bool>>> {
        // A poisoned lock only means a thread panicked while holding it: the map is whole.
        self.opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn gate(&self, url: &Url) -> Gate {
        match self.gates().entry(url.origin().ascii_serialization()) {
            Entry::Occupied(entry) if *entry.get().borrow() => Gate::Open,
            Entry::Occupied(entry) => Gate::Wait(entry.get().clone()),
            Entry::Vacant(entry) => {
                let (open, opened) = watch::channel(false);
                entry.insert(opened);
                Gate::First(Opener(open))
            }
        }
    }

    /// Wait until the connection to `url`'s origin is open, when a first request is opening
    /// it; at once when it is open or no request went there yet.
    pub async fn connected(&self, url: &Url) {
        let gate = self
            .gates()
            .get(&url.origin().ascii_serialization())
            .cloned();
        if let Some(open) = gate {
            wait_open(open).await;
        }
    }

    /// One of the `concurrency` request slots.
    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, IndexError> {
        // The semaphore is never closed, so acquiring only fails if it were.
        self.permits
            .acquire()
            .await
            .map_err(|e| IndexError::Other(e.to_string()))
    }

    /// Send one request and wait for the head of its answer, within the deadline; the
    /// credentials for `url`'s host go with it, and `url`'s own user info never does.
    async fn open(
        &self,
        method: reqwest::Method,
        url: &Url,
        headers: &[(&str, String)],
    ) -> Result<Answer, Failure> {
        let started = Instant::now();
        let mut request = self.http.request(method, without_credentials(url));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let credentials = self.auth.for_url(url);
        if let Some(c) = &credentials {
            request = request.basic_auth(&c.username, c.password.as_ref());
        }
        let deadline = started + self.timeouts.deadline;
        let in_flight = counters::sent();
        let response = match tokio::time::timeout_at(deadline, request.send()).await {
            Ok(response) => response.map_err(Failure::from)?,
            Err(_) => return Err(Failure::Deadline(self.timeouts.deadline)),
        };
        in_flight.answered();
        // A long answer gets longer, at the slowest rate we accept.
        let extra = Duration::from_secs(response.content_length().unwrap_or(0) / DEADLINE_RATE);
        Ok(Answer {
            response,
            started,
            deadline: deadline + extra,
            credentials: credentials.is_some(),
            _in_flight: in_flight,
        })
    }

    async fn send_once(
        &self,
        ask: &Ask<'_>,
        opener: &mut Option<Opener>,
    ) -> Result<HttpResponse, Failure> {
        let limit = ask.limit;
        let head = ask.method == reqwest::Method::HEAD;
        let mut answer = self.open(ask.method.clone(), ask.url, ask.headers).await?;
        // The connection is up: the requests waiting at the gate may share it.
        opener.take();
        let status = answer.response.status().as_u16();
        let headers = answer.response.headers().clone();
        let final_url = without_credentials(answer.response.url());
        let announced = if head {
            0
        } else {
            answer.response.content_length().unwrap_or(0)
        };
        let mut response = HttpResponse {
            status,
            headers,
            body: Vec::new(),
            pieces: Vec::new(),
            url: final_url,
            credentials: answer.credentials,
        };
        if announced > limit.bytes {
            return match limit.head_only {
                true => Ok(response),
                false => Err(Failure::TooLarge(limit)),
            };
        }
        // Whole: one buffer of the announced size, filled chunk by chunk (collecting the
        // chunks first grows a buffer by doubling, copying a large page several times).
        if !ask.in_pieces {
            response.body.reserve(announced.min(MAX_PRESIZE) as usize);
        }
        let mut read = 0u64;
        while let Some(chunk) = answer.chunk().await? {
            read += chunk.len() as u64;
            if read > limit.bytes {
                if limit.head_only {
                    response.body.clear();
                    response.pieces.clear();
                    break;
                }
                return Err(Failure::TooLarge(limit));
            }
            if ask.in_pieces {
                response.pieces.push(chunk);
            } else {
                response.body.extend_from_slice(&chunk);
            }
        }
        Ok(response)
    }
}

/// Wait until the gate `open` watches is open.
async fn wait_open(mut open: watch::Receiver<bool>) {
    // An error means the opener is gone, which opened the gate on its way.
    let _ = open.wait_for(|open| *open).await;
}

/// One request of [`HttpClient::send`] or [`HttpClient::send_in_pieces`], and how its answer
/// is read.
struct Ask<'a> {
    method: reqwest::Method,
    url: &'a Url,
    headers: &'a [(&'a str, String)],
    limit: Limit,
    /// The body kept in the pieces it arrived in (`HttpResponse::pieces`).
    in_pieces: bool,
}

/// An answer whose head has arrived, and the deadline its body must meet.
struct Answer {
    response: reqwest::Response,
    started: Instant,
    deadline: Instant,
    credentials: bool,
    /// Counted busy until the answer is dropped, its body read or abandoned.
    _in_flight: counters::InFlight,
}

impl Answer {
    /// The next piece of the body, within the deadline.
    async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, Failure> {
        match tokio::time::timeout_at(self.deadline, self.response.chunk()).await {
            Ok(chunk) => {
                let chunk = chunk.map_err(Failure::from)?;
                if let Some(c) = &chunk {
                    counters::received(c.len());
                }
                Ok(chunk)
            }
            Err(_) => Err(Failure::Deadline(self.deadline - self.started)),
        }
    }
}

/// Why [`HttpClient::stream`] stopped.
#[derive(Debug)]
pub enum StreamError {
    /// The server could not be reached, after retries.
    Transport(IndexError),
    /// The sink refused the bytes or could not store them.
    Sink(std::io::Error),
}
