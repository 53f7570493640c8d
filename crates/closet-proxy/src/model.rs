//! From Services and EndpointSlices to what this node's proxy should program: one
//! [`ServicePortState`] per service port, with its addresses, traffic policies, session
//! affinity and the endpoints it may send to. Pure functions, no I/O.
//!
//! Endpoints follow upstream's rules: ready endpoints serve; when a service has none, its
//! serving-but-terminating endpoints take over, so connections drain during a rollout
//! instead of failing. The same fallback applies separately to this node's own endpoints,
//! which `Local` traffic policies use. Named target ports need nothing here: the
//! EndpointSlice controller resolves them per pod and groups pods with the same numbers
//! into one slice, whose ports carry the service port's name.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Service, ServicePort};
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// The label naming the Service an EndpointSlice belongs to.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Session affinity's timeout when the Service sets none: three hours, as upstream.
pub const DEFAULT_AFFINITY_TIMEOUT: u32 = 10_800;

/// A transport protocol the proxy forwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

impl Protocol {
    /// The Kubernetes spelling (`TCP`; unset means TCP); `None` for anything else.
    pub fn parse(text: Option<&str>) -> Option<Self> {
        match text.unwrap_or("TCP") {
            "TCP" => Some(Self::Tcp),
            "UDP" => Some(Self::Udp),
            "SCTP" => Some(Self::Sctp),
            _ => None,
        }
    }

    /// The nftables spelling.
    pub fn nft(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Sctp => "sctp",
        }
    }
}

/// One backend address of a service port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// The pod's address.
    pub ip: Ipv4Addr,
    /// The pod's port for this service port.
    pub port: u16,
}

/// Everything the proxy programs for one port of one Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePortState {
    /// The Service's namespace.
    pub namespace: String,
    /// The Service's name.
    pub name: String,
    /// The port's name (empty for a single unnamed port).
    pub port_name: String,
    /// Its protocol.
    pub protocol: Protocol,
    /// The ClusterIP, when the Service has one.
    pub cluster_ip: Option<Ipv4Addr>,
    /// The service port.
    pub port: u16,
    /// The NodePort (NodePort and LoadBalancer Services).
    pub node_port: Option<u16>,
    /// Addresses reached from outside on `port`: LoadBalancer ingress IPs and
    /// `spec.externalIPs`, sorted.
    pub external_ips: Vec<Ipv4Addr>,
    /// The endpoints cluster-wide traffic may use, sorted.
    pub cluster_endpoints: Vec<Endpoint>,
    /// The endpoints on this node that `Local` policies may use, sorted.
    pub local_endpoints: Vec<Endpoint>,
    /// `internalTrafficPolicy: Local`: ClusterIP traffic stays on this node.
    pub internal_local: bool,
    /// `externalTrafficPolicy: Local`: outside traffic stays on this node, unmasqueraded.
    pub external_local: bool,
    /// `sessionAffinity: ClientIP`, with its timeout in seconds.
    pub affinity_timeout: Option<u32>,
}

impl ServicePortState {
    /// A name unique among service ports: `namespace/name/protocol/port-name-or-number`.
    pub fn id(&self) -> String {
        let port = if self.port_name.is_empty() {
            self.port.to_string()
        } else {
            self.port_name.clone()
        };
        format!(
            "{}/{}/{}/{port}",
            self.namespace,
            self.name,
            self.protocol.nft()
        )
    }
}

/// What the proxy programs on this node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Desired {
    /// Every proxied service port, sorted by namespace, name, port name and protocol.
    pub ports: Vec<ServicePortState>,
}

/// The desired state from all Services and EndpointSlices, for the node `node_name`.
pub fn desired<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    slices: impl IntoIterator<Item = &'a EndpointSlice>,
    node_name: &str,
) -> Desired {
    let mut by_service: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        let Some(service) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
        else {
            continue;
        };
        let namespace = slice.metadata.namespace.clone().unwrap_or_default();
        by_service
            .entry((namespace, service.clone()))
            .or_default()
            .push(slice);
    }
    let mut ports: Vec<ServicePortState> = services
        .into_iter()
        .flat_map(|service| {
            let key = (
                service.metadata.namespace.clone().unwrap_or_default(),
                service.metadata.name.clone().unwrap_or_default(),
            );
            let slices = by_service.get(&key).map(Vec::as_slice).unwrap_or_default();
            service_ports(service, slices, node_name)
        })
        .collect();
    ports.sort_by(|a, b| {
        (&a.namespace, &a.name, &a.port_name, a.protocol).cmp(&(
            &b.namespace,
            &b.name,
            &b.port_name,
            b.protocol,
        ))
    });
    Desired { ports }
}

/// The proxied ports of one Service; none for headless and ExternalName Services.
fn service_ports(
    service: &Service,
    slices: &[&EndpointSlice],
    node_name: &str,
) -> Vec<ServicePortState> {
    let Some(spec) = service.spec.as_ref() else {
        return Vec::new();
    };
    let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
    let cluster_ip = spec.cluster_ip.as_deref().unwrap_or_default();
    if kind == "ExternalName" || cluster_ip == "None" {
        return Vec::new();
    }
    let cluster_ip: Option<Ipv4Addr> = cluster_ip.parse().ok();
    let exposes_node_ports = matches!(kind, "NodePort" | "LoadBalancer");
    let mut external_ips: BTreeSet<Ipv4Addr> = spec
        .external_ips
        .iter()
        .flatten()
        .filter_map(|ip| ip.parse().ok())
        .collect();
    if kind == "LoadBalancer" {
        let ingress = service
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref());
        external_ips.extend(
            ingress
                .into_iter()
                .flatten()
                .filter_map(|i| i.ip.as_deref()?.parse::<Ipv4Addr>().ok()),
        );
    }
    let affinity_timeout = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
        spec.session_affinity_config
            .as_ref()
            .and_then(|c| c.client_ip.as_ref())
            .and_then(|c| c.timeout_seconds)
            .and_then(|t| u32::try_from(t).ok())
            .filter(|t| *t > 0)
            .unwrap_or(DEFAULT_AFFINITY_TIMEOUT)
    });
    spec.ports
        .iter()
        .flatten()
        .filter_map(|sp| {
            let protocol = Protocol::parse(sp.protocol.as_deref())?;
            let port = u16::try_from(sp.port).ok()?;
            let (cluster_endpoints, local_endpoints) = endpoints(sp, protocol, slices, node_name);
            Some(ServicePortState {
                namespace: service.metadata.namespace.clone().unwrap_or_default(),
                name: service.metadata.name.clone().unwrap_or_default(),
                port_name: sp.name.clone().unwrap_or_default(),
                protocol,
                cluster_ip,
                port,
                node_port: sp
                    .node_port
                    .filter(|_| exposes_node_ports)
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p > 0),
                external_ips: external_ips.iter().copied().collect(),
                cluster_endpoints,
                local_endpoints,
                internal_local: spec.internal_traffic_policy.as_deref() == Some("Local"),
                external_local: spec.external_traffic_policy.as_deref() == Some("Local"),
                affinity_timeout,
            })
        })
        .collect()
}

/// One endpoint address with what the proxy needs of its conditions.
struct Candidate {
    endpoint: Endpoint,
    ready: bool,
    serving_terminating: bool,
    local: bool,
}

/// The cluster-wide and this node's usable endpoints of one service port.
fn endpoints(
    sp: &ServicePort,
    protocol: Protocol,
    slices: &[&EndpointSlice],
    node_name: &str,
) -> (Vec<Endpoint>, Vec<Endpoint>) {
    let name = sp.name.as_deref().unwrap_or_default();
    let mut candidates = Vec::new();
    for slice in slices {
        let Some(port) = slice.ports.iter().flatten().find_map(|p| {
            (p.name.as_deref().unwrap_or_default() == name
                && Protocol::parse(p.protocol.as_deref()) == Some(protocol))
            .then_some(p.port)
            .flatten()
        }) else {
            continue;
        };
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        for ep in &slice.endpoints {
            let conditions = ep.conditions.clone().unwrap_or_default();
            // Unset conditions mean "unknown", which consumers treat as ready (API docs).
            let ready = conditions.ready.unwrap_or(true);
            let serving = conditions.serving.unwrap_or(ready);
            let terminating = conditions.terminating.unwrap_or(false);
            let local = ep.node_name.as_deref() == Some(node_name);
            for ip in ep.addresses.iter().filter_map(|a| a.parse().ok()) {
                candidates.push(Candidate {
                    endpoint: Endpoint { ip, port },
                    ready,
                    serving_terminating: serving && terminating,
                    local,
                });
            }
        }
    }
    let usable = |only_local: bool| -> Vec<Endpoint> {
        let pick = |want: &dyn Fn(&Candidate) -> bool| -> BTreeSet<Endpoint> {
            candidates
                .iter()
                .filter(|c| (!only_local || c.local) && want(c))
                .map(|c| c.endpoint)
                .collect()
        };
        let ready = pick(&|c| c.ready);
        let chosen = if ready.is_empty() {
            pick(&|c| c.serving_terminating)
        } else {
            ready
        };
        chosen.into_iter().collect()
    };
    (usable(false), usable(true))
}

#[cfg(test)]
#[path = "model_tests.rs"]
pub(crate) mod tests;
