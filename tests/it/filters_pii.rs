//! `[filter]` and `[pii]` end to end: events in through the real webhook
//! and through the poller (against the fake Auth0 tenant), out to the file
//! output and the Elasticsearch fake at once, and through `convert` (the
//! built binary). Every output byte is searched for the clear values.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use auth0_ingest::app::App;
use auth0_ingest::config::Config;
use auth0_ingest::pipeline::filter::Category;
use auth0_ingest::telemetry::metrics::Metrics;

use super::support;
use super::support::fake_auth0::{self, FakeTenant, Options};
use super::support::fake_datadog::FakeIntake;
use super::support::fake_es::FakeEs;

const TOKEN: &str = "filters-pii-token";
/// Longest a condition may take before a test fails.
const PATIENCE: Duration = Duration::from_secs(60);
const INDEX: &str = "logs-auth0.logs-default";
const KEY: &str = "a-test-hmac-key-of-32-characters";

/// Values of configured fields that must never reach an output.
const CLEAR: &[&str] = &[
    "alice.clear@example.org",
    "example.org",
    "Aliceclearfirst",
    "Smithclearlast",
    "Alice Smithclear",
    "Alicegiven",
    "Smithfamily",
    "+33611223344",
    "+15550001111",
    "+15550002222",
    "+4915112345678",
    "12 Rue Claire",
    "aliceclearuser",
    "admin.clear@corp.example",
    "Admin Clearname",
    "top.clear@example.org",
    "198.51.100.77",
];

/// The event types sent, in order: `s` is `auth.login.success` and
/// `gd_start_auth` is `other`, both excluded below.
const TYPES: &[&str] = &["f", "s", "sapi", "gd_start_auth", "fp", "ss", "feta", "s"];
const FILTER: &str = "[filter]\nexclude = [\"auth.login.success\", \"other\"]\n";

fn pii(dir: &Path) -> String {
    std::fs::write(dir.join("pii.key"), format!("{KEY}\n")).unwrap();
    "[pii]\nfields = [\"first_name\", \"last_name\", \"email\", \"phone\", \"address\", \"username\"]\n\
     method = \"hmac-sha256\"\nkey_file = \"pii.key\"\nip = \"truncate\"\n\
     [enrich]\npreserve_original_event = true\ngeoip_city = \"\"\ngeoip_asn = \"\"\nuser_agent = \"off\"\n"
        .to_owned()
}

/// A bare Auth0 log (the API's shape) carrying every clear value.
fn log(id: &str, code: &str) -> String {
    format!(
        concat!(
            r#"{{"log_id":"{id}","date":"2026-11-21T10:00:00.120Z","type":"{code}","description":"x","#,
            r#""ip":"198.51.100.77","client_ip":"198.51.100.77","user_id":"auth0|42","#,
            r#""user_name":"alice.clear@example.org","email":"top.clear@example.org","#,
            r#""details":{{"body":{{"given_name":"Alicegiven","family_name":"Smithfamily","name":"Alice Smithclear","#,
            r#""first_name":"Aliceclearfirst","last_name":"Smithclearlast","phone_number":"+33611223344","#,
            r#""old_phone_number":"+15550001111","new_phone_number":"+15550002222","phone":["+4915112345678",7],"#,
            r#""address":"12 Rue Claire","username":"aliceclearuser","logins":3}},"#,
            r#""request":{{"method":"patch","ip":"198.51.100.77","auth":{{"user":{{"user_id":"auth0|1","#,
            r#""email":"admin.clear@corp.example","name":"Admin Clearname"}}}}}}}}}}"#
        ),
        id = id,
        code = code
    )
}

fn log_id(n: usize) -> String {
    format!("90020261121100000{n:039}")
}

/// The webhook's envelope of [`log`].
fn envelope(n: usize) -> String {
    let id = log_id(n);
    format!(
        r#"{{"log_id":"{id}","data":{}}}"#,
        log(&id, TYPES[n % TYPES.len()])
    )
}

/// HMAC-SHA-256 of `value` under [`KEY`], first 32 hex digits: computed
/// here independently of the agent.
fn hmac(value: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, KEY.as_bytes());
    let tag = ring::hmac::sign(&key, value.as_bytes());
    tag.as_ref()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[track_caller]
fn assert_no_clear_value(what: &str, text: &str) {
    for clear in CLEAR {
        assert!(
            !text.contains(clear),
            "{what} holds the clear value `{clear}`"
        );
    }
}

/// Every byte the file output wrote.
fn file_output(dir: &Path) -> String {
    let mut text = String::new();
    for path in auth0_ingest::outputs::file::list(&dir.join("out")).unwrap() {
        text.push_str(&std::fs::read_to_string(path).unwrap());
    }
    text
}

fn filtered(metrics: &Metrics, category: Category) -> u64 {
    metrics.events_filtered[category.index()].load(Ordering::Relaxed)
}

/// Checks both outputs after `total` events of [`TYPES`] (plus
/// `more_logins` filtered `s` events) went through.
fn check_outputs(dir: &Path, fake: &FakeEs, metrics: &Metrics, total: usize, more_logins: usize) {
    let excluded = |code: &&str| matches!(*code, "s" | "gd_start_auth");
    let kept: Vec<usize> = (0..total)
        .filter(|n| !excluded(&TYPES[n % TYPES.len()]))
        .collect();
    let logins = (0..total).filter(|n| TYPES[n % TYPES.len()] == "s").count() + more_logins;
    let others = (0..total)
        .filter(|n| TYPES[n % TYPES.len()] == "gd_start_auth")
        .count();
    assert_eq!(filtered(metrics, Category::LoginSuccess), logins as u64);
    assert_eq!(filtered(metrics, Category::Other), others as u64);
    let rendered = metrics.render(&Default::default());
    assert!(
        rendered.contains(&format!(
            "auth0_ingest_events_filtered_total{{category=\"auth.login.success\"}} {logins}\n"
        )),
        "{rendered}"
    );
    assert_eq!(metrics.events_rejected_pipeline.load(Ordering::Relaxed), 0);
    assert!(
        std::fs::metadata(dir.join("spool/dead-letter.ndjson"))
            .map_or(true, |meta| meta.len() == 0),
        "filtered events are never dead-lettered"
    );

    // The file output: exactly the kept events, nothing clear.
    let text = file_output(dir);
    assert_no_clear_value("the file output", &text);
    let documents: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let mut ids: Vec<String> = documents
        .iter()
        .map(|document| document["event"]["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let expected: Vec<String> = kept.iter().map(|n| log_id(*n)).collect();
    assert_eq!(ids, expected);
    for document in &documents {
        let code = document["auth0"]["logs"]["data"]["type_id"]
            .as_str()
            .unwrap();
        assert!(
            code != "s" && code != "gd_start_auth",
            "{code} not filtered"
        );
        // Derived fields follow the obfuscated value. The acting
        // administrator (details.request.auth.user) is `user`, the event's
        // own user `user.target` (issue 13); both obfuscated.
        assert_eq!(document["user"]["name"], hmac("Admin Clearname"));
        assert_eq!(document["user"]["email"], hmac("admin.clear@corp.example"));
        assert_eq!(
            document["user"]["target"]["name"],
            hmac("alice.clear@example.org")
        );
        assert!(document["user"].get("domain").is_none(), "{document}");
        assert!(
            document["user"]["target"].get("domain").is_none(),
            "{document}"
        );
        assert!(
            document["user"]["target"].get("email").is_none(),
            "{document}"
        );
        assert_eq!(
            document["related"]["user"],
            serde_json::json!([
                "auth0|1",
                hmac("Admin Clearname"),
                hmac("admin.clear@corp.example"),
                "auth0|42",
                hmac("alice.clear@example.org")
            ])
        );
        // The lookups' address, truncated; event.original obfuscated too.
        assert_eq!(document["source"]["ip"], "198.51.100.0");
        let original: serde_json::Value =
            serde_json::from_str(document["event"]["original"].as_str().unwrap()).unwrap();
        assert_eq!(
            original["data"]["details"]["request"]["auth"]["user"]["email"],
            hmac("admin.clear@corp.example")
        );
        assert_eq!(original["data"]["details"]["body"]["logins"], 3);
    }

    // Elasticsearch: the same documents, nothing clear.
    let state = fake.state.lock().unwrap();
    let stored = &state.documents[INDEX];
    let mut es_ids: Vec<String> = stored.keys().cloned().collect();
    es_ids.sort();
    assert_eq!(es_ids, expected);
    for source in stored.values() {
        assert_no_clear_value("an Elasticsearch document", source);
    }
}

fn outputs(dir: &Path, es_url: &str) -> String {
    format!(
        "[spool]\ndir = \"spool\"\n[output.file]\ndir = \"out\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [output.elasticsearch]\nhosts = [\"{es_url}\"]\nflush_interval = \"20ms\"\n{FILTER}{}",
        pii(dir)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_events_are_filtered_and_obfuscated_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeEs::start().await;
    let text = format!(
        "[webhook]\nlisten = \"127.0.0.1:0\"\ntokens = [\"{TOKEN}\"]\n{}",
        outputs(dir.path(), &fake.url())
    );
    let app = App::start(Config::from_toml(&text, dir.path()).unwrap())
        .await
        .unwrap();
    let url = format!("http://{}/auth0/logs", app.webhook_addr().unwrap());
    let client = reqwest::Client::new();
    let total = 40;
    let body: Vec<String> = (0..total).map(envelope).collect();
    let response = client
        .post(&url)
        .header("authorization", TOKEN)
        .body(body.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // A batch of filtered events only: acknowledged all the same.
    let only_filtered = format!(
        r#"{{"log_id":"{id}","data":{}}}"#,
        log(&log_id(total), "s"),
        id = log_id(total)
    );
    let response = client
        .post(&url)
        .header("authorization", TOKEN)
        .body(only_filtered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let metrics = Arc::clone(app.metrics());
    support::wait_until(PATIENCE, "every event acknowledged", || {
        metrics.spool_acked.load(Ordering::Relaxed) == total as u64 + 1
    })
    .await;
    app.stop().await.unwrap();
    check_outputs(dir.path(), &fake, &metrics, total, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_events_are_filtered_and_obfuscated_in_every_output() {
    let total = 30;
    let events: Vec<(String, String)> = (0..total)
        .map(|n| (log_id(n), log(&log_id(n), TYPES[n % TYPES.len()])))
        .collect();
    let tenant = FakeTenant::start(Options::default(), events).await;
    let fake = FakeEs::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("client-secret"),
        format!("{}\n", fake_auth0::CLIENT_SECRET),
    )
    .unwrap();
    let text = format!(
        "[poller]\nurl = \"{}\"\nclient_id = \"{}\"\nclient_secret_file = \"client-secret\"\n\
         interval = \"100ms\"\nstart_from = \"2026-11-01T00:00:00Z\"\n{}",
        tenant.url(),
        fake_auth0::CLIENT_ID,
        outputs(dir.path(), &fake.url())
    );
    let app = App::start(Config::from_toml(&text, dir.path()).unwrap())
        .await
        .unwrap();
    let metrics = Arc::clone(app.metrics());
    support::wait_until(PATIENCE, "every polled event acknowledged", || {
        metrics.spool_acked.load(Ordering::Relaxed) == total as u64
    })
    .await;
    app.stop().await.unwrap();
    assert_eq!(tenant.served_total(), total);
    check_outputs(dir.path(), &fake, &metrics, total, 0);
}

/// Datadog's `format = "auth0"` sends Auth0's own envelope: with `[pii]`,
/// the obfuscated one (the JSON `event.original` holds), filters applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datadog_s_auth0_format_gets_the_obfuscated_event() {
    const DD_KEY: &str = "0123456789abcdef0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let intake = FakeIntake::start(DD_KEY).await;
    std::fs::write(dir.path().join("dd-key"), format!("{DD_KEY}\n")).unwrap();
    let text = format!(
        "[webhook]\nlisten = \"127.0.0.1:0\"\ntokens = [\"{TOKEN}\"]\n\
         [spool]\ndir = \"spool\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [output.datadog]\nurl = \"{}\"\napi_key_file = \"dd-key\"\nflush_interval = \"20ms\"\n{FILTER}{}",
        intake.url(),
        pii(dir.path())
    );
    let app = App::start(Config::from_toml(&text, dir.path()).unwrap())
        .await
        .unwrap();
    let url = format!("http://{}/auth0/logs", app.webhook_addr().unwrap());
    let total = 16;
    let body: Vec<String> = (0..total).map(envelope).collect();
    let response = reqwest::Client::new()
        .post(&url)
        .header("authorization", TOKEN)
        .body(body.join("\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let metrics = Arc::clone(app.metrics());
    support::wait_until(PATIENCE, "every event acknowledged", || {
        metrics.spool_acked.load(Ordering::Relaxed) == total as u64
    })
    .await;
    app.stop().await.unwrap();
    let items = intake.state.lock().unwrap().items.clone();
    let kept = (0..total)
        .filter(|n| !matches!(TYPES[n % TYPES.len()], "s" | "gd_start_auth"))
        .count();
    assert_eq!(items.len(), kept, "filtered events are not sent");
    assert_no_clear_value("a Datadog item", &serde_json::to_string(&items).unwrap());
    for item in &items {
        assert_eq!(item["ddsource"], "auth0");
        assert!(item["log_id"].is_string(), "{item}");
        assert_eq!(item["data"]["user_name"], hmac("alice.clear@example.org"));
        assert_eq!(
            item["data"]["details"]["request"]["auth"]["user"]["email"],
            hmac("admin.clear@corp.example")
        );
        assert_eq!(item["data"]["ip"], "198.51.100.0");
        // Non-string values under a configured key stay as they are.
        assert_eq!(item["data"]["details"]["body"]["phone"][1], 7);
    }
}

#[test]
fn convert_applies_the_config_s_filter_and_pii() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[webhook]\nallow_unauthenticated = true\n[spool]\ndir = \"spool\"\n[output.file]\ndir = \"out\"\n{FILTER}{}",
            pii(dir.path())
        ),
    )
    .unwrap();
    let total = 16;
    let mut input: Vec<String> = (0..total).map(envelope).collect();
    // One item that is no event: skipped, so the summary line is printed.
    input.push("not json".to_owned());
    let output = support::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_auth0-ingest"))
            .args(["convert", "--config"])
            .arg(&config),
        input.join("\n").as_bytes(),
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_no_clear_value("convert's output", &stdout);
    assert_no_clear_value("convert's diagnostics", &stderr);
    let kept = (0..total)
        .filter(|n| !matches!(TYPES[n % TYPES.len()], "s" | "gd_start_auth"))
        .count();
    assert_eq!(stdout.lines().count(), kept);
    assert!(
        stderr.contains(&format!(
            "{kept} converted, 1 skipped, 0 unreadable, {} filtered",
            total - kept
        )),
        "{stderr}"
    );
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["user"]["name"], hmac("Admin Clearname"));
    assert_eq!(
        first["user"]["target"]["name"],
        hmac("alice.clear@example.org")
    );
    assert_eq!(first["source"]["ip"], "198.51.100.0");
}
