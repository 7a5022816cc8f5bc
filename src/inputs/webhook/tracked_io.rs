//! The connection's stream (plain or TLS) as hyper sees it, reporting to the
//! connection's [`Tracker`] when bytes arrive and when a write blocks
//! because the client does not read (the send timeout's clock), and showing
//! the bytes read to the [`ChunkWatch`].

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::chunk_watch::ChunkWatch;
use super::tracker::Tracker;

/// A stream that reports reads and blocked writes to its tracker.
#[derive(Debug)]
pub(super) struct TrackedIo<S> {
    inner: S,
    tracker: Arc<Tracker>,
    chunk_watch: ChunkWatch,
}

impl<S> TrackedIo<S> {
    pub(super) fn new(inner: S, tracker: Arc<Tracker>, chunk_watch: ChunkWatch) -> TrackedIo<S> {
        TrackedIo {
            inner,
            tracker,
            chunk_watch,
        }
    }

    /// A write that cannot proceed starts the send clock.
    fn writing<T>(&self, poll: Poll<T>) -> Poll<T> {
        if poll.is_pending() {
            self.tracker.on_write_blocked();
        }
        poll
    }

    /// Only a completed flush stops it: everything hyper had to send was
    /// taken. A client that reads a little now and then is still not
    /// draining its responses.
    fn flushing<T>(&self, poll: Poll<T>) -> Poll<T> {
        match poll {
            Poll::Pending => self.tracker.on_write_blocked(),
            Poll::Ready(_) => self.tracker.on_write_done(),
        }
        poll
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TrackedIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.tracker.on_read();
            this.chunk_watch.feed(&buf.filled()[before..]);
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TrackedIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.writing(poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.writing(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.flushing(poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.flushing(poll)
    }
}
