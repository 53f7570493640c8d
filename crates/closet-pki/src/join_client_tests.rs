//! The join client against a small HTTPS server on loopback that answers `/closet/v1/ca` and
//! `/closet/v1/join` the way the apiserver does (the apiserver's own handler is tested in
//! its crate and, end to end, in the binary).

use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::*;
use crate::node::issue_node;
use crate::{ClusterTls, ServingNames, user_from_certificate};

struct TestServer {
    _dir: tempfile::TempDir,
    url: String,
    tls: ClusterTls,
    token: JoinToken,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start() -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = ClusterTls::load_or_create(dir.path(), &ServingNames::loopback()).expect("tls");
    let token = JoinToken::generate(&tls.ca).expect("token");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let acceptor = TlsAcceptor::from(tls.server_config().expect("server config"));
    let (ca, expected) = (tls.ca.clone(), token.clone());
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, ca, expected) = (acceptor.clone(), ca.clone(), expected.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |req| answer(req, ca.clone(), expected.clone()));
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestServer {
        _dir: dir,
        url: format!("https://{addr}"),
        tls,
        token,
        task,
    }
}

async fn answer(
    req: Request<Incoming>,
    ca: crate::CertificateAuthority,
    expected: JoinToken,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let reply = |code: StatusCode, body: Vec<u8>| {
        let mut response = http::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = code;
        Ok(response)
    };
    match (req.method().clone(), req.uri().path()) {
        (Method::GET, CA_PATH) => reply(StatusCode::OK, ca.pair().cert_pem.clone().into_bytes()),
        (Method::POST, JOIN_PATH) => {
            let presented = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .and_then(|t| JoinToken::parse(t).ok());
            if !presented.is_some_and(|p| expected.accepts(&p)) {
                return reply(
                    StatusCode::UNAUTHORIZED,
                    br#"{"kind":"Status","message":"Unauthorized"}"#.to_vec(),
                );
            }
            let Ok(body) = req.into_body().collect().await else {
                return reply(StatusCode::BAD_REQUEST, Vec::new());
            };
            let Ok(request) = serde_json::from_slice::<JoinRequest>(&body.to_bytes()) else {
                return reply(StatusCode::BAD_REQUEST, Vec::new());
            };
            let creds = issue_node(&ca, &request.node_name, &request.addresses).expect("issue");
            reply(StatusCode::OK, serde_json::to_vec(&creds).expect("json"))
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            br#"{"kind":"Status","message":"nothing here"}"#.to_vec(),
        ),
    }
}

fn addresses() -> Vec<String> {
    vec!["192.168.1.20".to_owned()]
}

#[tokio::test]
async fn join_fetches_checks_and_stores_credentials() {
    let server = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let tls_dir = dir.path().join("agent/tls");
    let creds = join(&server.url, &server.token, "pi-4", &addresses(), &tls_dir)
        .await
        .expect("join");
    assert_eq!(creds.ca_pem, server.tls.ca.pair().cert_pem);
    let der = pem_certs(&creds.client.cert_pem, "client").expect("PEM")[0].to_vec();
    assert_eq!(
        user_from_certificate(&der),
        Some((
            "system:node:pi-4".to_owned(),
            vec!["system:nodes".to_owned()]
        ))
    );
    assert_eq!(
        NodeCredentials::load(&tls_dir).expect("load"),
        Some(creds.clone())
    );

    // With the server gone, the stored credentials are reused as long as they fit.
    let url = server.url.clone();
    let token = server.token.clone();
    drop(server);
    let again = join(&url, &token, "pi-4", &addresses(), &tls_dir)
        .await
        .expect("reuse without the server");
    assert_eq!(again, creds);
    let err = join(&url, &token, "pi-4", &["10.9.9.9".to_owned()], &tls_dir)
        .await
        .expect_err("a new address needs the server");
    assert!(matches!(err, JoinClientError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn a_token_for_another_ca_is_refused_before_anything_is_sent() {
    let server = start().await;
    let other = crate::CertificateAuthority::generate().expect("CA");
    let foreign = JoinToken::generate(&other).expect("token");
    let err = request_credentials(&server.url, &foreign, "pi-4", &[])
        .await
        .expect_err("mismatch");
    assert!(matches!(err, JoinClientError::CaMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("does not belong to that server"),
        "{err}"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_reported_as_refused() {
    let server = start().await;
    let wrong = JoinToken::generate(&server.tls.ca).expect("token");
    let err = request_credentials(&server.url, &wrong, "pi-4", &[])
        .await
        .expect_err("refused");
    assert!(matches!(err, JoinClientError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("closet token"), "{err}");
}

#[test]
fn server_urls_must_be_https_with_a_host() {
    for (url, reason) in [
        ("http://10.0.0.1:6443", "https://"),
        ("10.0.0.1:6443", "https://"),
        ("https://", "not a URL"),
        ("https://10.0.0.1:6443/?x=1", "query"),
    ] {
        let err = Target::parse(url).err().expect(url).to_string();
        assert!(err.contains(reason), "{url}: {err}");
    }
    let target = Target::parse("https://[fd00::1]:6443/").expect("parses");
    assert_eq!(target.host, "fd00::1");
    assert_eq!(target.port, 6443);
    assert_eq!(target.base, "");
    let target = Target::parse("https://closet.lan").expect("parses");
    assert_eq!(target.port, 443);
}

#[tokio::test]
async fn kube_config_trusts_the_ca_and_presents_the_node_certificate() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = crate::CertificateAuthority::generate().expect("CA");
    let creds = issue_node(&ca, "pi-4", &[]).expect("issue");
    let config = kube_config("https://127.0.0.1:6443", &creds).expect("config");
    assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:6443/");
    assert_eq!(
        config.root_cert,
        Some(vec![
            pem_certs(&ca.pair().cert_pem, "CA").expect("PEM")[0].to_vec()
        ])
    );
    assert_eq!(
        config.auth_info.client_certificate_data.as_deref(),
        Some(STANDARD.encode(&creds.client.cert_pem).as_str())
    );
    kube_client("https://127.0.0.1:6443", &creds).expect("client builds");
}
