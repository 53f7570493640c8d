//! Unit tests of the nft script: what each service port turns into, and whether the
//! kernel accepts a rich sample (`nft -c`, which validates without applying).

use super::*;
use crate::model::desired;
use crate::model::tests::{ep, service, slice};
use serde_json::json;

fn settings() -> RenderSettings {
    RenderSettings {
        cluster_cidr: "10.42.0.0/16".parse().unwrap(),
        bridge_netfilter: true,
    }
}

/// The rules of chain `name`, or None when the script has no such chain.
fn chain(script: &str, name: &str) -> Option<Vec<String>> {
    let start = format!("\tchain {name} {{\n");
    let from = script.find(&start)? + start.len();
    let body = &script[from..];
    let end = body.find("\n\t}\n")?;
    Some(body[..end].lines().map(|l| l.trim().to_owned()).collect())
}

/// The elements of map `name`.
fn elements(script: &str, name: &str) -> Vec<String> {
    let start = format!("\tmap {name} {{\n");
    let Some(from) = script.find(&start) else {
        return Vec::new();
    };
    let body = &script[from + start.len()..];
    let body = &body[..body.find("\n\t}\n").unwrap()];
    match body.find("elements = { ") {
        Some(at) => body[at + 13..body.rfind(" }").unwrap()]
            .split(",\n")
            .map(|e| e.trim().to_owned())
            .collect(),
        None => Vec::new(),
    }
}

const READY: (bool, bool, bool) = (true, true, false);

/// A rich sample: a Cluster LoadBalancer with affinity, a Local NodePort, an
/// internal-Local service, a UDP service and one without endpoints.
fn sample() -> String {
    let services = [
        service(json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.60",
                     "externalTrafficPolicy": "Cluster", "sessionAffinity": "ClientIP",
                     "ports": [{"name": "http", "port": 80, "nodePort": 30080}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.10"}]}},
        })),
        service(json!({
            "metadata": {"name": "local", "namespace": "ns"},
            "spec": {"type": "NodePort", "clusterIP": "10.43.0.61",
                     "externalTrafficPolicy": "Local",
                     "ports": [{"port": 8080, "nodePort": 30081}]},
        })),
        service(json!({
            "metadata": {"name": "nodelocal", "namespace": "ns"},
            "spec": {"clusterIP": "10.43.0.62", "internalTrafficPolicy": "Local",
                     "ports": [{"port": 80}]},
        })),
        service(json!({
            "metadata": {"name": "dns", "namespace": "ns"},
            "spec": {"clusterIP": "10.43.0.10", "ports": [{"port": 53, "protocol": "UDP"}]},
        })),
        service(json!({
            "metadata": {"name": "empty", "namespace": "ns"},
            "spec": {"type": "NodePort", "clusterIP": "10.43.0.63",
                     "ports": [{"port": 80, "nodePort": 30082}]},
        })),
    ];
    let slices = [
        slice(json!({
            "metadata": {"name": "web-0", "namespace": "ns", "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [ep("10.42.0.5", "here", READY), ep("10.42.1.5", "there", READY)],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        })),
        slice(json!({
            "metadata": {"name": "local-0", "namespace": "ns", "labels": {"kubernetes.io/service-name": "local"}},
            "addressType": "IPv4",
            "endpoints": [ep("10.42.0.7", "here", READY), ep("10.42.1.7", "there", READY)],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        })),
        slice(json!({
            "metadata": {"name": "nodelocal-0", "namespace": "ns", "labels": {"kubernetes.io/service-name": "nodelocal"}},
            "addressType": "IPv4",
            "endpoints": [ep("10.42.1.8", "there", READY)],
            "ports": [{"port": 80, "protocol": "TCP"}],
        })),
        slice(json!({
            "metadata": {"name": "dns-0", "namespace": "ns", "labels": {"kubernetes.io/service-name": "dns"}},
            "addressType": "IPv4",
            "endpoints": [ep("10.42.0.9", "here", READY)],
            "ports": [{"port": 5353, "protocol": "UDP"}],
        })),
    ];
    render(&desired(&services, &slices, "here"), &settings())
}

#[test]
fn the_script_replaces_only_closets_table() {
    let script = sample();
    assert!(script.starts_with("add table ip closet\ndelete table ip closet\ntable ip closet {\n"));
    assert!(!script.contains("flush ruleset"));
    // Every table statement names closet's own table.
    for line in script.lines().filter(|l| l.contains("table")) {
        assert!(line.contains("ip closet"), "{line}");
    }
}

#[test]
fn cluster_ips_dnat_randomly_to_every_ready_endpoint() {
    let script = sample();
    assert!(
        elements(&script, "service-ips")
            .contains(&"10.43.0.60 . tcp . 80 : goto svc-ns/web/tcp/http".to_owned())
    );
    let svc = chain(&script, "svc-ns/web/tcp/http").unwrap();
    let pick = svc
        .iter()
        .find(|r| r.starts_with("numgen random mod 2 vmap"))
        .unwrap();
    assert!(
        pick.contains("goto ep-ns/web/tcp/http/10.42.0.5/8080"),
        "{pick}"
    );
    assert!(
        pick.contains("goto ep-ns/web/tcp/http/10.42.1.5/8080"),
        "{pick}"
    );
    // The node itself (outside the cluster CIDR) is masqueraded towards the ClusterIP.
    assert!(
        svc.contains(
            &"ip daddr 10.43.0.60 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade"
                .to_owned()
        )
    );
    let endpoint = chain(&script, "ep-ns/web/tcp/http/10.42.0.5/8080").unwrap();
    // Hairpin: a pod reaching itself is masqueraded.
    assert_eq!(endpoint[0], "ip saddr 10.42.0.5 jump mark-for-masquerade");
    assert_eq!(
        endpoint.last().unwrap(),
        "meta l4proto tcp dnat to 10.42.0.5:8080"
    );
    let udp = chain(&script, "ep-ns/dns/udp/53/10.42.0.9/5353").unwrap();
    assert_eq!(
        udp.last().unwrap(),
        "meta l4proto udp dnat to 10.42.0.9:5353"
    );
}

#[test]
fn session_affinity_keeps_per_endpoint_sets_with_timeouts() {
    let script = sample();
    for ip in ["10.42.0.5", "10.42.1.5"] {
        let set = format!("aff-ns/web/tcp/http/{ip}/8080");
        assert!(
            script.contains(&format!(
                "\tset {set} {{\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 10800s\n"
            )),
            "{script}"
        );
        let svc = chain(&script, "svc-ns/web/tcp/http").unwrap();
        let check = format!("ip saddr @{set} goto ep-ns/web/tcp/http/{ip}/8080");
        let check_at = svc.iter().position(|r| *r == check).unwrap();
        let pick_at = svc.iter().position(|r| r.starts_with("numgen")).unwrap();
        assert!(
            check_at < pick_at,
            "affinity is checked before the random pick"
        );
        let endpoint = chain(&script, &format!("ep-ns/web/tcp/http/{ip}/8080")).unwrap();
        assert!(endpoint.contains(&format!("update @{set} {{ ip saddr }}")));
    }
    // Services without affinity get no sets.
    assert!(!script.contains("aff-ns/local/"));
}

#[test]
fn external_traffic_cluster_masquerades_and_local_keeps_the_client_address() {
    let script = sample();
    // LoadBalancer ingress IP and NodePort of the Cluster-policy service.
    assert!(
        elements(&script, "service-ips")
            .contains(&"192.168.1.10 . tcp . 80 : goto ext-ns/web/tcp/http".to_owned())
    );
    assert!(
        elements(&script, "service-nodeports")
            .contains(&"tcp . 30080 : goto ext-ns/web/tcp/http".to_owned())
    );
    assert_eq!(
        chain(&script, "ext-ns/web/tcp/http").unwrap(),
        ["jump mark-for-masquerade", "goto svc-ns/web/tcp/http"]
    );
    // Local: outside clients go to this node's endpoint, unmasqueraded; only the node's own
    // traffic is marked.
    let local = chain(&script, "ext-ns/local/tcp/8080").unwrap();
    assert_eq!(
        local,
        [
            "ip saddr 10.42.0.0/16 goto svc-ns/local/tcp/8080",
            "fib saddr type local jump mark-for-masquerade",
            "fib saddr type local goto svc-ns/local/tcp/8080",
            "goto svl-ns/local/tcp/8080",
        ]
    );
    let svl = chain(&script, "svl-ns/local/tcp/8080").unwrap();
    let pick = svl.last().unwrap();
    assert!(pick.starts_with("numgen random mod 1 vmap"), "{pick}");
    assert!(
        pick.contains("10.42.0.7/8080") && !pick.contains("10.42.1.7"),
        "{pick}"
    );
}

#[test]
fn internal_local_uses_this_nodes_endpoints_and_drops_without_them() {
    let script = sample();
    assert!(
        elements(&script, "no-endpoint-services")
            .contains(&"10.43.0.62 . tcp . 80 : drop".to_owned())
    );
    assert!(chain(&script, "svl-ns/nodelocal/tcp/80").is_none());
}

#[test]
fn services_without_endpoints_are_refused() {
    let script = sample();
    let refused = elements(&script, "no-endpoint-services");
    assert!(refused.contains(&"10.43.0.63 . tcp . 80 : goto reject-chain".to_owned()));
    assert!(
        elements(&script, "no-endpoint-nodeports")
            .contains(&"tcp . 30082 : goto reject-chain".to_owned())
    );
    assert!(chain(&script, "svc-ns/empty/tcp/80").is_none());
    assert!(
        !elements(&script, "service-ips")
            .iter()
            .any(|e| e.contains("10.43.0.63"))
    );
    assert_eq!(
        chain(&script, "reject-chain").unwrap(),
        ["meta l4proto tcp reject with tcp reset", "reject"]
    );
    let filter = chain(&script, "filter-prerouting").unwrap();
    assert_eq!(filter[1], "ct state new jump endpoints-check");
}

#[test]
fn pod_egress_leaving_the_cluster_is_masqueraded() {
    let script = sample();
    assert_eq!(
        chain(&script, "pod-egress").unwrap(),
        ["ip saddr 10.42.0.0/16 ip daddr != 10.42.0.0/16 masquerade"]
    );
    let masq = chain(&script, "masquerading").unwrap();
    assert_eq!(masq[0], "meta mark & 0x4000 == 0 goto pod-egress");
}

#[test]
fn without_bridge_netfilter_all_service_traffic_is_masqueraded() {
    let svc = service(json!({
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {"clusterIP": "10.43.0.7", "ports": [{"port": 80}]},
    }));
    let sl = slice(json!({
        "metadata": {"name": "s-0", "namespace": "ns", "labels": {"kubernetes.io/service-name": "s"}},
        "addressType": "IPv4",
        "endpoints": [ep("10.42.0.5", "here", READY)],
        "ports": [{"port": 80, "protocol": "TCP"}],
    }));
    let script = render(
        &desired([&svc], [&sl], "here"),
        &RenderSettings {
            bridge_netfilter: false,
            ..settings()
        },
    );
    assert_eq!(
        chain(&script, "svc-ns/s/tcp/80").unwrap()[0],
        "ip daddr 10.43.0.7 tcp dport 80 jump mark-for-masquerade"
    );
}

#[test]
fn colliding_addresses_keep_the_first_service_only() {
    let a = service(json!({
        "metadata": {"name": "a", "namespace": "ns"},
        "spec": {"type": "NodePort", "clusterIP": "10.43.0.7", "ports": [{"port": 80, "nodePort": 30000}]},
    }));
    let b = service(json!({
        "metadata": {"name": "b", "namespace": "ns"},
        "spec": {"type": "NodePort", "clusterIP": "10.43.0.7", "ports": [{"port": 80, "nodePort": 30000}]},
    }));
    let script = render(&desired([&a, &b], [], "here"), &settings());
    assert_eq!(
        elements(&script, "no-endpoint-services"),
        ["10.43.0.7 . tcp . 80 : goto reject-chain"]
    );
    assert_eq!(
        elements(&script, "no-endpoint-nodeports"),
        ["tcp . 30000 : goto reject-chain"]
    );
}

/// `nft -c` asks the kernel to validate the transaction and aborts it: nothing changes.
#[tokio::test]
async fn nft_accepts_the_rendered_scripts() {
    let nft = crate::nft::Nft;
    let empty = render(&Desired::default(), &settings());
    match nft.check(&empty).await {
        Err(crate::nft::NftError::Missing) => {
            eprintln!("skipping: `nft` is not installed (package nftables)");
            return;
        }
        Err(crate::nft::NftError::Rejected(why)) if why.contains("Operation not permitted") => {
            eprintln!("skipping: `nft -c` needs CAP_NET_ADMIN: {why}");
            return;
        }
        other => other.unwrap(),
    }
    let script = sample();
    if let Err(err) = nft.check(&script).await {
        panic!("{err}\n{script}");
    }
    nft.check(&delete_script()).await.unwrap();
}
