//! The StatefulSet controller: pods with stable names, network identities and claims.
//!
//! Each pass reconciles one set, level-triggered:
//!
//! 1. the set's template is recorded as a ControllerRevision ([`revision`]), giving the
//!    update revision; the current revision is the one most pods were made from;
//! 2. pods `<set>-<ordinal>` are created for every missing ordinal, their claims
//!    ([`claims`]) first. With `OrderedReady` (the default) one at a time, each Running
//!    and Ready before the next; with `Parallel` all at once;
//! 3. pods beyond `replicas` are deleted, highest ordinal first (one at a time with
//!    `OrderedReady`);
//! 4. with `RollingUpdate`, the highest ordinal at or above the partition that is not at
//!    the update revision is deleted once every pod is Ready; step 2 recreates it from
//!    the new template on a later pass. `OnDelete` leaves that to the user;
//! 5. the status is written as `kubectl rollout status` reads it.

pub mod claims;
pub mod identity;
pub mod revision;
mod status;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use closet_events::Recorder;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use serde_json::json;

use identity::{controlled_by, ordinal_of, set_name};

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum StatefulSetError {
    /// A request to the API failed.
    #[error("{action}")]
    Api {
        /// What the controller was doing.
        action: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// No revision name was free of collisions.
    #[error("no free controllerrevision name for statefulset {0}")]
    RevisionCollision(String),
}

impl StatefulSetError {
    fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| Self::Api { action, source }
    }
}

/// An error and its sources, joined with `: `.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
    events: Recorder,
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let sets: Api<StatefulSet> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let ctx = Arc::new(Context {
        events: Recorder::new(client.clone(), "statefulset-controller"),
        client,
    });
    Controller::new(sets, watcher::Config::default())
        .owns(pods, watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "statefulset reconcile");
            }
        })
        .await;
}

/// Whether a pod is Running and its Ready condition True.
pub fn running_ready(pod: &Pod) -> bool {
    let status = pod.status.as_ref();
    status.and_then(|s| s.phase.as_deref()) == Some("Running")
        && pod.metadata.deletion_timestamp.is_none()
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn finished(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// One pass over one set.
pub async fn reconcile(
    set: Arc<StatefulSet>,
    ctx: Arc<Context>,
) -> Result<Action, StatefulSetError> {
    // A deleted set's pods and claims go through their owner references.
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let (revisions, update, collisions) = sync_revisions(&ctx, &set).await?;
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut pods: BTreeMap<i32, Pod> = BTreeMap::new();
    for pod in pods_api
        .list(&ListParams::default())
        .await
        .map_err(StatefulSetError::api(format!("listing pods in {ns}")))?
        .items
    {
        if controlled_by(pod.metadata.owner_references.as_ref(), &set)
            && let Some(ordinal) =
                ordinal_of(&set, pod.metadata.name.as_deref().unwrap_or_default())
        {
            pods.insert(ordinal, pod);
        }
    }
    let update_name = update.metadata.name.clone().unwrap_or_default();
    let current_name = set
        .status
        .as_ref()
        .and_then(|s| s.current_revision.clone())
        .filter(|c| {
            revisions
                .iter()
                .any(|r| r.metadata.name.as_ref() == Some(c))
        })
        .unwrap_or_else(|| update_name.clone());
    let current = revisions
        .iter()
        .find(|r| r.metadata.name.as_ref() == Some(&current_name))
        .unwrap_or(&update);

    let spec = set.spec.clone().unwrap_or_default();
    let ordered = spec.pod_management_policy.as_deref() != Some("Parallel");
    let rolling = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .is_none_or(|t| t == "RollingUpdate");
    let partition = spec
        .update_strategy
        .as_ref()
        .and_then(|s| s.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0)
        .max(0);
    let start = identity::start_ordinal(&set);
    let end = start.saturating_add(identity::replicas(&set));

    // Whether some pod in range is missing, starting or unhealthy.
    let mut blocked = false;
    for ordinal in start..end {
        let waiting = match pods.get(&ordinal) {
            None => {
                if claims::ensure(&ctx, &set, ordinal, None).await?.is_none() {
                    let from = if rolling && ordinal < start.saturating_add(partition) {
                        current
                    } else {
                        &update
                    };
                    create_pod(&ctx, &set, from, ordinal).await?;
                }
                // A pod just created is not Ready yet.
                true
            }
            Some(pod) if finished(pod) && pod.metadata.deletion_timestamp.is_none() => {
                delete_pod(&ctx, &set, pod).await?;
                true
            }
            Some(pod) => {
                claims::ensure(&ctx, &set, ordinal, None).await?;
                !running_ready(pod)
            }
        };
        blocked |= waiting;
        if waiting && ordered {
            break;
        }
    }
    let condemned: Vec<&Pod> = pods
        .iter()
        .rev()
        .filter(|(o, _)| **o < start || **o >= end)
        .map(|(_, p)| p)
        .collect();
    if !(blocked && ordered) {
        for pod in &condemned {
            if pod.metadata.deletion_timestamp.is_none() {
                let ordinal = ordinal_of(&set, pod.metadata.name.as_deref().unwrap_or_default());
                if let Some(ordinal) = ordinal {
                    claims::ensure(&ctx, &set, ordinal, Some(pod)).await?;
                }
                delete_pod(&ctx, &set, pod).await?;
            }
            if ordered {
                break;
            }
        }
    }
    let in_range = || {
        pods.iter()
            .filter(|(o, _)| **o >= start && **o < end)
            .map(|(_, p)| p)
    };
    // One pod at a time, and only while every ordinal exists and is Ready: a pod this pass
    // created or deleted is not in `pods` and must not count as healthy.
    let complete = i32::try_from(in_range().count()).unwrap_or(i32::MAX) == end - start;
    if rolling && !blocked && condemned.is_empty() && complete && in_range().all(running_ready) {
        let first = start.saturating_add(partition);
        let stale = in_range()
            .rev()
            .filter(|p| {
                ordinal_of(&set, p.metadata.name.as_deref().unwrap_or_default()) >= Some(first)
            })
            .find(|p| identity::revision_of(p) != update_name);
        if let Some(pod) = stale {
            delete_pod(&ctx, &set, pod).await?;
        }
    }

    let computed = status::compute(
        &set,
        pods.values(),
        &current_name,
        &update_name,
        collisions,
        rolling,
    );
    status::write(&ctx, &set, &computed).await?;
    prune_history(
        &ctx,
        &set,
        &revisions,
        &pods,
        &[&current_name, &update_name],
    )
    .await;
    // Pods becoming available after minReadySeconds change no object; look again then.
    match spec.min_ready_seconds.filter(|s| *s > 0) {
        Some(secs)
            if computed.available_replicas.unwrap_or(0) < computed.ready_replicas.unwrap_or(0) =>
        {
            Ok(Action::requeue(Duration::from_secs(
                u64::try_from(secs).unwrap_or(1),
            )))
        }
        _ => Ok(Action::await_change()),
    }
}

async fn create_pod(
    ctx: &Context,
    set: &StatefulSet,
    revision: &ControllerRevision,
    ordinal: i32,
) -> Result<(), StatefulSetError> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let template = revision::template_of(revision)
        .or_else(|| set.spec.as_ref().map(|s| s.template.clone()))
        .unwrap_or_default();
    let name_of_revision = revision.metadata.name.clone().unwrap_or_default();
    let pod = identity::new_pod(set, &template, &name_of_revision, ordinal);
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let reference = closet_events::reference(set);
    match api.create(&PostParams::default(), &pod).await {
        Ok(_) => {
            let message = format!(
                "create Pod {name} in StatefulSet {} successful",
                set_name(set)
            );
            ctx.events
                .normal(&reference, "SuccessfulCreate", &message)
                .await;
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(err) => {
            let err = StatefulSetError::api(format!("creating pod {ns}/{name}"))(err);
            let message = format!(
                "create Pod {name} in StatefulSet {} failed error: {}",
                set_name(set),
                error_chain(&err)
            );
            ctx.events
                .warning(&reference, "FailedCreate", &message)
                .await;
            Err(err)
        }
    }
}

async fn delete_pod(ctx: &Context, set: &StatefulSet, pod: &Pod) -> Result<(), StatefulSetError> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => {
            let message = format!(
                "delete Pod {name} in StatefulSet {} successful",
                set_name(set)
            );
            ctx.events
                .normal(&closet_events::reference(set), "SuccessfulDelete", &message)
                .await;
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(err) => Err(StatefulSetError::api(format!("deleting pod {ns}/{name}"))(
            err,
        )),
    }
}

/// The set's revisions, the update revision (created or renumbered as needed) and the
/// collision count.
async fn sync_revisions(
    ctx: &Context,
    set: &StatefulSet,
) -> Result<(Vec<ControllerRevision>, ControllerRevision, i32), StatefulSetError> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(ctx.client.clone(), &ns);
    let revisions: Vec<ControllerRevision> = api
        .list(&ListParams::default())
        .await
        .map_err(StatefulSetError::api(format!(
            "listing controllerrevisions in {ns}"
        )))?
        .items
        .into_iter()
        .filter(|r| revision::owned_by(r, set))
        .collect();
    let data = revision::patch_of(set);
    let latest = revisions.iter().map(|r| r.revision).max().unwrap_or(0);
    let mut collisions = set
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    for _ in 0..8 {
        let name = format!("{}-{}", set_name(set), revision::hash(&data, collisions));
        if let Some(found) = revisions
            .iter()
            .find(|r| r.metadata.name.as_ref() == Some(&name))
        {
            if found.data.as_ref().map(|d| &d.0) != Some(&data) {
                collisions += 1;
                continue;
            }
            let mut found = found.clone();
            // Going back to an older template makes its revision the newest again.
            if found.revision < latest {
                let patch = json!({"revision": latest + 1});
                found = api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(StatefulSetError::api(format!("renumbering {ns}/{name}")))?;
            }
            return Ok((revisions, found, collisions));
        }
        let new = revision::new_revision(set, data.clone(), name.clone(), latest + 1);
        match api.create(&PostParams::default(), &new).await {
            Ok(created) => {
                let mut all = revisions;
                all.push(created.clone());
                return Ok((all, created, collisions));
            }
            // Someone else's revision holds the name.
            Err(kube::Error::Api(s)) if s.code == 409 => collisions += 1,
            Err(err) => return Err(StatefulSetError::api(format!("creating {ns}/{name}"))(err)),
        }
    }
    Err(StatefulSetError::RevisionCollision(
        set_name(set).to_owned(),
    ))
}

/// Deletes revisions beyond `revisionHistoryLimit` (10) that no pod uses.
async fn prune_history(
    ctx: &Context,
    set: &StatefulSet,
    revisions: &[ControllerRevision],
    pods: &BTreeMap<i32, Pod>,
    keep: &[&str],
) {
    let limit = set
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    let mut in_use: Vec<&str> = pods.values().map(identity::revision_of).collect();
    in_use.extend_from_slice(keep);
    let api: Api<ControllerRevision> = Api::namespaced(
        ctx.client.clone(),
        set.metadata.namespace.as_deref().unwrap_or_default(),
    );
    for old in revision::excess(revisions, &in_use, usize::try_from(limit).unwrap_or(0)) {
        let name = old.metadata.name.clone().unwrap_or_default();
        if let Err(err) = api.delete(&name, &DeleteParams::default()).await {
            tracing::debug!(revision = %name, "pruning history: {err}");
        }
    }
}

/// Failed reconciles are retried after a short pause.
pub fn error_policy(set: Arc<StatefulSet>, err: &StatefulSetError, _ctx: Arc<Context>) -> Action {
    let name = set.metadata.name.as_deref().unwrap_or_default();
    tracing::warn!(statefulset = name, error = %error_chain(err), "statefulset reconcile failed");
    Action::requeue(Duration::from_secs(2))
}
