//! Lingering close (as nginx does): after an answer that leaves request
//! bytes unread (`413`, `401`, `503` before the body, …), the server shuts
//! its sending side, then reads and discards what the client still sends,
//! within a time and byte bound, before closing.
//!
//! Closing a socket with unread input makes the kernel send a reset, which
//! destroys the answer before a client that writes its whole body first
//! gets to read it: it sees a broken pipe or EOF instead of the `413`, and
//! retries for ever.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// Longest time spent discarding after an early answer (nginx's
/// `lingering_time`).
pub(super) const LINGER_TIME: Duration = Duration::from_secs(30);

/// Longest wait for the client's next bytes (nginx's `lingering_timeout`):
/// a client that paused is reading its answer, or gone.
pub(super) const LINGER_QUIET: Duration = Duration::from_secs(5);

/// Most bytes discarded: a 100 MiB body sent in full before reading still
/// gets its answer, and a client cannot make the server read for ever.
pub(super) const LINGER_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// The bounds of one lingering close.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub time: Duration,
    pub quiet: Duration,
    pub max_bytes: u64,
}

/// The bounds the server uses.
pub(super) const BOUNDS: Bounds = Bounds {
    time: LINGER_TIME,
    quiet: LINGER_QUIET,
    max_bytes: LINGER_MAX_BYTES,
};

/// Shuts the sending side of `io` (TLS: close_notify, then FIN), then
/// discards what arrives until EOF, a quiet period, the time or the byte
/// bound. Returns the bytes discarded.
pub(super) async fn linger<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S, bounds: Bounds) -> u64 {
    let end = Instant::now() + bounds.time;
    if tokio::time::timeout(bounds.quiet, io.shutdown())
        .await
        .is_err()
    {
        return 0;
    }
    let mut buffer = vec![0_u8; 16 * 1024];
    let mut discarded = 0_u64;
    while discarded < bounds.max_bytes {
        let until = end.min(Instant::now() + bounds.quiet);
        match tokio::time::timeout_at(until, io.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(read)) => discarded += read as u64,
        }
    }
    discarded
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Bounds = Bounds {
        time: Duration::from_secs(10),
        quiet: Duration::from_millis(200),
        max_bytes: 1_000_000,
    };

    #[tokio::test]
    async fn discards_until_the_client_closes() {
        let (mut server, mut client) = tokio::io::duplex(1024);
        let writer = tokio::spawn(async move {
            client.write_all(&vec![b'x'; 100_000]).await.unwrap();
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.unwrap();
            rest.len()
        });
        assert_eq!(linger(&mut server, SHORT).await, 100_000);
        assert_eq!(writer.await.unwrap(), 0, "the server sent nothing more");
    }

    #[tokio::test]
    async fn a_silent_client_is_left_after_the_quiet_period() {
        let (mut server, _client) = tokio::io::duplex(1024);
        let started = Instant::now();
        assert_eq!(linger(&mut server, SHORT).await, 0);
        let waited = started.elapsed();
        assert!(
            waited >= SHORT.quiet && waited < SHORT.quiet * 5,
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn a_client_that_never_stops_is_left_at_the_byte_bound() {
        let (mut server, mut client) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            let chunk = vec![b'x'; 16 * 1024];
            while client.write_all(&chunk).await.is_ok() {}
        });
        let discarded = linger(&mut server, SHORT).await;
        assert!((SHORT.max_bytes..SHORT.max_bytes + 64 * 1024).contains(&discarded));
        drop(server);
        writer.await.unwrap();
    }
}
