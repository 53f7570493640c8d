//! Asking the node-local cluster DNS (10.43.0.10:53, an address the agent makes local on
//! the host) for a Service's A record over UDP, again every [`POLL_EVERY`] until the answer
//! holds the expected ClusterIP.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

/// The cluster DNS address of the default service range.
pub(crate) const CLUSTER_DNS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(10, 43, 0, 10)), 53);
/// Time between two queries.
const POLL_EVERY: Duration = Duration::from_millis(5);
/// How long one query may wait for its reply.
const REPLY_TIMEOUT: Duration = Duration::from_millis(200);

/// Queries `name` until an A answer holds `expected`, for at most `give_up`; returns the
/// time from the call to that answer.
pub(crate) async fn first_answer(
    name: &str,
    expected: Ipv4Addr,
    give_up: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let name = Name::from_ascii(name).with_context(|| format!("the DNS name {name:?}"))?;
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await?;
    socket
        .connect(CLUSTER_DNS)
        .await
        .context("connecting to the cluster DNS")?;
    let mut buf = vec![0u8; 4096];
    let mut id: u16 = 1;
    loop {
        id = id.wrapping_add(1);
        let mut request = Message::new(id, MessageType::Query, OpCode::Query);
        request.metadata.recursion_desired = true;
        request.add_query(Query::query(name.clone(), RecordType::A));
        socket.send(&request.to_vec()?).await?;
        // Replies to earlier, timed-out queries carry other ids: skip them.
        let last;
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(received) = tokio::time::timeout(left, socket.recv(&mut buf)).await else {
                last = format!("no reply within {REPLY_TIMEOUT:?}");
                break;
            };
            let reply = Message::from_vec(&buf[..received?]).context("a garbled DNS reply")?;
            if reply.metadata.id != id {
                continue;
            }
            let addresses: Vec<Ipv4Addr> = reply
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(a.0),
                    _ => None,
                })
                .collect();
            if addresses.contains(&expected) {
                return Ok(started.elapsed());
            }
            last = format!("{:?} {addresses:?}", reply.metadata.response_code);
            break;
        }
        if started.elapsed() > give_up {
            bail!("{name} did not resolve to {expected} within {give_up:?}: {last}");
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
