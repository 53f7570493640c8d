//! Services of every type, endpoints, quotas and the small core kinds.

use serde_json::{Value, json};

use super::super::{cells, columns, test_now};

fn row(resource: &str, o: &Value) -> Vec<Value> {
    cells("", resource, o, test_now())
}

/// Samples for the module-wide robustness tests.
pub(in super::super) fn samples() -> Vec<(&'static str, &'static str, Value)> {
    let cm = small(
        "cfg",
        json!({"data": {"a": "1"}, "binaryData": {"b": "AA=="}}),
    );
    let secret = small(
        "tls",
        json!({"type": "kubernetes.io/tls", "data": {"a": "", "b": ""}}),
    );
    let sa = small("default", json!({"secrets": [{"name": "old-token"}]}));
    let ns = small("media", json!({"status": {"phase": "Active"}}));
    let limits = small(
        "limits",
        json!({"spec": {"limits": [{"type": "Container"}]}}),
    );
    vec![
        ("", "services", node_port_service()),
        ("", "services", lb_service()),
        ("", "endpoints", endpoints()),
        ("", "configmaps", cm),
        ("", "secrets", secret),
        ("", "serviceaccounts", sa),
        ("", "namespaces", ns),
        ("", "resourcequotas", quota()),
        ("", "limitranges", limits),
    ]
}

/// An object named `name` with the fields of `rest`.
fn small(name: &str, rest: Value) -> Value {
    let mut o = rest;
    o["metadata"] = json!({"name": name});
    o
}

fn svc(kind: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["type"] = json!(kind);
    json!({
        "metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:59:40Z"},
        "spec": spec
    })
}

fn node_port_service() -> Value {
    svc(
        "NodePort",
        json!({
            "clusterIPs": ["10.43.0.20"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
            "selector": {"app": "web"}
        }),
    )
}

fn lb_service() -> Value {
    let mut s = svc(
        "LoadBalancer",
        json!({
            "clusterIP": "10.43.0.30",
            "clusterIPs": ["10.43.0.30", "fd43::30"],
            "ports": [
                {"name": "http", "port": 80, "nodePort": 31080, "protocol": "TCP"},
                {"name": "dns", "port": 53, "nodePort": 31053, "protocol": "UDP"}
            ],
            "selector": {"app": "web", "tier": "front"}
        }),
    );
    s["status"] =
        json!({"loadBalancer": {"ingress": [{"ip": "192.168.1.241"}, {"ip": "192.168.1.240"}]}});
    s
}

fn endpoints() -> Value {
    json!({
        "metadata": {"name": "web"},
        "subsets": [{
            "addresses": [{"ip": "10.42.0.5"}, {"ip": "10.42.1.6"}],
            "ports": [{"name": "http", "port": 8080}, {"name": "metrics", "port": 9090}]
        }]
    })
}

fn quota() -> Value {
    json!({
        "metadata": {"name": "compute"},
        "status": {
            "hard": {"requests.cpu": "2", "pods": "10", "limits.memory": "4Gi", "limits.cpu": "4"},
            "used": {"requests.cpu": "500m", "pods": "3", "limits.memory": "1Gi"}
        }
    })
}

#[test]
fn services_of_each_type() {
    let cluster = svc(
        "ClusterIP",
        json!({"clusterIP": "10.43.0.10", "ports": [{"port": 443, "protocol": "TCP"}]}),
    );
    let want = [
        "web",
        "ClusterIP",
        "10.43.0.10",
        "<none>",
        "443/TCP",
        "20s",
        "<none>",
    ];
    assert_eq!(row("services", &cluster), want.map(Value::from));

    let r = row("services", &node_port_service());
    assert_eq!(
        r[1..5],
        ["NodePort", "10.43.0.20", "<none>", "80:30080/TCP"].map(Value::from)
    );
    assert_eq!(r[6], json!("app=web"));

    let r = row("services", &lb_service());
    let want = ["LoadBalancer", "10.43.0.30", "192.168.1.240,192.168.1.241"];
    assert_eq!(r[1..4], want.map(Value::from));
    assert_eq!(r[4], json!("80:31080/TCP,53:31053/UDP"));
    assert_eq!(r[6], json!("app=web,tier=front"));

    let external = svc("ExternalName", json!({"externalName": "nas.home.lan"}));
    let want = ["<none>", "nas.home.lan", "<none>"];
    assert_eq!(row("services", &external)[2..5], want.map(Value::from));

    let headless = svc(
        "ClusterIP",
        json!({"clusterIP": "None", "clusterIPs": ["None"], "externalIPs": ["192.168.1.50"]}),
    );
    assert_eq!(
        row("services", &headless)[2..4],
        ["None", "192.168.1.50"].map(Value::from)
    );
}

#[test]
fn load_balancer_pending_and_with_external_ips() {
    let mut s = lb_service();
    s["status"] = json!({"loadBalancer": {}});
    assert_eq!(row("services", &s)[3], json!("<pending>"));
    s["spec"]["externalIPs"] = json!(["192.168.1.99"]);
    assert_eq!(row("services", &s)[3], json!("192.168.1.99"));
    s["status"] = json!({"loadBalancer": {"ingress": [{"hostname": "lb.home.lan"}]}});
    assert_eq!(row("services", &s)[3], json!("lb.home.lan,192.168.1.99"));
}

#[test]
fn endpoints_rows() {
    assert_eq!(
        row("endpoints", &endpoints())[1],
        json!("10.42.0.5:8080,10.42.1.6:8080,10.42.0.5:9090 + 1 more...")
    );
    let v6 = json!({"subsets": [{"addresses": [{"ip": "fd00::5"}], "ports": [{"port": 53}]}]});
    assert_eq!(row("endpoints", &v6)[1], json!("[fd00::5]:53"));
    let headless = json!({"subsets": [{"addresses": [{"ip": "10.42.0.5"}]}]});
    assert_eq!(row("endpoints", &headless)[1], json!("10.42.0.5"));
    assert_eq!(
        row("endpoints", &json!({"subsets": []}))[1],
        json!("<none>")
    );
    let no_addresses = json!({"subsets": [{"ports": [{"port": 1}]}]});
    assert_eq!(row("endpoints", &no_addresses)[1], json!(""));
}

#[test]
fn small_core_kinds() {
    let s = samples();
    assert_eq!(row("configmaps", &s[3].2)[1], json!(2));
    assert_eq!(
        row("secrets", &s[4].2)[1..3],
        [json!("kubernetes.io/tls"), json!(2)]
    );
    // 1.34 dropped the SECRETS column: nothing maintains that list any more.
    assert_eq!(
        row("serviceaccounts", &s[5].2),
        [json!("default"), json!("<unknown>")]
    );
    let names: Vec<_> = columns("", "serviceaccounts")
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Name", "Age"]);
    assert_eq!(row("namespaces", &s[6].2)[1], json!("Active"));
    assert_eq!(
        row("limitranges", &s[8].2),
        [json!("limits"), json!("0001-01-01T00:00:00Z")]
    );
}

#[test]
fn quota_splits_requests_and_limits() {
    let r = row("resourcequotas", &quota());
    assert_eq!(r[1], json!("pods: 3/10, requests.cpu: 500m/2"));
    assert_eq!(r[2], json!("limits.cpu: 0/4, limits.memory: 1Gi/4Gi"));
    let names: Vec<_> = columns("", "resourcequotas")
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Name", "Request", "Limit", "Age"]);
}
