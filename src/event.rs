//! The pipeline's currency: [`RawEvent`] (what an input received, kept
//! verbatim) and [`Document`] (what an output writes).

use bytes::Bytes;
use time::OffsetDateTime;

/// Which input an event came through (the spool stores it as one byte, see
/// `spool::record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Input {
    /// An Auth0 log stream POST.
    Webhook,
    /// The Management API poller.
    Api,
    /// `auth0-ingest convert` reading a file or stdin. (`replay` posts to
    /// the admin listener, whose events are spooled as [`Input::Webhook`].)
    File,
}

/// One Auth0 log event as received: a JSON object, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// The input it came through.
    pub input: Input,
    /// When the agent received it; the fallback for `@timestamp`.
    pub received_at: OffsetDateTime,
    /// The JSON object (an `{"log_id":…,"data":{…}}` envelope or a bare log).
    pub bytes: Bytes,
}

/// Elasticsearch's limit on an `_id`, in bytes. An event whose `log_id` is
/// longer gets [`sha256_id`] of it as `_id` and `event.id` instead.
pub const MAX_ID_BYTES: usize = 512;

/// `sha256-` and the hex SHA-256 of `bytes` (71 bytes): the `_id` of a
/// document without a `log_id` (from its JSON) or with one longer than
/// [`MAX_ID_BYTES`] (from the `log_id`). The same input gives the same id,
/// so a redelivery is still a duplicate.
pub fn sha256_id(bytes: &[u8]) -> String {
    const PREFIX: &str = "sha256-";
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let hash = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut id = String::with_capacity(PREFIX.len() + 64);
    id.push_str(PREFIX);
    for byte in hash.as_ref() {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    id
}

/// The `log_id` of an event: the document `_id` that makes redelivery harmless.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogId(pub String);

/// One ECS document, serialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The event's `log_id`, when it has one.
    pub id: Option<LogId>,
    /// The document as one line of JSON (no trailing newline).
    pub json: String,
}

impl Input {
    /// The name used in `input.type`, metrics labels and dead letters.
    pub fn as_str(self) -> &'static str {
        match self {
            Input::Webhook => "webhook",
            Input::Api => "api",
            Input::File => "file",
        }
    }
}
