//! The warm lock's floor on this machine and network: how long it takes to fetch again the
//! simple pages a warm `sanctuary lock` of the set asks the index for, all at once over one new
//! connection, with nothing else done (no process to start, no cache to read, no parse, no
//! resolution). A warm lock must ask for each of them (a page fresh by its `max-age` is
//! skipped here as by sanctuary, and a page with validators is asked for conditionally, as
//! sanctuary would), so a reader sees in the same run as the tools whether a warm target lies
//! near or below what any tool could reach against this index.
//!
//! The pages are those in sanctuary's warm cache, listed by the library
//! (`Cache::page_headers`), with the validators it would send. One pass follows every warm repetition of the tools (see [`Progress`]); the
//! HTTP client is built before the timer starts, and the connection (name lookup, TCP and TLS)
//! is made within it, as every run makes its own.

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, Result, anyhow};
use futures::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;

use crate::common::{self, Passes};

/// The `Accept` of a simple page request (PEP 691 JSON, as sanctuary asks first).
const ACCEPT: &str = "application/vnd.pypi.simple.v1+json";

/// One page to ask for, with the validators sanctuary would send.
#[derive(Clone, Debug)]
struct Page {
    url: String,
    /// `false` for a remembered `404`, which is asked for again.
    found: bool,
    /// `If-None-Match` and `If-Modified-Since`, from the cached validators.
    conditional: Vec<(&'static str, String)>,
}

/// What the floor of one set measured.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Floor {
    pub set: String,
    /// Pages asked for, answers `304 Not Modified` among them, and body bytes received in one
    /// pass.
    pub pages: usize,
    pub not_modified: usize,
    pub body_bytes: u64,
    #[serde(flatten)]
    pub passes: Passes,
}

/// The pages a warm lock from `cache` asks for: every page entry's header, less those still
/// fresh, in URL order.
fn pages(cache: &Path, now: u64) -> Result<Vec<Page>> {
    let mut pages: Vec<Page> = sanctuary::index::cache::Cache::new(cache)
        .page_headers()
        .into_iter()
        .filter(|header| !header.is_fresh(now))
        .map(|header| Page {
            conditional: header.policy.conditional_headers(),
            url: header.url,
            found: header.found,
        })
        .collect();
    if pages.is_empty() {
        anyhow::bail!("no page to ask for in the cache {}", cache.display());
    }
    pages.sort_by(|a, b| a.url.cmp(&b.url));
    Ok(pages)
}

/// One pass: the first page asked for alone until its answer's head arrives (so that the
/// others share its connection, as sanctuary's client does), then all the others at once, and
/// every body read to its end. Returns the wall time, the `304` answers and the body bytes.
fn pass(runtime: &tokio::runtime::Runtime, pages: &[Page]) -> Result<(f64, usize, u64)> {
    let client = reqwest::Client::builder()
        .build()
        .context("building the HTTP client")?;
    let ask = |page: &Page| {
        let mut request = client.get(&page.url).header("Accept", ACCEPT);
        for (name, value) in &page.conditional {
            request = request.header(*name, value);
        }
        request
    };
    // The answer to `page`, its body read to the end: `(1 if 304, body bytes)`.
    async fn read(page: &Page, mut response: reqwest::Response) -> Result<(usize, u64)> {
        use reqwest::StatusCode;
        let status = response.status();
        let expected = status.is_success()
            || status == StatusCode::NOT_MODIFIED
            || (status == StatusCode::NOT_FOUND && !page.found);
        if !expected {
            return Err(anyhow!("{}: {status}", page.url));
        }
        let mut bytes = 0;
        while let Some(chunk) = response.chunk().await? {
            bytes += chunk.len() as u64;
        }
        Ok((usize::from(status == StatusCode::NOT_MODIFIED), bytes))
    }
    runtime.block_on(async {
        let started = Instant::now();
        let (first, rest) = pages.split_first().context("no page")?;
        let head = ask(first).send().await?;
        let others = futures::stream::iter(rest)
            .map(|page| {
                let request = ask(page);
                async move { read(page, request.send().await?).await }
            })
            .buffer_unordered(rest.len().max(1))
            .try_collect::<Vec<_>>();
        let (first_answer, mut answers) =
            futures::future::try_join(read(first, head), others).await?;
        answers.push(first_answer);
        let wall = started.elapsed().as_secs_f64();
        let (not_modified, bytes) = answers
            .iter()
            .fold((0, 0), |(n, b), (an, ab)| (n + an, b + ab));
        Ok((wall, not_modified, bytes))
    })
}

/// The warm floor of a set while its warm runs go on: one pass after every repetition of the
/// tools, so that the floor meets the same state of the network and the machine as they do.
/// The pages are read from sanctuary's warm cache before the first pass.
#[derive(Default)]
pub(crate) struct Progress {
    pages: Option<Vec<Page>>,
    floor: Floor,
    samples: Vec<f64>,
    /// Why the floor stopped, if it did.
    error: Option<String>,
}

impl Progress {
    /// After a warm repetition: a pass over the pages of sanctuary's warm cache `cache`
    /// (`None` when sanctuary has none).
    pub(crate) fn after_rep(&mut self, set: &str, rep: usize, cache: Option<&Path>) {
        if self.error.is_some() {
            return;
        }
        let Some(cache) = cache else {
            self.error = Some("sanctuary has no warm cache to read its pages from".to_string());
            return;
        };
        eprintln!("[{set} warm] the floor, pass {}", rep + 1);
        if let Err(e) = self.pass_from(cache) {
            self.error = Some(format!("{e:#}"));
        }
    }

    fn pass_from(&mut self, cache: &Path) -> Result<()> {
        if self.pages.is_none() {
            self.pages = Some(pages(cache, common::unix_now())?);
        }
        let pages = self.pages.as_deref().unwrap_or_default();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(common::cpus().max(1))
            .enable_all()
            .build()?;
        let (wall, not_modified, bytes) = pass(&runtime, pages)?;
        self.floor.pages = pages.len();
        self.floor.not_modified = not_modified;
        self.floor.body_bytes = bytes;
        self.samples.push(wall);
        Ok(())
    }

    /// What the passes measured, or why there were none; `None` when none was due.
    pub(crate) fn finish(self, set: &str) -> Option<Result<Floor, String>> {
        if let Some(error) = self.error {
            return Some(Err(error));
        }
        self.pages.as_ref()?;
        Some(Ok(Floor {
            set: set.to_string(),
            passes: Passes::of(self.samples),
            ..self.floor
        }))
    }
}

/// The floor line of a set, against uv's warm median `uv` and the warm `target`.
pub(crate) fn print(
    set: &str,
    floor: &Option<Result<Floor, String>>,
    uv: Option<f64>,
    target: f64,
) {
    let f = match floor {
        Some(Ok(f)) => f,
        Some(Err(why)) => return println!("floor {set} warm: not measured ({why})"),
        None => return,
    };
    let (time, against) = (f.passes.line(), f.passes.against(uv, "warm"));
    println!(
        "floor {set} warm: the {} simple pages of sanctuary's warm lock ({} not modified, \
         {:.1} MiB of bodies), fetched again at once over one new connection with nothing else \
         done: {time}{against} (the warm target: {target:.1}x)",
        f.pages,
        f.not_modified,
        f.body_bytes as f64 / (1024.0 * 1024.0),
    );
}

/// The offline self-check: a cache with three pages (one fresh, one with an `ETag`) is read,
/// and the pages are fetched from a small local server: the fresh one is not asked for, the
/// one with an `ETag` is asked for conditionally (and answered `304`), and every body byte is
/// counted.
pub(crate) fn self_check() -> Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    // HTTP/1.1, one request per connection: a body of 1000 bytes for `/a/`, 304 for a
    // request with `If-None-Match: "b"`, 404 for anything else.
    runtime.spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                let reply = if text.starts_with("get /a/ ") {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\nconnection: close\r\n\r\n{}",
                        "x".repeat(1000)
                    )
                } else if text.starts_with("get /b/ ") && text.contains("if-none-match: \"b\"") {
                    "HTTP/1.1 304 Not Modified\r\nconnection: close\r\n\r\n".to_string()
                } else {
                    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_string()
                };
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });

    let dir = tempfile::tempdir()?;
    let simple = sanctuary::cache::CacheRoot::new(dir.path()).simple();
    fs::create_dir_all(&simple)?;
    let now = common::unix_now();
    for (name, etag, max_age) in [
        ("a", None, None),
        ("b", Some("\"b\""), None),
        ("c", None, Some(600)),
    ] {
        let header = serde_json::json!({
            "url": format!("http://{addr}/{name}/"),
            "policy": {"etag": etag, "last_modified": null, "max_age": max_age,
                       "no_cache": false, "no_store": false},
            "fetched_at": now,
            "found": true,
        });
        fs::write(
            simple.join(format!("{name}.page")),
            format!("{header}\n=1.0\n"),
        )?;
    }
    let asked = pages(dir.path(), now)?;
    assert_eq!(
        asked.iter().map(|p| p.url.as_str()).collect::<Vec<_>>(),
        [format!("http://{addr}/a/"), format!("http://{addr}/b/")]
    );
    let (wall, not_modified, bytes) = pass(&runtime, &asked)?;
    assert!(wall > 0.0);
    assert_eq!((not_modified, bytes), (1, 1000));

    // A page the index no longer serves stops the floor, by its URL.
    fs::write(
        simple.join("d.page"),
        format!(
            "{}\n",
            serde_json::json!({
                "url": format!("http://{addr}/d/"),
                "policy": {"etag": null, "last_modified": null, "max_age": null,
                           "no_cache": false, "no_store": false},
                "fetched_at": now, "found": true,
            })
        ),
    )?;
    let err = pass(&runtime, &pages(dir.path(), now)?).expect_err("a 404 was counted");
    assert!(
        format!("{err:#}").contains(&format!("http://{addr}/d/")),
        "{err:#}"
    );
    Ok(())
}
