//! `[output.datadog]` once validated: the intake, the key, what each item
//! holds, and the shared HTTP output settings capped at Datadog's limits.

use std::time::Duration;

use super::item;
use crate::outputs::compression::Compression;
use crate::outputs::tuning::Tuning;
use crate::secret::Secret;

/// Datadog's most entries per array.
pub const MAX_BATCH_EVENTS: usize = 1000;
/// Below Datadog's 5 MB per payload (before compression), as Vector does:
/// room for the brackets and commas and for Datadog counting differently.
pub const MAX_BATCH_BYTES: usize = 4_250_000;
/// The pause between attempts while Datadog refuses the key: slow, since
/// only the operator can fix it, and one error log per such pause.
pub const DEFAULT_UNAUTHORIZED_PAUSE: Duration = Duration::from_secs(60);

/// What each item holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Auth0's envelope `{"log_id", "data"}`, what Auth0's stream sends.
    Auth0,
    /// Our ECS document.
    Ecs,
}
/// `[output.datadog]`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The intake base URL (`https://http-intake.logs.<site>`), no trailing `/`.
    pub url: String,
    /// The API base URL of the key check (`https://api.<site>`, or `url`
    /// when it is given), no trailing `/`.
    pub api_url: String,
    /// `DD-API-KEY`.
    pub api_key: Secret<String>,
    /// What each item holds.
    pub format: Format,
    /// `ddsource`, `service`, `ddtags`, `hostname`.
    pub attributes: item::Attributes,
    /// Request body encoding.
    pub compression: Compression,
    /// Batch limits (items ≤ [`MAX_BATCH_EVENTS`], body bytes before
    /// compression ≤ [`MAX_BATCH_BYTES`]), requests in flight, the request
    /// timeout and the retry schedule (as the Elasticsearch output's).
    pub tuning: Tuning,
    /// The pause between attempts while the key is refused.
    pub unauthorized_pause: Duration,
}
