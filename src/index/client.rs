//! The HTTP client of the indexes and of downloads.
//!
//! One shared `reqwest::Client` (HTTP/2, pooled, rustls with the native roots), a semaphore
//! bounding the requests in flight, and retries with exponential backoff on 5xx, 429
//! (honouring a small `Retry-After`) and transport failures: no connection, a connection
//! that broke before the whole answer arrived (reset, truncated body), and a server silent
//! for longer than the read timeout. Each is reported in its own words after the last
//! attempt: only a failure to connect (name resolution, refused, TLS handshake) is
//! [`IndexError::Unreachable`].
//!
//! Every request has a deadline besides the read timeout ([`HttpTimeouts`]), so a server
//! that drips bytes ends in an error; answers read into memory have a size cap by kind
//! ([`Limit`]), checked against `Content-Length` and again as the bytes arrive. Credentials
//! are added to each request from [`Auth`] by its host; URLs never carry them here, and every
//! URL in a log line or message goes through [`redacted`].

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

use super::IndexError;
use super::auth::Auth;
pub use super::local::{file_path, read_local, read_local_flat, read_local_simple};
use super::redact::{redact_text, redacted, without_credentials};

/// The `Accept` header of simple-page requests: JSON preferred, HTML accepted.
pub const SIMPLE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

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
    pub body: Vec<u8>,
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
    /// Per origin: opened once the first request to it has been answered. Requests to an
    /// origin wait for the first one, so that a burst shares the one HTTP/2 connection it
    /// opened instead of each opening (and resolving the name for) its own.
    opened:
        Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::OnceCell<()>>>>>,
}

/// The largest body buffer allocated up front from a `Content-Length`.
const MAX_PRESIZE: u64 = 64 << 20;

/// The longest `Retry-After` we wait for; longer ones fall back to our own backoff.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

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
            // HTTP/2's default flow-control windows (64 KiB) cap a connection at 64 KiB per
            // round trip: every download shares one connection, so give it room.
            .http2_initial_stream_window_size(8 << 20)
            .http2_initial_connection_window_size(64 << 20)
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
        let gate = self.gate(url);
        if !gate.initialized() {
            let mut first = None;
            gate.get_or_init(|| async {
                first = Some(
                    self.send_retrying(index, method.clone(), url, headers, limit)
                        .await,
                );
            })
            .await;
            if let Some(result) = first {
                return result;
            }
        }
        self.send_retrying(index, method, url, headers, limit).await
    }

    async fn send_retrying(
        &self,
        index: &str,
        method: reqwest::Method,
        url: &Url,
        headers: &[(&str, String)],
        limit: Limit,
    ) -> Result<HttpResponse, IndexError> {
        let mut attempt = 0u32;
        loop {
            let outcome = {
                let _permit = self.permit().await?;
                self.send_once(method.clone(), url, headers, limit).await
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
        // Like `send`: the first request to an origin opens its connection (a HEAD), and the
        // others wait for it, so a burst of downloads shares one connection instead of each
        // resolving the name and opening its own.
        let gate = self.gate(url);
        if !gate.initialized() {
            gate.get_or_init(|| async {
                let _ = self
                    .send_retrying(index, reqwest::Method::HEAD, url, &[], Limit::PROBE)
                    .await;
            })
            .await;
        }
        let mut attempt = 0u32;
        loop {
            let outcome = {
                let _permit = self.permit().await.map_err(StreamError::Transport)?;
                restart().map_err(StreamError::Sink)?;
                self.stream_once(url, sink).await
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
    ) -> Result<(u16, Option<String>), StreamFailure> {
        let mut answer = self
            .open(reqwest::Method::GET, url, &[])
            .await
            .map_err(StreamFailure::Net)?;
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

    /// The gate of `url`'s origin: initialised once its first request was answered.
    fn gate(&self, url: &Url) -> Arc<tokio::sync::OnceCell<()>> {
        let mut opened = self
            .opened
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        opened
            .entry(url.origin().ascii_serialization())
            .or_default()
            .clone()
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
        let response = match tokio::time::timeout_at(deadline, request.send()).await {
            Ok(response) => response.map_err(Failure::from)?,
            Err(_) => return Err(Failure::Deadline(self.timeouts.deadline)),
        };
        // A long answer gets longer, at the slowest rate we accept.
        let extra = Duration::from_secs(response.content_length().unwrap_or(0) / DEADLINE_RATE);
        Ok(Answer {
            response,
            started,
            deadline: deadline + extra,
            credentials: credentials.is_some(),
        })
    }

    async fn send_once(
        &self,
        method: reqwest::Method,
        url: &Url,
        headers: &[(&str, String)],
        limit: Limit,
    ) -> Result<HttpResponse, Failure> {
        let head = method == reqwest::Method::HEAD;
        let mut answer = self.open(method, url, headers).await?;
        let status = answer.response.status().as_u16();
        let headers = answer.response.headers().clone();
        let final_url = without_credentials(answer.response.url());
        let announced = if head {
            0
        } else {
            answer.response.content_length().unwrap_or(0)
        };
        let mut body = Vec::new();
        if announced > limit.bytes {
            return match limit.head_only {
                true => Ok(HttpResponse {
                    status,
                    headers,
                    body,
                    url: final_url,
                    credentials: answer.credentials,
                }),
                false => Err(Failure::TooLarge(limit)),
            };
        }
        // One buffer of the announced size, filled chunk by chunk (collecting the chunks
        // first grows a buffer by doubling, copying a large page several times).
        body.reserve(announced.min(MAX_PRESIZE) as usize);
        while let Some(chunk) = answer.chunk().await? {
            if (body.len() + chunk.len()) as u64 > limit.bytes {
                if limit.head_only {
                    body.clear();
                    break;
                }
                return Err(Failure::TooLarge(limit));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
            url: final_url,
            credentials: answer.credentials,
        })
    }
}

/// An answer whose head has arrived, and the deadline its body must meet.
struct Answer {
    response: reqwest::Response,
    started: Instant,
    deadline: Instant,
    credentials: bool,
}

impl Answer {
    /// The next piece of the body, within the deadline.
    async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, Failure> {
        match tokio::time::timeout_at(self.deadline, self.response.chunk()).await {
            Ok(chunk) => chunk.map_err(Failure::from),
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

enum StreamFailure {
    Net(Failure),
    Sink(std::io::Error),
}

/// Why one attempt failed, its reason already free of URLs and credentials.
#[derive(Debug)]
enum Failure {
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
    fn transient(&self) -> bool {
        matches!(
            self,
            Failure::Connect(_) | Failure::Stalled(_) | Failure::Broken(_)
        )
    }

    /// The error to report after `attempts` attempts at `url` (of index `index`), made
    /// with `timeouts`.
    fn into_error(
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
fn retryable(status: u16) -> bool {
    status >= 500 || status == 429
}

/// A `Retry-After` in seconds, when short enough to honour.
fn retry_after(value: Option<&str>) -> Option<Duration> {
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

/// Convert an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, the only format HTTP servers may
/// send today) to RFC 3339 (`1994-11-06T08:49:37Z`). `None` for anything else.
pub fn http_date_to_rfc3339(value: &str) -> Option<String> {
    let b = value.trim().as_bytes();
    // Fixed width: "Www, DD Mmm YYYY HH:MM:SS GMT" is 29 bytes.
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let s = std::str::from_utf8(b).ok()?;
    let digits = |r: std::ops::Range<usize>| -> Option<&str> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then_some(part)
    };
    let day = digits(5..7)?;
    let month = match s.get(8..11)? {
        "Jan" => "01",
        "Feb" => "02",
        "Mar" => "03",
        "Apr" => "04",
        "May" => "05",
        "Jun" => "06",
        "Jul" => "07",
        "Aug" => "08",
        "Sep" => "09",
        "Oct" => "10",
        "Nov" => "11",
        "Dec" => "12",
        _ => return None,
    };
    let year = digits(12..16)?;
    let (hh, mm, ss) = (digits(17..19)?, digits(20..22)?, digits(23..25)?);
    if [b[7], b[11], b[16]] != [b' '; 3] || [b[19], b[22]] != [b':'; 2] {
        return None;
    }
    Some(format!("{year}-{month}-{day}T{hh}:{mm}:{ss}Z"))
}

/// Seconds since the Unix epoch as RFC 3339 UTC (for the modification times of local files).
pub fn unix_to_rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, counting in 400-year eras of
/// 146 097 days that start on March 1st (so the leap day is the last day of a year).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::test_server::{Reply, Sending, TestServer};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn fast(client: HttpClient) -> HttpClient {
        client.with_retries(3, Duration::from_millis(5))
    }

    #[tokio::test]
    async fn retries_500_and_429_then_succeeds() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let server = TestServer::start(move |_| match h.fetch_add(1, Ordering::SeqCst) {
            0 => Reply::new(500, "boom"),
            1 => Reply::new(429, "slow down").header("Retry-After", "0"),
            _ => Reply::new(200, "ok"),
        })
        .await;
        let client = fast(HttpClient::new(4).unwrap());
        let resp = client
            .send(
                "test",
                reqwest::Method::GET,
                &server.url("x"),
                &[],
                Limit::PAGE,
            )
            .await
            .unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, b"ok");
        assert_eq!(server.requests().len(), 3);
        let ua = server.requests()[0]
            .header("user-agent")
            .unwrap()
            .to_string();
        assert!(ua.starts_with("sanctuary/"), "{ua}");
    }

    #[tokio::test]
    async fn gives_up_after_retries_with_the_last_status() {
        let server = TestServer::start(|_| Reply::new(503, "down")).await;
        let client = fast(HttpClient::new(4).unwrap());
        let resp = client
            .send(
                "test",
                reqwest::Method::GET,
                &server.url("x"),
                &[],
                Limit::PAGE,
            )
            .await
            .unwrap();
        assert_eq!(resp.status, 503);
        assert_eq!(server.requests().len(), 4);
    }

    #[tokio::test]
    async fn unreachable_names_index_and_url() {
        // Bind then drop a listener: the port is closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let url = Url::parse(&format!("http://127.0.0.1:{port}/simple/foo/")).unwrap();
        let client = fast(HttpClient::new(4).unwrap());
        let err = client
            .send("corp", reqwest::Method::GET, &url, &[], Limit::PAGE)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, IndexError::Unreachable { .. }), "{text}");
        assert!(
            text.contains("corp") && text.contains(url.as_str()),
            "{text}"
        );
    }

    /// A client with fast retries and these timeouts.
    fn timed(read_ms: u64, deadline_ms: u64) -> HttpClient {
        let timeouts = HttpTimeouts {
            read: Duration::from_millis(read_ms),
            deadline: Duration::from_millis(deadline_ms),
        };
        fast(HttpClient::with_timeouts(4, timeouts).unwrap())
    }

    async fn get(client: &HttpClient, url: &Url, limit: Limit) -> Result<HttpResponse, IndexError> {
        client
            .send("t", reqwest::Method::GET, url, &[], limit)
            .await
    }

    /// Regression: a body cut short (connection closed before `Content-Length` bytes) failed
    /// at once, reported as "unreachable".
    #[tokio::test]
    async fn a_truncated_page_is_retried() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let server = TestServer::start(move |_| {
            let reply = Reply::new(200, "<a href=\"x-1.0.tar.gz\">x</a>".repeat(100));
            match h.fetch_add(1, Ordering::SeqCst) {
                0 => reply.sent(Sending::Truncated),
                _ => reply,
            }
        })
        .await;
        let resp = get(
            &fast(HttpClient::new(4).unwrap()),
            &server.url("p/"),
            Limit::PAGE,
        )
        .await
        .unwrap();
        assert_eq!(resp.body.len(), 2800);
        assert_eq!(server.requests().len(), 2);

        // Cut short every time: retried, then said in its own words.
        let cut =
            TestServer::start(|_| Reply::new(200, vec![b'x'; 1000]).sent(Sending::Truncated)).await;
        let url = cut.url("p/");
        let err = get(&fast(HttpClient::new(4).unwrap()), &url, Limit::PAGE)
            .await
            .unwrap_err();
        assert!(
            matches!(err, IndexError::BrokenOff { attempts: 4, .. }),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(url.as_str()) && !text.contains("unreachable"),
            "{text}"
        );
        assert_eq!(cut.requests().len(), 4);
    }

    #[tokio::test]
    async fn a_truncated_download_is_retried_from_the_start() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let server = TestServer::start(move |req| {
            let reply = Reply::new(200, (0..200u8).collect::<Vec<u8>>());
            match (req.method.as_str(), h.fetch_add(1, Ordering::SeqCst)) {
                ("GET", 1) => reply.sent(Sending::Truncated),
                _ => reply,
            }
        })
        .await;
        let client = fast(HttpClient::new(4).unwrap());
        let (mut restarts, mut got) = (0, Vec::new());
        let got_ref = std::sync::Mutex::new(&mut got);
        let status = client
            .stream(
                "t",
                &server.url("w.whl"),
                &mut || {
                    restarts += 1;
                    got_ref.lock().unwrap().clear();
                    Ok(())
                },
                &mut |chunk| {
                    got_ref.lock().unwrap().extend_from_slice(chunk);
                    Ok(())
                },
            )
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!((restarts, got), (2, (0..200u8).collect::<Vec<u8>>()));
    }

    #[tokio::test]
    async fn a_dripping_server_hits_the_deadline() {
        let server = TestServer::start(|_| {
            Reply::new(200, vec![b'x'; 100]).sent(Sending::Drip(Duration::from_millis(50)))
        })
        .await;
        let started = std::time::Instant::now();
        let url = server.url("p/");
        let err = get(&timed(1000, 300), &url, Limit::PAGE).await.unwrap_err();
        assert!(matches!(err, IndexError::Deadline { .. }), "{err}");
        assert!(err.to_string().contains(url.as_str()), "{err}");
        // Not retried: the deadline bounds the whole request.
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn a_silent_server_stalls_past_the_read_timeout() {
        let server = TestServer::start(|_| {
            Reply::new(200, vec![b'x'; 10]).sent(Sending::Drip(Duration::from_secs(5)))
        })
        .await;
        let err = get(&timed(100, 10_000), &server.url("p/"), Limit::PAGE)
            .await
            .unwrap_err();
        assert!(
            matches!(err, IndexError::Stalled { attempts: 4, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_endless_page_is_cut_at_the_cap() {
        let server =
            TestServer::start(|_| Reply::new(200, vec![b'x'; 64 << 10]).sent(Sending::Endless))
                .await;
        let limit = Limit {
            bytes: 1 << 20,
            what: "a test page",
            head_only: false,
        };
        let url = server.url("p/");
        let err = get(&fast(HttpClient::new(4).unwrap()), &url, limit)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                IndexError::TooLarge {
                    limit: 1_048_576,
                    ..
                }
            ),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains(url.as_str()) && text.contains("1 MiB"),
            "{text}"
        );

        // An announced length over the cap is refused before the body is read; a probe
        // keeps the head.
        let big = TestServer::start(|_| Reply::new(200, vec![b'x'; 2 << 20])).await;
        let err = get(&fast(HttpClient::new(4).unwrap()), &big.url("p/"), limit)
            .await
            .unwrap_err();
        assert!(matches!(err, IndexError::TooLarge { .. }), "{err}");
        let probe = get(
            &fast(HttpClient::new(4).unwrap()),
            &big.url("p/"),
            Limit::PROBE,
        )
        .await
        .unwrap();
        assert_eq!((probe.status, probe.body.len()), (200, 0));
        assert_eq!(probe.header("content-length"), Some("2097152"));
    }

    #[tokio::test]
    async fn credentials_go_only_to_their_host() {
        let other = TestServer::start(|_| Reply::new(200, "elsewhere")).await;
        let target = other.url("landed");
        let server = TestServer::start(move |req| match req.path.as_str() {
            "/away" => Reply::new(302, "").header("Location", target.as_str()),
            "/here" => Reply::new(302, "").header("Location", "/simple/"),
            _ => Reply::new(200, "ok"),
        })
        .await;
        let index = server.url("simple/");
        let creds = crate::index::auth::Credentials {
            username: "bob".to_string(),
            password: Some("t0ken".to_string()),
        };
        let client =
            fast(HttpClient::new(4).unwrap()).with_auth(Auth::new([(&index, &creds)], None));
        for path in ["simple/x/", "files/w.whl", "here", "away"] {
            get(&client, &server.url(path), Limit::PAGE).await.unwrap();
        }
        get(&client, &other.url("direct"), Limit::PAGE)
            .await
            .unwrap();
        // "Basic base64(bob:t0ken)" on every request to the index's host, redirects included.
        for r in server.requests() {
            assert_eq!(
                r.header("authorization"),
                Some("Basic Ym9iOnQwa2Vu"),
                "{r:?}"
            );
        }
        // The other host, reached by a redirect or directly: never.
        let elsewhere = other.requests();
        assert_eq!(elsewhere.len(), 2);
        assert!(
            elsewhere
                .iter()
                .all(|r| r.header("authorization").is_none()),
            "{elsewhere:?}"
        );
    }

    #[tokio::test]
    async fn urls_never_carry_their_credentials_to_the_server() {
        let server = TestServer::start(|_| Reply::new(200, "ok")).await;
        let mut url = server.url("simple/");
        url.set_username("bob").unwrap();
        url.set_password(Some("t0ken")).unwrap();
        let resp = get(&fast(HttpClient::new(4).unwrap()), &url, Limit::PAGE)
            .await
            .unwrap();
        // Sent as a header, taken from the URL; the final URL has none.
        assert_eq!(resp.url, server.url("simple/"));
        assert!(resp.credentials);
        let sent = server.requests();
        assert_eq!(sent[0].header("authorization"), Some("Basic Ym9iOnQwa2Vu"));
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date_to_rfc3339("Sun, 06 Nov 1994 08:49:37 GMT").as_deref(),
            Some("1994-11-06T08:49:37Z")
        );
        assert_eq!(http_date_to_rfc3339("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(http_date_to_rfc3339("Sun, 06 Foo 1994 08:49:37 GMT"), None);
        assert_eq!(http_date_to_rfc3339("Sun, 06 Nov 1994 08:49:3x GMT"), None);
    }

    #[test]
    fn unix_times() {
        assert_eq!(unix_to_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(unix_to_rfc3339(784_111_777), "1994-11-06T08:49:37Z");
        assert_eq!(unix_to_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(unix_to_rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
    }

    proptest::proptest! {
        #[test]
        fn http_date_never_panics(s in ".{0,40}") {
            let _ = http_date_to_rfc3339(&s);
        }
    }
}
