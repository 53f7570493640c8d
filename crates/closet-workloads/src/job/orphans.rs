//! Pods whose Job is gone keep the tracking finalizer nobody would remove; a periodic sweep
//! releases them once they are finished or being deleted, as upstream's controller does for
//! pods of deleted Jobs.

use std::collections::HashSet;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};

use super::pods::TRACKING_FINALIZER;

/// How often the sweep runs.
const INTERVAL: Duration = Duration::from_secs(5);

/// Runs the sweep forever.
pub(super) async fn sweep(client: kube::Client) {
    loop {
        if let Err(err) = once(&client).await {
            tracing::debug!(error = %err, "job controller: orphan sweep failed");
        }
        tokio::time::sleep(INTERVAL).await;
    }
}

async fn once(client: &kube::Client) -> kube::Result<()> {
    let pods: Api<Pod> = Api::all(client.clone());
    let held: Vec<Pod> = pods
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|p| p.finalizers().iter().any(|f| f == TRACKING_FINALIZER))
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            p.metadata.deletion_timestamp.is_some() || matches!(phase, Some("Succeeded" | "Failed"))
        })
        .collect();
    if held.is_empty() {
        return Ok(());
    }
    let jobs: Api<Job> = Api::all(client.clone());
    let live: HashSet<String> = jobs
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|j| j.metadata.deletion_timestamp.is_none())
        .filter_map(|j| j.uid())
        .collect();
    for pod in held {
        let owned = pod
            .owner_references()
            .iter()
            .any(|r| r.controller == Some(true) && r.kind == "Job" && live.contains(&r.uid));
        if owned {
            continue;
        }
        let rest: Vec<&String> = pod
            .finalizers()
            .iter()
            .filter(|f| *f != TRACKING_FINALIZER)
            .collect();
        let body = serde_json::json!({"metadata": {
            "finalizers": rest,
            "resourceVersion": pod.resource_version(),
        }});
        let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace().unwrap_or_default());
        if let Err(err) = api
            .patch(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&body),
            )
            .await
        {
            tracing::debug!(pod = %pod.name_any(), error = %err, "job controller: release failed");
        }
    }
    Ok(())
}
