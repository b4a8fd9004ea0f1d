//! A tiny HTTP/1.1 server for the unit tests: a synchronous handler per request, every
//! request recorded. A [`Reply`] can misbehave as a hostile or broken server does: cut its
//! body short after announcing its length, drip it a byte at a time, or never end it.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Bytes, Frame};
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

/// How a reply's body is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sending {
    /// All of it.
    #[default]
    Whole,
    /// Its full length announced, half of it sent, then the connection broken.
    Truncated,
    /// One byte at a time, this long apart.
    Drip(Duration),
    /// Chunked, repeating the body forever.
    Endless,
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub send: Sending,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            send: Sending::Whole,
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
    pub fn sent(mut self, send: Sending) -> Self {
        self.send = send;
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;
type Body = BoxBody<Bytes, std::io::Error>;

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
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let rec = Recorded {
                            method: req.method().to_string(),
                            path: req.uri().path().to_string(),
                            headers: req
                                .headers()
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                                .collect(),
                        };
                        log.lock().unwrap().push(rec.clone());
                        let reply = handler(&rec);
                        let resp = respond(&rec, reply);
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

fn respond(rec: &Recorded, reply: Reply) -> hyper::Response<Body> {
    let mut resp = hyper::Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        resp = resp.header(k, v);
    }
    let body = Bytes::from(reply.body);
    // HEAD: announce the length of the body we do not send.
    if rec.method == "HEAD" {
        resp = resp.header("content-length", body.len());
        let empty = Full::new(Bytes::new()).map_err(|never| match never {});
        return resp.body(empty.boxed()).unwrap();
    }
    if reply.send != Sending::Endless {
        resp = resp.header("content-length", body.len());
    }
    let send = reply.send;
    let cut = match send {
        Sending::Truncated => body.len() / 2,
        _ => body.len(),
    };
    // `usize::MAX`: the error that breaks the connection was sent.
    let chunks = futures::stream::unfold(0usize, move |pos| {
        let body = body.clone();
        async move {
            match send {
                Sending::Endless => {
                    tokio::task::yield_now().await;
                    return Some((Ok(Frame::data(body)), 0));
                }
                Sending::Truncated if pos >= cut && pos != usize::MAX => {
                    // Let hyper send what it has before the connection breaks.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let err = std::io::Error::other("injected truncation");
                    return Some((Err(err), usize::MAX));
                }
                _ if pos >= cut => return None,
                Sending::Drip(every) => {
                    tokio::time::sleep(every).await;
                    return Some((Ok(Frame::data(body.slice(pos..pos + 1))), pos + 1));
                }
                _ => {}
            }
            Some((Ok(Frame::data(body.slice(pos..cut))), cut))
        }
    });
    resp.body(StreamBody::new(chunks).boxed()).unwrap()
}
