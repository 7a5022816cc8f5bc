//! [`LogEvent`] + enrichment → ECS document, written straight to JSON.
//!
//! Field for field what Elastic's Auth0 integration 1.23 produces (see
//! `fields/README.md` for the list and the differences), plus what the
//! agent adds in Elastic's world (`data_stream.*`, `event.dataset`,
//! `event.module`, `event.ingested`, `input.type`, `tags`, `agent.*`).
//! Where Elastic fails an event we do not: a bad `date` falls back to the
//! time in the `log_id`, then the receive time, with `error.message` saying
//! so and `event.original` kept; values of the wrong JSON type are coerced
//! so that every field always has one type (see `coerce::Kind`).

use std::borrow::Cow;
use std::net::IpAddr;

use time::OffsetDateTime;

use super::coerce::{boolean, coerce_keyword, keyword, kind, to_long, Kind};
use super::dates::{
    format_timestamp, is_strict_date, log_id_time, parse_date, push_quoted_timestamp, unix_ms,
};
use super::decode::LogEvent;
use super::enrich::ua::names_client;
use super::inner::Inner;
use super::json::{Value, Writer};
use super::mgmt;
use super::types::Type;
use super::users::Users;
use crate::event::{sha256_id, Document, LogId, RawEvent, MAX_ID_BYTES};

/// The ECS version documents claim.
pub const ECS_VERSION: &str = "8.11.0";
/// `data_stream.type`.
pub const DATA_STREAM_TYPE: &str = "logs";
/// `data_stream.dataset` and `event.dataset`.
pub const DATASET: &str = "auth0.logs";
/// `event.module`.
pub const MODULE: &str = "auth0";
/// `agent.type`.
pub const AGENT_TYPE: &str = "auth0-ingest";

/// The parts of an event the document is written from.
struct Mapped<'a> {
    timestamp: OffsetDateTime,
    notes: Vec<String>,
    log_id: Option<Cow<'a, str>>,
    code: Option<Cow<'a, str>>,
    /// The parsed address and its text as sent (trimmed), which Elastic
    /// copies to `source.ip` as it is.
    source_ip: Option<(IpAddr, Cow<'a, str>)>,
    user_name: Option<Cow<'a, str>>,
    user_id: Option<Cow<'a, str>>,
    user_agent: Option<Cow<'a, str>>,
    log_level_error: bool,
    login: Login,
    /// `details.request` / `details.response` of Management API events.
    management: mgmt::Request<'a>,
    data: Vec<(Cow<'a, str>, Value<'a>)>,
}

#[derive(Default)]
struct Login {
    initiated_at: Option<String>,
    completed_at: Option<String>,
    elapsed_time: Option<i64>,
    logins_count: Option<i64>,
}

/// Builds the document of one event.
/// `note`, when given, marks a salvaged event (see `salvage`): it leads
/// `error.message`, `event.original` is kept and the document is tagged.
/// `original`, when given, is `event.original` already obfuscated by
/// `[pii]` (else it is derived from `raw` when needed).
pub(crate) fn document(
    inner: &Inner,
    raw: &RawEvent,
    log: LogEvent<'_>,
    now: OffsetDateTime,
    note: Option<String>,
    original: Option<&str>,
) -> Document {
    let envelope_id = log.envelope_id.clone();
    let salvaged = note.is_some();
    let mut mapped = map(log, envelope_id.as_deref(), raw.received_at);
    // [pii] ip = "truncate": nested addresses, now that the mapping has
    // taken the full `ip` for the lookups.
    inner.pii.truncate_mapped(&mut mapped.data);
    if let Some(note) = note {
        mapped.notes.insert(0, note);
    }
    // One order for `_id` and `event.id`: the envelope's id first, so that
    // the two never disagree. A `log_id` longer than Elasticsearch's `_id`
    // limit is replaced in both by its digest (`event.original` keeps it).
    let hashed_id = envelope_id
        .as_deref()
        .or(mapped.log_id.as_deref())
        .filter(|id| id.len() > MAX_ID_BYTES)
        .map(|id| (id.len(), sha256_id(id.as_bytes())));
    if let Some((length, _)) = &hashed_id {
        mapped.notes.push(format!(
            "log_id of {length} bytes is longer than {MAX_ID_BYTES}; event.id is its SHA-256"
        ));
    }
    let event_id = match &hashed_id {
        Some((_, id)) => Some(id.as_str()),
        None => envelope_id.as_deref().or(mapped.log_id.as_deref()),
    };
    let id = event_id.map(|id| LogId(id.to_owned()));
    let known = mapped
        .code
        .as_deref()
        .and_then(|code| inner.types.get(code));
    let keep_original = inner.config.preserve_original_event || !mapped.notes.is_empty();
    let context = Context {
        inner,
        raw,
        mapped: &mapped,
        known,
        event_id,
        now,
        salvaged,
        keep_original,
        original,
    };
    let mut json = String::with_capacity(raw.bytes.len() + 1024);
    json.push('{');
    write(&mut Writer::new(&mut json), &context);
    json.push('}');
    Document { id, json }
}

fn map<'a>(
    log: LogEvent<'a>,
    envelope_id: Option<&str>,
    received_at: OffsetDateTime,
) -> Mapped<'a> {
    let mut notes = Vec::new();
    let mut date = None;
    let mut mapped = Mapped {
        timestamp: received_at,
        notes: Vec::new(),
        log_id: None,
        code: None,
        source_ip: None,
        user_name: None,
        user_id: None,
        user_agent: None,
        log_level_error: false,
        login: Login::default(),
        management: mgmt::Request::default(),
        data: Vec::with_capacity(log.data.len() + 4),
    };
    let mut bad_ip = None;
    let mut is_mobile: Option<Value<'_>> = None;
    let mut details: Option<Value<'_>> = None;
    for (key, value) in log.data {
        match &*key {
            "date" => date = Some(value),
            "type" => mapped.code = keyword(value),
            "log_id" => mapped.log_id = keyword(value),
            "ip" => {
                if let Some(text) = keyword(value) {
                    match text.trim().parse::<IpAddr>() {
                        Ok(address) => {
                            let text = match text {
                                Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
                                Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
                            };
                            mapped.source_ip = Some((address, text));
                        }
                        // Noted once `details.request.ip` is known.
                        Err(_) => bad_ip = Some((notes.len(), text)),
                    }
                }
            }
            "user_name" => mapped.user_name = keyword(value),
            "user_id" => mapped.user_id = keyword(value),
            "user_agent" => mapped.user_agent = keyword(value),
            "_id" | "type_id" | "classification" | "login" => {}
            "isMobile" => {
                if is_mobile.is_none() {
                    is_mobile = Some(value);
                }
            }
            "is_mobile" => is_mobile = Some(value),
            "details" => details = Some(value),
            "$event_schema" => {
                let mut value = value;
                if let Value::Object(members) = &mut value {
                    members.retain(|(name, _)| name != "version");
                }
                mapped.data.push((key, value));
            }
            _ => mapped.data.push((key, value)),
        }
    }

    set_timestamp(&mut mapped, date, envelope_id, &mut notes);

    if let Some(mut details) = details {
        read_details(&mut mapped, &mut details, &mut notes);
        mapped.data.push((Cow::Borrowed("details"), details));
    }
    // A Management API event's request address stands in for a missing or
    // unusable `ip`.
    if mapped.source_ip.is_none() {
        mapped.source_ip = mapped.management.ip.take();
    }
    if let Some((position, text)) = bad_ip {
        let note = match &mapped.source_ip {
            Some(_) => {
                format!("`ip` `{text}` is not an IP address; source.ip is `details.request.ip`")
            }
            None => format!("`ip` `{text}` is not an IP address; no source.ip"),
        };
        notes.insert(position, note);
    }
    if let Some(value) = is_mobile.and_then(boolean) {
        mapped
            .data
            .push((Cow::Borrowed("is_mobile"), Value::Bool(value)));
    }

    coerce_data(&mut mapped, &mut notes);
    mapped.notes = notes;
    mapped
}

/// `@timestamp` from `date` (kept as sent when Elasticsearch's date format
/// takes it), else from the `log_id`, else the receive time, with a note.
fn set_timestamp<'a>(
    mapped: &mut Mapped<'a>,
    date: Option<Value<'a>>,
    envelope_id: Option<&str>,
    notes: &mut Vec<String>,
) {
    match date.as_ref().map(parse_date) {
        Some(Ok(timestamp)) => {
            mapped.timestamp = timestamp;
            // Kept as sent when Elasticsearch's default date format
            // (`strict_date_optional_time`) takes it, else normalised, so the
            // `date` field never rejects a document.
            let date = match date {
                Some(Value::String(text)) if is_strict_date(&text) => Value::String(text),
                _ => Value::String(Cow::Owned(format_timestamp(timestamp))),
            };
            mapped.data.push((Cow::Borrowed("date"), date));
        }
        failure => {
            let why = match failure {
                Some(Err(why)) => why,
                _ => "event has no `date`".to_owned(),
            };
            match mapped
                .log_id
                .as_deref()
                .or(envelope_id)
                .and_then(log_id_time)
            {
                Some(timestamp) => {
                    mapped.timestamp = timestamp;
                    notes.push(format!("{why}; @timestamp is the time in the log_id"));
                }
                None => notes.push(format!("{why}; @timestamp is the receive time")),
            }
        }
    }
}

/// What the mapping reads from `details`: the error flag, the login times
/// and counts (normalised in place), the Management API request/response.
fn read_details<'a>(mapped: &mut Mapped<'a>, details: &mut Value<'a>, notes: &mut Vec<String>) {
    if let Value::Object(members) = details {
        mapped.log_level_error = members
            .iter()
            .any(|(key, value)| key == "error" && !value.is_null());
        for (key, value) in members.iter_mut() {
            match &**key {
                "initiatedAt" | "completedAt" if !value.is_null() => {
                    let target = if key == "initiatedAt" {
                        &mut mapped.login.initiated_at
                    } else {
                        &mut mapped.login.completed_at
                    };
                    match to_long(value).and_then(|millis| Some((millis, unix_ms(millis)?))) {
                        Some((millis, date)) => {
                            *value = Value::Number(millis.into());
                            *target = Some(date);
                        }
                        None => notes.push(format!(
                            "`details.{key}` `{value}` is not a time in milliseconds"
                        )),
                    }
                }
                "request" => mapped.management.read_request(value),
                "response" => mapped.management.read_response(value, notes),
                "elapsedTime" if !value.is_null() => match to_long(value) {
                    Some(elapsed) => mapped.login.elapsed_time = Some(elapsed),
                    None => notes.push(format!("`details.elapsedTime` `{value}` is not a number")),
                },
                "stats" if mapped.code.as_deref() == Some("s") => {
                    if let Some(count) = value.get("loginsCount").filter(|count| !count.is_null()) {
                        match to_long(count) {
                            Some(count) => mapped.login.logins_count = Some(count),
                            None => notes.push(format!(
                                "`details.stats.loginsCount` `{count}` is not a number"
                            )),
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Renames the keys Elasticsearch rejects, coerces each field to one JSON
/// type, and sweeps empty values.
fn coerce_data(mapped: &mut Mapped<'_>, notes: &mut Vec<String>) {
    // Keys Elasticsearch rejects are renamed first, so that the coercion
    // below sees the names that are written.
    let mut data = std::mem::take(&mut mapped.data);
    let mut renames = Renames::default();
    rename_members(&mut data, is_reserved, &mut renames);
    // Coerce to one JSON type per field, then Elastic's empty sweep.
    data.retain_mut(|(key, value)| {
        if key == "date" {
            return true;
        }
        match kind(key) {
            Kind::Keyword => coerce_keyword(value),
            Kind::Flattened => {
                if !matches!(value, Value::Object(_)) && !value.is_null() {
                    let inner = std::mem::replace(value, Value::Null);
                    *value = Value::Object(vec![(Cow::Borrowed("value"), inner)]);
                }
            }
            Kind::KeywordGroup => match value {
                Value::Object(members) => {
                    rename_members(members, |_| false, &mut renames);
                    members
                        .iter_mut()
                        .for_each(|(_, member)| coerce_keyword(member));
                }
                _ => *value = Value::Null,
            },
            Kind::Unmapped => rename_tree(value, &mut renames),
            Kind::Boolean => {}
        }
        !value.sweep()
    });
    mapped.data = data;
    if let Some(note) = renames.note() {
        notes.push(note);
    }
}

/// Keys renamed because Elasticsearch would reject them.
#[derive(Default)]
struct Renames {
    count: usize,
    /// The first few, as `` `old` as `new` ``.
    examples: Vec<String>,
}

/// How many renamed keys the note names.
const RENAME_EXAMPLES: usize = 3;

impl Renames {
    fn push(&mut self, old: &str, new: &str) {
        self.count += 1;
        if self.examples.len() < RENAME_EXAMPLES {
            self.examples.push(format!("`{old}` as `{new}`"));
        }
    }

    fn note(&self) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let more = self.count - self.examples.len();
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        Some(format!(
            "renamed {} `auth0.logs.data` key(s) Elasticsearch rejects: {}{more}",
            self.count,
            self.examples.join(", ")
        ))
    }
}

/// Whether a top-level member of `auth0.logs.data` named `name` would be
/// mapped or written by us, so that a renamed key must not take the name.
fn is_reserved(name: &str) -> bool {
    kind(name) != Kind::Unmapped
        || matches!(
            name,
            "classification" | "date" | "login" | "type" | "type_id"
        )
}

/// Whether Elasticsearch could reject `key` as a field name: empty or blank
/// keys always, and any dot, since a dotted key is a path whose parts may
/// be empty (`a.`, `.`) or name a mapped leaf (`client_id.x`).
fn needs_rename(key: &str) -> bool {
    key.trim().is_empty() || key.contains('.')
}

/// Renames the keys of `members` that [`needs_rename`]: blank keys as
/// `_empty`, dots as `_`, with `_2`, `_3`… added when the name is taken by
/// another member or `reserved`. Keys stay unique, as Elasticsearch's
/// duplicate-key check demands.
fn rename_members<'a>(
    members: &mut [(Cow<'a, str>, Value<'a>)],
    reserved: impl Fn(&str) -> bool,
    renames: &mut Renames,
) {
    if !members.iter().any(|(key, _)| needs_rename(key)) {
        return;
    }
    for index in 0..members.len() {
        let key = &members[index].0;
        if !needs_rename(key) {
            continue;
        }
        let base = if key.trim().is_empty() {
            "_empty".to_owned()
        } else {
            key.replace('.', "_")
        };
        let mut name = base.clone();
        let mut suffix = 1;
        while reserved(&name) || members.iter().any(|(other, _)| *other == name) {
            suffix += 1;
            name = format!("{base}_{suffix}");
        }
        renames.push(&members[index].0, &name);
        // Owned: the old key may have needed escaping, and so may the new.
        members[index].0 = Cow::Owned(name);
    }
}

/// [`rename_members`] on every object in an unmapped subtree.
fn rename_tree(value: &mut Value<'_>, renames: &mut Renames) {
    match value {
        Value::Object(members) => {
            rename_members(members, |_| false, renames);
            for (_, member) in members.iter_mut() {
                rename_tree(member, renames);
            }
        }
        Value::Array(elements) => {
            for element in elements.iter_mut() {
                rename_tree(element, renames);
            }
        }
        _ => {}
    }
}

/// One document as it is written: the event, its mapping, and what was
/// decided about it once for all its fields.
struct Context<'a> {
    inner: &'a Inner,
    raw: &'a RawEvent,
    mapped: &'a Mapped<'a>,
    /// The type code's row of the type table.
    known: Option<&'a Type>,
    event_id: Option<&'a str>,
    /// `event.ingested`.
    now: OffsetDateTime,
    /// Salvaged: tagged `auth0_ingest_salvaged` (and `event.original` kept).
    salvaged: bool,
    /// `event.original` is written (configured, or the event has a note).
    keep_original: bool,
    /// `event.original` already obfuscated by `[pii]` (else it is derived
    /// from the raw bytes when needed).
    original: Option<&'a str>,
}

fn write(writer: &mut Writer<'_>, context: &Context<'_>) {
    let (inner, mapped, known) = (context.inner, context.mapped, context.known);
    let config = &inner.config;

    writer.raw_with("@timestamp", |out| {
        push_quoted_timestamp(out, mapped.timestamp)
    });
    writer.object("agent", |agent| {
        agent.str("type", AGENT_TYPE);
        agent.str("version", env!("CARGO_PKG_VERSION"));
    });
    write_auth0(writer, mapped, known);
    writer.object("data_stream", |data_stream| {
        data_stream.str("dataset", DATASET);
        data_stream.str("namespace", &config.namespace);
        data_stream.str("type", DATA_STREAM_TYPE);
    });
    writer.object("ecs", |ecs| ecs.str("version", ECS_VERSION));
    if !mapped.notes.is_empty() {
        writer.object("error", |error| {
            error.str("message", &mapped.notes.join("; "))
        });
    }
    write_event(writer, context);
    mapped.management.write_http(writer);
    writer.object("input", |input| {
        input.str("type", context.raw.input.as_str())
    });
    writer.object("log", |log| {
        log.str(
            "level",
            if mapped.log_level_error {
                "error"
            } else {
                "info"
            },
        );
    });
    if let Some((address, _)) = &mapped.source_ip {
        writer.object("network", |network| {
            network.str("type", if address.is_ipv6() { "ipv6" } else { "ipv4" });
        });
    }

    let management = &mapped.management;
    let users = Users::resolve(
        mapped.user_id.as_deref(),
        mapped.user_name.as_deref(),
        Some(&management.actor),
    );
    users.write_related(writer);
    if let Some((address, text)) = &mapped.source_ip {
        let rendered = inner.enrichers.geo.lookup(*address);
        writer.object("source", |source| {
            source.members(&rendered.autonomous_system);
            source.members(&rendered.geo);
            // [pii] ip = "truncate": after the lookups used the full address.
            source.str("ip", &inner.pii.source_ip(*address, text));
        });
    }
    let tags = inner.tags.of(context.salvaged, context.keep_original);
    if !tags.is_empty() {
        writer.raw("tags", tags);
    }
    management.write_url(writer);
    users.write_user(writer);
    write_user_agent(writer, inner, mapped);
}

/// `auth0.logs.data`: the event's own fields, the type's description and
/// classification, and the login times and counts.
fn write_auth0(writer: &mut Writer<'_>, mapped: &Mapped<'_>, known: Option<&Type>) {
    writer.object("auth0", |auth0| {
        auth0.object("logs", |logs| {
            logs.object("data", |data| {
                for (key, value) in &mapped.data {
                    data.member(key, value);
                }
                if let Some(code) = mapped.code.as_deref() {
                    data.str(
                        "type",
                        known.map_or(code, |known| known.description.as_str()),
                    );
                    data.str("type_id", code);
                    if let Some(known) = known {
                        data.str("classification", &known.classification);
                    }
                }
                let login = &mapped.login;
                if login.initiated_at.is_some()
                    || login.completed_at.is_some()
                    || login.elapsed_time.is_some()
                    || login.logins_count.is_some()
                {
                    data.object("login", |writer| {
                        if let Some(date) = &login.completed_at {
                            writer.str("completedAt", date);
                        }
                        if let Some(elapsed) = login.elapsed_time {
                            writer.i64("elapsedTime", elapsed);
                        }
                        if let Some(date) = &login.initiated_at {
                            writer.str("initiatedAt", date);
                        }
                        if let Some(count) = login.logins_count {
                            writer.object("stats", |stats| stats.i64("loginsCount", count));
                        }
                    });
                }
            });
        });
    });
}

/// `event.*`: action, categories and types from the type code, the id,
/// times, and `event.original` when it is kept.
fn write_event(writer: &mut Writer<'_>, context: &Context<'_>) {
    let (mapped, known) = (context.mapped, context.known);
    writer.object("event", |event| {
        match (mapped.code.as_deref(), known) {
            (Some(_), Some(known)) => event.str("action", &known.action),
            (Some(code), None) => event.str("action", &format!("unknown-{code}")),
            (None, _) => {}
        }
        match known {
            Some(known) => event.str_array("category", &known.event_categories),
            None => event.str_array("category", &["authentication"]),
        }
        event.str("dataset", DATASET);
        if let Some(id) = context.event_id {
            event.str("id", id);
        }
        event.raw_with("ingested", |out| push_quoted_timestamp(out, context.now));
        event.str("kind", "event");
        event.str("module", MODULE);
        if context.keep_original {
            // [pii]: the obfuscated event when obfuscation is on (a document
            // exists, so the event was read: `None` cannot happen).
            match context.original {
                Some(original) => event.str("original", original),
                None => event.str(
                    "original",
                    &context
                        .inner
                        .pii
                        .original(&context.raw.bytes)
                        .unwrap_or_default(),
                ),
            }
        }
        if let Some(known) = known {
            event.str("outcome", known.outcome);
        }
        match (mapped.code.as_deref(), known) {
            (_, Some(known)) => event.str_array("type", &known.types),
            (Some(_), None) => event.str_array("type", &["info"]),
            (None, None) => {}
        }
    });
}

/// `user_agent.*`, parsed from the event's or the Management API
/// request's user agent.
fn write_user_agent(writer: &mut Writer<'_>, inner: &Inner, mapped: &Mapped<'_>) {
    let management = &mapped.management;
    // The full string of a Management API request is parsed rather than
    // Auth0's summary (unless it names no client and the summary does);
    // `original` stays the event's `user_agent` (as Elastic has it), or is
    // the full string when there is no summary.
    let full = management.user_agent.as_deref();
    if let Some(original) = mapped.user_agent.as_deref().or(full) {
        let agents = &inner.enrichers.user_agents;
        let mut members = agents.members(full.unwrap_or(original));
        if full.is_some_and(|full| full != original) && !names_client(&members) {
            let summary = agents.members(original);
            if names_client(&summary) {
                members = summary;
            }
        }
        writer.object("user_agent", |user_agent| {
            user_agent.members(&members);
            user_agent.str("original", original);
        });
    }
}
