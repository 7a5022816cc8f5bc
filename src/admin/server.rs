//! The admin listener's accept loop and routes: plain HTTP/1.1 (hyper), a
//! cap of [`MAX_CONNECTIONS`] connections, [`REQUEST_TIMEOUT`] for each
//! request head, and a graceful stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::response::{response, text};
use super::state::{State, MAX_CONNECTIONS, REQUEST_TIMEOUT};
use super::{replay, status};
use crate::inputs::webhook::auth;
use crate::spool::Writer;
use crate::telemetry::metrics::CONTENT_TYPE;

/// Pause after an accept error such as `EMFILE`.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Binds `listen` (before anything else starts, so a busy port fails
/// start-up at once).
pub async fn bind(listen: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(listen).await
}

/// Serves until `shutdown`, then lets in-flight requests finish within
/// `drain`. `writer` (for `POST /replay`) is dropped on return.
pub async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    writer: Writer,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let writer = Arc::new(writer);
    let tracker = TaskTracker::new();
    let force = CancellationToken::new();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = shutdown.cancelled() => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "admin accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let state = Arc::clone(&state);
        let writer = Arc::clone(&writer);
        let shutdown = shutdown.clone();
        let force = force.clone();
        tracker.spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                let writer = Arc::clone(&writer);
                async move { Ok::<_, std::convert::Infallible>(route(&state, &writer, request).await) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(REQUEST_TIMEOUT)
                .keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = shutdown.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    tokio::select! {
                        _ = connection => {}
                        () = force.cancelled() => {}
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
        force.cancel();
        tracker.wait().await;
    }
}

async fn route(
    state: &Arc<State>,
    writer: &Writer,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let needs_token = matches!(path.as_str(), "/metrics" | "/status" | "/replay");
    if needs_token {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        if !auth::authorized(&state.tokens.get(), presented) {
            return text(StatusCode::UNAUTHORIZED, "unauthorized\n");
        }
    }
    match (method, path.as_str()) {
        (Method::GET, "/healthz") => text(StatusCode::OK, "ok\n"),
        (Method::GET, "/readyz") => {
            let stats = state.spool.clone();
            let backlog = blocking(move || stats.backlog()).await;
            match backlog.as_ref().map(status::ready) {
                Some(Ok(())) => text(StatusCode::OK, "ready\n"),
                Some(Err(reason)) => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("not ready: {reason}\n"),
                ),
                None => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
            }
        }
        (Method::GET, "/metrics") => {
            let state = Arc::clone(state);
            match blocking(move || state.metrics.render(&status::gauges(&state))).await {
                Some(body) => response(StatusCode::OK, CONTENT_TYPE, Bytes::from(body)),
                None => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
            }
        }
        (Method::GET, "/status") => {
            let state = Arc::clone(state);
            let body = blocking(move || serde_json::to_vec_pretty(&status::status(&state))).await;
            match body {
                Some(Ok(mut body)) => {
                    body.push(b'\n');
                    response(StatusCode::OK, "application/json", Bytes::from(body))
                }
                _ => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"),
            }
        }
        (Method::POST, "/replay") => replay::handle(state, writer, request).await,
        (_, "/healthz" | "/readyz" | "/metrics" | "/status") => {
            allow(text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n"), "GET")
        }
        (_, "/replay") => allow(text(StatusCode::METHOD_NOT_ALLOWED, "use POST\n"), "POST"),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Runs file-reading work off the async workers.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(work).await.ok()
}

fn allow(mut response: Response<Full<Bytes>>, methods: &'static str) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(methods));
    response
}
