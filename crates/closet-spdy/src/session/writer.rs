//! The io task's writing half: encodes queued commands in order and writes them in batches.

use std::io;

use bytes::BytesMut;
use tokio::io::{AsyncWriteExt, WriteHalf};
use tokio::sync::{mpsc, watch};
use tracing::{debug, trace, warn};

use super::WRITE_BATCH;
use super::driver::Io;
use super::state::{Command, Shared, lock};
use crate::frame::{Frame, FrameEncoder, GoAwayStatus};

pub(super) struct Writer {
    pub(super) io: WriteHalf<Box<Io>>,
    pub(super) encoder: FrameEncoder,
    /// Encoded bytes not yet written; kept across cancellation so a frame is never cut.
    pub(super) pending: BytesMut,
}

impl Writer {
    /// Writes queued frames until the session is closed, every handle is gone, or the
    /// connection fails.
    pub(super) async fn run(
        &mut self,
        shared: &Shared,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        alive: &watch::Sender<()>,
    ) {
        loop {
            let command = tokio::select! {
                biased;
                command = commands.recv() => command,
                () = alive.closed() => {
                    // No handle is left: send what they queued, then say goodbye.
                    while let Ok(command) = commands.try_recv() {
                        if self.take(shared, command) {
                            break;
                        }
                    }
                    let _ = self.close(shared, Some(GoAwayStatus::OK)).await;
                    return;
                }
            };
            // `Shared` holds a sender for as long as this task runs, so the queue never ends.
            let Some(command) = command else { return };
            let mut close = self.take(shared, command);
            while !close && self.pending.len() < WRITE_BATCH {
                match commands.try_recv() {
                    Ok(command) => close = self.take(shared, command),
                    Err(_) => break,
                }
            }
            if close {
                let _ = self.close(shared, Some(GoAwayStatus::OK)).await;
                return;
            }
            if let Err(error) = self.flush().await {
                debug!(%error, "spdy connection write failed");
                return;
            }
        }
    }

    /// Encodes one command into `pending`; true when it asks to close the session.
    fn take(&mut self, shared: &Shared, command: Command) -> bool {
        match command {
            Command::Frame(frame) => self.encode(&frame),
            Command::PingEcho(id) => {
                let mut conn = lock(&shared.conn);
                conn.queued_pings = conn.queued_pings.saturating_sub(1);
                drop(conn);
                self.encode(&Frame::Ping { id });
            }
            Command::Data(frame, budget) => {
                self.encode(&frame);
                shared.release_budget(budget);
            }
            Command::Close => return true,
        }
        false
    }

    fn encode(&mut self, frame: &Frame) {
        trace!(?frame, "spdy frame sent");
        if let Err(error) = self.encoder.encode(frame, &mut self.pending) {
            // Handles validate what they queue, so this is a bug, not peer input.
            warn!(%error, "spdy frame could not be encoded and was dropped");
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        while !self.pending.is_empty() {
            if self.io.write_buf(&mut self.pending).await? == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
        }
        self.io.flush().await
    }

    /// Finishes any half-written frame, sends GOAWAY if asked, and shuts the write side.
    pub(super) async fn close(
        &mut self,
        shared: &Shared,
        goaway: Option<GoAwayStatus>,
    ) -> io::Result<()> {
        if let Some(status) = goaway {
            let last_good_stream_id = {
                let mut conn = lock(&shared.conn);
                conn.local_goaway = true;
                conn.last_peer_stream_id
            };
            self.encode(&Frame::GoAway {
                last_good_stream_id,
                status,
            });
        }
        self.flush().await?;
        self.io.shutdown().await
    }
}
