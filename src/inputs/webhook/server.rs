//! The accept loop: TCP (+ rustls) connections served by hyper's HTTP/1.1
//! implementation with keep-alive, a cap on concurrent connections, and
//! timeouts for the handshake, the request head and the body.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::handler::{self, State};
use super::Config;
use crate::spool::Writer;
use crate::telemetry::metrics::Metrics;

/// Pause after an accept error such as `EMFILE`, so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Binds the listen address (before anything else is started, so a busy
/// port fails start-up at once).
pub async fn bind(config: &Config) -> std::io::Result<TcpListener> {
    TcpListener::bind(config.listen).await
}

/// Serves until `shutdown` is cancelled, then stops accepting, lets
/// in-flight requests finish within `drain` (closing idle keep-alive
/// connections), and returns. The spool writer clone is dropped on return.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    writer: Writer,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let tls = config.tls.clone().map(TlsAcceptor::from);
    let connections = Arc::new(Semaphore::new(config.max_connections));
    let header_timeout = config.header_timeout;
    let state = Arc::new(State {
        config,
        writer,
        metrics,
        refusals: Default::default(),
    });
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
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        let force = force.clone();
        tracker.spawn(
            async move {
                // `force` ends connections that outlive the drain: each holds
                // a spool writer clone, which would keep the writer running.
                tokio::select! {
                    () = connection(stream, peer, tls, state, header_timeout, shutdown) => {}
                    () = force.cancelled() => {}
                }
                drop(permit);
            }
            .instrument(tracing::debug_span!("connection", %peer)),
        );
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(drain, tracker.wait()).await.is_err() {
        tracing::warn!(
            connections = tracker.len(),
            "in-flight requests did not finish in time; closing them"
        );
        force.cancel();
        tracker.wait().await;
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    header_timeout: Duration,
    shutdown: CancellationToken,
) {
    match tls {
        None => http(stream, peer, state, header_timeout, shutdown).await,
        Some(acceptor) => {
            match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => http(stream, peer, state, header_timeout, shutdown).await,
                Ok(Err(error)) => tracing::debug!(%error, "tls handshake failed"),
                Err(_) => tracing::debug!("tls handshake timed out"),
            }
        }
    }
}

async fn http<S>(
    stream: S,
    peer: SocketAddr,
    state: Arc<State>,
    header_timeout: Duration,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(handler::Peer(peer));
        handler::handle(Arc::clone(&state), request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        () = shutdown.cancelled() => {
            // Finish the request in flight, if any, then close.
            connection.as_mut().graceful_shutdown();
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error during shutdown");
            }
        }
    }
}
