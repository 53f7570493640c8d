//! The built-in plugins, one module each. Every module holds a pure helper (`fits`,
//! `untolerated`, ...) that its unit tests drive directly, and a small plugin type that
//! adapts it to [`Filter`](crate::framework::Filter) or [`Score`](crate::framework::Score).

pub mod host_ports;
pub mod image_platform;
pub mod inter_pod_affinity;
pub mod least_allocated;
pub mod node_affinity;
pub mod node_name;
pub mod node_unschedulable;
pub mod owner_spread;
pub mod resources_fit;
pub mod taints;
pub mod topology_spread;
pub mod volumes;

use k8s_openapi::api::core::v1::{Pod, PodSpec};

/// The pod's spec, or an empty one.
pub(crate) fn spec(pod: &Pod) -> PodSpec {
    pod.spec.clone().unwrap_or_default()
}

/// The pod's namespace, `default` when unset.
pub(crate) fn namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Builders for the plugins' unit tests.

    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::Value;

    use crate::framework::NodeInfo;
    use crate::resources::{self, Resources};

    /// A pod from JSON.
    pub(crate) fn pod(value: Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    /// A node from JSON, with `pods` on it.
    pub(crate) fn node(value: Value, pods: Vec<Pod>) -> NodeInfo {
        let node: Node = serde_json::from_value(value).unwrap();
        let mut requested = Resources::default();
        let mut scoring = Resources::default();
        for p in &pods {
            requested.add(&resources::pod_requests(p));
            scoring.add(&resources::pod_requests_for_scoring(p));
        }
        NodeInfo {
            node: Arc::new(node),
            pods: pods.into_iter().map(Arc::new).collect(),
            requested,
            requested_for_scoring: scoring,
            images: Default::default(),
        }
    }
}
