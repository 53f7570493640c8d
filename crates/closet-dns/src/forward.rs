//! Forwarding names outside the cluster to the upstream resolvers, through the cache.
//!
//! Each upstream is asked in turn over UDP (a fresh connected socket per query, so only that
//! server's reply is read, with a random ID that must match), again over TCP when the reply
//! is truncated. A SERVFAIL or REFUSED reply, a timeout or a garbled reply moves on to the
//! next server; when none answers, the client gets SERVFAIL.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::answer::key_of;
use crate::cache::{Answer, Cache, CacheLimits, Key};

/// The EDNS payload size advertised upstream (the DNS flag day 2020 value).
pub const EDNS_PAYLOAD: u16 = 1232;

/// Why one upstream gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// A socket operation failed.
    #[error("talking to upstream {server}")]
    Io {
        /// The upstream.
        server: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No reply in time.
    #[error("upstream {server} did not answer within {timeout:?}")]
    Timeout {
        /// The upstream.
        server: SocketAddr,
        /// How long it was given.
        timeout: Duration,
    },
    /// The reply was not a DNS response to our question.
    #[error("upstream {server} sent a reply that does not answer the query")]
    Garbled {
        /// The upstream.
        server: SocketAddr,
    },
}

/// How the forwarder is set up.
#[derive(Clone, Debug)]
pub struct ForwardSettings {
    /// The servers asked, in order.
    pub upstreams: Vec<SocketAddr>,
    /// How long one server gets for one attempt.
    pub timeout: Duration,
    /// Cache limits.
    pub cache: CacheLimits,
}

impl ForwardSettings {
    /// `upstreams` with a 2 s timeout and the default cache limits.
    pub fn new(upstreams: Vec<SocketAddr>) -> ForwardSettings {
        ForwardSettings {
            upstreams,
            timeout: Duration::from_secs(2),
            cache: CacheLimits::default(),
        }
    }
}

/// Resolves names outside the cluster through the upstreams.
pub struct Forwarder {
    /// The servers asked, in order; replaced whole when the host's resolvers change, and
    /// shared so that a query takes them without copying.
    upstreams: std::sync::RwLock<std::sync::Arc<[SocketAddr]>>,
    timeout: Duration,
    cache: Cache,
}

impl Forwarder {
    /// A forwarder with an empty cache.
    pub fn new(settings: ForwardSettings) -> Forwarder {
        Forwarder {
            upstreams: std::sync::RwLock::new(settings.upstreams.into()),
            timeout: settings.timeout,
            cache: Cache::new(settings.cache),
        }
    }

    /// The servers this forwarder asks.
    pub fn upstreams(&self) -> std::sync::Arc<[SocketAddr]> {
        self.upstreams
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Asks `upstreams` from now on (answers already cached stay until they expire).
    pub fn set_upstreams(&self, upstreams: Vec<SocketAddr>) {
        *self.upstreams.write().unwrap_or_else(|e| e.into_inner()) = upstreams.into();
    }

    /// The answer to `query`: from the cache, else from the first upstream that answers;
    /// SERVFAIL when none does.
    pub async fn resolve(&self, query: &Query) -> Answer {
        let key = Key {
            name: key_of(query.name()),
            qtype: query.query_type(),
            qclass: query.query_class(),
        };
        if let Some(hit) = self.cache.get(&key, Instant::now()) {
            return hit;
        }
        let mut last = None;
        for &server in self.upstreams().iter() {
            match exchange(server, query, self.timeout).await {
                Ok(reply) => {
                    let answer = Answer {
                        rcode: reply.metadata.response_code,
                        answers: reply.answers,
                        authorities: reply.authorities,
                        additionals: reply.additionals,
                    };
                    if matches!(answer.rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
                        self.cache.put(key, answer.clone(), Instant::now());
                        return answer;
                    }
                    last = Some(answer);
                }
                Err(err) => tracing::debug!("{err}: {:?}", std::error::Error::source(&err)),
            }
        }
        last.unwrap_or(Answer {
            rcode: ResponseCode::ServFail,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
        })
    }
}

/// Asks `server` about `query`: UDP first, TCP when the reply is truncated.
pub async fn exchange(
    server: SocketAddr,
    query: &Query,
    timeout: Duration,
) -> Result<Message, ForwardError> {
    let id: u16 = rand::random();
    let mut request = Message::new(id, MessageType::Query, OpCode::Query);
    request.metadata.recursion_desired = true;
    request.add_query(query.clone());
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    request.set_edns(edns);
    let bytes = request
        .to_vec()
        .map_err(|_| ForwardError::Garbled { server })?;
    let reply = tokio::time::timeout(timeout, udp(server, &bytes))
        .await
        .map_err(|_| ForwardError::Timeout { server, timeout })??;
    let reply = check(server, &request, &reply)?;
    if !reply.metadata.truncation {
        return Ok(reply);
    }
    let reply = tokio::time::timeout(timeout, tcp(server, &bytes))
        .await
        .map_err(|_| ForwardError::Timeout { server, timeout })??;
    check(server, &request, &reply)
}

/// Parses `reply` and checks that it answers `request`.
fn check(server: SocketAddr, request: &Message, reply: &[u8]) -> Result<Message, ForwardError> {
    let reply = Message::from_vec(reply).map_err(|_| ForwardError::Garbled { server })?;
    let matches = reply.metadata.id == request.metadata.id
        && reply.metadata.message_type == MessageType::Response
        && reply.queries.len() == request.queries.len()
        && reply.queries.iter().zip(&request.queries).all(|(a, b)| {
            key_of(a.name()) == key_of(b.name())
                && a.query_type() == b.query_type()
                && a.query_class() == b.query_class()
        });
    if matches {
        Ok(reply)
    } else {
        Err(ForwardError::Garbled { server })
    }
}

async fn udp(server: SocketAddr, bytes: &[u8]) -> Result<Vec<u8>, ForwardError> {
    let io = |source| ForwardError::Io { server, source };
    let local = match server.ip() {
        IpAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        IpAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    };
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    socket.connect(server).await.map_err(io)?;
    socket.send(bytes).await.map_err(io)?;
    let mut buf = vec![0u8; 65535];
    let len = socket.recv(&mut buf).await.map_err(io)?;
    buf.truncate(len);
    Ok(buf)
}

async fn tcp(server: SocketAddr, bytes: &[u8]) -> Result<Vec<u8>, ForwardError> {
    let io = |source| ForwardError::Io { server, source };
    let mut stream = TcpStream::connect(server).await.map_err(io)?;
    let len = u16::try_from(bytes.len()).map_err(|_| ForwardError::Garbled { server })?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(io)?;
    let len = stream.read_u16().await.map_err(io)?;
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await.map_err(io)?;
    Ok(buf)
}
