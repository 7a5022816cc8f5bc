//! The webhook's network edge against hostile clients, over raw TCP and TLS
//! sockets to the real listener: idle and send timeouts, room at
//! `max_connections`, the body memory budget, lingering close, strict
//! framing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth0_ingest::config::Config;
use auth0_ingest::inputs::webhook;
use auth0_ingest::spool::{self, Reader};
use auth0_ingest::telemetry::metrics::Metrics;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::support::{self, TOKEN};

/// A byte stream to the listener, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// The real listener on the real spool (nobody reads it, so the test sees
/// exactly what was made durable), with its counters.
pub struct Edge {
    pub addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    pub reader: Reader,
    pub spool_dir: PathBuf,
    tls: Option<tokio_rustls::TlsConnector>,
    shutdown: CancellationToken,
    _acker: spool::Acker,
    _dir: tempfile::TempDir,
}

impl Edge {
    /// A listener with `webhook_extra` in its `[webhook]` table, TLS or plain.
    pub async fn start(webhook_extra: &str, tls: bool) -> Edge {
        let dir = tempfile::tempdir().unwrap();
        let (tls_table, connector) = if tls {
            let files = support::tls_files(dir.path());
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(files.cert_pem.as_bytes()).unwrap())
                .unwrap();
            let client = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
            (
                format!(
                    "[webhook.tls]\ncert = \"{}\"\nkey = \"{}\"\n",
                    files.cert.display(),
                    files.key.display()
                ),
                Some(tokio_rustls::TlsConnector::from(Arc::new(client))),
            )
        } else {
            (String::new(), None)
        };
        let text = format!(
            "[webhook]\nlisten = \"127.0.0.1:0\"\ntokens = [\"{TOKEN}\"]\n{webhook_extra}\n{tls_table}\
             [spool]\ndir = \"{}\"\n[output.file]\ndir = \"{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            dir.path().join("spool").display(),
            dir.path().join("out").display()
        );
        let config = Config::from_toml(&text, dir.path()).unwrap();
        let webhook_config = config.webhook.unwrap();
        let spool::Spool {
            writer,
            reader,
            acker,
            ..
        } = spool::open(&config.spool).unwrap();
        let listener = webhook::bind(&webhook_config).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let metrics = Arc::new(Metrics::default());
        tokio::spawn(webhook::serve(
            listener,
            webhook_config,
            writer,
            Arc::clone(&metrics),
            shutdown.clone(),
            Duration::from_secs(2),
        ));
        Edge {
            addr,
            metrics,
            reader,
            spool_dir: config.spool.dir.clone(),
            tls: connector,
            shutdown,
            _acker: acker,
            _dir: dir,
        }
    }

    /// A new connection (TLS handshake done, if TLS).
    pub async fn connect(&self) -> Box<dyn Stream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        match &self.tls {
            None => Box::new(tcp),
            Some(connector) => Box::new(
                connector
                    .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
                    .await
                    .unwrap(),
            ),
        }
    }

    /// Every event now durable in the spool.
    pub fn spooled(&mut self) -> Vec<Vec<u8>> {
        let mut events = Vec::new();
        while let Some(batch) = self.reader.read(100_000, 1 << 30).unwrap() {
            events.extend(batch.events.iter().map(|event| event.bytes.to_vec()));
        }
        events
    }

    /// The dead-letter entries written so far.
    pub fn dead_letters(&self) -> Vec<serde_json::Value> {
        support::dead_letters(&self.spool_dir)
    }

    pub fn counter(&self, counter: impl Fn(&Metrics) -> &std::sync::atomic::AtomicU64) -> u64 {
        counter(&self.metrics).load(Ordering::Relaxed)
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A response read off a raw connection.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then_some(value.trim())
        })
    }
}

/// Reads one response (head and `Content-Length` body) within `limit`;
/// `None` when the connection ends first or the time runs out.
pub async fn read_answer(
    stream: &mut (impl AsyncRead + Unpin + ?Sized),
    limit: Duration,
) -> Option<Answer> {
    tokio::time::timeout(limit, async {
        let mut received = Vec::new();
        let mut buffer = [0_u8; 4096];
        let head_end = loop {
            if let Some(end) = received.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
            let read = stream.read(&mut buffer).await.ok()?;
            if read == 0 {
                return None;
            }
            received.extend_from_slice(&buffer[..read]);
        };
        let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
        let status = head.get(9..12)?.parse().ok()?;
        let mut answer = Answer {
            status,
            head,
            body: String::new(),
        };
        let length: usize = answer
            .header("content-length")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        while received.len() < head_end + length {
            let read = stream.read(&mut buffer).await.ok()?;
            if read == 0 {
                return None;
            }
            received.extend_from_slice(&buffer[..read]);
        }
        answer.body = String::from_utf8_lossy(&received[head_end..head_end + length]).into_owned();
        Some(answer)
    })
    .await
    .ok()
    .flatten()
}

/// Whether the server closes the connection (EOF or reset) within `limit`,
/// discarding what it sends.
pub async fn closed_within(
    stream: &mut (impl AsyncRead + Unpin + ?Sized),
    limit: Duration,
) -> bool {
    tokio::time::timeout(limit, async {
        let mut buffer = [0_u8; 4096];
        while let Ok(read) = stream.read(&mut buffer).await {
            if read == 0 {
                break;
            }
        }
    })
    .await
    .is_ok()
}

/// A POST head for `body_length` bytes (no body).
pub fn post_head(extra_headers: &str, body_length: usize) -> String {
    format!(
        "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\n{extra_headers}Content-Length: {body_length}\r\n\r\n"
    )
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

/// Writes GET /healthz requests without reading until a write fails (the
/// server closed) or `limit` passes; returns when the connection was found
/// closed, measured from the start.
async fn pipeline_without_reading(
    stream: &mut Box<dyn Stream>,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let batch = HEALTHZ.repeat(100);
    let result = tokio::time::timeout(limit, async {
        loop {
            if stream.write_all(&batch).await.is_err() || stream.flush().await.is_err() {
                return;
            }
        }
    })
    .await;
    result.ok().map(|()| started.elapsed())
}

#[tokio::test]
async fn an_idle_keep_alive_connection_outlives_the_header_timeout_and_closes_at_the_idle_timeout()
{
    for tls in [false, true] {
        let edge = Edge::start("header_timeout = \"200ms\"\nidle_timeout = \"1200ms\"", tls).await;
        let mut stream = edge.connect().await;
        stream.write_all(HEALTHZ).await.unwrap();
        let answer = read_answer(&mut stream, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        let idle_since = Instant::now();
        // Past the header timeout the idle connection still serves.
        tokio::time::sleep(Duration::from_millis(600)).await;
        stream.write_all(HEALTHZ).await.unwrap();
        let answer = read_answer(&mut stream, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "tls={tls}");
        let idle_since_second = Instant::now();
        assert!(closed_within(&mut stream, Duration::from_secs(10)).await);
        let idle = idle_since_second.elapsed();
        assert!(idle >= Duration::from_millis(1100), "closed after {idle:?}");
        assert!(idle_since.elapsed() < Duration::from_secs(10));
        assert_eq!(
            edge.counter(|m| &m.webhook_connections_closed_idle_timeout),
            1
        );
    }
}

#[tokio::test]
async fn a_head_that_starts_on_an_idle_connection_gets_the_header_timeout() {
    let edge = Edge::start("header_timeout = \"300ms\"\nidle_timeout = \"1h\"", false).await;
    let mut stream = edge.connect().await;
    stream.write_all(HEALTHZ).await.unwrap();
    assert_eq!(
        read_answer(&mut stream, Duration::from_secs(5))
            .await
            .unwrap()
            .status,
        200
    );
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(closed_within(&mut stream, Duration::from_secs(10)).await);
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(
        edge.counter(|m| &m.webhook_connections_closed_header_timeout),
        1
    );
}

#[tokio::test]
async fn a_client_that_pipelines_and_never_reads_is_closed_at_the_send_timeout() {
    for (tls, token) in [(false, false), (true, false), (false, true)] {
        let edge = Edge::start(
            "send_timeout = \"500ms\"\nidle_timeout = \"1h\"\nheader_timeout = \"1h\"",
            tls,
        )
        .await;
        let mut stream = edge.connect().await;
        if token {
            // An authorized client is no different.
            stream.write_all(post_head("", 2).as_bytes()).await.unwrap();
            stream.write_all(b"{}").await.unwrap();
        }
        let closed = pipeline_without_reading(&mut stream, Duration::from_secs(30)).await;
        assert!(closed.is_some(), "tls={tls}: still open after 30 s");
        assert_eq!(
            edge.counter(|m| &m.webhook_connections_closed_send_timeout),
            1
        );
    }
}

/// A connection that pipelines GET /healthz without reading, in a task
/// that ends when the server closes it.
async fn stalled_connection(edge: &Edge) -> tokio::task::JoinHandle<()> {
    let mut stream = edge.connect().await;
    tokio::spawn(async move {
        let _ = pipeline_without_reading(&mut stream, Duration::from_secs(60)).await;
    })
}

/// POSTs one small batch on a new connection: the status, and how long
/// the answer took.
async fn post_small(edge: &Edge, log_id: &str) -> (Option<u16>, Duration) {
    let started = Instant::now();
    let mut client = edge.connect().await;
    let body = format!("{{\"log_id\":\"{log_id}\",\"data\":{{\"type\":\"s\"}}}}");
    client
        .write_all(format!("{}{body}", post_head("", body.len())).as_bytes())
        .await
        .unwrap();
    let answer = read_answer(&mut client, Duration::from_secs(10)).await;
    (answer.map(|answer| answer.status), started.elapsed())
}

#[tokio::test]
async fn at_the_cap_a_stalled_connection_makes_room_at_once() {
    let edge = Edge::start("max_connections = 1\nsend_timeout = \"1h\"", false).await;
    let stalled = stalled_connection(&edge).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, took) = post_small(&edge, "1").await;
    assert_eq!(status, Some(200));
    assert!(took < Duration::from_secs(10), "{took:?}");
    tokio::time::timeout(Duration::from_secs(5), stalled)
        .await
        .expect("the stalled connection is still open")
        .unwrap();
    assert_eq!(edge.counter(|m| &m.webhook_connections_closed_evicted), 1);
}

#[tokio::test]
async fn at_the_cap_the_idle_connection_goes_first() {
    let edge = Edge::start(
        "max_connections = 2\nidle_timeout = \"1h\"\nsend_timeout = \"1h\"",
        true,
    )
    .await;
    let mut idle = edge.connect().await;
    idle.write_all(HEALTHZ).await.unwrap();
    assert_eq!(
        read_answer(&mut idle, Duration::from_secs(5))
            .await
            .unwrap()
            .status,
        200
    );
    let stalled = stalled_connection(&edge).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, took) = post_small(&edge, "1").await;
    assert_eq!(status, Some(200));
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(closed_within(&mut idle, Duration::from_secs(2)).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !stalled.is_finished(),
        "the stalled one went before the idle one"
    );
    stalled.abort();
}

#[tokio::test]
async fn a_body_beyond_the_memory_budget_is_503_before_it_is_read() {
    for tls in [false, true] {
        let mut edge = Edge::start(
            "max_body_bytes = \"1MiB\"\nmax_inflight_bytes = \"3MiB\"\nretry_after = \"4s\"",
            tls,
        )
        .await;
        let body = support::batch(0, 1100);
        assert!(
            body.len() > 900_000 && body.len() < 1 << 20,
            "{}",
            body.len()
        );
        // A holds ~2 MiB (its body and spool copy) while its body arrives.
        let mut first = edge.connect().await;
        first
            .write_all(post_head("", body.len()).as_bytes())
            .await
            .unwrap();
        first.write_all(&body.as_bytes()[..1000]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // B does not fit: answered before it sends a byte of its body.
        let mut second = edge.connect().await;
        second
            .write_all(post_head("", body.len()).as_bytes())
            .await
            .unwrap();
        let answer = read_answer(&mut second, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(answer.status, 503, "tls={tls}");
        assert_eq!(answer.header("retry-after"), Some("4"));
        // A chunked body is refused once it outgrows the budget.
        let mut third = edge.connect().await;
        third
            .write_all(
                format!(
                    "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        let answer = read_answer(&mut third, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(answer.status, 503);
        assert!(answer.header("retry-after").is_some());
        // A completes; the budget returns and B's retry lands.
        first.write_all(&body.as_bytes()[1000..]).await.unwrap();
        assert_eq!(
            read_answer(&mut first, Duration::from_secs(10))
                .await
                .unwrap()
                .status,
            200
        );
        let mut retry = edge.connect().await;
        retry
            .write_all(format!("{}{body}", post_head("", body.len())).as_bytes())
            .await
            .unwrap();
        assert_eq!(
            read_answer(&mut retry, Duration::from_secs(10))
                .await
                .unwrap()
                .status,
            200
        );
        assert_eq!(edge.spooled().len(), 2200);
        assert_eq!(edge.counter(|m| &m.webhook_requests_over_budget), 2);
    }
}

/// Sends a whole `length`-byte body before reading anything, as Python's
/// `http.client` does, and returns the answer read afterwards.
async fn post_whole_body_then_read(edge: &Edge, head: &str, length: usize) -> Option<Answer> {
    let mut stream = edge.connect().await;
    stream.write_all(head.as_bytes()).await.ok()?;
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0;
    while sent < length {
        let size = chunk.len().min(length - sent);
        stream.write_all(&chunk[..size]).await.ok()?;
        sent += size;
    }
    stream.flush().await.ok()?;
    read_answer(&mut stream, Duration::from_secs(30)).await
}

#[tokio::test]
async fn a_client_that_writes_its_whole_body_first_still_reads_the_early_answer() {
    for tls in [false, true] {
        let edge = Edge::start("", tls).await;
        let length = 17 << 20;
        let answer = post_whole_body_then_read(&edge, &post_head("", length), length).await;
        assert_eq!(answer.map(|answer| answer.status), Some(413), "tls={tls}");
        // A wrong token with a body: the 401 arrives too.
        let head = format!(
            "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: nope\r\nContent-Length: {}\r\n\r\n",
            4 << 20
        );
        let answer = post_whole_body_then_read(&edge, &head, 4 << 20).await;
        assert_eq!(answer.map(|answer| answer.status), Some(401), "tls={tls}");
        assert!(edge.counter(|m| &m.webhook_connections_lingering) >= 2);
    }
}

#[tokio::test]
async fn content_encoding_is_strict() {
    let mut edge = Edge::start("", false).await;
    let body = br#"{"log_id":"1","data":{"type":"s"}}"#;
    for encoding in [
        "Content-Encoding: gzip\r\nContent-Encoding: identity\r\n".as_bytes(),
        b"Content-Encoding: identity\r\nContent-Encoding: identity\r\n",
        b"Content-Encoding: gzip\xc3\xa9\r\n",
        b"Content-Encoding: \xff\r\n",
        b"Content-Encoding: br\r\n",
        b"Content-Encoding: gzip, identity\r\n",
    ] {
        let mut request = format!(
            "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\nContent-Length: {}\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(encoding);
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(body);
        let mut stream = edge.connect().await;
        stream.write_all(&request).await.unwrap();
        let answer = read_answer(&mut stream, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(answer.status, 415, "{}", String::from_utf8_lossy(encoding));
    }
    assert!(edge.spooled().is_empty());
}

#[tokio::test]
async fn bad_chunk_sizes_are_answered_at_once() {
    let mut edge = Edge::start("max_body_bytes = \"1MiB\"\nbody_timeout = \"1h\"", false).await;
    let head = format!(
        "POST /auth0/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    for (chunks, expected) in [
        // Sizes above the limit, overflowing u64 or not: refused before
        // any data (hyper alone would wait for 2^63 bytes).
        ("1FFFFFFFFFFFFFFFFF\r\nabc", 413),
        ("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\r\n", 413),
        ("8000000000000000\r\nabc", 413),
        ("100001\r\n{", 413),
        // Not a size: hyper's decoder refuses it.
        ("zz\r\n", 400),
        ("\r\n", 400),
    ] {
        let mut stream = edge.connect().await;
        stream
            .write_all(format!("{head}{chunks}").as_bytes())
            .await
            .unwrap();
        let started = Instant::now();
        let answer = read_answer(&mut stream, Duration::from_secs(10)).await;
        assert_eq!(
            answer.map(|answer| answer.status),
            Some(expected),
            "{chunks:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{chunks:?}");
    }
    assert!(edge.spooled().is_empty());
}
