//! `POST /replay`: re-drives events after the cause of their failure is
//! fixed. The body is anything the webhook accepts (see
//! [`crate::inputs::framing`]; no gzip); the events are spooled with the
//! webhook's contract: `200 {"accepted":N,"rejected":M}` only once they
//! are durable, `503` + `Retry-After` when the spool is full. Items that are
//! still not events are dead-lettered again (in the current
//! `dead-letter.ndjson`).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use time::OffsetDateTime;

use super::response::{response, text};
use super::state::{State, REQUEST_TIMEOUT};
use crate::event::Input;
use crate::spool::{Append, Writer};
use crate::telemetry::metrics::Metrics;

/// `Retry-After` seconds when the spool is full.
const RETRY_AFTER_SECONDS: u64 = 10;

/// Handles one replay request.
pub(super) async fn handle(
    state: &Arc<State>,
    writer: &Writer,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let limit = state.max_body_bytes;
    let collected = tokio::time::timeout(
        REQUEST_TIMEOUT,
        Limited::new(request.into_body(), limit).collect(),
    )
    .await;
    let body = match collected {
        Err(_) => return text(StatusCode::REQUEST_TIMEOUT, "body not received in time\n"),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return text(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n")
        }
        Ok(Err(_)) => return text(StatusCode::BAD_REQUEST, "body could not be read\n"),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let received_at = OffsetDateTime::now_utc();
    let Ok(append) = tokio::task::spawn_blocking(move || frame(&body, received_at)).await else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n");
    };
    let (accepted, rejected) = (append.records(), append.rejected());
    if accepted == 0 && rejected == 0 {
        return text(StatusCode::BAD_REQUEST, "empty body\n");
    }
    match writer.append(append).await {
        Ok(()) => {
            Metrics::add(&state.metrics.events_replayed, accepted as u64);
            Metrics::add(&state.metrics.events_rejected_input, rejected as u64);
            let status = if accepted == 0 {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            response(
                status,
                "application/json",
                Bytes::from(format!(
                    "{{\"accepted\":{accepted},\"rejected\":{rejected}}}\n"
                )),
            )
        }
        Err(error) => {
            let (status, message) = crate::inputs::webhook::append_failed(&error);
            let mut response = text(status, message);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            response
        }
    }
}

/// The body's events and rejected items as one spool append, bounded like
/// the webhook's (`inputs::append::from_body`).
fn frame(body: &[u8], received_at: OffsetDateTime) -> Append {
    crate::inputs::append::from_body(Input::Webhook, received_at, body)
}
