//! From a Service and its pods to endpoint addresses: pure functions, no I/O.
//!
//! Shared by the Endpoints and the EndpointSlice halves: which pods count
//! ([`include`]), their ports with named `targetPort`s resolved per pod ([`pod_ports`]),
//! and the address details ([`Member`]).

use k8s_openapi::api::core::v1::{Pod, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// One port of one pod, resolved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port {
    /// The service port's name.
    pub name: Option<String>,
    /// The pod's port number.
    pub port: i32,
    /// TCP, UDP or SCTP.
    pub protocol: String,
    /// The service port's appProtocol.
    pub app_protocol: Option<String>,
}

/// A pod as an endpoint of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// The pod's IP.
    pub ip: String,
    /// The pod's hostname, when it names this service as its subdomain.
    pub hostname: Option<String>,
    /// The pod's node.
    pub node_name: Option<String>,
    /// The pod's name.
    pub pod_name: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's uid.
    pub uid: Option<String>,
    /// The pod's Ready condition is True.
    pub ready: bool,
    /// The pod is being deleted.
    pub terminating: bool,
    /// Its ports for this service.
    pub ports: Vec<Port>,
}

/// Whether `pod` belongs in the service's endpoints (upstream's ShouldPodBeInEndpoints): it
/// has an IP, is not finished for good, and is not terminating unless `include_terminating`.
pub fn include(pod: &Pod, include_terminating: bool) -> bool {
    let status = pod.status.clone().unwrap_or_default();
    if status.pod_ip.as_deref().unwrap_or("").is_empty() {
        return false;
    }
    if !include_terminating && pod.metadata.deletion_timestamp.is_some() {
        return false;
    }
    let phase = status.phase.as_deref().unwrap_or("");
    let restart = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    match restart {
        "Never" => phase != "Failed" && phase != "Succeeded",
        "OnFailure" => phase != "Succeeded",
        _ => true,
    }
}

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The container port number a service port's `targetPort` names in `pod`; `None` when a
/// named port is not declared by any container.
pub fn target_port(sp: &ServicePort, pod: &Pod) -> Option<i32> {
    match &sp.target_port {
        None => Some(sp.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            let protocol = sp.protocol.as_deref().unwrap_or("TCP");
            pod.spec.as_ref()?.containers.iter().find_map(|c| {
                c.ports.iter().flatten().find_map(|p| {
                    let proto = p.protocol.as_deref().unwrap_or("TCP");
                    (p.name.as_deref() == Some(name.as_str()) && proto == protocol)
                        .then_some(p.container_port)
                })
            })
        }
    }
}

/// The pod's ports for `service`, sorted; ports that do not resolve are left out.
pub fn pod_ports(service: &Service, pod: &Pod) -> Vec<Port> {
    let mut ports: Vec<Port> = service
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .unwrap_or_default()
        .iter()
        .filter_map(|sp| {
            Some(Port {
                name: sp.name.clone().filter(|n| !n.is_empty()),
                port: target_port(sp, pod)?,
                protocol: sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                app_protocol: sp.app_protocol.clone(),
            })
        })
        .collect();
    ports.sort();
    ports
}

/// The members of `service` among `pods` (already selected by its selector). With
/// `include_terminating`, terminating pods are kept (EndpointSlices keep them, marked).
pub fn members(service: &Service, pods: &[Pod], include_terminating: bool) -> Vec<Member> {
    let svc_name = service.metadata.name.clone().unwrap_or_default();
    let svc_ns = service.metadata.namespace.clone();
    let publish = service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut out: Vec<Member> = pods
        .iter()
        .filter(|p| include(p, include_terminating || publish))
        .map(|pod| {
            let spec = pod.spec.clone().unwrap_or_default();
            let hostname = spec.hostname.clone().filter(|h| !h.is_empty()).filter(|_| {
                spec.subdomain.as_deref() == Some(svc_name.as_str())
                    && pod.metadata.namespace == svc_ns
            });
            Member {
                ip: pod
                    .status
                    .as_ref()
                    .and_then(|s| s.pod_ip.clone())
                    .unwrap_or_default(),
                hostname,
                node_name: spec.node_name.clone(),
                pod_name: pod.metadata.name.clone().unwrap_or_default(),
                namespace: pod.metadata.namespace.clone().unwrap_or_default(),
                uid: pod.metadata.uid.clone(),
                ready: publish || is_ready(pod),
                terminating: pod.metadata.deletion_timestamp.is_some(),
                ports: pod_ports(service, pod),
            }
        })
        .collect();
    out.sort_by(|a, b| a.ip.cmp(&b.ip).then(a.pod_name.cmp(&b.pod_name)));
    out
}

/// Whether the service is headless (`clusterIP: None`).
pub fn is_headless(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}
