//! The apiserver's side of the link: one HTTPS request to a node API, proxied unchanged.
//!
//! [`NodeClient::forward`] sends a request (path and query as given, hop-by-hop headers and
//! credentials dropped) and returns the node's answer. For an upgrade request it returns the
//! node's 101 only after the node switched protocols, and joins the caller's connection to
//! the node's once the caller's side has switched too; if either side fails, both are
//! closed. [`NodeClient::get_json`] is a plain GET for stats.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Body;
use hyper::upgrade::OnUpgrade;
use rustls_pki_types::ServerName;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::upgrade::{self, BoxError};

/// How long connecting (TCP and TLS) to a node may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a node may take to answer a request's head. Streams run as long as they like
/// once answered.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// The largest JSON answer [`NodeClient::get_json`] reads.
const MAX_JSON_BYTES: usize = 16 << 20;

/// The body of a proxied response: the node's body as it streams in, or empty after a 101.
pub type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

/// Where a node API listens: its InternalIP (or name) and the kubelet endpoint port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEndpoint {
    /// An IP address (IPv6 without brackets) or a DNS name covered by the node's certificate.
    pub host: String,
    /// The port, from `status.daemonEndpoints.kubeletEndpoint.Port`.
    pub port: u16,
}

impl NodeEndpoint {
    /// `host:port`, with IPv6 addresses in brackets.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Reaching a node API failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeClientError {
    /// The host is neither an IP address nor a valid DNS name.
    #[error("node address {host:?} is not a valid host name")]
    BadHost {
        /// The host.
        host: String,
    },
    /// The TCP connection failed.
    #[error("error dialing backend {address}")]
    Connect {
        /// `host:port`.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed (untrusted node certificate, or the node refused ours).
    #[error("TLS handshake with node {address} failed")]
    Tls {
        /// `host:port`.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The node did not connect or answer in time.
    #[error("node {address} did not {what} within {after:?}")]
    Timeout {
        /// `host:port`.
        address: String,
        /// What it did not do.
        what: &'static str,
        /// The limit.
        after: Duration,
    },
    /// The HTTP exchange failed.
    #[error("request to node {address} failed")]
    Http {
        /// `host:port`.
        address: String,
        /// The cause.
        #[source]
        source: hyper::Error,
    },
    /// The request could not be built.
    #[error("building the request to node {address}")]
    Build {
        /// `host:port`.
        address: String,
        /// The cause.
        #[source]
        source: http::Error,
    },
    /// The caller asked to switch protocols on a connection that cannot (an in-process
    /// client without a socket).
    #[error("this connection cannot be upgraded; streams need a direct HTTP/1.1 connection")]
    NotUpgradable,
    /// The node answered a plain request with an error status.
    #[error("node {address} answered {code}: {body}")]
    Status {
        /// `host:port`.
        address: String,
        /// The status code.
        code: StatusCode,
        /// The start of the body.
        body: String,
    },
    /// Reading or decoding a JSON answer failed.
    #[error("reading the answer of node {address}: {message}")]
    Decode {
        /// `host:port`.
        address: String,
        /// What went wrong.
        message: String,
    },
}

/// An HTTPS client for node APIs, presenting the apiserver's client certificate.
#[derive(Clone)]
pub struct NodeClient {
    tls: TlsConnector,
}

impl std::fmt::Debug for NodeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeClient").finish_non_exhaustive()
    }
}

impl NodeClient {
    /// A client using `tls` (see [`crate::tls::client_config`]).
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Self {
        Self {
            tls: TlsConnector::from(tls),
        }
    }

    /// Sends `request` to the node and returns its answer, streaming.
    ///
    /// The request's URI must hold the node-side path and query. If the request asks to
    /// switch protocols, its `OnUpgrade` extension (put there by hyper's server) is taken,
    /// and a 101 from the node is returned only after the node switched; the two
    /// connections are then joined in a background task.
    pub async fn forward<B>(
        &self,
        endpoint: &NodeEndpoint,
        request: Request<B>,
    ) -> Result<Response<ProxyBody>, NodeClientError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let address = endpoint.authority();
        let wants_upgrade = upgrade::is_upgrade(request.headers());
        let (mut parts, body) = request.into_parts();
        let caller_upgrade = if wants_upgrade {
            Some(
                parts
                    .extensions
                    .remove::<OnUpgrade>()
                    .ok_or(NodeClientError::NotUpgradable)?,
            )
        } else {
            None
        };
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let mut outgoing = Request::builder()
            .method(parts.method)
            .uri(path)
            .body(body)
            .map_err(|source| NodeClientError::Build {
                address: address.clone(),
                source,
            })?;
        *outgoing.headers_mut() = upgrade::forwardable(&parts.headers, wants_upgrade);
        if let Ok(host) = HeaderValue::from_str(&address) {
            outgoing.headers_mut().insert(http::header::HOST, host);
        }

        let mut response = self.exchange(endpoint, outgoing).await?;
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            // A 101 nobody asked for is dropped here, and the node's connection with it.
            let caller = caller_upgrade.ok_or_else(|| NodeClientError::Decode {
                address: address.clone(),
                message: "the node switched protocols without being asked".to_owned(),
            })?;
            let node = hyper::upgrade::on(&mut response);
            upgrade::splice(caller, node, "node stream");
            let (mut parts, _) = response.into_parts();
            parts.headers = upgrade::forwardable(&parts.headers, true);
            let empty = Empty::<Bytes>::new().map_err(|never| match never {});
            return Ok(Response::from_parts(parts, UnsyncBoxBody::new(empty)));
        }
        let (mut parts, body) = response.into_parts();
        parts.headers = upgrade::forwardable(&parts.headers, false);
        let body = body.map_err(|e| -> BoxError { Box::new(e) });
        Ok(Response::from_parts(parts, UnsyncBoxBody::new(body)))
    }

    /// `GET path` on the node, decoded from JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: &NodeEndpoint,
        path: &str,
    ) -> Result<T, NodeClientError> {
        let address = endpoint.authority();
        let request = Request::get(path)
            .header(http::header::HOST, &address)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|source| NodeClientError::Build {
                address: address.clone(),
                source,
            })?;
        let response = self.exchange(endpoint, request).await?;
        let code = response.status();
        let bytes = Limited::new(response.into_body(), MAX_JSON_BYTES)
            .collect()
            .await
            .map_err(|err| NodeClientError::Decode {
                address: address.clone(),
                message: err.to_string(),
            })?
            .to_bytes();
        if !code.is_success() {
            let body = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).into_owned();
            return Err(NodeClientError::Status {
                address,
                code,
                body,
            });
        }
        serde_json::from_slice(&bytes).map_err(|err| NodeClientError::Decode {
            address,
            message: err.to_string(),
        })
    }

    async fn exchange<B>(
        &self,
        endpoint: &NodeEndpoint,
        request: Request<B>,
    ) -> Result<Response<hyper::body::Incoming>, NodeClientError>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let address = endpoint.authority();
        let io = self.connect(endpoint).await?;
        match tokio::time::timeout(RESPONSE_TIMEOUT, upgrade::send(io, request)).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(source)) => Err(NodeClientError::Http { address, source }),
            Err(_) => Err(NodeClientError::Timeout {
                address,
                what: "answer",
                after: RESPONSE_TIMEOUT,
            }),
        }
    }

    async fn connect(
        &self,
        endpoint: &NodeEndpoint,
    ) -> Result<TlsStream<TcpStream>, NodeClientError> {
        let address = endpoint.authority();
        let name =
            ServerName::try_from(endpoint.host.clone()).map_err(|_| NodeClientError::BadHost {
                host: endpoint.host.clone(),
            })?;
        let dial = async {
            let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .map_err(|source| NodeClientError::Connect {
                    address: address.clone(),
                    source,
                })?;
            // Interactive streams should not wait for Nagle.
            let _ = tcp.set_nodelay(true);
            self.tls
                .connect(name, tcp)
                .await
                .map_err(|source| NodeClientError::Tls {
                    address: address.clone(),
                    source,
                })
        };
        tokio::time::timeout(CONNECT_TIMEOUT, dial)
            .await
            .map_err(|_| NodeClientError::Timeout {
                address: address.clone(),
                what: "connect",
                after: CONNECT_TIMEOUT,
            })?
    }
}
