//! The local package index the tests run against: a hyper server on `127.0.0.1:0`, on its
//! own thread with its own tokio runtime (usable from sync and async tests alike), serving
//! one [`Scenario`]:
//!
//! - `/simple/`: PEP 503 root listing (HTML, or PEP 691 JSON when negotiated);
//! - `/simple/<name>/`: the project page (HTML per PEP 503 / 592 / 658 / 714, JSON per
//!   PEP 691 with `size` and `upload-time`). A non-normalized name or a missing trailing slash
//!   is answered with a 301 redirect to `/simple/<normalized>/`; an unknown project is a 404;
//! - `/files/`: a flat find-links page listing every file;
//! - `/files/<file>`: the file (GET and HEAD, `Range` → 206 / 416 when enabled);
//! - `/files/<wheel>.metadata`: PEP 658 core metadata when enabled.
//!
//! Every request needs HTTP Basic credentials when the scenario sets `basic_auth` (401
//! otherwise). Faults from the scenario apply before routing (and may then truncate or drip
//! the answer); every request is logged.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::scenario::{Fault, Format, Scenario, ServerOptions, normalize};
use super::wheelgen::{self, Dist, sha256_hex};

/// The `Last-Modified` sent when enabled (all files and pages share it).
pub const LAST_MODIFIED: &str = "Mon, 01 Jan 2024 00:00:00 GMT";
pub const JSON_TYPE: &str = "application/vnd.pypi.simple.v1+json";
pub const HTML_V1_TYPE: &str = "application/vnd.pypi.simple.v1+html";

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path (and query, if any) as requested, not decoded.
    pub path: String,
    pub range: Option<String>,
    pub accept: Option<String>,
    /// The `Authorization` header sent, if any.
    pub authorization: Option<String>,
    /// The status answered; 0 when a fault reset the connection.
    pub status: u16,
}

/// A file the index serves, with what the pages say about it.
#[derive(Clone, Debug)]
pub struct ServedFile {
    pub dist: Dist,
    /// Normalized project name.
    pub project: String,
    /// Version as written in the scenario.
    pub version: String,
    pub requires_python: Option<String>,
    pub yanked: Option<String>,
    pub upload_time: String,
    /// sha256 (hex) of the PEP 658 metadata file, for wheels.
    pub metadata_sha256: Option<String>,
}

struct Project {
    /// The name as the scenario wrote it.
    display: String,
    /// Sorted by (version, file name).
    files: Vec<Arc<ServedFile>>,
}

struct State {
    base: String,
    options: ServerOptions,
    projects: BTreeMap<String, Project>,
    files: BTreeMap<String, Arc<ServedFile>>,
    /// Each fault with its remaining uses (`None`: unlimited).
    faults: Mutex<Vec<(Fault, Option<u32>)>>,
    /// Files added while running (crafted archives), served at `/crafted/<name>`.
    crafted: Mutex<BTreeMap<String, Bytes>>,
    log: Mutex<Vec<RequestRecord>>,
}

/// A running index; stops when dropped.
pub struct TestIndex {
    base: String,
    state: Arc<State>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestIndex {
    /// Generates every file of `scenario` and starts serving it.
    pub fn start(scenario: Scenario) -> TestIndex {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let state = Arc::new(State::build(&scenario, base.clone()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let served = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("test-index-{}", scenario.name))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(serve(listener, served, rx));
            })
            .expect("spawn server thread");
        TestIndex {
            base,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The simple API root, `{base}/simple` (no trailing slash, as users write it).
    pub fn index_url(&self) -> String {
        format!("{}/simple", self.base)
    }

    /// A keyed index's URL template on this server, `{base}/key/{key}/simple`: every key
    /// sees the same pages.
    pub fn keyed_index_url(&self) -> String {
        format!("{}/key/{{key}}/simple", self.base)
    }

    /// The find-links page listing every file, `{base}/files/`.
    pub fn flat_url(&self) -> String {
        format!("{}/files/", self.base)
    }

    /// The URL of one file (`+` percent-encoded, as the pages write it).
    pub fn file_url(&self, filename: &str) -> String {
        format!("{}/files/{}", self.base, encode_filename(filename))
    }

    /// Every served file, by file name.
    pub fn files(&self) -> Vec<Arc<ServedFile>> {
        self.state.files.values().cloned().collect()
    }

    /// One served file by file name.
    pub fn file(&self, filename: &str) -> Option<Arc<ServedFile>> {
        self.state.files.get(filename).cloned()
    }

    /// Writes every file into `dir` (a flat `--find-links` directory, or `file://` tests).
    pub fn write_files(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, f) in &self.state.files {
            std::fs::write(dir.join(name), &f.dist.bytes)?;
        }
        Ok(())
    }

    /// Every request so far, in arrival order of their answers.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.log.lock().unwrap().clone()
    }

    /// Requests whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect()
    }

    pub fn clear_requests(&self) {
        self.state.log.lock().unwrap().clear();
    }

    /// Serve `bytes` at `{base}/crafted/<name>` from now on (a crafted archive on the index's
    /// own origin); returns its URL.
    pub fn serve_crafted(&self, name: &str, bytes: &[u8]) -> String {
        self.state
            .crafted
            .lock()
            .unwrap()
            .insert(name.to_string(), Bytes::from(bytes.to_vec()));
        format!("{}/crafted/{}", self.base, encode_filename(name))
    }
}

impl Drop for TestIndex {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    state: Arc<State>,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// Returned by the service to make hyper drop the connection without answering.
#[derive(Debug)]
struct Reset;

impl fmt::Display for Reset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for Reset {}

type Resp = Response<Full<Bytes>>;

/// What is sent: a whole body, or one cut short or dripped by a fault.
type Body = BoxBody<Bytes, std::io::Error>;

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Reset> {
    let header = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let mut record = RequestRecord {
        method: req.method().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_string(), |p| p.to_string()),
        range: header(header::RANGE),
        accept: header(header::ACCEPT),
        authorization: header(header::AUTHORIZATION),
        status: 0,
    };

    if let Some(auth) = &state.options.basic_auth {
        let expected = format!(
            "Basic {}",
            base64(&format!("{}:{}", auth.user, auth.password))
        );
        if record.authorization.as_deref() != Some(expected.as_str()) {
            let mut r = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"test\""),
            );
            record.status = 401;
            state.log.lock().unwrap().push(record);
            return Ok(r.map(whole));
        }
    }

    let fault = state.take_fault(req.uri().path());
    if let Some(fault) = &fault {
        if let Some(ms) = fault.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if fault.reset {
            state.log.lock().unwrap().push(record);
            return Err(Reset);
        }
    }
    let response = match fault.as_ref().and_then(|f| f.status) {
        None if fault.as_ref().is_some_and(|f| f.body.is_some()) => {
            let f = fault.as_ref().expect("checked");
            let mut r = Response::new(Full::new(Bytes::from(f.body.clone().unwrap_or_default())));
            let content_type = f.content_type.as_deref().unwrap_or("text/html");
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(content_type).expect("content type"),
            );
            r
        }
        Some(status) => {
            let mut r = text(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "injected fault\n",
            );
            if status == 429 || status == 503 {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
            }
            r
        }
        None => state.route(&req),
    };
    record.status = response.status().as_u16();
    state.log.lock().unwrap().push(record);
    Ok(match fault {
        Some(f) if f.truncate || f.drip_ms.is_some() => misbehave(response, &f).await,
        _ => response.map(whole),
    })
}

fn whole(body: Full<Bytes>) -> Body {
    body.map_err(|never| match never {}).boxed()
}

/// `response` sent as `fault` says: its full `Content-Length` announced, then the first half
/// and a broken connection (`truncate`), or one byte at a time (`drip_ms`).
async fn misbehave(response: Resp, fault: &Fault) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let truncate = fault.truncate;
    let drip = fault.drip_ms.map(Duration::from_millis);
    let cut = if truncate {
        bytes.len() / 2
    } else {
        bytes.len()
    };
    // `usize::MAX`: the error that breaks the connection was sent.
    let chunks = futures::stream::unfold(0usize, move |pos| {
        let bytes = bytes.clone();
        async move {
            if pos >= cut {
                if !truncate || pos == usize::MAX {
                    return None;
                }
                // Let hyper send what it has before the connection breaks.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let err = std::io::Error::other("injected truncation");
                return Some((Err(err), usize::MAX));
            }
            if let Some(every) = drip {
                tokio::time::sleep(every).await;
            }
            let end = if drip.is_some() { pos + 1 } else { cut };
            Some((Ok(Frame::data(bytes.slice(pos..end))), end))
        }
    });
    Response::from_parts(parts, StreamBody::new(chunks).boxed())
}

/// Standard base64 with padding (for the expected `Authorization` header).
pub fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn text(status: StatusCode, body: &str) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn redirect(location: &str) -> Resp {
    let mut r = text(StatusCode::MOVED_PERMANENTLY, "moved\n");
    r.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(location).expect("location"),
    );
    r
}

/// What a simple page is rendered as.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PageKind {
    /// `text/html`, or `application/vnd.pypi.simple.v1+html` when asked for by name.
    Html {
        v1: bool,
    },
    Json,
}

impl State {
    fn build(scenario: &Scenario, base: String) -> State {
        let mut projects = BTreeMap::new();
        let mut files = BTreeMap::new();
        for (name, package) in &scenario.packages {
            let mut versions: Vec<(&String, _)> = package.versions.iter().collect();
            versions.sort_by_key(|(v, _)| version_key(v));
            let mut list = Vec::new();
            for (i, (version, spec)) in versions.into_iter().enumerate() {
                let upload_time = spec
                    .upload_time
                    .clone()
                    .unwrap_or_else(|| default_upload_time(i));
                for dist in wheelgen::dists_for(name, version, spec, scenario.server.sdist_pkg_info)
                {
                    let metadata_sha256 = dist.metadata.as_deref().map(sha256_hex);
                    let file = Arc::new(ServedFile {
                        dist,
                        project: normalize(name),
                        version: version.clone(),
                        requires_python: spec.requires_python.clone(),
                        yanked: spec.yanked.reason().map(str::to_string),
                        upload_time: upload_time.clone(),
                        metadata_sha256,
                    });
                    files.insert(file.dist.filename.clone(), file.clone());
                    list.push(file);
                }
            }
            projects.insert(
                normalize(name),
                Project {
                    display: name.clone(),
                    files: list,
                },
            );
        }
        State {
            base,
            options: scenario.server.clone(),
            projects,
            files,
            faults: Mutex::new(
                scenario
                    .server
                    .faults
                    .iter()
                    .map(|f| (f.clone(), f.times))
                    .collect(),
            ),
            crafted: Mutex::new(BTreeMap::new()),
            log: Mutex::new(Vec::new()),
        }
    }

    /// The first live fault matching `path`, using it up once.
    fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap();
        for (fault, left) in faults.iter_mut() {
            if !fault.matches(path) || *left == Some(0) {
                continue;
            }
            if let Some(n) = left {
                *n -= 1;
            }
            return Some(fault.clone());
        }
        None
    }

    fn route(&self, req: &Request<Incoming>) -> Resp {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let head = req.method() == Method::HEAD;
        let path = percent_decode(req.uri().path());
        // `/key/<key>/simple/...` serves the same pages: a keyed index's URL template
        // (`{base}/key/{key}/simple`) on one server.
        let path = match path
            .strip_prefix("/key/")
            .and_then(|rest| rest.split_once('/'))
        {
            Some((_, rest)) => format!("/{rest}"),
            None => path,
        };
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        let mut response = if path == "/simple" {
            redirect("/simple/")
        } else if path == "/simple/" {
            match negotiate(accept, self.options.format) {
                Some(kind) => self.root_page(req, kind),
                None => text(StatusCode::NOT_ACCEPTABLE, "not acceptable\n"),
            }
        } else if let Some(rest) = path.strip_prefix("/simple/") {
            let raw = rest.trim_end_matches('/');
            let name = normalize(raw);
            if raw.contains('/') || !self.projects.contains_key(&name) {
                text(StatusCode::NOT_FOUND, "no such project\n")
            } else if rest != format!("{name}/") {
                redirect(&format!("/simple/{name}/"))
            } else {
                match negotiate(accept, self.options.format) {
                    Some(kind) => self.project_page(req, &name, kind),
                    None => text(StatusCode::NOT_ACCEPTABLE, "not acceptable\n"),
                }
            }
        } else if path == "/files/" || path == "/files" {
            self.flat_page(req)
        } else if let Some(filename) = path.strip_prefix("/files/") {
            self.file(filename, req)
        } else if let Some(name) = path.strip_prefix("/crafted/") {
            match self.crafted.lock().unwrap().get(name) {
                Some(bytes) => {
                    let mut r = Response::new(Full::new(bytes.clone()));
                    r.headers_mut()
                        .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                    r
                }
                None => text(StatusCode::NOT_FOUND, "no such file\n"),
            }
        } else {
            text(StatusCode::NOT_FOUND, "not found\n")
        };
        if head {
            *response.body_mut() = Full::new(Bytes::new());
        }
        response
    }

    /// Adds the caching headers and answers `If-None-Match`; `body` is what the ETag covers.
    fn finish(&self, req: &Request<Incoming>, mut r: Resp, etag_of: &[u8]) -> Resp {
        if let Some(v) =
            (self.options.cache_control.as_deref()).and_then(|cc| HeaderValue::from_str(cc).ok())
        {
            r.headers_mut().insert(header::CACHE_CONTROL, v);
        }
        if self.options.last_modified {
            r.headers_mut().insert(
                header::LAST_MODIFIED,
                HeaderValue::from_static(LAST_MODIFIED),
            );
        }
        if self.options.etag {
            let etag = format!("\"{}\"", &sha256_hex(etag_of)[..32]);
            let matched = req
                .headers()
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
            r.headers_mut()
                .insert(header::ETAG, HeaderValue::from_str(&etag).expect("etag"));
            if matched {
                *r.status_mut() = StatusCode::NOT_MODIFIED;
                *r.body_mut() = Full::new(Bytes::new());
                r.headers_mut().remove(header::CONTENT_LENGTH);
                r.headers_mut().remove(header::CONTENT_RANGE);
            }
        }
        r
    }

    fn page(&self, req: &Request<Incoming>, kind: PageKind, body: String) -> Resp {
        let content_type = match kind {
            PageKind::Json => JSON_TYPE,
            PageKind::Html { v1: true } => HTML_V1_TYPE,
            PageKind::Html { v1: false } => "text/html; charset=utf-8",
        };
        let body = Bytes::from(body);
        let mut r = Response::new(Full::new(body.clone()));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept"));
        self.finish(req, r, &body)
    }

    fn root_page(&self, req: &Request<Incoming>, kind: PageKind) -> Resp {
        let body = match kind {
            PageKind::Json => {
                let projects: Vec<_> = self
                    .projects
                    .keys()
                    .map(|n| serde_json::json!({ "name": n }))
                    .collect();
                serde_json::json!({ "meta": { "api-version": "1.1" }, "projects": projects })
                    .to_string()
            }
            PageKind::Html { .. } => {
                let mut html = String::from(
                    "<!DOCTYPE html>\n<html>\n  <head>\n    \
                     <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
                     <title>Simple index</title>\n  </head>\n  <body>\n",
                );
                for name in self.projects.keys() {
                    html.push_str(&format!(
                        "    <a href=\"{}/\">{}</a><br/>\n",
                        escape(name),
                        escape(name)
                    ));
                }
                html.push_str("  </body>\n</html>\n");
                html
            }
        };
        self.page(req, kind, body)
    }

    fn project_page(&self, req: &Request<Incoming>, name: &str, kind: PageKind) -> Resp {
        let project = &self.projects[name];
        let body = match kind {
            PageKind::Json => {
                let files: Vec<_> = project.files.iter().map(|f| self.json_file(f)).collect();
                let mut versions: Vec<&String> = Vec::new();
                for f in &project.files {
                    if !versions.contains(&&f.version) {
                        versions.push(&f.version);
                    }
                }
                serde_json::json!({
                    "meta": { "api-version": "1.1" },
                    "name": name,
                    "versions": versions,
                    "files": files,
                })
                .to_string()
            }
            PageKind::Html { .. } => {
                let mut html = format!(
                    "<!DOCTYPE html>\n<html>\n  <head>\n    \
                     <meta name=\"pypi:repository-version\" content=\"1.1\">\n    \
                     <title>Links for {0}</title>\n  </head>\n  <body>\n    \
                     <h1>Links for {0}</h1>\n",
                    escape(&project.display)
                );
                for f in &project.files {
                    html.push_str("    ");
                    html.push_str(&self.anchor(f, "../../files/"));
                    html.push_str("<br/>\n");
                }
                html.push_str("  </body>\n</html>\n");
                html
            }
        };
        self.page(req, kind, body)
    }

    fn flat_page(&self, req: &Request<Incoming>) -> Resp {
        let mut html = String::from(
            "<!DOCTYPE html>\n<html>\n  <head>\n    <title>Files</title>\n  </head>\n  <body>\n",
        );
        for f in self.files.values() {
            html.push_str("    ");
            html.push_str(&self.anchor(f, ""));
            html.push_str("<br/>\n");
        }
        html.push_str("  </body>\n</html>\n");
        self.page(req, PageKind::Html { v1: false }, html)
    }

    /// One `<a>` of an HTML page; `prefix` leads from the page to `/files/`.
    fn anchor(&self, f: &ServedFile, prefix: &str) -> String {
        let mut a = format!(
            "<a href=\"{prefix}{}#sha256={}\"",
            escape(&encode_filename(&f.dist.filename)),
            f.dist.sha256
        );
        if let Some(rp) = &f.requires_python {
            a.push_str(&format!(" data-requires-python=\"{}\"", escape(rp)));
        }
        if let Some(reason) = &f.yanked {
            a.push_str(&format!(" data-yanked=\"{}\"", escape(reason)));
        }
        if let (true, Some(sha)) = (self.options.pep658, &f.metadata_sha256) {
            a.push_str(&format!(
                " data-dist-info-metadata=\"sha256={sha}\" data-core-metadata=\"sha256={sha}\""
            ));
        }
        a.push_str(&format!(">{}</a>", escape(&f.dist.filename)));
        a
    }

    fn json_file(&self, f: &ServedFile) -> serde_json::Value {
        let mut v = serde_json::json!({
            "filename": f.dist.filename,
            "url": format!("{}/files/{}", self.base, encode_filename(&f.dist.filename)),
            "hashes": { "sha256": f.dist.sha256 },
            "requires-python": f.requires_python,
            "yanked": match &f.yanked {
                None => serde_json::Value::Bool(false),
                Some(r) if r.is_empty() => serde_json::Value::Bool(true),
                Some(r) => serde_json::Value::String(r.clone()),
            },
            "size": f.dist.bytes.len(),
        });
        let obj = v.as_object_mut().expect("object");
        if self.options.upload_time {
            obj.insert("upload-time".into(), f.upload_time.clone().into());
        }
        let meta = match (self.options.pep658, &f.metadata_sha256) {
            (true, Some(sha)) => serde_json::json!({ "sha256": sha }),
            _ => serde_json::Value::Bool(false),
        };
        obj.insert("core-metadata".into(), meta.clone());
        obj.insert("dist-info-metadata".into(), meta);
        v
    }

    fn file(&self, filename: &str, req: &Request<Incoming>) -> Resp {
        let (bytes, content_type) = if let Some(wheel) = filename.strip_suffix(".metadata") {
            match self.files.get(wheel).and_then(|f| f.dist.metadata.clone()) {
                Some(meta) if self.options.pep658 => (Bytes::from(meta), "text/plain"),
                _ => return text(StatusCode::NOT_FOUND, "no such file\n"),
            }
        } else {
            match self.files.get(filename) {
                Some(f) => (
                    Bytes::from(f.dist.bytes.clone()),
                    if f.dist.is_wheel() {
                        "application/zip"
                    } else {
                        "application/x-tar"
                    },
                ),
                None => return text(StatusCode::NOT_FOUND, "no such file\n"),
            }
        };
        let len = bytes.len() as u64;
        let range = req
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .filter(|_| self.options.range)
            .and_then(|h| parse_range(h, len));
        let mut r = match range {
            Some(Err(())) => {
                let mut r = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
                r.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes */{len}")).expect("header"),
                );
                r
            }
            Some(Ok((start, end))) => {
                let part = bytes.slice(start as usize..=end as usize);
                let mut r = Response::new(Full::new(part));
                *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                r.headers_mut().insert(
                    header::CONTENT_RANGE,
                    HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")).expect("header"),
                );
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
                r
            }
            None => {
                let mut r = Response::new(Full::new(bytes.clone()));
                r.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                r
            }
        };
        if r.status() != StatusCode::RANGE_NOT_SATISFIABLE {
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        r.headers_mut().insert(
            header::ACCEPT_RANGES,
            HeaderValue::from_static(if self.options.range { "bytes" } else { "none" }),
        );
        self.finish(req, r, &bytes)
    }
}

/// Parses a single-range `Range` header. `None`: ignore it (serve the whole file);
/// `Some(Err)`: unsatisfiable (416); `Some(Ok((first, last)))`: inclusive byte positions.
pub fn parse_range(header: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let n: u64 = last.parse().ok()?;
        if n == 0 || len == 0 {
            return Some(Err(()));
        }
        return Some(Ok((len.saturating_sub(n), len - 1)));
    }
    let start: u64 = first.parse().ok()?;
    let end = if last.is_empty() {
        None
    } else {
        Some(last.parse::<u64>().ok()?)
    };
    if end.is_some_and(|e| e < start) {
        return None;
    }
    if start >= len {
        return Some(Err(()));
    }
    Some(Ok((start, end.map_or(len - 1, |e| e.min(len - 1)))))
}

/// Picks the page format from `Accept` (highest q wins, ties go to the first listed); no
/// header or `*/*` means HTML when offered. `None`: nothing acceptable (406).
fn negotiate(accept: Option<&str>, format: Format) -> Option<PageKind> {
    let html_ok = format != Format::Json;
    let json_ok = format != Format::Html;
    let default = if html_ok {
        PageKind::Html { v1: false }
    } else {
        PageKind::Json
    };
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(default);
    };
    let mut best: Option<(f32, PageKind)> = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let kind = match media.as_str() {
            "application/vnd.pypi.simple.v1+json" | "application/vnd.pypi.simple.latest+json"
                if json_ok =>
            {
                PageKind::Json
            }
            "application/vnd.pypi.simple.v1+html" | "application/vnd.pypi.simple.latest+html"
                if html_ok =>
            {
                PageKind::Html { v1: true }
            }
            "text/html" if html_ok => PageKind::Html { v1: false },
            "*/*" | "application/*" => default,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, kind));
        }
    }
    best.map(|(_, k)| k)
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// A file name as a URL path segment: `+` (local versions) and `%` percent-encoded, as
/// download.pytorch.org writes them.
pub fn encode_filename(name: &str) -> String {
    name.replace('%', "%25").replace('+', "%2B")
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sort key for versions: unparsable ones first (by text), then PEP 440 order.
fn version_key(v: &str) -> (Option<pep440_rs::Version>, String) {
    (pep440_rs::Version::from_str(v).ok(), v.to_string())
}

/// `2024-01-01T00:00:00Z` plus `i` hours, so newer versions were uploaded later.
fn default_upload_time(i: usize) -> String {
    let day = 1 + i / 24;
    let hour = i % 24;
    // Stay inside January for any realistic scenario; clamp beyond.
    let day = day.min(31);
    format!("2024-01-{day:02}T{hour:02}:00:00.000000Z")
}
