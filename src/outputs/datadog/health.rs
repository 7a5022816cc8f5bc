//! The key check: `GET <url>/api/v1/validate` with the key, one log line
//! at start-up (valid, invalid key, unreachable); its answer feeds the
//! output's health at start-up and while the output is idle
//! ([`crate::outputs::probe`]). It never stops the agent:
//! the spool keeps what arrives while the operator fixes the key or the
//! network, and the intake path retries.

use super::intake::Client;
use crate::error_chain::error_chain;

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// `200`: the key is valid.
    Valid,
    /// `401`/`403`: the key is refused.
    InvalidKey(u16),
    /// Another status.
    Unexpected(u16),
    /// No answer (DNS, connection, TLS, timeout), with the reason.
    Unreachable(String),
}

/// Asks Datadog whether the key is valid.
pub async fn check(client: &Client) -> Check {
    match client.validate().await {
        Ok(200..=299) => Check::Valid,
        Ok(status @ (401 | 403)) => Check::InvalidKey(status),
        Ok(status) => Check::Unexpected(status),
        Err(error) => Check::Unreachable(error_chain(&error)),
    }
}

/// Runs [`check`] (logging its one start-up line when `start_up`): `Ok`
/// unless the key is refused or Datadog cannot be reached (the reason).
pub async fn probe(client: &Client, start_up: bool) -> Result<(), String> {
    let check = check(client).await;
    if start_up {
        log_start_up(client, &check);
    }
    match check {
        Check::Valid | Check::Unexpected(_) => Ok(()),
        Check::InvalidKey(status) => Err(format!(
            "datadog refuses the API key ({status} from /api/v1/validate)"
        )),
        Check::Unreachable(error) => Err(error),
    }
}

fn log_start_up(client: &Client, check: &Check) {
    match check {
        Check::Valid => tracing::info!(intake = client.intake(), "datadog API key is valid"),
        Check::InvalidKey(status) => tracing::error!(
            status,
            "datadog refuses the API key (/api/v1/validate); logs wait in the spool until `output.datadog.api_key_file` is fixed"
        ),
        Check::Unexpected(status) => tracing::warn!(
            status,
            "datadog's key check answered unexpectedly; sending anyway"
        ),
        Check::Unreachable(error) => tracing::warn!(
            %error,
            "datadog is unreachable for now; logs wait in the spool and are retried"
        ),
    }
}
