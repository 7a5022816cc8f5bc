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
//! Each figure is the median of several runs. `BENCH_EVENTS` sets N
//! (default 200000); `BENCH_ES_URL` sends step 4 to that server instead of
//! the fake (a local test server only: each run writes N documents to
//! `logs-auth0.logs-bench<run>`).

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
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

/// A fake Elasticsearch that answers every `_bulk` with all `201`s at once.
async fn instant_fake() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = service_fn(
                    |request: hyper::Request<hyper::body::Incoming>| async move {
                        let body = request.into_body().collect().await.unwrap().to_bytes();
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
                    },
                );
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
    let dir = tempfile::tempdir().unwrap();
    fill_spool(&dir.path().join("spool"), events).await;
    let text = format!(
        "[webhook]\nlisten = \"127.0.0.1:0\"\n[spool]\ndir = \"spool\"\nmax_bytes = \"8GiB\"\n\
         [output.elasticsearch]\nhosts = [\"{url}\"]\nnamespace = \"{namespace}\"\n[log]\nlevel = \"error\"\n"
    );
    let config = Config::from_toml(&text, dir.path()).unwrap();
    let cpu = cpu_time();
    let started = Instant::now();
    let app = App::start(config).await.unwrap();
    let metrics = std::sync::Arc::clone(app.metrics());
    let total = events.len() as u64;
    while metrics.spool_acked.load(Ordering::Relaxed) < total {
        assert!(started.elapsed() < Duration::from_secs(600), "stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time() - cpu;
    assert_eq!(metrics.documents_written_es.load(Ordering::Relaxed), total);
    app.stop().await.unwrap();
    (
        total as f64 / elapsed.as_secs_f64(),
        cpu.as_nanos() as f64 / total as f64,
    )
}

fn main() {
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
        let url = match std::env::var("BENCH_ES_URL") {
            Ok(url) => url,
            Err(_) => format!("http://{}", instant_fake().await),
        };
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
    });
}
