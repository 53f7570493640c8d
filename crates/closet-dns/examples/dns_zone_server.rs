//! Serves a synthetic cluster zone for the DNS benchmark (`bench/dns_bench.sh`): `N`
//! ClusterIP Services `svc-<i>.bench.svc.cluster.local`, the same records as a hosts file
//! for dnsmasq, and a dnsperf query file naming them all.
//!
//! `dns_zone_server LISTEN N HOSTS_FILE QUERY_FILE`

#![allow(clippy::unwrap_used, reason = "a benchmark tool: fail loudly")]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use closet_dns::forward::{ForwardSettings, Forwarder};
use closet_dns::records::{ServiceInfo, ServiceKind};
use closet_dns::{Handler, Index, Listeners, Zone, ZoneSettings};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, listen, count, hosts, queries] = args.as_slice() else {
        eprintln!("usage: dns_zone_server LISTEN N HOSTS_FILE QUERY_FILE");
        std::process::exit(2);
    };
    let count: u32 = count.parse().unwrap();
    let services: Vec<ServiceInfo> = (0..count)
        .map(|i| ServiceInfo {
            namespace: "bench".into(),
            name: format!("svc-{i}"),
            kind: ServiceKind::ClusterIps(vec![address(i)]),
            ports: vec![],
            publish_not_ready: false,
        })
        .collect();
    let hosts_text: String = services
        .iter()
        .map(|s| match &s.kind {
            ServiceKind::ClusterIps(ips) => {
                format!("{} {}.bench.svc.cluster.local\n", ips[0], s.name)
            }
            _ => String::new(),
        })
        .collect();
    let query_text: String = services
        .iter()
        .map(|s| format!("{}.bench.svc.cluster.local A\n", s.name))
        .collect();
    std::fs::write(hosts, hosts_text).unwrap();
    std::fs::write(queries, query_text).unwrap();
    let zone = Zone::build(
        ZoneSettings::new("cluster.local", &["10.43.0.0/16"]),
        &services,
        &[],
        1,
    );
    let handler = Arc::new(Handler::new(
        Index::with_zone(zone),
        Arc::new(Forwarder::new(ForwardSettings::new(vec![]))),
    ));
    let listeners = Listeners::bind(listen.parse().unwrap()).await.unwrap();
    eprintln!("serving {count} services on {listen}");
    listeners.serve(handler, std::future::pending()).await;
}

/// The i-th address of 10.43.0.0/16 after the first 256.
fn address(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 43, 1, 0)) + i))
}
