//! `VolumeBinding`: a pod's PersistentVolumeClaims decide where it may run. A claim bound to
//! a volume with `spec.nodeAffinity.required` fits only nodes matching it; an unbound claim
//! whose StorageClass waits for the first consumer fits any node (binding then names the
//! node on the claim, see [`claims_to_select`]); a missing claim, or an unbound one that
//! binds immediately, keeps the pod pending.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};

use crate::framework::{Filter, NodeInfo, Snapshot, Status};
use crate::plugins::namespace;
use crate::selectors::node_term_matches;

/// Reason: a bound volume's node affinity excludes the node.
pub const CONFLICT: &str = "node(s) had volume node affinity conflict";
/// The annotation a WaitForFirstConsumer provisioner reads to learn the chosen node.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The annotation that marks the default StorageClass.
const DEFAULT_CLASS: &str = "storageclass.kubernetes.io/is-default-class";

/// The names of the claims the pod's volumes use (ephemeral volumes as `<pod>-<volume>`).
pub fn claim_names(pod: &Pod) -> Vec<String> {
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    crate::plugins::spec(pod)
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| match (v.persistent_volume_claim, v.ephemeral) {
            (Some(c), _) => Some(c.claim_name),
            (None, Some(_)) => Some(format!("{pod_name}-{}", v.name)),
            _ => None,
        })
        .collect()
}

fn claim<'a>(pod: &Pod, name: &str, snapshot: &'a Snapshot) -> Option<&'a PersistentVolumeClaim> {
    snapshot
        .claims
        .get(&format!("{}/{name}", namespace(pod)))
        .map(AsRef::as_ref)
}

fn bound_volume(c: &PersistentVolumeClaim) -> Option<&str> {
    c.spec
        .as_ref()?
        .volume_name
        .as_deref()
        .filter(|v| !v.is_empty())
}

/// Whether the claim's StorageClass binds when the first consumer is scheduled.
pub fn waits_for_consumer(c: &PersistentVolumeClaim, snapshot: &Snapshot) -> bool {
    let named = c.spec.as_ref().and_then(|s| s.storage_class_name.clone());
    let class = match named {
        Some(name) => snapshot.classes.get(&name),
        None => snapshot.classes.values().find(|sc| {
            sc.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEFAULT_CLASS))
                .map(String::as_str)
                == Some("true")
        }),
    };
    class.and_then(|sc| sc.volume_binding_mode.as_deref()) == Some("WaitForFirstConsumer")
}

/// Claims to check before any node: each must exist, not be going away, and be bound or
/// wait for its consumer.
pub fn check_claims(pod: &Pod, snapshot: &Snapshot) -> Result<(), String> {
    for name in claim_names(pod) {
        let Some(c) = claim(pod, &name, snapshot) else {
            return Err(format!("persistentvolumeclaim \"{name}\" not found"));
        };
        if c.metadata.deletion_timestamp.is_some() {
            return Err(format!("persistentvolumeclaim \"{name}\" is being deleted"));
        }
        if bound_volume(c).is_none() && !waits_for_consumer(c, snapshot) {
            return Err("pod has unbound immediate PersistentVolumeClaims".to_owned());
        }
    }
    Ok(())
}

/// Whether every bound claim's volume may be used from `node`.
pub fn fits(pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Result<(), String> {
    for name in claim_names(pod) {
        let Some(volume) = claim(pod, &name, snapshot).and_then(bound_volume) else {
            continue;
        };
        let Some(pv) = snapshot.volumes.get(volume) else {
            return Err(format!("persistentvolume \"{volume}\" not found"));
        };
        let required = pv
            .spec
            .as_ref()
            .and_then(|s| s.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref());
        if let Some(sel) = required
            && !sel
                .node_selector_terms
                .iter()
                .any(|t| node_term_matches(t, &node.node))
        {
            return Err(CONFLICT.to_owned());
        }
    }
    Ok(())
}

/// The claims binding must annotate with the chosen node: unbound, waiting for their first
/// consumer, and not yet annotated.
pub fn claims_to_select(pod: &Pod, snapshot: &Snapshot) -> Vec<String> {
    claim_names(pod)
        .into_iter()
        .filter(|name| {
            claim(pod, name, snapshot).is_some_and(|c| {
                bound_volume(c).is_none()
                    && waits_for_consumer(c, snapshot)
                    && c.metadata
                        .annotations
                        .as_ref()
                        .is_none_or(|a| !a.contains_key(SELECTED_NODE))
            })
        })
        .collect()
}

/// The plugin.
pub struct VolumeBinding;

impl Filter for VolumeBinding {
    fn name(&self) -> &'static str {
        "VolumeBinding"
    }

    fn pre_filter(&self, pod: &Pod, snapshot: &Snapshot) -> Result<(), Status> {
        check_claims(pod, snapshot).map_err(Status::unschedulable)
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Result<(), Status> {
        fits(pod, node, snapshot).map_err(Status::unschedulable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_util::{node, pod};
    use serde_json::json;
    use std::sync::Arc;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        let pvc = |name: &str, spec| {
            let c: PersistentVolumeClaim = serde_json::from_value(
                json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec}),
            )
            .unwrap();
            (format!("default/{name}"), Arc::new(c))
        };
        s.claims.extend([
            pvc("bound", json!({"volumeName": "pv1"})),
            pvc("wait", json!({"storageClassName": "local-path"})),
            pvc("now", json!({"storageClassName": "fast"})),
        ]);
        s.volumes.insert("pv1".into(), Arc::new(serde_json::from_value(json!({"metadata": {"name": "pv1"}, "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["a"]}]}]}}}})).unwrap()));
        s.classes.insert("local-path".into(), Arc::new(serde_json::from_value(json!({"metadata": {"name": "local-path"}, "provisioner": "x", "volumeBindingMode": "WaitForFirstConsumer"})).unwrap()));
        s.classes.insert("fast".into(), Arc::new(serde_json::from_value(json!({"metadata": {"name": "fast"}, "provisioner": "x", "volumeBindingMode": "Immediate"})).unwrap()));
        s
    }

    fn using(claim: &str) -> Pod {
        pod(
            json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]}}),
        )
    }

    #[test]
    fn bound_volumes_pin_their_node() {
        let s = snapshot();
        let a = node(
            json!({"metadata": {"name": "a", "labels": {"kubernetes.io/hostname": "a"}}}),
            vec![],
        );
        let b = node(
            json!({"metadata": {"name": "b", "labels": {"kubernetes.io/hostname": "b"}}}),
            vec![],
        );
        assert!(fits(&using("bound"), &a, &s).is_ok());
        assert_eq!(fits(&using("bound"), &b, &s), Err(CONFLICT.to_owned()));
        assert!(fits(&using("wait"), &b, &s).is_ok());
    }

    #[test]
    fn claims_must_exist_and_be_bindable() {
        let s = snapshot();
        assert_eq!(
            check_claims(&using("gone"), &s),
            Err("persistentvolumeclaim \"gone\" not found".to_owned())
        );
        assert!(check_claims(&using("wait"), &s).is_ok());
        assert!(check_claims(&using("bound"), &s).is_ok());
        assert!(check_claims(&using("now"), &s).is_err());
        assert_eq!(claims_to_select(&using("wait"), &s), vec!["wait"]);
        assert!(claims_to_select(&using("bound"), &s).is_empty());
    }
}
