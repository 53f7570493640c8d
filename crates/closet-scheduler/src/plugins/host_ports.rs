//! `NodePorts`: two pods on one node cannot claim the same host port, protocol and address.

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{Filter, NodeInfo, Snapshot, Status};

/// The reason upstream gives.
pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// `(protocol, host IP, host port)` the pod claims.
pub fn host_ports(pod: &Pod) -> Vec<(String, String, i32)> {
    let spec = crate::plugins::spec(pod);
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|p| *p > 0)?;
            let ip = p
                .host_ip
                .clone()
                .filter(|ip| !ip.is_empty())
                .unwrap_or_else(|| "0.0.0.0".to_owned());
            Some((
                p.protocol.clone().unwrap_or_else(|| "TCP".to_owned()),
                ip,
                port,
            ))
        })
        .collect()
}

/// Whether `pod`'s host ports are free among `existing` pods.
pub fn fits<'a>(pod: &Pod, existing: impl IntoIterator<Item = &'a Pod>) -> bool {
    let wanted = host_ports(pod);
    if wanted.is_empty() {
        return true;
    }
    let taken: Vec<_> = existing.into_iter().flat_map(host_ports).collect();
    !wanted.iter().any(|(proto, ip, port)| {
        taken.iter().any(|(p, i, n)| {
            p == proto && n == port && (i == ip || i == "0.0.0.0" || ip == "0.0.0.0")
        })
    })
}

/// The plugin.
pub struct NodePorts;

impl Filter for NodePorts {
    fn name(&self) -> &'static str {
        "NodePorts"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Result<(), Status> {
        if fits(pod, node.pods.iter().map(AsRef::as_ref)) {
            Ok(())
        } else {
            Err(Status::unschedulable(REASON))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_util::pod;
    use serde_json::json;

    fn with_port(port: i32, ip: Option<&str>, proto: &str) -> Pod {
        pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c",
            "ports": [{"containerPort": 80, "hostPort": port, "hostIP": ip, "protocol": proto}]}]}}),
        )
    }

    #[test]
    fn host_ports_conflict_per_protocol_and_address() {
        let existing = [with_port(8080, None, "TCP")];
        assert!(!fits(&with_port(8080, None, "TCP"), &existing));
        assert!(!fits(&with_port(8080, Some("10.0.0.1"), "TCP"), &existing));
        assert!(fits(&with_port(8080, None, "UDP"), &existing));
        assert!(fits(&with_port(8081, None, "TCP"), &existing));
        let bound = [with_port(9000, Some("10.0.0.1"), "TCP")];
        assert!(fits(&with_port(9000, Some("10.0.0.2"), "TCP"), &bound));
    }
}
