//! The desired state as an nft script for the table `ip closet`, which one `nft -f` applies
//! atomically: the script first adds the table (so the delete cannot fail), deletes it, and
//! defines it whole. Nothing outside the table is touched, and a table left behind by a
//! killed process is replaced by the first sync after a restart.
//!
//! The layout follows kube-proxy's nftables mode:
//!
//! - `nat-prerouting` and `nat-output` jump to `services`, which looks up
//!   `daddr . protocol . dport` in the verdict map `service-ips` (ClusterIPs, LoadBalancer
//!   ingress IPs, external IPs) and, for packets to one of this machine's own addresses
//!   (`fib daddr type local`, loopback excluded), `protocol . dport` in `service-nodeports`.
//! - A service port's chain `svc-…` (all usable endpoints) or `svl-…` (this node's, for
//!   `Local` policies) picks an endpoint with `numgen random mod N`, after checking the
//!   per-endpoint affinity sets when `sessionAffinity: ClientIP` is on; an endpoint chain
//!   `ep-…` refreshes its affinity set and DNATs.
//! - Outside traffic enters through `ext-…`: with `externalTrafficPolicy: Cluster` it is
//!   marked for masquerade (the reply must come back through this node); with `Local` it
//!   keeps its source address and goes to this node's endpoints only (pods and the node
//!   itself still reach every endpoint, as upstream).
//! - Packets marked for masquerade are masqueraded in `nat-postrouting`: traffic to a
//!   ClusterIP from outside the cluster CIDR (the node itself), hairpin traffic (a pod
//!   reaching itself through its service; it would otherwise see its own address as the
//!   source), and `Cluster` external traffic. Pod egress leaving the cluster CIDR is
//!   masqueraded there too; pod-to-pod traffic between nodes is not.
//! - A service port with no usable endpoints gets an entry in `no-endpoint-services` or
//!   `no-endpoint-nodeports`, looked up by filter chains at priority `dstnat - 10`, which
//!   reject new connections (TCP reset, ICMP port unreachable otherwise) instead of letting
//!   them time out.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::cidr::Ipv4Cidr;
use crate::model::{Desired, Endpoint, Protocol, ServicePortState};

/// The nftables family of closet's table.
pub const FAMILY: &str = "ip";
/// The name of closet's table.
pub const TABLE: &str = "closet";
/// The packet mark that asks `nat-postrouting` to masquerade (kube-proxy's bit).
pub const MASQUERADE_MARK: &str = "0x4000";

/// What the script needs besides the desired state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderSettings {
    /// The cluster (pod) CIDR of all nodes.
    pub cluster_cidr: Ipv4Cidr,
    /// Whether bridged traffic passes through the IP hooks (`br_netfilter` with
    /// `bridge-nf-call-iptables = 1`). Without it, the reply of a pod reached through a
    /// service from a pod on the same bridge would bypass conntrack, so all service traffic
    /// is masqueraded instead (the reply then goes back through the node).
    pub bridge_netfilter: bool,
}

/// The script that removes closet's table (and succeeds when there is none).
pub fn delete_script() -> String {
    format!("add table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n")
}

/// The whole-table script for `desired`.
pub fn render(desired: &Desired, settings: &RenderSettings) -> String {
    let mut t = Tables::default();
    for sp in &desired.ports {
        t.service_port(sp, settings);
    }
    t.finish(settings)
}

/// The maps, sets and per-service chains being built.
#[derive(Default)]
struct Tables {
    service_ips: Vec<String>,
    service_nodeports: Vec<String>,
    no_endpoint_services: Vec<String>,
    no_endpoint_nodeports: Vec<String>,
    /// Map keys already taken: the first service port (in sorted order) wins a collision,
    /// since a duplicate element would fail the whole transaction.
    ip_keys: BTreeSet<(Ipv4Addr, Protocol, u16)>,
    nodeport_keys: BTreeSet<(Protocol, u16)>,
    sets: String,
    chains: String,
}

/// Characters kept in chain and set names; Kubernetes names already fit, the rest is insurance.
fn name_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn endpoint_chain(id: &str, ep: &Endpoint) -> String {
    format!("ep-{id}/{}/{}", ep.ip, ep.port)
}

fn affinity_set(id: &str, ep: &Endpoint) -> String {
    format!("aff-{id}/{}/{}", ep.ip, ep.port)
}

impl Tables {
    fn claim_ip(&mut self, ip: Ipv4Addr, sp: &ServicePortState) -> bool {
        let fresh = self.ip_keys.insert((ip, sp.protocol, sp.port));
        if !fresh {
            tracing::warn!(service = %sp.id(), %ip, port = sp.port, "address and port already used by another service; ignored");
        }
        fresh
    }

    fn claim_nodeport(&mut self, port: u16, sp: &ServicePortState) -> bool {
        let fresh = self.nodeport_keys.insert((sp.protocol, port));
        if !fresh {
            tracing::warn!(service = %sp.id(), port, "node port already used by another service; ignored");
        }
        fresh
    }

    fn service_port(&mut self, sp: &ServicePortState, settings: &RenderSettings) {
        let id = name_part(&sp.id());
        let proto = sp.protocol.nft();
        let cidr = settings.cluster_cidr;
        let has_endpoints = !sp.cluster_endpoints.is_empty();
        let needs_local = sp.internal_local || sp.external_local;
        let all_chain = format!("svc-{id}");
        let local_chain = format!("svl-{id}");

        if has_endpoints {
            self.balancer(&all_chain, sp, &sp.cluster_endpoints, settings);
            if needs_local && !sp.local_endpoints.is_empty() {
                self.balancer(&local_chain, sp, &sp.local_endpoints, settings);
            }
            let mut endpoints: BTreeSet<&Endpoint> = sp.cluster_endpoints.iter().collect();
            if needs_local {
                endpoints.extend(&sp.local_endpoints);
            }
            for ep in endpoints {
                self.endpoint(&id, sp, ep);
            }
        }

        if let Some(ip) = sp.cluster_ip
            && self.claim_ip(ip, sp)
        {
            let key = format!("{ip} . {proto} . {}", sp.port);
            if !has_endpoints {
                self.no_endpoint_services
                    .push(format!("{key} : goto reject-chain"));
            } else if sp.internal_local && sp.local_endpoints.is_empty() {
                // Endpoints exist, just none here: dropped, as upstream, not refused.
                self.no_endpoint_services.push(format!("{key} : drop"));
            } else {
                let chain = if sp.internal_local {
                    &local_chain
                } else {
                    &all_chain
                };
                self.service_ips.push(format!("{key} : goto {chain}"));
            }
        }

        let external: Vec<Ipv4Addr> = sp
            .external_ips
            .iter()
            .copied()
            .filter(|ip| self.claim_ip(*ip, sp))
            .collect();
        let node_port = sp.node_port.filter(|p| self.claim_nodeport(*p, sp));
        if external.is_empty() && node_port.is_none() {
            return;
        }
        let target = if has_endpoints {
            let ext_chain = format!("ext-{id}");
            let mut rules = Vec::new();
            if sp.external_local {
                // Pods and the node itself are inside: they may use every endpoint.
                rules.push(format!("ip saddr {cidr} goto {all_chain}"));
                rules.push("fib saddr type local jump mark-for-masquerade".to_owned());
                rules.push(format!("fib saddr type local goto {all_chain}"));
                if sp.local_endpoints.is_empty() {
                    rules.push("drop".to_owned());
                } else {
                    rules.push(format!("goto {local_chain}"));
                }
            } else {
                rules.push("jump mark-for-masquerade".to_owned());
                rules.push(format!("goto {all_chain}"));
            }
            self.chain(&ext_chain, &rules);
            format!("goto {ext_chain}")
        } else {
            "goto reject-chain".to_owned()
        };
        for ip in external {
            let element = format!("{ip} . {proto} . {} : {target}", sp.port);
            if has_endpoints {
                self.service_ips.push(element);
            } else {
                self.no_endpoint_services.push(element);
            }
        }
        if let Some(port) = node_port {
            let element = format!("{proto} . {port} : {target}");
            if has_endpoints {
                self.service_nodeports.push(element);
            } else {
                self.no_endpoint_nodeports.push(element);
            }
        }
    }

    /// A chain choosing among `endpoints` (never empty).
    fn balancer(
        &mut self,
        name: &str,
        sp: &ServicePortState,
        endpoints: &[Endpoint],
        settings: &RenderSettings,
    ) {
        let id = name_part(&sp.id());
        let proto = sp.protocol.nft();
        let cidr = settings.cluster_cidr;
        let mut rules = Vec::new();
        if let Some(ip) = sp.cluster_ip {
            let to_service = format!("ip daddr {ip} {proto} dport {}", sp.port);
            if settings.bridge_netfilter {
                rules.push(format!(
                    "{to_service} ip saddr != {cidr} jump mark-for-masquerade"
                ));
            } else {
                rules.push(format!("{to_service} jump mark-for-masquerade"));
            }
        }
        if sp.affinity_timeout.is_some() {
            for ep in endpoints {
                rules.push(format!(
                    "ip saddr @{} goto {}",
                    affinity_set(&id, ep),
                    endpoint_chain(&id, ep)
                ));
            }
        }
        let choices: Vec<String> = endpoints
            .iter()
            .enumerate()
            .map(|(n, ep)| format!("{n} : goto {}", endpoint_chain(&id, ep)))
            .collect();
        rules.push(format!(
            "numgen random mod {} vmap {{ {} }}",
            endpoints.len(),
            choices.join(", ")
        ));
        self.chain(name, &rules);
    }

    fn endpoint(&mut self, id: &str, sp: &ServicePortState, ep: &Endpoint) {
        let mut rules = vec![format!("ip saddr {} jump mark-for-masquerade", ep.ip)];
        if let Some(timeout) = sp.affinity_timeout {
            let set = affinity_set(id, ep);
            let _ = write!(
                self.sets,
                "\tset {set} {{\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout {timeout}s\n\t}}\n"
            );
            rules.push(format!("update @{set} {{ ip saddr }}"));
        }
        rules.push(format!(
            "meta l4proto {} dnat to {}:{}",
            sp.protocol.nft(),
            ep.ip,
            ep.port
        ));
        self.chain(&endpoint_chain(id, ep), &rules);
    }

    fn chain(&mut self, name: &str, rules: &[String]) {
        let _ = writeln!(self.chains, "\tchain {name} {{");
        for rule in rules {
            let _ = writeln!(self.chains, "\t\t{rule}");
        }
        self.chains.push_str("\t}\n");
    }

    fn finish(self, settings: &RenderSettings) -> String {
        let cidr = settings.cluster_cidr;
        let mut out = delete_script();
        let _ = writeln!(out, "table {FAMILY} {TABLE} {{");
        let ip_key = "ipv4_addr . inet_proto . inet_service : verdict";
        let port_key = "inet_proto . inet_service : verdict";
        map(&mut out, "service-ips", ip_key, &self.service_ips);
        map(
            &mut out,
            "service-nodeports",
            port_key,
            &self.service_nodeports,
        );
        map(
            &mut out,
            "no-endpoint-services",
            ip_key,
            &self.no_endpoint_services,
        );
        map(
            &mut out,
            "no-endpoint-nodeports",
            port_key,
            &self.no_endpoint_nodeports,
        );
        out.push_str(&self.sets);
        let fixed = [
            (
                "filter-prerouting",
                "type filter hook prerouting priority dstnat - 10; policy accept;",
                vec!["ct state new jump endpoints-check".to_owned()],
            ),
            // `dstnat` names a priority in prerouting only; -100 is its value.
            (
                "filter-output",
                "type filter hook output priority -110; policy accept;",
                vec!["ct state new jump endpoints-check".to_owned()],
            ),
            (
                "endpoints-check",
                "",
                vec![
                    "ip daddr . meta l4proto . th dport vmap @no-endpoint-services".to_owned(),
                    "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports".to_owned(),
                ],
            ),
            (
                "reject-chain",
                "",
                vec![
                    "meta l4proto tcp reject with tcp reset".to_owned(),
                    "reject".to_owned(),
                ],
            ),
            (
                "nat-prerouting",
                "type nat hook prerouting priority dstnat; policy accept;",
                vec!["jump services".to_owned()],
            ),
            (
                "nat-output",
                "type nat hook output priority -100; policy accept;",
                vec!["jump services".to_owned()],
            ),
            (
                "nat-postrouting",
                "type nat hook postrouting priority srcnat; policy accept;",
                vec!["jump masquerading".to_owned()],
            ),
            (
                "services",
                "",
                vec![
                    "ip daddr . meta l4proto . th dport vmap @service-ips".to_owned(),
                    "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports".to_owned(),
                ],
            ),
            (
                "mark-for-masquerade",
                "",
                vec![format!("meta mark set meta mark | {MASQUERADE_MARK}")],
            ),
            (
                "masquerading",
                "",
                vec![
                    format!("meta mark & {MASQUERADE_MARK} == 0 goto pod-egress"),
                    format!("meta mark set meta mark ^ {MASQUERADE_MARK}"),
                    "masquerade fully-random".to_owned(),
                ],
            ),
            (
                "pod-egress",
                "",
                vec![format!("ip saddr {cidr} ip daddr != {cidr} masquerade")],
            ),
        ];
        for (name, base, rules) in fixed {
            let _ = writeln!(out, "\tchain {name} {{");
            if !base.is_empty() {
                let _ = writeln!(out, "\t\t{base}");
            }
            for rule in rules {
                let _ = writeln!(out, "\t\t{rule}");
            }
            out.push_str("\t}\n");
        }
        out.push_str(&self.chains);
        out.push_str("}\n");
        out
    }
}

fn map(out: &mut String, name: &str, key: &str, elements: &[String]) {
    let _ = writeln!(out, "\tmap {name} {{\n\t\ttype {key}");
    if !elements.is_empty() {
        let _ = writeln!(out, "\t\telements = {{ {} }}", elements.join(",\n\t\t\t"));
    }
    out.push_str("\t}\n");
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
