//! Exec and attach over WebSocket `v5.channel.k8s.io`, and the SPDY pass-through.

use std::time::Duration;

use bytes::Bytes;
use closet_nodeapi::exec;
use futures::{SinkExt, StreamExt};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use closet_nodeapi::testing::ProcessEnd;

use crate::harness::Node;

const EXEC: &str =
    "/exec/default/web/app?command=sh&command=-c&command=cat&stdin=true&stdout=true&stderr=true";

async fn session(node: &mut Node) -> ProcessEnd {
    tokio::time::timeout(Duration::from_secs(5), node.sessions.recv())
        .await
        .expect("a session in time")
        .expect("a session")
}

/// Reads messages until the close frame; returns the data messages.
async fn until_close<S>(socket: &mut S) -> Vec<Vec<u8>>
where
    S: futures::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let mut data = Vec::new();
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message in time");
        match message {
            Some(Ok(Message::Binary(b))) => data.push(b.to_vec()),
            Some(Ok(Message::Close(frame))) => {
                assert_eq!(frame.map(|f| u16::from(f.code)), Some(1000));
                return data;
            }
            Some(Ok(_)) => {}
            other => panic!("stream ended without a close frame: {other:?}"),
        }
    }
}

#[tokio::test]
async fn exec_stdin_stdout_stderr_and_exit_code() {
    let mut node = Node::start().await;
    node.add_web_pod(false);
    let mut socket = node.websocket(EXEC, "v5.channel.k8s.io").await.unwrap();
    let mut process = session(&mut node).await;
    assert!(process.url.ends_with("/exec/token"), "{}", process.url);
    assert!(process.options.stdin && process.options.stdout && process.options.stderr);
    let recorded = node.runtime.fake.recorded();
    let call = recorded.iter().find(|c| c.method == "Exec").unwrap();
    assert!(
        call.request.contains("container_id: \"c1\""),
        "{}",
        call.request
    );
    assert!(
        call.request.contains("cmd: [\"sh\", \"-c\", \"cat\"]"),
        "{}",
        call.request
    );

    // stdin arrives, and [255, 0] closes it.
    socket
        .send(Message::Binary(Bytes::from_static(b"\x00hello\n")))
        .await
        .unwrap();
    socket
        .send(Message::Binary(Bytes::from_static(&[255, 0])))
        .await
        .unwrap();
    let mut typed = String::new();
    process.stdin.read_to_string(&mut typed).await.unwrap();
    assert_eq!(
        typed, "hello\n",
        "stdin reached EOF after the close message"
    );

    // Pings are answered while the process runs.
    socket
        .send(Message::Ping(Bytes::from_static(b"alive?")))
        .await
        .unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Pong(Bytes::from_static(b"alive?")));

    process.stdout.write_all(b"out\n").await.unwrap();
    process.stderr.write_all(b"err\n").await.unwrap();
    drop(process.stdout);
    drop(process.stderr);
    process.outcome.send(exec::exit_code_status(3)).unwrap();

    let data = until_close(&mut socket).await;
    let stdout: Vec<u8> = data
        .iter()
        .filter(|m| m[0] == 1)
        .flat_map(|m| m[1..].to_vec())
        .collect();
    let stderr: Vec<u8> = data
        .iter()
        .filter(|m| m[0] == 2)
        .flat_map(|m| m[1..].to_vec())
        .collect();
    assert_eq!(stdout, b"out\n");
    assert_eq!(stderr, b"err\n");
    let last = data.last().unwrap();
    assert_eq!(last[0], 3, "the status comes last, after all output");
    let status: serde_json::Value = serde_json::from_slice(&last[1..]).unwrap();
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "3");
}

#[tokio::test]
async fn exec_with_a_tty_resizes_and_succeeds() {
    let mut node = Node::start().await;
    node.add_web_pod(true);
    let path = "/exec/default/web/app?command=sh&stdin=true&stdout=true&stderr=true&tty=true";
    let mut socket = node.websocket(path, "v5.channel.k8s.io").await.unwrap();
    let mut process = session(&mut node).await;
    assert!(
        process.options.tty && !process.options.stderr,
        "a TTY has no stderr"
    );

    let size = br#"{"Width":100,"Height":30}"#;
    let mut message = vec![4u8];
    message.extend_from_slice(size);
    socket.send(Message::Binary(message.into())).await.unwrap();
    let mut got = vec![0u8; size.len()];
    process.resize.read_exact(&mut got).await.unwrap();
    assert_eq!(got, size);

    process.stdout.write_all(b"$ ").await.unwrap();
    drop(process.stdout);
    process.outcome.send(exec::success_status()).unwrap();
    let data = until_close(&mut socket).await;
    assert_eq!(data[0], b"\x01$ ");
    let status: serde_json::Value = serde_json::from_slice(&data[1][1..]).unwrap();
    assert_eq!(status["status"], "Success");
}

#[tokio::test]
async fn attach_uses_cri_attach() {
    let mut node = Node::start().await;
    node.add_web_pod(false);
    let mut socket = node
        .websocket(
            "/attach/default/web/app?stdout=true&stderr=true",
            "v4.channel.k8s.io",
        )
        .await
        .unwrap();
    let process = session(&mut node).await;
    assert!(process.url.ends_with("/attach/token"));
    assert!(node.runtime.fake.calls().contains(&"Attach"));
    process.outcome.send(exec::success_status()).unwrap();
    drop(process.stdout);
    drop(process.stderr);
    let data = until_close(&mut socket).await;
    assert_eq!(data.len(), 1);
    assert_eq!(data[0][0], 3);
}

#[tokio::test]
async fn a_client_that_leaves_closes_the_session() {
    let mut node = Node::start().await;
    node.add_web_pod(false);
    let socket = node.websocket(EXEC, "v5.channel.k8s.io").await.unwrap();
    let mut process = session(&mut node).await;
    drop(socket);
    // The node drops its end of the session: the process side sees stdin end.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), process.stdin.read_to_end(&mut rest))
        .await
        .expect("stdin closed in time")
        .unwrap();
}

#[tokio::test]
async fn refusals_come_before_any_runtime_call() {
    let node = Node::start().await;
    node.add_web_pod(false);
    // An unknown subprotocol is refused with a status, so kubectl falls back to SPDY.
    let err = node
        .websocket(EXEC, "base64.channel.k8s.io")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    // A plain GET is not a stream.
    let (status, body) = node.get(EXEC).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // No command.
    let (status, _) = node.get("/exec/default/web/app?stdout=true").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // No such container.
    let (status, _) = node
        .get("/exec/default/web/db?command=ls&stdout=true")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!node.runtime.fake.calls().contains(&"Exec"));
}

#[tokio::test]
async fn spdy_requests_pass_through_to_the_runtime() {
    let node = Node::start().await;
    node.add_web_pod(false);
    let mut tls = node.tls().await;
    let request = format!(
        "POST {EXEC} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
         X-Stream-Protocol-Version: v4.channel.k8s.io, v3.channel.k8s.io\r\n\
         Authorization: Bearer secret\r\nContent-Length: 0\r\n\r\n"
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut tls).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(
        lower.contains("x-stream-protocol-version: v4.channel.k8s.io"),
        "{head}"
    );
    assert!(lower.contains("upgrade: spdy/3.1"), "{head}");

    // The runtime's side echoes: bytes make the round trip unchanged.
    tls.write_all(b"\x80\x03\x00\x06frame").await.unwrap();
    let mut echoed = [0u8; 9];
    tls.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"\x80\x03\x00\x06frame");

    let seen = node.backend.seen();
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/exec/token");
    assert!(
        !seen[0].headers.contains_key("authorization"),
        "credentials stay behind"
    );
}

/// Reads an HTTP response head, byte by byte so nothing after it is consumed.
pub(crate) async fn read_head(io: &mut (impl AsyncReadExt + Unpin)) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        let n = tokio::time::timeout(Duration::from_secs(5), io.read(&mut byte))
            .await
            .expect("a response in time")
            .unwrap();
        assert_eq!(
            n,
            1,
            "connection closed inside the response head: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn exec_over_real_spdy_to_the_runtime() {
    let node = Node::start_spdy().await;
    node.add_web_pod(false);
    let mut socket = node.websocket(EXEC, "v5.channel.k8s.io").await.unwrap();
    socket
        .send(Message::Binary(Bytes::from_static(b"\x00line one\n")))
        .await
        .unwrap();
    socket
        .send(Message::Binary(Bytes::from_static(&[255, 0])))
        .await
        .unwrap();
    let data = until_close(&mut socket).await;
    let stdout: Vec<u8> = data
        .iter()
        .filter(|m| m[0] == 1)
        .flat_map(|m| m[1..].to_vec())
        .collect();
    let stderr: Vec<u8> = data
        .iter()
        .filter(|m| m[0] == 2)
        .flat_map(|m| m[1..].to_vec())
        .collect();
    assert_eq!(stdout, b"line one\n", "stdin's end reached the process");
    assert_eq!(stderr, b"warning\n");
    let last = data.last().unwrap();
    assert_eq!(last[0], 3);
    let status: serde_json::Value = serde_json::from_slice(&last[1..]).unwrap();
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "7");
    let seen = node.backend.seen();
    assert_eq!(
        seen[0].headers["x-stream-protocol-version"],
        "v4.channel.k8s.io"
    );
}
