#![allow(clippy::unwrap_used)]

use std::io::ErrorKind;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::timeout;

use super::*;
use crate::frame::{FrameDecoder, FrameEncoder, GoAwayStatus};

const PATIENCE: Duration = Duration::from_secs(10);

async fn within<F: Future>(future: F) -> F::Output {
    timeout(PATIENCE, future).await.expect("timed out")
}

fn pair(buffer: usize) -> (Session, Session) {
    let (a, b) = duplex(buffer);
    (Session::client(a), Session::server(b))
}

/// The other end of a connection, speaking raw frames, to see exactly what goes on the wire.
struct RawPeer {
    io: DuplexStream,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
    buf: BytesMut,
}

impl RawPeer {
    fn new(io: DuplexStream) -> Self {
        Self {
            io,
            encoder: FrameEncoder::new().unwrap(),
            decoder: FrameDecoder::new(),
            buf: BytesMut::new(),
        }
    }

    async fn send(&mut self, frame: Frame) {
        let mut out = BytesMut::new();
        self.encoder.encode(&frame, &mut out).unwrap();
        self.io.write_all(&out).await.unwrap();
    }

    /// The next frame, or `None` at end of file.
    async fn recv(&mut self) -> Option<Frame> {
        within(async {
            loop {
                if let Some(frame) = self.decoder.decode(&mut self.buf).unwrap() {
                    return Some(frame);
                }
                if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                    return None;
                }
            }
        })
        .await
    }
}

fn syn(stream_id: u32, headers: Headers) -> Frame {
    Frame::SynStream(SynStream {
        stream_id,
        associated_stream_id: 0,
        priority: 0,
        slot: 0,
        fin: false,
        unidirectional: false,
        headers,
    })
}

fn data(stream_id: u32, fin: bool, bytes: &'static [u8]) -> Frame {
    Frame::Data {
        stream_id,
        fin,
        data: Bytes::from_static(bytes),
    }
}

#[tokio::test]
async fn streams_carry_headers_data_and_fin_both_ways() {
    let (client, server) = pair(4096);
    let accepting = tokio::spawn(async move {
        let mut stream = server.accept().await.unwrap();
        assert_eq!(stream.headers().get("streamtype"), Some("stdin"));
        let mut got = String::new();
        stream.read_to_string(&mut got).await.unwrap();
        stream
            .write_all(format!("echo: {got}").as_bytes())
            .await
            .unwrap();
        stream.shutdown().await.unwrap();
        server
    });
    let mut stream = within(client.open(Headers::new().with("streamType", "stdin")))
        .await
        .unwrap();
    assert_eq!(stream.id(), 1);
    stream.write_all(b"hello").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut reply = String::new();
    within(stream.read_to_string(&mut reply)).await.unwrap();
    assert_eq!(reply, "echo: hello");
    assert!(
        stream.write_all(b"late").await.is_err(),
        "write after shutdown"
    );
    let _server = accepting.await.unwrap();
    let second = within(client.open(Headers::new())).await.unwrap();
    assert_eq!(second.id(), 3, "client ids are odd and increasing");
}

#[tokio::test]
async fn servers_open_even_streams_too() {
    let (client, server) = pair(4096);
    let opener = tokio::spawn(async move {
        let mut stream = server.open(Headers::new().with("x", "y")).await.unwrap();
        stream.write_all(b"from server").await.unwrap();
        stream.shutdown().await.unwrap();
        (server, stream)
    });
    let mut stream = within(client.accept()).await.unwrap();
    assert_eq!(stream.id(), 2);
    let mut got = Vec::new();
    within(stream.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"from server");
    let _keep = opener.await.unwrap();
}

#[tokio::test]
async fn large_transfers_both_ways_do_not_deadlock() {
    echo_large_transfer().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_transfers_survive_a_multi_threaded_runtime() {
    echo_large_transfer().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_streams_keep_their_bytes_apart() {
    let (client, server) = pair(2048);
    let echo = tokio::spawn(async move {
        let mut tasks = Vec::new();
        while let Some(stream) = server.accept().await {
            tasks.push(tokio::spawn(async move {
                let (mut read, mut write) = tokio::io::split(stream);
                tokio::io::copy(&mut read, &mut write).await.unwrap();
                write.shutdown().await.unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    let mut clients = Vec::new();
    for n in 0..20u8 {
        let client = client.clone();
        clients.push(tokio::spawn(async move {
            let stream = client
                .open(Headers::new().with("n", &n.to_string()))
                .await
                .unwrap();
            let (mut read, mut write) = tokio::io::split(stream);
            let payload = vec![n; 100_000 + usize::from(n)];
            let expected = payload.clone();
            let writer = tokio::spawn(async move {
                write.write_all(&payload).await.unwrap();
                write.shutdown().await.unwrap();
                write
            });
            let mut got = Vec::new();
            read.read_to_end(&mut got).await.unwrap();
            assert!(got == expected, "stream {n} got foreign or missing bytes");
            drop(read.unsplit(writer.await.unwrap()));
        }));
    }
    for task in clients {
        within(task).await.unwrap();
    }
    drop(client);
    within(echo).await.unwrap();
}

async fn echo_large_transfer() {
    let (client, server) = pair(1024);
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let expected = payload.clone();
    let echo = tokio::spawn(async move {
        let stream = server.accept().await.unwrap();
        let (mut read, mut write) = tokio::io::split(stream);
        tokio::io::copy(&mut read, &mut write).await.unwrap();
        write.shutdown().await.unwrap();
        server
    });
    let stream = within(client.open(Headers::new())).await.unwrap();
    let (mut read, mut write) = tokio::io::split(stream);
    let sender = tokio::spawn(async move {
        write.write_all(&payload).await.unwrap();
        write.shutdown().await.unwrap();
        write
    });
    let mut got = Vec::new();
    within(read.read_to_end(&mut got)).await.unwrap();
    assert!(got == expected, "echoed bytes differ");
    let _ = sender.await.unwrap();
    let _ = echo.await.unwrap();
}

#[tokio::test]
async fn reset_is_a_read_error_but_fin_then_reset_is_eof() {
    let (client, server) = pair(4096);
    let mut first = within(client.open(Headers::new())).await.unwrap();
    let mut second = within(client.open(Headers::new())).await.unwrap();
    let mut accepted_first = server.accept().await.unwrap();
    let mut accepted_second = server.accept().await.unwrap();

    accepted_first.write_all(b"partial").await.unwrap();
    accepted_first.reset();
    let mut got = Vec::new();
    let error = within(first.read_to_end(&mut got)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    assert_eq!(got, b"partial", "data before the reset is still delivered");
    assert!(first.write_all(b"x").await.is_err());

    // kubelet FINs stdout, writes the status, then resets every stream: still a clean EOF.
    accepted_second.write_all(b"all of it").await.unwrap();
    accepted_second.shutdown().await.unwrap();
    accepted_second.reset();
    let mut got = Vec::new();
    within(second.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"all of it");
}

#[tokio::test]
async fn open_waits_for_syn_reply_and_refusal_is_an_error() {
    let (a, b) = duplex(4096);
    let client = Session::client(a);
    let mut peer = RawPeer::new(b);
    let opening = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .open(Headers::new().with("streamtype", "error"))
                .await
        }
    });
    let Some(Frame::SynStream(first)) = peer.recv().await else {
        panic!("expected SYN_STREAM")
    };
    assert_eq!(first.stream_id, 1);
    assert_eq!(first.headers.get("streamtype"), Some("error"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!opening.is_finished(), "open must wait for the reply");
    peer.send(Frame::SynReply {
        stream_id: 1,
        fin: false,
        headers: Headers::new(),
    })
    .await;
    let _stream = within(opening).await.unwrap().unwrap();

    let refused = tokio::spawn({
        let client = client.clone();
        async move { client.open(Headers::new()).await }
    });
    let Some(Frame::SynStream(second)) = peer.recv().await else {
        panic!("expected SYN_STREAM")
    };
    peer.send(Frame::RstStream {
        stream_id: second.stream_id,
        status: RstStatus::REFUSED_STREAM,
    })
    .await;
    assert_eq!(
        within(refused).await.unwrap().unwrap_err(),
        SessionError::Refused(RstStatus::REFUSED_STREAM)
    );
}

#[tokio::test]
async fn incoming_streams_get_syn_reply_and_pings_are_echoed() {
    let (a, b) = duplex(4096);
    let server = Session::server(a);
    let mut peer = RawPeer::new(b);
    peer.send(syn(1, Headers::new().with("streamtype", "stdout")))
        .await;
    peer.send(Frame::Ping { id: 7 }).await;
    assert_eq!(
        peer.recv().await,
        Some(Frame::SynReply {
            stream_id: 1,
            fin: false,
            headers: Headers::new()
        })
    );
    assert_eq!(peer.recv().await, Some(Frame::Ping { id: 7 }));
    let stream = within(server.accept()).await.unwrap();
    assert_eq!(stream.headers().get("streamtype"), Some("stdout"));
    // Ids must increase and have the client's parity.
    peer.send(syn(1, Headers::new())).await;
    assert_eq!(
        peer.recv().await,
        Some(Frame::RstStream {
            stream_id: 1,
            status: RstStatus::PROTOCOL_ERROR
        })
    );
}

#[tokio::test]
async fn dropping_resets_unfinished_streams_only() {
    let (a, b) = duplex(4096);
    let server = Session::server(a);
    let mut peer = RawPeer::new(b);
    peer.send(syn(1, Headers::new())).await;
    peer.send(syn(3, Headers::new())).await;
    let finished = within(server.accept()).await.unwrap();
    let unfinished = within(server.accept()).await.unwrap();
    let mut finished = finished;
    finished.shutdown().await.unwrap();
    drop(finished);
    drop(unfinished);
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(peer.recv().await.unwrap());
    }
    assert_eq!(
        seen,
        vec![
            Frame::SynReply {
                stream_id: 1,
                fin: false,
                headers: Headers::new()
            },
            Frame::SynReply {
                stream_id: 3,
                fin: false,
                headers: Headers::new()
            },
            data(1, true, b""),
            Frame::RstStream {
                stream_id: 3,
                status: RstStatus::CANCEL
            },
        ]
    );
}

#[tokio::test]
async fn dropping_a_stream_the_peer_finished_sends_nothing() {
    let (a, b) = duplex(4096);
    let server = Session::server(a);
    let mut peer = RawPeer::new(b);
    peer.send(syn(1, Headers::new())).await;
    peer.send(data(1, true, b"bye")).await;
    let mut stream = within(server.accept()).await.unwrap();
    let mut got = Vec::new();
    within(stream.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"bye");
    drop(stream);
    peer.send(Frame::Ping { id: 11 }).await;
    assert!(matches!(peer.recv().await, Some(Frame::SynReply { .. })));
    assert_eq!(
        peer.recv().await,
        Some(Frame::Ping { id: 11 }),
        "no RST_STREAM before it"
    );
}

#[tokio::test]
async fn consuming_data_sends_nothing_back() {
    let (a, b) = duplex(1 << 20);
    let server = Session::server(a);
    let mut peer = RawPeer::new(b);
    peer.send(syn(1, Headers::new())).await;
    let chunk = Bytes::from(vec![7u8; 300 * 1024]);
    peer.send(Frame::Data {
        stream_id: 1,
        fin: false,
        data: chunk,
    })
    .await;
    let mut stream = within(server.accept()).await.unwrap();
    let mut got = vec![0u8; 300 * 1024];
    within(stream.read_exact(&mut got)).await.unwrap();
    peer.send(Frame::Ping { id: 9 }).await;
    assert!(matches!(peer.recv().await, Some(Frame::SynReply { .. })));
    // No WINDOW_UPDATE: a late one would make kubelet's closed socket reset the connection.
    assert_eq!(peer.recv().await, Some(Frame::Ping { id: 9 }));
}

#[tokio::test]
async fn dropping_every_handle_sends_goaway_and_closes_the_io() {
    let (a, b) = duplex(4096);
    let client = Session::client(a);
    let mut peer = RawPeer::new(b);
    let opening = tokio::spawn({
        let client = client.clone();
        async move { client.open(Headers::new()).await }
    });
    assert!(matches!(peer.recv().await, Some(Frame::SynStream(_))));
    peer.send(Frame::SynReply {
        stream_id: 1,
        fin: false,
        headers: Headers::new(),
    })
    .await;
    let mut stream = within(opening).await.unwrap().unwrap();
    drop(client);
    stream.write_all(b"still open").await.unwrap();
    assert_eq!(peer.recv().await, Some(data(1, false, b"still open")));
    stream.shutdown().await.unwrap();
    drop(stream);
    assert_eq!(peer.recv().await, Some(data(1, true, b"")));
    assert_eq!(
        peer.recv().await,
        Some(Frame::GoAway {
            last_good_stream_id: 0,
            status: GoAwayStatus::OK
        })
    );
    assert_eq!(peer.recv().await, None, "connection closed");
}

#[tokio::test]
async fn peer_closing_ends_the_session() {
    let (a, b) = duplex(4096);
    let server = Session::server(a);
    let mut peer = RawPeer::new(b);
    peer.send(syn(1, Headers::new())).await;
    let mut stream = within(server.accept()).await.unwrap();
    drop(peer);
    within(server.closed()).await;
    assert!(server.is_closed());
    assert_eq!(
        server.open(Headers::new()).await.unwrap_err(),
        SessionError::Closed
    );
    assert!(within(server.accept()).await.is_none());
    let error = within(stream.read_u8()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionAborted);
}

#[tokio::test]
async fn goaway_stops_new_streams_and_close_says_goodbye() {
    let (a, b) = duplex(4096);
    let client = Session::client(a);
    let mut peer = RawPeer::new(b);
    peer.send(Frame::GoAway {
        last_good_stream_id: 0,
        status: GoAwayStatus::OK,
    })
    .await;
    peer.send(Frame::Ping { id: 2 }).await;
    assert_eq!(
        peer.recv().await,
        Some(Frame::Ping { id: 2 }),
        "goaway was processed"
    );
    assert_eq!(
        client.open(Headers::new()).await.unwrap_err(),
        SessionError::GoingAway
    );
    client.close();
    assert_eq!(
        peer.recv().await,
        Some(Frame::GoAway {
            last_good_stream_id: 0,
            status: GoAwayStatus::OK
        })
    );
    assert_eq!(peer.recv().await, None);
    within(client.closed()).await;
}

#[tokio::test]
async fn protocol_errors_end_the_connection_with_goaway() {
    let (a, b) = duplex(4096);
    let server = Session::server(a);
    let mut peer = RawPeer::new(b);
    peer.io
        .write_all(&[0x80, 2, 0, 1, 0, 0, 0, 0])
        .await
        .unwrap();
    assert_eq!(
        peer.recv().await,
        Some(Frame::GoAway {
            last_good_stream_id: 0,
            status: GoAwayStatus::PROTOCOL_ERROR
        })
    );
    assert_eq!(peer.recv().await, None);
    within(server.closed()).await;
}
