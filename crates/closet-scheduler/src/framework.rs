//! The plugin framework: one small trait per extension point ([`Filter`], [`Score`]), the
//! [`Status`] a plugin reports, and the cluster view ([`Snapshot`], [`NodeInfo`]) plugins
//! read. Plugins never do I/O; everything they need is in the snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;

use crate::platforms::Platforms;
use crate::resources::Resources;

/// Highest score a plugin gives a node.
pub const MAX_SCORE: i64 = 100;

/// Why a plugin turned a pod or node down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The pod cannot run there; the reasons end up in the FailedScheduling message.
    Unschedulable(Vec<String>),
    /// The plugin could not decide (bad input, missing data); the pod is retried.
    Error(String),
}

impl Status {
    /// An unschedulable status with one reason.
    pub fn unschedulable(reason: impl Into<String>) -> Self {
        Self::Unschedulable(vec![reason.into()])
    }
}

/// A node as plugins see it: the object, the pods on it (bound or assumed) and their sums.
#[derive(Clone, Debug)]
pub struct NodeInfo {
    /// The Node.
    pub node: Arc<Node>,
    /// Non-terminal pods bound or assumed to this node.
    pub pods: Vec<Arc<Pod>>,
    /// The sum of those pods' requests.
    pub requested: Resources,
    /// The sum of their requests with scoring defaults for CPU and memory.
    pub requested_for_scoring: Resources,
    /// Normalized references of the images the node reports holding.
    pub images: BTreeSet<String>,
}

impl NodeInfo {
    /// The node's name.
    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or_default()
    }

    /// The node's labels.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.node.metadata.labels.clone().unwrap_or_default()
    }

    /// What the node can give pods.
    pub fn allocatable(&self) -> Resources {
        let status = self.node.status.as_ref();
        Resources::from_quantities(
            status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref())),
        )
    }
}

/// The cluster at one moment, as the scheduler's caches hold it.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Every node, in name order.
    pub nodes: Vec<NodeInfo>,
    /// PersistentVolumeClaims by `namespace/name`.
    pub claims: BTreeMap<String, Arc<PersistentVolumeClaim>>,
    /// PersistentVolumes by name.
    pub volumes: BTreeMap<String, Arc<PersistentVolume>>,
    /// StorageClasses by name.
    pub classes: BTreeMap<String, Arc<StorageClass>>,
    /// The platforms each of the pod's images offers, where known.
    pub platforms: Platforms,
}

impl Snapshot {
    /// Every pod on every node.
    pub fn all_pods(&self) -> impl Iterator<Item = (&NodeInfo, &Arc<Pod>)> {
        self.nodes
            .iter()
            .flat_map(|n| n.pods.iter().map(move |p| (n, p)))
    }
}

/// A filter: whether a pod can run on a node.
pub trait Filter: Send + Sync {
    /// The plugin's name, as the registry knows it.
    fn name(&self) -> &'static str;

    /// Checks the pod once before any node; a rejection here applies to every node.
    fn pre_filter(&self, _pod: &Pod, _snapshot: &Snapshot) -> Result<(), Status> {
        Ok(())
    }

    /// Whether `pod` fits `node`.
    fn filter(&self, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Result<(), Status>;
}

/// A score: how good a feasible node is for a pod, from 0 to [`MAX_SCORE`].
pub trait Score: Send + Sync {
    /// The plugin's name, as the registry knows it.
    fn name(&self) -> &'static str;

    /// Scores every feasible node at once, so a plugin can normalize across them. Returns
    /// one score per node, in order.
    fn score(
        &self,
        pod: &Pod,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Result<Vec<i64>, Status>;
}

/// Scales raw non-negative counts so the largest becomes [`MAX_SCORE`]; all zero stays zero.
pub fn normalize(raw: &[i64]) -> Vec<i64> {
    let max = raw.iter().copied().max().unwrap_or(0);
    if max <= 0 {
        return vec![0; raw.len()];
    }
    raw.iter().map(|r| r.max(&0) * MAX_SCORE / max).collect()
}

/// Whether a pod is finished, so it no longer holds resources on its node.
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// The upstream-shaped message for a pod no node fits:
/// `0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated taint {k: v}.`
pub fn fit_error(
    total: usize,
    pre_filter: Option<&str>,
    reasons: &BTreeMap<String, usize>,
) -> String {
    let mut message = format!("0/{total} nodes are available");
    if let Some(why) = pre_filter {
        message.push_str(": ");
        message.push_str(why);
    } else if !reasons.is_empty() {
        let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        parts.sort();
        message.push_str(": ");
        message.push_str(&parts.join(", "));
    }
    message.push('.');
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_errors_count_reasons_in_sorted_order() {
        let reasons = BTreeMap::from([
            ("node(s) had untolerated taint {k: v}".to_owned(), 1),
            ("Insufficient memory".to_owned(), 2),
        ]);
        assert_eq!(
            fit_error(3, None, &reasons),
            "0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient memory."
        );
        assert_eq!(
            fit_error(0, None, &BTreeMap::new()),
            "0/0 nodes are available."
        );
        assert_eq!(
            fit_error(2, Some("persistentvolumeclaim \"x\" not found"), &reasons),
            "0/2 nodes are available: persistentvolumeclaim \"x\" not found."
        );
    }

    #[test]
    fn normalize_scales_to_the_maximum() {
        assert_eq!(normalize(&[0, 5, 10]), vec![0, 50, 100]);
        assert_eq!(normalize(&[0, 0]), vec![0, 0]);
    }
}
