//! Allocation of cluster IPs and node ports for one Service spec, with nothing but the
//! ranges and the set of values other Services hold: no store, no lock, no randomness of its
//! own (the caller passes the picker), so every rule is tested here directly.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use closet_types::FieldError;
use serde_json::{Map, Value, json};

use super::range::{PortRange, ServiceCidr};

/// What every other stored Service holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct InUse {
    /// Cluster IPs.
    pub(crate) ips: HashSet<Ipv4Addr>,
    /// Node ports (and health check node ports, as TCP) by protocol.
    pub(crate) ports: HashSet<(String, i64)>,
}

impl InUse {
    /// Records what `spec` holds.
    pub(crate) fn add(&mut self, spec: &Value) {
        for ip in ips_of(spec) {
            if let Ok(ip) = ip.parse() {
                self.ips.insert(ip);
            }
        }
        for port in spec
            .get("ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(n) = int(port, "nodePort").filter(|n| *n != 0) {
                self.ports.insert((protocol(port), n));
            }
        }
        if let Some(n) = int(spec, "healthCheckNodePort").filter(|n| *n != 0) {
            self.ports.insert(("TCP".into(), n));
        }
    }

    /// Whether any Service uses `port` under any protocol.
    pub(crate) fn port_taken_by_any(&self, port: i64) -> bool {
        self.ports.iter().any(|(_, p)| *p == port)
    }
}

/// The ranges Services draw from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServiceNetwork {
    /// Cluster IPs come from here.
    pub cidr: ServiceCidr,
    /// Node ports come from here.
    pub node_ports: PortRange,
}

/// Why a spec could not get its values.
#[derive(Debug)]
pub(crate) enum AllocError {
    /// The spec asks for something it may not have (a 422).
    Invalid(Vec<FieldError>),
    /// Nothing is left in a range; names what ran out (`serviceIP`, `nodePort`).
    Full(&'static str),
}

/// Picks a number below its argument; `rand` in the server, a fixed sequence in tests.
pub(crate) type Picker<'a> = &'a mut dyn FnMut(u64) -> u64;

const TYPES: [&str; 4] = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
const POLICIES: [&str; 3] = ["SingleStack", "PreferDualStack", "RequireDualStack"];

/// Fills in the spec's cluster IPs, IP family fields, node ports and health check node port,
/// checking what it asks for against `net` and `in_use` (which must not include this
/// Service's own values).
pub(crate) fn allocate(
    net: &ServiceNetwork,
    in_use: &InUse,
    spec: &mut Map<String, Value>,
    pick: Picker<'_>,
) -> Result<(), AllocError> {
    let kind = service_type(spec);
    let mut errors = Vec::new();
    if !TYPES.contains(&kind.as_str()) {
        errors.push(FieldError::not_supported(
            "spec.type",
            kind.as_str(),
            &TYPES,
        ));
        return Err(AllocError::Invalid(errors));
    }
    if kind == "ExternalName" {
        external_name_fields(spec, &mut errors);
    } else {
        cluster_ips(net, in_use, spec, pick, &mut errors)?;
    }
    super::node_ports::node_ports(net, in_use, &kind, spec, pick, &mut errors)?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AllocError::Invalid(errors))
    }
}

/// The Service's type (already defaulted to ClusterIP).
pub(crate) fn service_type(spec: &Map<String, Value>) -> String {
    spec.get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string()
}

/// An ExternalName Service is only a DNS name: no addresses, no IP families.
fn external_name_fields(spec: &mut Map<String, Value>, errors: &mut Vec<FieldError>) {
    let name = spec
        .get("externalName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.is_empty() {
        errors.push(FieldError::required("spec.externalName", ""));
    }
    let requested = requested_ips(spec);
    if !requested.is_empty() {
        let why = "may not be set for ExternalName services";
        errors.push(FieldError::forbidden("spec.clusterIPs", why));
    }
    spec.remove("clusterIP");
    spec.remove("clusterIPs");
    spec.remove("ipFamilies");
    spec.remove("ipFamilyPolicy");
}

/// `clusterIP` and `clusterIPs` together, as the requested list (`None` for headless).
fn requested_ips(spec: &Map<String, Value>) -> Vec<String> {
    let one = spec.get("clusterIP").and_then(Value::as_str).unwrap_or("");
    let list: Vec<String> = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if list.is_empty() && !one.is_empty() {
        vec![one.to_string()]
    } else {
        list
    }
}

fn cluster_ips(
    net: &ServiceNetwork,
    in_use: &InUse,
    spec: &mut Map<String, Value>,
    pick: Picker<'_>,
    errors: &mut Vec<FieldError>,
) -> Result<(), AllocError> {
    let one = spec
        .get("clusterIP")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let requested = requested_ips(spec);
    if let Some(first) = requested.first()
        && !one.is_empty()
        && *first != one
    {
        let why = "must match `clusterIP` when both are specified";
        errors.push(FieldError::invalid(
            "spec.clusterIPs[0]",
            first.as_str(),
            why,
        ));
        return Ok(());
    }
    if requested.len() > 1 {
        let why = "this cluster is not configured for dual-stack services";
        errors.push(FieldError::invalid("spec.clusterIPs", &requested[..], why));
        return Ok(());
    }
    let headless = requested.first().is_some_and(|ip| ip == "None");
    let ip = match requested.first() {
        Some(_) if headless => "None".to_string(),
        Some(text) => match text.parse::<Ipv4Addr>() {
            Ok(ip) if !net.cidr.requestable(ip) => {
                let why = format!(
                    "failed to allocate IP {text}: the provided IP ({text}) is not in the valid range. The range of valid IPs is {}",
                    net.cidr
                );
                errors.push(FieldError::invalid("spec.clusterIPs", &requested[..], why));
                return Ok(());
            }
            Ok(ip) if in_use.ips.contains(&ip) => {
                let why = format!("failed to allocate IP {text}: provided IP is already allocated");
                errors.push(FieldError::invalid("spec.clusterIPs", &requested[..], why));
                return Ok(());
            }
            Ok(ip) => ip.to_string(),
            Err(_) => {
                let why = if text.parse::<std::net::Ipv6Addr>().is_ok() {
                    "IPv6 is not configured on this cluster".to_string()
                } else {
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)".to_string()
                };
                errors.push(FieldError::invalid(
                    "spec.clusterIPs[0]",
                    text.as_str(),
                    why,
                ));
                return Ok(());
            }
        },
        None => free_ip(net.cidr, in_use, pick)
            .ok_or(AllocError::Full("serviceIP"))?
            .to_string(),
    };
    spec.insert("clusterIP".into(), json!(ip));
    spec.insert("clusterIPs".into(), json!([ip]));
    ip_families(spec, headless, errors);
    Ok(())
}

/// `ipFamilies` and `ipFamilyPolicy` on this IPv4-only cluster. A headless Service without a
/// selector may name both families (it has no address of its own), as upstream allows.
fn ip_families(spec: &mut Map<String, Value>, headless: bool, errors: &mut Vec<FieldError>) {
    let selectorless = spec
        .get("selector")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    let free_families = headless && selectorless;
    let policy = match spec.get("ipFamilyPolicy").and_then(Value::as_str) {
        Some(p) if !POLICIES.contains(&p) => {
            errors.push(FieldError::not_supported(
                "spec.ipFamilyPolicy",
                p,
                &POLICIES,
            ));
            return;
        }
        Some("RequireDualStack") if !free_families => {
            let why = "this cluster is not configured for dual-stack services";
            errors.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                "RequireDualStack",
                why,
            ));
            return;
        }
        Some(p) => p.to_string(),
        None if free_families => "RequireDualStack".into(),
        None => "SingleStack".into(),
    };
    let mut families: Vec<String> = spec
        .get("ipFamilies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|f| f.as_str().unwrap_or("").to_string())
        .collect();
    for (i, family) in families.iter().enumerate() {
        if family != "IPv4" && family != "IPv6" {
            let field = format!("spec.ipFamilies[{i}]");
            errors.push(FieldError::not_supported(
                field,
                family.as_str(),
                &["IPv4", "IPv6"],
            ));
            return;
        }
        if family == "IPv6" && !free_families {
            let field = format!("spec.ipFamilies[{i}]");
            errors.push(FieldError::invalid(
                field,
                "IPv6",
                "not configured on this cluster",
            ));
            return;
        }
    }
    if families.is_empty() {
        families.push("IPv4".into());
        if free_families && policy != "SingleStack" {
            families.push("IPv6".into());
        }
    }
    spec.insert("ipFamilies".into(), json!(families));
    spec.insert("ipFamilyPolicy".into(), json!(policy));
}

/// A random assignable address nobody holds: a few random tries, then a scan from a random
/// start so that a nearly full range still finds its last free address.
fn free_ip(cidr: ServiceCidr, in_use: &InUse, pick: Picker<'_>) -> Option<Ipv4Addr> {
    let size = cidr.size();
    let free = |offset: u64| {
        cidr.nth(offset)
            .filter(|ip| cidr.assignable(*ip) && !in_use.ips.contains(ip))
    };
    for _ in 0..16 {
        if let Some(ip) = free(pick(size)) {
            return Some(ip);
        }
    }
    let start = pick(size);
    (0..size).find_map(|i| free((start + i) % size))
}

fn int(v: &Value, field: &str) -> Option<i64> {
    v.get(field).and_then(Value::as_i64)
}

fn protocol(port: &Value) -> String {
    port.get("protocol")
        .and_then(Value::as_str)
        .unwrap_or("TCP")
        .to_string()
}

/// The addresses a spec holds (not `None`).
fn ips_of(spec: &Value) -> Vec<String> {
    let mut ips: Vec<String> = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if let Some(ip) = spec.get("clusterIP").and_then(Value::as_str) {
        ips.push(ip.to_string());
    }
    ips.retain(|ip| !ip.is_empty() && ip != "None");
    ips
}
