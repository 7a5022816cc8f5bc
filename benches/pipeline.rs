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
//! `../shared/geoip/` (geo off, said on stderr, when absent). Set
//! `AUTH0_INGEST_SHARED` to read them from elsewhere.
//!
//! `[pii]`: the same pipeline with `fields` = all six data names and
//! `method = "hmac-sha256"` against the one without, measured alternately
//! (three rounds each, medians) in the same run; target ≥ 0.85×. Twice:
//! over the events above (values recur, as users do: the HMAC cache hits,
//! as the GeoIP and user-agent caches do), and over 400 copies of them in
//! which no two events share a personal value (the worst case: every event
//! a new person, every HMAC computed once per event).
//!
//! `cargo bench --bench pipeline`

use std::path::{Path, PathBuf};

use auth0_ingest::enrichment;
use auth0_ingest::event::{Input, RawEvent};
use auth0_ingest::pipeline::enrich::{self, ua};
use auth0_ingest::pipeline::pii::{self, DataName, IpMode, Method};
use auth0_ingest::pipeline::{self, Pipeline};
use auth0_ingest::secret::Secret;
use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use time::OffsetDateTime;

/// `../shared`, or `$AUTH0_INGEST_SHARED` (a git worktree is not beside it).
fn shared() -> PathBuf {
    std::env::var_os("AUTH0_INGEST_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"),
        PathBuf::from,
    )
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
    pipeline_with(pipeline::Config::defaults())
}

/// All six data names, hashed with HMAC-SHA-256.
fn pii_config() -> pipeline::Config {
    pipeline::Config {
        pii: pii::Config {
            fields: DataName::ALL.to_vec(),
            method: Method::HmacSha256(Secret::new(b"bench-key-0123456789abcdef".to_vec())),
            ip: IpMode::Keep,
        },
        ..pipeline::Config::defaults()
    }
}

fn pipeline_with(config: pipeline::Config) -> Pipeline {
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
    Pipeline::new(config, loaded.enrichers)
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
    let private = pipeline_with(pii_config());
    pii_ratio("recurring values", &events, &pipeline, &private);
    {
        // With `event.original` kept: the obfuscated original is the event
        // parsed and written again.
        let preserved = |config: pipeline::Config| pipeline::Config {
            preserve_original_event: true,
            ..config
        };
        pii_ratio(
            "recurring values, preserve_original_event on both sides",
            &events,
            &pipeline_with(preserved(pipeline::Config::defaults())),
            &pipeline_with(preserved(pii_config())),
        );
    }
    pii_ratio(
        "no value shared by two events",
        &distinct_values(&events, 400),
        &pipeline,
        &private,
    );
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
    group.bench_function("full_pipeline_pii_hmac_all_fields", |bencher| {
        bencher.iter(|| {
            for event in &events {
                black_box(private.process(event).ok());
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

/// Events per CPU-second without and with `[pii]` (all six data names,
/// HMAC-SHA-256), alternating three rounds each so that load from other
/// processes hits both alike; medians and their ratio on stderr.
fn pii_ratio(what: &str, events: &[RawEvent], plain: &Pipeline, private: &Pipeline) {
    // Warm the private pipeline's caches too.
    for event in events {
        black_box(private.process(event).ok());
    }
    let mut without = Vec::new();
    let mut with = Vec::new();
    for _ in 0..3 {
        without.extend(per_cpu_second(events, |event| {
            black_box(plain.process(event).ok());
        }));
        with.extend(per_cpu_second(events, |event| {
            black_box(private.process(event).ok());
        }));
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    if let (Some(without), Some(with)) = (median(&mut without), median(&mut with)) {
        eprintln!(
            "bench: {what}: per CPU-second (medians of 3) over {} events: without [pii] {without:.0} events/s, with [pii] all six fields + hmac-sha256 {with:.0} events/s, ratio {:.3} (target >= 0.85)",
            events.len(),
            with / without
        );
    }
}

/// `copies` copies of `events`, the values of the personal fields prefixed
/// with the event's number, so that no two events share one (within one
/// event, a value repeated under two keys stays one value).
fn distinct_values(events: &[RawEvent], copies: usize) -> Vec<RawEvent> {
    let mut distinct = Vec::with_capacity(events.len() * copies);
    for copy in 0..copies {
        for (index, event) in events.iter().enumerate() {
            let number = copy * events.len() + index;
            let mut text = String::from_utf8_lossy(&event.bytes).into_owned();
            for key in [
                "user_name",
                "username",
                "email",
                "name",
                "given_name",
                "family_name",
                "first_name",
                "last_name",
                "phone",
                "phone_number",
                "old_phone_number",
                "new_phone_number",
                "address",
            ] {
                for colon in [":", ": "] {
                    text = text.replace(
                        &format!("\"{key}\"{colon}\""),
                        &format!("\"{key}\"{colon}\"{number}-"),
                    );
                }
            }
            distinct.push(RawEvent {
                bytes: Bytes::from(text),
                ..event.clone()
            });
        }
    }
    distinct
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
