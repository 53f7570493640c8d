//! Unit tests of the desired state.

use super::*;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

pub(crate) fn service(value: serde_json::Value) -> Service {
    serde_json::from_value(value).unwrap()
}

pub(crate) fn slice(value: serde_json::Value) -> EndpointSlice {
    serde_json::from_value(value).unwrap()
}

/// An endpoint entry: address, node, (ready, serving, terminating).
pub(crate) fn ep(ip: &str, node: &str, conditions: (bool, bool, bool)) -> serde_json::Value {
    json!({
        "addresses": [ip],
        "nodeName": node,
        "conditions": {"ready": conditions.0, "serving": conditions.1, "terminating": conditions.2},
        "targetRef": {"kind": "Pod", "name": format!("pod-{ip}"), "namespace": "ns"},
    })
}

const READY: (bool, bool, bool) = (true, true, false);
const TERMINATING: (bool, bool, bool) = (false, true, true);
const NOT_READY: (bool, bool, bool) = (false, false, false);

fn web() -> Service {
    service(json!({
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.43.0.60",
            "externalTrafficPolicy": "Local",
            "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
            "externalIPs": ["192.168.1.50"],
            "ports": [
                {"name": "http", "port": 80, "targetPort": "web", "nodePort": 30080},
                {"name": "dns", "port": 53, "protocol": "UDP"},
            ],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.10"}, {"hostname": "x"}]}},
    }))
}

#[test]
fn a_service_port_carries_addresses_policies_and_named_port_endpoints() {
    let slices = [
        // Pods whose named port "web" resolved to 8080 ...
        slice(json!({
            "metadata": {"name": "web-0", "namespace": "ns",
                "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [ep("10.42.0.5", "here", READY), ep("10.42.1.5", "there", READY),
                          ep("10.42.0.6", "here", NOT_READY)],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        })),
        // ... and one whose "web" is 9090: each endpoint keeps its own number.
        slice(json!({
            "metadata": {"name": "web-1", "namespace": "ns",
                "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [ep("10.42.1.9", "there", READY)],
            "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}],
        })),
        // Another service's slice with the same port name is not ours.
        slice(json!({
            "metadata": {"name": "other-0", "namespace": "ns",
                "labels": {"kubernetes.io/service-name": "other"}},
            "addressType": "IPv4",
            "endpoints": [ep("10.42.0.99", "here", READY)],
            "ports": [{"name": "http", "port": 1, "protocol": "TCP"}],
        })),
    ];
    let desired = desired([&web()], &slices, "here");
    assert_eq!(desired.ports.len(), 2);
    let http = desired
        .ports
        .iter()
        .find(|p| p.port_name == "http")
        .unwrap();
    assert_eq!(http.id(), "ns/web/tcp/http");
    assert_eq!(http.cluster_ip, Some("10.43.0.60".parse().unwrap()));
    assert_eq!(http.node_port, Some(30080));
    assert_eq!(
        http.external_ips,
        [
            "192.168.1.10".parse::<Ipv4Addr>().unwrap(),
            "192.168.1.50".parse().unwrap()
        ]
    );
    let e = |ip: &str, port| Endpoint {
        ip: ip.parse().unwrap(),
        port,
    };
    assert_eq!(
        http.cluster_endpoints,
        [
            e("10.42.0.5", 8080),
            e("10.42.1.5", 8080),
            e("10.42.1.9", 9090)
        ]
    );
    assert_eq!(http.local_endpoints, [e("10.42.0.5", 8080)]);
    assert!(http.external_local && !http.internal_local);
    assert_eq!(http.affinity_timeout, Some(60));
    // The UDP port has no slice port of its name: no endpoints, but still proxied (refused).
    let dns = desired.ports.iter().find(|p| p.port_name == "dns").unwrap();
    assert_eq!(dns.protocol, Protocol::Udp);
    assert!(dns.cluster_endpoints.is_empty());
}

#[test]
fn terminating_endpoints_serve_only_when_nothing_is_ready() {
    let svc = service(json!({
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"clusterIP": "10.43.0.61", "internalTrafficPolicy": "Local",
                 "ports": [{"port": 80}]},
    }));
    let make = |endpoints: Vec<serde_json::Value>| {
        slice(json!({
            "metadata": {"name": "app-0", "namespace": "ns",
                "labels": {"kubernetes.io/service-name": "app"}},
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"port": 80, "protocol": "TCP"}],
        }))
    };
    let ready_elsewhere = make(vec![
        ep("10.42.1.1", "there", READY),
        ep("10.42.0.2", "here", TERMINATING),
    ]);
    let d = desired([&svc], [&ready_elsewhere], "here");
    let p = &d.ports[0];
    assert_eq!(p.cluster_endpoints.len(), 1);
    assert_eq!(p.cluster_endpoints[0].ip.to_string(), "10.42.1.1");
    // Locally nothing is ready, so the local terminating one still serves.
    assert_eq!(p.local_endpoints[0].ip.to_string(), "10.42.0.2");
    assert!(p.internal_local);

    let draining = make(vec![
        ep("10.42.0.2", "here", TERMINATING),
        ep("10.42.0.3", "here", NOT_READY),
    ]);
    let d = desired([&svc], [&draining], "here");
    let ips: Vec<String> = d.ports[0]
        .cluster_endpoints
        .iter()
        .map(|e| e.ip.to_string())
        .collect();
    assert_eq!(ips, ["10.42.0.2"]);
}

#[test]
fn headless_external_name_and_unallocated_services_are_handled() {
    let headless = service(json!({
        "metadata": {"name": "db", "namespace": "ns"},
        "spec": {"clusterIP": "None", "ports": [{"port": 5432}]},
    }));
    let external = service(json!({
        "metadata": {"name": "ext", "namespace": "ns"},
        "spec": {"type": "ExternalName", "externalName": "example.invalid"},
    }));
    // No ClusterIP yet: still a NodePort; a ClusterIP Service's nodePort is ignored.
    let pending = service(json!({
        "metadata": {"name": "np", "namespace": "ns"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30001}]},
    }));
    let plain = service(json!({
        "metadata": {"name": "plain", "namespace": "ns"},
        "spec": {"clusterIP": "10.43.0.9", "ports": [{"port": 80, "nodePort": 30002}]},
    }));
    let d = desired([&headless, &external, &pending, &plain], [], "here");
    let names: Vec<&str> = d.ports.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["np", "plain"]);
    assert_eq!(d.ports[0].cluster_ip, None);
    assert_eq!(d.ports[0].node_port, Some(30001));
    assert_eq!(d.ports[1].node_port, None);
    assert_eq!(d.ports[1].affinity_timeout, None);
}

#[test]
fn default_affinity_timeout_is_three_hours() {
    let svc = service(json!({
        "metadata": {"name": "s", "namespace": "ns"},
        "spec": {"clusterIP": "10.43.0.7", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]},
    }));
    let d = desired([&svc], [], "here");
    assert_eq!(d.ports[0].affinity_timeout, Some(DEFAULT_AFFINITY_TIMEOUT));
}
