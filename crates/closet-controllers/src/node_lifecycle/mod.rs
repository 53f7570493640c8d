//! Node lifecycle: Lease-based health, taints by condition, and NoExecute evictions.
//!
//! A node agent renews its Lease in `kube-node-lease` every 10 s and posts its status when
//! it changes. Each reconcile of a Node:
//!
//! 1. notes when the Lease's `renewTime` or the Ready heartbeat last *changed*, by this
//!    controller's own clock (as upstream: a skewed agent clock cannot fake health);
//! 2. once nothing changed for the grace period, sets Ready, MemoryPressure, DiskPressure and
//!    PIDPressure to Unknown (`NodeStatusUnknown`) and marks the node's pods not ready;
//! 3. sets the taints the conditions call for ([`taints::wanted`]): NoExecute
//!    `not-ready`/`unreachable`, and the NoSchedule taints of TaintNodesByCondition;
//! 4. deletes the node's pods whose toleration of a NoExecute taint has run out, counting
//!    from the taint's `timeAdded`.
//!
//! When the agent comes back, its next status report sets Ready=True and the next reconcile
//! removes the taints. Everything is derived from the objects, so a restart loses nothing
//! but the observation times, which start again (giving every node a fresh grace period).

pub mod pods;
pub mod taints;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde_json::json;

use crate::ControllerError;

/// Default time without a Lease renewal or status report before a node is Unknown (as
/// upstream's `--node-monitor-grace-period`).
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(40);
/// Longest wait between two looks at a node.
const MONITOR_PERIOD: Duration = Duration::from_secs(5);
/// The namespace node Leases live in.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// Conditions the agent owns, set to Unknown when it goes silent.
const AGENT_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];
/// Reason of conditions this controller set to Unknown.
pub const REASON_UNKNOWN: &str = "NodeStatusUnknown";
/// Message of conditions this controller set to Unknown.
pub const MESSAGE_UNKNOWN: &str = "The node agent stopped posting node status.";

/// Settings of the node lifecycle controller.
#[derive(Clone, Debug)]
pub struct Config {
    /// Silence after which a node is Unknown.
    pub grace_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grace_period: DEFAULT_GRACE_PERIOD,
        }
    }
}

/// What this controller last saw of a node's heartbeats, and when it saw them change.
struct Probe {
    renew: Option<String>,
    heartbeat: Option<String>,
    changed: Instant,
}

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
    config: Config,
    recorder: closet_events::Recorder,
    probes: Mutex<HashMap<String, Probe>>,
}

/// Runs the node lifecycle controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let ctx = Arc::new(Context {
        recorder: closet_events::Recorder::new(client.clone(), "node-controller"),
        client,
        config,
        probes: Mutex::new(HashMap::new()),
    });
    Controller::new(nodes, watcher::Config::default())
        .watches(leases, watcher::Config::default(), |lease: Lease| {
            lease
                .metadata
                .name
                .map(|name| ObjectRef::<Node>::new(&name))
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %crate::error_chain(&err), "node lifecycle reconcile");
            }
        })
        .await;
}

/// Retries soon: most failures are conflicts with the agent's own writes.
pub fn error_policy(node: Arc<Node>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(
        node = %node.metadata.name.as_deref().unwrap_or_default(),
        error = %crate::error_chain(err),
        "node lifecycle"
    );
    Action::requeue(Duration::from_secs(1))
}

/// Brings one node's conditions, taints and pods in line with its heartbeats.
pub async fn reconcile(node: Arc<Node>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    let name = node.metadata.name.clone().unwrap_or_default();
    if node.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), LEASE_NAMESPACE);
    let lease = leases
        .get_opt(&name)
        .await
        .map_err(ControllerError::api(format!(
            "reading lease of node {name}"
        )))?;
    let silent_for = ctx.observe(&name, &node, lease.as_ref());
    let now = jiff::Timestamp::now();
    let mut node = (*node).clone();
    if silent_for >= ctx.config.grace_period {
        node = mark_unknown(&ctx, node, now).await?;
    }
    if let Some(next) = taints::reconcile_taints(&node, now) {
        node.spec.get_or_insert_with(Default::default).taints = Some(next);
        let api: Api<Node> = Api::all(ctx.client.clone());
        node = api
            .replace(&name, &PostParams::default(), &node)
            .await
            .map_err(ControllerError::api(format!(
                "updating taints of node {name}"
            )))?;
    }
    let next_eviction = pods::sync(&ctx.client, &ctx.recorder, &node, now).await?;
    let until_silent = ctx.config.grace_period.saturating_sub(silent_for);
    let mut wait = MONITOR_PERIOD;
    if !until_silent.is_zero() {
        wait = wait.min(until_silent + Duration::from_millis(100));
    }
    if let Some(next) = next_eviction {
        wait = wait.min(next + Duration::from_millis(100));
    }
    Ok(Action::requeue(wait))
}

impl Context {
    /// Records the node's heartbeats; returns how long they have not changed.
    fn observe(&self, name: &str, node: &Node, lease: Option<&Lease>) -> Duration {
        let renew = lease
            .and_then(|l| l.spec.as_ref())
            .and_then(|s| s.renew_time.as_ref())
            .map(|t| t.0.to_string());
        let heartbeat = node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .and_then(|c| c.last_heartbeat_time.as_ref())
            .map(|t| t.0.to_string());
        let mut probes = self.probes.lock().unwrap_or_else(|e| e.into_inner());
        let probe = probes.entry(name.to_owned()).or_insert_with(|| Probe {
            renew: renew.clone(),
            heartbeat: heartbeat.clone(),
            changed: Instant::now(),
        });
        if probe.renew != renew || probe.heartbeat != heartbeat {
            probe.renew = renew;
            probe.heartbeat = heartbeat;
            probe.changed = Instant::now();
        }
        probe.changed.elapsed()
    }
}

/// Sets the agent's conditions to Unknown and reports it.
async fn mark_unknown(
    ctx: &Context,
    node: Node,
    now: jiff::Timestamp,
) -> Result<Node, ControllerError> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let current: Vec<NodeCondition> = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let Some(next) = unknown_conditions(&current, now) else {
        return Ok(node);
    };
    let was_ready = taints::condition_status(&node, "Ready") == Some("True");
    let api: Api<Node> = Api::all(ctx.client.clone());
    let patch = json!({ "status": { "conditions": next } });
    let node = api
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(ControllerError::api(format!("marking node {name} unknown")))?;
    tracing::info!(node = %name, "node stopped posting status: conditions set to Unknown");
    if was_ready {
        let message = format!("Node {name} status is now: NodeNotReady");
        ctx.recorder
            .normal(&closet_events::reference(&node), "NodeNotReady", &message)
            .await;
    }
    Ok(node)
}

/// The conditions with every agent-owned one Unknown; `None` if they already are.
pub fn unknown_conditions(
    current: &[NodeCondition],
    now: jiff::Timestamp,
) -> Option<Vec<NodeCondition>> {
    let mut next = current.to_vec();
    let mut changed = false;
    for kind in AGENT_CONDITIONS {
        match next.iter_mut().find(|c| c.type_ == *kind) {
            Some(c) if c.status == "Unknown" => {}
            Some(c) => {
                c.status = "Unknown".into();
                c.reason = Some(REASON_UNKNOWN.into());
                c.message = Some(MESSAGE_UNKNOWN.into());
                c.last_transition_time = Some(Time(now));
                changed = true;
            }
            None => {
                next.push(NodeCondition {
                    type_: (*kind).to_owned(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("The node agent never posted node status.".into()),
                    last_heartbeat_time: Some(Time(now)),
                    last_transition_time: Some(Time(now)),
                });
                changed = true;
            }
        }
    }
    changed.then_some(next)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
