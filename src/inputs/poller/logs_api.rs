//! The Management API's logs endpoint in checkpoint mode.
//!
//! `GET <url>/api/v2/logs?from=<log_id>&take=<n>` answers the (at most `n`,
//! at most 100) logs whose `log_id` sorts after `from`, ordered by `log_id`,
//! and a `Link: <…>; rel="next"` header naming the request to make next
//! (the same URL again when nothing was new). Each answer also carries the
//! rate-limit headers `X-RateLimit-Limit`, `-Remaining` and `-Reset` (UTC
//! epoch seconds), which [`pace`] turns into a delay before the next
//! request.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, AUTHORIZATION, LINK};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::Error;
use crate::event::LogId;
use crate::secret::Secret;

/// Largest logs response read: 100 logs of a few KiB each fit many times.
const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;
/// Longest wait a rate-limit header can impose: a reset further away than
/// this is a clock problem or a bad header, not a plan limit.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(300);

/// One answer of the logs endpoint.
#[derive(Debug)]
pub struct Page {
    /// The logs, each as Auth0 sent it, byte for byte.
    pub items: Vec<Box<RawValue>>,
    /// The `Link rel="next"` URL, when there is one.
    pub next: Option<Url>,
    /// The rate-limit headers.
    pub rate_limit: RateLimit,
}

/// The `X-RateLimit-*` headers of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// `X-RateLimit-Limit`: the bucket's size.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`: requests left in the bucket.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`: when the bucket is full again.
    pub reset: Option<SystemTime>,
}

/// Only the `log_id` of a log is looked at; the rest stays verbatim.
#[derive(Deserialize)]
struct LogIdOnly<'a> {
    #[serde(borrow)]
    log_id: Option<std::borrow::Cow<'a, str>>,
}

/// The checkpoint-mode URL of `base` (the tenant URL) for `from` and `take`.
pub fn logs_url(base: &Url, from: &LogId, take: u32) -> Url {
    let mut url = base.clone();
    url.set_path("/api/v2/logs");
    url.set_query(None);
    url.query_pairs_mut()
        .append_pair("from", &from.0)
        .append_pair("take", &take.to_string());
    url
}

/// Fetches one page.
pub async fn logs(
    http: &reqwest::Client,
    url: &Url,
    token: &Secret<String>,
) -> Result<Page, Error> {
    let response = http
        .get(url.clone())
        .header(AUTHORIZATION, format!("Bearer {}", token.expose()))
        .send()
        .await
        .map_err(|source| Error::Transport {
            url: url.clone(),
            source,
        })?;
    let status = response.status();
    let headers = response.headers().clone();
    let rate_limit = rate_limit(&headers);
    let body = read_body(response, MAX_PAGE_BYTES, url).await?;
    match status {
        StatusCode::OK => {}
        StatusCode::TOO_MANY_REQUESTS => {
            return Err(Error::RateLimited {
                url: url.clone(),
                reset: rate_limit.reset,
            })
        }
        StatusCode::UNAUTHORIZED => return Err(Error::Unauthorized { url: url.clone() }),
        StatusCode::FORBIDDEN => {
            return Err(Error::Forbidden {
                url: url.clone(),
                message: api_message(&body),
            })
        }
        status => {
            return Err(Error::Status {
                url: url.clone(),
                status: status.as_u16(),
            })
        }
    }
    let items: Vec<Box<RawValue>> =
        serde_json::from_slice(&body).map_err(|error| Error::InvalidBody {
            url: url.clone(),
            message: error.to_string(),
        })?;
    let next = headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| next_link(value, url));
    Ok(Page {
        items,
        next,
        rate_limit,
    })
}

/// The `log_id` of one log, if it has a usable one.
pub fn log_id(item: &RawValue) -> Option<LogId> {
    let parsed: LogIdOnly<'_> = serde_json::from_str(item.get()).ok()?;
    let id = parsed.log_id?;
    super::checkpoint::is_log_id(&id).then(|| LogId(id.into_owned()))
}

/// The `from` query parameter of a URL.
pub fn from_parameter(url: &Url) -> Option<LogId> {
    url.query_pairs()
        .find(|(name, _)| name == "from")
        .map(|(_, value)| LogId(value.into_owned()))
        .filter(|id| super::checkpoint::is_log_id(&id.0))
}

/// The `rel="next"` target of a `Link` header value, resolved against
/// `base`. Tolerates several links, parameters in any order, and missing
/// quotes; anything it cannot read is no link.
pub fn next_link(header: &str, base: &Url) -> Option<Url> {
    let mut rest = header;
    loop {
        let start = rest.find('<')?;
        let end = start + rest[start..].find('>')?;
        let target = &rest[start + 1..end];
        rest = &rest[end + 1..];
        // Parameters run to the next link, which starts with `,` then `<`.
        let parameters_end = rest
            .find(',')
            .filter(|&comma| rest[comma + 1..].trim_start().starts_with('<'))
            .unwrap_or(rest.len());
        let parameters = &rest[..parameters_end];
        let is_next = parameters.split(';').any(|parameter| {
            let Some((name, value)) = parameter.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|relation| relation.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return base.join(target.trim()).ok();
        }
        rest = &rest[parameters_end..];
    }
}

/// Reads the rate-limit headers.
pub fn rate_limit(headers: &HeaderMap) -> RateLimit {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.trim().parse::<u64>().ok())
    };
    RateLimit {
        limit: number("x-ratelimit-limit"),
        remaining: number("x-ratelimit-remaining"),
        reset: rate_limit_reset(headers),
    }
}

/// `X-RateLimit-Reset` as a time.
pub fn rate_limit_reset(headers: &HeaderMap) -> Option<SystemTime> {
    let seconds = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// The pause before the next request, given the last response's rate-limit
/// headers, so that the poller slows down before Auth0 has to refuse it.
///
/// Auth0 limits with a token bucket (Essentials: 10 requests burst, 100 a
/// minute sustained) and `X-RateLimit-Reset` is when the bucket is full
/// again. So:
/// - bucket empty (`remaining` 0): wait until the reset;
/// - bucket low (`remaining` at most a fifth of `limit`): space requests
///   at the refill rate the headers imply, `(reset - now) / (limit -
///   remaining)`, which keeps a few requests in hand (for a restart, or
///   another client of the same API) without leaving capacity unused;
/// - otherwise, or without headers: no pause.
///
/// Never longer than [`MAX_RATE_LIMIT_WAIT`].
pub fn pace(rate_limit: &RateLimit, now: SystemTime) -> Duration {
    let (Some(limit), Some(remaining)) = (rate_limit.limit, rate_limit.remaining) else {
        return Duration::ZERO;
    };
    let until_reset = rate_limit
        .reset
        .and_then(|reset| reset.duration_since(now).ok())
        .unwrap_or(Duration::ZERO);
    let pause = if remaining == 0 {
        // Reset already passed (clock skew or second rounding): a token
        // per second is a safe guess for any plan.
        until_reset.max(Duration::from_secs(1))
    } else if remaining <= (limit / 5).max(1) && limit > remaining {
        until_reset / u32::try_from(limit - remaining).unwrap_or(u32::MAX)
    } else {
        Duration::ZERO
    };
    pause.min(MAX_RATE_LIMIT_WAIT)
}

/// Reads a response body of at most `limit` bytes.
pub(super) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
    url: &Url,
) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|source| Error::Transport {
        url: url.clone(),
        source,
    })? {
        if body.len() + chunk.len() > limit {
            return Err(Error::InvalidBody {
                url: url.clone(),
                message: format!("body larger than {limit} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `message` of a Management API error body, for the operator.
fn api_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ApiError {
        message: Option<String>,
    }
    serde_json::from_slice::<ApiError>(body)
        .ok()
        .and_then(|error| error.message)
        .map(|message| printable(&message))
        .unwrap_or_default()
}

/// `text` cut to 200 characters without control characters, to quote a
/// remote message in a log line.
pub(super) fn printable(text: &str) -> String {
    text.chars()
        .filter(|character| !character.is_control())
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn base() -> Url {
        Url::parse("https://tenant.eu.auth0.com/").unwrap()
    }

    #[test]
    fn finds_the_next_link_among_others() {
        let cases = [
            (
                r#"<https://tenant.eu.auth0.com/api/v2/logs?from=9001&take=100>; rel="next""#,
                Some("https://tenant.eu.auth0.com/api/v2/logs?from=9001&take=100"),
            ),
            (
                r#"<https://x/prev>; rel="prev", </api/v2/logs?from=9002&take=5>; title="a,b"; rel=next"#,
                Some("https://tenant.eu.auth0.com/api/v2/logs?from=9002&take=5"),
            ),
            (r#"<https://x/a>; rel="prev nextish""#, None),
            (r#"<https://x/a>; rel="prev next""#, Some("https://x/a")),
            ("", None),
            ("<unterminated; rel=next", None),
        ];
        for (header, expected) in cases {
            assert_eq!(
                next_link(header, &base()).map(String::from),
                expected.map(str::to_owned),
                "{header}"
            );
        }
    }

    #[test]
    fn builds_the_checkpoint_url_and_reads_it_back() {
        let url = logs_url(&base(), &LogId("900202611".to_owned()), 100);
        assert_eq!(
            url.as_str(),
            "https://tenant.eu.auth0.com/api/v2/logs?from=900202611&take=100"
        );
        assert_eq!(from_parameter(&url), Some(LogId("900202611".to_owned())));
    }

    #[test]
    fn reads_the_log_id_of_an_item() {
        let item = |text: &str| RawValue::from_string(text.to_owned()).unwrap();
        assert_eq!(
            log_id(&item(
                r#"{"date":"x","log_id":"9001","details":{"log_id":"no"}}"#
            )),
            Some(LogId("9001".to_owned()))
        );
        assert_eq!(log_id(&item(r#"{"log_id":""}"#)), None);
        assert_eq!(log_id(&item(r#"{"log_id":5}"#)), None);
        assert_eq!(log_id(&item("[1]")), None);
        assert_eq!(log_id(&item(r#"{"log_id":"a\"b"}"#)), None);
    }

    #[test]
    fn paces_by_the_rate_limit_headers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let rate = |limit, remaining, reset_in: u64| RateLimit {
            limit: Some(limit),
            remaining: Some(remaining),
            reset: Some(now + Duration::from_secs(reset_in)),
        };
        assert_eq!(pace(&RateLimit::default(), now), Duration::ZERO);
        assert_eq!(pace(&rate(10, 5, 3), now), Duration::ZERO);
        // Essentials after a burst: 2 left, full again in 4.8 s → one
        // request per refill interval.
        assert_eq!(pace(&rate(10, 2, 5), now), Duration::from_millis(625));
        assert_eq!(pace(&rate(10, 0, 6), now), Duration::from_secs(6));
        assert_eq!(pace(&rate(10, 0, 0), now), Duration::from_secs(1));
        assert_eq!(pace(&rate(10, 0, 86_400), now), MAX_RATE_LIMIT_WAIT);
    }

    proptest! {
        #[test]
        fn link_parsing_never_panics(header in ".{0,200}") {
            let _ = next_link(&header, &base());
        }

        #[test]
        fn log_id_reading_never_panics(text in ".{0,200}") {
            if let Ok(item) = RawValue::from_string(text) {
                let _ = log_id(&item);
            }
        }
    }
}
