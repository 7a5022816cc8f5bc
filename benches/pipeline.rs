//! Events per second per core of the full pipeline (decode, map, GeoIP City
//! and ASN, uap-core user agents, warm caches, JSON out) against a baseline
//! that only parses each event into a `serde_json::Value` and serializes it
//! again. Targets: at least 200k events/s and half the baseline.
//!
//! Criterion measures wall time, which other processes on a shared machine
//! inflate; the bench also prints events per second of this thread's CPU
//! time (`/proc/thread-self/schedstat`), the per-core figure.
//!
//! Events: Elastic's sample log-stream items and pull-input records
//! (`../shared/conformance/elastic-auth0/`, when present) and our own
//! `tests/fixtures/events/tricky.jsonl`; GeoIP: MaxMind's test databases in
//! `../shared/geoip/` (geo off, said on stderr, when absent).
//!
//! `cargo bench --bench pipeline`

use std::path::{Path, PathBuf};

use auth0_ingest::enrichment;
use auth0_ingest::event::{Input, RawEvent};
use auth0_ingest::pipeline::enrich::{self, ua};
use auth0_ingest::pipeline::{self, Pipeline};
use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use time::OffsetDateTime;

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

fn events() -> Vec<RawEvent> {
    let mut lines: Vec<String> = include_str!("../tests/fixtures/events/tricky.jsonl")
        .lines()
        .map(str::to_owned)
        .collect();
    let conformance = shared().join("conformance/elastic-auth0");
    if let Ok(text) = std::fs::read_to_string(conformance.join("auth0-ndjson.log")) {
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    for file in [
        "test-pull-responses.json",
        "test-logout-success.json",
        "test-login-success.json",
    ] {
        if let Ok(text) = std::fs::read_to_string(conformance.join(file)) {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
                for event in value["events"].as_array().into_iter().flatten() {
                    lines.push(event["json"].to_string());
                }
            }
        }
    }
    lines
        .into_iter()
        .map(|line| RawEvent {
            input: Input::Webhook,
            received_at: OffsetDateTime::now_utc(),
            bytes: Bytes::from(line),
        })
        .collect()
}

fn pipeline() -> Pipeline {
    let geoip = shared().join("geoip");
    let loaded = enrichment::load(&enrich::Config {
        geoip_city: Some(geoip.join("GeoLite2-City-Test.mmdb")),
        geoip_asn: Some(geoip.join("GeoLite2-ASN-Test.mmdb")),
        user_agent: ua::Mode::Uap,
        uap_regexes: PathBuf::from(enrich::DEFAULT_UAP_REGEXES),
    });
    for warning in &loaded.warnings {
        eprintln!("bench: {warning}");
    }
    Pipeline::new(pipeline::Config::defaults(), loaded.enrichers)
}

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Events per CPU-second of `work` (run over all events for ~2 s).
fn per_cpu_second(events: &[RawEvent], mut work: impl FnMut(&RawEvent)) -> Option<f64> {
    let wall = std::time::Instant::now();
    let start = cpu_ns()?;
    let mut count = 0u64;
    while wall.elapsed() < std::time::Duration::from_secs(2) {
        for event in events {
            work(event);
        }
        count += events.len() as u64;
    }
    let spent = cpu_ns()?.checked_sub(start)?;
    Some(count as f64 / (spent as f64 / 1e9))
}

fn bench(criterion: &mut Criterion) {
    let events = events();
    let bytes: usize = events.iter().map(|event| event.bytes.len()).sum();
    eprintln!(
        "bench: {} events, {} bytes on average",
        events.len(),
        bytes / events.len().max(1)
    );
    let pipeline = pipeline();
    // Warm the caches (and check every event maps).
    for event in &events {
        if let Err(reason) = pipeline.process(event) {
            eprintln!("bench: event refused: {reason}");
        }
    }
    let full = per_cpu_second(&events, |event| {
        black_box(pipeline.process(event).ok());
    });
    let baseline = per_cpu_second(&events, |event| {
        let value: Option<serde_json::Value> = serde_json::from_slice(&event.bytes).ok();
        black_box(value.map(|value| value.to_string()));
    });
    if let (Some(full), Some(baseline)) = (full, baseline) {
        eprintln!(
            "bench: per CPU-second: full pipeline {full:.0} events/s, serde_json baseline {baseline:.0} events/s, ratio {:.2}",
            full / baseline
        );
    }
    cold_user_agents();
    let mut group = criterion.benchmark_group("events");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("full_pipeline", |bencher| {
        bencher.iter(|| {
            for event in &events {
                black_box(pipeline.process(event).ok());
            }
        })
    });
    group.bench_function("serde_json_baseline", |bencher| {
        bencher.iter(|| {
            for event in &events {
                let value: Option<serde_json::Value> = serde_json::from_slice(&event.bytes).ok();
                black_box(value.map(|value| value.to_string()));
            }
        })
    });
    group.finish();
}

/// Cost of a cache miss: uap-core parsing (agent, OS, device) of the
/// distinct user agents of uap-core's `tests/test_ua.yaml`.
fn cold_user_agents() {
    let Ok(regexes) = std::fs::read_to_string(enrich::DEFAULT_UAP_REGEXES) else {
        return;
    };
    let Ok(regexes) = enrich::uap::Regexes::from_yaml(&regexes) else {
        return;
    };
    let Ok(suite) = std::fs::read_to_string("/usr/share/uap-core/tests/test_ua.yaml") else {
        return;
    };
    let agents: Vec<&str> = suite
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- user_agent_string: "))
        .map(|agent| agent.trim_matches(|c| c == '\'' || c == '"'))
        .collect();
    // First pass: the regex engines' own lazy state is cold too; second
    // pass: as in a running agent, only our cache misses.
    for pass in ["first", "second"] {
        let start = std::time::Instant::now();
        for agent in &agents {
            black_box(regexes.parse(agent));
        }
        let elapsed = start.elapsed();
        eprintln!(
            "bench: uap parse of a user agent not in our cache ({pass} pass): {:.1} µs over {} agents",
            elapsed.as_secs_f64() * 1e6 / agents.len().max(1) as f64,
            agents.len()
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(2))
        .measurement_time(std::time::Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
