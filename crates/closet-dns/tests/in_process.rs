//! The DNS server against a real apiserver (in process, no socket to it): objects created
//! through the API become answers on a UDP/TCP server on 127.0.0.1, and outside names go to
//! a fake upstream on 127.0.0.1 that this test runs.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use closet_dns::forward::{ForwardSettings, Forwarder};
use closet_dns::{Handler, Index, Listeners, ZoneSettings};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, PostParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

async fn client(dir: &tempfile::TempDir) -> kube::Client {
    closet_testkit::client(dir.path()).await
}

/// The address upstream answers give every outside name.
const UPSTREAM_ADDRESS: [u8; 4] = [192, 0, 2, 7];

/// A fake upstream resolver on 127.0.0.1: `missing.example.test` is NXDOMAIN (with an SOA),
/// `big.example.test` is truncated over UDP and whole over TCP (40 addresses), every other
/// name is 192.0.2.7. Counts the UDP queries it saw.
async fn fake_upstream() -> (SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    let tcp = TcpListener::bind(addr).await.unwrap();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let (len, peer) = udp.recv_from(&mut buf).await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let reply = upstream_reply(&buf[..len], false);
            udp.send_to(&reply, peer).await.unwrap();
        }
    });
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = tcp.accept().await.unwrap();
            let len = stream.read_u16().await.unwrap();
            let mut packet = vec![0u8; usize::from(len)];
            stream.read_exact(&mut packet).await.unwrap();
            let reply = upstream_reply(&packet, true);
            let len = u16::try_from(reply.len()).unwrap();
            stream.write_all(&len.to_be_bytes()).await.unwrap();
            stream.write_all(&reply).await.unwrap();
        }
    });
    (addr, seen)
}

fn upstream_reply(packet: &[u8], tcp: bool) -> Vec<u8> {
    let request = Message::from_vec(packet).unwrap();
    let question = request.queries[0].clone();
    let mut reply = Message::response(request.metadata.id, OpCode::Query);
    reply.metadata.recursion_available = true;
    reply.add_query(question.clone());
    let qname = question.name().to_ascii();
    let a = |ip: [u8; 4]| {
        Record::from_rdata(
            question.name().clone(),
            300,
            RData::A(A::new(ip[0], ip[1], ip[2], ip[3])),
        )
    };
    match qname.as_str() {
        "missing.example.test." => {
            reply.metadata.response_code = ResponseCode::NXDomain;
            let zone = Name::from_ascii("example.test.").unwrap();
            reply.add_authority(Record::from_rdata(
                zone.clone(),
                60,
                RData::SOA(SOA::new(zone.clone(), zone, 1, 60, 60, 60, 20)),
            ));
        }
        "big.example.test." if !tcp => reply.metadata.truncation = true,
        "big.example.test." => {
            for i in 1..=40 {
                reply.add_answer(a([192, 0, 2, i]));
            }
        }
        _ if question.query_type() == RecordType::A => {
            reply.add_answer(a(UPSTREAM_ADDRESS));
        }
        _ => {}
    }
    reply.to_vec().unwrap()
}

async fn ask(server: SocketAddr, name: &str, qtype: RecordType) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server).await.unwrap();
    let mut message = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    socket.send(&message.to_vec().unwrap()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let len = tokio::time::timeout(Duration::from_secs(5), socket.recv(&mut buf))
        .await
        .expect("the DNS server answers within 5 s")
        .unwrap();
    let reply = Message::from_vec(&buf[..len]).unwrap();
    assert_eq!(reply.metadata.id, message.metadata.id);
    reply
}

fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Asks until `check` holds (watch events take a moment), returning the last reply.
async fn ask_until(
    server: SocketAddr,
    name: &str,
    qtype: RecordType,
    check: impl Fn(&Message) -> bool,
) -> Message {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = ask(server, name, qtype).await;
        if check(&reply) || tokio::time::Instant::now() >= deadline {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn addresses(reply: &Message) -> Vec<String> {
    let mut out: Vec<String> = reply
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

async fn create<K>(client: &kube::Client, ns: &str, json: serde_json::Value)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
{
    let object: K = serde_json::from_value(json).unwrap();
    Api::<K>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &object)
        .await
        .unwrap();
}

#[tokio::test]
async fn services_and_endpoints_become_answers_and_the_rest_is_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (upstream, upstream_queries) = fake_upstream().await;

    let index = Index::new(ZoneSettings::new(
        "cluster.local",
        &["10.43.0.0/16", "10.42.0.0/16"],
    ));
    let watch_index = index.clone();
    let watch_client = client.clone();
    tokio::spawn(async move {
        watch_index
            .watch(watch_client, std::future::pending())
            .await
    });
    let forwarder = Arc::new(Forwarder::new(ForwardSettings::new(vec![upstream])));
    let handler = Arc::new(Handler::new(index.clone(), forwarder));
    let listeners = Listeners::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let server = listeners.local_addr().unwrap();
    tokio::spawn(listeners.serve(handler, std::future::pending()));

    // A ClusterIP Service.
    create::<Service>(
        &client,
        "default",
        serde_json::json!({
            "metadata": {"name": "web"},
            "spec": {"clusterIP": "10.43.0.50",
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
        }),
    )
    .await;
    let reply = ask_until(
        server,
        "web.default.svc.cluster.local.",
        RecordType::A,
        |r| !r.answers.is_empty(),
    )
    .await;
    assert_eq!(addresses(&reply), ["10.43.0.50"]);
    assert!(reply.metadata.authoritative);

    // SRV for its named port, PTR for its address.
    let srv = ask(
        server,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
    )
    .await;
    let RData::SRV(record) = &srv.answers[0].data else {
        panic!("expected SRV, got {srv:?}")
    };
    assert_eq!(record.port, 80);
    assert_eq!(record.target.to_ascii(), "web.default.svc.cluster.local.");
    let ptr = ask(server, "50.0.43.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(
        ptr.answers[0].data,
        RData::PTR(hickory_proto::rr::rdata::PTR(
            Name::from_ascii("web.default.svc.cluster.local.").unwrap()
        ))
    );

    // A headless Service whose slice has two ready pods and one that is not.
    create::<Service>(
        &client,
        "default",
        serde_json::json!({
            "metadata": {"name": "db"},
            "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}
        }),
    )
    .await;
    create::<EndpointSlice>(
        &client,
        "default",
        serde_json::json!({
            "metadata": {"name": "db-abc", "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            "endpoints": [
                {"addresses": ["10.42.0.5"], "hostname": "db-0", "conditions": {"ready": true}},
                {"addresses": ["10.42.0.6"], "hostname": "db-1", "conditions": {"ready": true}},
                {"addresses": ["10.42.0.7"], "hostname": "db-2", "conditions": {"ready": false}}
            ]
        }),
    )
    .await;
    let reply = ask_until(
        server,
        "db.default.svc.cluster.local.",
        RecordType::A,
        |r| r.answers.len() == 2,
    )
    .await;
    assert_eq!(addresses(&reply), ["10.42.0.5", "10.42.0.6"]);
    let pod = ask(server, "db-1.db.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(addresses(&pod), ["10.42.0.6"]);
    let srv = ask(
        server,
        "_pg._tcp.db.default.svc.cluster.local.",
        RecordType::SRV,
    )
    .await;
    assert_eq!(srv.answers.len(), 2);
    assert_eq!(srv.additionals.len(), 2);
    let ptr = ask(server, "5.0.42.10.in-addr.arpa.", RecordType::PTR).await;
    assert_eq!(ptr.answers.len(), 1);

    // Unknown cluster names: NXDOMAIN with the SOA, never forwarded.
    let before = upstream_queries.load(std::sync::atomic::Ordering::SeqCst);
    let nx = ask(server, "nope.default.svc.cluster.local.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.authorities[0].record_type(), RecordType::SOA);
    let nodata = ask(server, "web.default.svc.cluster.local.", RecordType::AAAA).await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    assert_eq!(
        upstream_queries.load(std::sync::atomic::Ordering::SeqCst),
        before
    );

    // An ExternalName: the CNAME, then the upstream's answer for its target.
    create::<Service>(
        &client,
        "default",
        serde_json::json!({
            "metadata": {"name": "ext"},
            "spec": {"type": "ExternalName", "externalName": "db.example.test"}
        }),
    )
    .await;
    let reply = ask_until(
        server,
        "ext.default.svc.cluster.local.",
        RecordType::A,
        |r| !r.answers.is_empty(),
    )
    .await;
    assert_eq!(reply.answers[0].record_type(), RecordType::CNAME);
    assert_eq!(addresses(&reply), ["192.0.2.7"]);

    // Outside names: forwarded, then cached.
    let reply = ask(server, "www.example.test.", RecordType::A).await;
    assert_eq!(addresses(&reply), ["192.0.2.7"]);
    assert!(!reply.metadata.authoritative);
    let seen = upstream_queries.load(std::sync::atomic::Ordering::SeqCst);
    let again = ask(server, "www.example.test.", RecordType::A).await;
    assert_eq!(addresses(&again), ["192.0.2.7"]);
    assert_eq!(
        upstream_queries.load(std::sync::atomic::Ordering::SeqCst),
        seen,
        "the second answer comes from the cache"
    );
    let missing = ask(server, "missing.example.test.", RecordType::A).await;
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);

    // A truncated upstream answer is fetched again over TCP; the client, over UDP without
    // EDNS, gets TC and asks over TCP itself.
    let big = ask(server, "big.example.test.", RecordType::A).await;
    assert!(big.metadata.truncation);
    let over_tcp = ask_tcp(server, "big.example.test.").await;
    assert_eq!(over_tcp.answers.len(), 40);

    // Deleting the Service removes its name.
    Api::<Service>::namespaced(client.clone(), "default")
        .delete("web", &Default::default())
        .await
        .unwrap();
    let gone = ask_until(
        server,
        "web.default.svc.cluster.local.",
        RecordType::A,
        |r| r.metadata.response_code == ResponseCode::NXDomain,
    )
    .await;
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
}

async fn ask_tcp(server: SocketAddr, name: &str) -> Message {
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    let mut message = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let bytes = message.to_vec().unwrap();
    stream
        .write_all(&u16::try_from(bytes.len()).unwrap().to_be_bytes())
        .await
        .unwrap();
    stream.write_all(&bytes).await.unwrap();
    let len = stream.read_u16().await.unwrap();
    let mut reply = vec![0u8; usize::from(len)];
    stream.read_exact(&mut reply).await.unwrap();
    Message::from_vec(&reply).unwrap()
}

#[tokio::test]
async fn the_forwarder_moves_to_new_upstreams() {
    let mut settings = ForwardSettings::new(vec!["127.0.0.1:1".parse().unwrap()]);
    settings.timeout = Duration::from_millis(300);
    let forwarder = Forwarder::new(settings);
    let question = |name: &str| Query::query(Name::from_ascii(name).unwrap(), RecordType::A);
    let before = forwarder.resolve(&question("before.example.test.")).await;
    assert_eq!(before.rcode, ResponseCode::ServFail);

    let (upstream, seen) = fake_upstream().await;
    forwarder.set_upstreams(vec![upstream]);
    assert_eq!(*forwarder.upstreams(), [upstream]);
    let after = forwarder.resolve(&question("after.example.test.")).await;
    assert_eq!(after.rcode, ResponseCode::NoError);
    assert_eq!(after.answers.len(), 1);
    assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
}
