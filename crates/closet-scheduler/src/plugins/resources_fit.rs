//! `NodeResourcesFit`: a pod's requests (cpu, memory, ephemeral-storage, any extended
//! resource) must fit in what the node's allocatable leaves after the pods already there,
//! and the node must have room for one more pod.

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{Filter, NodeInfo, Snapshot, Status};
use crate::resources::{Resources, pod_requests};

/// The reasons `pod` does not fit, empty when it does: `Insufficient cpu`, `Too many pods`.
pub fn insufficient(
    request: &Resources,
    allocatable: &Resources,
    requested: &Resources,
    pods_on_node: usize,
) -> Vec<String> {
    let mut reasons = Vec::new();
    // A node that states no pod limit takes any number.
    if allocatable.0.contains_key("pods")
        && i64::try_from(pods_on_node).unwrap_or(i64::MAX) + 1 > allocatable.get("pods")
    {
        reasons.push("Too many pods".to_owned());
    }
    for (name, want) in &request.0 {
        if *want > 0 && requested.get(name) + want > allocatable.get(name) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    reasons
}

/// The plugin.
pub struct ResourcesFit;

impl Filter for ResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, _: &Snapshot) -> Result<(), Status> {
        let reasons = insufficient(
            &pod_requests(pod),
            &node.allocatable(),
            &node.requested,
            node.pods.len(),
        );
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(Status::Unschedulable(reasons))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn r(pairs: &[(&str, i64)]) -> Resources {
        Resources(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect::<BTreeMap<_, _>>(),
        )
    }

    #[test]
    fn requests_must_fit_what_is_left() {
        let alloc = r(&[("cpu", 2000), ("memory", 1000), ("pods", 2)]);
        assert!(insufficient(&r(&[("cpu", 1000)]), &alloc, &r(&[("cpu", 1000)]), 1).is_empty());
        assert_eq!(
            insufficient(
                &r(&[("cpu", 1500), ("memory", 2000)]),
                &alloc,
                &r(&[("cpu", 1000)]),
                1
            ),
            vec!["Insufficient cpu", "Insufficient memory"]
        );
        assert_eq!(
            insufficient(&r(&[]), &alloc, &r(&[]), 2),
            vec!["Too many pods"]
        );
        assert_eq!(
            insufficient(&r(&[("example.com/gpu", 1)]), &alloc, &r(&[]), 0),
            vec!["Insufficient example.com/gpu"]
        );
        assert!(insufficient(&r(&[]), &r(&[]), &r(&[]), 50).is_empty());
    }
}
