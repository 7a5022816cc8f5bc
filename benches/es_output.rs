//! Elasticsearch output benchmark (plain harness, `cargo bench --bench es_output`).
//!
//! 1. `bulk body`: CPU per document to build bulk NDJSON bodies (1000
//!    documents of ~600 bytes, as the pipeline makes them).
//! 2. `bulk response`: CPU per document to read an all-`201` response.
//! 3. `pipeline`: the pipeline's own rate on one core, for comparison.
//! 4. `spool → ES`: a spool filled with N events, then the agent started
//!    with the Elasticsearch output pointed at a fake that answers at once;
//!    documents/s until every record is acknowledged, and process CPU per
//!    document (the fake's share included).
//!
//! 5. `compression`: steps 4 for Elasticsearch and Datadog (both formats)
//!    with `compression = "gzip"` and `"none"`: documents/s and body bytes
//!    on the wire.
//!
//!    `BENCH_ONLY=compression` runs this step alone; its events are varied
//!    (IPs, users, sessions, times) so that gzip is not flattered.
//!
//! Each figure is the median of several runs. `BENCH_EVENTS` sets N
//! (default 200000); `BENCH_ES_URL` sends step 4 to that server instead of
//! the fake (a local test server only: each run writes N documents to
//! `logs-auth0.logs-bench<run>`).

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth0_ingest::app::App;
use auth0_ingest::config::Config;
use auth0_ingest::event::{Document, Input, RawEvent};
use auth0_ingest::outputs::elasticsearch::{bulk, response};
use auth0_ingest::pipeline::{self, Pipeline};
use auth0_ingest::spool::{self, Append};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use time::OffsetDateTime;

fn events(count: usize) -> Vec<Vec<u8>> {
    let sample = include_str!("../packaging/sample-batch.jsonl");
    let lines: Vec<&str> = sample.lines().filter(|line| !line.is_empty()).collect();
    (0..count)
        .map(|n| {
            let line = lines[n % lines.len()];
            let id = format!("900202611211{n:044}");
            let start = line.find("\"log_id\":\"").unwrap() + 10;
            let end = start + line[start..].find('"').unwrap();
            format!("{}{id}{}", &line[..start], &line[end..])
                .replace(&line[start..end], &id)
                .into_bytes()
        })
        .collect()
}

/// `events(count)` with what differs between real events made to differ:
/// IPs, user ids and names, session ids, times (dated now, so none is
/// stale for Datadog). Identical copies would make gzip look far better
/// than it is on a real stream.
fn varied_events(count: usize) -> Vec<Vec<u8>> {
    let now = OffsetDateTime::now_utc();
    events(count)
        .into_iter()
        .enumerate()
        .map(|(n, bytes)| {
            let mut text = String::from_utf8(bytes).unwrap();
            let mut state = n as u64;
            let mut next = || {
                // splitmix64: cheap, deterministic, well spread.
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^ (z >> 31)
            };
            let ip = next().to_le_bytes();
            let ip = format!("{}.{}.{}.{}", ip[0], ip[1], ip[2], ip[3]);
            text = text
                .replace("81.2.69.143", &ip)
                .replace("35.167.74.121", &ip);
            text = text.replace(
                "6540f1c2a8b3d4e5f6a7b8c9",
                &format!("{:016x}{:08x}", next(), next() as u32),
            );
            text = text.replace(
                "alice@example.com",
                &format!("user{}@example.com", next() % 1_000_000),
            );
            text = text.replace(
                "PvnQ0-Mdqy3m2aDRHf8QrN4P",
                &format!(
                    "{:024x}",
                    u128::from(next()) << 32 | u128::from(next() as u32)
                ),
            );
            let date = (now - time::Duration::milliseconds(n as i64 * 7))
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap();
            let start = text.find("\"date\":\"").unwrap() + 8;
            let end = start + text[start..].find('"').unwrap();
            text.replace_range(start..end, &date);
            text.into_bytes()
        })
        .collect()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn documents(count: usize) -> Vec<Document> {
    let pipeline = Pipeline::new(
        pipeline::Config::defaults(),
        auth0_ingest::pipeline::enrich::Enrichers::none(),
    );
    events(count)
        .into_iter()
        .map(|bytes| {
            pipeline
                .process(&RawEvent {
                    input: Input::Webhook,
                    received_at: OffsetDateTime::now_utc(),
                    bytes: Bytes::from(bytes),
                })
                .unwrap()
                .into_document()
                .unwrap()
        })
        .collect()
}

/// ns per document of `work` over `per_sample` documents.
fn measure(per_sample: usize, mut work: impl FnMut()) -> f64 {
    for _ in 0..20 {
        work();
    }
    let samples: Vec<f64> = (0..31)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..20 {
                work();
            }
            started.elapsed().as_nanos() as f64 / (20 * per_sample) as f64
        })
        .collect();
    median(samples)
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15; `rest` starts at field 3. Ticks are 1/100 s.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// A fake that answers at once: every `_bulk` with all `201`s (inflating
/// gzipped bodies to count the items), every Datadog intake request with
/// `202`. It adds the request body bytes as received (compressed or not)
/// to `wire`.
async fn instant_fake(wire: Arc<AtomicU64>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let wire = Arc::clone(&wire);
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let wire = Arc::clone(&wire);
                    async move {
                        let gzipped = request
                            .headers()
                            .get("content-encoding")
                            .is_some_and(|value| value.as_bytes() == b"gzip");
                        let bulk = request.uri().path().ends_with("/_bulk");
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        wire.fetch_add(body.len() as u64, Ordering::Relaxed);
                        if !bulk {
                            let mut answer =
                                hyper::Response::new(Full::new(Bytes::from_static(b"{}")));
                            *answer.status_mut() = hyper::StatusCode::ACCEPTED;
                            return Ok::<_, Infallible>(answer);
                        }
                        let body = if gzipped {
                            let mut inflated = Vec::new();
                            std::io::Read::read_to_end(
                                &mut flate2::read::GzDecoder::new(body.as_ref()),
                                &mut inflated,
                            )
                            .unwrap();
                            Bytes::from(inflated)
                        } else {
                            body
                        };
                        let items = body.iter().filter(|&&byte| byte == b'\n').count() / 2;
                        let mut answer = String::with_capacity(32 + items * 27);
                        answer.push_str("{\"errors\":false,\"items\":[");
                        for index in 0..items {
                            if index > 0 {
                                answer.push(',');
                            }
                            answer.push_str("{\"create\":{\"status\":201}}");
                        }
                        answer.push_str("]}");
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(answer))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn fill_spool(dir: &Path, events: &[Vec<u8>]) {
    let spool = spool::open(&spool::Config {
        dir: dir.to_owned(),
        max_bytes: 8 * 1024 * 1024 * 1024,
        dead_letter_max_file_bytes: spool::dead_letter::DEFAULT_MAX_FILE_BYTES,
    })
    .unwrap();
    let now = OffsetDateTime::now_utc();
    for chunk in events.chunks(1000) {
        let mut append = Append::new();
        for event in chunk {
            append.push(Input::Webhook, now, event);
        }
        spool.writer.append(append).await.unwrap();
    }
    let spool::Spool {
        writer,
        writer_thread,
        ..
    } = spool;
    drop(writer);
    tokio::task::spawn_blocking(move || writer_thread.join().unwrap())
        .await
        .unwrap();
}

async fn spool_to_es(url: &str, namespace: &str, events: &[Vec<u8>]) -> (f64, f64) {
    let output =
        format!("[output.elasticsearch]\nhosts = [\"{url}\"]\nnamespace = \"{namespace}\"\n");
    spool_to(&output, events).await
}

/// Fills a spool with `events`, starts the agent with `output` (a config
/// section) and measures until every record is acknowledged: documents/s
/// and process CPU ns per document.
async fn spool_to(output: &str, events: &[Vec<u8>]) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    fill_spool(&dir.path().join("spool"), events).await;
    std::fs::write(dir.path().join("dd-key"), "bench-key\n").unwrap();
    let text = format!(
        "[webhook]\nlisten = \"127.0.0.1:0\"\n[spool]\ndir = \"spool\"\nmax_bytes = \"8GiB\"\n\
         {output}[log]\nlevel = \"error\"\n"
    );
    let config = Config::from_toml(&text, dir.path()).unwrap();
    let cpu = cpu_time();
    let started = Instant::now();
    let app = App::start(config).await.unwrap();
    let metrics = Arc::clone(app.metrics());
    let total = events.len() as u64;
    while metrics.spool_acked.load(Ordering::Relaxed) < total {
        assert!(started.elapsed() < Duration::from_secs(600), "stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time() - cpu;
    let written = metrics.documents_written_es.load(Ordering::Relaxed)
        + metrics.documents_written_datadog.load(Ordering::Relaxed);
    assert_eq!(written, total);
    app.stop().await.unwrap();
    (
        total as f64 / elapsed.as_secs_f64(),
        cpu.as_nanos() as f64 / total as f64,
    )
}

fn main() {
    // `BENCH_ONLY=compression` runs step 5 alone.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("compression") {
        let count: usize = std::env::var("BENCH_EVENTS")
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(200_000);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let wire = Arc::new(AtomicU64::new(0));
            let fake = format!("http://{}", instant_fake(Arc::clone(&wire)).await);
            compare_compression(&fake, &wire, &varied_events(count)).await;
        });
        return;
    }
    let docs = documents(1000);
    let mean_bytes = docs.iter().map(|d| d.json.len()).sum::<usize>() / docs.len();
    let body_ns = measure(docs.len(), || {
        std::hint::black_box(bulk::body(std::hint::black_box(&docs)));
    });
    println!("bulk body:     {body_ns:8.1} ns/doc  ({mean_bytes} B documents, 1000 per body)");

    let mut answer = String::from("{\"errors\":false,\"items\":[");
    for index in 0..1000 {
        if index > 0 {
            answer.push(',');
        }
        answer.push_str("{\"create\":{\"status\":201}}");
    }
    answer.push_str("]}");
    let parse_ns = measure(1000, || {
        std::hint::black_box(response::parse(answer.as_bytes(), 1000).unwrap());
    });
    println!("bulk response: {parse_ns:8.1} ns/doc");

    let raw: Vec<RawEvent> = events(1000)
        .into_iter()
        .map(|bytes| RawEvent {
            input: Input::Webhook,
            received_at: OffsetDateTime::now_utc(),
            bytes: Bytes::from(bytes),
        })
        .collect();
    let pipeline = Pipeline::new(
        pipeline::Config::defaults(),
        auth0_ingest::pipeline::enrich::Enrichers::none(),
    );
    let pipeline_ns = measure(1000, || {
        for event in &raw {
            std::hint::black_box(pipeline.process(event).unwrap());
        }
    });
    println!(
        "pipeline:      {pipeline_ns:8.1} ns/doc  ({:.0} docs/s on one core)",
        1e9 / pipeline_ns
    );

    let count: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(200_000);
    let events = events(count);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let wire = Arc::new(AtomicU64::new(0));
        let fake = format!("http://{}", instant_fake(Arc::clone(&wire)).await);
        let url = std::env::var("BENCH_ES_URL").unwrap_or_else(|_| fake.clone());
        let mut rates = Vec::new();
        let mut cpus = Vec::new();
        for run in 0..5 {
            let (rate, cpu) = spool_to_es(&url, &format!("bench{run}"), &events).await;
            rates.push(rate);
            cpus.push(cpu);
        }
        println!(
            "spool → ES:    {:8.0} docs/s  ({:.0} ns CPU/doc, all threads; {count} events to {url}, median of 5; runs: {})",
            median(rates.clone()),
            median(cpus),
            rates
                .iter()
                .map(|rate| format!("{rate:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        compare_compression(&fake, &wire, &varied_events(count)).await;
    });
}

/// `spool → ES` and `spool → Datadog` with `compression = "gzip"` and
/// `"none"`, against the instant fake: documents/s and body bytes on the
/// wire per document (medians of 3; the fake's share of the CPU, including
/// inflating gzipped `_bulk` bodies, is in the same process).
async fn compare_compression(fake: &str, wire: &AtomicU64, events: &[Vec<u8>]) {
    let total = events.len() as f64;
    for (name, section) in [
        (
            "ES",
            format!("[output.elasticsearch]\nhosts = [\"{fake}\"]\n"),
        ),
        (
            "Datadog auth0",
            format!("[output.datadog]\nurl = \"{fake}\"\napi_key_file = \"dd-key\"\n"),
        ),
        (
            "Datadog ecs",
            format!(
                "[output.datadog]\nurl = \"{fake}\"\napi_key_file = \"dd-key\"\nformat = \"ecs\"\n"
            ),
        ),
    ] {
        for compression in ["gzip", "none"] {
            let output = format!("{section}compression = \"{compression}\"\n");
            let mut rates = Vec::new();
            let mut bytes = Vec::new();
            let mut cpus = Vec::new();
            for _ in 0..3 {
                let before = wire.load(Ordering::Relaxed);
                let (rate, cpu) = spool_to(&output, events).await;
                rates.push(rate);
                cpus.push(cpu);
                bytes.push((wire.load(Ordering::Relaxed) - before) as f64);
            }
            let bytes = median(bytes);
            println!(
                "spool → {name:<13} {compression:<4}: {:8.0} docs/s  {:6.0} ns CPU/doc  {:7.1} B/doc on the wire ({:.1} MB for {total} docs; runs: {})",
                median(rates.clone()),
                median(cpus),
                bytes / total,
                bytes / 1e6,
                rates
                    .iter()
                    .map(|rate| format!("{rate:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
}
