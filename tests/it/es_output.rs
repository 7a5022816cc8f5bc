//! The Elasticsearch output against an in-test fake of Elasticsearch's
//! `_bulk` API (and, when `ES_URL` is set, against a real cluster).
//!
//! Every test drives the real webhook: events are POSTed, the webhook's 200
//! says they are durable, and the fake is then asked what it holds.

// Test code: the fake's helpers are not `#[test]` functions, so clippy's
// `allow-unwrap-in-tests` does not cover them.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth0_ingest::app::App;
use auth0_ingest::config::Config;

use super::sigkill;
use super::support::fake_es::FakeEs;
use super::support::{ids, post_plain, wait_acked, wait_until, TOKEN};

/// One Auth0 log stream event with `log_id` = `id`.
fn event(id: &str) -> String {
    format!(
        r#"{{"log_id":"{id}","data":{{"date":"2026-11-21T10:00:00.120Z","type":"s","description":"Successful login","client_id":"aiK1gMAzAQr6YAWzIsJ3tfXeXcBfDNby","ip":"81.2.69.143","user_id":"auth0|6540f1c2a8b3","log_id":"{id}","details":{{"n":1}}}}}}"#
    )
}

fn body(ids: &[String]) -> String {
    ids.iter().map(|id| event(id) + "\n").collect()
}

/// A config: plain-HTTP webhook on `listen`, spool in `dir`, ES at `es_url`.
fn config_text(dir: &Path, listen: &str, es_url: &str, extra: &str) -> String {
    format!(
        "[webhook]\nlisten = \"{listen}\"\ntokens = [\"{TOKEN}\"]\n\
         [spool]\ndir = \"{spool}\"\n\
         [output.elasticsearch]\nhosts = [\"{es_url}\"]\nflush_interval = \"20ms\"\n{extra}\n\
         [log]\nlevel = \"warn\"\n[admin]\nlisten = \"127.0.0.1:0\"\n",
        spool = dir.join("spool").display(),
    )
}

fn config(dir: &Path, es_url: &str, extra: &str) -> Config {
    let mut config =
        Config::from_toml(&config_text(dir, "127.0.0.1:0", es_url, extra), dir).unwrap();
    // Fast retries keep the tests short; the schedule itself is unit-tested.
    if let Some(es) = config.elasticsearch.as_mut() {
        es.tuning.backoff.initial = Duration::from_millis(20);
        es.tuning.backoff.max = Duration::from_millis(400);
    }
    config
}

const INDEX: &str = "logs-auth0.logs-default";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_posts_of_the_same_batch_make_one_document_each() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    let client = reqwest::Client::new();
    let batch = ids("9002026112110000000000000000000000000000000000", 0..50);

    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let addr = app.webhook_addr().unwrap();
    // Twice to the same agent: Elasticsearch answers the second copy 409
    // (the dedup window is the file output's; `_id` = log_id is this one's).
    assert_eq!(post_plain(&client, addr, body(&batch)).await, 200);
    assert_eq!(post_plain(&client, addr, body(&batch)).await, 200);
    wait_until(Duration::from_secs(20), "first copies", || {
        fake.count(INDEX) == 50
    })
    .await;
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 100, "acknowledgements").await;
    app.stop().await.unwrap();

    // Again to a restarted agent: 409s again.
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let addr = app.webhook_addr().unwrap();
    assert_eq!(post_plain(&client, addr, body(&batch)).await, 200);
    let metrics = Arc::clone(app.metrics());
    wait_until(Duration::from_secs(20), "duplicates counted", || {
        metrics.documents_duplicate_es.load(Ordering::Relaxed) == 50
    })
    .await;
    wait_acked(&metrics, 50, "acknowledgements").await;
    app.stop().await.unwrap();

    assert_eq!(fake.count(INDEX), 50);
    let state = fake.state.lock().unwrap();
    assert_eq!(state.conflicts, 100, "each redelivered copy is a 409");
    assert_eq!(state.without_id, 0);
    let mut stored: Vec<String> = state.documents[INDEX].keys().cloned().collect();
    stored.sort();
    assert_eq!(stored, batch);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_and_elasticsearch_outputs_both_get_every_document() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    let out = dir.path().join("out");
    let extra = format!("[output.file]\ndir = \"{}\"", out.display());
    let app = App::start(config(dir.path(), &fake.url(), &extra))
        .await
        .unwrap();
    let addr = app.webhook_addr().unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202611211000000000000000000000000000000000", 0..25);
    assert_eq!(post_plain(&client, addr, body(&batch)).await, 200);
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 25, "the batch acknowledged").await;
    app.stop().await.unwrap();
    assert_eq!(fake.count(INDEX), 25);
    let mut lines = 0;
    for path in std::fs::read_dir(&out).unwrap() {
        lines += std::fs::read_to_string(path.unwrap().path())
            .unwrap()
            .lines()
            .count();
    }
    assert_eq!(lines, 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_ca_cert_and_without_verification_but_never_untrusted() {
    let dir = tempfile::tempdir().unwrap();
    let (certificate, key) =
        auth0_ingest::inputs::webhook::tls::generate_development_certificate().unwrap();
    let cert_path = dir.path().join("es-ca.pem");
    let key_path = dir.path().join("es-key.pem");
    std::fs::write(&cert_path, certificate).unwrap();
    std::fs::write(&key_path, key).unwrap();
    let tls = auth0_ingest::inputs::webhook::tls::server_config(&cert_path, &key_path).unwrap();
    let fake = FakeEs::start_tls(Arc::new(tls)).await;
    let url = format!("https://localhost:{}", fake.addr.port());
    let client = reqwest::Client::new();

    // Not trusted: nothing is sent, the batch stays.
    let app = App::start(config(dir.path(), &url, "")).await.unwrap();
    let batch = ids("900202611211800000000000000000000000000000000", 0..10);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&batch)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_until(Duration::from_secs(10), "refused handshakes", || {
        metrics.es_request_retries.load(Ordering::Relaxed) >= 2
    })
    .await;
    app.stop().await.unwrap();
    assert_eq!(fake.count(INDEX), 0);
    assert_eq!(metrics.spool_acked.load(Ordering::Relaxed), 0);

    // Trusted through `ca_cert`: the spooled batch goes through.
    let app = App::start(config(dir.path(), &url, "ca_cert = \"es-ca.pem\""))
        .await
        .unwrap();
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 10, "the batch over TLS").await;
    app.stop().await.unwrap();
    assert_eq!(fake.count(INDEX), 10);

    // `tls_verify = false` (a lab): accepted without the CA.
    let app = App::start(config(dir.path(), &url, "tls_verify = false"))
        .await
        .unwrap();
    let more = ids("900202611211810000000000000000000000000000000", 0..5);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&more)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 5, "the batch without verification").await;
    app.stop().await.unwrap();
    assert_eq!(fake.count(INDEX), 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_and_basic_credentials_are_sent_and_refusals_retried() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    let client = reqwest::Client::new();
    std::fs::write(dir.path().join("es-api-key"), "aWQ6c2VjcmV0\n").unwrap();
    std::fs::write(dir.path().join("es-password"), "hunter2\n").unwrap();
    // A wrong key first: 401s are retried (the batch waits), never dropped.
    fake.state.lock().unwrap().authorization = Some("ApiKey b3RoZXI6a2V5".to_owned());
    let app = App::start(config(
        dir.path(),
        &fake.url(),
        "api_key_file = \"es-api-key\"",
    ))
    .await
    .unwrap();
    let batch = ids("900202611211900000000000000000000000000000000", 0..10);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&batch)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_until(Duration::from_secs(10), "refusals", || {
        metrics.es_request_retries.load(Ordering::Relaxed) >= 2
    })
    .await;
    assert_eq!(fake.count(INDEX), 0);
    // The operator fixes the cluster side: the same batch goes through.
    fake.state.lock().unwrap().authorization = Some("ApiKey aWQ6c2VjcmV0".to_owned());
    wait_acked(&metrics, 10, "the batch with the API key").await;
    app.stop().await.unwrap();
    assert_eq!(fake.count(INDEX), 10);

    // Basic authentication.
    fake.state.lock().unwrap().authorization = Some("Basic ZWxhc3RpYzpodW50ZXIy".to_owned());
    let app = App::start(config(
        dir.path(),
        &fake.url(),
        "username = \"elastic\"\npassword_file = \"es-password\"",
    ))
    .await
    .unwrap();
    let more = ids("900202611211910000000000000000000000000000000", 0..5);
    assert_eq!(
        post_plain(&client, app.webhook_addr().unwrap(), body(&more)).await,
        200
    );
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 5, "the batch with basic auth").await;
    app.stop().await.unwrap();
    assert_eq!(fake.count(INDEX), 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_down_for_seconds_under_load_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fake = Arc::new(FakeEs::start().await);
    let app = App::start(config(
        dir.path(),
        &fake.url(),
        "batch_max_events = 100\nmax_in_flight = 2",
    ))
    .await
    .unwrap();
    let addr = app.webhook_addr().unwrap();
    let client = reqwest::Client::new();

    // Load: 60 POSTs of 50 events, one every 100 ms, with the fake down from
    // the 10th POST for at least 3 s, then a whole-request 503 and 429.
    let mut acked = HashSet::new();
    let mut down_since = None;
    for round in 0..60 {
        if round == 10 {
            fake.down();
            down_since = Some(Instant::now());
        }
        if round == 40 {
            let down_for = down_since.map(|since| since.elapsed()).unwrap_or_default();
            assert!(down_for >= Duration::from_secs(3), "down for {down_for:?}");
            fake.state
                .lock()
                .unwrap()
                .request_failures
                .extend([(503, None), (429, Some(0))]);
            fake.up().await;
        }
        let batch = ids(&format!("9002026112111{round:04}"), 0..50);
        if post_plain(&client, addr, body(&batch)).await == 200 {
            acked.extend(batch);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        acked.len(),
        3000,
        "the spool takes everything while ES is down"
    );
    wait_until(
        Duration::from_secs(60),
        "every acknowledged event indexed",
        || fake.count(INDEX) >= acked.len(),
    )
    .await;
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 3000, "every batch acknowledged").await;
    app.stop().await.unwrap();

    let stored: HashSet<String> = fake.ids(INDEX).into_iter().collect();
    assert_eq!(stored, acked);
    assert!(metrics.es_request_retries.load(Ordering::Relaxed) >= 2);
    assert_eq!(metrics.documents_written_es.load(Ordering::Relaxed), 3000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_item_failures_retry_the_right_items_and_dead_letter_mapping_errors() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    let batch = ids("900202611211200000000000000000000000000000000", 0..10);
    {
        let mut state = fake.state.lock().unwrap();
        state
            .item_failures
            .insert(batch[1].clone(), [429, 429].into());
        state.item_failures.insert(batch[2].clone(), [503].into());
        state.item_failures.insert(batch[3].clone(), [400].into());
        state.reject_containing = Some("poison".to_owned());
    }
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let addr = app.webhook_addr().unwrap();
    let client = reqwest::Client::new();
    let mut text = body(&batch);
    text.push_str(&event(
        "900202611211200000000000000000000000000000000poison",
    ));
    assert_eq!(post_plain(&client, addr, text).await, 200);
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 11, "the batch acknowledged").await;
    app.stop().await.unwrap();

    let state = fake.state.lock().unwrap();
    let stored = &state.documents[INDEX];
    assert_eq!(stored.len(), 9);
    assert!(!stored.contains_key(&batch[3]));
    assert_eq!(
        state.attempts[&batch[0]], 1,
        "accepted items are not resent"
    );
    assert_eq!(state.attempts[&batch[1]], 3, "two 429s, then created");
    assert_eq!(state.attempts[&batch[2]], 2, "one 503, then created");
    assert_eq!(state.attempts[&batch[3]], 1, "a mapping error is final");
    assert_eq!(metrics.events_rejected_output.load(Ordering::Relaxed), 2);
    assert_eq!(metrics.es_item_retries.load(Ordering::Relaxed), 3);
    assert_eq!(metrics.documents_written_es.load(Ordering::Relaxed), 9);

    let dead = std::fs::read_to_string(dir.path().join("spool/dead-letter.ndjson")).unwrap();
    let lines: Vec<serde_json::Value> = dead
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for line in &lines {
        assert_eq!(line["stage"], "output");
        assert!(
            line["reason"]
                .as_str()
                .unwrap()
                .contains("400 mapper_parsing_exception"),
            "{line}"
        );
        // The event as received (replayable), not the document.
        let event: serde_json::Value = serde_json::from_str(line["raw"].as_str().unwrap()).unwrap();
        assert!(event["log_id"].is_string(), "{event}");
        assert!(event["@timestamp"].is_null(), "{event}");
    }
    assert!(dead.contains(&batch[3]));
    assert!(dead.contains("poison"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_requests_are_split_and_a_too_large_document_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    let batch = ids("900202611211300000000000000000000000000000000", 0..40);
    let huge = "900202611211300000000000000000000000000000000huge".to_owned();
    // About 3 documents fit under the limit.
    fake.state.lock().unwrap().max_body_bytes = Some(2000);
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let addr = app.webhook_addr().unwrap();
    let client = reqwest::Client::new();
    let mut text = body(&batch);
    text.push_str(&event(&huge).replace("\"n\":1", &format!("\"pad\":\"{}\"", "x".repeat(3000))));
    assert_eq!(post_plain(&client, addr, text).await, 200);
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 41, "the batch acknowledged").await;
    app.stop().await.unwrap();
    assert_eq!(fake.count(INDEX), 40);
    assert_eq!(metrics.events_rejected_output.load(Ordering::Relaxed), 1);
    let dead = std::fs::read_to_string(dir.path().join("spool/dead-letter.ndjson")).unwrap();
    assert!(dead.contains(&huge) && dead.contains("413"), "{dead}");
    // The split worked on gzipped bodies (the limit applies inflated).
    let state = fake.state.lock().unwrap();
    assert!(state.bulk_requests > 10);
    assert_eq!(state.gzipped_requests, state.bulk_requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_bodies_are_gzipped_unless_told_and_ask_for_small_answers() {
    let client = reqwest::Client::new();
    let mut wire = Vec::new();
    for (compression, gzipped) in [("", true), ("compression = \"none\"", false)] {
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeEs::start().await;
        let app = App::start(config(
            dir.path(),
            &fake.url(),
            &format!("batch_max_events = 100\n{compression}"),
        ))
        .await
        .unwrap();
        let batch = ids("900202611212000000000000000000000000000000000", 0..300);
        assert_eq!(
            post_plain(&client, app.webhook_addr().unwrap(), body(&batch)).await,
            200
        );
        let metrics = Arc::clone(app.metrics());
        wait_acked(&metrics, 300, "the batch acknowledged").await;
        app.stop().await.unwrap();
        assert_eq!(fake.count(INDEX), 300);
        let state = fake.state.lock().unwrap();
        assert!(state.bulk_requests >= 3);
        let expected = if gzipped { state.bulk_requests } else { 0 };
        assert_eq!(state.gzipped_requests, expected, "{compression}");
        assert_eq!(
            state.filter_path.as_deref(),
            Some("errors,items.*.status,items.*.error")
        );
        wire.push(state.wire_bytes);
    }
    // Repetitive JSON: gzip cuts the bytes on the wire several-fold.
    assert!(
        wire[0] * 4 < wire[1],
        "gzip {} vs none {}",
        wire[0],
        wire[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_to_every_request_is_retried_as_a_configuration_problem_not_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    let batch = ids("900202611211350000000000000000000000000000000", 0..4);
    // A proxy (or a bad `index`) answers 400 to everything for a while:
    // the 7 requests that split the batch down to single documents, then
    // 8 retries.
    fake.state.lock().unwrap().request_failures = std::iter::repeat_n((400, None), 15).collect();
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let addr = app.webhook_addr().unwrap();
    let client = reqwest::Client::new();
    assert_eq!(post_plain(&client, addr, body(&batch)).await, 200);
    let metrics = Arc::clone(app.metrics());
    wait_until(Duration::from_secs(30), "the batch acknowledged", || {
        metrics.spool_acked.load(Ordering::Relaxed) == 4
    })
    .await;
    app.stop().await.unwrap();

    assert_eq!(metrics.events_rejected_output.load(Ordering::Relaxed), 0);
    let dead =
        std::fs::read_to_string(dir.path().join("spool/dead-letter.ndjson")).unwrap_or_default();
    assert!(dead.is_empty(), "{dead}");
    let mut stored = fake.ids(INDEX);
    stored.sort();
    assert_eq!(stored, batch);
    let state = fake.state.lock().unwrap();
    assert!(state.request_failures.is_empty());
    // Once split to single documents with nothing accepted, the rest are
    // retried together, not one request per document per round.
    assert_eq!(state.bulk_requests, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_breaks_the_whole_request_is_isolated_and_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    let mut batch = ids("900202611211360000000000000000000000000000000", 0..10);
    fake.state.lock().unwrap().reject_request_containing = Some("poison".to_owned());
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let addr = app.webhook_addr().unwrap();
    let client = reqwest::Client::new();
    // First in the batch: split down to it before any sibling is tried.
    let poison = "900202611211360000000000000000000000000000000poison".to_owned();
    batch.insert(0, poison.clone());
    assert_eq!(post_plain(&client, addr, body(&batch)).await, 200);
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 11, "the batch acknowledged").await;
    app.stop().await.unwrap();

    assert_eq!(fake.count(INDEX), 10);
    assert_eq!(metrics.events_rejected_output.load(Ordering::Relaxed), 1);
    let dead = std::fs::read_to_string(dir.path().join("spool/dead-letter.ndjson")).unwrap();
    assert_eq!(dead.lines().count(), 1);
    assert!(dead.contains(&poison) && dead.contains("400"), "{dead}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_response_is_not_read_and_the_request_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    let batch = ids("900202611211370000000000000000000000000000000", 0..5);
    fake.state.lock().unwrap().padded_responses = 1;
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let addr = app.webhook_addr().unwrap();
    let client = reqwest::Client::new();
    assert_eq!(post_plain(&client, addr, body(&batch)).await, 200);
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 5, "the batch acknowledged").await;
    app.stop().await.unwrap();

    let state = fake.state.lock().unwrap();
    assert_eq!(state.documents[INDEX].len(), 5);
    for id in &batch {
        assert_eq!(
            state.attempts[id], 2,
            "sent again after the oversized answer"
        );
    }
    assert_eq!(state.conflicts, 5, "the second answer says they exist");
    assert!(metrics.es_request_retries.load(Ordering::Relaxed) >= 1);
    assert_eq!(metrics.events_rejected_output.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_elasticsearch_and_timeouts_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    // Slower than the request timeout at first: requests are abandoned and
    // retried (the fake may have stored them: those come back as 409s).
    fake.state.lock().unwrap().delay = Duration::from_millis(700);
    let app = App::start(config(
        dir.path(),
        &fake.url(),
        "request_timeout = \"300ms\"\nbatch_max_events = 20",
    ))
    .await
    .unwrap();
    let addr = app.webhook_addr().unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202611211400000000000000000000000000000000", 0..100);
    assert_eq!(post_plain(&client, addr, body(&batch)).await, 200);
    let metrics = Arc::clone(app.metrics());
    wait_until(Duration::from_secs(10), "timeouts", || {
        metrics.es_request_retries.load(Ordering::Relaxed) >= 2
    })
    .await;
    fake.state.lock().unwrap().delay = Duration::from_millis(50);
    wait_until(Duration::from_secs(30), "the batch acknowledged", || {
        metrics.spool_acked.load(Ordering::Relaxed) == 100
    })
    .await;
    app.stop().await.unwrap();
    assert_eq!(fake.count(INDEX), 100);
    let indexed = metrics.documents_written_es.load(Ordering::Relaxed);
    let duplicates = metrics.documents_duplicate_es.load(Ordering::Relaxed);
    assert_eq!(indexed + duplicates, 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_elasticsearch_down_leaves_the_batch_in_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    fake.down();
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let addr = app.webhook_addr().unwrap();
    let client = reqwest::Client::new();
    let batch = ids("900202611211500000000000000000000000000000000", 0..30);
    assert_eq!(post_plain(&client, addr, body(&batch)).await, 200);
    let metrics = Arc::clone(app.metrics());
    wait_until(Duration::from_secs(10), "failing requests", || {
        metrics.es_request_retries.load(Ordering::Relaxed) >= 1
    })
    .await;
    let started = Instant::now();
    app.stop().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(metrics.spool_acked.load(Ordering::Relaxed), 0);

    fake.up().await;
    let app = App::start(config(dir.path(), &fake.url(), ""))
        .await
        .unwrap();
    let metrics = Arc::clone(app.metrics());
    wait_acked(&metrics, 30, "redelivery after restart").await;
    app.stop().await.unwrap();
    assert_eq!(fake.count(INDEX), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_installs_templates_once() {
    let fake = FakeEs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    std::fs::write(
        &path,
        config_text(dir.path(), "127.0.0.1:0", &fake.url(), ""),
    )
    .unwrap();
    let binary = env!("CARGO_BIN_EXE_auth0-ingest");
    let run = |args: &[&str]| {
        let output = Command::new(binary).args(args).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let config_arg = path.to_str().unwrap();
    let dry = tokio::task::block_in_place(|| run(&["setup", "--config", config_arg, "--dry-run"]));
    assert!(dry.contains("PUT /_index_template/auth0-ingest\n"), "{dry}");
    assert!(dry.contains("\"flattened\""), "{dry}");
    assert_eq!(fake.state.lock().unwrap().template_puts, 0);

    let first = tokio::task::block_in_place(|| run(&["setup", "--config", config_arg]));
    assert!(
        first.contains("/_component_template/auth0-ingest@package: created"),
        "{first}"
    );
    assert!(
        first.contains("/_index_template/auth0-ingest: created"),
        "{first}"
    );
    let second = tokio::task::block_in_place(|| run(&["setup", "--config", config_arg]));
    assert!(
        second.contains("/_index_template/auth0-ingest: unchanged"),
        "{second}"
    );
    assert_eq!(fake.state.lock().unwrap().template_puts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_bulk_indexing_then_restart_indexes_every_acknowledged_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    // Slow bulk answers keep requests in flight when the kill comes.
    fake.state.lock().unwrap().delay = Duration::from_millis(40);
    let killed = sigkill::kill_mid_delivery(
        dir.path(),
        |listen| config_text(dir.path(), listen, &fake.url(), "batch_max_events = 50"),
        "9002026112116",
        body,
        || fake.count(INDEX),
    )
    .await;
    let acked = &killed.acked;
    let at_kill = fake.count(INDEX);
    assert!(at_kill < acked.len());

    let agent = killed.restart().await;
    wait_until(Duration::from_secs(60), "every acknowledged event", || {
        fake.count(INDEX) >= acked.len()
    })
    .await;
    drop(agent);

    let state = fake.state.lock().unwrap();
    assert_eq!(state.without_id, 0);
    let stored: HashSet<&String> = state.documents[INDEX].keys().collect();
    let expected: HashSet<&String> = acked.iter().collect();
    assert_eq!(stored, expected, "exactly the acknowledged events");
    // Each `_id` went in once; redelivered ones were refused as 409s.
    let redelivered: usize = state.attempts.values().map(|attempts| attempts - 1).sum();
    assert_eq!(redelivered, state.conflicts);
    eprintln!(
        "sigkill: {} acknowledged, {at_kill} indexed at the kill, {} redelivered as 409",
        acked.len(),
        state.conflicts
    );
}

/// Against a real cluster: set `ES_URL` (and `ES_API_KEY`, or `ES_USERNAME`
/// and `ES_PASSWORD`; `ES_CA_CERT` for a private CA; `ES_TLS_VERIFY=false`
/// for a lab). See `docs/elasticsearch.md`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_cluster_when_es_url_is_set() {
    let Ok(url) = std::env::var("ES_URL") else {
        eprintln!("skipping real_cluster_when_es_url_is_set: ES_URL is not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let namespace = format!(
        "it{}{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let mut extra = format!("namespace = \"{namespace}\"\n");
    let mut http = reqwest::Client::builder();
    if let Ok(key) = std::env::var("ES_API_KEY") {
        std::fs::write(dir.path().join("api-key"), &key).unwrap();
        extra.push_str("api_key_file = \"api-key\"\n");
    } else if let (Ok(user), Ok(password)) =
        (std::env::var("ES_USERNAME"), std::env::var("ES_PASSWORD"))
    {
        std::fs::write(dir.path().join("password"), &password).unwrap();
        extra.push_str(&format!(
            "username = \"{user}\"\npassword_file = \"password\"\n"
        ));
    }
    if let Ok(ca) = std::env::var("ES_CA_CERT") {
        extra.push_str(&format!("ca_cert = \"{ca}\"\n"));
        let pem = std::fs::read(&ca).unwrap();
        http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    if std::env::var("ES_TLS_VERIFY").as_deref() == Ok("false") {
        extra.push_str("tls_verify = false\n");
        http = http.danger_accept_invalid_certs(true);
    }
    let http = http.build().unwrap();
    let index = format!("logs-auth0.logs-{namespace}");
    let base = url.trim_end_matches('/').to_owned();
    let batch = ids("900202611211700000000000000000000000000000000", 0..20);
    let client = reqwest::Client::new();
    for round in 0..2 {
        let app = App::start(config(dir.path(), &url, &extra)).await.unwrap();
        let addr = app.webhook_addr().unwrap();
        assert_eq!(post_plain(&client, addr, body(&batch)).await, 200);
        let metrics = Arc::clone(app.metrics());
        wait_until(
            Duration::from_secs(60),
            "acknowledged by the cluster",
            || metrics.spool_acked.load(Ordering::Relaxed) == 20,
        )
        .await;
        app.stop().await.unwrap();
        let (indexed, duplicates) = (
            metrics.documents_written_es.load(Ordering::Relaxed),
            metrics.documents_duplicate_es.load(Ordering::Relaxed),
        );
        assert_eq!(metrics.events_rejected_output.load(Ordering::Relaxed), 0);
        if round == 0 {
            assert_eq!((indexed, duplicates), (20, 0));
        } else {
            assert_eq!(
                (indexed, duplicates),
                (0, 20),
                "the second round is all 409s"
            );
        }
        assert_eq!(es_count(&http, &base, &index).await, 20);
    }
    let _ = authorize(http.delete(format!("{base}/_data_stream/{index}")))
        .send()
        .await;
}

/// Adds the `ES_*` credentials to a request.
fn authorize(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    if let Ok(key) = std::env::var("ES_API_KEY") {
        request.header("authorization", format!("ApiKey {key}"))
    } else if let (Ok(user), Ok(password)) =
        (std::env::var("ES_USERNAME"), std::env::var("ES_PASSWORD"))
    {
        request.basic_auth(user, Some(password))
    } else {
        request
    }
}

/// Documents in `index` after a refresh.
async fn es_count(http: &reqwest::Client, base: &str, index: &str) -> u64 {
    let _ = authorize(http.post(format!("{base}/{index}/_refresh")))
        .send()
        .await;
    let response = authorize(http.get(format!("{base}/{index}/_count")))
        .send()
        .await
        .unwrap();
    let value: serde_json::Value = response.json().await.unwrap_or_default();
    value["count"].as_u64().unwrap_or(0)
}
