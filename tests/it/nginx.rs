//! A real nginx, configured with the shipped `packaging/nginx-auth0-ingest.conf`
//! (only its certificate, ports and upstream replaced), terminating TLS in
//! front of the built agent's plain-HTTP loopback listener (issue 10).
//!
//! Skipped, with a message, when nginx is not installed (`.ci/run` installs
//! it). The client connects from 127.0.0.2, so the address the agent logs
//! tells the client (127.0.0.2) from nginx (127.0.0.1).

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

use super::support::fake_es::FakeEs;
use super::support::{self, Agent, Tls, TOKEN};

/// Where the real client connects from.
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The agent's body limit in these tests: below nginx's 16m, so the
/// agent's own 413 passes through nginx.
const AGENT_MAX_BODY: usize = 4 * 1024 * 1024;

/// nginx from the PATH or Debian's location.
fn nginx_binary() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"));
    candidates.into_iter().find(|path| path.is_file())
}

/// A running nginx (single process, so killing it leaves no worker).
struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shipped example with test certificates, a free port and `upstream`.
fn example_config(tls: &Tls, port: u16, upstream: u16) -> String {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/nginx-auth0-ingest.conf"),
    )
    .unwrap();
    let replaced = example
        .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{port} ssl;"))
        .replace(
            "/etc/letsencrypt/live/logs.example.com/fullchain.pem",
            &tls.cert.display().to_string(),
        )
        .replace(
            "/etc/letsencrypt/live/logs.example.com/privkey.pem",
            &tls.key.display().to_string(),
        )
        .replace("127.0.0.1:8383", &format!("127.0.0.1:{upstream}"));
    assert_ne!(replaced, example);
    assert!(!replaced.contains(":443") && !replaced.contains("8383"));
    replaced
}

/// Tests `nginx -t` and starts nginx with the example in front of `upstream`.
async fn start_nginx(binary: &Path, dir: &Path, tls: &Tls, upstream: u16) -> Nginx {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = dir.join("auth0-ingest-site.conf");
    std::fs::write(&site, example_config(tls, port, upstream)).unwrap();
    let main = dir.join("nginx.conf");
    let d = dir.display();
    std::fs::write(
        &main,
        format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               include {};\n}}\n",
            site.display()
        ),
    )
    .unwrap();
    let prefix = |command: &mut Command| {
        command
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&main)
            .arg("-e")
            .arg(dir.join("error.log"));
    };
    let mut test = Command::new(binary);
    test.arg("-t");
    prefix(&mut test);
    let tested = test.output().unwrap();
    assert!(
        tested.status.success(),
        "nginx -t failed on the example: {}",
        String::from_utf8_lossy(&tested.stderr)
    );
    let mut run = Command::new(binary);
    prefix(&mut run);
    let child = run
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let nginx = Nginx { child, port };
    let up = support::eventually(Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    assert!(
        up,
        "nginx did not listen: {}",
        log_of(&dir.join("error.log"))
    );
    nginx
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Starts the built agent on plain HTTP (loopback, port 0) with `extra`
/// config; returns it, its port and its log file.
async fn start_agent(dir: &Path, webhook_extra: &str, rest: &str) -> (Agent, u16, PathBuf) {
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[webhook]\nlisten = \"127.0.0.1:0\"\ntokens = [\"{TOKEN}\"]\ntrusted_proxies = [\"127.0.0.1\"]\n\
             {webhook_extra}\n[spool]\ndir = \"{}\"\n{rest}\n[enrich]\nuser_agent = \"off\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
            dir.join("spool").display()
        ),
    )
    .unwrap();
    let log = dir.join("agent.log");
    let agent = Agent::spawn(&config, File::create(&log).unwrap());
    let mut port = None;
    let listening = support::eventually(Duration::from_secs(30), || {
        port = listening_port(&log_of(&log));
        port.is_some()
    })
    .await;
    assert!(listening, "agent did not start: {}", log_of(&log));
    (agent, port.unwrap_or_default(), log)
}

/// The port in the agent's `webhook listening` line.
fn listening_port(log: &str) -> Option<u16> {
    let line = log
        .lines()
        .find(|line| line.contains("webhook listening"))?;
    let rest = line.split("http://127.0.0.1:").nth(1)?;
    rest.split('/').next()?.parse().ok()
}

/// An HTTPS client trusting the test certificate, connecting from `CLIENT`.
fn client(tls: &Tls) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(tls.cert_pem.as_bytes()).unwrap())
        .local_address(CLIENT)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The agent's `warn` lines about refused requests.
fn refusals(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter(|line| line.contains("webhook request refused"))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Waits up to 10 s for the agent to log a refused request answered
/// `status`; returns every refusal logged by then.
async fn refused(log: &Path, status: u16) -> Vec<serde_json::Value> {
    let logged = support::eventually(Duration::from_secs(10), || {
        refusals(&log_of(log))
            .iter()
            .any(|line| line["fields"]["status"] == status)
    })
    .await;
    assert!(logged, "{}", log_of(log));
    refusals(&log_of(log))
}

/// A JSON Lines body of exactly `size` bytes of valid events (the last one
/// padded with JSON whitespace inside its object).
fn body_of_size(size: usize) -> String {
    let mut events = Vec::new();
    let mut length = 0;
    loop {
        // Ids past the sample batch's (1 to 3), which the output would
        // drop as duplicates.
        let event = support::event(&support::log_id(1000 + events.len()));
        if length + event.len() + 1 > size {
            break;
        }
        length += event.len() + 1;
        events.push(event);
    }
    let padding = " ".repeat(size - length);
    if let Some(last) = events.last_mut() {
        last.insert_str(1, &padding);
    }
    let body = events.join("\n") + "\n";
    assert_eq!(body.len(), size);
    body
}

#[tokio::test]
async fn r10_nginx_in_front_passes_batches_statuses_and_the_client_address() {
    let Some(binary) = nginx_binary() else {
        support::skipped("nginx is not installed (.ci/run installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tls = support::tls_files(dir.path());
    let out = dir.path().join("out");
    let (_agent, upstream, log) = start_agent(
        dir.path(),
        &format!("max_body_bytes = \"{AGENT_MAX_BODY}B\""),
        &format!("[output.file]\ndir = \"{}\"", out.display()),
    )
    .await;
    let nginx = start_nginx(&binary, dir.path(), &tls, upstream).await;
    let url = format!("https://127.0.0.1:{}/auth0/logs", nginx.port);
    let client = client(&tls);

    // The sample batch: 200 and its documents.
    let sample =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/sample-batch.jsonl"))
            .unwrap();
    let response = support::post(&client, &url, sample).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.unwrap().trim(),
        r#"{"accepted":3,"rejected":0}"#
    );
    assert!(
        support::eventually(Duration::from_secs(10), || support::documents(&out).len()
            == 3)
        .await
    );

    // 401 passes through; the agent logs the real client, not nginx and
    // not the address the client claims.
    let response = client
        .post(&url)
        .header("Authorization", "wrong")
        .header("X-Forwarded-For", "203.0.113.9")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let logged = refused(&log, 401).await;
    assert_eq!(logged[0]["fields"]["client"], "127.0.0.2", "{logged:?}");
    assert_eq!(logged[0]["fields"]["status"], 401);
    assert_eq!(logged[0]["level"], "WARN");

    // Straight to the agent from an untrusted peer, X-Forwarded-For is
    // ignored: the peer is the client.
    let response = reqwest::Client::builder()
        .local_address(CLIENT)
        .build()
        .unwrap()
        .post(format!("http://127.0.0.1:{upstream}/auth0/logs"))
        .header("Authorization", TOKEN)
        .header("X-Forwarded-For", "203.0.113.9")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let logged = refused(&log, 400).await;
    let direct = logged
        .iter()
        .find(|line| line["fields"]["status"] == 400)
        .unwrap();
    assert_eq!(direct["fields"]["client"], "127.0.0.2", "{logged:?}");
    // A body of exactly max_body_bytes is accepted; one byte more is the
    // agent's 413 through nginx; beyond nginx's 16m, nginx's own 413.
    let body = body_of_size(AGENT_MAX_BODY);
    let events = body.lines().count();
    let response = support::post(&client, &url, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.text().await.unwrap().trim(),
        format!(r#"{{"accepted":{events},"rejected":0}}"#)
    );
    // The agent's own 413 for a gzip body that decompresses past its limit
    // (read whole, so nginx relays the answer). A plain body past the
    // agent's limit but within nginx's would be answered before it is read,
    // and nginx would turn the early close into a 502: the example sets
    // client_max_body_size to the agent's default limit so that nginx
    // answers those itself.
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gzip, &vec![b' '; AGENT_MAX_BODY + 1]).unwrap();
    let response = client
        .post(&url)
        .header("Authorization", TOKEN)
        .header("Content-Encoding", "gzip")
        .body(gzip.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.text().await.unwrap(), "body too large\n");
    let response = support::post(&client, &url, vec![b' '; 16 * 1024 * 1024 + 1]).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let delivered = support::eventually(Duration::from_secs(10), || {
        support::documents(&out).len() == 3 + events
    })
    .await;
    assert!(
        delivered,
        "{} documents, {events} events: {}",
        support::documents(&out).len(),
        log_of(&log)
    );

    assert!(!log_of(&log).contains("203.0.113.9"));
}

#[tokio::test]
async fn r10_nginx_passes_503_and_retry_after_from_a_full_spool() {
    let Some(binary) = nginx_binary() else {
        support::skipped("nginx is not installed (.ci/run installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tls = support::tls_files(dir.path());
    // Elasticsearch that holds every bulk request: nothing is acknowledged,
    // so the spool fills.
    let es = FakeEs::start().await;
    es.state.lock().unwrap().delay = Duration::from_secs(300);
    let (_agent, upstream, log) = start_agent(
        dir.path(),
        "retry_after = \"7s\"",
        &format!(
            "max_bytes = \"64KiB\"\n[output.elasticsearch]\nhosts = [\"{}\"]\nflush_interval = \"20ms\"",
            es.url()
        ),
    )
    .await;
    let nginx = start_nginx(&binary, dir.path(), &tls, upstream).await;
    let url = format!("https://127.0.0.1:{}/auth0/logs", nginx.port);
    let client = client(&tls);
    // ~90 KB: more than max_bytes, taken only because the spool is empty.
    let body = support::batch(0, 60);
    let response = support::post(&client, &url, body.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = support::post(&client, &url, body).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "7");
    let logged = refused(&log, 503).await;
    assert_eq!(logged[0]["fields"]["client"], "127.0.0.2", "{logged:?}");
    // The start-up line names the Elasticsearch URLs, not a count.
    assert!(
        log_of(&log).contains(&format!("\"hosts\":\"{}/\"", es.url())),
        "{}",
        log_of(&log)
    );
}
