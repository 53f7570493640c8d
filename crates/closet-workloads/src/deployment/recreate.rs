//! The Recreate strategy: every old pod is gone before the new ReplicaSet grows.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use super::DeploymentError;
use super::sync::Rollout;
use super::util::{replicas, rs_replicas};

/// Whether any pod of the old ReplicaSets (by uid) still runs or may still run.
pub fn old_pods_running(pods: &[Arc<Pod>], old_uids: &[String]) -> bool {
    pods.iter().any(|p| {
        let owned = crate::shared::ownership::controller_of(&p.metadata)
            .is_some_and(|r| old_uids.contains(&r.uid));
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        owned && !matches!(phase, Some("Succeeded" | "Failed"))
    })
}

/// One step of a recreate rollout; true if it changed anything.
pub async fn step(r: &mut Rollout<'_>, pods: &[Arc<Pod>]) -> Result<bool, DeploymentError> {
    let zeros = vec![0; r.old.len()];
    if r.resize_old(&zeros).await? {
        return Ok(true);
    }
    let old_uids: Vec<String> = r
        .old
        .iter()
        .filter_map(|rs| rs.metadata.uid.clone())
        .collect();
    if old_pods_running(pods, &old_uids) {
        return Ok(false);
    }
    if r.new.is_none() {
        r.create_new().await?;
    }
    let want = replicas(r.d);
    if r.new.as_ref().is_some_and(|n| rs_replicas(n) != want) {
        r.scale_new(want).await?;
        return Ok(true);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn waits_for_old_pods_until_they_finish_or_go() {
        let pod = |uid: &str, phase: &str| {
            Arc::new(serde_json::from_value::<Pod>(json!({
                "metadata": {"name": "p", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": uid, "controller": true}]},
                "status": {"phase": phase}
            })).unwrap())
        };
        let old = vec!["old".to_owned()];
        assert!(old_pods_running(&[pod("old", "Running")], &old));
        assert!(old_pods_running(&[pod("old", "Pending")], &old));
        assert!(!old_pods_running(
            &[pod("old", "Succeeded"), pod("new", "Running")],
            &old
        ));
        assert!(!old_pods_running(&[], &old));
    }
}
