//! The rustls server configuration of the API listener.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{ClusterTls, PkiError};

/// ALPN protocols the listener offers, in preference order. kubectl and client-go prefer h2
/// but fall back to HTTP/1.1, which exec and port-forward upgrades still need.
pub const ALPN_PROTOCOLS: &[&[u8]] = &[b"h2", b"http/1.1"];

impl ClusterTls {
    /// A rustls server configuration presenting the serving certificate and asking for (but
    /// not requiring) a client certificate signed by the cluster CA.
    ///
    /// A client certificate that is presented must verify, or the handshake fails; a client
    /// without one still connects, so `/healthz` and friends work, and the apiserver answers
    /// 401 to everything else. The ring provider is used explicitly, whatever the process
    /// default is.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, PkiError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());

        let mut roots = RootCertStore::empty();
        for cert in pem_certs(&self.ca.pair().cert_pem, "CA certificate")? {
            roots.add(cert).map_err(PkiError::Tls)?;
        }
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(PkiError::Verifier)?;

        let chain = pem_certs(&self.serving.cert_pem, "serving certificate")?;
        let key = PrivateKeyDer::from_pem_slice(self.serving.key_pem.as_bytes()).map_err(|_| {
            PkiError::BadPem {
                what: "serving key",
            }
        })?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(PkiError::Tls)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(PkiError::Tls)?;
        config.alpn_protocols = ALPN_PROTOCOLS.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// Every certificate in a PEM text, as DER.
pub(crate) fn pem_certs(
    pem: &str,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| PkiError::BadPem { what })?;
    if certs.is_empty() {
        return Err(PkiError::BadPem { what });
    }
    Ok(certs)
}
