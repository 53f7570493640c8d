//! Pod facts the workload controllers count by, and pods made from templates.

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// Whether the pod's Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// When the pod last became Ready, if it is Ready.
pub fn ready_since(pod: &Pod) -> Option<jiff::Timestamp> {
    let cond = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")?;
    Some(
        cond.last_transition_time
            .as_ref()
            .map(|t| t.0)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    )
}

/// Whether the pod has been Ready for at least `min_ready_seconds` at `now`.
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: jiff::Timestamp) -> bool {
    ready_since(pod).is_some_and(|since| {
        min_ready_seconds <= 0
            || since + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds)) <= now
    })
}

/// How long until the Ready pod becomes available, if it is Ready but not yet available.
pub fn until_available(
    pod: &Pod,
    min_ready_seconds: i32,
    now: jiff::Timestamp,
) -> Option<std::time::Duration> {
    let since = ready_since(pod)?;
    let at = since + jiff::SignedDuration::from_secs(i64::from(min_ready_seconds.max(0)));
    let left = at.duration_since(now);
    (left.is_positive()).then(|| left.unsigned_abs())
}

/// Whether the pod counts toward a controller's replicas: not finished and not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// Whether the pod is bound to a node.
pub fn is_scheduled(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

/// A pod from `template`, named `<prefix>-<random>` by the server, in `namespace`,
/// controlled by `owner`.
pub fn from_template(
    template: &PodTemplateSpec,
    prefix: &str,
    namespace: &str,
    owner: OwnerReference,
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{prefix}-")),
            namespace: Some(namespace.to_owned()),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Runs `create` for `count` items in slow-start batches (1, 2, 4, ...), as upstream does so
/// a template the API rejects fails once rather than `count` times. Stops at the first batch
/// with a failure; returns how many succeeded and the first error.
pub async fn slow_start<F, Fut, E>(count: usize, create: F) -> (usize, Option<E>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
{
    let mut done = 0;
    let mut batch = 1;
    while done < count {
        let n = batch.min(count - done);
        let results = futures::future::join_all((0..n).map(|_| create())).await;
        let mut error = None;
        for r in results {
            match r {
                Ok(()) => done += 1,
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        if error.is_some() {
            return (done, error);
        }
        batch *= 2;
    }
    (done, None)
}

/// Deletes a pod a controller owns, only if it is still the same pod (a uid precondition),
/// records the deletion in `expectations` under the controller's `key` and says so in a
/// `SuccessfulDelete` event on `owner`. A pod already gone (404) or replaced (409) is fine.
pub async fn delete_owned(
    api: &kube::Api<Pod>,
    pod: &Pod,
    expectations: &super::expectations::Expectations,
    key: &str,
    recorder: &closet_events::Recorder,
    owner: &k8s_openapi::api::core::v1::ObjectReference,
) -> Result<(), kube::Error> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let params = kube::api::DeleteParams {
        preconditions: Some(kube::api::Preconditions {
            uid: Some(uid.clone()),
            resource_version: None,
        }),
        ..kube::api::DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {
            expectations.deleted(key, &uid);
            recorder
                .normal(owner, "SuccessfulDelete", &format!("Deleted pod: {name}"))
                .await;
            Ok(())
        }
        Err(e) if super::is_status(&e, 404) || super::is_status(&e, 409) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ready_and_available() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}
            ]}
        }))
        .unwrap();
        let t0: jiff::Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        assert!(is_ready(&pod));
        assert!(is_available(&pod, 0, t0));
        assert!(!is_available(&pod, 10, t0));
        assert!(is_available(
            &pod,
            10,
            t0 + jiff::SignedDuration::from_secs(10)
        ));
        assert_eq!(
            until_available(&pod, 10, t0 + jiff::SignedDuration::from_secs(4)),
            Some(std::time::Duration::from_secs(6))
        );
        assert!(is_active(&pod));
    }

    #[tokio::test]
    async fn slow_start_stops_at_the_first_failing_batch() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let (done, err) = slow_start(10, || {
            let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { if n >= 4 { Err("boom") } else { Ok(()) } }
        })
        .await;
        // Batches 1, 2 succeed (3 calls), the batch of 4 has one success then failures.
        assert_eq!((done, err), (4, Some("boom")));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 7);
    }
}
