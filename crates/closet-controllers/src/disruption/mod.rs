//! PodDisruptionBudget status: how many of a budget's pods may be disrupted now.
//!
//! The `pods/eviction` subresource in the apiserver reads `disruptionsAllowed`, decrements
//! it and records the pod in `disruptedPods`; this controller recomputes the numbers from the
//! pods (a pod in `disruptedPods` no longer counts as healthy until it is gone or the entry
//! times out) and the replicas of the pods' controllers ([`scale`]).

pub mod budget;
pub mod scale;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::ControllerError;

/// The condition the eviction subresource and `kubectl` read.
pub const CONDITION: &str = "DisruptionAllowed";

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
}

/// Runs the disruption controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let pdbs: Api<PodDisruptionBudget> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let controller = Controller::new(pdbs, watcher::Config::default());
    let store = controller.store();
    controller
        .watches(pods, watcher::Config::default(), move |pod: Pod| {
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let namespace = pod.metadata.namespace.clone();
            store
                .state()
                .into_iter()
                .filter(move |pdb| {
                    pdb.metadata.namespace == namespace
                        && pdb
                            .spec
                            .as_ref()
                            .and_then(|s| s.selector.as_ref())
                            .is_some_and(|s| crate::selector::matches(s, &labels))
                })
                .map(|pdb| ObjectRef::from_obj(&*pdb))
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %crate::error_chain(&err), "disruption reconcile");
            }
        })
        .await;
}

/// Retries soon: conflicts with evictions are expected.
pub fn error_policy(
    pdb: Arc<PodDisruptionBudget>,
    err: &ControllerError,
    _: Arc<Context>,
) -> Action {
    tracing::warn!(
        pdb = %pdb.metadata.name.as_deref().unwrap_or_default(),
        error = %crate::error_chain(err),
        "disruption"
    );
    Action::requeue(Duration::from_secs(1))
}

/// Recomputes one budget's status.
pub async fn reconcile(
    pdb: Arc<PodDisruptionBudget>,
    ctx: Arc<Context>,
) -> Result<Action, ControllerError> {
    let namespace = pdb.metadata.namespace.clone().unwrap_or_default();
    let name = pdb.metadata.name.clone().unwrap_or_default();
    let spec = pdb.spec.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let pods: Vec<Pod> = match &spec.selector {
        // No selector selects nothing in policy/v1.
        None => Vec::new(),
        Some(sel) => api
            .list(&ListParams::default())
            .await
            .map_err(ControllerError::api(format!(
                "listing pods for pdb {namespace}/{name}"
            )))?
            .items
            .into_iter()
            .filter(|p| {
                crate::selector::matches(
                    sel,
                    p.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()),
                )
            })
            .collect(),
    };
    let now = jiff::Timestamp::now();
    let old = pdb.status.clone().unwrap_or_default();
    let disrupted =
        budget::pending_disruptions(&old.disrupted_pods.clone().unwrap_or_default(), &pods, now);
    let healthy = pods
        .iter()
        .filter(|p| budget::is_healthy(p))
        .filter(|p| !disrupted.contains_key(p.metadata.name.as_deref().unwrap_or_default()))
        .count();
    let healthy = i32::try_from(healthy).unwrap_or(i32::MAX);
    let pod_count = i32::try_from(pods.len()).unwrap_or(i32::MAX);
    let scale = if budget::needs_scale(&spec) {
        scale::total(&ctx.client, &namespace, &pods).await
    } else {
        Ok(0)
    };
    let numbers = scale
        .and_then(|s| budget::numbers(&spec, pod_count, s, healthy).map_err(|e| e.to_string()));
    let generation = pdb.metadata.generation;
    let mut status = PodDisruptionBudgetStatus {
        observed_generation: generation,
        disrupted_pods: Some(disrupted.clone()).filter(|d| !d.is_empty()),
        ..Default::default()
    };
    let condition = match &numbers {
        Ok(n) => {
            status.expected_pods = n.expected;
            status.desired_healthy = n.desired_healthy;
            status.current_healthy = n.current_healthy;
            status.disruptions_allowed = n.disruptions_allowed;
            if n.disruptions_allowed > 0 {
                ("True", "SufficientPods", String::new())
            } else {
                ("False", "InsufficientPods", String::new())
            }
        }
        Err(why) => {
            // Fail safe, as upstream: no disruptions while the numbers are unknown.
            status.current_healthy = healthy;
            ("False", "SyncFailed", why.clone())
        }
    };
    status.conditions = Some(vec![next_condition(&old, condition, generation, now)]);
    if !same_status(&old, &status) {
        let mut next = (*pdb).clone();
        next.status = Some(status);
        let pdbs: Api<PodDisruptionBudget> = Api::namespaced(ctx.client.clone(), &namespace);
        pdbs.replace_status(&name, &PostParams::default(), &next)
            .await
            .map_err(ControllerError::api(format!(
                "updating status of pdb {namespace}/{name}"
            )))?;
    }
    // Recheck when the oldest recorded eviction times out.
    let expiry = disrupted
        .values()
        .filter_map(|at| Duration::try_from(now.duration_since(at.0)).ok())
        .map(|age| budget::DELETION_TIMEOUT.saturating_sub(age))
        .min();
    Ok(match expiry {
        Some(left) => Action::requeue(left + Duration::from_secs(1)),
        None => Action::requeue(Duration::from_secs(300)),
    })
}

/// The DisruptionAllowed condition, keeping its transition time while its status holds.
fn next_condition(
    old: &PodDisruptionBudgetStatus,
    (status, reason, message): (&str, &str, String),
    generation: Option<i64>,
    now: jiff::Timestamp,
) -> Condition {
    let previous = old
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == CONDITION);
    let transition = previous
        .filter(|c| c.status == status)
        .map_or(Time(now), |c| c.last_transition_time.clone());
    Condition {
        type_: CONDITION.into(),
        status: status.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time: transition,
    }
}

fn same_status(a: &PodDisruptionBudgetStatus, b: &PodDisruptionBudgetStatus) -> bool {
    a == b
}
