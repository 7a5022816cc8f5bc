//! The API poller against a fake Auth0 tenant (`support/fake_auth0.rs`),
//! in-process through `App::start` and, for the crash test, as the built
//! binary killed with SIGKILL.

// Test helpers (the fake, the agent process) are not `#[test]` functions,
// which `allow-unwrap-in-tests` covers; a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use auth0_ingest::app::App;
use auth0_ingest::config::Config;
use auth0_ingest::outputs::file;
use time::macros::datetime;

use super::support::fake_auth0::{self, FakeTenant, Options, CLIENT_ID, CLIENT_SECRET};
use super::support::{self, Agent};

/// Longest a condition may take before a test fails (generous: the machine
/// is shared with compilers).
const PATIENCE: Duration = Duration::from_secs(60);

/// `[poller]` (plus spool and file output) for the fake at `url`.
fn config_text(url: &str, dir: &Path, poller_extra: &str) -> String {
    let secret = dir.join("client-secret");
    if std::fs::metadata(&secret).is_err() {
        std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
    }
    format!(
        "[poller]\nurl = \"{url}\"\nclient_id = \"{CLIENT_ID}\"\nclient_secret_file = \"client-secret\"\n\
         interval = \"100ms\"\nrequest_timeout = \"5s\"\nstart_from = \"2026-11-01T00:00:00Z\"\n{poller_extra}\n\
         [spool]\ndir = \"spool\"\n[output.file]\ndir = \"out\"\n[admin]\nlisten = \"127.0.0.1:0\"\n"
    )
}

async fn start(text: &str, dir: &Path) -> App {
    let config = Config::from_toml(text, dir).unwrap();
    App::start(config).await.unwrap()
}

/// The `event.id` of every document in the file output, in file order.
fn output_ids(dir: &Path) -> Vec<String> {
    let out = dir.join("out");
    let Ok(files) = file::list(&out) else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // A line being written may be incomplete: only whole lines count.
        for line in text
            .split_inclusive('\n')
            .filter(|line| line.ends_with('\n'))
        {
            let document: serde_json::Value = serde_json::from_str(line).unwrap();
            ids.push(document["event"]["id"].as_str().unwrap().to_owned());
        }
    }
    ids
}

fn ids(events: &[(String, String)]) -> Vec<String> {
    events.iter().map(|(id, _)| id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_2500_events_exactly_once_in_order_through_503s() {
    let events = fake_auth0::events(datetime!(2026-11-20 10:00:00 UTC), 1, 2_500);
    let fake = FakeTenant::start(
        Options {
            fail_every: Some(7),
            ..Options::default()
        },
        events.clone(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let app = start(&config_text(&fake.url(), dir.path(), ""), dir.path()).await;
    support::wait_until(PATIENCE, "2,500 documents", || {
        output_ids(dir.path()).len() >= 2_500
    })
    .await;
    // Caught up: the agent has asked after the last log.
    let last = events.last().unwrap().0.clone();
    support::wait_until(PATIENCE, "a request after the last log", || {
        fake.requests()
            .iter()
            .any(|request| request.status == 200 && request.from.as_deref() == Some(&last))
    })
    .await;
    let metrics = std::sync::Arc::clone(app.metrics());
    app.stop().await.unwrap();

    assert_eq!(
        output_ids(dir.path()),
        ids(&events),
        "every log once, in order"
    );
    let served = fake.served();
    assert_eq!(served.len(), 2_500);
    assert!(
        served.values().all(|&count| count == 1),
        "no log fetched twice"
    );
    let requests = fake.requests();
    assert!(requests.iter().any(|request| request.status == 503));
    // Each successful request continued where the previous page ended.
    let mut expected_from = "90020261101000000000000000000000000000000000000000000000".to_owned();
    for request in requests.iter().filter(|request| request.status == 200) {
        assert_eq!(request.from.as_deref(), Some(expected_from.as_str()));
        if request.served > 0 {
            let position = events
                .iter()
                .position(|(id, _)| *id == expected_from)
                .map_or(0, |index| index + 1);
            expected_from = events[position + request.served - 1].0.clone();
        }
    }
    assert_eq!(metrics.events_received_api.load(Ordering::Relaxed), 2_500);
    assert_eq!(fake.tokens_issued(), 1, "one token for the whole run");
    let cursor = std::fs::read_to_string(dir.path().join("spool/poller-cursor.json")).unwrap();
    assert!(cursor.contains(&last), "{cursor}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_from_a_date_skips_older_logs() {
    let mut events = Vec::new();
    events.extend(fake_auth0::events(
        datetime!(2026-11-18 12:00:00 UTC),
        1,
        100,
    ));
    events.extend(fake_auth0::events(
        datetime!(2026-11-19 00:00:00 UTC),
        101,
        100,
    ));
    events.extend(fake_auth0::events(
        datetime!(2026-11-20 08:00:00 UTC),
        201,
        100,
    ));
    let fake = FakeTenant::start(Options::default(), events.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(&fake.url(), dir.path(), "")
        .replace("2026-11-01T00:00:00Z", "2026-11-19T00:00:00Z");
    let app = start(&text, dir.path()).await;
    let last = events.last().unwrap().0.clone();
    support::wait_until(PATIENCE, "a request after the last log", || {
        fake.requests()
            .iter()
            .any(|request| request.status == 200 && request.from.as_deref() == Some(&last))
    })
    .await;
    support::wait_until(PATIENCE, "200 documents", || {
        output_ids(dir.path()).len() >= 200
    })
    .await;
    app.stop().await.unwrap();

    assert_eq!(
        fake.requests()[0].from.as_deref(),
        Some("90020261119000000000000000000000000000000000000000000000")
    );
    assert_eq!(output_ids(dir.path()), ids(&events[100..]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiring_and_revoked_tokens_are_replaced() {
    // The fake's tokens last a second, less than the agent's floor on a
    // token's lifetime: the agent learns of their expiry from a 401.
    // Each wave is indexed later than the one before, as new logs are.
    let waves = [
        fake_auth0::events(datetime!(2026-11-20 10:00:00 UTC), 1, 150),
        fake_auth0::events(datetime!(2026-11-20 11:00:00 UTC), 151, 150),
        fake_auth0::events(datetime!(2026-11-20 12:00:00 UTC), 301, 150),
    ];
    let fake = FakeTenant::start(
        Options {
            token_ttl_seconds: 1,
            ..Options::default()
        },
        waves[0].clone(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let app = start(&config_text(&fake.url(), dir.path(), ""), dir.path()).await;
    support::wait_until(PATIENCE, "150 documents", || {
        output_ids(dir.path()).len() >= 150
    })
    .await;
    // Polling (every 100 ms) outlives several one-second tokens.
    support::wait_until(PATIENCE, "a third token", || fake.tokens_issued() >= 3).await;
    fake.add(waves[1].clone());
    support::wait_until(PATIENCE, "300 documents", || {
        output_ids(dir.path()).len() >= 300
    })
    .await;
    let unauthorized_before = fake.unauthorized();
    fake.revoke_tokens();
    let issued_before = fake.tokens_issued();
    fake.add(waves[2].clone());
    support::wait_until(PATIENCE, "450 documents", || {
        output_ids(dir.path()).len() >= 450
    })
    .await;
    let metrics = std::sync::Arc::clone(app.metrics());
    app.stop().await.unwrap();

    assert_eq!(output_ids(dir.path()), ids(&waves.concat()));
    assert!(
        fake.tokens_issued() > issued_before,
        "a new token after the revocation"
    );
    assert!(fake.unauthorized() > unauthorized_before);
    // The agent caches a token for at least `oauth::MIN_LIFETIME`, so a
    // one-second token is not refreshed ahead of every poll: it is used
    // until refused, then replaced at once (one new token per 401).
    assert!(
        fake.tokens_issued() <= fake.unauthorized() + 1,
        "tokens issued {}, 401s {}",
        fake.tokens_issued(),
        fake.unauthorized()
    );
    eprintln!(
        "tokens issued {}, 401s {}, expired-token uses {}, poller failures {}",
        fake.tokens_issued(),
        fake.unauthorized(),
        fake.expired_token_uses(),
        metrics.poller_requests_failed.load(Ordering::Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_cannot_move_the_cursor_is_not_spooled_again_on_every_retry() {
    // One log without a `log_id`, and no next link: the cursor is stuck.
    let (id, json) = fake_auth0::event(datetime!(2026-11-20 10:00:00 UTC), 1);
    let json = json.replace(&format!("\"log_id\":\"{id}\","), "");
    assert!(!json.contains("log_id"));
    let fake = FakeTenant::start(
        Options {
            no_link: true,
            ..Options::default()
        },
        vec![(id, json)],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let app = start(&config_text(&fake.url(), dir.path(), ""), dir.path()).await;
    support::wait_until(PATIENCE, "three requests for the stuck page", || {
        fake.requests().len() >= 3
    })
    .await;
    let metrics = std::sync::Arc::clone(app.metrics());
    app.stop().await.unwrap();

    assert!(fake
        .requests()
        .iter()
        .all(|request| request.status == 200 && request.served == 1));
    assert_eq!(
        metrics.events_rejected_input.load(Ordering::Relaxed),
        0,
        "the stuck page is not dead-lettered once per retry"
    );
    let dead =
        std::fs::read_to_string(dir.path().join("spool/dead-letter.ndjson")).unwrap_or_default();
    assert_eq!(dead.lines().count(), 0, "{dead}");
    assert!(output_ids(dir.path()).is_empty());
    assert_eq!(saved_cursor(dir.path()), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_reported_and_retried_slowly_without_crashing() {
    let fake = FakeTenant::start(
        Options::default(),
        fake_auth0::events(datetime!(2026-11-20 10:00:00 UTC), 1, 10),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("client-secret"), "wrong\n").unwrap();
    let app = start(&config_text(&fake.url(), dir.path(), ""), dir.path()).await;
    support::wait_until(PATIENCE, "a refused token request", || {
        fake.tokens_rejected() >= 1
    })
    .await;
    let metrics = std::sync::Arc::clone(app.metrics());
    support::wait_until(PATIENCE, "the failure counted", || {
        metrics.poller_token_requests_failed.load(Ordering::Relaxed) >= 1
    })
    .await;
    // The agent stays up and stops cleanly; no logs request went out.
    app.stop().await.unwrap();
    assert_eq!(fake.tokens_rejected(), 1, "retried slowly, not in a loop");
    assert!(fake.requests().is_empty());
    assert!(output_ids(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_scope_is_retried_slowly() {
    let fake = FakeTenant::start(
        Options {
            forbidden: true,
            ..Options::default()
        },
        fake_auth0::events(datetime!(2026-11-20 10:00:00 UTC), 1, 10),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let app = start(&config_text(&fake.url(), dir.path(), ""), dir.path()).await;
    support::wait_until(PATIENCE, "a refused logs request", || {
        !fake.requests().is_empty()
    })
    .await;
    let metrics = std::sync::Arc::clone(app.metrics());
    support::wait_until(PATIENCE, "the failure counted", || {
        metrics.poller_requests_failed.load(Ordering::Relaxed) == 1
    })
    .await;
    app.stop().await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "retried slowly, not in a loop");
    assert_eq!(requests[0].status, 403);
    assert_eq!(fake.tokens_issued(), 1, "a 403 is not cured by a new token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_respected_until_its_reset() {
    let events = fake_auth0::events(datetime!(2026-11-20 10:00:00 UTC), 1, 300);
    let fake = FakeTenant::start(
        Options {
            rate_limit_at: Some(2),
            ..Options::default()
        },
        events.clone(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let app = start(&config_text(&fake.url(), dir.path(), ""), dir.path()).await;
    support::wait_until(PATIENCE, "300 documents", || {
        output_ids(dir.path()).len() >= 300
    })
    .await;
    let metrics = std::sync::Arc::clone(app.metrics());
    app.stop().await.unwrap();

    assert_eq!(fake.violations(), 0, "no request before the reset");
    let requests = fake.requests();
    assert_eq!(requests[1].status, 429);
    let reset = fake.blocked_until().unwrap();
    assert!(requests[2].at >= reset);
    assert_eq!(output_ids(dir.path()), ids(&events));
    assert!(metrics.poller_rate_limit_waits.load(Ordering::Relaxed) >= 1);
    assert_eq!(
        metrics.poller_requests_rate_limited.load(Ordering::Relaxed),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_and_poller_together_make_one_document_per_event() {
    let events = fake_auth0::events(datetime!(2026-11-20 10:00:00 UTC), 1, 300);
    let fake = FakeTenant::start(Options::default(), events.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[webhook]\nlisten = \"127.0.0.1:0\"\ntokens = [\"hook-token\"]\n{}",
        config_text(&fake.url(), dir.path(), "")
    );
    let app = start(&text, dir.path()).await;
    let addr = app.webhook_addr().unwrap();
    // The log stream's shape, JSON Lines, in three batches.
    let client = reqwest::Client::new();
    for chunk in events.chunks(100) {
        let body: String = chunk
            .iter()
            .map(|(id, json)| format!("{{\"log_id\":\"{id}\",\"data\":{json}}}\n"))
            .collect();
        let response = client
            .post(format!("http://{addr}/auth0/logs"))
            .header("authorization", "hook-token")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let metrics = std::sync::Arc::clone(app.metrics());
    support::wait_until(PATIENCE, "both inputs delivered and acknowledged", || {
        metrics.events_received_api.load(Ordering::Relaxed) == 300
            && metrics.spool_acked.load(Ordering::Relaxed) == 600
    })
    .await;
    app.stop().await.unwrap();

    let output = output_ids(dir.path());
    let distinct: HashSet<&String> = output.iter().collect();
    assert_eq!(output.len(), 300, "one document per event");
    assert_eq!(distinct.len(), 300);
    assert_eq!(metrics.events_received_webhook.load(Ordering::Relaxed), 300);
    assert_eq!(
        metrics.documents_duplicate_file.load(Ordering::Relaxed),
        300
    );
    let rendered = metrics.render(&auth0_ingest::telemetry::metrics::Gauges::default());
    assert!(
        rendered.contains("auth0_ingest_events_received_total{input=\"api\"} 300"),
        "{rendered}"
    );
}

/// `path`, opened for appending: the agents of one test share a log.
fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

fn saved_cursor(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("spool/poller-cursor.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["from"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_sigkill_resumes_from_the_cursor_without_gaps() {
    let events = fake_auth0::events(datetime!(2026-11-20 10:00:00 UTC), 1, 3_000);
    let fake = FakeTenant::start(
        Options {
            latency: Duration::from_millis(30),
            ..Options::default()
        },
        events.clone(),
    )
    .await;
    // First kill: after 1,200 logs the fake answers 503 until released,
    // so the agent is retrying when it is killed.
    fake.hold_after(1_200);
    // Kept if the test fails, for the agent's log; removed at the end.
    let dir = tempfile::tempdir().unwrap().keep();
    eprintln!("agent directory: {}", dir.display());
    let config: PathBuf = dir.join("agent.toml");
    std::fs::write(&config, config_text(&fake.url(), &dir, "")).unwrap();
    let log = dir.join("agent.log");

    let agent = Agent::spawn(&config, log_file(&log));
    support::wait_until(PATIENCE, "1,200 logs served", || {
        fake.served_total() >= 1_200
    })
    .await;
    agent.kill();
    support::wait_until(PATIENCE, "the dead agent's last request answered", || {
        fake.in_flight() == 0
    })
    .await;
    let saved = saved_cursor(&dir);
    let before = fake.requests().len();
    fake.release();

    // Second kill: while pages flow (30 ms each), wherever it lands:
    // between a fetch, its spool append and its cursor save.
    let agent = Agent::spawn(&config, log_file(&log));
    support::wait_until(PATIENCE, "2,000 logs served", || {
        fake.served_total() >= 2_000
    })
    .await;
    agent.kill();
    let served_at_second_kill = fake.served_total();

    let agent = Agent::spawn(&config, log_file(&log));
    support::wait_until(PATIENCE, "all 3,000 logs in the output", || {
        output_ids(&dir).iter().collect::<HashSet<_>>().len() >= 3_000
    })
    .await;
    let status = agent.terminate();
    assert!(status.success(), "agent exited with {status}");

    let output = output_ids(&dir);
    let distinct: HashSet<&String> = output.iter().collect();
    let expected = ids(&events);
    assert_eq!(distinct, expected.iter().collect::<HashSet<_>>(), "no gap");
    let resumed_from = fake.requests()[before].from.clone();
    let start_cursor = "90020261101000000000000000000000000000000000000000000000".to_owned();
    assert_eq!(
        resumed_from,
        Some(saved.clone().unwrap_or(start_cursor.clone())),
        "resumed from the saved cursor"
    );
    assert!(saved.is_some_and(|saved| saved != start_cursor));
    let refetched = fake.served().values().filter(|&&count| count > 1).count();
    assert!(
        refetched <= 200,
        "at most the page in flight at each kill is fetched again: {refetched}"
    );
    eprintln!(
        "two SIGKILLs (after 1,200 and {served_at_second_kill} served): {} documents written for 3,000 logs, {refetched} logs fetched twice",
        output.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Drains logs through a fake with Auth0's Essentials limit for
/// `GET /api/v2/logs` (10 requests burst, 100 a minute) and reports the
/// request count, the time, and how many requests broke the limit (must be
/// none). `POLLER_DRAIN_EVENTS=10000` gives the figure the issue asks for
/// (about a minute, the limit's pace); the default keeps `cargo test` short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drains_under_the_essentials_rate_limit_without_breaking_it() {
    let count: u64 = std::env::var("POLLER_DRAIN_EVENTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_500);
    let events = fake_auth0::events(datetime!(2026-11-20 10:00:00 UTC), 1, count);
    let fake = FakeTenant::start(
        Options {
            bucket: Some((10.0, 100.0 / 60.0)),
            ..Options::default()
        },
        events.clone(),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let text = config_text(&fake.url(), dir.path(), "")
        .replace("interval = \"100ms\"", "interval = \"30s\"");
    let started = Instant::now();
    let app = start(&text, dir.path()).await;
    let last = events.last().unwrap().0.clone();
    support::wait_until(PATIENCE, "the poller caught up", || {
        fake.requests()
            .iter()
            .any(|request| request.status == 200 && request.from.as_deref() == Some(&last))
    })
    .await;
    let drained = started.elapsed();
    support::wait_until(PATIENCE, "every document", || {
        output_ids(dir.path()).len() as u64 >= count
    })
    .await;
    app.stop().await.unwrap();

    let requests = fake.requests();
    let first = requests.first().unwrap().at;
    let last_at = requests.last().unwrap().at;
    eprintln!(
        "drain of {count} logs at 10 burst + 100/min: {} requests ({} refused), {:.1} s from start to caught up, {:.1} s between first and last request, {} violations",
        requests.len(),
        requests.iter().filter(|request| request.status != 200).count(),
        drained.as_secs_f64(),
        last_at.duration_since(first).unwrap_or_default().as_secs_f64(),
        fake.violations()
    );
    assert_eq!(fake.violations(), 0, "no request broke the limit");
    assert_eq!(output_ids(dir.path()).len() as u64, count);
}
