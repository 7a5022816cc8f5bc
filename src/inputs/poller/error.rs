//! The poller's errors, and what the task loop does after each
//! ([`Retry`]). Its own file so that the logs API client, the token cache
//! and the loop in `poller/mod.rs` share them without a circle.

use std::time::SystemTime;

use reqwest::Url;

use super::checkpoint;
use crate::spool::AppendError;

/// Poller errors. The task loop decides on each (see the module docs);
/// none stops it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cursor file could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::Error),
    /// The HTTP client could not be built.
    #[error("cannot build the poller's HTTP client")]
    Client(#[source] reqwest::Error),
    /// The token endpoint refused the credentials.
    #[error("token endpoint `{url}` refused the client credentials with {status}: {hint}")]
    Credentials {
        /// The token endpoint.
        url: Url,
        /// Its status.
        status: u16,
        /// The likely cause, and Auth0's description.
        hint: String,
    },
    /// The logs endpoint refused the token: it lacks a scope.
    #[error("logs endpoint `{url}` answered 403: the token needs the `read:logs` scope (grant it to the application for the Management API); Auth0 says \"{message}\"")]
    Forbidden {
        /// The request.
        url: Url,
        /// Auth0's `message`.
        message: String,
    },
    /// A body is not what Auth0 sends.
    #[error("`{url}` sent an unreadable body: {message}")]
    InvalidBody {
        /// The request.
        url: Url,
        /// What is wrong.
        message: String,
    },
    /// Auth0 refused the request for its rate limit.
    #[error("`{url}` answered 429 too many requests")]
    RateLimited {
        /// The request.
        url: Url,
        /// `X-RateLimit-Reset`, when sent.
        reset: Option<SystemTime>,
    },
    /// The spool could not take the page.
    #[error("spool append failed")]
    Spool(#[source] AppendError),
    /// An unexpected status.
    #[error("`{url}` answered {status}")]
    Status {
        /// The request.
        url: Url,
        /// The status.
        status: u16,
    },
    /// The request failed: connection, TLS, timeout.
    #[error("request to `{url}` failed")]
    Transport {
        /// The request.
        url: Url,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The logs endpoint refused a freshly issued token.
    #[error("logs endpoint `{url}` answered 401 to a fresh token")]
    Unauthorized {
        /// The request.
        url: Url,
    },
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// Transient: [`super::BACKOFF_BASE`] doubling to [`super::BACKOFF_CAP`].
    Backoff,
    /// An operator must act: [`super::SLOW_BASE`] doubling to [`super::SLOW_CAP`].
    Slow,
    /// Rate limited: until the reset, when known.
    Until(Option<SystemTime>),
}

impl Error {
    pub(super) fn retry(&self) -> Retry {
        match self {
            Error::RateLimited { reset, .. } => Retry::Until(*reset),
            Error::Credentials { .. } | Error::Forbidden { .. } | Error::Client(_) => Retry::Slow,
            Error::Status { status, .. } if (400..500).contains(status) => Retry::Slow,
            Error::Checkpoint(_)
            | Error::InvalidBody { .. }
            | Error::Spool(_)
            | Error::Status { .. }
            | Error::Transport { .. }
            | Error::Unauthorized { .. } => Retry::Backoff,
        }
    }
}
