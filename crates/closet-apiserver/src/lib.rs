//! The Kubernetes API server: REST, discovery, watch, Tables and errors (DESIGN.md §5).
//!
//! Start reading at [`ApiServer`]: it owns the [`registry::Registry`] of every served kind and
//! the store, and [`ApiServer::router`] builds the axum router that both the HTTPS listener and
//! in-process clients call. Requests arrive authenticated: the listener puts an [`auth::User`]
//! into the request extensions (from the client certificate); anything without one gets 401
//! except the public health and version paths.
//!
//! A request flows through [`request`] (what the path addresses), [`codec`] (body and
//! response media types), `handlers` (one module per verb), [`strategy`] (per-kind write
//! rules) and the store; every failure becomes a `Status` in [`error`].

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

pub mod admission;
pub mod auth;
mod bootstrap;
pub mod codec;
mod crd;
mod discovery;
pub mod error;
mod filter;
mod handlers;
pub mod join;
mod merge_meta;
mod metrics;
pub mod object;
mod openapi;
mod openapi_v2;
pub mod registry;
pub mod request;
pub mod serviceaccount;
pub mod services;
pub mod strategy;
mod table;
mod tables;
mod typed;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use closet_store::Store;
use serde_json::json;

pub use bootstrap::SYSTEM_NAMESPACES;

/// The Kubernetes version this server reports and implements.
pub const KUBERNETES_VERSION: (&str, &str) = ("1", "35");

/// Settings of the apiserver itself.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `host:port` clients use to reach this server, shown in legacy discovery.
    pub advertise_address: Option<String>,
    /// `tolerationSeconds` of the `node.kubernetes.io/not-ready:NoExecute` toleration new
    /// pods get; `None` is 300, as upstream.
    pub default_not_ready_toleration_seconds: Option<i64>,
    /// `tolerationSeconds` of the `node.kubernetes.io/unreachable:NoExecute` toleration new
    /// pods get; `None` is 300, as upstream.
    pub default_unreachable_toleration_seconds: Option<i64>,
    /// The range Service cluster IPs come from (`--service-cidr`); the `kubernetes` Service
    /// gets its first address and the tenth is kept for cluster DNS.
    pub service_cidr: services::ServiceCidr,
    /// The range node ports come from (`--service-node-port-range`).
    pub service_node_port_range: services::PortRange,
    /// Where the `kubernetes` Service's Endpoints point: the address and HTTPS port other
    /// nodes reach this server at. Unset, the Service is created without endpoints.
    pub kubernetes_endpoint: Option<std::net::SocketAddr>,
}

impl Config {
    /// The ranges Services draw from.
    pub fn service_network(&self) -> services::ServiceNetwork {
        services::ServiceNetwork {
            cidr: self.service_cidr,
            node_ports: self.service_node_port_range,
        }
    }
}

/// State shared by every request.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) registry: registry::Registry,
    pub(crate) config: Config,
    /// How pod logs, exec, attach and port-forward reach node agents; unset, they answer 503.
    pub(crate) node_client: std::sync::OnceLock<closet_nodeapi::client::NodeClient>,
    /// Signs and checks service account tokens; unset, none are issued or accepted.
    pub(crate) tokens: std::sync::OnceLock<serviceaccount::TokenAuthority>,
    /// Serializes Service writes that allocate addresses or ports.
    pub(crate) allocations: services::Allocations,
}

/// The API server: registry, store and everything derived from them.
#[derive(Clone)]
pub struct ApiServer {
    shared: Arc<Shared>,
    join: Option<Arc<join::JoinAuthority>>,
}

impl ApiServer {
    /// Builds the server over `store`. Call [`ApiServer::bootstrap`] once before serving.
    pub fn new(store: Arc<dyn Store>, config: Config) -> Self {
        let shared = Shared {
            store,
            registry: registry::Registry::builtin(),
            config,
            node_client: std::sync::OnceLock::new(),
            tokens: std::sync::OnceLock::new(),
            allocations: services::Allocations::default(),
        };
        Self {
            shared: Arc::new(shared),
            join: None,
        }
    }

    /// Lets nodes join with `authority`'s token: serves `POST /closet/v1/join` and
    /// `GET /closet/v1/ca` (see [`join`]). Without it, both answer 404.
    pub fn with_join(mut self, authority: join::JoinAuthority) -> Self {
        self.join = Some(Arc::new(authority));
        self
    }

    /// Lets pod logs, exec, attach and port-forward reach node agents over HTTPS with `tls`
    /// (`closet_nodeapi::tls::client_config`, presenting the `closet-apiserver` client
    /// certificate). Without it those subresources answer 503. The first call wins.
    pub fn with_node_client(self, tls: Arc<closet_nodeapi::tls::ClientConfig>) -> Self {
        let _ = self
            .shared
            .node_client
            .set(closet_nodeapi::client::NodeClient::new(tls));
        self
    }

    /// Issues service account tokens (the `serviceaccounts/token` subresource) and accepts
    /// them as bearer tokens, with `authority`'s key. Without it, neither happens. The first
    /// call wins.
    pub fn with_token_authority(self, authority: serviceaccount::TokenAuthority) -> Self {
        let _ = self.shared.tokens.set(authority);
        self
    }

    /// Creates what every cluster has: the system namespaces and their `default`
    /// ServiceAccounts, and the `kubernetes` Service with its endpoints. Idempotent, so it
    /// runs at every start.
    pub async fn bootstrap(&self) -> Result<(), closet_store::StoreError> {
        bootstrap::run(&self.shared).await?;
        services::kubernetes::ensure(&self.shared).await;
        crd::load_all(&self.shared).await
    }

    /// Puts the `kubernetes` Service and its endpoints back whenever they are deleted or
    /// edited, until `shutdown` resolves.
    pub async fn maintain_kubernetes_service(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        services::kubernetes::maintain(self.clone(), shutdown).await;
    }

    /// The router serving the whole API. Clone-cheap; serve it over HTTPS or hand it to
    /// `kube::Client::new` for an in-process client.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/version", get(version))
            .route("/healthz", get(healthy))
            .route("/livez", get(healthy))
            .route("/readyz", get(healthy))
            .route("/openapi/v3", get(openapi_root))
            .route("/openapi/v3/{*rest}", get(openapi_group_version))
            .route("/openapi/v2", get(openapi_v2::serve))
            .route("/swagger-2.0.0.pb-v1", get(openapi_v2::serve))
            .fallback(handlers::serve)
            .with_state(self.shared.clone())
            .layer(middleware::from_fn_with_state(
                self.shared.clone(),
                require_user,
            ))
            // Merged after the layer: a joining node has no certificate yet, only its token.
            .merge(join::router(self.join.clone()))
    }
}

/// Rejects requests without an authenticated [`auth::User`], except on public paths. A
/// request that came without one (no client certificate) may carry a service account token
/// as `Authorization: Bearer`; a valid one makes its account the user, an invalid one is
/// refused with 401 even on public paths, as upstream does.
async fn require_user(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    if req.extensions().get::<auth::User>().is_none()
        && let Some(token) = auth::bearer_token(req.headers())
    {
        match serviceaccount::authn::authenticate(&shared, &token, None).await {
            Ok(user) => {
                req.extensions_mut().insert(user);
            }
            Err(err) => {
                tracing::debug!(error = %err, "bearer token refused");
                return error::ApiError::unauthorized().into_response();
            }
        }
    }
    let public = auth::PUBLIC_PATHS.contains(&req.uri().path());
    if public || req.extensions().get::<auth::User>().is_some() {
        return next.run(req).await;
    }
    error::ApiError::unauthorized().into_response()
}

async fn version() -> Response {
    let (major, minor) = KUBERNETES_VERSION;
    let body = json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{major}.{minor}.0-closet.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    });
    (
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The architecture as Go and Kubernetes name it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

async fn openapi_root(State(shared): State<Arc<Shared>>) -> Response {
    openapi::root(&shared)
}

async fn openapi_group_version(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    openapi::group_version(&shared, req.uri().path(), req.headers())
        .unwrap_or_else(IntoResponse::into_response)
}

async fn healthy() -> &'static str {
    "ok"
}

impl ApiServer {
    /// The router as one `user` sees it, for in-process clients: every request carries that
    /// identity, as if it had come over TLS with the user's certificate.
    pub fn router_as(&self, user: auth::User) -> Router {
        self.router().layer(axum::Extension(user))
    }
}
