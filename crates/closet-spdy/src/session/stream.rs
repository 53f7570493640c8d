//! A stream handle: tokio `AsyncRead + AsyncWrite` over one SPDY stream.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;

use super::state::{Command, Reset, Shared, StreamShared, lock};
use super::{MAX_WRITE_CHUNK, RECV_BUFFER_LIMIT, SessionError, WRITE_BUFFER_LIMIT};
use crate::frame::{Frame, RstStatus};
use crate::header_block::Headers;

/// One SPDY stream.
///
/// Writes become DATA frames (queued for the session's writer, with backpressure once a
/// session-wide budget is in flight); `shutdown` sends a DATA frame with FIN, after which the
/// peer reads end-of-file. Reads return the peer's DATA in order, end-of-file after the
/// peer's FIN, and an error of kind `ConnectionReset` if the peer reset the stream before
/// finishing it, or `ConnectionAborted` if the connection ended first.
///
/// Dropping a stream that is still open both ways resets it (RST_STREAM CANCEL); dropping
/// one that either side has finished sends nothing and just stops listening to it. The session's connection stays open while
/// any stream or [`super::Session`] handle exists.
pub struct Stream {
    shared: Arc<Shared>,
    inner: Arc<StreamShared>,
    _alive: watch::Receiver<()>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("id", &self.inner.id)
            .field("headers", &self.inner.headers)
            .finish_non_exhaustive()
    }
}

impl Stream {
    pub(super) fn new(
        shared: Arc<Shared>,
        inner: Arc<StreamShared>,
        alive: watch::Receiver<()>,
    ) -> Self {
        Self {
            shared,
            inner,
            _alive: alive,
        }
    }

    /// The stream id: odd for streams a client opened, even for a server's.
    pub fn id(&self) -> u32 {
        self.inner.id
    }

    /// The headers the stream was opened with (its SYN_STREAM).
    pub fn headers(&self) -> &Headers {
        &self.inner.headers
    }

    /// Aborts the stream with RST_STREAM CANCEL. Later reads and writes fail.
    pub fn reset(&self) {
        let send = {
            let mut state = lock(&self.inner.state);
            let send = state.reset.is_none() && !state.session_ended;
            if send {
                state.reset = Some(Reset::Local);
            }
            state.wake();
            send
        };
        if send {
            self.send_rst(RstStatus::CANCEL);
        }
        self.inner.space.notify_waiters();
        self.shared.retire_if_done(&self.inner);
    }

    fn send_rst(&self, status: RstStatus) {
        self.shared.send(Command::Frame(Frame::RstStream {
            stream_id: self.inner.id,
            status,
        }));
    }

    /// Resolves once the peer answered the SYN_STREAM with SYN_REPLY.
    pub(super) fn poll_reply(&self, cx: &mut Context<'_>) -> Poll<Result<(), SessionError>> {
        let mut state = lock(&self.inner.state);
        if state.replied {
            return Poll::Ready(Ok(()));
        }
        match state.reset {
            Some(Reset::Remote(status)) => return Poll::Ready(Err(SessionError::Refused(status))),
            Some(Reset::Local) => return Poll::Ready(Err(SessionError::Closed)),
            None => {}
        }
        if state.session_ended {
            return Poll::Ready(Err(SessionError::Closed));
        }
        state.reply_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// The io error for a stream that can no longer be written, if it cannot.
    fn write_error(&self) -> Option<io::Error> {
        let state = lock(&self.inner.state);
        if state.local_fin {
            return Some(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            ));
        }
        state
            .reset
            .map(reset_error)
            .or_else(|| state.session_ended.then(session_ended_error))
    }
}

fn reset_error(reset: Reset) -> io::Error {
    let message = match reset {
        Reset::Local => "spdy stream was reset locally".to_owned(),
        Reset::Remote(status) => format!("spdy stream reset by peer ({status})"),
    };
    io::Error::new(io::ErrorKind::ConnectionReset, message)
}

fn session_ended_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "spdy session ended")
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut state = lock(&self.inner.state);
        if !state.recv.is_empty() {
            let was_full = state.buffered >= RECV_BUFFER_LIMIT;
            let mut copied = 0;
            while buf.remaining() > 0 {
                let Some(front) = state.recv.front_mut() else {
                    break;
                };
                let n = front.len().min(buf.remaining());
                buf.put_slice(&front[..n]);
                front.advance(n);
                if front.is_empty() {
                    state.recv.pop_front();
                }
                copied += n;
            }
            state.buffered -= copied;
            let drained = was_full && state.buffered < RECV_BUFFER_LIMIT;
            drop(state);
            if drained {
                self.inner.space.notify_waiters();
            }
            return Poll::Ready(Ok(()));
        }
        if state.remote_fin {
            return Poll::Ready(Ok(()));
        }
        if let Some(reset) = state.reset {
            return Poll::Ready(Err(reset_error(reset)));
        }
        if state.session_ended {
            return Poll::Ready(Err(session_ended_error()));
        }
        state.read_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if let Some(error) = self.write_error() {
            return Poll::Ready(Err(error));
        }
        let n = buf.len().min(MAX_WRITE_CHUNK);
        {
            let mut conn = lock(&self.shared.conn);
            if conn.ended {
                return Poll::Ready(Err(session_ended_error()));
            }
            if conn.queued_bytes >= WRITE_BUFFER_LIMIT {
                if !conn.write_waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    conn.write_waiters.push(cx.waker().clone());
                }
                return Poll::Pending;
            }
            conn.queued_bytes += n;
        }
        let frame = Frame::Data {
            stream_id: self.inner.id,
            fin: false,
            data: Bytes::copy_from_slice(&buf[..n]),
        };
        if !self.shared.send(Command::Data(frame, n)) {
            self.shared.release_budget(n);
            return Poll::Ready(Err(session_ended_error()));
        }
        Poll::Ready(Ok(n))
    }

    /// Frames are handed to the session's writer, which flushes the connection after each
    /// batch; there is nothing further to flush here.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        {
            let mut state = lock(&self.inner.state);
            if state.local_fin {
                return Poll::Ready(Ok(()));
            }
            if let Some(reset) = state.reset {
                return Poll::Ready(Err(reset_error(reset)));
            }
            if state.session_ended {
                return Poll::Ready(Err(session_ended_error()));
            }
            state.local_fin = true;
        }
        let fin = Frame::Data {
            stream_id: self.inner.id,
            fin: true,
            data: Bytes::new(),
        };
        if !self.shared.send(Command::Frame(fin)) {
            return Poll::Ready(Err(session_ended_error()));
        }
        self.shared.retire_if_done(&self.inner);
        Poll::Ready(Ok(()))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let send = {
            let mut state = lock(&self.inner.state);
            state.dropped = true;
            state.recv.clear();
            state.buffered = 0;
            // Only a stream still open both ways is abandoned by a drop. Once either side
            // has finished there is nothing to abort, and staying quiet matters: kubelet's
            // server closes the connection right after its last frames, and a frame of ours
            // arriving after that makes the kernel reset the connection, discarding output
            // (the exit status) not yet read.
            let send = !state.local_fin
                && !state.remote_fin
                && state.reset.is_none()
                && !state.session_ended;
            if send {
                state.reset = Some(Reset::Local);
            }
            send
        };
        if send {
            self.send_rst(RstStatus::CANCEL);
        }
        // The io task may be paused waiting for room in this stream's buffer.
        self.inner.space.notify_waiters();
        self.shared.retire_if_done(&self.inner);
    }
}
