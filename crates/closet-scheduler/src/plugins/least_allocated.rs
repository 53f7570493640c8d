//! `NodeResourcesLeastAllocated`: prefers nodes with the most CPU and memory left after the
//! pod lands, so load spreads. Pods without requests count with upstream's defaults.

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{MAX_SCORE, NodeInfo, Score, Snapshot, Status};
use crate::resources::{Resources, pod_requests_for_scoring};

/// The mean over cpu and memory of the share left free, 0 to 100.
pub fn score(request: &Resources, allocatable: &Resources, requested: &Resources) -> i64 {
    let mut total = 0;
    for name in ["cpu", "memory"] {
        let capacity = allocatable.get(name);
        let used = requested.get(name) + request.get(name);
        if capacity > 0 && used <= capacity {
            total += (capacity - used) * MAX_SCORE / capacity;
        }
    }
    total / 2
}

/// The plugin.
pub struct LeastAllocated;

impl Score for LeastAllocated {
    fn name(&self) -> &'static str {
        "NodeResourcesLeastAllocated"
    }

    fn score(&self, pod: &Pod, nodes: &[&NodeInfo], _: &Snapshot) -> Result<Vec<i64>, Status> {
        let request = pod_requests_for_scoring(pod);
        Ok(nodes
            .iter()
            .map(|n| score(&request, &n.allocatable(), &n.requested_for_scoring))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn r(cpu: i64, memory: i64) -> Resources {
        Resources(BTreeMap::from([
            ("cpu".to_owned(), cpu),
            ("memory".to_owned(), memory),
        ]))
    }

    #[test]
    fn emptier_nodes_score_higher() {
        let alloc = r(4000, 4000);
        assert_eq!(score(&r(0, 0), &alloc, &r(0, 0)), 100);
        assert_eq!(score(&r(1000, 1000), &alloc, &r(1000, 1000)), 50);
        assert!(
            score(&r(100, 100), &alloc, &r(0, 0)) > score(&r(100, 100), &alloc, &r(2000, 2000))
        );
        assert_eq!(score(&r(100, 100), &r(0, 0), &r(0, 0)), 0);
    }
}
