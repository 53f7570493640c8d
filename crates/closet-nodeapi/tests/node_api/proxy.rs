//! The apiserver's side: `NodeClient::forward` proxying plain requests and upgrades.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use closet_nodeapi::client::{NodeClient, NodeClientError, NodeEndpoint};
use closet_nodeapi::exec;
use futures::{SinkExt, StreamExt};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::harness::Node;

/// A stand-in for the apiserver: plain HTTP on loopback, forwarding every request to the
/// node unchanged.
async fn apiserver(node: &Node) -> SocketAddr {
    let client = NodeClient::new(node.pki.client_config(&node.pki.apiserver));
    let endpoint = NodeEndpoint {
        host: "127.0.0.1".into(),
        port: node.addr.port(),
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (client, endpoint) = (client.clone(), endpoint.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (client, endpoint) = (client.clone(), endpoint.clone());
                    async move {
                        let response = match client.forward(&endpoint, req).await {
                            Ok(r) => r.map(|b| b.boxed_unsync()),
                            Err(err) => {
                                let mut r = Response::new(
                                    Full::from(err.to_string())
                                        .map_err(|never| match never {})
                                        .boxed_unsync(),
                                );
                                *r.status_mut() = StatusCode::BAD_GATEWAY;
                                r
                            }
                        };
                        Ok::<_, std::convert::Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn exec_through_the_proxy() {
    let mut node = Node::start().await;
    node.add_web_pod(false);
    let proxy = apiserver(&node).await;
    let mut request =
        format!("ws://{proxy}/exec/default/web/app?command=ls&stdout=true&stderr=true")
            .into_client_request()
            .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "v5.channel.k8s.io".parse().unwrap(),
    );
    request
        .headers_mut()
        .insert("authorization", "Bearer user-token".parse().unwrap());
    let tcp = TcpStream::connect(proxy).await.unwrap();
    let (mut socket, response) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "v5.channel.k8s.io"
    );

    let mut process = node.sessions.recv().await.unwrap();
    process.stdout.write_all(b"bin\netc\n").await.unwrap();
    drop(process.stdout);
    drop(process.stderr);
    process.outcome.send(exec::success_status()).unwrap();
    let mut data = Vec::new();
    while let Some(Ok(message)) = socket.next().await {
        match message {
            Message::Binary(b) => data.push(b.to_vec()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    assert_eq!(data[0], b"\x01bin\netc\n");
    assert_eq!(data[1][0], 3);
}

#[tokio::test]
async fn a_client_leaving_the_proxy_ends_the_node_session() {
    let mut node = Node::start().await;
    node.add_web_pod(false);
    let proxy = apiserver(&node).await;
    let mut request =
        format!("ws://{proxy}/exec/default/web/app?command=cat&stdin=true&stdout=true")
            .into_client_request()
            .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "v5.channel.k8s.io".parse().unwrap(),
    );
    let tcp = TcpStream::connect(proxy).await.unwrap();
    let (mut socket, _) = tokio_tungstenite::client_async(request, tcp).await.unwrap();
    let mut process = node.sessions.recv().await.unwrap();
    socket
        .send(Message::Binary(Bytes::from_static(b"\x00typed")))
        .await
        .unwrap();
    let mut typed = [0u8; 5];
    process.stdin.read_exact(&mut typed).await.unwrap();
    assert_eq!(&typed, b"typed");
    drop(socket);
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), process.stdin.read_to_end(&mut rest))
        .await
        .expect("the node session ends when the client leaves the proxy")
        .unwrap();
}

#[tokio::test]
async fn plain_requests_and_refusals_pass_through() {
    let node = Node::start().await;
    std::fs::write(
        node.add_web_pod(false),
        "2024-05-01T10:00:00Z stdout F hi\n",
    )
    .unwrap();
    let proxy = apiserver(&node).await;
    let get = |path: &'static str| async move {
        let tcp = TcpStream::connect(proxy).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        let request = http::Request::get(path)
            .header("host", "apiserver")
            .body(http_body_util::Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(
        get("/containerLogs/default/web/app").await,
        (StatusCode::OK, "hi\n".to_owned())
    );
    let (status, body) = get("/containerLogs/default/web/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"kind\":\"Status\""), "{body}");
}

#[tokio::test]
async fn an_untrusted_node_certificate_is_refused() {
    let node = Node::start().await;
    let other = closet_pki::CertificateAuthority::generate().unwrap();
    let config = closet_nodeapi::tls::client_config(
        &other.pair().cert_pem,
        &node.pki.apiserver.cert_pem,
        &node.pki.apiserver.key_pem,
    )
    .unwrap();
    let endpoint = NodeEndpoint {
        host: "127.0.0.1".into(),
        port: node.addr.port(),
    };
    let err = NodeClient::new(config)
        .get_json::<serde_json::Value>(&endpoint, "/healthz")
        .await
        .unwrap_err();
    assert!(matches!(err, NodeClientError::Tls { .. }), "{err:?}");
}

#[tokio::test]
async fn an_upgrade_without_an_upgradable_caller_is_refused_before_dialling() {
    let node = Node::start().await;
    let client = NodeClient::new(node.pki.client_config(&node.pki.apiserver));
    let endpoint = NodeEndpoint {
        host: "127.0.0.1".into(),
        port: node.addr.port(),
    };
    let request = http::Request::get("/portForward/default/web")
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let err = client.forward(&endpoint, request).await.unwrap_err();
    assert!(matches!(err, NodeClientError::NotUpgradable), "{err:?}");
}
