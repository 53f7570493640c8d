//! The WebSocket side of exec and attach: channel-prefixed binary messages ↔ a
//! [`RemoteSession`].
//!
//! Client → node: channel 0 is stdin, 4 a terminal size, and in v5 255 closes a stream
//! (`[255, 0]`: stdin reached its end). Node → client: 1 stdout (all output with a TTY),
//! 2 stderr, then 3 the final `Status`, then a close frame. The exit code reaches kubectl
//! only through channel 3, so the status is sent after the output is drained. Pings are
//! answered by the WebSocket layer while messages are read.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use bytes::{BufMut, BytesMut};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{RemoteSession, SessionReader, SessionWriter};

/// Channel ids of the remotecommand protocol.
mod channel {
    pub(super) const STDIN: u8 = 0;
    pub(super) const STDOUT: u8 = 1;
    pub(super) const STDERR: u8 = 2;
    pub(super) const STATUS: u8 = 3;
    pub(super) const RESIZE: u8 = 4;
    pub(super) const CLOSE: u8 = 255;
}

/// How long output may take to drain after the process ended.
const DRAIN: Duration = Duration::from_secs(5);
/// How long to wait for the client's close reply.
const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Largest output message.
const READ_BUFFER: usize = 32 * 1024;
/// Output messages queued for the client before the pumps wait.
const QUEUE: usize = 32;

/// Bridges `socket` and `session` until the process ends or the client goes away. `v5`
/// enables the stream-close channel.
pub(crate) async fn run(socket: WebSocket, session: RemoteSession, v5: bool) {
    let RemoteSession {
        mut stdin,
        stdout,
        stderr,
        mut resize,
        mut outcome,
    } = session;
    let (mut sink, mut incoming) = socket.split();
    let (tx, mut rx) = mpsc::channel::<Message>(QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = sink.flush().await;
    });
    let mut pumps = JoinSet::new();
    for (id, source) in [(channel::STDOUT, stdout), (channel::STDERR, stderr)] {
        if let Some(source) = source {
            pumps.spawn(pump(source, id, tx.clone()));
        }
    }

    let status = loop {
        tokio::select! {
            status = &mut outcome => break Some(status),
            message = incoming.next() => match message {
                Some(Ok(Message::Binary(data))) => {
                    inbound(&data, &mut stdin, &mut resize, v5).await;
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                Some(Ok(_)) => {}
            }
        }
    };
    let Some(status) = status else {
        // The client left first: dropping the session closes the runtime's connection.
        tracing::debug!("stream client went away before the process ended");
        pumps.abort_all();
        writer.abort();
        return;
    };
    drop(stdin);
    drop(resize);
    let drained =
        tokio::time::timeout(DRAIN, async { while pumps.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::debug!("process output did not close in time after the process ended");
        pumps.abort_all();
    }
    let mut frame = BytesMut::new();
    frame.put_u8(channel::STATUS);
    frame.put_slice(status.to_json().as_bytes());
    let _ = tx.send(Message::Binary(frame.freeze())).await;
    let _ = tx
        .send(Message::Close(Some(CloseFrame {
            code: close_code::NORMAL,
            reason: Utf8Bytes::from_static(""),
        })))
        .await;
    drop(tx);
    let _ = tokio::time::timeout(CLOSE_WAIT, writer).await;
    // Read until the client's close reply, so the close handshake completes.
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(message)) = incoming.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Handles one binary message from the client.
async fn inbound(
    data: &[u8],
    stdin: &mut Option<SessionWriter>,
    resize: &mut Option<SessionWriter>,
    v5: bool,
) {
    let Some((&id, payload)) = data.split_first() else {
        return;
    };
    match id {
        channel::STDIN => write_or_drop(stdin, payload).await,
        channel::RESIZE => write_or_drop(resize, payload).await,
        channel::CLOSE if v5 => {
            if payload.first() == Some(&channel::STDIN)
                && let Some(mut writer) = stdin.take()
            {
                let _ = writer.shutdown().await;
            }
        }
        other => tracing::debug!(channel = other, "ignoring a message on an unknown channel"),
    }
}

/// Writes to a session stream; a stream that fails is dropped (the process closed it).
async fn write_or_drop(target: &mut Option<SessionWriter>, payload: &[u8]) {
    let Some(writer) = target else {
        return;
    };
    let ok = writer.write_all(payload).await.is_ok() && writer.flush().await.is_ok();
    if !ok {
        *target = None;
    }
}

/// Copies one output stream into channel-`id` messages until it ends.
async fn pump(mut source: SessionReader, id: u8, tx: mpsc::Sender<Message>) {
    let mut buffer = vec![0u8; READ_BUFFER];
    loop {
        let n = match source.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut frame = BytesMut::with_capacity(n + 1);
        frame.put_u8(id);
        frame.put_slice(&buffer[..n]);
        if tx.send(Message::Binary(frame.freeze())).await.is_err() {
            return;
        }
    }
}
