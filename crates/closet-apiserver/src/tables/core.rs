//! Core (`""` group) kinds other than pods, nodes, events and volumes: services, endpoints,
//! config maps, secrets, service accounts, namespaces, quotas and limit ranges.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde_json::Value;

use super::format::{age, arr_at, at, int_at, len_at, name, obj, opt_str, quantity, str_at};
use super::selector::format_labels;
use super::{AGE, Column, DEFAULT_COLUMNS, NAME, Printer, col, default_cells, wide};

/// The core printers of this file.
#[rustfmt::skip]
pub(super) static PRINTERS: &[Printer] = &[
    Printer::new("", "services", SERVICE, service_cells),
    Printer::new("", "endpoints", ENDPOINTS, endpoints_cells),
    Printer::new("", "configmaps", CONFIGMAP, configmap_cells),
    Printer::new("", "secrets", SECRET, secret_cells),
    // Since 1.34 upstream no longer counts referenced secrets: nothing fills that list any more.
    Printer::new("", "serviceaccounts", NAME_AGE, name_age),
    Printer::new("", "namespaces", NAMESPACE, namespace_cells),
    Printer::new("", "resourcequotas", QUOTA, quota_cells),
    // Upstream has no printer for limit ranges; they get the default columns.
    Printer::new("", "limitranges", DEFAULT_COLUMNS, default_cells),
];

#[rustfmt::skip]
static SERVICE: &[Column] = &[
    NAME,
    col("Type", "string", "How the service is exposed."),
    col("Cluster-IP", "string", "The first cluster IP of the service."),
    col("External-IP", "string", "External or load-balancer addresses."),
    col("Port(s)", "string", "Ports served, with node ports when allocated."),
    AGE,
    wide("Selector", "string", "Labels of the pods that back the service."),
];

#[rustfmt::skip]
static ENDPOINTS: &[Column] = &[
    NAME,
    col("Endpoints", "string", "Up to three ready addresses with ports."),
    AGE,
];

#[rustfmt::skip]
static CONFIGMAP: &[Column] = &[
    NAME,
    col("Data", "string", "Number of data and binaryData entries."),
    AGE,
];

#[rustfmt::skip]
static SECRET: &[Column] = &[
    NAME,
    col("Type", "string", "Type of the secret's data."),
    col("Data", "string", "Number of data entries."),
    AGE,
];

static NAME_AGE: &[Column] = &[NAME, AGE];

#[rustfmt::skip]
static NAMESPACE: &[Column] = &[
    NAME,
    col("Status", "string", "Phase of the namespace (Active or Terminating)."),
    AGE,
];

#[rustfmt::skip]
static QUOTA: &[Column] = &[
    NAME,
    col("Request", "string", "Used out of hard limits for everything but limits.*."),
    col("Limit", "string", "Used out of hard limits for limits.* resources."),
    AGE,
];

/// Name and Age only.
fn name_age(o: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(o), age(o, now)]
}

fn service_cells(svc: &Value, now: Timestamp) -> Vec<Value> {
    // Defaulting sets the type on every stored service; treat an undefaulted one the same way.
    let kind = opt_str(svc, &["spec", "type"]).unwrap_or("ClusterIP");
    let cluster_ip = match arr_at(svc, &["spec", "clusterIPs"]).first() {
        Some(ip) => ip.as_str().unwrap_or("").to_string(),
        // Objects written before dual-stack carry only `clusterIP`.
        None => match str_at(svc, &["spec", "clusterIP"]) {
            "" => "<none>".to_string(),
            ip => ip.to_string(),
        },
    };
    let ports: Vec<String> = arr_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            // Defaulting fills in TCP; an undefaulted port means the same.
            let proto = opt_str(p, &["protocol"]).unwrap_or("TCP");
            match int_at(p, &["nodePort"]) {
                n if n > 0 => format!("{}:{n}/{proto}", int_at(p, &["port"])),
                _ => format!("{}/{proto}", int_at(p, &["port"])),
            }
        })
        .collect();
    let ports = if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    };
    vec![
        name(svc),
        Value::from(kind),
        Value::from(cluster_ip),
        Value::from(external_ip(svc, kind)),
        Value::from(ports),
        age(svc, now),
        Value::from(format_labels(at(svc, &["spec", "selector"]))),
    ]
}

/// The External-IP cell. The server always renders the wide form, so load-balancer
/// addresses are never shortened here.
fn external_ip(svc: &Value, kind: &str) -> String {
    let external: Vec<String> = arr_at(svc, &["spec", "externalIPs"])
        .iter()
        .map(|ip| ip.as_str().unwrap_or("").to_string())
        .collect();
    match kind {
        "ClusterIP" | "NodePort" if external.is_empty() => "<none>".to_string(),
        "ClusterIP" | "NodePort" => external.join(","),
        "LoadBalancer" => {
            let mut all = lb_addresses(arr_at(svc, &["status", "loadBalancer", "ingress"]));
            if all.is_empty() && external.is_empty() {
                return "<pending>".to_string();
            }
            all.extend(external);
            all.join(",")
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// Load-balancer ingress points (IP, else hostname), de-duplicated and sorted as upstream's
/// string set does.
pub(super) fn lb_addresses(ingress: &[Value]) -> Vec<String> {
    let set: BTreeSet<&str> = ingress
        .iter()
        .filter_map(|i| match (str_at(i, &["ip"]), str_at(i, &["hostname"])) {
            ("", "") => None,
            ("", host) => Some(host),
            (ip, _) => Some(ip),
        })
        .collect();
    set.into_iter().map(str::to_string).collect()
}

fn endpoints_cells(ep: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(ep), Value::from(format_endpoints(ep)), age(ep, now)]
}

/// Up to three `ip:port` pairs, then "+ N more..."; `<none>` when there are no subsets.
fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let subsets = arr_at(ep, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut list = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addresses = arr_at(ss, &["addresses"]);
        let ports = arr_at(ss, &["ports"]);
        // Headless services may have addresses without ports.
        let port_numbers: Vec<Option<i64>> = if ports.is_empty() {
            vec![None]
        } else {
            ports.iter().map(|p| Some(int_at(p, &["port"]))).collect()
        };
        for port in port_numbers {
            count = count.saturating_add(addresses.len());
            for a in addresses {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                let ip = str_at(a, &["ip"]);
                list.push(match port {
                    Some(p) if ip.contains(':') => format!("[{ip}]:{p}"),
                    Some(p) => format!("{ip}:{p}"),
                    None => ip.to_string(),
                });
            }
        }
    }
    let joined = list.join(",");
    if more {
        format!("{joined} + {} more...", count.saturating_sub(MAX))
    } else {
        joined
    }
}

fn configmap_cells(cm: &Value, now: Timestamp) -> Vec<Value> {
    let data = len_at(cm, &["data"]).saturating_add(len_at(cm, &["binaryData"]));
    vec![name(cm), Value::from(data), age(cm, now)]
}

fn secret_cells(s: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(s),
        Value::from(str_at(s, &["type"])),
        Value::from(len_at(s, &["data"])),
        age(s, now),
    ]
}

fn namespace_cells(ns: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(ns),
        Value::from(str_at(ns, &["status", "phase"])),
        age(ns, now),
    ]
}

fn quota_cells(q: &Value, now: Timestamp) -> Vec<Value> {
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    if let Some(hard) = obj(q, &["status", "hard"]) {
        // Upstream sorts resource names as plain strings.
        let mut names: Vec<&String> = hard.keys().collect();
        names.sort();
        for res in names {
            let used = quantity(at(q, &["status", "used", res.as_str()]));
            let entry = format!("{res}: {used}/{}", quantity(hard.get(res.as_str())));
            let is_limit = res
                .split_once('.')
                .is_some_and(|(head, _)| head == "limits");
            if is_limit {
                limits.push(entry)
            } else {
                requests.push(entry)
            }
        }
    }
    vec![
        name(q),
        Value::from(requests.join(", ")),
        Value::from(limits.join(", ")),
        age(q, now),
    ]
}

#[cfg(test)]
pub(super) use tests::samples;
#[cfg(test)]
mod tests;
