//! The accept loop: TCP (+ rustls) connections served by hyper's HTTP/1.1
//! implementation with keep-alive, under `max_connections` (making room by
//! closing idle or stalled connections, [`super::registry`]), each watched
//! for the header, idle and send timeouts ([`super::tracker`]) and closed
//! with a lingering read after an early answer ([`super::linger`]).

use std::future::poll_fn;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::header;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::budget::Budget;
use super::chunk_watch::ChunkWatch;
use super::config::Config;
use super::handler::{self, State};
use super::linger::{self, LINGER_QUIET};
use super::registry::Registry;
use super::tracked_io::TrackedIo;
use super::tracker::{Expiry, Phase, Timeouts, Tracker};
use crate::spool::Writer;
use crate::telemetry::metrics::Metrics;

/// Pause after an accept error such as `EMFILE`, so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Hyper's read and write buffers per connection (its default is ~400 KiB):
/// bounds what a connection buffers whatever the client pipelines (512
/// connections × 2 × 64 KiB = 64 MiB), and the size of a request head
/// (larger is `431`). Body bytes pass through in frames of at most this.
const MAX_BUF_BYTES: usize = 64 * 1024;

/// The kernel send buffer of each connection (the kernel doubles it), set
/// on the listener and inherited by accepted sockets. Answers are small;
/// without it autotuning lets a client that pipelines requests and never
/// reads park megabytes of answers before a write blocks and
/// `send_timeout` starts.
const SEND_BUFFER_BYTES: u32 = 32 * 1024;

/// Pending connections the kernel queues for the accept loop (tokio's
/// default for `TcpListener::bind`).
const BACKLOG: u32 = 1024;

/// Binds the listen address (before anything else is started, so a busy
/// port fails start-up at once).
pub async fn bind(config: &Config) -> std::io::Result<TcpListener> {
    let socket = if config.listen.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_send_buffer_size(SEND_BUFFER_BYTES)?;
    socket.bind(config.listen)?;
    socket.listen(BACKLOG)
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
    let registry = Registry::new(config.max_connections);
    let timeouts = Timeouts {
        header: config.header_timeout,
        idle: config.edge.idle_timeout,
        send: config.edge.send_timeout,
    };
    let state = Arc::new(State {
        budget: Budget::new(config.edge.max_inflight_bytes),
        config,
        writer,
        metrics,
        refusals: Default::default(),
    });
    let tasks = TaskTracker::new();
    let force = CancellationToken::new();
    loop {
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
        let (slot, evicted) = tokio::select! {
            admitted = registry.admit() => admitted,
            () = shutdown.cancelled() => break,
        };
        if let Some(eviction) = evicted {
            Metrics::add(&state.metrics.webhook_connections_closed_evicted, 1);
            tracing::debug!(
                ?eviction,
                "closed a connection to make room at max_connections"
            );
        }
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        let force = force.clone();
        tasks.spawn(
            async move {
                let tracker = Arc::clone(&slot.tracker);
                // `force` ends connections that outlive the drain: each holds
                // a spool writer clone, which would keep the writer running.
                tokio::select! {
                    () = connection(stream, peer, tls, state, Arc::clone(&tracker), timeouts, shutdown) => {}
                    () = tracker.kill.cancelled() => {}
                    () = force.cancelled() => {}
                }
                drop(slot);
            }
            .instrument(tracing::debug_span!("connection", %peer)),
        );
    }
    drop(listener);
    tasks.close();
    if tokio::time::timeout(drain, tasks.wait()).await.is_err() {
        tracing::warn!(
            connections = tasks.len(),
            "in-flight requests did not finish in time; closing them"
        );
        force.cancel();
        tasks.wait().await;
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    tracker: Arc<Tracker>,
    timeouts: Timeouts,
    shutdown: CancellationToken,
) {
    match tls {
        None => http(stream, peer, state, tracker, timeouts, shutdown).await,
        Some(acceptor) => {
            match tokio::time::timeout(timeouts.header, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => http(stream, peer, state, tracker, timeouts, shutdown).await,
                Ok(Err(error)) => tracing::debug!(%error, "tls handshake failed"),
                Err(_) => {
                    Metrics::add(&state.metrics.webhook_connections_closed_header_timeout, 1);
                    tracing::debug!("tls handshake timed out");
                }
            }
        }
    }
}

/// Serves HTTP/1.1 on `stream` until the client or a limit ends it; after
/// an answer that left request bytes unread, lingers before closing.
async fn http<S>(
    stream: S,
    peer: SocketAddr,
    state: Arc<State>,
    tracker: Arc<Tracker>,
    timeouts: Timeouts,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let metrics = Arc::clone(&state.metrics);
    let chunk_watch = ChunkWatch::new(state.config.max_body_bytes);
    let alarms = chunk_watch.alarms();
    let service = {
        let tracker = Arc::clone(&tracker);
        service_fn(move |mut request| {
            let state = Arc::clone(&state);
            let tracker = Arc::clone(&tracker);
            request.extensions_mut().insert(alarms.next());
            request.extensions_mut().insert(handler::Peer(peer));
            Box::pin(async move {
                tracker.set_phase(Phase::Busy);
                let response = handler::handle(state, request).await;
                if let Ok(response) = &response {
                    if response
                        .headers()
                        .get(header::CONNECTION)
                        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"))
                    {
                        tracker.request_linger();
                    }
                }
                tracker.set_phase(Phase::Idle);
                response
            })
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The tracker times request heads: hyper's header timer would also run
    // while a keep-alive connection is idle.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .max_buf_size(MAX_BUF_BYTES)
        .keep_alive(true);
    let io = TrackedIo::new(stream, Arc::clone(&tracker), chunk_watch);
    let mut connection = builder.serve_connection(TokioIo::new(io), service);
    let watchdog = tracker.watch(timeouts);
    tokio::pin!(watchdog);
    let mut draining = false;
    let ended = loop {
        tokio::select! {
            result = poll_fn(|cx| connection.poll_without_shutdown(cx)) => break Ok(result),
            expiry = &mut watchdog => break Err(expiry),
            () = shutdown.cancelled(), if !draining => draining = true,
        }
        // Finish the request in flight, if any, then close.
        Pin::new(&mut connection).graceful_shutdown();
    };
    let result = match ended {
        Ok(result) => result,
        Err(expiry) => {
            let counter = match expiry {
                Expiry::Header => &metrics.webhook_connections_closed_header_timeout,
                Expiry::Idle => &metrics.webhook_connections_closed_idle_timeout,
                Expiry::Send => &metrics.webhook_connections_closed_send_timeout,
            };
            Metrics::add(counter, 1);
            tracing::debug!(?expiry, "connection closed by a timeout");
            return;
        }
    };
    // Hyper answered a malformed request itself; the rest may be unread.
    let malformed = matches!(&result, Err(error) if error.is_parse());
    if let Err(error) = &result {
        tracing::debug!(%error, "connection ended with an error");
    }
    let parts = connection.into_parts();
    // The service holds the spool writer: let it go before lingering.
    drop(parts.service);
    let mut io = parts.io.into_inner();
    if (tracker.linger_requested() || malformed) && !shutdown.is_cancelled() {
        tracker.set_phase(Phase::Lingering);
        Metrics::add(&metrics.webhook_connections_lingering, 1);
        tokio::select! {
            discarded = linger::linger(&mut io, linger::BOUNDS) => {
                tracing::debug!(discarded, "lingering close done");
            }
            () = shutdown.cancelled() => {}
        }
    } else {
        let _ = tokio::time::timeout(LINGER_QUIET, io.shutdown()).await;
    }
}
