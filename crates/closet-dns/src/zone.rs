//! The cluster zone: every name the cluster answers for, built in one pass from the Services
//! and EndpointSlices the index holds.
//!
//! Rebuilding the whole zone after a batch of watch events is simpler than patching it and
//! cheap at home-lab sizes (a few thousand names); queries read an immutable snapshot, so a
//! rebuild never blocks them.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

use crate::records::{PortInfo, ServiceInfo, ServiceKind, SliceInfo};

/// What the zone is built with.
#[derive(Clone, Debug)]
pub struct ZoneSettings {
    /// The cluster domain, `cluster.local`, without a trailing dot.
    pub domain: String,
    /// TTL of every answer, in seconds (also the negative-answer TTL in the SOA).
    pub ttl: u32,
    /// Address ranges (network address, prefix length) whose reverse names the zone owns:
    /// an address in them that no Service or endpoint has is NXDOMAIN instead of forwarded.
    pub reverse_ranges: Vec<(IpAddr, u8)>,
}

impl ZoneSettings {
    /// `cluster.local`, a 5 s TTL, reverse names of the given ranges (`10.43.0.0/16`).
    pub fn new(domain: &str, reverse_ranges: &[&str]) -> ZoneSettings {
        ZoneSettings {
            domain: domain.trim_end_matches('.').to_ascii_lowercase(),
            ttl: 5,
            reverse_ranges: reverse_ranges
                .iter()
                .filter_map(|r| parse_cidr(r))
                .collect(),
        }
    }
}

/// The records at one name.
#[derive(Clone, Debug, Default)]
pub(crate) struct Node {
    pub(crate) a: Vec<Ipv4Addr>,
    pub(crate) aaaa: Vec<Ipv6Addr>,
    pub(crate) cname: Option<Name>,
    /// `(port, target)`; priority and weight are the same for all.
    pub(crate) srv: Vec<(u16, Name)>,
    pub(crate) ptr: Vec<Name>,
}

impl Node {
    fn add_ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) if !self.a.contains(&v4) => self.a.push(v4),
            IpAddr::V6(v6) if !self.aaaa.contains(&v6) => self.aaaa.push(v6),
            _ => {}
        }
    }
}

/// An immutable snapshot of the cluster's names.
#[derive(Clone, Debug)]
pub struct Zone {
    pub(crate) settings: ZoneSettings,
    /// Lower-case names without the trailing dot. Empty nodes are empty non-terminals
    /// (`svc.cluster.local`, `apps.svc.cluster.local`): they exist, with no records.
    pub(crate) names: HashMap<String, Node>,
    /// False until the first full list of Services and EndpointSlices arrived; cluster
    /// names are then SERVFAIL rather than a wrong NXDOMAIN.
    pub(crate) ready: bool,
    pub(crate) serial: u32,
}

impl Zone {
    /// A zone that knows nothing yet and says so (SERVFAIL for cluster names).
    pub fn not_ready(settings: ZoneSettings) -> Zone {
        Zone {
            settings,
            names: HashMap::new(),
            ready: false,
            serial: 0,
        }
    }

    /// Whether the zone was built from a full view of the cluster.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Number of names (records and empty non-terminals) in the zone.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the zone holds no names at all.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The zone for `services` and `slices`; `serial` goes into the SOA.
    pub fn build<'a>(
        settings: ZoneSettings,
        services: impl IntoIterator<Item = &'a ServiceInfo>,
        slices: impl IntoIterator<Item = &'a SliceInfo>,
        serial: u32,
    ) -> Zone {
        let mut by_service: HashMap<(&str, &str), Vec<&SliceInfo>> = HashMap::new();
        for slice in slices {
            by_service
                .entry((slice.namespace.as_str(), slice.service.as_str()))
                .or_default()
                .push(slice);
        }
        let mut builder = Builder {
            domain: settings.domain.clone(),
            names: HashMap::new(),
        };
        builder.node(&settings.domain.clone());
        for service in services {
            let slices = by_service
                .get(&(service.namespace.as_str(), service.name.as_str()))
                .map(Vec::as_slice)
                .unwrap_or_default();
            builder.service(service, slices);
        }
        Zone {
            settings,
            names: builder.names,
            ready: true,
            serial,
        }
    }
}

struct Builder {
    domain: String,
    names: HashMap<String, Node>,
}

impl Builder {
    /// The node at `key`, created with its empty ancestors up to the zone apex.
    fn node(&mut self, key: &str) -> &mut Node {
        if !self.names.contains_key(key) {
            let mut parent = key;
            while let Some((_, rest)) = parent.split_once('.') {
                if rest.len() < self.domain.len() || self.names.contains_key(rest) {
                    break;
                }
                self.names.insert(rest.to_owned(), Node::default());
                parent = rest;
            }
        }
        self.names.entry(key.to_owned()).or_default()
    }

    fn service(&mut self, service: &ServiceInfo, slices: &[&SliceInfo]) {
        let base = format!("{}.{}.svc.{}", service.name, service.namespace, self.domain)
            .to_ascii_lowercase();
        let Some(base_name) = fqdn(&base) else {
            return;
        };
        match &service.kind {
            ServiceKind::ClusterIps(ips) => {
                // A Service without an address yet still exists (NODATA, not NXDOMAIN).
                self.node(&base);
                for ip in ips {
                    self.node(&base).add_ip(*ip);
                    self.ptr(*ip, &base_name);
                }
                for port in &service.ports {
                    self.node(&base).srv.push((port.port, base_name.clone()));
                    if let Some(key) = srv_key(port, &base) {
                        self.node(&key).srv.push((port.port, base_name.clone()));
                    }
                }
            }
            ServiceKind::ExternalName(target) => {
                self.node(&base).cname = fqdn(target);
            }
            ServiceKind::Headless => {
                self.node(&base);
                for slice in slices {
                    for endpoint in &slice.endpoints {
                        if !endpoint.ready && !service.publish_not_ready {
                            continue;
                        }
                        for ip in &endpoint.addresses {
                            let label = endpoint
                                .hostname
                                .clone()
                                .unwrap_or_else(|| dashed(*ip))
                                .to_ascii_lowercase();
                            let key = format!("{label}.{base}");
                            let Some(target) = fqdn(&key) else {
                                continue;
                            };
                            self.node(&base).add_ip(*ip);
                            self.node(&key).add_ip(*ip);
                            self.ptr(*ip, &target);
                            for port in &slice.ports {
                                self.node(&base).srv.push((port.port, target.clone()));
                                if let Some(srv) = srv_key(port, &base) {
                                    self.node(&srv).srv.push((port.port, target.clone()));
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    fn ptr(&mut self, ip: IpAddr, target: &Name) {
        let node = self.names.entry(reverse_key(ip)).or_default();
        if !node.ptr.contains(target) {
            node.ptr.push(target.clone());
        }
    }
}

/// `_<port>._<proto>.<base>` for a named port.
fn srv_key(port: &PortInfo, base: &str) -> Option<String> {
    let name = port.name.as_deref()?;
    Some(format!("_{name}._{}.{base}", port.protocol).to_ascii_lowercase())
}

/// A fully qualified name from `text` (with or without the trailing dot).
pub(crate) fn fqdn(text: &str) -> Option<Name> {
    let text = text.trim_end_matches('.');
    if text.is_empty() {
        return None;
    }
    Name::from_ascii(format!("{text}.")).ok()
}

/// An address as a DNS label: `10-42-0-5`.
pub(crate) fn dashed(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

/// The reverse name of `ip`, lower case, without the trailing dot.
pub(crate) fn reverse_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut labels: Vec<String> = v6
                .octets()
                .iter()
                .flat_map(|byte| [byte >> 4, byte & 0xf])
                .map(|nibble| format!("{nibble:x}"))
                .collect();
            labels.reverse();
            format!("{}.ip6.arpa", labels.join("."))
        }
    }
}

/// The address a full reverse name stands for.
pub(crate) fn parse_reverse(key: &str) -> Option<IpAddr> {
    if let Some(rest) = key.strip_suffix(".in-addr.arpa") {
        let mut octets: Vec<u8> = rest
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if octets.len() != 4 {
            return None;
        }
        octets.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(
            octets[0], octets[1], octets[2], octets[3],
        )));
    }
    let rest = key.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = rest
        .split('.')
        .map(|p| u8::from_str_radix(p, 16).ok().filter(|_| p.len() == 1))
        .collect::<Option<_>>()?;
    if nibbles.len() != 32 {
        return None;
    }
    let mut octets = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        octets[i] = (pair[1] << 4) | pair[0];
    }
    Some(IpAddr::V6(Ipv6Addr::from(octets)))
}

/// `10.43.0.0/16` as (address, prefix length).
pub fn parse_cidr(cidr: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = cidr.trim().split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((addr, prefix))
}

/// Whether `ip` lies in the range `(net, prefix)`.
pub(crate) fn in_range(ip: IpAddr, (net, prefix): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

/// The `n`th address of `cidr` (`10.43.0.0/16`, 10 → `10.43.0.10`): where the cluster DNS
/// server answers, by the convention of kubeadm and k3s.
pub fn nth_address(cidr: &str, n: u32) -> Option<IpAddr> {
    let (net, prefix) = parse_cidr(cidr)?;
    match net {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            let size = (!mask).checked_add(1);
            if size.is_some_and(|s| n >= s) {
                return None;
            }
            Some(IpAddr::V4(Ipv4Addr::from((u32::from(v4) & mask) | n)))
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            Some(IpAddr::V6(Ipv6Addr::from(
                (u128::from(v6) & mask) | u128::from(n),
            )))
        }
    }
}
