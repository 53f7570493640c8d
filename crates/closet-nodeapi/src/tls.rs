//! TLS for both ends of the apiserver → node link.
//!
//! The node API requires a client certificate signed by the cluster CA (the handshake fails
//! without one); the accept loop then also checks its CN is [`crate::APISERVER_CLIENT_CN`],
//! so a node's or user's certificate from the same CA gets 403. The apiserver verifies the
//! node's serving certificate against the same CA. Both ends speak HTTP/1.1 only: exec,
//! attach and port-forward are HTTP/1.1 upgrades. The ring provider is used explicitly, so
//! nothing depends on a process-wide default.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
/// The configurations built here, re-exported so that callers need no rustls dependency of
/// their own to name them.
pub use rustls::{ClientConfig, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// ALPN of the node API: HTTP/1.1, which upgrades need.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// Building a TLS configuration failed.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM input held no certificate or key, or did not parse.
    #[error("{what} is not valid PEM")]
    BadPem {
        /// Which input.
        what: &'static str,
    },
    /// rustls refused the certificates or keys.
    #[error("building the TLS configuration")]
    Rustls(#[source] rustls::Error),
    /// The client certificate verifier could not be built.
    #[error("building the client certificate verifier")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
}

/// The node API's server configuration: presents `cert_pem` (the node's serving certificate,
/// chain first) with `key_pem`, and requires a client certificate signed by `ca_pem`.
pub fn server_config(
    ca_pem: &str,
    cert_pem: &str,
    key_pem: &str,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_pem)?), provider.clone())
            .build()
            .map_err(TlsError::Verifier)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(cert_pem, "serving certificate")?, key(key_pem)?)
        .map_err(TlsError::Rustls)?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

/// The apiserver's client configuration for node APIs: trusts only `ca_pem` and presents
/// `client_cert_pem` (whose CN should be [`crate::APISERVER_CLIENT_CN`]) with its key.
pub fn client_config(
    ca_pem: &str,
    client_cert_pem: &str,
    client_key_pem: &str,
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?
        .with_root_certificates(roots(ca_pem)?)
        .with_client_auth_cert(
            certs(client_cert_pem, "client certificate")?,
            key(client_key_pem)?,
        )
        .map_err(TlsError::Rustls)?;
    config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
    Ok(Arc::new(config))
}

fn roots(ca_pem: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(ca_pem, "CA certificate")? {
        roots.add(cert).map_err(TlsError::Rustls)?;
    }
    Ok(roots)
}

fn certs(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::BadPem { what })?;
    if certs.is_empty() {
        return Err(TlsError::BadPem { what });
    }
    Ok(certs)
}

fn key(pem: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| TlsError::BadPem {
        what: "private key",
    })
}
