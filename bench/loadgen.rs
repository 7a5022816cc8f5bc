//! Load generator for the webhook: posts Auth0-like JSON Lines batches
//! (100 events of ~1.5 KB, unique `log_id`s) over TLS on several
//! connections, and reports acknowledged events/s, ack latency p50/p99, and
//! how long the output took to write everything (read from `/metrics`).
//!
//! ```text
//! cargo run --release --example loadgen -- --url https://127.0.0.1:8383/auth0/logs \
//!     --token TOKEN --cacert cert.pem --connections 8 --seconds 10 [--rate 20000] \
//!     [--metrics http://127.0.0.1:8384/metrics]
//! ```
//! `--metrics` is the admin listener's `/metrics` (default: `/metrics` next
//! to `--url`, where agents before the admin listener served it).
//! `--rate` (events/s, total) paces requests to measure latency at a given
//! load; without it every connection posts back to back (throughput).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    token: String,
    cacert: Option<String>,
    connections: usize,
    seconds: f64,
    rate: Option<f64>,
    batch: usize,
    metrics: Option<String>,
}

fn args() -> Args {
    let mut args = Args {
        url: "https://127.0.0.1:8383/auth0/logs".to_owned(),
        token: String::new(),
        cacert: None,
        connections: 8,
        seconds: 10.0,
        rate: None,
        batch: 100,
        metrics: None,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().expect("flag needs a value");
        match flag.as_str() {
            "--url" => args.url = value(),
            "--token" => args.token = value(),
            "--cacert" => args.cacert = Some(value()),
            "--connections" => args.connections = value().parse().unwrap(),
            "--seconds" => args.seconds = value().parse().unwrap(),
            "--rate" => args.rate = Some(value().parse().unwrap()),
            "--batch" => args.batch = value().parse().unwrap(),
            "--metrics" => args.metrics = Some(value()),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// An event of ~1.5 KB with a 56-digit `log_id` placeholder of zeros.
fn template() -> String {
    concat!(
        r#"{"log_id":"90020261121100000000000000000000000000000000000000000000","data":{"date":"2026-11-21T10:00:00.120Z","#,
        r#""type":"s","description":"Successful login","connection":"Username-Password-Authentication","#,
        r#""connection_id":"con_8Yvnh5MjXzA9dXtT","client_id":"aiK1gMAzAQr6YAWzIsJ3tfXeXcBfDNby","client_name":"Demo App","#,
        r#""ip":"81.2.69.143","user_agent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36","#,
        r#""details":{"prompts":[{"name":"prompt-authenticate","completedAt":1763719200100,"connection":"Username-Password-Authentication","#,
        r#""connection_id":"con_8Yvnh5MjXzA9dXtT","strategy":"auth0","identity":"6540f1c2a8b3d4e5f6a7b8c9","stats":{"loginsCount":42},"elapsedTime":900},"#,
        r#"{"name":"login","flow":"universal-login","initiatedAt":1763719199000,"completedAt":1763719200120,"user_id":"auth0|6540f1c2a8b3d4e5f6a7b8c9","#,
        r#""user_name":"alice@example.com","timers":{"rules":12},"elapsedTime":1120}],"initiatedAt":1763719199000,"completedAt":1763719200120,"#,
        r#""elapsedTime":1120,"session_id":"PvnQ0-Mdqy3m2aDRHf8QrN4P","stats":{"loginsCount":42}},"hostname":"tenant.eu.auth0.com","#,
        r#""user_id":"auth0|6540f1c2a8b3d4e5f6a7b8c9","user_name":"alice@example.com","strategy":"auth0","strategy_type":"database","#,
        r#""audience":"https://tenant.eu.auth0.com/userinfo","scope":["openid","profile","email"],"isMobile":false,"#,
        r#""tenant_name":"tenant","environment_name":"prod-eu-1","$event_schema":{"version":"1.0.0"},"#,
        r#""log_id":"90020261121100000000000000000000000000000000000000000000"}}"#
    )
    .to_owned()
}

/// A batch body with ids `first..first+count` written into the template.
fn body(template: &str, first: u64, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity((template.len() + 1) * count);
    for n in first..first + count as u64 {
        let id = format!("900{:014}{:039}", 20261121100000u64, n);
        out.extend_from_slice(
            template
                .replace(
                    "90020261121100000000000000000000000000000000000000000000",
                    &id,
                )
                .as_bytes(),
        );
        out.push(b'\n');
    }
    out
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * fraction).round() as usize]
}

async fn written(client: &reqwest::Client, metrics_url: &str) -> Option<u64> {
    let text = client
        .get(metrics_url)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find(|line| line.starts_with("auth0_ingest_documents_written_total{output=\"file\"}"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::main]
async fn main() {
    let args = args();
    let mut builder = reqwest::Client::builder().pool_max_idle_per_host(args.connections);
    if let Some(path) = &args.cacert {
        let pem = std::fs::read(path).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    let client = builder.build().unwrap();
    let metrics_url = args
        .metrics
        .clone()
        .unwrap_or_else(|| args.url.replace(&url_path(&args.url), "/metrics"));
    let written_before = written(&client, &metrics_url).await.unwrap_or(0);
    let template = Arc::new(template());
    // Unique ids across runs against the same agent: start from the time.
    let base = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
        * 1000;
    let next = Arc::new(AtomicU64::new(0));
    let accepted = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.seconds);
    let interval = args
        .rate
        .map(|rate| Duration::from_secs_f64(args.batch as f64 * args.connections as f64 / rate));
    let mut tasks = Vec::new();
    for connection in 0..args.connections {
        let client = client.clone();
        let (url, token) = (args.url.clone(), args.token.clone());
        let (template, next, accepted, failures, latencies) = (
            Arc::clone(&template),
            Arc::clone(&next),
            Arc::clone(&accepted),
            Arc::clone(&failures),
            Arc::clone(&latencies),
        );
        let batch = args.batch;
        tasks.push(tokio::spawn(async move {
            let mut local = Vec::new();
            if let Some(interval) = interval {
                // Spread the connections over one interval.
                tokio::time::sleep(interval.mul_f64(connection as f64 / 8.0)).await;
            }
            let mut ticker = interval.map(tokio::time::interval);
            while Instant::now() < deadline {
                if let Some(ticker) = &mut ticker {
                    ticker.tick().await;
                }
                let first = base + next.fetch_add(batch as u64, Ordering::Relaxed);
                let payload = body(&template, first, batch);
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .header("Authorization", &token)
                    .body(payload)
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status().is_success() => {
                        let _ = response.bytes().await;
                        local.push(sent.elapsed());
                        accepted.fetch_add(batch as u64, Ordering::Relaxed);
                    }
                    _ => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies.lock().unwrap().extend(local);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let sending = start.elapsed();
    let accepted = accepted.load(Ordering::Relaxed);
    // Wait for the file output to have written everything acknowledged.
    let mut written_all = None;
    if written(&client, &metrics_url).await.is_some() {
        let wait_deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < wait_deadline {
            let written_now = written(&client, &metrics_url).await.unwrap_or(0) - written_before;
            if written_now >= accepted {
                written_all = Some(start.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    println!(
        "{{\"connections\":{},\"rate_target\":{},\"events_acked\":{},\"failed_requests\":{},\"acked_events_per_s\":{:.0},\"written_events_per_s\":{},\"ack_p50_ms\":{:.2},\"ack_p99_ms\":{:.2},\"ack_max_ms\":{:.2}}}",
        args.connections,
        args.rate.map_or("null".to_owned(), |rate| format!("{rate}")),
        accepted,
        failures.load(Ordering::Relaxed),
        accepted as f64 / sending.as_secs_f64(),
        written_all.map_or("null".to_owned(), |elapsed| format!("{:.0}", accepted as f64 / elapsed.as_secs_f64())),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
}

fn url_path(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    without_scheme.find('/').map_or_else(
        || "/".to_owned(),
        |index| without_scheme[index..].to_owned(),
    )
}
