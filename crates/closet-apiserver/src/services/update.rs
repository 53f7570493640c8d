//! What an update of a Service keeps and drops before allocation runs, as upstream does it:
//! values the server allocated stay when the client leaves them out (a `kubectl replace`
//! of a manifest without `clusterIP` or `nodePort` keeps them), and values a new type has no
//! use for go when the client did not touch them (ClusterIP drops node ports, ExternalName
//! drops the address).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::alloc::service_type;

fn needs_cluster_ip(kind: &str) -> bool {
    kind != "ExternalName"
}

fn has_node_ports(kind: &str) -> bool {
    kind == "NodePort" || kind == "LoadBalancer"
}

fn needs_health_check(spec: &Map<String, Value>) -> bool {
    service_type(spec) == "LoadBalancer"
        && spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local")
}

fn is_set(spec: &Map<String, Value>, field: &str) -> bool {
    match spec.get(field) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Number(n)) => n.as_i64() != Some(0),
        Some(_) => true,
    }
}

fn node_port_set(spec: &Map<String, Value>) -> BTreeSet<i64> {
    ports(spec)
        .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
        .filter(|n| *n != 0)
        .collect()
}

fn ports(spec: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    spec.get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Rewrites `new` (the spec about to be stored) against `old` (the stored spec).
pub(crate) fn carry_over(old: &Map<String, Value>, new: &mut Map<String, Value>) {
    let (old_kind, new_kind) = (service_type(old), service_type(new));
    // Allocated values the client left out stay.
    if needs_cluster_ip(&old_kind)
        && needs_cluster_ip(&new_kind)
        && !is_set(new, "clusterIP")
        && !is_set(new, "clusterIPs")
    {
        for field in ["clusterIP", "clusterIPs"] {
            if let Some(v) = old.get(field) {
                new.insert(field.into(), v.clone());
            }
        }
    }
    if needs_cluster_ip(&new_kind) {
        for field in ["ipFamilies", "ipFamilyPolicy"] {
            if !is_set(new, field)
                && let Some(v) = old.get(field)
            {
                new.insert(field.into(), v.clone());
            }
        }
    }
    if has_node_ports(&old_kind) && has_node_ports(&new_kind) {
        let used: BTreeSet<i64> = node_port_set(old)
            .intersection(&node_port_set(new))
            .copied()
            .collect();
        let by_name: BTreeMap<String, i64> = ports(old)
            .filter_map(|p| {
                let name = p
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                Some((name, p.get("nodePort").and_then(Value::as_i64)?))
            })
            .collect();
        for port in new
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let Some(port) = port.as_object_mut() else {
                continue;
            };
            if port.get("nodePort").and_then(Value::as_i64).unwrap_or(0) != 0 {
                continue;
            }
            let name = port.get("name").and_then(Value::as_str).unwrap_or("");
            if let Some(n) = by_name.get(name).filter(|n| !used.contains(n)) {
                port.insert("nodePort".into(), Value::from(*n));
            }
        }
    }
    if needs_health_check(old)
        && needs_health_check(new)
        && !is_set(new, "healthCheckNodePort")
        && let Some(v) = old.get("healthCheckNodePort")
    {
        new.insert("healthCheckNodePort".into(), v.clone());
    }
    drop_type_dependent(old, new, &new_kind);
}

/// Fields the new type does not use, removed when the client left them as they were.
fn drop_type_dependent(old: &Map<String, Value>, new: &mut Map<String, Value>, kind: &str) {
    let same = |new: &Map<String, Value>, field: &str| old.get(field) == new.get(field);
    if !needs_cluster_ip(kind) {
        let same_ips =
            same(new, "clusterIP") && (same(new, "clusterIPs") || !is_set(new, "clusterIPs"));
        if same_ips {
            new.remove("clusterIP");
            new.remove("clusterIPs");
        }
        for field in ["ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"] {
            if same(new, field) {
                new.remove(field);
            }
        }
    }
    if !has_node_ports(kind) && node_port_set(old) == node_port_set(new) {
        for port in new
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(port) = port.as_object_mut() {
                port.remove("nodePort");
            }
        }
    }
    if !needs_health_check(new) && same(new, "healthCheckNodePort") {
        new.remove("healthCheckNodePort");
    }
    if kind != "LoadBalancer" {
        for field in ["allocateLoadBalancerNodePorts", "loadBalancerClass"] {
            if same(new, field) {
                new.remove(field);
            }
        }
    }
    if !has_node_ports(kind) && same(new, "externalTrafficPolicy") {
        new.remove("externalTrafficPolicy");
    }
}

/// Whether `new` must be checked against other Services or drawn from a range: something
/// allocation looks at changed, or a value the type needs is missing. Otherwise allocation
/// only re-checks the spec's own consistency.
pub(crate) fn needs_allocation(old: &Map<String, Value>, new: &Map<String, Value>) -> bool {
    const FIELDS: [&str; 8] = [
        "type",
        "clusterIP",
        "clusterIPs",
        "ipFamilies",
        "ipFamilyPolicy",
        "healthCheckNodePort",
        "externalTrafficPolicy",
        "allocateLoadBalancerNodePorts",
    ];
    if FIELDS.iter().any(|f| old.get(*f) != new.get(*f)) {
        return true;
    }
    let keys = |spec: &Map<String, Value>| -> Vec<(String, i64)> {
        let mut keys: Vec<_> = ports(spec).filter_map(port_key).collect();
        keys.sort();
        keys
    };
    let kind = service_type(new);
    let missing_ip = needs_cluster_ip(&kind) && !is_set(new, "clusterIP");
    let missing_port = has_node_ports(&kind)
        && ports(new).any(|p| p.get("nodePort").and_then(Value::as_i64).unwrap_or(0) == 0);
    missing_ip || missing_port || keys(old) != keys(new)
}

fn port_key(port: &Value) -> Option<(String, i64)> {
    let n = port
        .get("nodePort")
        .and_then(Value::as_i64)
        .filter(|n| *n != 0)?;
    let proto = port
        .get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP");
    Some((proto.to_string(), n))
}
