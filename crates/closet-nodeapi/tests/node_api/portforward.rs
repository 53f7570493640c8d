//! Port-forward: the WebSocket tunnel carries SPDY bytes to the runtime unchanged.

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::Node;

const PATH: &str = "/portForward/default/web";
const TUNNEL: &str = "SPDY/3.1+portforward.k8s.io";

#[tokio::test]
async fn tunnel_bytes_flow_both_ways_regardless_of_message_boundaries() {
    let node = Node::start().await;
    node.add_web_pod(false);
    let mut socket = node.websocket(PATH, TUNNEL).await.unwrap();

    let seen = node.backend.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/portforward/token");
    assert_eq!(seen[0].headers["upgrade"], "SPDY/3.1");
    assert_eq!(
        seen[0].headers["x-stream-protocol-version"],
        "portforward.k8s.io"
    );
    let recorded = node.runtime.fake.recorded();
    let call = recorded.iter().find(|c| c.method == "PortForward").unwrap();
    assert!(call.request.contains("sandbox-1"), "{}", call.request);

    // One SYN_STREAM-sized frame cut into pieces, as kubectl writes it.
    let frame: Vec<u8> = (0u8..=200).collect();
    for piece in frame.chunks(25) {
        socket
            .send(Message::Binary(Bytes::copy_from_slice(piece)))
            .await
            .unwrap();
    }
    let mut back = Vec::new();
    while back.len() < frame.len() {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("echo in time")
            .unwrap()
            .unwrap();
        match message {
            Message::Binary(data) => back.extend_from_slice(&data),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(back, frame);

    socket
        .send(Message::Ping(Bytes::from_static(b"p")))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Pong(Bytes::from_static(b"p")));

    assert_eq!(node.backend.open(), 1);
    socket.close(None).await.unwrap();
    node.backend.wait_all_closed().await;
}

#[tokio::test]
async fn a_runtime_refusal_is_passed_on() {
    let node = Node::start().await;
    node.add_web_pod(false);
    *node.runtime.base.lock().unwrap() = format!("http://{}/refuse", node.backend.addr);
    let err = node.websocket(PATH, TUNNEL).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = err else {
        panic!("expected an HTTP refusal, got {err}");
    };
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default()).into_owned();
    assert!(body.contains("token not found"), "{body}");
}

#[tokio::test]
async fn an_unknown_pod_is_404() {
    let node = Node::start().await;
    let err = node
        .websocket("/portForward/default/nope", TUNNEL)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    assert!(node.backend.seen().is_empty());
}

#[tokio::test]
async fn a_client_that_vanishes_during_the_upgrade_leaves_no_runtime_connection() {
    let node = Node::start().await;
    node.add_web_pod(false);
    let mut tls = node.tls().await;
    let request = format!(
        "GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: {TUNNEL}\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    // Leave as soon as the runtime has been dialled, without reading the answer.
    tokio::time::timeout(Duration::from_secs(5), async {
        while node.backend.seen().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the runtime is dialled");
    tls.get_ref().0.set_zero_linger().unwrap();
    drop(tls);
    node.backend.wait_all_closed().await;
}

#[tokio::test]
async fn classic_spdy_passes_through() {
    let node = Node::start().await;
    node.add_web_pod(false);
    let mut tls = node.tls().await;
    let request = format!(
        "POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
         X-Stream-Protocol-Version: portforward.k8s.io\r\nContent-Length: 0\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let head = crate::exec::read_head(&mut tls).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("x-stream-protocol-version: portforward.k8s.io"),
        "{head}"
    );
}

#[tokio::test]
async fn the_channel_protocol_passes_through_with_its_ports() {
    let node = Node::start().await;
    node.add_web_pod(false);
    let mut tls = node.tls().await;
    let request = format!(
        "GET {PATH}?ports=8080 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let head = crate::exec::read_head(&mut tls).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let seen = node.backend.seen();
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].headers["upgrade"], "websocket");
    assert_eq!(
        seen[0].headers["sec-websocket-key"],
        "dGhlIHNhbXBsZSBub25jZQ=="
    );
    let recorded = node.runtime.fake.recorded();
    let call = recorded.iter().find(|c| c.method == "PortForward").unwrap();
    assert!(call.request.contains("port: [8080]"), "{}", call.request);

    let err = node.websocket(PATH, "v4.channel.k8s.io").await.unwrap_err();
    assert!(err.to_string().contains("400"), "without ports: {err}");
}
