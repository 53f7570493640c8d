//! Only the apiserver's certificate gets in.

use closet_pki::CertificateAuthority;
use http::StatusCode;
use rustls_pki_types::pem::PemObject;

use crate::harness::Node;

#[tokio::test]
async fn the_apiserver_certificate_is_served() {
    let node = Node::start().await;
    let (status, body) = node.get("/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_in_the_handshake() {
    let node = Node::start().await;
    let other = CertificateAuthority::generate().unwrap();
    let stranger = other
        .issue_client(closet_nodeapi::APISERVER_CLIENT_CN, &[])
        .unwrap();
    // The client trusts the node; the node does not trust the client.
    let config = closet_nodeapi::tls::client_config(
        &node.pki.ca.pair().cert_pem,
        &stranger.cert_pem,
        &stranger.key_pem,
    )
    .unwrap();
    assert!(refused(&node, config).await);
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let node = Node::start().await;
    let mut roots = rustls::RootCertStore::empty();
    for cert in
        rustls_pki_types::CertificateDer::pem_slice_iter(node.pki.ca.pair().cert_pem.as_bytes())
    {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    assert!(refused(&node, std::sync::Arc::new(config)).await);
}

#[tokio::test]
async fn a_serving_certificate_is_no_client_certificate() {
    let node = Node::start().await;
    // A node's serving certificate is signed by the cluster CA but is for servers only.
    let config = node.pki.client_config(&node.pki.serving);
    assert!(refused(&node, config).await);
}

#[tokio::test]
async fn another_cluster_user_gets_403() {
    let node = Node::start().await;
    let kubelet = node
        .pki
        .ca
        .issue_client("system:node:node-2", &["system:nodes".to_owned()])
        .unwrap();
    let io = hyper_util::rt::TokioIo::new(
        node.tls_with(node.pki.client_config(&kubelet))
            .await
            .unwrap(),
    );
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(conn);
    let request = http::Request::get("/containerLogs/default/web/app")
        .header("host", "127.0.0.1")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "Forbidden");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("system:node:node-2"),
        "{status}"
    );
}

/// True when no request gets through with `config`: the handshake, or the first request
/// on the connection, fails (TLS 1.3 reports a refused client certificate only then).
async fn refused(node: &Node, config: std::sync::Arc<rustls::ClientConfig>) -> bool {
    let Ok(tls) = node.tls_with(config).await else {
        return true;
    };
    let io = hyper_util::rt::TokioIo::new(tls);
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(io).await else {
        return true;
    };
    tokio::spawn(conn);
    let request = http::Request::get("/healthz")
        .header("host", "127.0.0.1")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    sender.send_request(request).await.is_err()
}
