//! The client against a small streaming server built from this crate's server-role session,
//! behaving as kubelet's (and containerd's) streaming server does.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use super::*;
use crate::frame::{Frame, FrameDecoder, FrameEncoder};

const PATIENCE: Duration = Duration::from_secs(10);
const SWITCHING: &str = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
                         Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n";

async fn within<F: Future>(future: F) -> F::Output {
    timeout(PATIENCE, future).await.expect("timed out")
}

fn status_json(exit_code: i32) -> String {
    if exit_code == 0 {
        return r#"{"metadata":{},"status":"Success"}"#.to_owned();
    }
    format!(
        r#"{{"metadata":{{}},"status":"Failure","message":"command terminated with non-zero exit code: exit code {exit_code}","reason":"NonZeroExitCode","details":{{"causes":[{{"reason":"ExitCode","message":"{exit_code}"}}]}}}}"#
    )
}

/// Reads an HTTP request head off `tcp`.
async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = BytesMut::new();
    while !head.ends_with(b"\r\n\r\n") {
        let byte = tcp.read_u8().await.unwrap();
        head.extend_from_slice(&[byte]);
    }
    String::from_utf8(head.to_vec()).unwrap()
}

/// A one-connection server; `serve` gets the connection once the request head is read.
async fn server<F, Fut, R>(serve: F) -> (String, JoinHandle<(String, R)>)
where
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send,
    R: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/exec/tok3n", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let head = read_head(&mut tcp).await;
        (head, serve(tcp).await)
    });
    (url, task)
}

/// kubelet's exec flow: wait for the expected streams, run the "command" (echo stdin to
/// stdout, a line to stderr), close the outputs, write the status, reset everything.
async fn streaming_server(mut tcp: TcpStream, options: Options, exit_code: i32) -> Option<String> {
    tcp.write_all(SWITCHING.as_bytes()).await.unwrap();
    let session = Session::server(tcp);
    let expected = 1
        + usize::from(options.stdin)
        + usize::from(options.stdout)
        + usize::from(options.stderr && !options.tty)
        + usize::from(options.tty);
    let mut streams = HashMap::new();
    for _ in 0..expected {
        let stream = within(session.accept()).await.unwrap();
        let kind = stream.headers().get("streamtype").unwrap().to_owned();
        streams.insert(kind, stream);
    }
    let mut resized = None;
    if let Some(resize) = streams.get_mut("resize") {
        let mut line = String::new();
        BufReader::new(resize).read_line(&mut line).await.unwrap();
        resized = Some(line);
    }
    let mut stdout = streams.remove("stdout").unwrap();
    if let Some(line) = &resized {
        stdout
            .write_all(format!("resized to {line}").as_bytes())
            .await
            .unwrap();
    }
    match streams.get_mut("stdin") {
        // Ends only at stdin's EOF: the half-close kubectl cp relies on.
        Some(stdin) => drop(tokio::io::copy(stdin, &mut stdout).await.unwrap()),
        None => stdout.write_all(b"no stdin\n").await.unwrap(),
    }
    if let Some(stderr) = streams.get_mut("stderr") {
        stderr.write_all(b"warning\n").await.unwrap();
        stderr.shutdown().await.unwrap();
    }
    stdout.shutdown().await.unwrap();
    let error = streams.get_mut("error").unwrap();
    error
        .write_all(status_json(exit_code).as_bytes())
        .await
        .unwrap();
    error.reset();
    stdout.reset();
    for stream in streams.values() {
        stream.reset();
    }
    session.close();
    resized
}

async fn read_all(stream: Option<Stream>) -> String {
    let mut text = String::new();
    if let Some(mut stream) = stream {
        stream.read_to_string(&mut text).await.unwrap();
    }
    text
}

#[tokio::test]
async fn exec_echoes_stdin_until_eof_and_reports_success() {
    let options = Options {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let (url, server) = server(move |tcp| streaming_server(tcp, options, 0)).await;
    let command = within(connect(&url, options)).await.unwrap();
    assert!(command.resize.is_none());
    let mut stdin = command.stdin.unwrap();
    stdin.write_all(b"hello\n").await.unwrap();
    stdin.shutdown().await.unwrap();
    let (stdout, stderr) =
        within(async { tokio::join!(read_all(command.stdout), read_all(command.stderr)) }).await;
    assert_eq!(stdout, "hello\n");
    assert_eq!(stderr, "warning\n");
    let status = within(command.status.wait()).await.unwrap();
    assert_eq!(status.outcome, Outcome::Success);
    assert_eq!(status.raw, status_json(0).as_bytes());

    let (head, _) = server.await.unwrap();
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert_eq!(lines[0], "POST /exec/tok3n HTTP/1.1");
    for expected in [
        "Connection: Upgrade",
        "Upgrade: SPDY/3.1",
        "X-Stream-Protocol-Version: v4.channel.k8s.io",
        "Content-Length: 0",
    ] {
        assert!(
            lines.contains(&expected),
            "{expected} missing from {head:?}"
        );
    }
    assert!(lines.iter().any(|l| l.starts_with("Host: 127.0.0.1:")));
}

#[tokio::test]
async fn non_zero_exit_codes_come_back_with_the_raw_status() {
    let options = Options {
        stdin: false,
        stdout: true,
        stderr: true,
        tty: false,
    };
    let (url, server) = server(move |tcp| streaming_server(tcp, options, 3)).await;
    let command = within(connect(&url, options)).await.unwrap();
    assert!(command.stdin.is_none());
    let (stdout, _) =
        within(async { tokio::join!(read_all(command.stdout), read_all(command.stderr)) }).await;
    assert_eq!(stdout, "no stdin\n");
    let status = within(command.status.wait()).await.unwrap();
    assert_eq!(status.outcome, Outcome::ExitCode(3));
    assert_eq!(status.json(), status_json(3).as_bytes());
    server.await.unwrap();
}

#[tokio::test]
async fn tty_sessions_get_a_resize_stream_and_no_stderr() {
    let options = Options {
        stdin: true,
        stdout: true,
        stderr: true,
        tty: true,
    };
    let (url, server) = server(move |tcp| streaming_server(tcp, options, 0)).await;
    let mut command = within(connect(&url, options)).await.unwrap();
    assert!(
        command.stderr.is_none(),
        "a terminal has no separate stderr"
    );
    let mut resize = command.resize.take().unwrap();
    send_resize(
        &mut resize,
        TerminalSize {
            width: 100,
            height: 30,
        },
    )
    .await
    .unwrap();
    let mut stdin = command.stdin.take().unwrap();
    stdin.write_all(b"ls\n").await.unwrap();
    stdin.shutdown().await.unwrap();
    let stdout = within(read_all(command.stdout.take())).await;
    assert_eq!(stdout, "resized to {\"Width\":100,\"Height\":30}\nls\n");
    assert_eq!(
        within(command.status.wait()).await.unwrap().outcome,
        Outcome::Success
    );
    let (_, resized) = server.await.unwrap();
    assert_eq!(resized.as_deref(), Some("{\"Width\":100,\"Height\":30}\n"));
}

#[tokio::test]
async fn bytes_sent_right_after_the_101_reach_the_session() {
    let (url, server) = server(|mut tcp: TcpStream| async move {
        // The 101 and a PING in one write: the client must not lose the PING.
        let mut out = BytesMut::from(SWITCHING.as_bytes());
        FrameEncoder::new()
            .unwrap()
            .encode(&Frame::Ping { id: 2 }, &mut out)
            .unwrap();
        tcp.write_all(&out).await.unwrap();
        let mut decoder = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut seen = Vec::new();
        while seen.len() < 2 {
            match decoder.decode(&mut buf).unwrap() {
                Some(frame) => seen.push(frame),
                None => assert_ne!(tcp.read_buf(&mut buf).await.unwrap(), 0),
            }
        }
        seen
    })
    .await;
    let options = Options {
        stdout: true,
        ..Options::default()
    };
    let client = tokio::spawn(async move { connect(&url, options).await });
    let (_, seen) = within(server).await.unwrap();
    assert!(seen.contains(&Frame::Ping { id: 2 }), "{seen:?}");
    assert!(
        seen.iter().any(
            |f| matches!(f, Frame::SynStream(s) if s.headers.get("streamtype") == Some("error"))
        )
    );
    // The server hung up without replying, so setting up fails.
    assert!(within(client).await.unwrap().is_err());
}

#[tokio::test]
async fn refused_upgrades_report_status_and_body() {
    let (url, _server) = server(|mut tcp: TcpStream| async move {
        let response = "HTTP/1.1 404 Not Found\r\nContent-Length: 18\r\n\r\nno such exec token";
        tcp.write_all(response.as_bytes()).await.unwrap();
        tcp
    })
    .await;
    let options = Options {
        stdout: true,
        ..Options::default()
    };
    match within(connect(&url, options)).await {
        Err(RemoteCommandError::Rejected { status: 404, body }) => {
            assert_eq!(body, "no such exec token");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn the_server_must_choose_v4() {
    let (url, _server) = server(|mut tcp: TcpStream| async move {
        let response =
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n";
        tcp.write_all(response.as_bytes()).await.unwrap();
        tcp
    })
    .await;
    let options = Options {
        stdout: true,
        ..Options::default()
    };
    assert!(matches!(
        within(connect(&url, options)).await,
        Err(RemoteCommandError::ProtocolNotNegotiated(None))
    ));
}

#[tokio::test]
async fn a_connection_lost_before_the_status_is_an_error() {
    let options = Options {
        stdout: true,
        ..Options::default()
    };
    let (url, _server) = server(|mut tcp: TcpStream| async move {
        tcp.write_all(SWITCHING.as_bytes()).await.unwrap();
        // Answer both streams, then vanish without RST_STREAM or GOAWAY, like a crash.
        let mut encoder = FrameEncoder::new().unwrap();
        let mut decoder = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut replied = 0;
        while replied < 2 {
            match decoder.decode(&mut buf).unwrap() {
                Some(Frame::SynStream(syn)) => {
                    let mut out = BytesMut::new();
                    let reply = Frame::SynReply {
                        stream_id: syn.stream_id,
                        fin: false,
                        headers: crate::Headers::new(),
                    };
                    encoder.encode(&reply, &mut out).unwrap();
                    tcp.write_all(&out).await.unwrap();
                    replied += 1;
                }
                Some(_) => {}
                None => assert_ne!(tcp.read_buf(&mut buf).await.unwrap(), 0),
            }
        }
    })
    .await;
    let command = within(connect(&url, options)).await.unwrap();
    assert!(matches!(
        within(command.status.wait()).await,
        Err(RemoteCommandError::StatusLost(_))
    ));
}

#[tokio::test]
async fn options_and_urls_are_checked_before_dialling() {
    assert!(matches!(
        connect("http://127.0.0.1:1/exec/x", Options::default()).await,
        Err(RemoteCommandError::NoStreams)
    ));
    let options = Options {
        stdout: true,
        ..Options::default()
    };
    assert!(matches!(
        connect("https://127.0.0.1:1/exec/x", options).await,
        Err(RemoteCommandError::InvalidUrl { .. })
    ));
}

#[test]
fn resize_messages_match_client_go() {
    assert_eq!(
        TerminalSize {
            width: 80,
            height: 24
        }
        .to_json(),
        b"{\"Width\":80,\"Height\":24}\n"
    );
}
