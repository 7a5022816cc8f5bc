//! The keys every HTTP output section has (`batch_max_events`,
//! `batch_max_bytes`, `flush_interval`, `max_in_flight`, `request_timeout`
//! → [`Tuning`]; `compression`), validated one way for both outputs, and
//! [`one_of`], a key that names one of a few choices.

use std::time::Duration;

use super::problems::Errors;
use super::size::Size;
use super::values::{at_least_one, duration, positive};
use crate::backoff;
use crate::outputs::compression::Compression;
use crate::outputs::tuning::Tuning;

/// The section's raw values of the [`Tuning`] keys.
pub(super) struct RawTuning {
    pub batch_max_events: Option<usize>,
    pub batch_max_bytes: Option<Size>,
    pub flush_interval: Option<String>,
    pub max_in_flight: Option<usize>,
    pub request_timeout: Option<String>,
}

/// The [`RawTuning`] of a raw output section (whose keys have the same
/// names in every output).
macro_rules! raw_tuning {
    ($raw:ident) => {
        $crate::config::output_tuning::RawTuning {
            batch_max_events: $raw.batch_max_events,
            batch_max_bytes: $raw.batch_max_bytes,
            flush_interval: $raw.flush_interval,
            max_in_flight: $raw.max_in_flight,
            request_timeout: $raw.request_timeout,
        }
    };
}
pub(super) use raw_tuning;

/// An output's defaults for the [`Tuning`] keys.
pub(super) struct Defaults {
    pub batch_max_events: usize,
    pub batch_max_bytes: u64,
    pub flush_interval: Duration,
    pub max_in_flight: usize,
    pub request_timeout: Duration,
}

/// Validates the [`Tuning`] keys of `section` (`output.<name>`); the retry
/// schedule is the default one.
pub(super) fn tuning(
    errors: &mut Errors,
    section: &str,
    raw: RawTuning,
    defaults: &Defaults,
) -> Tuning {
    let key = |name: &str| format!("{section}.{name}");
    let batch_max_events = at_least_one(
        errors,
        &key("batch_max_events"),
        raw.batch_max_events,
        defaults.batch_max_events,
    );
    let batch_max_bytes = positive(
        errors,
        &key("batch_max_bytes"),
        raw.batch_max_bytes.map(|size| size.as_u64()),
        defaults.batch_max_bytes,
    );
    Tuning {
        batch_max_events,
        batch_max_bytes: usize::try_from(batch_max_bytes).unwrap_or(usize::MAX),
        flush_interval: duration(
            errors,
            &key("flush_interval"),
            raw.flush_interval,
            defaults.flush_interval,
        ),
        max_in_flight: at_least_one(
            errors,
            &key("max_in_flight"),
            raw.max_in_flight,
            defaults.max_in_flight,
        ),
        request_timeout: duration(
            errors,
            &key("request_timeout"),
            raw.request_timeout,
            defaults.request_timeout,
        ),
        backoff: backoff::Backoff {
            initial: backoff::DEFAULT_INITIAL,
            max: backoff::DEFAULT_MAX,
        },
    }
}

/// The `compression` key of an HTTP output: `gzip` (default) or `none`.
pub(super) fn compression(errors: &mut Errors, key: &str, value: Option<String>) -> Compression {
    one_of(
        errors,
        key,
        "compression",
        value.as_deref(),
        &Compression::CHOICES,
    )
}

/// The choice `value` names among `choices` (the first when absent, or,
/// with an error naming the choices, when unknown).
pub(super) fn one_of<T: Copy>(
    errors: &mut Errors,
    key: &str,
    what: &str,
    value: Option<&str>,
    choices: &[(&str, T)],
) -> T {
    // Every caller passes a non-empty table.
    let default = choices[0].1;
    let Some(name) = value else {
        return default;
    };
    if let Some((_, choice)) = choices.iter().find(|(choice, _)| *choice == name) {
        return *choice;
    }
    let names: Vec<String> = choices
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect();
    let list = match names.split_last() {
        Some((last, first)) if !first.is_empty() => format!("{} or {last}", first.join(", ")),
        _ => names.concat(),
    };
    errors.push(key, format!("unknown {what} `{name}`; use {list}"));
    default
}
