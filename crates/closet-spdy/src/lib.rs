//! SPDY/3.1 framing and sessions, for port-forward and for exec through containerd's
//! streaming server.
//!
//! The node agent bridges `kubectl exec`/`attach` (WebSocket `v5.channel.k8s.io`) to
//! containerd's CRI streaming server, which speaks SPDY/3.1 carrying the Kubernetes
//! remote-command protocol `v4.channel.k8s.io`, the same protocol kubelet's streaming server
//! speaks. No permissively licensed Rust SPDY crate exists, so this crate is a small SPDY/3.1
//! implementation that interoperates with Go's `spdystream`, the library on the other end.
//!
//! Where to start reading:
//! - [`remotecommand::connect`] is what the agent calls: it upgrades an HTTP/1.1 connection to
//!   SPDY, opens the error/stdin/stdout/stderr/resize streams and decodes the exit status.
//! - [`session::Session`] multiplexes [`session::Stream`]s (tokio `AsyncRead + AsyncWrite`)
//!   over one connection, in the client or the server role.
//! - [`frame`] is the wire format: [`frame::Frame`], the incremental [`frame::FrameDecoder`]
//!   and the [`frame::FrameEncoder`], with header blocks in [`header_block`].

mod compression;
mod dictionary;
pub mod frame;
pub mod header_block;
pub mod remotecommand;
pub mod session;

pub use frame::{Frame, FrameDecoder, FrameEncoder, FrameError};
pub use header_block::Headers;
pub use session::{Role, Session, SessionError, Stream};
