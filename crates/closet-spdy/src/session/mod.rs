//! An async SPDY/3.1 session over any byte stream, in the client or the server role.
//!
//! [`Session::new`] spawns one io task that owns the connection; [`Session::open`] and
//! [`Session::accept`] hand out [`Stream`]s. The behaviour follows what the peers in the
//! field (Go's `spdystream`, as used by kubectl, client-go, kubelet and containerd's CRI
//! streaming server) do and expect:
//!
//! - `open` waits for the peer's SYN_REPLY before returning: spdystream discards DATA that
//!   arrives on a stream it has not replied to yet.
//! - Incoming streams are answered with SYN_REPLY at once and queued for `accept`.
//! - Flow control: spdystream never sends WINDOW_UPDATE and ignores the ones it receives, so
//!   honouring the 64 KiB initial window would stall every transfer after 64 KiB. The
//!   session therefore neither limits its sends by windows nor sends WINDOW_UPDATE itself:
//!   kubelet's server closes the connection as soon as the command's status is written, and
//!   a frame arriving after that close makes the kernel reset the connection, throwing away
//!   output the client had not read yet. Backpressure works the way spdystream's does: the
//!   session pauses reading the connection while a stream's receive buffer is full.
//! - PINGs started by the peer are echoed; GOAWAY stops new streams.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Mutex as AsyncMutex, mpsc, watch};

use crate::frame::{Frame, MAX_ENCODED_HEADER_BLOCK_LEN, MAX_STREAM_ID, RstStatus, SynStream};
use crate::header_block::{self, Headers};

mod driver;
mod state;
mod stream;
#[cfg(test)]
mod tests;
mod writer;

pub use stream::Stream;

use state::{Command, Shared, StreamShared, lock};

/// Largest DATA frame a write produces; spdystream allocates each frame whole.
const MAX_WRITE_CHUNK: usize = 32 * 1024;
/// DATA bytes all streams together may have queued before writes wait.
const WRITE_BUFFER_LIMIT: usize = 256 * 1024;
/// Bytes one stream may hold unread before the session stops reading the connection.
const RECV_BUFFER_LIMIT: usize = 256 * 1024;
/// Incoming streams waiting for `accept`; more are refused.
const ACCEPT_BACKLOG: usize = 64;
/// PING echoes that may wait for the writer; a flood beyond this goes unanswered.
const MAX_QUEUED_PINGS: usize = 64;
/// Encoded bytes gathered before one write to the connection.
const WRITE_BATCH: usize = 64 * 1024;
/// Bytes read from the connection at a time.
const READ_CHUNK: usize = 16 * 1024;
/// How long a failing connection gets to take a last GOAWAY.
const FINAL_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Which end of the connection this session is; it decides stream id parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Opens odd-numbered streams (kubectl, client-go, the agent towards containerd).
    Client,
    /// Opens even-numbered streams (kubelet's and containerd's streaming servers).
    Server,
}

impl Role {
    /// Whether `id` (a stream or PING id) is one this side starts: odd for clients, even
    /// for servers.
    fn owns(self, id: u32) -> bool {
        (id % 2 == 1) == (self == Role::Client)
    }
}

/// Why a stream could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The connection has ended or the session was closed.
    #[error("spdy session is closed")]
    Closed,
    /// A GOAWAY was sent or received, so no new streams may start.
    #[error("spdy session is going away")]
    GoingAway,
    /// The peer answered the new stream with RST_STREAM.
    #[error("spdy peer refused the stream ({0})")]
    Refused(RstStatus),
    /// All 2^30 stream ids of this side have been used.
    #[error("spdy stream ids are exhausted")]
    StreamIdsExhausted,
    /// The headers do not fit in one header block.
    #[error("spdy stream headers of {0} bytes are too large")]
    HeadersTooLarge(usize),
}

/// A SPDY session. Cloning gives another handle to the same session.
///
/// The connection stays open while any handle or [`Stream`] exists; when the last one is
/// dropped the session sends what was queued, then GOAWAY, and closes the io.
#[derive(Clone)]
pub struct Session {
    handle: Arc<Handle>,
}

/// Kept apart from [`Shared`] so that streams waiting in the accept queue do not keep
/// themselves alive through it.
struct Handle {
    shared: Arc<Shared>,
    accept: AsyncMutex<mpsc::Receiver<Stream>>,
    alive: watch::Receiver<()>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.handle.shared.role)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Starts a session over `io` and spawns its io task on the current tokio runtime.
    pub fn new<T>(io: T, role: Role) -> Self
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let (accept_tx, accept_rx) = mpsc::channel(ACCEPT_BACKLOG);
        let (alive_tx, alive_rx) = watch::channel(());
        let shared = Arc::new(Shared::new(role, commands_tx));
        let driver = driver::Driver {
            io: Box::new(io),
            shared: Arc::clone(&shared),
            commands,
            alive: alive_tx,
            accept: accept_tx,
        };
        tokio::spawn(driver.run());
        Self {
            handle: Arc::new(Handle {
                shared,
                accept: AsyncMutex::new(accept_rx),
                alive: alive_rx,
            }),
        }
    }

    /// A client-role session (odd stream ids).
    pub fn client<T>(io: T) -> Self
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Self::new(io, Role::Client)
    }

    /// A server-role session (even stream ids).
    pub fn server<T>(io: T) -> Self
    where
        T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Self::new(io, Role::Server)
    }

    /// This session's role.
    pub fn role(&self) -> Role {
        self.handle.shared.role
    }

    /// Opens a stream with `headers` and waits for the peer's SYN_REPLY.
    ///
    /// Dropping the future before it resolves resets the half-opened stream.
    pub async fn open(&self, headers: Headers) -> Result<Stream, SessionError> {
        let size = header_block::serialized_len(&headers);
        if size > MAX_ENCODED_HEADER_BLOCK_LEN {
            return Err(SessionError::HeadersTooLarge(size));
        }
        let shared = &self.handle.shared;
        let stream = {
            let mut conn = lock(&shared.conn);
            if conn.ended {
                return Err(SessionError::Closed);
            }
            if conn.local_goaway || conn.remote_goaway.is_some() {
                return Err(SessionError::GoingAway);
            }
            let id = conn.next_stream_id;
            if id > MAX_STREAM_ID {
                return Err(SessionError::StreamIdsExhausted);
            }
            conn.next_stream_id += 2;
            let inner = Arc::new(StreamShared::new(id, headers.clone(), false));
            conn.streams.insert(id, Arc::clone(&inner));
            // Queued under the lock so stream ids reach the wire in increasing order.
            let syn = Frame::SynStream(SynStream {
                stream_id: id,
                associated_stream_id: 0,
                priority: 0,
                slot: 0,
                fin: false,
                unidirectional: false,
                headers,
            });
            if !shared.send(Command::Frame(syn)) {
                conn.streams.remove(&id);
                return Err(SessionError::Closed);
            }
            Stream::new(Arc::clone(shared), inner, self.handle.alive.clone())
        };
        std::future::poll_fn(|cx| stream.poll_reply(cx)).await?;
        Ok(stream)
    }

    /// The next stream the peer opened (already answered with SYN_REPLY), or `None` once
    /// the session has ended.
    pub async fn accept(&self) -> Option<Stream> {
        self.handle.accept.lock().await.recv().await
    }

    /// Sends GOAWAY after everything already queued and closes the connection. Streams
    /// still open then fail with `ConnectionAborted`.
    pub fn close(&self) {
        let shared = &self.handle.shared;
        let mut conn = lock(&shared.conn);
        if !conn.ended && !conn.local_goaway {
            conn.local_goaway = true;
            shared.send(Command::Close);
        }
    }

    /// Resolves once the connection has ended, for whatever reason.
    pub async fn closed(&self) {
        let mut ended = self.handle.shared.ended.subscribe();
        let _ = ended.wait_for(|ended| *ended).await;
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        *self.handle.shared.ended.borrow()
    }
}
