//! The io task: one per session, owning the connection.
//!
//! Reading and writing run concurrently in the task (a session that only wrote while it was
//! not reading could deadlock with a peer doing the same once both socket buffers fill).
//! The task ends when the connection ends, when the session is closed, or when no
//! [`super::Session`] or [`super::Stream`] handle is left; then the io is dropped.

use std::io;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadHalf};
use tokio::sync::{mpsc, watch};
use tracing::{debug, trace, warn};

use super::state::{Command, Reset, Shared, StreamShared, lock};
use super::writer::Writer;
use super::{FINAL_FLUSH_TIMEOUT, MAX_QUEUED_PINGS, READ_CHUNK, RECV_BUFFER_LIMIT, Stream};
use crate::frame::{
    Frame, FrameDecoder, FrameEncoder, FrameError, GoAwayStatus, RstStatus, SynStream,
};
use crate::header_block::Headers;

pub(super) type Io = dyn AsyncReadWrite;

/// Object-safe union of the traits the io must implement, so the task is not generic.
pub(super) trait AsyncReadWrite: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> AsyncReadWrite for T {}

/// Everything the io task owns.
pub(super) struct Driver {
    pub(super) io: Box<Io>,
    pub(super) shared: Arc<Shared>,
    pub(super) commands: mpsc::UnboundedReceiver<Command>,
    pub(super) alive: watch::Sender<()>,
    pub(super) accept: mpsc::Sender<Stream>,
}

enum ReadEnd {
    Eof,
    Io(io::Error),
    Protocol(FrameError),
}

impl Driver {
    pub(super) async fn run(self) {
        let Driver {
            io,
            shared,
            mut commands,
            alive,
            accept,
        } = self;
        let (read_half, write_half) = tokio::io::split(io);
        let mut writer = match FrameEncoder::new() {
            Ok(encoder) => Writer {
                io: write_half,
                encoder,
                pending: BytesMut::new(),
            },
            Err(error) => {
                warn!(%error, "spdy session could not start its header compressor");
                shared.end();
                return;
            }
        };
        let mut reader = Reader {
            io: read_half,
            decoder: FrameDecoder::new(),
            buf: BytesMut::new(),
            shared: &shared,
            accept,
            alive: &alive,
        };
        let read_end = tokio::select! {
            end = reader.run() => Some(end),
            () = writer.run(&shared, &mut commands, &alive) => None,
        };
        drop(reader);
        if let Some(end) = read_end {
            let goaway = match end {
                ReadEnd::Eof => {
                    debug!("spdy peer closed the connection");
                    None
                }
                ReadEnd::Io(error) => {
                    debug!(%error, "spdy connection read failed");
                    None
                }
                ReadEnd::Protocol(error) => {
                    warn!(%error, "spdy peer broke the protocol; closing the connection");
                    Some(GoAwayStatus::PROTOCOL_ERROR)
                }
            };
            // Best effort: the peer may be gone or no longer reading.
            let _ = tokio::time::timeout(FINAL_FLUSH_TIMEOUT, writer.close(&shared, goaway)).await;
        }
        shared.end();
    }
}

struct Reader<'a> {
    io: ReadHalf<Box<Io>>,
    decoder: FrameDecoder,
    buf: BytesMut,
    shared: &'a Arc<Shared>,
    accept: mpsc::Sender<Stream>,
    alive: &'a watch::Sender<()>,
}

impl Reader<'_> {
    async fn run(&mut self) -> ReadEnd {
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(frame)) => self.on_frame(frame).await,
                Ok(None) => {
                    self.buf.reserve(READ_CHUNK);
                    match self.io.read_buf(&mut self.buf).await {
                        Ok(0) => return ReadEnd::Eof,
                        Ok(_) => {}
                        Err(error) => return ReadEnd::Io(error),
                    }
                }
                Err(error) => return ReadEnd::Protocol(error),
            }
        }
    }

    async fn on_frame(&mut self, frame: Frame) {
        trace!(?frame, "spdy frame received");
        match frame {
            Frame::SynStream(syn) => self.on_syn_stream(syn),
            Frame::SynReply { stream_id, fin, .. } => {
                if let Some(stream) = self.shared.stream(stream_id) {
                    let mut state = lock(&stream.state);
                    state.replied = true;
                    state.remote_fin |= fin;
                    state.wake();
                    drop(state);
                    self.shared.retire_if_done(&stream);
                }
            }
            Frame::RstStream { stream_id, status } => {
                if let Some(stream) = self.shared.stream(stream_id) {
                    debug!(stream_id, %status, "spdy stream reset by peer");
                    reset_by_peer(self.shared, &stream, status);
                }
            }
            Frame::Ping { id } => self.on_ping(id),
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                debug!(last_good_stream_id, %status, "spdy peer is going away");
                self.on_goaway(last_good_stream_id);
            }
            Frame::Headers {
                stream_id,
                fin: true,
                ..
            } => {
                deliver(self.shared, stream_id, true, Bytes::new()).await;
            }
            // Sends are not limited by windows (spdystream grants none), and a peer's
            // SETTINGS carry nothing this session acts on.
            Frame::Headers { .. } | Frame::Settings { .. } | Frame::WindowUpdate { .. } => {}
            Frame::Data {
                stream_id,
                fin,
                data,
            } => deliver(self.shared, stream_id, fin, data).await,
        }
    }

    fn on_syn_stream(&mut self, syn: SynStream) {
        let id = syn.stream_id;
        let refusal = {
            let mut conn = lock(&self.shared.conn);
            if self.shared.role.owns(id) || id <= conn.last_peer_stream_id {
                Some(RstStatus::PROTOCOL_ERROR)
            } else {
                conn.last_peer_stream_id = id;
                conn.local_goaway.then_some(RstStatus::REFUSED_STREAM)
            }
        };
        // Refuse rather than wait when nobody accepts: a paused reader would stall every
        // other stream on the connection.
        let permit = match refusal {
            Some(status) => Err(status),
            None => self
                .accept
                .try_reserve()
                .map_err(|_| RstStatus::REFUSED_STREAM),
        };
        let permit = match permit {
            Ok(permit) => permit,
            Err(status) => {
                debug!(stream_id = id, %status, "refusing spdy stream");
                self.shared.send(Command::Frame(Frame::RstStream {
                    stream_id: id,
                    status,
                }));
                return;
            }
        };
        let stream = Arc::new(StreamShared::new(id, syn.headers, true));
        {
            let mut state = lock(&stream.state);
            state.remote_fin = syn.fin;
            state.local_fin = syn.unidirectional;
        }
        lock(&self.shared.conn)
            .streams
            .insert(id, Arc::clone(&stream));
        if !syn.unidirectional {
            // spdystream's CreateStream waits for this reply, and kubelet's server drops data
            // that arrives before it replied, so the reply goes out before anything else.
            let reply = Frame::SynReply {
                stream_id: id,
                fin: false,
                headers: Headers::new(),
            };
            self.shared.send(Command::Frame(reply));
        }
        permit.send(Stream::new(
            Arc::clone(self.shared),
            stream,
            self.alive.subscribe(),
        ));
    }

    fn on_ping(&self, id: u32) {
        // Our own PINGs' answers need nothing; this session sends none anyway.
        if self.shared.role.owns(id) {
            return;
        }
        {
            let mut conn = lock(&self.shared.conn);
            if conn.queued_pings >= MAX_QUEUED_PINGS {
                return;
            }
            conn.queued_pings += 1;
        }
        self.shared.send(Command::PingEcho(id));
    }

    fn on_goaway(&self, last_good_stream_id: u32) {
        let refused: Vec<_> = {
            let mut conn = lock(&self.shared.conn);
            conn.remote_goaway = Some(last_good_stream_id);
            conn.streams
                .values()
                .filter(|s| self.shared.role.owns(s.id) && s.id > last_good_stream_id)
                .cloned()
                .collect()
        };
        for stream in refused {
            reset_by_peer(self.shared, &stream, RstStatus::REFUSED_STREAM);
        }
    }
}

/// Delivers payload to a stream, pausing the whole connection while that stream's
/// buffer is full, as spdystream does. Readers must therefore drain every stream they
/// hold concurrently.
async fn deliver(shared: &Shared, stream_id: u32, fin: bool, data: Bytes) {
    let Some(stream) = shared.stream(stream_id) else {
        trace!(stream_id, "spdy data for a stream no longer open");
        return;
    };
    loop {
        let space = stream.space.notified();
        tokio::pin!(space);
        space.as_mut().enable();
        {
            let mut state = lock(&stream.state);
            let unwanted =
                state.dropped || state.reset.is_some() || state.remote_fin || state.session_ended;
            if unwanted || data.is_empty() || state.buffered < RECV_BUFFER_LIMIT {
                if !unwanted && !data.is_empty() {
                    state.buffered += data.len();
                    state.recv.push_back(data);
                }
                state.remote_fin |= fin;
                state.wake();
                break;
            }
        }
        space.await;
    }
    if fin {
        shared.retire_if_done(&stream);
    }
}

fn reset_by_peer(shared: &Shared, stream: &StreamShared, status: RstStatus) {
    {
        let mut state = lock(&stream.state);
        state.reset.get_or_insert(Reset::Remote(status));
        state.wake();
    }
    stream.space.notify_waiters();
    lock(&shared.conn).streams.remove(&stream.id);
}
