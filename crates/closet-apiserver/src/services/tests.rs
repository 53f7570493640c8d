//! The allocation rules, without a store.

use serde_json::{Map, Value, json};

use super::alloc::{AllocError, InUse, ServiceNetwork, allocate};
use super::range::{PortRange, ServiceCidr};
use super::update::{carry_over, needs_allocation};

fn net(cidr: &str, ports: &str) -> ServiceNetwork {
    ServiceNetwork {
        cidr: ServiceCidr::parse(cidr).unwrap(),
        node_ports: PortRange::parse(ports).unwrap(),
    }
}

fn spec(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// Allocates with a picker that walks 0, 1, 2, ...
fn run(net: &ServiceNetwork, in_use: &InUse, s: &mut Map<String, Value>) -> Result<(), AllocError> {
    let mut next = 0u64;
    let mut pick = |n: u64| {
        next += 1;
        (next - 1) % n
    };
    allocate(net, in_use, s, &mut pick)
}

fn messages(err: AllocError) -> Vec<String> {
    match err {
        AllocError::Invalid(errors) => errors.iter().map(ToString::to_string).collect(),
        AllocError::Full(what) => vec![format!("full: {what}")],
    }
}

#[test]
fn cidr_math() {
    let c = ServiceCidr::parse("10.43.0.0/16").unwrap();
    assert_eq!(c.size(), 65536);
    assert_eq!(c.kubernetes_ip().to_string(), "10.43.0.1");
    assert_eq!(c.dns_ip().to_string(), "10.43.0.10");
    assert!(c.contains("10.43.255.255".parse().unwrap()));
    assert!(!c.contains("10.44.0.0".parse().unwrap()));
    assert!(!c.requestable("10.43.0.0".parse().unwrap()));
    assert!(!c.requestable("10.43.255.255".parse().unwrap()));
    assert!(c.requestable("10.43.0.1".parse().unwrap()));
    assert!(!c.assignable("10.43.0.1".parse().unwrap()));
    assert!(!c.assignable("10.43.0.10".parse().unwrap()));
    assert!(c.assignable("10.43.0.11".parse().unwrap()));
    assert_eq!(c.to_string(), "10.43.0.0/16");
    assert!(
        ServiceCidr::parse("10.43.0.1/16")
            .unwrap_err()
            .contains("10.43.0.0/16")
    );
    assert!(ServiceCidr::parse("10.43.0.0/29").is_err());
    assert!(ServiceCidr::parse("fd00::/108").is_err());
    assert!(ServiceCidr::parse("10.43.0.0").is_err());
    assert_eq!(ServiceCidr::parse("0.0.0.0/0").unwrap().size(), 1 << 32);
}

#[test]
fn port_ranges() {
    let r = PortRange::parse("30000-32767").unwrap();
    assert_eq!((r.first, r.last, r.size()), (30000, 32767, 2768));
    assert!(r.contains(30000) && r.contains(32767) && !r.contains(29999) && !r.contains(32768));
    assert_eq!(PortRange::parse("8080").unwrap().size(), 1);
    assert!(PortRange::parse("2-1").is_err());
    assert!(PortRange::parse("0-10").is_err());
    assert!(PortRange::parse("a-b").is_err());
    assert!(PortRange::parse("1-70000").is_err());
}

#[test]
fn cluster_ip_is_drawn_from_the_range_and_families_filled() {
    let n = net("10.43.0.0/16", "30000-32767");
    let mut s = spec(json!({"type": "ClusterIP", "ports": [{"port": 80, "protocol": "TCP"}]}));
    run(&n, &InUse::default(), &mut s).unwrap();
    let ip = s["clusterIP"].as_str().unwrap().to_string();
    assert!(n.cidr.assignable(ip.parse().unwrap()), "{ip}");
    assert_eq!(s["clusterIPs"], json!([ip]));
    assert_eq!(s["ipFamilies"], json!(["IPv4"]));
    assert_eq!(s["ipFamilyPolicy"], "SingleStack");
    assert!(s["ports"][0].get("nodePort").is_none());
}

#[test]
fn reserved_addresses_are_never_drawn_and_exhaustion_is_reported() {
    // A /28 has 16 addresses: network, broadcast, .1 and .10 are not drawn; 12 remain.
    let n = net("192.168.5.0/28", "30000-30001");
    let mut in_use = InUse::default();
    let mut got = Vec::new();
    for _ in 0..12 {
        let mut s = spec(json!({"type": "ClusterIP"}));
        run(&n, &in_use, &mut s).unwrap();
        in_use.add(&Value::Object(s.clone()));
        got.push(s["clusterIP"].as_str().unwrap().to_string());
    }
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 12);
    for reserved in ["192.168.5.0", "192.168.5.1", "192.168.5.10", "192.168.5.15"] {
        assert!(
            !got.contains(&reserved.to_string()),
            "{reserved} was handed out"
        );
    }
    let mut s = spec(json!({"type": "ClusterIP"}));
    assert_eq!(
        messages(run(&n, &in_use, &mut s).unwrap_err()),
        ["full: serviceIP"]
    );
    // The reserved addresses can still be asked for.
    let mut dns = spec(json!({"type": "ClusterIP", "clusterIP": "192.168.5.10"}));
    run(&n, &in_use, &mut dns).unwrap();
    assert_eq!(dns["clusterIPs"], json!(["192.168.5.10"]));
}

#[test]
fn requested_addresses_are_checked() {
    let n = net("10.43.0.0/16", "30000-32767");
    let mut in_use = InUse::default();
    in_use.add(&json!({"clusterIP": "10.43.0.50", "clusterIPs": ["10.43.0.50"]}));
    let taken = |ip: &str| {
        let mut s = spec(json!({"clusterIP": ip}));
        messages(run(&n, &in_use, &mut s).unwrap_err())
    };
    assert_eq!(
        taken("10.43.0.50"),
        [
            "spec.clusterIPs: Invalid value: [\"10.43.0.50\"]: failed to allocate IP 10.43.0.50: provided IP is already allocated"
        ]
    );
    assert_eq!(
        taken("10.99.0.5"),
        [
            "spec.clusterIPs: Invalid value: [\"10.99.0.5\"]: failed to allocate IP 10.99.0.5: the provided IP (10.99.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16"
        ]
    );
    assert!(
        taken("bogus")[0].starts_with(
            "spec.clusterIPs[0]: Invalid value: \"bogus\": must be a valid IP address"
        )
    );
    assert!(taken("fd00::5")[0].contains("IPv6"));
    let mut mismatch = spec(json!({"clusterIP": "10.43.0.7", "clusterIPs": ["10.43.0.8"]}));
    assert!(
        messages(run(&n, &in_use, &mut mismatch).unwrap_err())[0]
            .contains("must match `clusterIP`")
    );
    let mut v6 = spec(json!({"ipFamilies": ["IPv6"]}));
    assert!(messages(run(&n, &in_use, &mut v6).unwrap_err())[0].starts_with("spec.ipFamilies[0]"));
    let mut dual = spec(json!({"ipFamilyPolicy": "RequireDualStack"}));
    assert!(
        messages(run(&n, &in_use, &mut dual).unwrap_err())[0].starts_with("spec.ipFamilyPolicy")
    );
    let mut prefer = spec(json!({"ipFamilyPolicy": "PreferDualStack"}));
    run(&n, &in_use, &mut prefer).unwrap();
    assert_eq!(prefer["ipFamilies"], json!(["IPv4"]));
}

#[test]
fn headless_and_external_name() {
    let n = net("10.43.0.0/16", "30000-32767");
    let mut headless = spec(json!({"clusterIP": "None", "selector": {"app": "db"}}));
    run(&n, &InUse::default(), &mut headless).unwrap();
    assert_eq!(headless["clusterIPs"], json!(["None"]));
    assert_eq!(headless["ipFamilyPolicy"], "SingleStack");
    let mut bare = spec(json!({"clusterIP": "None"}));
    run(&n, &InUse::default(), &mut bare).unwrap();
    assert_eq!(bare["ipFamilyPolicy"], "RequireDualStack");
    assert_eq!(bare["ipFamilies"], json!(["IPv4", "IPv6"]));

    let mut ext =
        spec(json!({"type": "ExternalName", "externalName": "db.example.test", "clusterIP": ""}));
    run(&n, &InUse::default(), &mut ext).unwrap();
    assert!(ext.get("clusterIP").is_none() && ext.get("ipFamilies").is_none());
    let mut nameless = spec(json!({"type": "ExternalName"}));
    assert_eq!(
        messages(run(&n, &InUse::default(), &mut nameless).unwrap_err()),
        ["spec.externalName: Required value"]
    );
    let mut with_ip =
        spec(json!({"type": "ExternalName", "externalName": "x", "clusterIP": "10.43.0.9"}));
    assert!(
        messages(run(&n, &InUse::default(), &mut with_ip).unwrap_err())[0]
            .starts_with("spec.clusterIPs: Forbidden")
    );
}

#[test]
fn node_ports_are_drawn_checked_and_shared_across_protocols() {
    let n = net("10.43.0.0/16", "30000-30009");
    let mut in_use = InUse::default();
    in_use.add(&json!({"ports": [{"port": 1, "protocol": "TCP", "nodePort": 30000}]}));
    let mut s = spec(json!({"type": "NodePort", "ports": [
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        {"name": "dns-udp", "port": 53, "protocol": "UDP"},
        {"name": "web", "port": 80, "protocol": "TCP", "nodePort": 30005},
    ]}));
    run(&n, &in_use, &mut s).unwrap();
    let tcp = s["ports"][0]["nodePort"].as_i64().unwrap();
    assert_ne!(tcp, 30000);
    assert_ne!(tcp, 30005);
    assert_eq!(s["ports"][1]["nodePort"].as_i64(), Some(tcp));
    assert_eq!(s["ports"][2]["nodePort"], 30005);

    let bad = |ports: Value| {
        let mut s = spec(json!({"type": "NodePort", "ports": ports}));
        messages(run(&n, &in_use, &mut s).unwrap_err())
    };
    assert_eq!(
        bad(json!([{"port": 80, "protocol": "TCP", "nodePort": 30000}])),
        ["spec.ports[0].nodePort: Invalid value: 30000: provided port is already allocated"]
    );
    // The same number under another protocol is free.
    let mut udp = spec(
        json!({"type": "NodePort", "ports": [{"port": 80, "protocol": "UDP", "nodePort": 30000}]}),
    );
    run(&n, &in_use, &mut udp).unwrap();
    assert_eq!(
        bad(json!([{"port": 80, "protocol": "TCP", "nodePort": 31000}])),
        [
            "spec.ports[0].nodePort: Invalid value: 31000: provided port is not in the valid range. The range of valid ports is 30000-30009"
        ]
    );
    assert_eq!(
        bad(
            json!([{"port": 80, "protocol": "TCP", "nodePort": 30001}, {"port": 81, "protocol": "TCP", "nodePort": 30001}])
        ),
        ["spec.ports[1].nodePort: Duplicate value: 30001"]
    );
    let mut cluster_ip =
        spec(json!({"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30003}]}));
    assert!(
        messages(run(&n, &in_use, &mut cluster_ip).unwrap_err())[0]
            .starts_with("spec.ports[0].nodePort: Forbidden")
    );
}

#[test]
fn node_port_exhaustion_is_reported() {
    let n = net("10.43.0.0/16", "30000-30001");
    let mut in_use = InUse::default();
    in_use.add(&json!({"ports": [{"port": 1, "nodePort": 30000}, {"port": 2, "protocol": "UDP", "nodePort": 30001}]}));
    let mut s = spec(json!({"type": "NodePort", "ports": [{"port": 80, "protocol": "TCP"}]}));
    assert_eq!(
        messages(run(&n, &in_use, &mut s).unwrap_err()),
        ["full: nodePort"]
    );
}

#[test]
fn load_balancers_get_node_ports_and_health_checks_as_asked() {
    let n = net("10.43.0.0/16", "30000-32767");
    let mut lb = spec(
        json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 80, "protocol": "TCP"}]}),
    );
    run(&n, &InUse::default(), &mut lb).unwrap();
    assert_eq!(lb["allocateLoadBalancerNodePorts"], true);
    let node_port = lb["ports"][0]["nodePort"].as_i64().unwrap();
    let health = lb["healthCheckNodePort"].as_i64().unwrap();
    assert!(n.node_ports.contains(node_port) && n.node_ports.contains(health));
    assert_ne!(node_port, health);

    let mut bare = spec(
        json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false, "ports": [{"port": 80, "protocol": "TCP"}]}),
    );
    run(&n, &InUse::default(), &mut bare).unwrap();
    assert!(bare["ports"][0].get("nodePort").is_none());
    assert!(bare.get("healthCheckNodePort").is_none());

    let mut stray = spec(json!({"type": "NodePort", "healthCheckNodePort": 30100, "ports": []}));
    assert!(
        messages(run(&n, &InUse::default(), &mut stray).unwrap_err())[0]
            .starts_with("spec.healthCheckNodePort: Forbidden")
    );
}

#[test]
fn updates_keep_allocated_values_and_drop_what_the_new_type_does_not_use() {
    let old = spec(json!({
        "type": "NodePort", "clusterIP": "10.43.0.20", "clusterIPs": ["10.43.0.20"],
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "externalTrafficPolicy": "Cluster",
        "ports": [{"name": "web", "port": 80, "protocol": "TCP", "nodePort": 30080}],
    }));
    // A replace without the allocated values keeps them, and needs no allocation.
    let mut replaced = spec(
        json!({"type": "NodePort", "externalTrafficPolicy": "Cluster", "ports": [{"name": "web", "port": 80, "protocol": "TCP"}]}),
    );
    carry_over(&old, &mut replaced);
    assert_eq!(replaced["clusterIP"], "10.43.0.20");
    assert_eq!(replaced["ports"][0]["nodePort"], 30080);
    assert!(!needs_allocation(&old, &replaced));

    // To ClusterIP: the node ports and the external policy go.
    let mut to_cluster_ip = old.clone();
    to_cluster_ip.insert("type".into(), json!("ClusterIP"));
    carry_over(&old, &mut to_cluster_ip);
    assert!(to_cluster_ip["ports"][0].get("nodePort").is_none());
    assert!(to_cluster_ip.get("externalTrafficPolicy").is_none());
    assert_eq!(to_cluster_ip["clusterIP"], "10.43.0.20");

    // To ExternalName: the address goes.
    let mut to_external = old.clone();
    to_external.insert("type".into(), json!("ExternalName"));
    to_external.insert("externalName".into(), json!("example.test"));
    carry_over(&old, &mut to_external);
    assert!(to_external.get("clusterIP").is_none() && to_external.get("clusterIPs").is_none());
    assert!(needs_allocation(&old, &to_external));

    // A new port without a node port needs one.
    let mut more = old.clone();
    more["ports"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "tls", "port": 443, "protocol": "TCP"}));
    carry_over(&old, &mut more);
    assert!(more["ports"][1].get("nodePort").is_none());
    assert!(needs_allocation(&old, &more));
}
