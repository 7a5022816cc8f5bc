//! Rate-limited `warn` lines for refused webhook requests, naming the client
//! (see [`super::peer`]), so an operator sees a misconfigured Auth0 stream
//! or a scanner without a line per request.
//!
//! Each kind (unauthorized, refused, unavailable) logs at most once per
//! [`INTERVAL`]; the next line says how many were left out in between.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use hyper::StatusCode;

use crate::telemetry::throttle::Throttle;

/// The least time between two lines of one kind.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// 401: no or a wrong `Authorization` value.
    Unauthorized,
    /// 400, 408, 413, 415: the request itself was refused.
    Refused,
    /// 503: the spool is full or the agent is stopping.
    Unavailable,
}

/// The per-kind rate limiters of one webhook.
#[derive(Debug)]
pub struct Log {
    kinds: [Mutex<Throttle>; 3],
}

impl Default for Log {
    fn default() -> Log {
        Log {
            kinds: std::array::from_fn(|_| Mutex::new(Throttle::new(INTERVAL))),
        }
    }
}

impl Log {
    /// Records one refused request; logs it unless a line of its kind was
    /// logged less than [`INTERVAL`] ago. Returns whether it logged.
    pub fn note(&self, kind: Kind, client: IpAddr, status: StatusCode) -> bool {
        let index = match kind {
            Kind::Unauthorized => 0,
            Kind::Refused => 1,
            Kind::Unavailable => 2,
        };
        // A poisoned lock only means a panic elsewhere mid-update of two
        // counters: keep using them.
        let ready = self.kinds[index]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .ready();
        let Some(suppressed) = ready else {
            return false;
        };
        let status = status.as_u16();
        match kind {
            Kind::Unauthorized => tracing::warn!(
                %client, status, suppressed,
                "webhook request refused: missing or wrong Authorization token"
            ),
            Kind::Refused => tracing::warn!(%client, status, suppressed, "webhook request refused"),
            Kind::Unavailable => tracing::warn!(
                %client, status, suppressed,
                "webhook request refused: spool full or shutting down; the client should retry"
            ),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_per_interval() {
        let log = Log::default();
        let client = IpAddr::from([203, 0, 113, 9]);
        assert!(log.note(Kind::Unauthorized, client, StatusCode::UNAUTHORIZED));
        for _ in 0..1000 {
            assert!(!log.note(Kind::Unauthorized, client, StatusCode::UNAUTHORIZED));
        }
        // Other kinds have their own budget.
        assert!(log.note(Kind::Refused, client, StatusCode::PAYLOAD_TOO_LARGE));
        assert!(log.note(Kind::Unavailable, client, StatusCode::SERVICE_UNAVAILABLE));
        // The 1,000 left out are counted by the kind's `Throttle` (its own
        // test checks the count reaches the next line); still inside the
        // interval, the next one is left out too.
        assert_eq!(log.kinds[0].lock().unwrap().ready(), None);
    }
}
