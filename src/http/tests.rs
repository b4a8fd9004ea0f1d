//! Tests of the HTTP client: retries, deadlines, caps and credentials, against
//! [`super::test_server`].

use super::test_server::{Reply, Sending, TestServer};
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
    let gets = Arc::new(AtomicUsize::new(0));
    let g = gets.clone();
    let server = TestServer::start(move |req| {
        let reply = Reply::new(200, (0..200u8).collect::<Vec<u8>>());
        // The first GET is cut short.
        match req.method.as_str() {
            "GET" if g.fetch_add(1, Ordering::SeqCst) == 0 => reply.sent(Sending::Truncated),
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
        TestServer::start(|_| Reply::new(200, vec![b'x'; 64 << 10]).sent(Sending::Endless)).await;
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
    let creds = auth::Credentials {
        username: "bob".to_string(),
        password: Some("t0ken".to_string()),
    };
    let client = fast(HttpClient::new(4).unwrap()).with_auth(Auth::new([(&index, &creds)], None));
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

/// Regression: the requests waiting behind an origin's first one went out only once its
/// whole answer was read, so a large (or slow) first page held up every other. They wait for
/// the head of that answer, which says the connection is open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_waits_for_the_head_of_the_first_answer_not_its_body() {
    let server = TestServer::start(|r| match r.path.as_str() {
        "/slow" => Reply::new(200, vec![b'x'; 40]).sent(Sending::Drip(Duration::from_millis(100))),
        _ => Reply::new(200, "fast"),
    })
    .await;
    let client = HttpClient::new(4).unwrap();
    let slow = tokio::spawn({
        let (client, url) = (client.clone(), server.url("slow"));
        async move { get(&client, &url, Limit::PAGE).await }
    });
    // The second request arrives at the gate while the first is in flight.
    while server.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let resp = get(&client, &server.url("fast"), Limit::PAGE)
        .await
        .unwrap();
    assert_eq!(resp.body, b"fast");
    // The slow body takes 4 s to drip: the second answer did not wait for it.
    assert!(
        !slow.is_finished(),
        "the second request waited for the whole first answer"
    );
    slow.abort();
}

/// The first request to an origin failing (nothing listens) opens the gate all the same: the
/// requests behind it try for themselves, and each reports its own error.
#[tokio::test]
async fn a_failed_first_request_opens_the_gate() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!("http://{}/x", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let client = fast(HttpClient::new(4).unwrap());
    // All three at once: the first opens the gate, the other two wait at it.
    let sends: Vec<_> = (0..3)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { get(&client, &url, Limit::PAGE).await })
        })
        .collect();
    for send in sends {
        let outcome = tokio::time::timeout(Duration::from_secs(30), send)
            .await
            .expect("a request waited at the gate for ever")
            .unwrap();
        assert!(
            matches!(outcome, Err(IndexError::Unreachable { .. })),
            "{outcome:?}"
        );
    }
}

/// `connected` returns at once when nothing was sent to the origin, and otherwise when the
/// head of the first answer arrives (not before it, not after the body).
#[tokio::test]
async fn connected_waits_for_the_head_of_the_first_answer() {
    use std::io::{Read as _, Write as _};
    use std::sync::atomic::AtomicBool;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Url::parse(&format!("http://{}/p/", listener.local_addr().unwrap())).unwrap();
    let client = HttpClient::new(4).unwrap();
    tokio::time::timeout(Duration::from_secs(5), client.connected(&url))
        .await
        .expect("no request went there: no wait");

    let answered = Arc::new(AtomicBool::new(false));
    let (accepted_tx, accepted_rx) = tokio::sync::oneshot::channel();
    let server = std::thread::spawn({
        let answered = answered.clone();
        move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = conn.read(&mut request).unwrap();
            accepted_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            answered.store(true, Ordering::SeqCst);
            // The head and half the body, then the rest a second later.
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok")
                .unwrap();
            conn.flush().unwrap();
            std::thread::sleep(Duration::from_millis(1000));
            let _ = conn.write_all(b"ok");
        }
    });
    let first = tokio::spawn({
        let (client, url) = (client.clone(), url.clone());
        async move { get(&client, &url, Limit::PAGE).await }
    });
    accepted_rx.await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), client.connected(&url))
        .await
        .expect("the head came");
    assert!(
        answered.load(Ordering::SeqCst),
        "connected returned before the head arrived"
    );
    assert!(!first.is_finished(), "connected waited for the whole body");
    assert_eq!(first.await.unwrap().unwrap().body, b"okok");
    server.join().unwrap();
}

/// `send_in_pieces` keeps the body as it arrived, within the same cap as `send`.
#[tokio::test]
async fn a_body_read_in_pieces_is_the_whole_body_within_the_cap() {
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let server = TestServer::start({
        let body = body.clone();
        move |r| match r.path.as_str() {
            "/big" => Reply::new(200, vec![b'x'; 2 << 20]),
            _ => Reply::new(200, body.clone()),
        }
    })
    .await;
    let client = HttpClient::new(4).unwrap();
    let resp = client
        .send_in_pieces(
            "t",
            reqwest::Method::GET,
            &server.url("p/"),
            &[],
            Limit::PAGE,
        )
        .await
        .unwrap();
    assert!(resp.body.is_empty());
    assert_eq!(resp.pieces.concat(), body);
    let limit = Limit {
        bytes: 1 << 20,
        what: "a test page",
        head_only: false,
    };
    let err = client
        .send_in_pieces("t", reqwest::Method::GET, &server.url("big"), &[], limit)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("a test page"), "{err}");
}
