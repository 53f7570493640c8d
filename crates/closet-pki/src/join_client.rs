//! The agent's side of joining: from a server URL and a join token to [`NodeCredentials`] on
//! disk and a `kube::Client` that uses them.
//!
//! [`join`] reuses the credentials in the agent's TLS dir while they fit; otherwise it fetches
//! the CA from `GET /closet/v1/ca` over a connection it cannot verify yet, checks the CA's
//! SHA-256 against the token (a mismatch means the token belongs to another server), and
//! calls `POST /closet/v1/join` over a connection verified with that CA. This is k3s's
//! approach: the token carries the only thing the agent needs to trust the server.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::PkiError;
use crate::join::JoinToken;
use crate::node::{JoinRequest, NodeCredentials};
use crate::tls::pem_certs;

mod verifier;

/// Path of the CA certificate on the server.
const CA_PATH: &str = "/closet/v1/ca";
/// Path of the join endpoint on the server.
const JOIN_PATH: &str = "/closet/v1/join";
/// How long one request to the server may take, connection and handshake included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer accepted: certificates are a few kilobytes.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Why joining, or building the API client, failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinClientError {
    /// The server URL is not `https://host[:port]`.
    #[error("server URL {url:?} is invalid: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No TCP connection to the server.
    #[error("cannot connect to {server}")]
    Connect {
        /// The server URL.
        server: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {server} failed")]
    Handshake {
        /// The server URL.
        server: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP request to {server}{path} failed")]
    Http {
        /// The server URL.
        server: String,
        /// The path asked for.
        path: &'static str,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The server did not answer in time.
    #[error("{server}{path} did not answer within {timeout:?}")]
    Timeout {
        /// The server URL.
        server: String,
        /// The path asked for.
        path: &'static str,
        /// How long the agent waited.
        timeout: Duration,
    },
    /// The server's CA is not the one the token names.
    #[error(
        "the CA certificate of {server} does not match the join token: the token does not \
         belong to that server (run `closet token` on the server this agent should join)"
    )]
    CaMismatch {
        /// The server URL.
        server: String,
    },
    /// The server refused the token.
    #[error(
        "{server} refused the join token (401); run `closet token` on the server for the current one"
    )]
    Refused {
        /// The server URL.
        server: String,
    },
    /// The server answered with another error.
    #[error("{server}{path} answered {code}: {message}")]
    Rejected {
        /// The server URL.
        server: String,
        /// The path asked for.
        path: &'static str,
        /// The HTTP status.
        code: StatusCode,
        /// The Status message, or the body.
        message: String,
    },
    /// The join answer is not node credentials.
    #[error("{server} answered the join request with something that is not node credentials")]
    BadResponse {
        /// The server URL.
        server: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The credentials came with another CA than the one the server serves.
    #[error("{server} issued credentials under a CA other than the one it serves")]
    WrongCa {
        /// The server URL.
        server: String,
    },
    /// A certificate or key could not be turned into a TLS or client configuration.
    #[error("the node credentials cannot be used")]
    Credentials(#[source] PkiError),
    /// The stored credentials could not be read.
    #[error("reading the stored node credentials failed")]
    Load(#[source] PkiError),
    /// The new credentials could not be stored.
    #[error("storing the node credentials failed")]
    Store(#[source] PkiError),
    /// kube-rs refused the client configuration.
    #[error("building the API client failed")]
    Client(#[source] kube::Error),
}

/// The node's credentials: the ones in `tls_dir` if they belong to the token's CA and still fit
/// `node_name` and `addresses`, otherwise new ones from the server, stored in `tls_dir`.
pub async fn join(
    server_url: &str,
    token: &JoinToken,
    node_name: &str,
    addresses: &[String],
    tls_dir: &Path,
) -> Result<NodeCredentials, JoinClientError> {
    match NodeCredentials::load(tls_dir).map_err(JoinClientError::Load)? {
        Some(stored) if token.matches_ca(&stored.ca_pem) && stored.fits(node_name, addresses) => {
            tracing::info!(dir = %tls_dir.display(), "reusing the stored node credentials");
            return Ok(stored);
        }
        Some(_) => tracing::info!(
            dir = %tls_dir.display(),
            "the stored node credentials no longer fit; joining again"
        ),
        None => {}
    }
    let credentials = request_credentials(server_url, token, node_name, addresses).await?;
    credentials.store(tls_dir).map_err(JoinClientError::Store)?;
    tracing::info!(server = server_url, node = node_name, "joined the cluster");
    Ok(credentials)
}

/// Asks the server for new credentials, without reading or writing any file.
pub async fn request_credentials(
    server_url: &str,
    token: &JoinToken,
    node_name: &str,
    addresses: &[String],
) -> Result<NodeCredentials, JoinClientError> {
    let target = Target::parse(server_url)?;

    // Trust nothing yet: whatever answers here is checked against the token's hash.
    let unverified = client_config(Arc::new(verifier::AcceptAnyServer::new()))?;
    let ca = target
        .send(unverified, Method::GET, CA_PATH, None, None)
        .await?;
    let ca_pem = target.expect_ok(CA_PATH, ca)?;
    let ca_pem = String::from_utf8_lossy(&ca_pem).into_owned();
    if !token.matches_ca(&ca_pem) {
        return Err(JoinClientError::CaMismatch {
            server: target.url.clone(),
        });
    }

    let verified = verified_config(&ca_pem)?;
    let body = serde_json::to_vec(&JoinRequest {
        node_name: node_name.to_owned(),
        addresses: addresses.to_vec(),
    })
    .map_err(|source| JoinClientError::BadResponse {
        server: target.url.clone(),
        source,
    })?;
    let answer = target
        .send(
            verified,
            Method::POST,
            JOIN_PATH,
            Some(&format!("Bearer {token}")),
            Some(body),
        )
        .await?;
    let bytes = target.expect_ok(JOIN_PATH, answer)?;
    let credentials: NodeCredentials =
        serde_json::from_slice(&bytes).map_err(|source| JoinClientError::BadResponse {
            server: target.url.clone(),
            source,
        })?;
    if !token.matches_ca(&credentials.ca_pem) {
        return Err(JoinClientError::WrongCa {
            server: target.url.clone(),
        });
    }
    Ok(credentials)
}

/// A kube-rs configuration for `server_url` that trusts only the cluster CA and presents the
/// node's client certificate.
pub fn kube_config(
    server_url: &str,
    credentials: &NodeCredentials,
) -> Result<kube::Config, JoinClientError> {
    let target = Target::parse(server_url)?;
    let roots = pem_certs(&credentials.ca_pem, "CA certificate")
        .map_err(JoinClientError::Credentials)?
        .into_iter()
        .map(|der| der.to_vec())
        .collect();
    let mut config = kube::Config::new(target.uri);
    config.root_cert = Some(roots);
    // AuthInfo's key field is a secrecy type kube does not re-export; its kubeconfig form is
    // the documented way in.
    config.auth_info = serde_json::from_value(serde_json::json!({
        "client-certificate-data": STANDARD.encode(&credentials.client.cert_pem),
        "client-key-data": STANDARD.encode(&credentials.client.key_pem),
    }))
    .map_err(|_| JoinClientError::Credentials(PkiError::BadPem { what: "client key" }))?;
    Ok(config)
}

/// A `kube::Client` for `server_url` with the node's identity. Call inside a Tokio runtime.
pub fn kube_client(
    server_url: &str,
    credentials: &NodeCredentials,
) -> Result<kube::Client, JoinClientError> {
    let config = kube_config(server_url, credentials)?;
    kube::Client::try_from(config).map_err(JoinClientError::Client)
}

/// A rustls client configuration with `verifier`, the ring provider and HTTP/1.1.
/// A TLS client configuration that accepts any server certificate, for the second place
/// that must: HTTPS liveness and readiness probes, which upstream's kubelet sends without
/// verifying (pods serve self-signed certificates). Nothing secret goes over it.
pub fn unverified_probe_config() -> Result<Arc<ClientConfig>, JoinClientError> {
    client_config(Arc::new(verifier::AcceptAnyServer::new()))
}

fn client_config(
    verifier: Arc<dyn rustls::client::danger::ServerCertVerifier>,
) -> Result<Arc<ClientConfig>, JoinClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| JoinClientError::Credentials(PkiError::Tls(err)))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A configuration that trusts only `ca_pem`.
fn verified_config(ca_pem: &str) -> Result<Arc<ClientConfig>, JoinClientError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in pem_certs(ca_pem, "CA certificate").map_err(JoinClientError::Credentials)? {
        roots
            .add(cert)
            .map_err(|err| JoinClientError::Credentials(PkiError::Tls(err)))?;
    }
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| JoinClientError::Credentials(PkiError::Tls(err)))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The server, as parsed from its URL.
struct Target {
    /// The URL as given, for messages.
    url: String,
    uri: Uri,
    /// Host without IPv6 brackets, for the TLS server name.
    host: String,
    port: u16,
    /// The URL's path without a trailing `/`, put before each request path.
    base: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, JoinClientError> {
        let bad = |reason| JoinClientError::BadUrl {
            url: url.to_owned(),
            reason,
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad("it must start with https://"));
        }
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("it has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if uri.query().is_some() {
            return Err(bad("it must not have a query"));
        }
        Ok(Self {
            url: url.to_owned(),
            port: uri.port_u16().unwrap_or(443),
            base: uri.path().trim_end_matches('/').to_owned(),
            host,
            uri,
        })
    }

    /// One request on a fresh connection; the status and (bounded) body of the answer.
    async fn send(
        &self,
        tls: Arc<ClientConfig>,
        method: Method,
        path: &'static str,
        authorization: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), JoinClientError> {
        let exchange = self.exchange(tls, method, path, authorization, body);
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| JoinClientError::Timeout {
                server: self.url.clone(),
                path,
                timeout: REQUEST_TIMEOUT,
            })?
    }

    async fn exchange(
        &self,
        tls: Arc<ClientConfig>,
        method: Method,
        path: &'static str,
        authorization: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), JoinClientError> {
        let http_error = |source: Box<dyn std::error::Error + Send + Sync>| JoinClientError::Http {
            server: self.url.clone(),
            path,
            source,
        };
        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|source| JoinClientError::Connect {
                server: self.url.clone(),
                source,
            })?;
        let name =
            ServerName::try_from(self.host.clone()).map_err(|_| JoinClientError::BadUrl {
                url: self.url.clone(),
                reason: "its host is neither a DNS name nor an IP address",
            })?;
        let stream = TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|source| JoinClientError::Handshake {
                server: self.url.clone(),
                source,
            })?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| http_error(e.into()))?;
        // The connection task ends when the sender is dropped after the one answer.
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%err, "join connection closed with an error");
            }
        });

        let authority = match self.uri.authority() {
            Some(authority) => authority.as_str().to_owned(),
            None => format!("{}:{}", self.host, self.port),
        };
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::HOST, authority);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| http_error(e.into()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| http_error(e.into()))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(http_error)?
            .to_bytes();
        Ok((status, bytes))
    }

    /// The body of a 200 answer; any other status becomes an error naming the server's reason.
    fn expect_ok(
        &self,
        path: &'static str,
        (code, body): (StatusCode, Bytes),
    ) -> Result<Bytes, JoinClientError> {
        if code == StatusCode::OK {
            return Ok(body);
        }
        if code == StatusCode::UNAUTHORIZED {
            return Err(JoinClientError::Refused {
                server: self.url.clone(),
            });
        }
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|status| status["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(500).collect());
        Err(JoinClientError::Rejected {
            server: self.url.clone(),
            path,
            code,
            message,
        })
    }
}

#[cfg(test)]
#[path = "join_client_tests.rs"]
mod tests;
