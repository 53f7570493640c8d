//! The HTTPS accept loop of the API: TCP → TLS → the client certificate's user → hyper
//! (HTTP/1.1 or h2, upgrades allowed) → the apiserver router.
//!
//! The loop is our own rather than a ready-made server so that the peer certificate of each
//! connection is at hand; the user it names is put into every request of that connection.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use closet_apiserver::auth::User;
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How long a client gets to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long in-flight requests get to finish after shutdown starts. Watches and streams
/// never finish on their own, so this is a hard cap, not a hint.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed `accept` (e.g. out of file descriptors) so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `router` over TLS on `listener` until `shutdown` completes, then lets open
/// connections finish for up to [`SHUTDOWN_GRACE`] and closes the rest.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls);
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    // Small API requests and watch events should not wait for Nagle.
                    if let Err(err) = tcp.set_nodelay(true) {
                        tracing::debug!(%peer, %err, "cannot set TCP_NODELAY");
                    }
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
                    tracing::warn!(%err, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            // Reap finished connections so the set does not grow forever.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }

    drop(listener);
    let open = graceful.count();
    if open > 0 {
        tracing::info!(open, "waiting for open connections to finish");
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::info!(
            grace_seconds = SHUTDOWN_GRACE.as_secs(),
            "closing connections still open after the grace period"
        );
    }
    // Aborting drops each connection's router clone, and with it its hold on the store.
    connections.shutdown().await;
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
            tracing::debug!(%peer, %err, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let user = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|cert| closet_pki::user_from_certificate(cert))
        .map(|(name, groups)| User { name, groups });
    tracing::trace!(%peer, user = user.as_ref().map(|u| u.name.as_str()), "connection");

    let service = TowerToHyperService::new(with_user(router, user));
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(tls), service)
        .into_owned();
    if let Err(err) = watcher.watch(conn).await {
        tracing::debug!(%peer, %err, "connection closed with an error");
    }
}

/// `router` with the connection's authenticated user (if any) put into every request's
/// extensions, where the apiserver looks for it.
fn with_user(
    router: Router,
    user: Option<User>,
) -> impl tower::Service<
    Request<Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    router.map_request(move |mut request: Request<Incoming>| {
        if let Some(user) = &user {
            request.extensions_mut().insert(user.clone());
        }
        request
    })
}
