//! The Deployment controller: one ReplicaSet per pod template, rolled from old to new by
//! the Deployment's strategy.
//!
//! A reconcile claims the Deployment's ReplicaSets, picks the one whose template (ignoring
//! `pod-template-hash`) is the Deployment's as new ([`sync`]), then either rescales
//! ([`scale`], for a paused Deployment or a changed replica count mid-rollout) or moves the
//! rollout one step ([`rolling`], [`recreate`]), prunes history past
//! `revisionHistoryLimit`, and writes the status ([`status`]). Events go out as
//! `deployment-controller`.

pub mod recreate;
pub mod rolling;
pub mod scale;
pub mod status;
pub mod sync;
pub mod util;

use std::sync::Arc;
use std::time::Duration;

use closet_events::Recorder;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use serde_json::json;

use crate::shared::{informer, ownership, selector};
use sync::Rollout;

/// Why a Deployment reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// The caches did not fill.
    #[error("caches not ready")]
    CachesNotReady,
    /// A request to the API failed.
    #[error("{action}")]
    Api {
        /// What the controller was doing.
        action: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

impl DeploymentError {
    fn api(action: impl Into<String>, source: kube::Error) -> Self {
        Self::Api {
            action: action.into(),
            source,
        }
    }
}

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
    sets: Store<ReplicaSet>,
    pods: Store<Pod>,
    recorder: Recorder,
}

/// Runs the Deployment controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (deploys, deploy_events) = informer::informer(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default(),
    );
    let (sets, set_events) = informer::informer(
        Api::<ReplicaSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let (pods, pod_events) =
        informer::informer(Api::<Pod>::all(client.clone()), watcher::Config::default());
    let sets_for_pods = sets.clone();
    let queue = futures::stream::select(
        futures::stream::select(
            informer::own(deploy_events, deploys.clone()),
            informer::map_to(set_events, deploys.clone(), |rs, deploys| {
                informer::owners_of(rs, deploys, "Deployment", |d: &Deployment| {
                    d.spec.as_ref().map(|s| &s.selector)
                })
            }),
        ),
        // Recreate waits for old pods to go: their deletions move it on.
        informer::map_to(pod_events, deploys.clone(), move |p: &Pod, _| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            let ending = p.metadata.deletion_timestamp.is_some()
                || matches!(phase, Some("Succeeded" | "Failed"));
            if !ending {
                return Vec::new();
            }
            informer::controller_key::<Pod, ReplicaSet>(p, "ReplicaSet")
                .and_then(|key| sets_for_pods.get(&key))
                .and_then(|rs| informer::controller_key(rs.as_ref(), "Deployment"))
                .into_iter()
                .collect()
        }),
    );
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), "deployment-controller"),
        client,
        sets,
        pods,
    });
    informer::drive(
        "deployment",
        deploys,
        Box::pin(queue),
        reconcile,
        error_policy,
        ctx,
        shutdown,
    )
    .await;
}

/// Moves one Deployment's rollout along and reports its status.
pub async fn reconcile(d: Arc<Deployment>, ctx: Arc<Context>) -> Result<Action, DeploymentError> {
    if !informer::caches_ready(&[&ctx.sets, &ctx.pods]).await {
        return Err(DeploymentError::CachesNotReady);
    }
    let spec = d.spec.clone().unwrap_or_default();
    if d.metadata.deletion_timestamp.is_some() || selector::is_empty(&spec.selector) {
        return Ok(Action::await_change());
    }
    let ns = d.metadata.namespace.clone().unwrap_or_default();
    let candidates: Vec<Arc<ReplicaSet>> = ctx
        .sets
        .state()
        .into_iter()
        .filter(|rs| rs.metadata.namespace.as_deref() == Some(&ns))
        .collect();
    let client = ctx.client.clone();
    let owned = ownership::claim(
        |ns| Api::<ReplicaSet>::namespaced(client.clone(), ns),
        &ownership::controller_ref(d.as_ref()),
        false,
        &spec.selector,
        candidates,
    )
    .await
    .map_err(|e| {
        DeploymentError::api(
            format!("claiming replica sets of {}", informer::key(d.as_ref())),
            e,
        )
    })?;
    let owned: Vec<ReplicaSet> = owned.iter().map(|rs| (**rs).clone()).collect();
    let mut r = Rollout::prepare(&d, &ctx, owned).await?;
    let paused = spec.paused.unwrap_or(false);
    if paused || scale::is_scaling_event(&r) {
        scale::scale(&mut r).await?;
    } else if spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate") {
        let pods: Vec<Arc<Pod>> = ctx
            .pods
            .state()
            .into_iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(&ns))
            .collect();
        recreate::step(&mut r, &pods).await?;
    } else {
        if r.new.is_none() {
            r.create_new().await?;
        }
        rolling::step(&mut r).await?;
    }
    let now = jiff::Timestamp::now();
    let all: Vec<&ReplicaSet> = r.all().collect();
    let mut new_status = status::counters(&d, &all, r.new.as_ref(), now);
    if status::complete(&d, &new_status) || paused {
        r.clean_history().await?;
    }
    let progress = status::Progress {
        note: r.note.take(),
        new_name: r.new.as_ref().and_then(|n| n.metadata.name.clone()),
        paused,
    };
    let wake = status::progress(&d, &mut new_status, progress, now);
    if d.status.as_ref() != Some(&new_status) {
        let api: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ns);
        let name = d.metadata.name.clone().unwrap_or_default();
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": new_status})),
        )
        .await
        .map_err(|e| {
            DeploymentError::api(
                format!("updating status of {}", informer::key(d.as_ref())),
                e,
            )
        })?;
    }
    Ok(match wake {
        Some(after) => Action::requeue(after),
        None => Action::await_change(),
    })
}

fn error_policy(d: Arc<Deployment>, err: &DeploymentError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(deployment = %informer::key(d.as_ref()), "deployment: {}", crate::shared::error_chain(err));
    Action::requeue(Duration::from_secs(2))
}
