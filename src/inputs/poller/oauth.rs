//! Client-credentials tokens for the Management API, cached.
//!
//! `POST <url>/oauth/token` (form-encoded `grant_type=client_credentials`,
//! `client_id`, `client_secret`, `audience`) returns an access token and its
//! lifetime (`expires_in`, 24 h by default). [`Tokens`] keeps the token
//! until shortly before it expires ([`refresh_at`]), so a running agent
//! asks for one token a day rather than one per poll (Elastic's poller asks
//! on every run), and [`Tokens::invalidate`] drops it when the API answers
//! 401 anyway (tokens cannot be revoked, but a tenant can change its
//! signing key).
//!
//! A 401 or 403 from the token endpoint is a configuration problem the
//! operator must fix: [`Error::Credentials`] says which one it likely is.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde::Deserialize;
use tokio::time::Instant;

use super::error::Error;
use super::logs_api;
use crate::secret::Secret;

/// Lifetime assumed when the token response has no `expires_in`; a wrong
/// guess only costs one 401 and a refresh.
const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(3600);
/// A token is replaced this long before it expires at most, so that a
/// request never leaves with a token about to expire.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// The shortest lifetime a token is cached for, whatever `expires_in`
/// says: `expires_in: 0` (or a few seconds) must not mean one token
/// request per poll. A token that really expires sooner is refused with a
/// 401, and the poller replaces it then.
pub const MIN_LIFETIME: Duration = Duration::from_secs(60);
/// The longest lifetime a token is cached for: a huge `expires_in` must
/// neither overflow the clock nor pin a token for years.
pub const MAX_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Largest token response read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// A token endpoint and the credentials to present to it, with the cached
/// token.
#[derive(Debug)]
pub struct Tokens {
    endpoint: Url,
    client_id: String,
    client_secret: Secret<String>,
    audience: String,
    cache: Cache,
}

/// The cached token, separate from HTTP so that expiry is testable with a
/// paused clock.
#[derive(Debug, Default)]
struct Cache {
    token: Option<(Secret<String>, Instant)>,
}

/// The token endpoint's success body.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// The token endpoint's error body (`{error, error_description}`).
#[derive(Deserialize)]
struct ErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

impl Tokens {
    /// Tokens from `<url>/oauth/token` for `audience`.
    pub fn new(
        url: &Url,
        client_id: String,
        client_secret: Secret<String>,
        audience: String,
    ) -> Tokens {
        let mut endpoint = url.clone();
        endpoint.set_path("/oauth/token");
        endpoint.set_query(None);
        Tokens {
            endpoint,
            client_id,
            client_secret,
            audience,
            cache: Cache::default(),
        }
    }

    /// A valid access token: the cached one, or a new one from the token
    /// endpoint. The `bool` is true when the token was just fetched.
    pub async fn bearer(
        &mut self,
        http: &reqwest::Client,
    ) -> Result<(Secret<String>, bool), Error> {
        if let Some(token) = self.cache.valid(Instant::now()) {
            return Ok((token.clone(), false));
        }
        let (token, expires_in) = self.fetch(http).await?;
        self.cache.store(token.clone(), expires_in, Instant::now());
        Ok((token, true))
    }

    /// Forgets the cached token (the API refused it).
    pub fn invalidate(&mut self) {
        self.cache.token = None;
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<(Secret<String>, Duration), Error> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose().as_str()),
            ("audience", self.audience.as_str()),
        ];
        let url = &self.endpoint;
        let transport = |source| Error::Transport {
            url: url.clone(),
            source,
        };
        let response = http
            .post(url.clone())
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let reset = logs_api::rate_limit_reset(response.headers());
        let body = logs_api::read_body(response, MAX_RESPONSE_BYTES, url).await?;
        if status.is_success() {
            let parsed: TokenResponse =
                serde_json::from_slice(&body).map_err(|error| Error::InvalidBody {
                    url: url.clone(),
                    message: error.to_string(),
                })?;
            if parsed.access_token.is_empty() {
                return Err(Error::InvalidBody {
                    url: url.clone(),
                    message: "empty `access_token`".to_owned(),
                });
            }
            let expires_in = lifetime(parsed.expires_in);
            return Ok((Secret::new(parsed.access_token), expires_in));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Error::RateLimited {
                url: url.clone(),
                reset,
            });
        }
        if status.is_client_error() {
            return Err(Error::Credentials {
                url: url.clone(),
                status: status.as_u16(),
                hint: hint(status, &body, &self.audience),
            });
        }
        Err(Error::Status {
            url: url.clone(),
            status: status.as_u16(),
        })
    }
}

impl Cache {
    fn valid(&self, now: Instant) -> Option<&Secret<String>> {
        match &self.token {
            Some((token, refresh_at)) if now < *refresh_at => Some(token),
            _ => None,
        }
    }

    fn store(&mut self, token: Secret<String>, expires_in: Duration, now: Instant) {
        self.token = Some((token, refresh_at(now, expires_in)));
    }
}

/// The lifetime a token is cached for, from the token response's
/// `expires_in` (seconds): [`DEFAULT_EXPIRES_IN`] when absent, clamped to
/// [`MIN_LIFETIME`]..=[`MAX_LIFETIME`].
pub fn lifetime(expires_in: Option<u64>) -> Duration {
    expires_in
        .map_or(DEFAULT_EXPIRES_IN, Duration::from_secs)
        .clamp(MIN_LIFETIME, MAX_LIFETIME)
}

/// When a token obtained at `now` and valid for `expires_in` is replaced:
/// a tenth of its lifetime before it expires, at most a minute before.
/// `expires_in` is clamped as [`lifetime`] does, and the arithmetic is
/// checked: a time the clock cannot represent gives `now + MIN_LIFETIME`
/// (or `now` if even that overflows), never a panic.
pub fn refresh_at(now: Instant, expires_in: Duration) -> Instant {
    let expires_in = expires_in.clamp(MIN_LIFETIME, MAX_LIFETIME);
    let early = expires_in.saturating_sub((expires_in / 10).min(MAX_REFRESH_MARGIN));
    now.checked_add(early)
        .or_else(|| now.checked_add(MIN_LIFETIME))
        .unwrap_or(now)
}

/// What an operator should check, from the status and Auth0's error body
/// (its `error_description` is echoed: it names no secret).
fn hint(status: StatusCode, body: &[u8], audience: &str) -> String {
    let description = serde_json::from_slice::<ErrorResponse>(body)
        .ok()
        .and_then(|error| error.error_description.or(error.error))
        .map(|text| logs_api::printable(&text))
        .unwrap_or_default();
    let advice = match status {
        StatusCode::UNAUTHORIZED => {
            "wrong `poller.client_id` or `poller.client_secret` (was the secret rotated?)"
                .to_owned()
        }
        StatusCode::FORBIDDEN => format!(
            "the application is not authorized for the Management API `{audience}`: \
             authorize it (a client grant) with the `read:logs` scope, and check `poller.audience`"
        ),
        _ => "check that the application is a Machine to Machine application allowed the \
              Client Credentials grant, and check `poller.audience`"
            .to_owned(),
    };
    if description.is_empty() {
        advice
    } else {
        format!("{advice}; Auth0 says \"{description}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_reused_until_shortly_before_it_expires() {
        // The cache takes the time as an argument, so no clock is needed.
        let start = Instant::now();
        let at = |millis: u64| start + Duration::from_millis(millis);
        let mut cache = Cache::default();
        assert!(cache.valid(start).is_none());
        cache.store(
            Secret::new("t1".to_owned()),
            Duration::from_secs(86_400),
            start,
        );
        assert_eq!(
            cache.valid(at((86_400 - 61) * 1000)).unwrap().expose(),
            "t1"
        );
        assert!(
            cache.valid(at((86_400 - 60) * 1000)).is_none(),
            "refreshed a minute early"
        );

        cache.store(
            Secret::new("t2".to_owned()),
            Duration::from_secs(300),
            start,
        );
        assert!(cache.valid(at(269_999)).is_some());
        assert!(
            cache.valid(at(270_000)).is_none(),
            "short tokens: a tenth early"
        );
    }

    #[test]
    fn expires_in_is_clamped_so_a_token_is_neither_fetched_per_poll_nor_overflows() {
        assert_eq!(lifetime(None), DEFAULT_EXPIRES_IN);
        assert_eq!(lifetime(Some(0)), MIN_LIFETIME);
        assert_eq!(lifetime(Some(5)), MIN_LIFETIME);
        assert_eq!(lifetime(Some(86_400)), Duration::from_secs(86_400));
        assert_eq!(lifetime(Some(u64::MAX)), MAX_LIFETIME);

        let start = Instant::now();
        let mut cache = Cache::default();
        // `expires_in: 0`: cached for most of a minute, not refetched at once.
        cache.store(Secret::new("t0".to_owned()), lifetime(Some(0)), start);
        assert!(cache.valid(start + Duration::from_secs(50)).is_some());
        assert!(cache.valid(start + Duration::from_secs(60)).is_none());
        // Even an unclamped huge lifetime neither panics nor overflows.
        cache.store(Secret::new("t1".to_owned()), Duration::MAX, start);
        assert!(cache.valid(start + Duration::from_secs(86_400)).is_some());
        assert!(cache.valid(start + MAX_LIFETIME).is_none());
    }

    proptest::proptest! {
        #[test]
        fn refresh_at_never_panics_and_stays_within_bounds(seconds in proptest::num::u64::ANY, nanos in 0u32..1_000_000_000) {
            let now = Instant::now();
            let expires_in = Duration::new(seconds, nanos);
            let at = refresh_at(now, expires_in);
            proptest::prop_assert!(at > now);
            proptest::prop_assert!(at <= now + MAX_LIFETIME);
            let at = refresh_at(now, lifetime(Some(seconds)));
            proptest::prop_assert!(at >= now + MIN_LIFETIME - MAX_REFRESH_MARGIN);
        }
    }

    #[test]
    fn credential_errors_name_the_likely_cause() {
        let body = br#"{"error":"access_denied","error_description":"Unauthorized"}"#;
        let text = hint(StatusCode::UNAUTHORIZED, body, "https://t/api/v2/");
        assert!(text.contains("client_secret"), "{text}");
        assert!(text.contains("\"Unauthorized\""), "{text}");
        let text = hint(StatusCode::FORBIDDEN, b"not json", "https://t/api/v2/");
        assert!(text.contains("read:logs") && text.contains("https://t/api/v2/"));
    }
}
