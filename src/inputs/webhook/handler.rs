//! One request → one response: routing, token check, body limits and
//! decoding ([`super::body`]), framing, and the spool append whose
//! durability the 200 reports.
//!
//! An answer given before the request body was read to its end carries
//! `Connection: close`; the server then closes with a lingering read.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use time::OffsetDateTime;

use super::append_answer::append_failed;
use super::budget::Budget;
use super::config::Config;
use super::refusals::{self, Kind};
use super::request_body::{self, Body, Refusal};
use super::{auth, peer};
use crate::event::Input;
use crate::inputs;
use crate::spool::Writer;
use crate::telemetry::metrics::Metrics;

/// Bodies above this are framed on the blocking pool, so a 16 MiB body does
/// not stall an async worker.
const INLINE_BODY_BYTES: usize = 512 * 1024;

/// What every request needs.
#[derive(Debug)]
pub(super) struct State {
    pub config: Config,
    pub writer: Writer,
    pub metrics: Arc<Metrics>,
    pub refusals: refusals::Log,
    /// `webhook.max_inflight_bytes`.
    pub budget: Arc<Budget>,
}

/// The TCP peer of the connection, put in each request's extensions.
#[derive(Debug, Clone, Copy)]
pub(super) struct Peer(pub std::net::SocketAddr);

/// Handles one request. Never fails: every problem is a status code.
pub(super) async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let unread = !request.body().is_end_stream();
    let response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (&Method::POST, path) if path == state.config.path => {
            let started = std::time::Instant::now();
            let response = post(&state, request).await;
            let metrics = &state.metrics;
            metrics
                .exporter
                .webhook_request_duration
                .record(started.elapsed().as_secs_f64());
            metrics
                .health
                .webhook_request(response.status() == StatusCode::OK);
            // `post` closes the connection itself when the body is unread.
            return Ok(response);
        }
        (_, path) if path == state.config.path => {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "use POST\n");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            response
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(if unread { closing(response) } else { response })
}

async fn post(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let client = request.extensions().get::<Peer>().map(|peer| {
        peer::address(
            peer.0.ip(),
            request.headers(),
            &state.config.trusted_proxies,
        )
    });
    let response = post_inner(state, request).await;
    if let Some(client) = client {
        let kind = match response.status() {
            StatusCode::UNAUTHORIZED => Some(Kind::Unauthorized),
            StatusCode::SERVICE_UNAVAILABLE => Some(Kind::Unavailable),
            status if status.is_client_error() => Some(Kind::Refused),
            _ => None,
        };
        if let Some(kind) = kind {
            let _logged = state.refusals.note(kind, client, response.status());
        }
    }
    response
}

async fn post_inner(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let metrics = &state.metrics;
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !auth::authorized(&state.config.reloadable.tokens.get(), presented) {
        Metrics::add(&metrics.webhook_requests_unauthorized, 1);
        tracing::debug!("request with a missing or wrong token");
        let response = text(StatusCode::UNAUTHORIZED, "unauthorized\n");
        return if request.body().is_end_stream() {
            response
        } else {
            closing(response)
        };
    }
    match request_body::read(&state.config, &state.budget, request).await {
        Ok(body) => append(state, body).await,
        Err(refusal) => refused(state, refusal),
    }
}

/// The answer to a body not taken. The body may be unread: close.
fn refused(state: &State, refusal: Refusal) -> Response<Full<Bytes>> {
    let Refusal { status, message } = refusal;
    tracing::debug!(%status, message, "request refused");
    let mut response = closing(text(status, format!("{message}\n")));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        Metrics::add(&state.metrics.webhook_requests_unavailable, 1);
        Metrics::add(&state.metrics.webhook_requests_over_budget, 1);
        retry_after(state, &mut response);
    } else {
        Metrics::add(&state.metrics.webhook_requests_invalid, 1);
    }
    response
}

fn body_is_small(length: usize) -> bool {
    length <= INLINE_BODY_BYTES
}

async fn append(state: &State, mut body: Body) -> Response<Full<Bytes>> {
    let metrics = &state.metrics;
    let received_at = OffsetDateTime::now_utc();
    if let Err(refusal) = body.reserve_spool_copy() {
        return refused(state, refusal);
    }
    let (body, mut reservation) = (body.bytes, body.reservation);
    let body_bytes = body.len();
    let inline = body_is_small(body.len());
    let frame = move || inputs::append::from_body(Input::Webhook, received_at, &body);
    let append = if inline {
        frame()
    } else {
        match tokio::task::spawn_blocking(frame).await {
            Ok(append) => append,
            Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
        }
    };
    // The body is freed; its spool copy stays reserved until it is written.
    reservation.shrink(body_bytes);
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
            let (status, message) = append_failed(&error);
            let mut response = text(status, message);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                retry_after(state, &mut response);
            }
            response
        }
    }
}

fn retry_after(state: &State, response: &mut Response<Full<Bytes>>) {
    let seconds = state.config.retry_after.as_secs().max(1);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
}

/// `response` with `Connection: close`: it is sent before the request body
/// was read to its end.
fn closing(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
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
