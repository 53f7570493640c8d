//! Exec and attach: `/exec/{ns}/{pod}/{container}` and `/attach/{ns}/{pod}/{container}`.
//!
//! The process runs under the container runtime; CRI `Exec`/`Attach` hands back a one-time
//! URL on the runtime's streaming server, which speaks kubelet's remotecommand protocol over
//! SPDY. Two kinds of client arrive here through the apiserver:
//!
//! - WebSocket `v5.channel.k8s.io` (kubectl 1.30 and later; `v4.channel.k8s.io` too): the
//!   WebSocket is accepted here and bridged to a session opened by a
//!   [`RemoteCommandDialer`] on the runtime's URL ([`SpdyDialer`] in production);
//! - classic SPDY (`Upgrade: SPDY/3.1`, older kubectl): the upgrade request goes unchanged to
//!   the runtime's URL and the bytes are piped both ways, as kubelet does.

mod bridge;
mod params;
mod spdy;

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::response::{IntoResponse, Response};
use closet_cri::cri;
use closet_types::{Status, StatusCause, StatusDetails};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::server::Inner;
use crate::status::{self, Failure};
use crate::streaming::{self, UpgradeKind};

pub(crate) use params::StreamParams;
pub use spdy::SpdyDialer;

/// WebSocket subprotocols served, preferred first.
pub const WEBSOCKET_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// A boxed, `Send` future.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;
/// A byte source of a session.
pub type SessionReader = Box<dyn AsyncRead + Send + Unpin>;
/// A byte sink of a session.
pub type SessionWriter = Box<dyn AsyncWrite + Send + Unpin>;
/// The error a dialer reports.
pub type DialError = Box<dyn std::error::Error + Send + Sync>;

/// Which streams a session carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// The process's stdin.
    pub stdin: bool,
    /// Its stdout.
    pub stdout: bool,
    /// Its stderr (never with `tty`).
    pub stderr: bool,
    /// Whether it has a terminal (then a resize stream exists).
    pub tty: bool,
}

/// One exec or attach session at the runtime's streaming server.
///
/// Dropping it (every field) must close the connection to the runtime.
pub struct RemoteSession {
    /// Bytes for the process's stdin; shutting it down closes stdin. Present if asked for.
    pub stdin: Option<SessionWriter>,
    /// The process's stdout, until it closes. Present if asked for.
    pub stdout: Option<SessionReader>,
    /// The process's stderr, until it closes. Present if asked for.
    pub stderr: Option<SessionReader>,
    /// Terminal size messages, each the JSON `{"Width":W,"Height":H}` as clients send it.
    /// Present with a TTY.
    pub resize: Option<SessionWriter>,
    /// Resolves when the process has ended: [`success_status`] or a failure such as
    /// [`exit_code_status`].
    pub outcome: BoxFuture<Status>,
}

impl std::fmt::Debug for RemoteSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSession")
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("resize", &self.resize.is_some())
            .finish_non_exhaustive()
    }
}

/// Opens remotecommand sessions on the runtime's streaming URLs (the SPDY client).
pub trait RemoteCommandDialer: Send + Sync {
    /// Connects to `url` (from CRI Exec or Attach) with `options`.
    fn connect(
        &self,
        url: String,
        options: StreamOptions,
    ) -> BoxFuture<Result<RemoteSession, DialError>>;
}

/// The channel-3 status of a process that ended well.
pub fn success_status() -> Status {
    Status::new(closet_types::status::SUCCESS, 0, "", "")
}

/// The channel-3 status of a process that exited with `code`, as kubelet words it; kubectl
/// exits with the same code.
pub fn exit_code_status(code: i32) -> Status {
    Status::new(
        closet_types::status::FAILURE,
        0,
        "NonZeroExitCode",
        format!("command terminated with non-zero exit code: exit status {code}"),
    )
    .with_details(StatusDetails {
        causes: vec![StatusCause {
            reason: "ExitCode".to_owned(),
            message: code.to_string(),
            field: String::new(),
        }],
        ..StatusDetails::default()
    })
}

/// The channel-3 status of a session that failed for another reason.
pub fn error_status(message: impl Into<String>) -> Status {
    Status::new(closet_types::status::FAILURE, 500, "InternalError", message)
}

/// `GET|POST /exec/{ns}/{pod}/{container}`.
pub(crate) async fn exec(
    State(api): State<Arc<Inner>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    serve(api, Target::Exec, namespace, pod, container, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// `GET|POST /attach/{ns}/{pod}/{container}`.
pub(crate) async fn attach(
    State(api): State<Arc<Inner>>,
    Path((namespace, pod, container)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    serve(api, Target::Attach, namespace, pod, container, request)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Exec,
    Attach,
}

async fn serve(
    api: Arc<Inner>,
    target: Target,
    namespace: String,
    pod: String,
    container: String,
    request: Request,
) -> Result<Response, Failure> {
    let query = request.uri().query().unwrap_or("").to_owned();
    let params = StreamParams::parse(&query, target == Target::Exec)?;
    let info = api
        .pods
        .container(&namespace, &pod, &container)
        .ok_or_else(|| status::container_not_found(&namespace, &pod, &container))?;
    let kind = streaming::upgrade_kind(request.headers())?;

    // The WebSocket handshake is checked before CRI is asked: the runtime's URL is good for
    // one connection only.
    let (mut parts, body) = request.into_parts();
    let websocket = match kind {
        UpgradeKind::WebSocket => {
            let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
                .await
                .map_err(|rejection| status::bad_request(rejection.body_text()))?
                .protocols(WEBSOCKET_PROTOCOLS);
            if upgrade.selected_protocol().is_none() {
                return Err(status::bad_request(format!(
                    "no supported WebSocket subprotocol; this server speaks {}",
                    WEBSOCKET_PROTOCOLS.join(", ")
                )));
            }
            Some(upgrade)
        }
        UpgradeKind::Spdy => None,
    };

    let url = runtime_url(&api, target, &info.container_id, &params).await?;
    match websocket {
        Some(upgrade) => {
            let v5 = upgrade
                .selected_protocol()
                .is_some_and(|p| p == WEBSOCKET_PROTOCOLS[0]);
            let options = StreamOptions {
                stdin: params.stdin,
                stdout: params.stdout,
                stderr: params.stderr,
                tty: params.tty,
            };
            let session = api
                .dialer
                .connect(url, options)
                .await
                .map_err(|err| status::internal("connecting to the runtime's stream", &*err))?;
            // If the client's upgrade fails, the callback is dropped unrun and the session,
            // and with it the runtime connection, with it.
            Ok(upgrade.on_upgrade(move |socket| bridge::run(socket, session, v5)))
        }
        None => streaming::pass_through(&url, Request::from_parts(parts, body)).await,
    }
}

async fn runtime_url(
    api: &Inner,
    target: Target,
    container_id: &str,
    params: &StreamParams,
) -> Result<String, Failure> {
    let url = match target {
        Target::Exec => api
            .runtime
            .exec(cri::ExecRequest {
                container_id: container_id.to_owned(),
                cmd: params.command.clone(),
                tty: params.tty,
                stdin: params.stdin,
                stdout: params.stdout,
                stderr: params.stderr,
            })
            .await
            .map(|r| r.url),
        Target::Attach => api
            .runtime
            .attach(cri::AttachRequest {
                container_id: container_id.to_owned(),
                stdin: params.stdin,
                tty: params.tty,
                stdout: params.stdout,
                stderr: params.stderr,
            })
            .await
            .map(|r| r.url),
    };
    let what = match target {
        Target::Exec => "CRI Exec",
        Target::Attach => "CRI Attach",
    };
    let url = url.map_err(|err| status::internal(what, &err))?;
    if url.is_empty() {
        return Err(status::internal(
            what,
            &std::io::Error::other("the runtime returned no streaming URL"),
        ));
    }
    Ok(url)
}
