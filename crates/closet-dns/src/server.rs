//! The listeners: UDP and TCP on one address.
//!
//! Cluster names are answered inline by the UDP receive loops (one per core, sharing the
//! socket); only forwarded queries become tasks, at most [`MAX_FORWARDS`] at once (beyond
//! that a query is dropped and the client's retry comes later). TCP connections are capped
//! at [`MAX_CONNECTIONS`] and closed after [`TCP_IDLE`] without a query.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::handler::{Handler, Step, Transport};

/// Forwarded queries in flight at most.
pub const MAX_FORWARDS: usize = 1024;
/// TCP connections open at most.
pub const MAX_CONNECTIONS: usize = 256;
/// How long a TCP connection may sit without a query.
pub const TCP_IDLE: Duration = Duration::from_secs(10);

/// Bound sockets, ready to serve.
pub struct Listeners {
    udp: Arc<UdpSocket>,
    tcp: TcpListener,
}

impl Listeners {
    /// Binds UDP and TCP on `addr` (port 0: the same free port for both).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Listeners> {
        let udp = UdpSocket::bind(addr).await?;
        let addr = udp.local_addr()?;
        let tcp = TcpListener::bind(addr).await?;
        Ok(Listeners {
            udp: Arc::new(udp),
            tcp,
        })
    }

    /// The address served.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.udp.local_addr()
    }

    /// Serves queries with `handler` until `shutdown` resolves.
    pub async fn serve(
        self,
        handler: Arc<Handler>,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        let mut tasks = JoinSet::new();
        let forwards = Arc::new(Semaphore::new(MAX_FORWARDS));
        let loops = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        for _ in 0..loops {
            tasks.spawn(udp_loop(
                self.udp.clone(),
                handler.clone(),
                forwards.clone(),
            ));
        }
        tasks.spawn(tcp_loop(self.tcp, handler));
        shutdown.await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

async fn udp_loop(socket: Arc<UdpSocket>, handler: Arc<Handler>, forwards: Arc<Semaphore>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(err) => {
                // ICMP errors from earlier replies surface here on some systems; keep going.
                tracing::debug!("cluster DNS UDP receive: {err}");
                continue;
            }
        };
        let Some(packet) = buf.get(..len) else {
            continue;
        };
        match handler.prepare(packet, Transport::Udp) {
            Step::Reply(Some(reply)) => {
                let _ = socket.send_to(&reply, peer).await;
            }
            Step::Reply(None) => {}
            Step::Forward(pending) => {
                let Ok(permit) = forwards.clone().try_acquire_owned() else {
                    continue;
                };
                let handler = handler.clone();
                let socket = socket.clone();
                tokio::spawn(async move {
                    if let Some(reply) = handler.finish(pending).await {
                        let _ = socket.send_to(&reply, peer).await;
                    }
                    drop(permit);
                });
            }
        }
    }
}

async fn tcp_loop(listener: TcpListener, handler: Arc<Handler>) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let _ = serve_connection(stream, &handler).await;
            drop(permit);
        });
    }
}

/// Length-prefixed queries on one connection, answered in order.
async fn serve_connection(mut stream: TcpStream, handler: &Handler) -> std::io::Result<()> {
    loop {
        let Ok(len) = tokio::time::timeout(TCP_IDLE, stream.read_u16()).await else {
            return Ok(());
        };
        let mut packet = vec![0u8; usize::from(len?)];
        tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut packet))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        let Some(reply) = handler.handle(&packet, Transport::Tcp).await else {
            continue;
        };
        let Ok(len) = u16::try_from(reply.len()) else {
            continue;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&reply);
        stream.write_all(&framed).await?;
    }
}
