//! Test scaffolding shared by every test module: TLS material, HTTPS
//! clients, configs, bounded waits (polling a condition up to a deadline,
//! never a fixed sleep), the serving loop of the in-test fakes, and the
//! fakes themselves, one file each: Elasticsearch ([`fake_es`]), Datadog's
//! logs intake ([`fake_datadog`]) and an Auth0 tenant ([`fake_auth0`]).

pub mod fake_auth0;
pub mod fake_datadog;
pub mod fake_es;

use std::convert::Infallible;
use std::future::Future;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use auth0_ingest::inputs::webhook::tls;
use auth0_ingest::telemetry::metrics::Metrics;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The token every test config accepts.
pub const TOKEN: &str = "test-token-1";

/// A development certificate written into a test directory.
pub struct Tls {
    pub cert_pem: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Writes a fresh self-signed certificate for 127.0.0.1 into `dir`.
pub fn tls_files(dir: &Path) -> Tls {
    let (cert_pem, key_pem) = tls::generate_development_certificate().unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, &cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    Tls {
        cert_pem,
        cert,
        key,
    }
}

/// An HTTPS client trusting only `cert_pem`.
pub fn client(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `POST` of `body` to `url` with the test token; panics if no answer comes.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    client
        .post(url)
        .header("Authorization", TOKEN)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A full agent config with TLS on an ephemeral loopback port, spool and
/// file output under `dir`, and `extra` appended.
pub fn config_text(dir: &Path, tls: &Tls, extra: &str) -> String {
    format!(
        "[webhook]\nlisten = \"127.0.0.1:0\"\ntokens = [\"{TOKEN}\", \"second-token\"]\n\
         [webhook.tls]\ncert = \"{}\"\nkey = \"{}\"\n\
         [spool]\ndir = \"{}\"\n\
         [output.file]\ndir = \"{}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n{extra}",
        tls.cert.display(),
        tls.key.display(),
        dir.join("spool").display(),
        dir.join("out").display(),
    )
}

/// A loopback address free a moment ago, for an agent that must listen on
/// the same port again after a restart.
pub fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Waits up to 20 s until something accepts connections on `addr`.
pub async fn wait_listening(addr: SocketAddr) {
    wait_until_async(Duration::from_secs(20), "the agent to start", async || {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await;
}

/// Serves HTTP/1.1 on `listener` (over TLS with `tls`), answering each
/// request with `handle`, until the task running it is aborted. Connections
/// live in that task, so aborting it drops them all.
pub async fn serve_http<F, Fut>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handle: F,
) where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let handle = handle.clone();
                let tls = tls.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let response = handle(request);
                        async move { Ok::<_, Infallible>(response.await) }
                    });
                    let http = hyper::server::conn::http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                        Some(acceptor) => {
                            // A client that distrusts the certificate hangs up here.
                            let Ok(stream) = acceptor.accept(stream).await else { return };
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// How often the waits below check their condition.
const POLL: Duration = Duration::from_millis(20);

/// Polls `condition` every 20 ms until it holds or `limit` passes; returns
/// whether it held. Waiting for a state, not sleeping for one.
pub async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    eventually_async(limit, async || condition()).await
}

/// [`eventually`] for a condition that has to await (an HTTP request).
pub async fn eventually_async(limit: Duration, mut condition: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `condition` holds; fails the test, naming `what`, once
/// `limit` passes.
pub async fn wait_until(limit: Duration, what: &str, condition: impl FnMut() -> bool) {
    assert!(
        eventually(limit, condition).await,
        "timed out waiting for {what}"
    );
}

/// [`wait_until`] for a condition that has to await (an HTTP request).
pub async fn wait_until_async(limit: Duration, what: &str, condition: impl AsyncFnMut() -> bool) {
    assert!(
        eventually_async(limit, condition).await,
        "timed out waiting for {what}"
    );
}

/// Waits up to 20 s until `count` spool records are acknowledged (every
/// output done with them).
pub async fn wait_acked(metrics: &Metrics, count: u64, what: &str) {
    wait_until(Duration::from_secs(20), what, || {
        metrics.spool_acked.load(Ordering::Relaxed) == count
    })
    .await;
}

/// `POST /auth0/logs` over plain HTTP to the webhook at `addr`, with the
/// test token: the status, or 0 when no answer came (the agent is down).
pub async fn post_plain(client: &reqwest::Client, addr: SocketAddr, body: String) -> u16 {
    client
        .post(format!("http://{addr}/auth0/logs"))
        .header("authorization", TOKEN)
        .body(body)
        .send()
        .await
        .map_or(0, |response| response.status().as_u16())
}

/// Log ids `{prefix}{n:06}` for `n` in `range`.
pub fn ids(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("{prefix}{n:06}")).collect()
}

/// The dead letters in `dead-letter.ndjson` of the spool directory `spool`
/// (none when the file does not exist), parsed.
pub fn dead_letters(spool: &Path) -> Vec<serde_json::Value> {
    ndjson_lines(&spool.join("dead-letter.ndjson"))
}

/// Every line of the NDJSON file at `path` (none when it does not exist),
/// parsed.
pub fn ndjson_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Every complete document line in the NDJSON files of `dir`, parsed. A
/// last line still being written (no newline yet) is left out, so it can be
/// called while the agent runs.
pub fn documents(dir: &Path) -> Vec<serde_json::Value> {
    read_documents(dir, false)
}

/// Every line of the NDJSON files of `dir`, parsed; panics on a partial
/// line. For a stopped agent.
pub fn documents_complete(dir: &Path) -> Vec<serde_json::Value> {
    read_documents(dir, true)
}

fn read_documents(dir: &Path, strict: bool) -> Vec<serde_json::Value> {
    let Ok(files) = auth0_ingest::outputs::file::list(dir) else {
        return Vec::new();
    };
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let whole = match text.rfind('\n') {
            Some(index) => &text[..=index],
            None => "",
        };
        assert!(
            !strict || whole.len() == text.len(),
            "partial line in {}",
            file.display()
        );
        documents.extend(
            whole
                .lines()
                .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()),
        );
    }
    documents
}

/// An Auth0-like envelope of about 1.5 KB for `log_id`.
pub fn event(log_id: &str) -> String {
    format!(
        concat!(
            r#"{{"log_id":"{id}","data":{{"date":"2026-11-21T10:00:00.120Z","type":"s","description":"Successful login","#,
            r#""connection":"Username-Password-Authentication","connection_id":"con_8Yvnh5MjXzA9dXtT","#,
            r#""client_id":"aiK1gMAzAQr6YAWzIsJ3tfXeXcBfDNby","client_name":"Demo App","ip":"81.2.69.143","#,
            r#""user_agent":"Chrome 120.0.0 / Mac OS X 10.15.7","details":{{"prompts":[{{"name":"login","completedAt":1763719200120,"elapsedTime":1120,"stats":{{"loginsCount":42}}}}],"#,
            r#""initiatedAt":1763719199000,"completedAt":1763719200120,"elapsedTime":1120,"session_id":"PvnQ0-Mdqy3m2aDRHf8QrN4P"}},"#,
            r#""hostname":"tenant.eu.auth0.com","user_id":"auth0|6540f1c2a8b3d4e5f6a7b8c9","user_name":"alice@example.com","#,
            r#""strategy":"auth0","strategy_type":"database","log_id":"{id}","tenant_name":"tenant"}}}}"#
        ),
        id = log_id
    )
}

/// A JSON Lines body of events `first..first+count`.
pub fn batch(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| event(&log_id(n)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A 56-digit Auth0-style log id for `n`.
pub fn log_id(n: usize) -> String {
    format!("90020261121100000{n:039}")
}

/// Runs `command` to completion with `stdin` as its input (then closed),
/// capturing its stdout and stderr.
pub fn output_with_stdin(command: &mut Command, stdin: &[u8]) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// The built binary running `run --config <config>`, its stderr going to
/// `stderr`. Dropping it kills it (SIGKILL), so a failing test leaves no
/// agent behind.
pub struct Agent {
    pub child: Child,
    /// Its stderr lines after "webhook listening", once
    /// [`Agent::webhook_url`] has started draining them.
    pub log: Arc<Mutex<Vec<String>>>,
    /// The admin listener's base URL (`http://127.0.0.1:PORT`), once
    /// [`Agent::webhook_url`] has read it from the log.
    pub admin_url: Option<String>,
}

impl Agent {
    pub fn spawn(config: &Path, stderr: impl Into<Stdio>) -> Agent {
        let mut command = Command::new(env!("CARGO_BIN_EXE_auth0-ingest"));
        command.args(["run", "--config"]).arg(config);
        Agent::spawn_command(command, stderr)
    }

    /// Like [`Agent::spawn`], under `umask` (set by `sh`, which then execs
    /// the agent: the same process).
    pub fn spawn_with_umask(config: &Path, stderr: impl Into<Stdio>, umask: &str) -> Agent {
        let mut command = Command::new("sh");
        command
            .args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\"")])
            .arg(env!("CARGO_BIN_EXE_auth0-ingest"))
            .args(["run", "--config"])
            .arg(config);
        Agent::spawn_command(command, stderr)
    }

    /// Spawns `command` (the agent, however it is started: as another
    /// user, with credentials) with the tests' debug log level.
    pub fn spawn_command(mut command: Command, stderr: impl Into<Stdio>) -> Agent {
        let child = command
            .env("RUST_LOG", "auth0_ingest=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Agent {
            child,
            log: Arc::default(),
            admin_url: None,
        }
    }

    /// The webhook URL from the agent's JSON log (spawned with a piped
    /// stderr and `[log] format = "json"`); stderr keeps being drained on a
    /// thread so the agent never blocks on a full pipe.
    pub fn webhook_url(&mut self) -> String {
        let stderr = self.child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("agent exited before listening")
                .unwrap();
            let Ok(log) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if log["fields"]["message"] == "admin listening" {
                let status = log["fields"]["url"].as_str().unwrap_or_default();
                self.admin_url = status.strip_suffix("/status").map(str::to_owned);
            }
            if log["fields"]["message"] == "webhook listening" {
                break log["fields"]["url"].as_str().unwrap().to_owned();
            }
        };
        let log = Arc::clone(&self.log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                log.lock().unwrap().push(line);
            }
        });
        url
    }

    /// Waits up to `limit` for the agent to exit by itself (else kills it)
    /// and returns its status and stderr.
    pub fn child_output(mut self, limit: Duration) -> std::process::Output {
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() && start.elapsed() < limit {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let mut stderr = Vec::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            std::io::Read::read_to_end(&mut pipe, &mut stderr).unwrap();
        }
        let status = self.child.wait().unwrap();
        std::process::Output {
            status,
            stdout: Vec::new(),
            stderr,
        }
    }

    /// SIGKILL (`Child::kill` on Unix): no shutdown code runs.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM (through the `kill` command: the crate forbids unsafe code
    /// and std has no signal API), then the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Says that a test is skipped where `cargo test` shows it: libtest
/// captures `eprintln!` of a passing test, not a direct write to stderr.
pub fn skipped(why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}
