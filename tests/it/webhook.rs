//! The webhook over real TLS against the real spool: formats, auth, limits,
//! status codes, dead letters, backpressure.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use auth0_ingest::config::Config;
use auth0_ingest::inputs::webhook;
use auth0_ingest::spool::{self, Reader};
use auth0_ingest::telemetry::metrics::Metrics;
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use super::support::{self, TOKEN};

/// The real listener on the real spool, with nobody reading the spool, so
/// the test sees exactly what the webhook made durable.
struct Listener {
    url: String,
    client: reqwest::Client,
    reader: Reader,
    spool_dir: PathBuf,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
    _acker: spool::Acker,
}

/// The webhook of config `text` serving on the spool of that config.
struct Served {
    addr: SocketAddr,
    path: String,
    reader: Reader,
    acker: spool::Acker,
    writer_thread: std::thread::JoinHandle<()>,
    spool_dir: PathBuf,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

/// Starts `webhook::serve` for config `text` (paths relative to `dir`) with
/// the spool's only writer, so the writer thread stops with the server.
async fn serve(text: &str, dir: &Path, drain: Duration) -> Served {
    let config = Config::from_toml(text, dir).unwrap();
    let webhook_config = config.webhook.unwrap();
    let spool::Spool {
        writer,
        reader,
        acker,
        writer_thread,
        ..
    } = spool::open(&config.spool).unwrap();
    let listener = webhook::bind(&webhook_config).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let path = webhook_config.path.clone();
    let server = tokio::spawn(webhook::serve(
        listener,
        webhook_config,
        writer,
        Arc::new(Metrics::default()),
        shutdown.clone(),
        drain,
    ));
    Served {
        addr,
        path,
        reader,
        acker,
        writer_thread,
        spool_dir: config.spool.dir.clone(),
        shutdown,
        server,
    }
}

/// A plain-HTTP config with `webhook_extra` in its `[webhook]` table.
fn plain_config(dir: &Path, webhook_extra: &str) -> String {
    format!(
        "[webhook]\nlisten = \"127.0.0.1:0\"\ntokens = [\"{TOKEN}\"]\n{webhook_extra}\n[spool]\ndir = \"{}\"\n[output.file]\ndir = \"{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        dir.join("spool").display(),
        dir.join("out").display()
    )
}

async fn listener(extra: &str) -> Listener {
    let dir = tempfile::tempdir().unwrap();
    let tls = support::tls_files(dir.path());
    let text = support::config_text(dir.path(), &tls, extra);
    listener_from_text(dir, &tls, &text).await
}

async fn listener_from_text(dir: tempfile::TempDir, tls: &support::Tls, text: &str) -> Listener {
    let served = serve(text, dir.path(), Duration::from_secs(5)).await;
    Listener {
        url: format!("https://127.0.0.1:{}{}", served.addr.port(), served.path),
        client: support::client(&tls.cert_pem),
        reader: served.reader,
        spool_dir: served.spool_dir,
        shutdown: served.shutdown,
        _dir: dir,
        _acker: served.acker,
    }
}

impl Listener {
    async fn post(&self, body: impl Into<reqwest::Body>) -> (StatusCode, String) {
        let response = self
            .client
            .post(&self.url)
            .header("Authorization", TOKEN)
            .header("Content-Type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Every event now durable in the spool, as text.
    fn spooled(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        while let Some(batch) = self.reader.read(10_000, 1 << 30).unwrap() {
            events.extend(
                batch
                    .events
                    .iter()
                    .map(|event| String::from_utf8(event.bytes.to_vec()).unwrap()),
            );
        }
        events
    }

    fn dead_letters(&self) -> Vec<serde_json::Value> {
        support::dead_letters(&self.spool_dir)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

const A: &str = r#"{"log_id":"1","data":{"type":"s","date":"2026-11-21T10:00:00Z"}}"#;
const B: &str = r#"{"log_id":"2","data":{"type":"f","date":"2026-11-21T10:00:01Z"}}"#;

#[tokio::test]
async fn every_body_format_is_accepted() {
    let mut listener = listener("").await;
    let bare = r#"{"log_id":"3","type":"fp","date":"2026-11-21T10:00:02Z"}"#;
    let cases = [
        (format!("{A}\n{B}\n"), vec![A, B]),
        (format!("{A}\r\n\r\n{B}"), vec![A, B]),
        (format!("[{A},{B}]"), vec![A, B]),
        (format!("{{\"logs\":[{A},{B}]}}"), vec![A, B]),
        (A.to_owned(), vec![A]),
        (format!("[{bare}]"), vec![bare]),
        (format!("  {bare}  "), vec![bare]),
    ];
    for (body, expected) in cases {
        let (status, text) = listener.post(body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            text.trim(),
            format!("{{\"accepted\":{},\"rejected\":0}}", expected.len())
        );
        assert_eq!(listener.spooled(), expected, "{body}");
    }
}

#[tokio::test]
async fn gzip_bodies_are_decompressed_within_the_limit() {
    let mut listener = listener("[enrich]\n").await;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(format!("{A}\n{B}").as_bytes()).unwrap();
    let gzipped = encoder.finish().unwrap();
    let response = listener
        .client
        .post(&listener.url)
        .header("Authorization", TOKEN)
        .header("Content-Encoding", "gzip")
        .body(gzipped)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(listener.spooled(), vec![A, B]);

    // A small gzip that expands past max_body_bytes (16MiB default).
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![b' '; 17 * 1024 * 1024]).unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 100_000);
    let response = listener
        .client
        .post(&listener.url)
        .header("Authorization", TOKEN)
        .header("Content-Encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let response = listener
        .client
        .post(&listener.url)
        .header("Authorization", TOKEN)
        .header("Content-Encoding", "br")
        .body(A)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(listener.spooled().is_empty());
}

#[tokio::test]
async fn wrong_or_missing_token_is_401_and_writes_nothing() {
    let mut listener = listener("").await;
    for token in [Some("wrong"), Some("Bearer test-token-1"), None] {
        let mut request = listener.client.post(&listener.url).body(A);
        if let Some(token) = token {
            request = request.header("Authorization", token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
    }
    // The second configured token works too (rotation).
    let response = listener
        .client
        .post(&listener.url)
        .header("Authorization", "second-token")
        .body(A)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(listener.spooled(), vec![A]);
    assert!(listener.dead_letters().is_empty());
}

#[tokio::test]
async fn paths_methods_and_health() {
    let listener = listener("").await;
    let base = listener.url.trim_end_matches("/auth0/logs").to_owned();
    let client = &listener.client;
    let status = |response: reqwest::Response| response.status();
    assert_eq!(
        status(
            client
                .post(format!("{base}/other"))
                .header("Authorization", TOKEN)
                .body(A)
                .send()
                .await
                .unwrap()
        ),
        StatusCode::NOT_FOUND
    );
    let response = client.get(&listener.url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    let response = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok\n");
}

#[tokio::test]
async fn oversize_bodies_are_413_with_and_without_content_length() {
    let mut listener = listener("").await;
    let small = listener_with_limit("1KiB").await;
    let body = format!("{A}\n").repeat(40);
    assert!(body.len() > 1024);
    let (status, _) = small.post(body.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Chunked (no Content-Length): the limit holds while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(body.as_bytes()[..600].to_vec()),
        Ok(body.as_bytes()[600..].to_vec()),
    ];
    let stream = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let (status, _) = small.post(stream).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // The default listener takes the same body.
    let (status, _) = listener.post(body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listener.spooled().len(), 40);
}

async fn listener_with_limit(limit: &str) -> Listener {
    let dir = tempfile::tempdir().unwrap();
    let tls = support::tls_files(dir.path());
    let text = support::config_text(dir.path(), &tls, "").replacen(
        "[webhook]\n",
        &format!("[webhook]\nmax_body_bytes = \"{limit}\"\n"),
        1,
    );
    listener_from_text(dir, &tls, &text).await
}

#[tokio::test]
async fn empty_bodies_are_400() {
    let mut listener = listener("").await;
    for body in ["", "  \r\n\n "] {
        let (status, _) = listener.post(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
    }
    assert!(listener.spooled().is_empty());
}

#[tokio::test]
async fn malformed_lines_are_dead_lettered_and_the_rest_lands() {
    let mut listener = listener("").await;
    let bad = r#"{"log_id":"x","data":{"#;
    let (status, text) = listener.post(format!("{A}\n{bad}\n42\n{B}\n")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(text.trim(), r#"{"accepted":2,"rejected":2}"#);
    assert_eq!(listener.spooled(), vec![A, B]);
    let dead = listener.dead_letters();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0]["raw"], bad);
    assert_eq!(dead[0]["stage"], "input");
    assert_eq!(dead[0]["input"], "webhook");
    assert!(dead[0]["reason"]
        .as_str()
        .unwrap()
        .starts_with("invalid JSON"));
    assert_eq!(dead[1]["raw"], "42");
    assert_eq!(dead[1]["reason"], "not a JSON object");

    // Nothing valid: 400, still dead-lettered.
    let (status, text) = listener.post("nope\n[]").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(text.trim(), r#"{"accepted":0,"rejected":2}"#);
    assert_eq!(listener.dead_letters().len(), 4);
    assert!(listener.spooled().is_empty());
}

#[tokio::test]
async fn full_spool_is_503_with_retry_after_and_recovers_after_acks() {
    let dir = tempfile::tempdir().unwrap();
    let tls = support::tls_files(dir.path());
    let text = support::config_text(dir.path(), &tls, "")
        .replace("[spool]\n", "[spool]\nmax_bytes = \"64KiB\"\n")
        .replacen("[webhook]\n", "[webhook]\nretry_after = \"7s\"\n", 1);
    let mut listener = listener_from_text(dir, &tls, &text).await;
    // ~70 KB: more than max_bytes, taken only because the spool is empty.
    let body = support::batch(0, 60);
    let (status, _) = listener.post(body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let response = support::post(&listener.client, &listener.url, body.clone()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "7");
    // Once the output acknowledges, there is room again.
    let batch = listener.reader.read(10_000, 1 << 30).unwrap().unwrap();
    assert_eq!(batch.events.len(), 60);
    listener._acker.ack(batch.receipt).unwrap();
    let (status, _) = listener.post(body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listener.spooled().len(), 60);
}

#[tokio::test]
async fn plain_http_without_tls_section() {
    let dir = tempfile::tempdir().unwrap();
    let mut served = serve(
        &plain_config(dir.path(), ""),
        dir.path(),
        Duration::from_secs(5),
    )
    .await;
    let response = reqwest::Client::new()
        .post(format!("http://{}/auth0/logs", served.addr))
        .header("Authorization", TOKEN)
        .body(A)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let batch = served.reader.read(10, 1 << 20).unwrap().unwrap();
    assert_eq!(batch.events[0].bytes, A.as_bytes());
    served.shutdown.cancel();
}

#[tokio::test]
async fn concurrent_requests_all_land() {
    let mut listener = listener("").await;
    let mut tasks = Vec::new();
    for task in 0..16 {
        let client = listener.client.clone();
        let url = listener.url.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..5 {
                let body = support::batch((task * 5 + round) * 10, 10);
                let response = support::post(&client, &url, body).await;
                assert_eq!(response.status(), StatusCode::OK);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut ids: Vec<String> = listener
        .spooled()
        .iter()
        .map(|event| {
            serde_json::from_str::<serde_json::Value>(event).unwrap()["log_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    let expected: Vec<String> = (0..800).map(support::log_id).collect();
    assert_eq!(ids, expected);
}

/// A plain-HTTP listener (raw sockets make slow clients easy to play) with
/// `webhook_extra` in its `[webhook]` table.
async fn plain_listener(webhook_extra: &str) -> (SocketAddr, CancellationToken, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(
        &plain_config(dir.path(), webhook_extra),
        dir.path(),
        Duration::from_secs(5),
    )
    .await;
    (served.addr, served.shutdown, dir)
}

/// Reads until the server closes the connection (or `limit` passes) and
/// returns what it sent.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut received)).await {
        Ok(_) => Some(String::from_utf8_lossy(&received).into_owned()),
        Err(_) => None,
    }
}

#[tokio::test]
async fn slow_clients_are_cut_off_by_the_header_and_body_timeouts() {
    use tokio::io::AsyncWriteExt;
    let (addr, shutdown, _dir) =
        plain_listener("header_timeout = \"300ms\"\nbody_timeout = \"300ms\"").await;

    // Headers that never end: the connection is closed.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /auth0/logs HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.is_some(), "the connection stayed open");

    // A body that stops half-way: 408.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\nContent-Length: 1000\r\n\r\n{{\"log_id\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the connection stayed open");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    shutdown.cancel();
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let (addr, shutdown, _dir) = plain_listener("max_connections = 1").await;
    let url = format!("http://{addr}/auth0/logs");
    // One idle connection holds the only slot.
    let holder = tokio::net::TcpStream::connect(addr).await.unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let waiting = client
        .post(&url)
        .header("Authorization", TOKEN)
        .body(A)
        .send()
        .await;
    assert!(waiting.is_err(), "served beyond max_connections");
    drop(holder);
    let served = reqwest::Client::new()
        .post(&url)
        .header("Authorization", TOKEN)
        .body(A)
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    shutdown.cancel();
}

#[tokio::test]
async fn shutdown_closes_connections_that_outlive_the_drain() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let served = serve(
        &plain_config(dir.path(), "body_timeout = \"1h\""),
        dir.path(),
        Duration::from_millis(200),
    )
    .await;
    let (addr, shutdown, server) = (served.addr, served.shutdown, served.server);
    // A body that never completes (body_timeout is an hour).
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\nContent-Length: 1000\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Let the server start reading the body.
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("serve outlived its drain")
        .unwrap();
    // With every connection gone, the spool writer can stop.
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::task::spawn_blocking(move || served.writer_thread.join().unwrap()),
    )
    .await
    .expect("a connection still holds the spool writer")
    .unwrap();
}
