//! [`NodeApi`]: the router and its HTTPS accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use closet_cri::Runtime;
use closet_types::Status;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::exec::RemoteCommandDialer;
use crate::status::Failure;
use crate::{APISERVER_CLIENT_CN, PodDirectory, exec, logs, portforward, stats};

/// How long a client gets to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open requests get after shutdown starts; streams never end on their own, so
/// this is a hard cap.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed `accept` so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How often a followed log file is checked for new lines.
const LOG_POLL: Duration = Duration::from_millis(250);

/// What every request handler shares.
pub(crate) struct Inner {
    pub(crate) runtime: Arc<dyn Runtime>,
    pub(crate) pods: Arc<dyn PodDirectory>,
    pub(crate) node_name: String,
    pub(crate) dialer: Arc<dyn RemoteCommandDialer>,
    pub(crate) stats: Arc<stats::Sampler>,
    pub(crate) log_poll: Duration,
    pub(crate) node_fs_path: Option<PathBuf>,
}

/// The node agent's HTTPS API: logs, exec, attach, port-forward and stats of the pods the
/// agent runs (see the crate docs for the paths).
#[derive(Clone)]
pub struct NodeApi {
    runtime: Arc<dyn Runtime>,
    pods: Arc<dyn PodDirectory>,
    node_name: String,
    dialer: Arc<dyn RemoteCommandDialer>,
    stats: Arc<stats::Sampler>,
    log_poll: Duration,
    node_fs_path: Option<PathBuf>,
}

impl std::fmt::Debug for NodeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeApi")
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

impl NodeApi {
    /// The API of node `node_name`, running streams through `runtime` (CRI) for the pods
    /// `pods` knows. Exec and attach sessions go to the runtime's streaming server over
    /// SPDY ([`crate::exec::SpdyDialer`]).
    pub fn new(
        runtime: Arc<dyn Runtime>,
        pods: Arc<dyn PodDirectory>,
        node_name: impl Into<String>,
    ) -> Self {
        Self {
            runtime,
            pods,
            node_name: node_name.into(),
            dialer: Arc::new(crate::exec::SpdyDialer),
            stats: Arc::default(),
            log_poll: LOG_POLL,
            node_fs_path: None,
        }
    }

    /// Opens exec and attach sessions with `dialer` instead of the SPDY client (tests put a
    /// fake process here).
    pub fn with_remote_command_dialer(mut self, dialer: Arc<dyn RemoteCommandDialer>) -> Self {
        self.dialer = dialer;
        self
    }

    /// Reports the filesystem holding `path` (the node's data directory) as the node's `fs`
    /// in `/stats/summary`; without it the summary has no node `fs`.
    pub fn with_node_fs_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.node_fs_path = Some(path.into());
        self
    }

    /// Changes how often followed logs look for new lines (250 ms by default).
    pub fn with_log_poll_interval(mut self, interval: Duration) -> Self {
        self.log_poll = interval;
        self
    }

    /// The routes, without authentication: [`NodeApi::serve`] adds the client check. Tests
    /// and in-process callers may use it directly.
    pub fn router(&self) -> Router {
        let inner = Arc::new(Inner {
            runtime: self.runtime.clone(),
            pods: self.pods.clone(),
            node_name: self.node_name.clone(),
            dialer: self.dialer.clone(),
            stats: self.stats.clone(),
            log_poll: self.log_poll,
            node_fs_path: self.node_fs_path.clone(),
        });
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/containerLogs/{namespace}/{pod}/{container}",
                get(logs::container_logs),
            )
            .route(
                "/exec/{namespace}/{pod}/{container}",
                get(exec::exec).post(exec::exec),
            )
            .route(
                "/attach/{namespace}/{pod}/{container}",
                get(exec::attach).post(exec::attach),
            )
            .route(
                "/portForward/{namespace}/{pod}",
                get(portforward::port_forward).post(portforward::port_forward),
            )
            .route("/stats/summary", get(stats::summary))
            .fallback(not_found)
            .with_state(inner)
    }

    /// Serves the API over TLS on `listener` until `shutdown` completes, then gives open
    /// requests five seconds and closes the rest.
    ///
    /// `tls` should come from [`crate::tls::server_config`], which makes the handshake
    /// require a certificate from the cluster CA; on top of that, connections whose
    /// certificate's CN is not [`APISERVER_CLIENT_CN`] get 403 on every request.
    pub async fn serve(
        self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        shutdown: impl Future<Output = ()>,
    ) {
        let acceptor = TlsAcceptor::from(tls);
        let mut builder = Builder::new(TokioExecutor::new());
        builder.http1().keep_alive(true);
        let builder = builder.http1_only();
        let router = self.router();
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let _ = tcp.set_nodelay(true);
                        connections.spawn(connection(
                            tcp,
                            peer,
                            acceptor.clone(),
                            router.clone(),
                            builder.clone(),
                            graceful.watcher(),
                        ));
                    }
                    Err(err) => {
                        tracing::warn!(%err, "accepting a node API connection failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
        connections.shutdown().await;
    }
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    builder: Builder<TokioExecutor>,
    watcher: Watcher,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            tracing::debug!(%peer, %err, "node API TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "node API TLS handshake timed out");
            return;
        }
    };
    let user = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|cert| closet_pki::user_from_certificate(cert))
        .map(|(name, _)| name);
    let router = if user.as_deref() == Some(APISERVER_CLIENT_CN) {
        router
    } else {
        tracing::debug!(%peer, ?user, "refusing a node API client that is not the apiserver");
        Router::new().fallback(move || forbidden(user.clone()))
    };
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(router))
        .into_owned();
    if let Err(err) = watcher.watch(conn).await {
        tracing::debug!(%peer, %err, "node API connection closed with an error");
    }
}

async fn forbidden(user: Option<String>) -> Response {
    let who = user.map_or_else(|| "no user".to_owned(), |u| format!("user {u:?}"));
    Failure::from(Status::new(
        closet_types::status::FAILURE,
        403,
        closet_types::status::reason::FORBIDDEN,
        format!("the node API serves only the apiserver ({APISERVER_CLIENT_CN}), not {who}"),
    ))
    .into_response()
}

async fn not_found(uri: http::Uri) -> Response {
    Failure::from(Status::new(
        closet_types::status::FAILURE,
        404,
        closet_types::status::reason::NOT_FOUND,
        format!("the node API has no path {}", uri.path()),
    ))
    .into_response()
}
