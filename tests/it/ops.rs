//! Operations (issue 9): the admin listener (`/healthz`, `/readyz`,
//! `/metrics`, `/status`, `POST /replay`), the `status` and `replay`
//! commands, SIGHUP reloads, and the logs of a failing output. The process
//! tests run the built binary against the in-test Elasticsearch fake.

// Test code: helpers are not `#[test]` functions, so clippy's
// `allow-unwrap-in-tests` does not cover them.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth0_ingest::app::App;
use auth0_ingest::config::Config;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::fake_es::FakeEs;
use super::support::{self, free_port, Agent, TOKEN};

const INDEX: &str = "logs-auth0.logs-default";

/// `GET http://<admin><path>` with an optional token: (status, content type, body).
async fn get(admin: SocketAddr, path: &str, token: Option<&str>) -> (u16, String, String) {
    let client = reqwest::Client::new();
    let mut request = client.get(format!("http://{admin}{path}"));
    if let Some(token) = token {
        request = request.header("authorization", token);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (
                status,
                content_type,
                response.text().await.unwrap_or_default(),
            )
        }
        Err(_) => (0, String::new(), String::new()),
    }
}

/// Waits up to 20 s for the admin listener on `admin` to answer `/healthz`.
async fn wait_admin(admin: SocketAddr) {
    support::wait_until_async(Duration::from_secs(20), "the admin listener", async || {
        get(admin, "/healthz", None).await.0 == 200
    })
    .await;
}

/// Waits until `/metrics` on `admin` shows no backlog and `output` up.
async fn wait_drained(admin: SocketAddr, output: &str, limit: Duration, what: &str) {
    let up = format!("auth0_ingest_output_up{{output=\"{output}\"}}");
    support::wait_until_async(limit, what, async || {
        let (_, _, text) = get(admin, "/metrics", None).await;
        sample(&text, "auth0_ingest_spool_backlog_events") == Some(0.0)
            && sample(&text, &up) == Some(1.0)
    })
    .await;
}

async fn status_json(admin: SocketAddr, token: Option<&str>) -> Value {
    let (code, _, body) = get(admin, "/status", token).await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// The value of the sample `series` (name with labels) in a `/metrics` text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Runs `auth0-ingest <args>` to completion.
fn command(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ids(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{prefix}{n:06}")).collect()
}

fn body(ids: &[String]) -> String {
    ids.iter().map(|id| support::event(id) + "\n").collect()
}

/// A plain-HTTP webhook, an admin listener and the Elasticsearch output.
fn es_config(
    dir: &Path,
    webhook: SocketAddr,
    admin: SocketAddr,
    es_url: &str,
    extra: &str,
) -> PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "[webhook]\nlisten = \"{webhook}\"\ntokens = [\"{TOKEN}\"]\n\
             [spool]\ndir = \"{spool}\"\n\
             [output.elasticsearch]\nhosts = [\"{es_url}\"]\nflush_interval = \"20ms\"\n\
             [admin]\nlisten = \"{admin}\"\n{extra}",
            spool = dir.join("spool").display(),
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_serves_probes_metrics_and_status_and_the_webhook_no_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let tls = support::tls_files(dir.path());
    let text = support::config_text(dir.path(), &tls, "");
    let app = App::start(Config::from_toml(&text, dir.path()).unwrap())
        .await
        .unwrap();
    let webhook = format!("https://127.0.0.1:{}", app.webhook_addr().unwrap().port());
    let admin = app.admin_addr().unwrap();
    let client = support::client(&tls.cert_pem);
    let answer = support::post(
        &client,
        &format!("{webhook}/auth0/logs"),
        support::batch(0, 5),
    )
    .await;
    assert_eq!(answer.status(), 200);

    // The webhook keeps POST and /healthz; /metrics moved off it.
    for (path, expected) in [("/metrics", 404), ("/healthz", 200)] {
        let response = client.get(format!("{webhook}{path}")).send().await.unwrap();
        assert_eq!(response.status(), expected, "{path}");
    }

    assert_eq!(get(admin, "/healthz", None).await.0, 200);
    assert_eq!(get(admin, "/readyz", None).await.0, 200);
    let (code, content_type, text) = get(admin, "/metrics", None).await;
    assert_eq!(code, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(
        sample(
            &text,
            "auth0_ingest_events_received_total{input=\"webhook\"}"
        ),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "auth0_ingest_webhook_request_duration_seconds_count"),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("auth0_ingest_build_info{version=\""),
        "{text}"
    );
    wait_drained(
        admin,
        "file",
        Duration::from_secs(20),
        "the file output to deliver",
    )
    .await;

    let status = status_json(admin, None).await;
    assert_eq!(status["status"], "ok", "{status}");
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert!(status["started_at"].is_string());
    assert_eq!(status["inputs"]["webhook"]["requests"]["ok"], 1);
    assert!(status["inputs"]["webhook"]["last_accepted_at"].is_string());
    assert!(status["inputs"].get("poller").is_none());
    assert_eq!(status["spool"]["backlog_events"], 0);
    assert_eq!(status["spool"]["max_bytes"], 1024 * 1024 * 1024);
    assert_eq!(status["outputs"]["file"]["reachable"], true);
    assert!(status["outputs"]["file"]["last_success_at"].is_string());
    assert_eq!(status["dead_letters"]["count"], 0);
    assert_eq!(status["errors"], serde_json::json!([]));
    assert_eq!(get(admin, "/nope", None).await.0, 404);
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poller_only_agent_has_the_admin_listener_and_reports_the_poller() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "s\n").unwrap();
    // Nothing listens there: every poll fails.
    let tenant = free_port();
    let text = format!(
        "[poller]\nurl = \"http://{tenant}\"\nclient_id = \"c\"\nclient_secret_file = \"secret\"\n\
         interval = \"100ms\"\nrequest_timeout = \"2s\"\n\
         [spool]\ndir = \"spool\"\n[output.file]\ndir = \"out\"\n[admin]\nlisten = \"127.0.0.1:0\"\n"
    );
    let app = App::start(Config::from_toml(&text, dir.path()).unwrap())
        .await
        .unwrap();
    assert_eq!(app.webhook_addr(), None);
    let admin = app.admin_addr().unwrap();
    assert_eq!(get(admin, "/healthz", None).await.0, 200);
    support::wait_until_async(
        Duration::from_secs(20),
        "the poller's error in /status",
        async || {
            let status = status_json(admin, None).await;
            status["inputs"]["poller"]["last_error"]["message"].is_string()
        },
    )
    .await;
    let status = status_json(admin, None).await;
    assert_eq!(status["status"], "degraded", "{status}");
    assert!(
        status["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("poller is retrying"),
        "{status}"
    );
    assert_eq!(status["errors"][0]["component"], "poller", "{status}");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backlog_gauges_and_status_equal_the_real_backlog_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    fake.down();
    let (webhook, admin) = (free_port(), free_port());
    let config = es_config(dir.path(), webhook, admin, &fake.url(), "");
    let agent = Agent::spawn(&config, Stdio::null());
    let batch = ids("9002026120109000000000000000000000000000000000", 60);
    support::wait_until_async(
        Duration::from_secs(20),
        "the agent to take events",
        async || {
            support::post_plain(&reqwest::Client::new(), webhook, body(&batch[..20])).await == 200
        },
    )
    .await;
    assert_eq!(
        support::post_plain(&reqwest::Client::new(), webhook, body(&batch[20..])).await,
        200
    );
    let check = async |when: &str| {
        let (_, _, text) = get(admin, "/metrics", None).await;
        assert_eq!(
            sample(&text, "auth0_ingest_spool_backlog_events"),
            Some(60.0),
            "{when}: {text}"
        );
        let bytes = sample(&text, "auth0_ingest_spool_backlog_bytes").unwrap();
        assert!(bytes > 60.0 * 500.0, "{when}: {text}");
        assert_eq!(
            sample(&text, "auth0_ingest_spool_max_bytes"),
            Some(1024.0 * 1024.0 * 1024.0)
        );
        assert!(sample(&text, "auth0_ingest_spool_oldest_unacked_age_seconds").unwrap() >= 0.0);
        let status = status_json(admin, None).await;
        assert_eq!(status["spool"]["backlog_events"], 60, "{when}: {status}");
        assert!(status["spool"]["oldest_unacked_at"].is_string(), "{status}");
    };
    check("before the restart").await;
    assert!(agent.terminate().success());

    let agent = Agent::spawn(&config, Stdio::null());
    wait_admin(admin).await;
    check("after the restart").await;
    let (_, _, text) = get(admin, "/metrics", None).await;
    // What the README used to suggest (received − acked) is 0 − 0 now.
    assert_eq!(
        sample(
            &text,
            "auth0_ingest_events_received_total{input=\"webhook\"}"
        ),
        Some(0.0)
    );

    fake.up().await;
    wait_drained(
        admin,
        "elasticsearch",
        Duration::from_secs(30),
        "the backlog to drain",
    )
    .await;
    assert_eq!(fake.count(INDEX), 60);
    drop(agent);
}

/// What `auth0-ingest status` printed and its exit code.
fn status_command(config: &Path) -> (i32, String) {
    let output = command(&["status", "--config", config.to_str().unwrap()]);
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr),
    )
}

/// Runs `auth0-ingest status` until it exits `code` (within `limit`);
/// returns what it printed then.
async fn wait_status_command(config: &Path, limit: Duration, what: &str, code: i32) -> String {
    let mut printed = String::new();
    support::wait_until_async(limit, what, async || {
        let (exit, text) = status_command(config);
        printed = text;
        exit == code
    })
    .await;
    printed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_elasticsearch_outage_goes_degraded_then_failing_warns_once_a_minute_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    let (webhook, admin) = (free_port(), free_port());
    let config = es_config(
        dir.path(),
        webhook,
        admin,
        &fake.url(),
        "failing_after = \"20s\"\n",
    );
    let log = dir.path().join("agent.log");
    let agent = Agent::spawn(&config, std::fs::File::create(&log).unwrap());
    let batch = ids("9002026120110000000000000000000000000000000000", 20);
    support::wait_until_async(
        Duration::from_secs(20),
        "the agent to take events",
        async || {
            support::post_plain(&reqwest::Client::new(), webhook, body(&batch[..10])).await == 200
        },
    )
    .await;
    support::wait_until_async(
        Duration::from_secs(20),
        "the first events indexed",
        async || fake.count(INDEX) == 10,
    )
    .await;
    let (code, ok) = status_command(&config);
    assert_eq!(code, 0, "{ok}");

    let outage = Instant::now();
    fake.down();
    assert_eq!(
        support::post_plain(&reqwest::Client::new(), webhook, body(&batch[10..])).await,
        200
    );
    let degraded =
        wait_status_command(&config, Duration::from_secs(15), "status degraded", 1).await;
    assert!(
        degraded.contains("output elasticsearch: DOWN"),
        "{degraded}"
    );
    assert_eq!(
        get(admin, "/readyz", None).await.0,
        200,
        "the spool still takes events"
    );
    let failing = wait_status_command(&config, Duration::from_secs(40), "status failing", 2).await;
    assert!(outage.elapsed() >= Duration::from_secs(20));
    assert!(failing.contains("has not succeeded for"), "{failing}");
    assert!(failing.contains("10 events waiting"), "{failing}");
    let status = status_json(admin, None).await;
    assert_eq!(status["outputs"]["elasticsearch"]["reachable"], false);
    assert!(status["outputs"]["elasticsearch"]["last_error"]["message"].is_string());
    assert_eq!(
        status["errors"][0]["component"], "elasticsearch",
        "{status}"
    );

    let remaining = Duration::from_secs(90).saturating_sub(outage.elapsed());
    tokio::time::sleep(remaining).await;
    fake.up().await;
    let recovered =
        wait_status_command(&config, Duration::from_secs(60), "status ok again", 0).await;
    assert_eq!(fake.count(INDEX), 20);
    assert!(agent.terminate().success());
    println!("--- ok ---\n{ok}--- degraded ---\n{degraded}--- failing ---\n{failing}--- ok again ---\n{recovered}");

    let lines = std::fs::read_to_string(&log).unwrap();
    let warns: Vec<Value> = lines
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["message"] == "output is failing; events wait in the spool")
        .collect();
    // 90 s down: a WARN at the start of the outage and one a minute later.
    assert!((1..=2).contains(&warns.len()), "{warns:?}");
    for warn in &warns {
        assert_eq!(warn["level"], "WARN");
        assert_eq!(warn["fields"]["backlog_events"], 10, "{warn}");
        assert!(
            warn["fields"]["error"].as_str().unwrap().len() > 3,
            "{warn}"
        );
    }
    let recovery: Vec<&str> = lines
        .lines()
        .filter(|line| line.contains("output recovered"))
        .collect();
    assert_eq!(recovery.len(), 1, "{lines}");
    assert!(recovery[0].contains("down_for"), "{}", recovery[0]);

    // The errors survive a restart.
    let agent = Agent::spawn(&config, Stdio::null());
    wait_admin(admin).await;
    let status = status_json(admin, None).await;
    assert_eq!(
        status["errors"][0]["component"], "elasticsearch",
        "{status}"
    );
    assert_eq!(status["status"], "ok");
    drop(agent);
    // Unreachable: exit 3.
    let (code, text) = status_command(&config);
    assert_eq!(code, 3, "{text}");
}

/// A TLS connection to `addr` trusting `certificates`; returns the stream.
async fn tls_connect(
    addr: SocketAddr,
    certificates: &[&Path],
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates {
        for der in rustls::pki_types::CertificateDer::pem_file_iter(certificate).unwrap() {
            roots.add(der.unwrap()).unwrap();
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    connector
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// The certificate the server presented on `stream`.
fn presented(stream: &tokio_rustls::client::TlsStream<tokio::net::TcpStream>) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// One keep-alive HTTP/1.1 POST on `stream`; the status code.
async fn post_on(
    stream: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    token: &str,
    body: &str,
) -> u16 {
    let request = format!(
        "POST /auth0/logs HTTP/1.1\r\nHost: localhost\r\nAuthorization: {token}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "connection closed");
        response.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&response).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|value| value.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if response.len() >= end + 4 + length {
                return text[9..12].parse().unwrap();
            }
        }
    }
}

fn sighup(agent: &Agent) {
    let pid = agent.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
}

async fn wait_reloads(admin: SocketAddr, token: &str, result: &str, count: f64) {
    let series = format!("auth0_ingest_reloads_total{{result=\"{result}\"}}");
    support::wait_until_async(Duration::from_secs(20), &series, async || {
        let (_, _, text) = get(admin, "/metrics", Some(token)).await;
        sample(&text, &series) == Some(count)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_renews_the_certificate_rotates_tokens_and_keeps_connections() {
    let dir = tempfile::tempdir().unwrap();
    let first = support::tls_files(dir.path());
    let old_cert = dir.path().join("old-cert.pem");
    std::fs::copy(&first.cert, &old_cert).unwrap();
    let (webhook, admin) = (free_port(), free_port());
    std::fs::write(dir.path().join("tokens"), "token-one\n").unwrap();
    std::fs::write(dir.path().join("admin-tokens"), "admin-one\n").unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[webhook]\nlisten = \"{webhook}\"\ntokens_file = \"tokens\"\n\
             [webhook.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n\
             [spool]\ndir = \"spool\"\n[output.file]\ndir = \"out\"\n\
             [admin]\nlisten = \"{admin}\"\ntokens_file = \"admin-tokens\"\n"
        ),
    )
    .unwrap();
    let log = dir.path().join("agent.log");
    let agent = Agent::spawn(&config, std::fs::File::create(&log).unwrap());
    wait_admin(admin).await;
    assert_eq!(
        get(admin, "/metrics", None).await.0,
        401,
        "the admin token is required"
    );
    let mut kept = tls_connect(webhook, &[&old_cert]).await;
    let old_der = presented(&kept);
    assert_eq!(
        post_on(&mut kept, "token-one", &support::batch(0, 1)).await,
        200
    );

    // Renew the certificate, rotate both token files, SIGHUP.
    let renewed_dir = dir.path().join("renewed");
    std::fs::create_dir(&renewed_dir).unwrap();
    let renewed = support::tls_files(&renewed_dir);
    std::fs::copy(&renewed.cert, &first.cert).unwrap();
    std::fs::copy(&renewed.key, &first.key).unwrap();
    std::fs::write(dir.path().join("tokens"), "token-two\n").unwrap();
    std::fs::write(dir.path().join("admin-tokens"), "admin-two\n").unwrap();
    sighup(&agent);
    wait_reloads(admin, "admin-two", "success", 1.0).await;
    assert_eq!(get(admin, "/metrics", Some("admin-one")).await.0, 401);

    let fresh = tls_connect(webhook, &[&old_cert, &renewed.cert]).await;
    let new_der = presented(&fresh);
    assert_ne!(
        new_der, old_der,
        "a new handshake sees the renewed certificate"
    );
    assert_eq!(
        new_der,
        presented(&tls_connect(webhook, &[&renewed.cert]).await)
    );
    // The connection made before the reload still serves, with the new tokens.
    assert_eq!(
        post_on(&mut kept, "token-two", &support::batch(1, 1)).await,
        200
    );

    // A broken certificate: the renewed one is kept, the error is reported.
    std::fs::write(&first.cert, "-----BEGIN CERTIFICATE-----\nbroken\n").unwrap();
    sighup(&agent);
    wait_reloads(admin, "admin-two", "failure", 1.0).await;
    let after = tls_connect(webhook, &[&renewed.cert]).await;
    assert_eq!(
        presented(&after),
        new_der,
        "the running certificate is kept"
    );
    let status = status_json(admin, Some("admin-two")).await;
    let errors = status["errors"].as_array().unwrap();
    let reload = errors
        .iter()
        .find(|error| error["component"] == "reload")
        .unwrap();
    assert!(
        reload["message"].as_str().unwrap().contains("cert.pem"),
        "{reload}"
    );
    assert_eq!(
        post_on(&mut kept, "token-two", &support::batch(3, 1)).await,
        200
    );
    // The old token is refused. The refusal leaves its body unread, so
    // the connection closes after it (a lingering close): this goes last.
    assert_eq!(
        post_on(&mut kept, "token-one", &support::batch(2, 1)).await,
        401
    );

    let mut agent = agent;
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "SIGHUP does not end the agent"
    );
    let status = agent.terminate();
    assert!(status.success(), "{status:?}");
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(
        !lines.contains("token-two") && !lines.contains("admin-two"),
        "no token in the log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_of_dead_letters_after_the_cause_is_fixed_lands_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    fake.state.lock().unwrap().reject_containing = Some("poison".to_owned());
    let (webhook, admin) = (free_port(), free_port());
    let config = es_config(dir.path(), webhook, admin, &fake.url(), "");
    let agent = Agent::spawn(&config, Stdio::null());
    let good = ids("9002026120111000000000000000000000000000000000", 7);
    let poison = ids("9002026120111000000000000000000000000000poison", 3);
    let all: Vec<String> = good.iter().chain(&poison).cloned().collect();
    support::wait_until_async(
        Duration::from_secs(20),
        "the agent to take events",
        async || support::post_plain(&reqwest::Client::new(), webhook, body(&all)).await == 200,
    )
    .await;
    let dead_letters = dir.path().join("spool/dead-letter.ndjson");
    support::wait_until_async(Duration::from_secs(20), "three dead letters", async || {
        std::fs::read_to_string(&dead_letters).is_ok_and(|text| text.lines().count() == 3)
    })
    .await;
    assert_eq!(fake.count(INDEX), 7);
    assert_eq!(status_json(admin, None).await["dead_letters"]["count"], 3);

    // The cause is fixed; replay.
    fake.state.lock().unwrap().reject_containing = None;
    let output = command(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        dead_letters.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(": 3 accepted, 0 rejected; moved to "),
        "{stdout}"
    );
    support::wait_until_async(Duration::from_secs(20), "every event indexed", async || {
        fake.count(INDEX) == 10
    })
    .await;
    support::wait_until_async(Duration::from_secs(20), "the backlog drained", async || {
        status_json(admin, None).await["spool"]["backlog_events"] == 0
    })
    .await;
    {
        let state = fake.state.lock().unwrap();
        for id in &poison {
            assert_eq!(state.attempts[id], 2, "refused once, then created once");
        }
        for id in &good {
            assert_eq!(state.attempts[id], 1);
        }
        assert_eq!(state.conflicts, 0);
    }
    // Moved aside, never deleted; no new dead letters.
    let moved: Vec<PathBuf> = std::fs::read_dir(dir.path().join("spool"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.to_string_lossy()
                .contains("dead-letter.ndjson.replayed-")
        })
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(
        std::fs::read_to_string(&moved[0]).unwrap().lines().count(),
        3
    );
    assert!(std::fs::read_to_string(&dead_letters).map_or(true, |text| text.is_empty()));
    let (_, _, text) = get(admin, "/metrics", None).await;
    assert_eq!(
        sample(
            &text,
            "auth0_ingest_events_received_total{input=\"replay\"}"
        ),
        Some(3.0)
    );
    drop(agent);
}

#[test]
fn status_without_an_agent_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    let mut file = std::fs::File::create(&config).unwrap();
    writeln!(file, "[admin]\nlisten = \"{}\"", free_port()).unwrap();
    let output = command(&["status", "--config", config.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot reach the agent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spool_at_ninety_percent_fails_readyz_and_status() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: the output never drains the spool.
    let es = free_port();
    let text = format!(
        "[webhook]\nlisten = \"127.0.0.1:0\"\ntokens = [\"{TOKEN}\"]\n\
         [spool]\ndir = \"spool\"\nmax_bytes = \"64KiB\"\n\
         [output.elasticsearch]\nhosts = [\"http://{es}\"]\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n"
    );
    let app = App::start(Config::from_toml(&text, dir.path()).unwrap())
        .await
        .unwrap();
    let (webhook, admin) = (app.webhook_addr().unwrap(), app.admin_addr().unwrap());
    assert_eq!(get(admin, "/readyz", None).await.0, 200);
    let mut posted = 0;
    while support::post_plain(&reqwest::Client::new(), webhook, support::batch(posted, 1)).await
        == 200
    {
        posted += 1;
        assert!(posted < 200, "the spool never filled");
    }
    let (code, _, body) = get(admin, "/readyz", None).await;
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("% full"), "{body}");
    let status = status_json(admin, None).await;
    assert_eq!(status["status"], "failing", "{status}");
    assert_eq!(status["spool"]["backlog_events"], posted);
    assert!(
        status["reasons"][0].as_str().unwrap().contains("% full"),
        "{status}"
    );
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_gets_ready_status_watchdog_and_reloading() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let admin = free_port();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[webhook]\nlisten = \"127.0.0.1:0\"\nallow_unauthenticated = true\n[spool]\ndir = \"spool\"\n[output.file]\ndir = \"out\"\n\
             [admin]\nlisten = \"{admin}\"\n"
        ),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "2000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let agent = Agent {
        child,
        log: Default::default(),
        admin_url: None,
    };
    let receive = |until: &str| -> Vec<String> {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 512];
        loop {
            let length = socket.recv(&mut buffer).expect(until);
            let message = String::from_utf8_lossy(&buffer[..length]).into_owned();
            let done = message.starts_with(until);
            seen.push(message);
            if done {
                return seen;
            }
        }
    };
    receive("READY=1");
    let status = receive("STATUS=");
    assert_eq!(
        status.last().unwrap(),
        "STATUS=ok, 0 events/min, backlog 0",
        "{status:?}"
    );
    // Pings at least every half interval (1 s).
    let started = Instant::now();
    receive("WATCHDOG=1");
    receive("WATCHDOG=1");
    assert!(started.elapsed() < Duration::from_secs(3));
    sighup(&agent);
    let reload = receive("READY=1");
    assert!(
        reload.iter().any(|message| message == "RELOADING=1"),
        "{reload:?}"
    );
    assert!(agent.terminate().success());
    let stopping = receive("STOPPING=1");
    assert!(!stopping.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_takes_webhook_bodies_and_reports_items_rejected_again() {
    let dir = tempfile::tempdir().unwrap();
    let tls = support::tls_files(dir.path());
    let text = support::config_text(dir.path(), &tls, "");
    let app = App::start(Config::from_toml(&text, dir.path()).unwrap())
        .await
        .unwrap();
    let admin = app.admin_addr().unwrap();
    let config = dir.path().join("replay.toml");
    std::fs::write(&config, format!("[admin]\nlisten = \"{admin}\"\n")).unwrap();

    // Any body the webhook accepts, posted whole.
    let body = dir.path().join("body.jsonl");
    std::fs::write(&body, support::batch(0, 4)).unwrap();
    // A dead-letter file (not the agent's) whose second item is still not JSON.
    let old = dir.path().join("old-dead-letters.ndjson");
    let mut lines = Vec::new();
    let now = time::OffsetDateTime::now_utc();
    let input = auth0_ingest::event::Input::Webhook;
    let stage = auth0_ingest::spool::dead_letter::Stage::Pipeline;
    auth0_ingest::spool::dead_letter::encode(
        &mut lines,
        now,
        input,
        stage,
        "x",
        support::event(&support::log_id(4)).as_bytes(),
    );
    auth0_ingest::spool::dead_letter::encode(&mut lines, now, input, stage, "x", b"{still broken");
    std::fs::write(&old, lines).unwrap();
    let output = command(&[
        "replay",
        "--config",
        config.to_str().unwrap(),
        body.to_str().unwrap(),
        old.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("body.jsonl: 4 accepted, 0 rejected\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("old-dead-letters.ndjson: 1 accepted, 1 rejected\n"),
        "{stdout}"
    );
    assert!(
        std::fs::metadata(&old).is_ok(),
        "only the live dead-letter.ndjson is moved"
    );
    let dead = std::fs::read_to_string(dir.path().join("spool/dead-letter.ndjson")).unwrap();
    assert!(dead.contains("still broken"), "{dead}");
    assert!(
        support::eventually(Duration::from_secs(20), || {
            support::documents(&dir.path().join("out")).len() == 5
        })
        .await,
        "the five events written"
    );

    let output = command(&["status", "--config", config.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["dead_letters"]["count"], 1);
    app.stop().await.unwrap();
}
