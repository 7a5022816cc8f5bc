//! The client side of the admin listener: the `status` command (fetch
//! `/status`, print a short summary, exit by health) and the `replay`
//! command (post dead letters or webhook bodies to `POST /replay`, then
//! move replayed dead-letter files aside).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde_json::value::RawValue;
use serde_json::Value;
use time::OffsetDateTime;

use super::format::thousands;

use super::settings::Config;
use crate::error_chain::error_chain;
use crate::secret::Secret;
use crate::spool::dead_letter;

/// The `status` command's exit code when the agent cannot be asked.
pub const EXIT_UNREACHABLE: u8 = 3;
/// Most events per replay request.
const REPLAY_BATCH_EVENTS: usize = 1000;
/// Most bytes per replay request (the agent takes 16 MiB by default).
const REPLAY_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Attempts of one replay request the agent answers `503` (spool full).
const REPLAY_ATTEMPTS: u32 = 30;
/// Time one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the agent could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `admin.listen = ""`.
    #[error("the admin listener is off (`admin.listen = \"\"`)")]
    Off,
    /// Connecting or reading failed.
    #[error("cannot reach the agent at {url}: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The agent answered with an unexpected status.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The body's start.
        body: String,
    },
}

/// Where the admin listener is and how to authenticate.
#[derive(Debug)]
pub struct Target {
    base: String,
    token: Option<Secret<String>>,
    http: reqwest::Client,
}

impl Target {
    /// The listener of `config` (an unspecified address is asked on loopback).
    pub fn new(config: &Config) -> Result<Target, ClientError> {
        let mut address = config.listen.ok_or(ClientError::Off)?;
        if address.ip().is_unspecified() {
            address.set_ip(match address {
                std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| ClientError::Unreachable {
                url: address.to_string(),
                reason: error.to_string(),
            })?;
        Ok(Target {
            base: format!("http://{address}"),
            token: config.tokens.first().cloned(),
            http,
        })
    }

    /// Sends one request (with `body`, if any) and reads the whole answer,
    /// whatever its status.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<bytes::Bytes>,
    ) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.header(reqwest::header::AUTHORIZATION, token.expose());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let unreachable = |error: reqwest::Error| ClientError::Unreachable {
            url: url.clone(),
            reason: error_chain(&error),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let retry_after = crate::backoff::retry_after(response.headers());
        let body = response.bytes().await.map_err(unreachable)?;
        Ok(Answer {
            url,
            status,
            retry_after,
            body,
        })
    }

    /// `GET /status`, parsed.
    pub async fn status(&self) -> Result<Value, ClientError> {
        let answer = self.send(reqwest::Method::GET, "/status", None).await?;
        if answer.status != 200 {
            return Err(answer.refused());
        }
        serde_json::from_slice(&answer.body).map_err(|error| ClientError::Unreachable {
            url: answer.url,
            reason: format!("not a status document: {error}"),
        })
    }
}

/// The listener's answer to one request.
struct Answer {
    url: String,
    status: u16,
    retry_after: Option<Duration>,
    body: bytes::Bytes,
}

impl Answer {
    /// An answer the command cannot use, as an error quoting the body's start.
    fn refused(self) -> ClientError {
        ClientError::Status {
            url: self.url,
            status: self.status,
            body: String::from_utf8_lossy(&self.body[..self.body.len().min(200)])
                .trim()
                .to_owned(),
        }
    }
}

/// The health of a `/status` document as the `status` command's exit
/// code: 0 ok, 1 degraded, 2 failing.
pub fn exit_code(status: &Value) -> u8 {
    match status.get("status").and_then(Value::as_str) {
        Some("ok") => 0,
        Some("degraded") => 1,
        _ => 2,
    }
}

/// A short human summary of a `/status` document, like `systemctl status`.
pub fn summary(status: &Value, now: OffsetDateTime) -> String {
    let mut out = String::new();
    let when = |value: &Value, key: &str| when(value, key, now);
    let health = text(status, "status").unwrap_or_else(|| "unknown".to_owned());
    let _ = writeln!(
        out,
        "auth0-ingest {}: {health}",
        text(status, "version").unwrap_or_default()
    );
    let _ = writeln!(out, "  started:      {}", when(status, "started_at"));
    let _ = writeln!(
        out,
        "  agent:        pid {}, config {}",
        status
            .get("pid")
            .and_then(Value::as_u64)
            .map_or_else(|| "unknown".to_owned(), |pid| pid.to_string()),
        text(status, "config").unwrap_or_else(|| "unknown".to_owned())
    );
    for reason in status
        .get("reasons")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let _ = writeln!(
            out,
            "  reason:       {}",
            reason.as_str().unwrap_or_default()
        );
    }
    if let Some(spool) = status.get("spool") {
        let bytes = number(spool, "backlog_bytes");
        let max = number(spool, "max_bytes").max(1);
        let _ = writeln!(
            out,
            "  backlog:      {} events, {} of {} ({:.0} %), oldest {}",
            thousands(number(spool, "backlog_events")),
            bytesize::ByteSize(bytes),
            bytesize::ByteSize(max),
            bytes as f64 * 100.0 / max as f64,
            match text(spool, "oldest_unacked_at") {
                None => "none".to_owned(),
                Some(at) => ago(&at, now),
            }
        );
    }
    if let Some(inputs) = status.get("inputs") {
        write_inputs(&mut out, inputs, now);
    }
    for (name, output) in status
        .get("outputs")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let up = output
            .get("reachable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let failures = number(output, "consecutive_failures");
        let _ = writeln!(
            out,
            "  output {name}: {}, last success {}{}",
            if up {
                "up".to_owned()
            } else if failures == 0 {
                "DOWN (unreachable)".to_owned()
            } else {
                let attempts = if failures == 1 { "attempt" } else { "attempts" };
                format!("DOWN ({failures} failed {attempts})")
            },
            when(output, "last_success_at"),
            if up {
                String::new()
            } else {
                last_error(output)
            }
        );
    }
    if let Some(dead) = status.get("dead_letters") {
        let _ = writeln!(
            out,
            "  dead letters: {} ({})",
            thousands(number(dead, "count")),
            bytesize::ByteSize(number(dead, "bytes"))
        );
    }
    let errors = status
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !errors.is_empty() {
        let _ = writeln!(out, "  last errors:");
        for error in errors.iter().rev() {
            let _ = writeln!(
                out,
                "    {} {}: {}",
                text(error, "at").unwrap_or_default(),
                text(error, "component").unwrap_or_default(),
                text(error, "message").unwrap_or_default()
            );
        }
    }
    out
}

/// The webhook's and the poller's lines of the summary.
fn write_inputs(out: &mut String, inputs: &Value, now: OffsetDateTime) {
    let when = |value: &Value, key: &str| when(value, key, now);
    if let Some(webhook) = inputs.get("webhook") {
        let requests = webhook.get("requests").cloned().unwrap_or(Value::Null);
        let _ = writeln!(
            out,
            "  webhook:      last accepted {}; requests ok {}, unauthorized {}, invalid {}, unavailable {}",
            when(webhook, "last_accepted_at"),
            number(&requests, "ok"),
            number(&requests, "unauthorized"),
            number(&requests, "invalid"),
            number(&requests, "unavailable"),
        );
    }
    if let Some(poller) = inputs.get("poller") {
        let lag = poller
            .get("lag_seconds")
            .and_then(Value::as_f64)
            .map_or("unknown".to_owned(), |lag| format!("{lag:.0} s"));
        let _ = writeln!(
            out,
            "  poller:       last success {}, lag {lag}{}",
            when(poller, "last_success_at"),
            last_error(poller)
        );
    }
}

/// `key`'s string value.
fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// `key`'s count, 0 when absent.
fn number(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// `key`'s time and how long ago it was, or `never`.
fn when(value: &Value, key: &str, now: OffsetDateTime) -> String {
    match text(value, key) {
        None => "never".to_owned(),
        Some(at) => format!("{at} ({})", ago(&at, now)),
    }
}

fn last_error(value: &Value) -> String {
    match value.get("last_error").filter(|error| !error.is_null()) {
        None => String::new(),
        Some(error) => format!(
            "; last error at {}: {}",
            error.get("at").and_then(Value::as_str).unwrap_or_default(),
            error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
    }
}

fn ago(at: &str, now: OffsetDateTime) -> String {
    match OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339) {
        Ok(at) => {
            let seconds = (now - at).whole_seconds().max(0).unsigned_abs();
            format!(
                "{} ago",
                humantime::format_duration(Duration::from_secs(seconds))
            )
        }
        Err(_) => at.to_owned(),
    }
}

/// What a replay did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Events the agent spooled.
    pub accepted: u64,
    /// Items it dead-lettered again.
    pub rejected: u64,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A file could not be read or moved.
    #[error("`{path}`: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The agent did not take a request.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// One file's outcome: what was replayed, and where a dead-letter file went.
#[derive(Debug)]
pub struct FileReplay {
    /// Counts.
    pub replayed: Replayed,
    /// The `dead-letter.ndjson.replayed-<time>` it was moved to.
    pub moved_to: Option<PathBuf>,
}

/// Replays one file: a dead-letter file (each line's `raw`/`raw_base64`)
/// or any body the webhook accepts (posted whole). The agent's live
/// `dead-letter.ndjson` is first moved aside to
/// `dead-letter.ndjson.replayed-<time>` (the agent then starts a new one
/// for what it rejects meanwhile), then replayed from there; it is never
/// deleted.
pub async fn replay_file(target: &Target, path: &Path) -> Result<FileReplay, ReplayError> {
    let file_error = |source| ReplayError::File {
        path: path.to_owned(),
        source,
    };
    let mut moved_to = None;
    let mut source = path.to_owned();
    if path
        .file_name()
        .is_some_and(|name| name == dead_letter::FILE_NAME)
    {
        let stamp = OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_default();
        let aside = path.with_file_name(format!("{}.replayed-{stamp}", dead_letter::FILE_NAME));
        if std::fs::symlink_metadata(&aside).is_ok() {
            return Err(file_error(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("`{}` exists; wait a second and retry", aside.display()),
            )));
        }
        std::fs::rename(path, &aside).map_err(file_error)?;
        source = aside.clone();
        moved_to = Some(aside);
    }
    let bytes = std::fs::read(&source).map_err(|source_error| ReplayError::File {
        path: source.clone(),
        source: source_error,
    })?;
    let items = dead_letter_items(&bytes).map_err(|error| ReplayError::File {
        path: source.clone(),
        source: error,
    })?;
    let bodies = match items {
        Some(items) => batches(items),
        None => vec![bytes],
    };
    let mut replayed = Replayed::default();
    for body in bodies {
        let answer = post(target, body).await?;
        replayed.accepted += answer.accepted;
        replayed.rejected += answer.rejected;
    }
    Ok(FileReplay { replayed, moved_to })
}

/// The largest item a dead-letter line may decompress to: a whole body
/// kept gzipped (`raw_gzip_base64`) is at most `webhook.max_body_bytes`;
/// this bounds what a damaged or hostile file can make `replay` allocate.
const MAX_ITEM_BYTES: u64 = 1 << 30;

/// The raw items of a dead-letter file (each entry's `raw`, `raw_base64`
/// or `raw_gzip_base64`), or `Ok(None)` when the file is not one (its
/// first line is not a dead-letter entry). An entry whose bytes cannot be
/// decoded is an error naming its line, never skipped.
fn dead_letter_items(bytes: &[u8]) -> std::io::Result<Option<Vec<Vec<u8>>>> {
    let mut items = Vec::new();
    for (index, line) in bytes.split(|&byte| byte == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let entry: Option<Value> = serde_json::from_slice::<Value>(line)
            .ok()
            .filter(|entry| entry.get("stage").is_some());
        let Some(entry) = entry else {
            if index == 0 {
                return Ok(None);
            }
            tracing::warn!(line = index + 1, "not a dead-letter line; skipped");
            continue;
        };
        match raw_of(&entry) {
            Some(item) => items.push(item),
            None => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "line {}: a dead-letter entry without readable raw bytes",
                        index + 1
                    ),
                ))
            }
        }
    }
    Ok(Some(items))
}

/// The bytes a dead-letter entry keeps.
fn raw_of(entry: &Value) -> Option<Vec<u8>> {
    let engine = &base64::engine::general_purpose::STANDARD;
    if let Some(raw) = entry.get("raw").and_then(Value::as_str) {
        return Some(raw.as_bytes().to_vec());
    }
    if let Some(encoded) = entry.get("raw_base64").and_then(Value::as_str) {
        return engine.decode(encoded).ok();
    }
    let compressed = engine
        .decode(entry.get("raw_gzip_base64").and_then(Value::as_str)?)
        .ok()?;
    let mut item = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(
            flate2::read::MultiGzDecoder::new(&compressed[..]),
            MAX_ITEM_BYTES + 1,
        ),
        &mut item,
    )
    .ok()?;
    (item.len() as u64 <= MAX_ITEM_BYTES).then_some(item)
}

/// Groups items into request bodies: JSON values go into JSON arrays of at
/// most [`REPLAY_BATCH_EVENTS`] / [`REPLAY_BATCH_BYTES`]; anything else is
/// posted alone (and comes back rejected, dead-lettered again).
fn batches(items: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut bodies = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut count = 0;
    for item in items {
        if serde_json::from_slice::<&RawValue>(&item).is_err() {
            bodies.push(item);
            continue;
        }
        if count > 0
            && (count >= REPLAY_BATCH_EVENTS || current.len() + item.len() + 2 > REPLAY_BATCH_BYTES)
        {
            current.push(b']');
            bodies.push(std::mem::take(&mut current));
            count = 0;
        }
        current.push(if count == 0 { b'[' } else { b',' });
        current.extend_from_slice(&item);
        count += 1;
    }
    if count > 0 {
        current.push(b']');
        bodies.push(current);
    }
    bodies
}

async fn post(target: &Target, body: Vec<u8>) -> Result<Replayed, ClientError> {
    let body = bytes::Bytes::from(body);
    let mut attempt = 0;
    loop {
        let answer = target
            .send(reqwest::Method::POST, "/replay", Some(body.clone()))
            .await?;
        let counts = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .map(|value| Replayed {
                accepted: value.get("accepted").and_then(Value::as_u64).unwrap_or(0),
                rejected: value.get("rejected").and_then(Value::as_u64).unwrap_or(0),
            });
        match (answer.status, counts) {
            (200 | 400, Some(counts)) => return Ok(counts),
            (503, _) if attempt + 1 < REPLAY_ATTEMPTS => {
                attempt += 1;
                let wait = answer.retry_after.map_or(1, |wait| wait.as_secs());
                tokio::time::sleep(Duration::from_secs(wait.clamp(1, 30))).await;
            }
            _ => return Err(answer.refused()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_lines_become_array_bodies_and_garbage_goes_alone() {
        let mut file = Vec::new();
        let now = OffsetDateTime::now_utc();
        let input = crate::event::Input::Webhook;
        let stage = dead_letter::Stage::Output;
        let lines: [(&str, &[u8]); 4] = [
            ("mapping", br#"{"log_id":"1"}"#),
            ("bad json", b"{not json"),
            ("binary", b"{\"log_id\":\"\xff\"}"),
            ("mapping", br#"{"log_id":"2"}"#),
        ];
        for (reason, event) in lines {
            dead_letter::encode(&mut file, now, input, stage, reason, event);
        }
        let items = dead_letter_items(&file).unwrap().unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[2], b"{\"log_id\":\"\xff\"}");
        let bodies = batches(items);
        assert_eq!(
            bodies,
            [
                b"{not json".to_vec(),
                b"{\"log_id\":\"\xff\"}".to_vec(),
                br#"[{"log_id":"1"},{"log_id":"2"}]"#.to_vec(),
            ]
        );
        assert!(matches!(dead_letter_items(br#"{"log_id":"1"}"#), Ok(None)));
    }

    #[test]
    fn whole_body_entries_are_replayed_in_every_form_and_broken_ones_are_errors() {
        let now = OffsetDateTime::now_utc();
        let summary = dead_letter::BodySummary {
            rejected: 2000,
            accepted: 1,
            reasons: vec!["invalid JSON".to_owned()],
        };
        // Escaping would make these bodies larger than they are, so they
        // are kept gzipped (`raw_gzip_base64`); the first is not UTF-8.
        let binary: Vec<u8> = b"\xff\n".repeat(5000);
        let lines: Vec<u8> = b"x\n".repeat(50_000);
        let mut file = Vec::new();
        for body in [&binary, &lines] {
            dead_letter::encode_body(&mut file, now, crate::event::Input::Webhook, &summary, body);
        }
        for line in file.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
            let entry: Value = serde_json::from_slice(line).unwrap();
            assert!(entry.get("raw_gzip_base64").is_some(), "{entry}");
        }
        let items = dead_letter_items(&file).unwrap().unwrap();
        assert_eq!(items, [binary, lines]);
        // An entry whose bytes cannot be read stops the replay, named.
        let broken = br#"{"stage":"input","raw_gzip_base64":"bm90IGd6aXA="}"#;
        let error = dead_letter_items(broken).unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
    }

    #[test]
    fn the_summary_names_health_backlog_outputs_and_errors() {
        let status: Value = serde_json::from_str(
            r#"{"version":"0.1.0","config":"/etc/auth0-ingest/auth0-ingest.toml","pid":4242,"started_at":"2026-12-01T09:00:00Z","status":"degraded",
                "reasons":["output elasticsearch is retrying (3 failed attempts): connection refused"],
                "spool":{"backlog_events":1234,"backlog_bytes":2048,"max_bytes":1073741824,"oldest_unacked_at":"2026-12-01T09:58:00Z","writable":true},
                "inputs":{"webhook":{"last_request_at":null,"last_accepted_at":null,"requests":{"ok":3,"unauthorized":1,"invalid":0,"unavailable":0}}},
                "outputs":{"elasticsearch":{"last_success_at":null,"last_error":{"at":"2026-12-01T09:59:00Z","message":"connection refused"},"consecutive_failures":3,"reachable":false}},
                "dead_letters":{"count":2,"bytes":300},
                "errors":[{"at":"2026-12-01T09:59:00Z","component":"elasticsearch","message":"connection refused"}]}"#,
        )
        .unwrap();
        let now = OffsetDateTime::parse(
            "2026-12-01T10:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let text = summary(&status, now);
        assert!(text.starts_with("auth0-ingest 0.1.0: degraded\n"), "{text}");
        assert!(text.contains("backlog:      1,234 events"), "{text}");
        assert!(
            text.contains("agent:        pid 4242, config /etc/auth0-ingest/auth0-ingest.toml\n"),
            "{text}"
        );
        assert!(text.contains("oldest 2m ago"), "{text}");
        assert!(
            text.contains("output elasticsearch: DOWN (3 failed attempts)"),
            "{text}"
        );
        assert!(
            text.contains("2026-12-01T09:59:00Z elasticsearch: connection refused"),
            "{text}"
        );
        assert_eq!(exit_code(&status), 1);
    }
}
