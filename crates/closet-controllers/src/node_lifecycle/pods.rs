//! What a node's health means for its pods: Ready=False when the node is Unknown (upstream's
//! MarkPodsNotReady), and deletion once a NoExecute taint is no longer tolerated.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use serde_json::json;

use super::taints;
use crate::ControllerError;

/// Marks pods not ready, evicts those out of toleration, and returns how long until the
/// next eviction is due, if any.
pub async fn sync(
    client: &kube::Client,
    recorder: &closet_events::Recorder,
    node: &Node,
    now: jiff::Timestamp,
) -> Result<Option<Duration>, ControllerError> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let no_execute = taints::no_execute(node);
    let unknown = taints::condition_status(node, "Ready") == Some("Unknown");
    if no_execute.is_empty() && !unknown {
        return Ok(None);
    }
    let all: Api<Pod> = Api::all(client.clone());
    let pods = all
        .list(&ListParams::default().fields(&format!("spec.nodeName={name}")))
        .await
        .map_err(ControllerError::api(format!("listing pods on node {name}")))?
        .items;
    let mut next: Option<Duration> = None;
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if unknown {
            mark_not_ready(client, &pod, now).await?;
        }
        match eviction_due(&pod, &no_execute, now) {
            Some(Duration::ZERO) => evict(client, recorder, &pod).await?,
            Some(left) => next = Some(next.map_or(left, |n| n.min(left))),
            None => {}
        }
    }
    Ok(next)
}

/// How long until `pod` must go because of `no_execute` taints: `Some(ZERO)` now, `None` never.
pub fn eviction_due(pod: &Pod, no_execute: &[Taint], now: jiff::Timestamp) -> Option<Duration> {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.clone())
        .unwrap_or_default();
    let mut due: Option<Duration> = None;
    for taint in no_execute {
        let Some(window) = taints::toleration_window(&tolerations, taint) else {
            continue;
        };
        let added = taint.time_added.as_ref().map_or(now, |t| t.0);
        // A taint stamped in the future (a skewed clock) counts as added now.
        let elapsed = Duration::try_from(now.duration_since(added)).unwrap_or(Duration::ZERO);
        let left = window.saturating_sub(elapsed);
        due = Some(due.map_or(left, |d| d.min(left)));
    }
    due
}

/// Sets the pod's Ready condition to False, if it is not already.
async fn mark_not_ready(
    client: &kube::Client,
    pod: &Pod,
    now: jiff::Timestamp,
) -> Result<(), ControllerError> {
    let mut conditions: Vec<PodCondition> = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let Some(ready) = conditions.iter_mut().find(|c| c.type_ == "Ready") else {
        return Ok(());
    };
    if ready.status == "False" {
        return Ok(());
    }
    ready.status = "False".into();
    ready.reason = Some("NodeNotReady".into());
    ready.message = Some("The node this pod runs on is not reachable.".into());
    ready.last_transition_time = Some(Time(now));
    let (namespace, name) = identity(pod);
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let patch = json!({ "status": { "conditions": conditions } });
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(ControllerError::api(format!(
            "marking pod {namespace}/{name} not ready"
        )))?;
    Ok(())
}

/// Deletes `pod`, first saying why in a DisruptionTarget condition, as upstream.
async fn evict(
    client: &kube::Client,
    recorder: &closet_events::Recorder,
    pod: &Pod,
) -> Result<(), ControllerError> {
    let (namespace, name) = identity(pod);
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let mut conditions: Vec<PodCondition> = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    if !conditions.iter().any(|c| c.type_ == "DisruptionTarget") {
        conditions.push(PodCondition {
            type_: "DisruptionTarget".into(),
            status: "True".into(),
            reason: Some("DeletionByTaintManager".into()),
            message: Some("Taint manager: deleting due to NoExecute taint".into()),
            last_transition_time: Some(Time(jiff::Timestamp::now())),
            ..Default::default()
        });
        let patch = json!({ "status": { "conditions": conditions } });
        match api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
            Err(err) => {
                return Err(ControllerError::api(format!(
                    "marking pod {namespace}/{name} for eviction"
                ))(err));
            }
        }
    }
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..Default::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(err) => {
            return Err(ControllerError::api(format!(
                "evicting pod {namespace}/{name}"
            ))(err));
        }
    }
    tracing::info!(pod = %format!("{namespace}/{name}"), "evicted: NoExecute taint no longer tolerated");
    let message = format!("Marking for deletion Pod {namespace}/{name}");
    recorder
        .normal(
            &closet_events::reference(pod),
            "TaintManagerEviction",
            &message,
        )
        .await;
    Ok(())
}

fn identity(pod: &Pod) -> (String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}
