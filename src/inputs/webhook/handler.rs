//! One request → one response: routing, token check, body limits and
//! decoding, framing, and the spool append whose durability the 200 reports.

use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use time::OffsetDateTime;

use super::{auth, Config};
use crate::event::Input;
use crate::inputs;
use crate::spool::{AppendError, Writer};
use crate::telemetry::metrics::Metrics;

/// Bodies above this are decompressed and framed on the blocking pool, so a
/// 16 MiB body does not stall an async worker.
const INLINE_BODY_BYTES: usize = 512 * 1024;

/// What every request needs.
#[derive(Debug)]
pub(super) struct State {
    pub config: Config,
    pub writer: Writer,
    pub metrics: Arc<Metrics>,
}

/// Handles one request. Never fails: every problem is a status code.
pub(super) async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/metrics") => text(StatusCode::OK, state.metrics.render()),
        (&Method::POST, path) if path == state.config.path => post(&state, request).await,
        (_, path) if path == state.config.path => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "use POST\n");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(response)
}

async fn post(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let metrics = &state.metrics;
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !auth::authorized(&state.config.tokens, presented) {
        Metrics::add(&metrics.webhook_requests_unauthorized, 1);
        tracing::debug!("request with a missing or wrong token");
        return text(StatusCode::UNAUTHORIZED, "unauthorized\n");
    }
    match read_body(&state.config, request).await {
        Ok(body) => append(state, body).await,
        Err((status, message)) => {
            Metrics::add(&metrics.webhook_requests_invalid, 1);
            tracing::debug!(%status, message, "request refused");
            text(status, format!("{message}\n"))
        }
    }
}

/// The body, decompressed, within the limits.
async fn read_body(
    config: &Config,
    request: Request<Incoming>,
) -> Result<Bytes, (StatusCode, &'static str)> {
    let limit = config.max_body_bytes;
    let gzip = match request
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|value| value.to_str().unwrap_or("").trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("identity") => false,
        Some("gzip") | Some("x-gzip") => true,
        Some(_) => {
            return Err((
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported content-encoding; use gzip or none",
            ))
        }
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, "body too large"));
    }
    let collected = tokio::time::timeout(
        config.body_timeout,
        Limited::new(request.into_body(), limit).collect(),
    )
    .await;
    let body = match collected {
        Err(_) => return Err((StatusCode::REQUEST_TIMEOUT, "body not received in time")),
        Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => {
            return Err((StatusCode::PAYLOAD_TOO_LARGE, "body too large"))
        }
        Ok(Err(_)) => return Err((StatusCode::BAD_REQUEST, "body could not be read")),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    if !gzip {
        return Ok(body);
    }
    // Compressed bodies expand (~8x for JSON): judge by a fraction.
    let inline = body_is_small(body.len() * 8);
    let decompress = move || gunzip(&body, limit);
    if inline {
        decompress()
    } else {
        tokio::task::spawn_blocking(decompress)
            .await
            .unwrap_or(Err((
                StatusCode::INTERNAL_SERVER_ERROR,
                "decompression failed",
            )))
    }
}

fn body_is_small(length: usize) -> bool {
    length <= INLINE_BODY_BYTES
}

fn gunzip(body: &[u8], limit: usize) -> Result<Bytes, (StatusCode, &'static str)> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    match decoder.read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err((StatusCode::PAYLOAD_TOO_LARGE, "body too large")),
        Ok(_) => Ok(Bytes::from(out)),
        Err(_) => Err((StatusCode::BAD_REQUEST, "invalid gzip body")),
    }
}

async fn append(state: &State, body: Bytes) -> Response<Full<Bytes>> {
    let metrics = &state.metrics;
    let received_at = OffsetDateTime::now_utc();
    let inline = body_is_small(body.len());
    let frame = move || inputs::body::append(Input::Webhook, received_at, &body);
    let append = if inline {
        frame()
    } else {
        match tokio::task::spawn_blocking(frame).await {
            Ok(append) => append,
            Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
        }
    };
    let (accepted, rejected) = (append.records(), append.rejected());
    if accepted == 0 && rejected == 0 {
        Metrics::add(&metrics.webhook_requests_invalid, 1);
        return text(StatusCode::BAD_REQUEST, "empty body\n");
    }
    match state.writer.append(append).await {
        Ok(()) => {
            Metrics::add(&metrics.events_received_webhook, accepted as u64);
            Metrics::add(&metrics.events_rejected_input, rejected as u64);
            let status = if accepted == 0 {
                Metrics::add(&metrics.webhook_requests_invalid, 1);
                StatusCode::BAD_REQUEST
            } else {
                Metrics::add(&metrics.webhook_requests_ok, 1);
                StatusCode::OK
            };
            if rejected > 0 {
                tracing::debug!(
                    accepted,
                    rejected,
                    "events rejected to the dead-letter file"
                );
            }
            json(
                status,
                format!("{{\"accepted\":{accepted},\"rejected\":{rejected}}}\n"),
            )
        }
        Err(error) => {
            Metrics::add(&metrics.webhook_requests_unavailable, 1);
            let (status, message) = match error {
                AppendError::Full => (StatusCode::SERVICE_UNAVAILABLE, "spool full, retry later\n"),
                AppendError::DiskFull => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "spool disk full, retry later\n",
                ),
                AppendError::Closed => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
                AppendError::Io(_) => (StatusCode::INTERNAL_SERVER_ERROR, "spool write failed\n"),
            };
            let mut response = text(status, message);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                let seconds = state.config.retry_after.as_secs().max(1);
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    response(status, "text/plain; charset=utf-8", body.into())
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    response(status, "application/json", Bytes::from(body))
}

fn response(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
