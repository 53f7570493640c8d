//! Every record kind the zone answers, from a zone built from hand-made Services and slices.

use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, CNAME, PTR, SRV};
use hickory_proto::rr::{Name, RData, RecordType};

use crate::answer::Outcome;
use crate::records::{EndpointInfo, PortInfo, ServiceInfo, ServiceKind, SliceInfo};
use crate::zone::{Zone, ZoneSettings, nth_address};

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap()
}

fn port(name: Option<&str>, protocol: &str, port: u16) -> PortInfo {
    PortInfo {
        name: name.map(str::to_owned),
        protocol: protocol.to_owned(),
        port,
    }
}

fn service(ns: &str, name: &str, kind: ServiceKind, ports: Vec<PortInfo>) -> ServiceInfo {
    ServiceInfo {
        namespace: ns.into(),
        name: name.into(),
        kind,
        ports,
        publish_not_ready: false,
    }
}

fn endpoint(addr: &str, hostname: Option<&str>, ready: bool) -> EndpointInfo {
    EndpointInfo {
        addresses: vec![ip(addr)],
        hostname: hostname.map(str::to_owned),
        ready,
    }
}

/// web (ClusterIP, two ports), db (headless, two ready pods with hostnames, one not ready),
/// raw (headless, endpoints without hostnames), ext (ExternalName), inner (ExternalName to
/// web), pending (no ClusterIP yet), eager (headless, publishNotReadyAddresses).
fn zone() -> Zone {
    let mut eager = service("apps", "eager", ServiceKind::Headless, vec![]);
    eager.publish_not_ready = true;
    let services = vec![
        service(
            "apps",
            "web",
            ServiceKind::ClusterIps(vec![ip("10.43.0.50")]),
            vec![port(Some("http"), "TCP", 80), port(None, "UDP", 9000)],
        ),
        service("apps", "db", ServiceKind::Headless, vec![]),
        service("apps", "raw", ServiceKind::Headless, vec![]),
        service(
            "apps",
            "ext",
            ServiceKind::ExternalName("db.example.test".into()),
            vec![],
        ),
        service(
            "other",
            "inner",
            ServiceKind::ExternalName("web.apps.svc.cluster.local".into()),
            vec![],
        ),
        service("apps", "pending", ServiceKind::ClusterIps(vec![]), vec![]),
        eager,
    ];
    let slices = vec![
        SliceInfo {
            namespace: "apps".into(),
            service: "db".into(),
            ports: vec![port(Some("pg"), "TCP", 5432)],
            endpoints: vec![
                endpoint("10.42.0.5", Some("db-0"), true),
                endpoint("10.42.0.6", Some("db-1"), true),
                endpoint("10.42.0.7", Some("db-2"), false),
            ],
        },
        SliceInfo {
            namespace: "apps".into(),
            service: "raw".into(),
            ports: vec![],
            endpoints: vec![endpoint("10.42.0.9", None, true)],
        },
        SliceInfo {
            namespace: "apps".into(),
            service: "eager".into(),
            ports: vec![],
            endpoints: vec![endpoint("10.42.0.11", None, false)],
        },
        // A slice of a Service that does not exist adds nothing.
        SliceInfo {
            namespace: "apps".into(),
            service: "gone".into(),
            ports: vec![],
            endpoints: vec![endpoint("10.42.0.12", None, true)],
        },
    ];
    Zone::build(
        ZoneSettings::new("cluster.local", &["10.43.0.0/16", "10.42.0.0/16"]),
        &services,
        &slices,
        7,
    )
}

fn answers(outcome: Outcome) -> Vec<RData> {
    match outcome {
        Outcome::Records { answers, .. } => answers.into_iter().map(|r| r.data).collect(),
        other => panic!("expected records, got {other:?}"),
    }
}

fn a(text: &str) -> RData {
    RData::A(A(text.parse().unwrap()))
}

#[test]
fn a_cluster_ip_service_answers_its_address() {
    let zone = zone();
    let out = zone.lookup(&name("web.apps.svc.cluster.local."), RecordType::A);
    assert_eq!(answers(out), [a("10.43.0.50")]);
    // Names are case-insensitive; the answer keeps the asker's spelling.
    let out = zone.lookup(&name("WEB.Apps.svc.cluster.local."), RecordType::A);
    let Outcome::Records { answers, .. } = out else {
        panic!()
    };
    assert_eq!(answers[0].name.to_ascii(), "WEB.Apps.svc.cluster.local.");
    assert_eq!(answers[0].ttl, 5);
}

#[test]
fn ipv4_only_services_have_no_aaaa_but_exist() {
    let out = zone().lookup(&name("web.apps.svc.cluster.local."), RecordType::AAAA);
    let Outcome::NoData(soa) = out else {
        panic!("expected NODATA, got {out:?}")
    };
    assert_eq!(soa.record_type(), RecordType::SOA);
    assert_eq!(soa.name.to_ascii(), "cluster.local.");
}

#[test]
fn headless_services_list_ready_endpoints_only() {
    let zone = zone();
    let out = zone.lookup(&name("db.apps.svc.cluster.local."), RecordType::A);
    assert_eq!(answers(out), [a("10.42.0.5"), a("10.42.0.6")]);
    let out = zone.lookup(&name("db-1.db.apps.svc.cluster.local."), RecordType::A);
    assert_eq!(answers(out), [a("10.42.0.6")]);
    // The pod that is not ready has no name either.
    assert!(matches!(
        zone.lookup(&name("db-2.db.apps.svc.cluster.local."), RecordType::A),
        Outcome::NxDomain(_)
    ));
    // Endpoints without a hostname are named by their address.
    let out = zone.lookup(
        &name("10-42-0-9.raw.apps.svc.cluster.local."),
        RecordType::A,
    );
    assert_eq!(answers(out), [a("10.42.0.9")]);
}

#[test]
fn publish_not_ready_addresses_lists_every_endpoint() {
    let out = zone().lookup(&name("eager.apps.svc.cluster.local."), RecordType::A);
    assert_eq!(answers(out), [a("10.42.0.11")]);
}

#[test]
fn named_ports_have_srv_records() {
    let zone = zone();
    let out = zone.lookup(
        &name("_http._tcp.web.apps.svc.cluster.local."),
        RecordType::SRV,
    );
    let Outcome::Records {
        answers,
        additionals,
    } = out
    else {
        panic!("expected records, got {out:?}")
    };
    assert_eq!(
        answers.iter().map(|r| r.data.clone()).collect::<Vec<_>>(),
        [RData::SRV(SRV::new(
            0,
            100,
            80,
            name("web.apps.svc.cluster.local.")
        ))]
    );
    assert_eq!(additionals[0].data, a("10.43.0.50"));
    // The unnamed UDP port has no `_<name>._udp` record, but the plain name lists it.
    let all = answers_of(&zone, "web.apps.svc.cluster.local.", RecordType::SRV);
    assert_eq!(all.len(), 2);
    assert!(matches!(
        zone.lookup(
            &name("_http._udp.web.apps.svc.cluster.local."),
            RecordType::SRV
        ),
        Outcome::NxDomain(_)
    ));
    // `_tcp.web...` is an empty non-terminal: it exists.
    assert!(matches!(
        zone.lookup(&name("_tcp.web.apps.svc.cluster.local."), RecordType::SRV),
        Outcome::NxDomain(_) | Outcome::NoData(_)
    ));
}

fn answers_of(zone: &Zone, qname: &str, qtype: RecordType) -> Vec<RData> {
    answers(zone.lookup(&name(qname), qtype))
}

#[test]
fn headless_srv_records_name_each_endpoint() {
    let zone = zone();
    let out = zone.lookup(
        &name("_pg._tcp.db.apps.svc.cluster.local."),
        RecordType::SRV,
    );
    let Outcome::Records {
        answers,
        additionals,
    } = out
    else {
        panic!("expected records, got {out:?}")
    };
    let targets: Vec<(u16, String)> = answers
        .iter()
        .map(|r| match &r.data {
            RData::SRV(srv) => (srv.port, srv.target.to_ascii()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        targets,
        [
            (5432, "db-0.db.apps.svc.cluster.local.".to_owned()),
            (5432, "db-1.db.apps.svc.cluster.local.".to_owned())
        ]
    );
    assert_eq!(additionals.len(), 2);
}

#[test]
fn cluster_ips_and_endpoints_have_ptr_records() {
    let zone = zone();
    assert_eq!(
        answers_of(&zone, "50.0.43.10.in-addr.arpa.", RecordType::PTR),
        [RData::PTR(PTR(name("web.apps.svc.cluster.local.")))]
    );
    assert_eq!(
        answers_of(&zone, "5.0.42.10.in-addr.arpa.", RecordType::PTR),
        [RData::PTR(PTR(name("db-0.db.apps.svc.cluster.local.")))]
    );
    // An unknown address in a cluster range is the cluster's to deny; others go upstream.
    assert!(matches!(
        zone.lookup(&name("99.0.43.10.in-addr.arpa."), RecordType::PTR),
        Outcome::NxDomain(_)
    ));
    assert_eq!(
        zone.lookup(&name("1.1.168.192.in-addr.arpa."), RecordType::PTR),
        Outcome::Forward
    );
}

#[test]
fn external_names_are_aliases() {
    let zone = zone();
    let out = zone.lookup(&name("ext.apps.svc.cluster.local."), RecordType::A);
    let Outcome::Alias { chain, target } = out else {
        panic!("expected an alias, got {out:?}")
    };
    assert_eq!(target.to_ascii(), "db.example.test.");
    assert_eq!(chain[0].data, RData::CNAME(CNAME(name("db.example.test."))));
    // Asked for the CNAME itself, it is the answer.
    assert_eq!(
        answers_of(&zone, "ext.apps.svc.cluster.local.", RecordType::CNAME),
        [RData::CNAME(CNAME(name("db.example.test.")))]
    );
    // An alias to a cluster name is followed inside the zone.
    let chained = answers_of(&zone, "inner.other.svc.cluster.local.", RecordType::A);
    assert_eq!(
        chained,
        [
            RData::CNAME(CNAME(name("web.apps.svc.cluster.local."))),
            a("10.43.0.50")
        ]
    );
}

#[test]
fn unknown_cluster_names_are_nxdomain_with_the_soa() {
    let zone = zone();
    for missing in [
        "nope.apps.svc.cluster.local.",
        "google.com.apps.svc.cluster.local.",
        "web.nowhere.svc.cluster.local.",
        "x.cluster.local.",
    ] {
        let out = zone.lookup(&name(missing), RecordType::A);
        let Outcome::NxDomain(soa) = out else {
            panic!("{missing}: expected NXDOMAIN, got {out:?}")
        };
        let RData::SOA(data) = &soa.data else {
            panic!()
        };
        assert_eq!(data.serial, 7);
        assert_eq!(data.minimum, 5);
    }
}

#[test]
fn known_names_without_the_type_are_nodata() {
    let zone = zone();
    for (qname, qtype) in [
        ("web.apps.svc.cluster.local.", RecordType::TXT),
        ("pending.apps.svc.cluster.local.", RecordType::A),
        ("apps.svc.cluster.local.", RecordType::A),
        ("svc.cluster.local.", RecordType::A),
        ("cluster.local.", RecordType::A),
    ] {
        let out = zone.lookup(&name(qname), qtype);
        assert!(
            matches!(out, Outcome::NoData(_)),
            "{qname} {qtype}: expected NODATA, got {out:?}"
        );
    }
    assert_eq!(
        zone.lookup(&name("cluster.local."), RecordType::SOA)
            .clone(),
        Outcome::Records {
            answers: vec![zone.soa("cluster.local")],
            additionals: vec![]
        }
    );
}

#[test]
fn pod_names_are_computed_from_the_address() {
    let zone = zone();
    assert_eq!(
        answers_of(&zone, "10-42-0-33.apps.pod.cluster.local.", RecordType::A),
        [a("10.42.0.33")]
    );
    assert!(matches!(
        zone.lookup(&name("not-an-ip.apps.pod.cluster.local."), RecordType::A),
        Outcome::NxDomain(_)
    ));
}

#[test]
fn other_names_are_forwarded_and_an_unsynced_zone_fails() {
    let zone = zone();
    assert_eq!(
        zone.lookup(&name("example.test."), RecordType::A),
        Outcome::Forward
    );
    // A name that merely ends in the same letters is not inside the domain.
    assert_eq!(
        zone.lookup(&name("notcluster.local."), RecordType::A),
        Outcome::Forward
    );
    let empty = Zone::not_ready(ZoneSettings::new("cluster.local", &[]));
    assert_eq!(
        empty.lookup(&name("web.apps.svc.cluster.local."), RecordType::A),
        Outcome::NotReady
    );
    assert_eq!(
        empty.lookup(&name("example.test."), RecordType::A),
        Outcome::Forward
    );
}

#[test]
fn the_dns_address_is_the_tenth_of_the_service_range() {
    assert_eq!(nth_address("10.43.0.0/16", 10), Some(ip("10.43.0.10")));
    assert_eq!(nth_address("10.96.0.0/12", 10), Some(ip("10.96.0.10")));
    assert_eq!(nth_address("10.0.0.0/29", 10), None);
    assert_eq!(nth_address("fd00::/108", 10), Some(ip("fd00::a")));
    assert_eq!(nth_address("garbage", 10), None);
}

#[test]
fn reverse_names_round_trip() {
    use crate::zone::{parse_reverse, reverse_key};
    for text in ["10.43.0.10", "fd00::1:2", "2001:db8::ff"] {
        let addr = ip(text);
        assert_eq!(parse_reverse(&reverse_key(addr)), Some(addr), "{text}");
    }
    assert_eq!(parse_reverse("1.2.3.in-addr.arpa"), None);
}
