//! A client for the Kubernetes remote-command protocol `v4.channel.k8s.io` over SPDY, as
//! kubelet's and containerd's CRI streaming servers serve `exec` and `attach`.
//!
//! [`connect`] upgrades a plain HTTP/1.1 connection to the URL the CRI `Exec`/`Attach` call
//! returned, then opens one stream per channel, each with a `streamType` header, in
//! client-go's order: `error`, `stdin`, `stdout`, `stderr` (never with a TTY), `resize`
//! (only with a TTY). The server waits for exactly the streams matching the options of the
//! CRI request behind the URL, so [`Options`] must repeat them.
//!
//! Shutting down the stdin stream sends SPDY FIN, which the server turns into EOF on the
//! process's stdin. That half-close is why the agent talks SPDY rather than WebSocket v4 to
//! the streaming server: `kubectl cp` depends on it.
//!
//! When the command ends the server closes stdout and stderr, writes a `metav1.Status` to
//! the error stream and resets every stream; [`StatusStream::wait`] turns that into a
//! [`FinalStatus`]. Read stdout and stderr concurrently: the session pauses the whole
//! connection while one stream's buffer is full.
//!
//! Keep the resize stream (and any stream not yet at its end) until `wait` has returned:
//! the server closes the connection right after writing the status, and a frame sent after
//! that, such as the reset a dropped open stream sends, makes the kernel reset the
//! connection and discard whatever part of the status was not read yet. Streams that
//! reached their end (stdout, stderr, a shut-down stdin) send nothing when dropped.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::header_block::Headers;
use crate::session::{Session, SessionError, Stream};

mod status;
#[cfg(test)]
mod tests;
mod upgrade;

pub use status::{FinalStatus, Outcome};

/// The subprotocol offered and required.
pub const PROTOCOL_V4: &str = "v4.channel.k8s.io";
/// Header naming a stream's channel.
pub const STREAM_TYPE_HEADER: &str = "streamType";

/// Bound on each step of setting up: connecting, the upgrade, each stream's reply (client-go
/// waits 30 s for a stream reply, and the server 30 s for all streams).
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest exit status accepted; a real Status is a few hundred bytes.
const MAX_STATUS_LEN: usize = 64 * 1024;

/// Which channels to open; must match the CRI request the URL was issued for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Open a stdin stream.
    pub stdin: bool,
    /// Open a stdout stream (all output, with a TTY).
    pub stdout: bool,
    /// Open a stderr stream; ignored with a TTY, as by kubelet and client-go.
    pub stderr: bool,
    /// The process has a terminal: open a resize stream and no stderr.
    pub tty: bool,
}

/// The terminal size sent on the resize stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSize {
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

impl TerminalSize {
    /// The resize message: `{"Width":W,"Height":H}` and a newline, as client-go's JSON
    /// encoder writes it and kubelet's JSON decoder reads it.
    pub fn to_json(self) -> Vec<u8> {
        format!("{{\"Width\":{},\"Height\":{}}}\n", self.width, self.height).into_bytes()
    }
}

/// Writes one resize message to a resize stream.
pub async fn send_resize(resize: &mut Stream, size: TerminalSize) -> io::Result<()> {
    resize.write_all(&size.to_json()).await
}

/// A running remote command's channels.
#[derive(Debug)]
pub struct RemoteCommand {
    /// The process's stdin; shut it down to close the process's stdin.
    pub stdin: Option<Stream>,
    /// The process's stdout (all output, with a TTY).
    pub stdout: Option<Stream>,
    /// The process's stderr.
    pub stderr: Option<Stream>,
    /// Terminal size changes, with a TTY; see [`send_resize`].
    pub resize: Option<Stream>,
    /// The error stream, carrying the exit status.
    pub status: StatusStream,
    /// The SPDY session; [`Session::close`] tears everything down at once.
    pub session: Session,
}

/// The error stream, read to its end to learn how the command ended.
#[derive(Debug)]
pub struct StatusStream {
    stream: Stream,
}

impl StatusStream {
    /// Waits until the server has finished the error stream and decodes what it wrote.
    ///
    /// The stream ends with FIN or, from kubelet's server, with a reset once the status is
    /// written; both count as the end. A connection lost before any status arrived is an
    /// error, since nothing is known about how the command ended.
    pub async fn wait(mut self) -> Result<FinalStatus, RemoteCommandError> {
        let mut raw = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => {
                    raw.extend_from_slice(&chunk[..n]);
                    if raw.len() > MAX_STATUS_LEN {
                        return Err(RemoteCommandError::StatusTooLarge(MAX_STATUS_LEN));
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::ConnectionReset => break,
                Err(error) if raw.is_empty() => return Err(RemoteCommandError::StatusLost(error)),
                Err(_) => break,
            }
        }
        Ok(FinalStatus::from_raw(Bytes::from(raw)))
    }
}

/// Why a remote command could not be set up or its status not read.
#[derive(Debug, thiserror::Error)]
pub enum RemoteCommandError {
    /// The streaming URL cannot be used.
    #[error("invalid streaming url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// None of stdin, stdout and stderr was requested.
    #[error("a remote command needs at least one of stdin, stdout and stderr")]
    NoStreams,
    /// The TCP connection could not be made.
    #[error("connecting to the streaming server at {address} failed")]
    Connect {
        /// The address dialled.
        address: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading or writing the upgrade exchange failed.
    #[error("upgrading the connection to the streaming server failed")]
    Upgrade(#[source] io::Error),
    /// The server did not answer in time.
    #[error("timed out waiting for the streaming server to {0}")]
    Timeout(&'static str),
    /// The server's response is not HTTP.
    #[error("streaming server sent a malformed upgrade response: {0}")]
    MalformedResponse(&'static str),
    /// The server refused the upgrade.
    #[error("streaming server answered the upgrade with status {status}: {body}")]
    Rejected {
        /// HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The server switched protocols, but not to SPDY/3.1.
    #[error("streaming server did not switch to SPDY/3.1 (Upgrade: {0:?})")]
    NotSpdy(Option<String>),
    /// The server did not choose `v4.channel.k8s.io`.
    #[error("streaming server chose stream protocol {0:?}, not v4.channel.k8s.io")]
    ProtocolNotNegotiated(Option<String>),
    /// A channel's stream could not be opened.
    #[error("opening the {stream_type} stream failed")]
    OpenStream {
        /// The channel.
        stream_type: &'static str,
        /// The cause.
        #[source]
        source: SessionError,
    },
    /// The connection ended before any exit status arrived.
    #[error("the connection ended before the exit status arrived")]
    StatusLost(#[source] io::Error),
    /// The error stream carried more than a Status could need.
    #[error("the exit status is longer than {0} bytes")]
    StatusTooLarge(usize),
}

/// Dials `url` (plain `http://`, as containerd's streaming server listens on loopback by
/// default) and starts the remote command's channels.
pub async fn connect(url: &str, options: Options) -> Result<RemoteCommand, RemoteCommandError> {
    let target = upgrade::Target::parse(url)?;
    if target.scheme != "http" {
        return Err(RemoteCommandError::InvalidUrl {
            url: url.to_owned(),
            reason: "only http is dialled here; use connect_with_io over a TLS stream",
        });
    }
    check(options)?;
    let tcp = tokio::time::timeout(SETUP_TIMEOUT, TcpStream::connect(&target.address))
        .await
        .map_err(|_| RemoteCommandError::Timeout("accept the connection"))?
        .map_err(|source| RemoteCommandError::Connect {
            address: target.address.clone(),
            source,
        })?;
    // Interactive sessions send keystrokes one small frame at a time.
    let _ = tcp.set_nodelay(true);
    start(tcp, &target, options).await
}

/// Like [`connect`], over a connection the caller made (for example TLS to a streaming
/// server with `enable_tls_streaming`); `url` supplies the Host header and the path.
pub async fn connect_with_io<T>(
    io: T,
    url: &str,
    options: Options,
) -> Result<RemoteCommand, RemoteCommandError>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let target = upgrade::Target::parse(url)?;
    check(options)?;
    start(io, &target, options).await
}

fn check(options: Options) -> Result<(), RemoteCommandError> {
    if !options.stdin && !options.stdout && !options.stderr {
        return Err(RemoteCommandError::NoStreams);
    }
    Ok(())
}

async fn start<T>(
    mut io: T,
    target: &upgrade::Target,
    options: Options,
) -> Result<RemoteCommand, RemoteCommandError>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let leftover = tokio::time::timeout(
        SETUP_TIMEOUT,
        upgrade::upgrade(&mut io, target, PROTOCOL_V4),
    )
    .await
    .map_err(|_| RemoteCommandError::Timeout("answer the upgrade request"))??;
    let session = Session::client(upgrade::Prefixed::new(leftover, io));
    // client-go's order; the server only counts streams, but this order is what it sees
    // from every other client.
    let error = open(&session, "error").await?;
    let stdin = open_if(options.stdin, &session, "stdin").await?;
    let stdout = open_if(options.stdout, &session, "stdout").await?;
    let stderr = open_if(options.stderr && !options.tty, &session, "stderr").await?;
    let resize = open_if(options.tty, &session, "resize").await?;
    Ok(RemoteCommand {
        stdin,
        stdout,
        stderr,
        resize,
        status: StatusStream { stream: error },
        session,
    })
}

async fn open(session: &Session, stream_type: &'static str) -> Result<Stream, RemoteCommandError> {
    let headers = Headers::new().with(STREAM_TYPE_HEADER, stream_type);
    tokio::time::timeout(SETUP_TIMEOUT, session.open(headers))
        .await
        .map_err(|_| RemoteCommandError::Timeout("accept a stream"))?
        .map_err(|source| RemoteCommandError::OpenStream {
            stream_type,
            source,
        })
}

async fn open_if(
    wanted: bool,
    session: &Session,
    stream_type: &'static str,
) -> Result<Option<Stream>, RemoteCommandError> {
    if !wanted {
        return Ok(None);
    }
    open(session, stream_type).await.map(Some)
}
