//! Packets in, packets out: hostile input, error codes, truncation, SERVFAIL without
//! upstreams.

use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use super::*;
use crate::forward::{ForwardSettings, Forwarder};
use crate::records::{EndpointInfo, ServiceInfo, ServiceKind, SliceInfo};
use crate::zone::{Zone, ZoneSettings};

fn handler(upstreams: Vec<std::net::SocketAddr>) -> Handler {
    let services = vec![ServiceInfo {
        namespace: "apps".into(),
        name: "big".into(),
        kind: ServiceKind::Headless,
        ports: vec![],
        publish_not_ready: false,
    }];
    let slices = vec![SliceInfo {
        namespace: "apps".into(),
        service: "big".into(),
        ports: vec![],
        endpoints: (1..=100)
            .map(|i| EndpointInfo {
                addresses: vec![format!("10.42.1.{i}").parse().unwrap()],
                hostname: None,
                ready: true,
            })
            .collect(),
    }];
    let zone = Zone::build(
        ZoneSettings::new("cluster.local", &["10.43.0.0/16"]),
        &services,
        &slices,
        1,
    );
    let mut settings = ForwardSettings::new(upstreams);
    settings.timeout = Duration::from_millis(300);
    Handler::new(Index::with_zone(zone), Arc::new(Forwarder::new(settings)))
}

fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut message = Message::new(4242, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        message.set_edns(e);
    }
    message.to_vec().unwrap()
}

#[tokio::test]
async fn garbage_never_panics_and_parseable_headers_get_formerr() {
    let handler = handler(vec![]);
    assert_eq!(handler.handle(&[], Transport::Udp).await, None);
    assert_eq!(handler.handle(&[1, 2, 3], Transport::Udp).await, None);
    // A header that claims one question, then nothing.
    let packet = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let reply = handler.handle(&packet, Transport::Udp).await.unwrap();
    let reply = Message::from_vec(&reply).unwrap();
    assert_eq!(reply.metadata.id, 0xabcd);
    assert_eq!(reply.metadata.response_code, ResponseCode::FormErr);
    // A response is never answered.
    let mut response = packet;
    response[2] |= 0x80;
    assert_eq!(handler.handle(&response, Transport::Udp).await, None);
    // A stream of deterministic junk of every length.
    let mut state = 0x2545_f491_u32;
    for len in 0..600 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state.to_le_bytes()[0]
            })
            .collect();
        let _ = handler.handle(&bytes, Transport::Udp).await;
        let _ = handler.handle(&bytes, Transport::Tcp).await;
    }
}

#[tokio::test]
async fn other_opcodes_are_not_implemented_and_two_questions_are_formerr() {
    let handler = handler(vec![]);
    let mut notify = Message::new(1, MessageType::Query, OpCode::Notify);
    notify.add_query(Query::query(
        Name::from_ascii("cluster.local.").unwrap(),
        RecordType::SOA,
    ));
    let reply = handler
        .handle(&notify.to_vec().unwrap(), Transport::Udp)
        .await
        .unwrap();
    assert_eq!(
        Message::from_vec(&reply).unwrap().metadata.response_code,
        ResponseCode::NotImp
    );
    let mut two = Message::new(2, MessageType::Query, OpCode::Query);
    for n in ["a.cluster.local.", "b.cluster.local."] {
        two.add_query(Query::query(Name::from_ascii(n).unwrap(), RecordType::A));
    }
    let reply = handler
        .handle(&two.to_vec().unwrap(), Transport::Udp)
        .await
        .unwrap();
    assert_eq!(
        Message::from_vec(&reply).unwrap().metadata.response_code,
        ResponseCode::FormErr
    );
}

#[tokio::test]
async fn big_answers_are_truncated_over_udp_and_whole_over_tcp() {
    let handler = handler(vec![]);
    let name = "big.apps.svc.cluster.local.";
    let udp = handler
        .handle(&query(name, RecordType::A, None), Transport::Udp)
        .await
        .unwrap();
    assert!(udp.len() <= 512);
    let udp = Message::from_vec(&udp).unwrap();
    assert!(udp.metadata.truncation);
    assert_eq!(udp.metadata.id, 4242);

    let tcp = handler
        .handle(&query(name, RecordType::A, None), Transport::Tcp)
        .await
        .unwrap();
    let tcp = Message::from_vec(&tcp).unwrap();
    assert!(!tcp.metadata.truncation);
    assert!(tcp.metadata.authoritative);
    assert!(tcp.metadata.recursion_desired && tcp.metadata.recursion_available);
    assert_eq!(tcp.answers.len(), 100);

    // EDNS raises the UDP limit to 1232 bytes: 100 A records still do not fit (~1700).
    let edns = handler
        .handle(&query(name, RecordType::A, Some(4096)), Transport::Udp)
        .await
        .unwrap();
    assert!(edns.len() <= 1232);
    let edns = Message::from_vec(&edns).unwrap();
    assert!(edns.edns.is_some());
}

#[tokio::test]
async fn outside_names_without_working_upstreams_are_servfail() {
    for upstreams in [vec![], vec!["127.0.0.1:1".parse().unwrap()]] {
        let handler = handler(upstreams);
        let reply = handler
            .handle(&query("example.test.", RecordType::A, None), Transport::Udp)
            .await
            .unwrap();
        let reply = Message::from_vec(&reply).unwrap();
        assert_eq!(reply.metadata.response_code, ResponseCode::ServFail);
    }
}
