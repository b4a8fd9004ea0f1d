//! The HTTP client of the indexes, and reading `file://` indexes from disk.
//!
//! One shared `reqwest::Client` (HTTP/2, pooled, rustls with the native roots), a semaphore
//! bounding the requests in flight, and retries with exponential backoff on 5xx, 429
//! (honouring a small `Retry-After`) and transport errors (connect, reset, timeout). A host
//! that stays unreachable is reported as [`IndexError::Unreachable`] naming the index and URL.
//!
//! Local indexes: a `file://` simple index is `<root>/<project>/index.html` or, without one,
//! the files in `<root>/<project>/`; a `file://` flat index is a directory of files or an HTML
//! page of links.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pep508_rs::PackageName;
use reqwest::header::HeaderMap;
use tokio::sync::Semaphore;
use url::Url;

use super::simple::{self, make_file};
use super::{DistFile, IndexError};

/// The `Accept` header of simple-page requests: JSON preferred, HTML accepted.
pub const SIMPLE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// A complete HTTP response (body read in full).
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The final URL, after redirects.
    pub url: Url,
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
    /// A client allowing `concurrency` requests in flight (at least one), with 3 retries
    /// starting at 100 ms.
    pub fn new(concurrency: usize) -> Result<Self, IndexError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("sanctuary/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
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

    /// Send a request to `url` (served by the index named `index`), retrying transient
    /// failures. Any final HTTP status is returned as a response; only transport failures
    /// are errors.
    pub async fn send(
        &self,
        index: &str,
        method: reqwest::Method,
        url: &Url,
        headers: &[(&str, String)],
    ) -> Result<HttpResponse, IndexError> {
        let gate = self.gate(url);
        if !gate.initialized() {
            let mut first = None;
            gate.get_or_init(|| async {
                first = Some(
                    self.send_retrying(index, method.clone(), url, headers)
                        .await,
                );
            })
            .await;
            if let Some(result) = first {
                return result;
            }
        }
        self.send_retrying(index, method, url, headers).await
    }

    async fn send_retrying(
        &self,
        index: &str,
        method: reqwest::Method,
        url: &Url,
        headers: &[(&str, String)],
    ) -> Result<HttpResponse, IndexError> {
        let mut attempt = 0u32;
        loop {
            let outcome = {
                let _permit = self.permit().await?;
                self.send_once(method.clone(), url, headers).await
            };
            let delay = self.backoff.saturating_mul(2u32.saturating_pow(attempt));
            match outcome {
                Ok(resp) if attempt < self.retries && retryable(resp.status) => {
                    let wait = retry_after(resp.header("retry-after")).unwrap_or(delay);
                    tracing::debug!(%url, status = resp.status, attempt, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Ok(resp) => return Ok(resp),
                Err(err) if attempt < self.retries && is_transient(&err) => {
                    tracing::debug!(%url, attempt, err = %error_chain(&err), "retrying after a transport error");
                    tokio::time::sleep(delay).await;
                }
                Err(err) => {
                    return Err(IndexError::Unreachable {
                        index: index.to_string(),
                        url: url.clone(),
                        reason: error_chain(&err),
                    });
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
                    .send_retrying(index, reqwest::Method::HEAD, url, &[])
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
                    tracing::debug!(%url, status, attempt, ?wait, "retrying the download");
                    tokio::time::sleep(wait).await;
                }
                Ok((status, _)) => return Ok(status),
                Err(StreamFailure::Sink(e)) => return Err(StreamError::Sink(e)),
                Err(StreamFailure::Http(err)) if attempt < self.retries && is_transient(&err) => {
                    tracing::debug!(%url, attempt, err = %error_chain(&err), "retrying the download after a transport error");
                    tokio::time::sleep(delay).await;
                }
                Err(StreamFailure::Http(err)) => {
                    return Err(StreamError::Transport(IndexError::Unreachable {
                        index: index.to_string(),
                        url: url.clone(),
                        reason: error_chain(&err),
                    }));
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
        let mut response = self
            .http
            .get(url.clone())
            .send()
            .await
            .map_err(StreamFailure::Http)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            return Ok((status, after));
        }
        while let Some(chunk) = response.chunk().await.map_err(StreamFailure::Http)? {
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

    async fn send_once(
        &self,
        method: reqwest::Method,
        url: &Url,
        headers: &[(&str, String)],
    ) -> Result<HttpResponse, reqwest::Error> {
        let head = method == reqwest::Method::HEAD;
        let mut request = self.http.request(method, url.clone());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let final_url = response.url().clone();
        // One buffer of the announced size, filled chunk by chunk (collecting the chunks
        // first grows a buffer by doubling, copying a large page several times).
        let announced = if head {
            0
        } else {
            response.content_length().unwrap_or(0).min(MAX_PRESIZE)
        };
        let mut body = Vec::with_capacity(announced as usize);
        while let Some(chunk) = response.chunk().await? {
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
            url: final_url,
        })
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
    Http(reqwest::Error),
    Sink(std::io::Error),
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

fn is_transient(err: &reqwest::Error) -> bool {
    err.is_connect() || err.is_timeout() || err.is_request() || err.is_body()
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

/// The path of a `file://` URL.
pub fn file_path(url: &Url) -> Result<PathBuf, IndexError> {
    url.to_file_path()
        .map_err(|()| IndexError::Other(format!("`{url}` is not a valid local file URL")))
}

fn io_error(path: &Path, err: std::io::Error) -> IndexError {
    IndexError::Other(format!("cannot read {}: {err}", path.display()))
}

/// Read a local file (a `file://` wheel or `.metadata`); `Ok(None)` when it does not exist.
pub async fn read_local(url: &Url) -> Result<Option<Vec<u8>>, IndexError> {
    let path = file_path(url)?;
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_error(&path, err)),
    }
}

/// The files of `project` in a `file://` simple index rooted at `root`; `Ok(None)` when the
/// index has no such project.
pub fn read_local_simple(
    root: &Url,
    project: &PackageName,
) -> Result<Option<Vec<DistFile>>, IndexError> {
    let root_path = file_path(root)?;
    let direct = root_path.join(project.as_ref());
    let dir = if direct.is_dir() {
        Some(direct)
    } else {
        // Any spelling of the name (`Foo_Bar/` for `foo-bar`).
        std::fs::read_dir(&root_path)
            .map_err(|e| io_error(&root_path, e))?
            .filter_map(Result::ok)
            .find(|entry| {
                entry.path().is_dir()
                    && entry
                        .file_name()
                        .to_str()
                        .and_then(|n| n.parse::<PackageName>().ok())
                        .is_some_and(|n| &n == project)
            })
            .map(|entry| entry.path())
    };
    let Some(dir) = dir else {
        return Ok(None);
    };
    let index_html = dir.join("index.html");
    if index_html.is_file() {
        let body = std::fs::read(&index_html).map_err(|e| io_error(&index_html, e))?;
        let page_url = Url::from_file_path(&index_html)
            .map_err(|()| IndexError::Other(format!("bad path {}", index_html.display())))?;
        return simple::parse_html(&String::from_utf8_lossy(&body), &page_url, project).map(Some);
    }
    list_local_dir(&dir, project).map(Some)
}

/// The files of `project` in a `file://` flat index: a directory of files, or an HTML page.
pub fn read_local_flat(url: &Url, project: &PackageName) -> Result<Vec<DistFile>, IndexError> {
    let path = file_path(url)?;
    if path.is_dir() {
        return list_local_dir(&path, project);
    }
    let body = std::fs::read(&path).map_err(|e| io_error(&path, e))?;
    simple::parse_html(&String::from_utf8_lossy(&body), url, project)
}

/// The distributions of `project` among the files of `dir`, sorted by name.
fn list_local_dir(dir: &Path, project: &PackageName) -> Result<Vec<DistFile>, IndexError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, e))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    let mut files = Vec::new();
    for entry in entries {
        let Some(filename) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(url) = Url::from_file_path(entry.path()) else {
            continue;
        };
        if let Some(mut file) = make_file(&filename, url, project) {
            file.size = entry.metadata().ok().map(|m| m.len());
            files.push(file);
        }
    }
    Ok(files)
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
pub(crate) mod test_server {
    //! A tiny HTTP/1.1 server for tests: a synchronous handler per request, every request
    //! recorded.

    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use http_body_util::Full;
    use hyper::body::Bytes;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    #[derive(Clone, Debug)]
    pub struct Recorded {
        pub method: String,
        pub path: String,
        pub headers: Vec<(String, String)>,
    }

    impl Recorded {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    pub struct Reply {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Reply {
        pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
            Reply {
                status,
                headers: Vec::new(),
                body: body.into(),
            }
        }
        pub fn header(mut self, k: &str, v: &str) -> Self {
            self.headers.push((k.to_string(), v.to_string()));
            self
        }
    }

    type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

    pub struct TestServer {
        pub base: url::Url,
        pub log: Arc<Mutex<Vec<Recorded>>>,
    }

    impl TestServer {
        pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let log = Arc::new(Mutex::new(Vec::new()));
            let handler: Arc<Handler> = Arc::new(handler);
            let log2 = log.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    let handler = handler.clone();
                    let log = log2.clone();
                    tokio::spawn(async move {
                        let service =
                            service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                                let rec = Recorded {
                                    method: req.method().to_string(),
                                    path: req.uri().path().to_string(),
                                    headers: req
                                        .headers()
                                        .iter()
                                        .map(|(k, v)| {
                                            (k.to_string(), v.to_str().unwrap_or("").to_string())
                                        })
                                        .collect(),
                                };
                                log.lock().unwrap().push(rec.clone());
                                let reply = handler(&rec);
                                let mut resp = hyper::Response::builder().status(reply.status);
                                for (k, v) in &reply.headers {
                                    resp = resp.header(k, v);
                                }
                                // HEAD: announce the length of the body we do not send.
                                let body = if rec.method == "HEAD" {
                                    resp = resp.header("content-length", reply.body.len());
                                    Vec::new()
                                } else {
                                    reply.body
                                };
                                let resp = resp.body(Full::new(Bytes::from(body))).unwrap();
                                async move { Ok::<_, Infallible>(resp) }
                            });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            TestServer {
                base: url::Url::parse(&format!("http://{addr}/")).unwrap(),
                log,
            }
        }

        pub fn requests(&self) -> Vec<Recorded> {
            self.log.lock().unwrap().clone()
        }

        pub fn url(&self, path: &str) -> url::Url {
            self.base.join(path).unwrap()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_server::{Reply, TestServer};
    use super::*;
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
            .send("test", reqwest::Method::GET, &server.url("x"), &[])
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
            .send("test", reqwest::Method::GET, &server.url("x"), &[])
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
            .send("corp", reqwest::Method::GET, &url, &[])
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, IndexError::Unreachable { .. }), "{text}");
        assert!(
            text.contains("corp") && text.contains(url.as_str()),
            "{text}"
        );
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
