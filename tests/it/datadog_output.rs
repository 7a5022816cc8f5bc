//! The Datadog output against an in-test fake of Datadog's logs intake v2.
//!
//! Every test drives the real webhook: events are POSTed, the webhook's 200
//! says they are durable, and the fake is then asked what it received. The
//! fake checks what the real intake checks (the `DD-API-KEY`, gzip, at most
//! 1,000 items and 5 MB uncompressed per request, 1 MB per log) and records
//! every item; it can be told to answer 400/401/403/408/413/429/5xx.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth0_ingest::app::App;
use auth0_ingest::config::Config;
use serde_json::Value;
use time::OffsetDateTime;

use super::sigkill;
use super::support::fake_datadog::FakeIntake;
use super::support::fake_es::FakeEs;
use super::support::{dead_letters, ids, post_plain, wait_acked, wait_until, TOKEN};

const KEY: &str = "0123456789abcdef0123456789abcdef";

/// An Auth0 log stream event with `log_id` = `id`, dated `date`.
fn event_at(id: &str, date: OffsetDateTime) -> String {
    let date = date
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    format!(
        r#"{{"log_id":"{id}","data":{{"date":"{date}","type":"s","description":"Successful login","client_id":"aiK1gMAzAQr6YAWzIsJ3tfXeXcBfDNby","ip":"81.2.69.143","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36","user_id":"auth0|6540f1c2a8b3","user_name":"alice@example.com","log_id":"{id}","details":{{"n":1}}}}}}"#
    )
}

fn event(id: &str) -> String {
    event_at(id, OffsetDateTime::now_utc())
}

fn body(ids: &[String]) -> String {
    ids.iter().map(|id| event(id) + "\n").collect()
}

fn config_text(dir: &Path, listen: &str, dd_url: &str, extra: &str) -> String {
    std::fs::write(dir.join("dd-key"), format!("{KEY}\n")).unwrap();
    format!(
        "[webhook]\nlisten = \"{listen}\"\ntokens = [\"{TOKEN}\"]\n\
         [spool]\ndir = \"{spool}\"\n\
         [output.datadog]\nurl = \"{dd_url}\"\napi_key_file = \"dd-key\"\nflush_interval = \"20ms\"\n{extra}\n\
         [log]\nlevel = \"warn\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        spool = dir.join("spool").display(),
    )
}

fn config(dir: &Path, dd_url: &str, extra: &str) -> Config {
    let mut config =
        Config::from_toml(&config_text(dir, "127.0.0.1:0", dd_url, extra), dir).unwrap();
    // Fast retries keep the tests short; the schedule itself is unit-tested.
    if let Some(datadog) = config.datadog.as_mut() {
        datadog.tuning.backoff.initial = Duration::from_millis(20);
        datadog.tuning.backoff.max = Duration::from_millis(300);
        datadog.unauthorized_pause = Duration::from_millis(300);
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_format_sends_the_envelope_gzipped_with_the_dd_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start(KEY).await;
    let app = App::start(config(
        dir.path(),
        &fake.url(),
        "tags = [\"env:test\", \"team:identity\"]\nhostname = \"agent-7\"",
    ))
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202612011000000000000000000000000000000000", 0..2500);
    let sent = body(&batch);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), sent.clone()).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 2500, "the batch acknowledged").await;
    wait_until(Duration::from_secs(5), "the key check", || {
        fake.state.lock().unwrap().validations == 1
    })
    .await;
    app.stop().await.unwrap();

    let counts = fake.by_log_id();
    assert_eq!(counts.len(), 2500);
    assert!(counts.values().all(|&count| count == 1));
    assert_eq!(
        metrics.documents_written_datadog.load(Ordering::Relaxed),
        2500
    );
    assert_eq!(metrics.datadog_stale_events.load(Ordering::Relaxed), 0);
    let state = fake.state.lock().unwrap();
    assert!(state.violations.is_empty(), "{:?}", state.violations);
    assert_eq!(state.gzipped, state.requests, "every request gzipped");
    assert!(state.request_sizes.iter().all(|&size| size <= 1000));
    assert!(state.request_sizes.len() >= 3);
    // Byte for byte what Auth0 sent, plus the attributes.
    let originals: HashMap<String, Value> = sent
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            (value["log_id"].as_str().unwrap().to_owned(), value)
        })
        .collect();
    for item in &state.items {
        let mut item = item.clone();
        let map = item.as_object_mut().unwrap();
        assert_eq!(map.remove("ddsource").unwrap(), "auth0");
        assert_eq!(map.remove("service").unwrap(), "auth0");
        assert_eq!(map.remove("ddtags").unwrap(), "env:test,team:identity");
        assert_eq!(map.remove("hostname").unwrap(), "agent-7");
        assert_eq!(&item, &originals[item["log_id"].as_str().unwrap()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_stay_within_batch_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start(KEY).await;
    // The smallest allowed: one log at the 1 MB cut plus the brackets.
    let app = App::start(config(dir.path(), &fake.url(), "batch_max_bytes = 1000002"))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202612011050000000000000000000000000000000", 0..2000);
    // About 2 KB each: the byte limit binds before the 1,000 items.
    let padding = format!("\"pad\":\"{}\"", "p".repeat(1500));
    let text = body(&batch).replace("\"n\":1", &padding);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), text).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 2000, "the batch acknowledged").await;
    app.stop().await.unwrap();
    assert_eq!(fake.by_log_id().len(), 2000);
    let state = fake.state.lock().unwrap();
    let total: usize = state.body_bytes.iter().sum();
    assert!(total > 4_000_000, "{total}");
    // Full requests, each within the limit (not 1,000 items of ~2 KB).
    assert!(
        state.body_bytes.iter().all(|&bytes| bytes <= 1_000_002),
        "{:?}",
        state.body_bytes
    );
    assert!(
        state
            .body_bytes
            .iter()
            .filter(|&&bytes| bytes > 900_000)
            .count()
            >= 3,
        "{:?}",
        state.body_bytes
    );
    assert!(state.request_sizes.iter().all(|&size| size < 1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_format_sends_our_documents_uncompressed_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start(KEY).await;
    let app = App::start(config(
        dir.path(),
        &fake.url(),
        "format = \"ecs\"\ncompression = \"none\"\nservice = \"login\"",
    ))
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202612011100000000000000000000000000000000", 0..30);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&batch)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 30, "the batch acknowledged").await;
    app.stop().await.unwrap();
    let state = fake.state.lock().unwrap();
    assert_eq!(state.gzipped, 0);
    assert_eq!(state.items.len(), 30);
    for item in &state.items {
        assert_eq!(item["ddsource"], "auth0");
        assert_eq!(item["service"], "login");
        assert!(item.get("ddtags").is_none() && item.get("hostname").is_none());
        assert_eq!(item["event"]["action"], "successful-login", "{item}");
        assert_eq!(item["source"]["ip"], "81.2.69.143");
        assert_eq!(item["user_agent"]["name"], "Chrome", "{item}");
        assert!(item.get("data").is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_answers_and_an_unreachable_intake_are_retried_until_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start(KEY).await;
    fake.state.lock().unwrap().failures = [
        (408, None),
        (429, Some(1)),
        (500, None),
        (502, None),
        (503, None),
        (504, None),
    ]
    .into_iter()
    .collect();
    let app = App::start(config(dir.path(), &fake.url(), "batch_max_events = 10"))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202612011200000000000000000000000000000000", 0..40);
    let started = Instant::now();
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&batch)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 40, "the batch acknowledged").await;
    // The 429's `Retry-After: 1` was honoured.
    assert!(started.elapsed() >= Duration::from_secs(1));
    app.stop().await.unwrap();
    assert_eq!(fake.by_log_id().len(), 40);
    assert_eq!(metrics.datadog_request_retries.load(Ordering::Relaxed), 6);
    assert!(dead_letters(&dir.path().join("spool")).is_empty());

    // Nothing listening at all: retried, kept, delivered once it is up.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = App::start(config(dir.path(), &format!("http://127.0.0.1:{port}"), ""))
        .await
        .unwrap();
    let more = ids("900202612011210000000000000000000000000000000", 0..5);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&more)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_until(Duration::from_secs(10), "refused connections", || {
        metrics.datadog_request_retries.load(Ordering::Relaxed) >= 3
    })
    .await;
    app.stop().await.unwrap();
    assert_eq!(
        metrics.spool_acked.load(Ordering::Relaxed),
        0,
        "kept in the spool"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_time_out_are_retried() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start(KEY).await;
    fake.state.lock().unwrap().delay = Duration::from_secs(2);
    let app = App::start(config(
        dir.path(),
        &fake.url(),
        "request_timeout = \"200ms\"",
    ))
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202612011250000000000000000000000000000000", 0..10);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&batch)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_until(
        Duration::from_secs(10),
        "timed-out requests retried",
        || metrics.datadog_request_retries.load(Ordering::Relaxed) >= 2,
    )
    .await;
    assert_eq!(metrics.spool_acked.load(Ordering::Relaxed), 0);
    fake.state.lock().unwrap().delay = Duration::ZERO;
    wait_acked(&metrics, 10, "the batch once the intake answers in time").await;
    app.stop().await.unwrap();
    // At least once: a timed-out request may still have been taken.
    let counts = fake.by_log_id();
    assert!(batch.iter().all(|id| counts.contains_key(id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_is_retried_slowly_and_nothing_is_lost_while_it_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start("another-key").await;
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202612011300000000000000000000000000000000", 0..20);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&batch)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_until(Duration::from_secs(10), "refusals", || {
        metrics.datadog_key_refusals.load(Ordering::Relaxed) >= 3
    })
    .await;
    // Slowly: one attempt per `unauthorized_pause` (300 ms here), not the
    // 20 ms backoff.
    let refusals = metrics.datadog_key_refusals.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let later = metrics.datadog_key_refusals.load(Ordering::Relaxed);
    assert!(later - refusals <= 3, "{refusals} then {later}");
    assert_eq!(fake.item_count(), 0);
    assert_eq!(metrics.spool_acked.load(Ordering::Relaxed), 0);
    // The Health view shows it: the output is not reachable, and says why.
    let status: serde_json::Value = client
        .get(format!("http://{}/status", app.admin_addr().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let datadog = &status["outputs"]["datadog"];
    assert_eq!(datadog["reachable"], false, "{status}");
    assert!(
        datadog["last_error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("403")),
        "{status}"
    );
    assert_ne!(status["status"], "ok", "{status}");
    // The operator fixes the key (here: the intake starts accepting ours).
    fake.state.lock().unwrap().key = KEY.to_owned();
    wait_acked(&metrics, 20, "the batch after the fix").await;
    let status: serde_json::Value = client
        .get(format!("http://{}/status", app.admin_addr().unwrap()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["outputs"]["datadog"]["reachable"], true, "{status}");
    // A 401 (what Datadog answers a missing key) is a refusal too.
    let before = metrics.datadog_key_refusals.load(Ordering::Relaxed);
    fake.state.lock().unwrap().failures.push_back((401, None));
    let more = ids("900202612011310000000000000000000000000000000", 0..5);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&more)).await,
        200
    );
    wait_acked(&metrics, 25, "the batch after a 401").await;
    assert_eq!(
        metrics.datadog_key_refusals.load(Ordering::Relaxed),
        before + 1
    );
    app.stop().await.unwrap();
    assert_eq!(fake.by_log_id().len(), 25);
    assert!(dead_letters(&dir.path().join("spool")).is_empty());
    let state = fake.state.lock().unwrap();
    assert!(state.refused_key >= 3);
    assert_eq!(state.validations, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_413_splits_the_request_and_a_400_isolates_the_bad_log_in_the_dead_letters() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start(KEY).await;
    {
        let mut state = fake.state.lock().unwrap();
        // About three logs per request fit.
        state.max_body_bytes = Some(2500);
        state.reject_containing = Some("poison-pill".to_owned());
    }
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202612011400000000000000000000000000000000", 0..40);
    let bad = "900202612011400000000000000000000000000000000bad".to_owned();
    let mut text = body(&batch);
    text.push_str(&event(&bad).replace("\"n\":1", "\"n\":\"poison-pill\""));
    text.push('\n');
    // Larger than the fake's limit alone: dead-lettered with the 413.
    let huge = "900202612011400000000000000000000000000000000huge".to_owned();
    text.push_str(&event(&huge).replace("\"n\":1", &format!("\"pad\":\"{}\"", "x".repeat(3000))));
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), text).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 42, "the batch acknowledged").await;
    app.stop().await.unwrap();
    let counts = fake.by_log_id();
    assert_eq!(counts.len(), 40);
    assert!(!counts.contains_key(&bad) && !counts.contains_key(&huge));
    assert_eq!(metrics.events_rejected_output.load(Ordering::Relaxed), 2);
    let dead = dead_letters(&dir.path().join("spool"));
    assert_eq!(dead.len(), 2, "{dead:?}");
    let text = serde_json::to_string(&dead).unwrap();
    assert!(text.contains(&bad) && text.contains(&huge), "{text}");
    let reasons: Vec<&str> = dead
        .iter()
        .map(|line| line["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|reason| reason.contains("datadog refused the log: 400")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|reason| reason.contains("datadog refused the log: 413")),
        "{reasons:?}"
    );
    assert!(fake.state.lock().unwrap().violations.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_to_every_request_is_retried_as_a_configuration_problem_not_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start(KEY).await;
    // A proxy (or a wrong `url`) answering 400 to everything.
    fake.state.lock().unwrap().always = Some(400);
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202612011450000000000000000000000000000000", 0..8);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&batch)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_until(Duration::from_secs(10), "rounds of refusals", || {
        metrics.datadog_request_retries.load(Ordering::Relaxed) >= 3
    })
    .await;
    assert!(dead_letters(&dir.path().join("spool")).is_empty());
    assert_eq!(metrics.spool_acked.load(Ordering::Relaxed), 0);
    fake.state.lock().unwrap().always = None;
    wait_acked(&metrics, 8, "the batch once the proxy is fixed").await;
    app.stop().await.unwrap();
    assert_eq!(fake.by_log_id().len(), 8);
    assert!(dead_letters(&dir.path().join("spool")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_older_than_18_hours_are_sent_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start(KEY).await;
    for format in ["auth0", "ecs"] {
        let dir = dir.path().join(format);
        std::fs::create_dir_all(&dir).unwrap();
        let app = App::start(config(&dir, &fake.url(), &format!("format = \"{format}\"")))
            .await
            .unwrap();
        let client = reqwest::Client::new();
        let now = OffsetDateTime::now_utc();
        let old = ids(
            &format!("9002026112900000000000000000000000000000{format:>5}"),
            0..7,
        );
        let fresh = ids(
            &format!("9002026120100000000000000000000000000000{format:>5}"),
            0..5,
        );
        let mut text: String = old
            .iter()
            .map(|id| event_at(id, now - time::Duration::hours(19)) + "\n")
            .collect();
        text.extend(
            fresh
                .iter()
                .map(|id| event_at(id, now - time::Duration::hours(17)) + "\n"),
        );
        assert_eq!(
            post_plain(&client, app.webhook_addr().unwrap(), text).await,
            200
        );
        let metrics = Arc::clone(app.metrics());
        wait_acked(&metrics, 12, "the batch acknowledged").await;
        app.stop().await.unwrap();
        assert_eq!(
            metrics.datadog_stale_events.load(Ordering::Relaxed),
            7,
            "{format}"
        );
        assert_eq!(
            metrics.documents_written_datadog.load(Ordering::Relaxed),
            12
        );
        assert!(metrics
            .render(&Default::default())
            .contains("auth0_ingest_datadog_stale_events_total 7"));
    }
    assert_eq!(fake.item_count(), 24, "stale events are sent, not hidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_over_1_mb_is_cut_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start(KEY).await;
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let id = "900202612011500000000000000000000000000000000big".to_owned();
    let text = event(&id).replace(
        "\"n\":1",
        &format!("\"blob\":\"{}\"", "z".repeat(1_500_000)),
    );
    let small = ids("900202612011500000000000000000000000000000000", 0..3);
    let text = format!("{text}\n{}", body(&small));
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), text).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 4, "the batch acknowledged").await;
    app.stop().await.unwrap();
    assert_eq!(metrics.datadog_truncated.load(Ordering::Relaxed), 1);
    let state = fake.state.lock().unwrap();
    assert!(state.violations.is_empty(), "{:?}", state.violations);
    let item = state
        .items
        .iter()
        .find(|item| item["log_id"] == id.as_str())
        .unwrap();
    assert!(item.to_string().len() <= 1_000_000);
    assert_eq!(item["data"]["type"], "s");
    assert_eq!(item["auth0_ingest"]["truncated"], true);
    assert_eq!(item["auth0_ingest"]["cut"][0], "data.details.blob");
    assert_eq!(state.items.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_and_datadog_each_get_every_document_and_the_spool_waits_for_both() {
    let dir = tempfile::tempdir().unwrap();
    let es = FakeEs::start().await;
    let fake = FakeIntake::start(KEY).await;
    // Datadog is down at first: Elasticsearch gets everything, the spool
    // keeps every batch until Datadog has it too.
    fake.state.lock().unwrap().always = Some(503);
    let mut config = config(
        dir.path(),
        &fake.url(),
        &format!(
            "[output.elasticsearch]\nhosts = [\"{}\"]\nflush_interval = \"20ms\"",
            es.url()
        ),
    );
    if let Some(elasticsearch) = config.elasticsearch.as_mut() {
        elasticsearch.tuning.backoff.initial = Duration::from_millis(20);
        elasticsearch.tuning.backoff.max = Duration::from_millis(300);
    }
    let app = App::start(config).await.unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202612011600000000000000000000000000000000", 0..300);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&batch)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_until(
        Duration::from_secs(20),
        "elasticsearch has everything",
        || es.count("logs-auth0.logs-default") == 300,
    )
    .await;
    wait_until(Duration::from_secs(10), "datadog retries", || {
        metrics.datadog_request_retries.load(Ordering::Relaxed) >= 3
    })
    .await;
    assert_eq!(
        metrics.spool_acked.load(Ordering::Relaxed),
        0,
        "datadog has not finished"
    );
    fake.state.lock().unwrap().always = None;
    wait_acked(&metrics, 300, "both outputs finished").await;
    app.stop().await.unwrap();
    assert_eq!(fake.by_log_id().len(), 300);
    assert_eq!(es.count("logs-auth0.logs-default"), 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_then_restart_delivers_every_acknowledged_event_at_least_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeIntake::start(KEY).await;
    // Slow answers keep requests in flight when the kill comes.
    fake.state.lock().unwrap().delay = Duration::from_millis(40);
    let killed = sigkill::kill_mid_delivery(
        dir.path(),
        |listen| config_text(dir.path(), listen, &fake.url(), "batch_max_events = 50"),
        "9002026120117",
        body,
        || fake.by_log_id().len(),
    )
    .await;
    let acked = &killed.acked;
    let at_kill = fake.item_count();

    let agent = killed.restart().await;
    wait_until(Duration::from_secs(60), "every acknowledged event", || {
        let counts = fake.by_log_id();
        acked.iter().all(|id| counts.contains_key(id))
    })
    .await;
    // Let the restarted agent finish what it resends: a graceful stop
    // ends its requests in flight (waiting for the exit, not a fixed time).
    assert!(agent.terminate().success());
    let counts = fake.by_log_id();
    let unknown = counts.keys().filter(|id| !acked.contains(*id)).count();
    assert_eq!(unknown, 0, "only acknowledged events (no partial batch)");
    let duplicates: usize = counts.values().map(|count| count - 1).sum();
    assert!(fake.state.lock().unwrap().violations.is_empty());
    eprintln!(
        "datadog sigkill: {} acknowledged, {at_kill} items received at the kill, {duplicates} duplicates after the restart",
        acked.len()
    );
}
