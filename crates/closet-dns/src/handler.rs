//! One query packet in, one reply packet out (or none): parsing, the zone or the forwarder,
//! and encoding within the transport's size limit.
//!
//! Bad input never panics: a packet too short for a header or carrying a response is
//! dropped, one that does not parse is answered FORMERR, other opcodes NOTIMP.

use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Record};

use crate::answer::Outcome;
use crate::forward::{EDNS_PAYLOAD, Forwarder};
use crate::index::Index;

/// The largest UDP reply to a client that did not offer EDNS.
const PLAIN_UDP_LIMIT: usize = 512;
/// The largest reply over TCP.
const TCP_LIMIT: usize = 65535;

/// How the reply travels, which bounds its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: 512 bytes, or the client's EDNS size up to [`EDNS_PAYLOAD`].
    Udp,
    /// TCP: anything that fits the 2-byte length prefix.
    Tcp,
}

/// The work left after the synchronous part of a query: a question for the upstreams.
pub struct Pending {
    request: Message,
    /// CNAMEs from the zone that come before the upstream's answer.
    chain: Vec<Record>,
    question: Query,
    transport: Transport,
}

/// What the synchronous part of a query decided.
pub enum Step {
    /// Send this (or nothing).
    Reply(Option<Vec<u8>>),
    /// Ask the upstreams first.
    Forward(Box<Pending>),
}

/// Answers queries from the index, forwarding what is not the cluster's.
pub struct Handler {
    index: Index,
    forwarder: Arc<Forwarder>,
}

impl Handler {
    /// A handler over `index` and `forwarder`.
    pub fn new(index: Index, forwarder: Arc<Forwarder>) -> Handler {
        Handler { index, forwarder }
    }

    /// The whole answer to `packet`.
    pub async fn handle(&self, packet: &[u8], transport: Transport) -> Option<Vec<u8>> {
        match self.prepare(packet, transport) {
            Step::Reply(reply) => reply,
            Step::Forward(pending) => self.finish(pending).await,
        }
    }

    /// Everything that needs no upstream: cluster names, errors. Cheap, so the UDP loop runs
    /// it inline.
    pub fn prepare(&self, packet: &[u8], transport: Transport) -> Step {
        let request = match Message::from_vec(packet) {
            Ok(request) => request,
            Err(_) => return Step::Reply(format_error(packet)),
        };
        if request.metadata.message_type != MessageType::Query {
            return Step::Reply(None);
        }
        let code = if request.metadata.op_code != OpCode::Query {
            Some(ResponseCode::NotImp)
        } else if request.queries.len() != 1 {
            Some(ResponseCode::FormErr)
        } else {
            None
        };
        if let Some(code) = code {
            let reply = reply_to(&request, code);
            return Step::Reply(encode(reply, &request, transport));
        }
        let question = request.queries[0].clone();
        if question.query_class() != DNSClass::IN {
            let reply = reply_to(&request, ResponseCode::NotImp);
            return Step::Reply(encode(reply, &request, transport));
        }
        let zone = self.index.zone();
        let mut reply = reply_to(&request, ResponseCode::NoError);
        match zone.lookup(question.name(), question.query_type()) {
            Outcome::Records {
                answers,
                additionals,
            } => {
                reply.metadata.authoritative = true;
                reply.answers = answers;
                reply.additionals = additionals;
            }
            Outcome::NoData(soa) => {
                reply.metadata.authoritative = true;
                reply.authorities.push(soa);
            }
            Outcome::NxDomain(soa) => {
                reply.metadata.authoritative = true;
                reply.metadata.response_code = ResponseCode::NXDomain;
                reply.authorities.push(soa);
            }
            Outcome::NotReady => reply.metadata.response_code = ResponseCode::ServFail,
            Outcome::Alias { chain, target } => {
                let mut next = question.clone();
                next.set_name(target);
                return Step::Forward(Box::new(Pending {
                    request,
                    chain,
                    question: next,
                    transport,
                }));
            }
            Outcome::Forward => {
                return Step::Forward(Box::new(Pending {
                    request,
                    chain: Vec::new(),
                    question,
                    transport,
                }));
            }
        }
        Step::Reply(encode(reply, &request, transport))
    }

    /// Asks the upstreams and builds the reply.
    pub async fn finish(&self, pending: Box<Pending>) -> Option<Vec<u8>> {
        let Pending {
            request,
            chain,
            question,
            transport,
        } = *pending;
        let mut reply = reply_to(&request, ResponseCode::NoError);
        if self.forwarder.upstreams().is_empty() {
            reply.answers = chain;
            if reply.answers.is_empty() {
                reply.metadata.response_code = ResponseCode::ServFail;
            }
            return encode(reply, &request, transport);
        }
        let answer = self.forwarder.resolve(&question).await;
        if chain.is_empty() {
            reply.metadata.response_code = answer.rcode;
            reply.answers = answer.answers;
            reply.authorities = answer.authorities;
            reply.additionals = answer.additionals;
        } else {
            // The alias itself is the cluster's answer; whatever the upstream adds follows it.
            reply.metadata.authoritative = true;
            reply.answers = chain;
            if answer.rcode == ResponseCode::NoError {
                reply.answers.extend(answer.answers);
            }
        }
        encode(reply, &request, transport)
    }
}

/// An empty reply to `request` with `code`, RD copied, RA set, EDNS answered with EDNS.
fn reply_to(request: &Message, code: ResponseCode) -> Message {
    let mut reply = Message::response(request.metadata.id, request.metadata.op_code);
    reply.metadata = Metadata::response_from_request(&request.metadata);
    reply.metadata.recursion_available = true;
    reply.metadata.response_code = code;
    reply.queries = request.queries.clone();
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        reply.set_edns(edns);
    }
    reply
}

/// FORMERR for a packet that does not parse, if it has a query's header at all.
fn format_error(packet: &[u8]) -> Option<Vec<u8>> {
    let [id_hi, id_lo, flags, ..] = *packet else {
        return None;
    };
    // Too short for a header, or a response (answering one could loop between servers).
    if packet.len() < 12 || flags & 0x80 != 0 {
        return None;
    }
    let reply = Message::error_msg(
        u16::from_be_bytes([id_hi, id_lo]),
        OpCode::Query,
        ResponseCode::FormErr,
    );
    reply.to_vec().ok()
}

/// `reply` as bytes, truncated (TC set, records dropped) when it exceeds what `transport`
/// and the client's EDNS size allow.
fn encode(reply: Message, request: &Message, transport: Transport) -> Option<Vec<u8>> {
    let limit = match transport {
        Transport::Tcp => TCP_LIMIT,
        Transport::Udp => request.edns.as_ref().map_or(PLAIN_UDP_LIMIT, |edns| {
            usize::from(edns.max_payload().min(EDNS_PAYLOAD)).max(PLAIN_UDP_LIMIT)
        }),
    };
    let bytes = reply.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    reply.truncate().to_vec().ok()
}

#[cfg(test)]
mod tests;
