//! The StatefulSet's status, counted from its pods as upstream counts it.

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::identity::revision_of;
use super::{Context, StatefulSetError, running_ready};

/// Whether a Ready pod has been Ready for `min_ready_seconds`.
fn available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    if !running_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    let since = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0);
    since.is_some_and(|t| now.duration_since(t).as_secs() >= i64::from(min_ready_seconds))
}

/// The status for `pods` (every pod of the set, condemned ones included).
pub(super) fn compute<'a>(
    set: &StatefulSet,
    pods: impl Iterator<Item = &'a Pod>,
    current: &str,
    update: &str,
    collisions: i32,
    rolling: bool,
) -> StatefulSetStatus {
    let min_ready = set
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let now = jiff::Timestamp::now();
    let mut status = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(current.to_owned()),
        update_revision: Some(update.to_owned()),
        collision_count: Some(collisions),
        conditions: set.status.as_ref().and_then(|s| s.conditions.clone()),
        ..Default::default()
    };
    let (mut replicas, mut ready, mut avail, mut at_current, mut at_update) = (0, 0, 0, 0, 0);
    for pod in pods {
        replicas += 1;
        ready += i32::from(running_ready(pod));
        avail += i32::from(available(pod, min_ready, now));
        if pod.metadata.deletion_timestamp.is_none() {
            at_current += i32::from(revision_of(pod) == current);
            at_update += i32::from(revision_of(pod) == update);
        }
    }
    status.replicas = replicas;
    status.ready_replicas = Some(ready);
    status.available_replicas = Some(avail);
    status.current_replicas = Some(at_current);
    status.updated_replicas = Some(at_update);
    // Every pod updated and Ready: the rollout is complete, the update is now current.
    if rolling && at_update == replicas && ready == replicas {
        status.current_revision = Some(update.to_owned());
        status.current_replicas = Some(at_update);
    }
    status
}

/// Writes `status` when it differs from the set's.
pub(super) async fn write(
    ctx: &Context,
    set: &StatefulSet,
    status: &StatefulSetStatus,
) -> Result<(), StatefulSetError> {
    if set.status.as_ref() == Some(status) {
        return Ok(());
    }
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let name = set.metadata.name.clone().unwrap_or_default();
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &ns);
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": status})),
    )
    .await
    .map_err(StatefulSetError::api(format!(
        "writing status of {ns}/{name}"
    )))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(rev: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "labels": {"controller-revision-hash": rev}},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        }))
        .unwrap()
    }

    fn set() -> StatefulSet {
        serde_json::from_value(json!({"metadata": {"name": "web", "generation": 3},
                                      "spec": {"selector": {}, "template": {}}}))
        .unwrap()
    }

    #[test]
    fn counts_and_a_finished_rollout_moves_the_current_revision() {
        let pods = [pod("a", true), pod("b", true), pod("b", false)];
        let s = compute(&set(), pods.iter(), "a", "b", 0, true);
        assert_eq!(s.replicas, 3);
        assert_eq!(s.ready_replicas, Some(2));
        assert_eq!(s.available_replicas, Some(2));
        assert_eq!(s.current_replicas, Some(1));
        assert_eq!(s.updated_replicas, Some(2));
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(s.current_revision.as_deref(), Some("a"));
        let done = [pod("b", true), pod("b", true)];
        let s = compute(&set(), done.iter(), "a", "b", 0, true);
        assert_eq!(s.current_revision.as_deref(), Some("b"));
        assert_eq!(s.current_replicas, Some(2));
    }
}
