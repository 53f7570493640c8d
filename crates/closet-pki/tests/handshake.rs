//! Real TLS handshakes on loopback between the listener configuration and a rustls client
//! that trusts the cluster CA, with and without a client certificate.

use std::sync::Arc;

use closet_pki::{
    CertAndKey, CertificateAuthority, ClusterTls, ServingNames, user_from_certificate,
};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

type Peer = Option<(String, Vec<String>)>;

fn client_config(tls: &ClusterTls, identity: Option<&CertAndKey>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    let ca = CertificateDer::from_pem_slice(tls.ca.pair().cert_pem.as_bytes()).expect("CA PEM");
    roots.add(ca).expect("add CA");
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(pair) => {
            let chain = CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .expect("client cert PEM");
            let key = PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes()).expect("key PEM");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// Accepts one connection, reports the peer's user and the negotiated ALPN protocol, and
/// echoes one byte so the client knows the handshake finished on both sides.
async fn serve_once(listener: TcpListener, tls: &ClusterTls) -> Result<(Peer, Vec<u8>), String> {
    let acceptor = TlsAcceptor::from(tls.server_config().map_err(|e| e.to_string())?);
    let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
    let mut stream = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
    let (_, conn) = stream.get_ref();
    let peer = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|cert| user_from_certificate(cert));
    let alpn = conn.alpn_protocol().map(<[u8]>::to_vec).unwrap_or_default();
    let mut byte = [0u8; 1];
    stream
        .read_exact(&mut byte)
        .await
        .map_err(|e| e.to_string())?;
    stream.write_all(&byte).await.map_err(|e| e.to_string())?;
    stream.shutdown().await.map_err(|e| e.to_string())?;
    Ok((peer, alpn))
}

async fn handshake(
    tls: &ClusterTls,
    identity: Option<&CertAndKey>,
) -> (Result<(Peer, Vec<u8>), String>, Result<(), String>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let connector = TlsConnector::from(client_config(tls, identity));
    let client = async move {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        let mut stream = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        stream.write_all(b"x").await.map_err(|e| e.to_string())?;
        let mut byte = [0u8; 1];
        stream
            .read_exact(&mut byte)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    };
    tokio::join!(serve_once(listener, tls), client)
}

fn cluster(dir: &std::path::Path) -> ClusterTls {
    ClusterTls::load_or_create(dir, &ServingNames::discover(&[])).expect("create certificates")
}

#[tokio::test]
async fn client_certificate_identifies_the_admin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = cluster(dir.path());
    let (server, client) = handshake(&tls, Some(&tls.admin)).await;
    client.expect("client side completes");
    let (peer, alpn) = server.expect("server side completes");
    assert_eq!(
        peer,
        Some(("closet-admin".to_owned(), vec!["system:masters".to_owned()]))
    );
    assert_eq!(alpn, b"h2");
}

#[tokio::test]
async fn no_client_certificate_still_connects_anonymously() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = cluster(dir.path());
    let (server, client) = handshake(&tls, None).await;
    client.expect("client side completes");
    let (peer, _) = server.expect("server side completes");
    assert_eq!(peer, None);
}

#[tokio::test]
async fn client_certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = cluster(dir.path());
    let stranger = CertificateAuthority::generate().expect("other CA");
    let forged = stranger
        .issue_client("closet-admin", &["system:masters".to_owned()])
        .expect("issue");
    let (server, _client) = handshake(&tls, Some(&forged)).await;
    assert!(
        server.is_err(),
        "the server must reject a certificate from another CA"
    );
}
