//! Node ports for NodePort and LoadBalancer Services, and the health check node port of
//! LoadBalancers with `externalTrafficPolicy: Local`: drawn from the NodePort range, or
//! checked against it and against the ports other Services hold under the same protocol.

use std::collections::{BTreeMap, HashSet};

use closet_types::{BadValue, FieldError};
use serde_json::{Map, Value, json};

use super::alloc::{AllocError, InUse, Picker, ServiceNetwork};
use super::range::PortRange;

/// Whether node ports go with the type: NodePort always, LoadBalancer unless
/// `allocateLoadBalancerNodePorts: false` (then only requested ones are kept).
pub(crate) fn node_ports(
    net: &ServiceNetwork,
    in_use: &InUse,
    kind: &str,
    spec: &mut Map<String, Value>,
    pick: Picker<'_>,
    errors: &mut Vec<FieldError>,
) -> Result<(), AllocError> {
    let external = kind == "NodePort" || kind == "LoadBalancer";
    if kind == "LoadBalancer" {
        spec.entry("allocateLoadBalancerNodePorts")
            .or_insert(json!(true));
    } else if spec
        .get("allocateLoadBalancerNodePorts")
        .is_some_and(|v| !v.is_null())
    {
        let why = "may only be used when `type` is 'LoadBalancer'";
        errors.push(FieldError::forbidden(
            "spec.allocateLoadBalancerNodePorts",
            why,
        ));
    }
    let allocate_missing = kind == "NodePort"
        || (kind == "LoadBalancer"
            && spec
                .get("allocateLoadBalancerNodePorts")
                .and_then(Value::as_bool)
                != Some(false));
    let mut mine: HashSet<(String, i64)> = HashSet::new();
    // Ports of one number under several protocols (DNS on TCP and UDP) share a node port.
    let mut by_number: BTreeMap<i64, i64> = BTreeMap::new();
    let ports = spec.get_mut("ports").and_then(Value::as_array_mut);
    for (i, port) in ports.into_iter().flatten().enumerate() {
        let Some(port) = port.as_object_mut() else {
            continue;
        };
        let field = format!("spec.ports[{i}].nodePort");
        let proto = port
            .get("protocol")
            .and_then(Value::as_str)
            .unwrap_or("TCP")
            .to_string();
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        let requested = port.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        if requested == 0 {
            port.remove("nodePort");
        }
        if !external {
            if requested != 0 {
                let why = format!("may not be used when `type` is '{kind}'");
                errors.push(FieldError::forbidden(field, why));
            }
            continue;
        }
        if requested != 0 {
            if let Some(err) = port_problem(net, in_use, &mine, &proto, requested, &field) {
                errors.push(err);
                continue;
            }
            mine.insert((proto, requested));
            by_number.entry(number).or_insert(requested);
            continue;
        }
        if !allocate_missing {
            continue;
        }
        let shared = by_number.get(&number).copied().filter(|n| {
            !in_use.ports.contains(&(proto.clone(), *n)) && !mine.contains(&(proto.clone(), *n))
        });
        let chosen = match shared {
            Some(n) => n,
            None => free_port(net.node_ports, in_use, &mine, pick)
                .ok_or(AllocError::Full("nodePort"))?,
        };
        port.insert("nodePort".into(), json!(chosen));
        mine.insert((proto, chosen));
        by_number.entry(number).or_insert(chosen);
    }
    health_check_port(net, in_use, kind, spec, &mine, pick, errors)
}

/// `healthCheckNodePort`: LoadBalancer Services with `externalTrafficPolicy: Local` get one
/// (the nodes answer health checks there); no other Service may have one.
fn health_check_port(
    net: &ServiceNetwork,
    in_use: &InUse,
    kind: &str,
    spec: &mut Map<String, Value>,
    mine: &HashSet<(String, i64)>,
    pick: Picker<'_>,
    errors: &mut Vec<FieldError>,
) -> Result<(), AllocError> {
    let needs = kind == "LoadBalancer"
        && spec.get("externalTrafficPolicy").and_then(Value::as_str) == Some("Local");
    let requested = spec
        .get("healthCheckNodePort")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if !needs {
        if requested != 0 {
            let why = "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'";
            errors.push(FieldError::forbidden("spec.healthCheckNodePort", why));
        }
        spec.remove("healthCheckNodePort");
        return Ok(());
    }
    let port = if requested != 0 {
        if let Some(err) = port_problem(
            net,
            in_use,
            mine,
            "TCP",
            requested,
            "spec.healthCheckNodePort",
        ) {
            errors.push(err);
            return Ok(());
        }
        requested
    } else {
        free_port(net.node_ports, in_use, mine, pick).ok_or(AllocError::Full("nodePort"))?
    };
    spec.insert("healthCheckNodePort".into(), json!(port));
    Ok(())
}

/// What is wrong with asking for node port `port` under `proto`, if anything.
fn port_problem(
    net: &ServiceNetwork,
    in_use: &InUse,
    mine: &HashSet<(String, i64)>,
    proto: &str,
    port: i64,
    field: &str,
) -> Option<FieldError> {
    let key = (proto.to_string(), port);
    if mine.contains(&key) {
        return Some(FieldError::duplicate(field, BadValue::Int(port)));
    }
    if !net.node_ports.contains(port) {
        let why = format!(
            "provided port is not in the valid range. The range of valid ports is {}",
            net.node_ports
        );
        return Some(FieldError::invalid(field, BadValue::Int(port), why));
    }
    if in_use.ports.contains(&key) {
        return Some(FieldError::invalid(
            field,
            BadValue::Int(port),
            "provided port is already allocated",
        ));
    }
    None
}

/// A random port of the range that no Service uses under any protocol.
fn free_port(
    range: PortRange,
    in_use: &InUse,
    mine: &HashSet<(String, i64)>,
    pick: Picker<'_>,
) -> Option<i64> {
    let size = u64::from(range.size());
    let free = |offset: u64| {
        let port = i64::from(range.first) + i64::try_from(offset % size).unwrap_or(0);
        (!in_use.port_taken_by_any(port) && !mine.iter().any(|(_, p)| *p == port)).then_some(port)
    };
    for _ in 0..16 {
        if let Some(port) = free(pick(size)) {
            return Some(port);
        }
    }
    let start = pick(size);
    (0..size).find_map(|i| free(start + i))
}
