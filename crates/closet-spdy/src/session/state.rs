//! State shared between the session's io task and the handles user code holds.
//!
//! Locks are std mutexes held only for short, non-async sections. When both are needed the
//! connection lock is taken before a stream's lock, never the other way round.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc, watch};

use super::{Role, WRITE_BUFFER_LIMIT};
use crate::frame::{Frame, RstStatus};
use crate::header_block::Headers;

/// Work for the io task's writer, in the order it must reach the wire.
pub(super) enum Command {
    /// Any frame but DATA: SYN_STREAM, SYN_REPLY, an empty FIN, RST_STREAM.
    Frame(Frame),
    /// The echo of a peer's PING; counted so that a peer which floods PINGs but never reads
    /// cannot grow the queue without bound.
    PingEcho(u32),
    /// A DATA frame holding this many bytes of the shared write budget.
    Data(Frame, usize),
    /// Send GOAWAY after everything queued and close the connection.
    Close,
}

/// Takes a lock even if a panicking thread poisoned it: every critical section leaves the
/// state consistent, so the data is still good.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The connection as everyone sees it.
pub(super) struct Shared {
    pub(super) role: Role,
    pub(super) commands: mpsc::UnboundedSender<Command>,
    pub(super) conn: Mutex<ConnState>,
    /// Becomes true once the io task has finished.
    pub(super) ended: watch::Sender<bool>,
}

pub(super) struct ConnState {
    pub(super) streams: HashMap<u32, Arc<StreamShared>>,
    pub(super) next_stream_id: u32,
    /// Highest stream id the peer opened and we accepted (reported in our GOAWAY).
    pub(super) last_peer_stream_id: u32,
    /// We sent (or queued) GOAWAY: no new streams either way.
    pub(super) local_goaway: bool,
    /// The peer sent GOAWAY naming this last good stream.
    pub(super) remote_goaway: Option<u32>,
    pub(super) ended: bool,
    /// DATA bytes queued for the writer and not yet encoded.
    pub(super) queued_bytes: usize,
    pub(super) write_waiters: Vec<Waker>,
    pub(super) queued_pings: usize,
}

/// Who reset a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reset {
    Local,
    Remote(RstStatus),
}

/// One stream, shared by its [`super::Stream`] handle and the io task.
pub(super) struct StreamShared {
    pub(super) id: u32,
    pub(super) headers: Headers,
    pub(super) state: Mutex<StreamState>,
    /// Signalled when the reader drains the receive buffer or drops the handle, waking the io
    /// task if it paused reading because this stream's buffer was full.
    pub(super) space: Notify,
}

#[derive(Default)]
pub(super) struct StreamState {
    pub(super) recv: VecDeque<Bytes>,
    pub(super) buffered: usize,
    pub(super) remote_fin: bool,
    pub(super) local_fin: bool,
    pub(super) reset: Option<Reset>,
    pub(super) replied: bool,
    pub(super) dropped: bool,
    pub(super) session_ended: bool,
    pub(super) read_waker: Option<Waker>,
    pub(super) reply_waker: Option<Waker>,
}

impl StreamState {
    pub(super) fn wake(&mut self) {
        if let Some(waker) = self.read_waker.take() {
            waker.wake();
        }
        if let Some(waker) = self.reply_waker.take() {
            waker.wake();
        }
    }

    /// Nothing more will happen on this stream that anyone cares about.
    fn is_done(&self) -> bool {
        self.reset.is_some()
            || (self.local_fin && self.remote_fin)
            || (self.dropped && (self.local_fin || self.remote_fin))
    }
}

impl StreamShared {
    pub(super) fn new(id: u32, headers: Headers, replied: bool) -> Self {
        Self {
            id,
            headers,
            state: Mutex::new(StreamState {
                replied,
                ..StreamState::default()
            }),
            space: Notify::new(),
        }
    }
}

impl Shared {
    pub(super) fn new(role: Role, commands: mpsc::UnboundedSender<Command>) -> Self {
        Self {
            role,
            commands,
            conn: Mutex::new(ConnState {
                streams: HashMap::new(),
                next_stream_id: match role {
                    Role::Client => 1,
                    Role::Server => 2,
                },
                last_peer_stream_id: 0,
                local_goaway: false,
                remote_goaway: None,
                ended: false,
                queued_bytes: 0,
                write_waiters: Vec::new(),
                queued_pings: 0,
            }),
            ended: watch::Sender::new(false),
        }
    }

    /// Queues a command; false once the io task is gone.
    pub(super) fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    pub(super) fn stream(&self, id: u32) -> Option<Arc<StreamShared>> {
        lock(&self.conn).streams.get(&id).cloned()
    }

    /// Forgets a stream once it is finished, so the table only holds live streams.
    pub(super) fn retire_if_done(&self, stream: &StreamShared) {
        if lock(&stream.state).is_done() {
            lock(&self.conn).streams.remove(&stream.id);
        }
    }

    /// Returns `bytes` of write budget and wakes writers waiting for it.
    pub(super) fn release_budget(&self, bytes: usize) {
        let waiters = {
            let mut conn = lock(&self.conn);
            conn.queued_bytes = conn.queued_bytes.saturating_sub(bytes);
            if conn.queued_bytes < WRITE_BUFFER_LIMIT {
                std::mem::take(&mut conn.write_waiters)
            } else {
                Vec::new()
            }
        };
        waiters.into_iter().for_each(Waker::wake);
    }

    /// Marks the session finished and wakes everything waiting on it.
    pub(super) fn end(&self) {
        let (streams, waiters) = {
            let mut conn = lock(&self.conn);
            conn.ended = true;
            let streams: Vec<_> = conn.streams.drain().map(|(_, s)| s).collect();
            (streams, std::mem::take(&mut conn.write_waiters))
        };
        for stream in streams {
            let mut state = lock(&stream.state);
            state.session_ended = true;
            state.wake();
            drop(state);
            stream.space.notify_waiters();
        }
        waiters.into_iter().for_each(Waker::wake);
        self.ended.send_replace(true);
    }
}
