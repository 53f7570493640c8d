//! A minimal binder: places pods that name no node, until the real scheduler exists.
//!
//! It binds through the `pods/binding` subresource, like a scheduler, to a node that is not
//! cordoned and whose labels match the pod's `nodeSelector`, preferring Ready nodes and then
//! the node with the fewest pods. It knows nothing of resources, affinity or taints; the
//! scheduler replaces it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::watcher;

use crate::ControllerError;

/// The scheduler name pods ask for by default.
const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
}

/// Runs the binder until `shutdown` resolves, one pod at a time so pod counts stay right.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let pods: Api<Pod> = Api::all(client.clone());
    let unbound = watcher::Config::default().fields("spec.nodeName=");
    Controller::new(pods, unbound)
        .with_config(controller::Config::default().concurrency(1))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "binder reconcile");
            }
        })
        .await;
}

/// Binds one unbound pod, or waits for a node to appear.
pub async fn reconcile(pod: Arc<Pod>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    let spec = pod.spec.clone().unwrap_or_default();
    let bound = spec.node_name.as_deref().is_some_and(|n| !n.is_empty());
    let ours = spec
        .scheduler_name
        .as_deref()
        .is_none_or(|s| s.is_empty() || s == DEFAULT_SCHEDULER);
    if bound || !ours || pod.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let nodes = nodes
        .list(&ListParams::default())
        .await
        .map_err(ControllerError::api("listing nodes"))?
        .items;
    let pods: Api<Pod> = Api::all(ctx.client.clone());
    let placed = pods
        .list(&ListParams::default())
        .await
        .map_err(ControllerError::api("listing pods"))?
        .items;
    let Some(node) = choose(&pod, &nodes, &placed) else {
        tracing::debug!(
            pod = %pod.metadata.name.as_deref().unwrap_or_default(),
            "no node fits yet"
        );
        return Ok(Action::requeue(Duration::from_secs(5)));
    };
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let binding = Binding {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Node".to_owned()),
            name: Some(node.clone()),
            ..Default::default()
        },
    };
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    api.create_subresource::<Binding, serde_json::Value>(
        "binding",
        &name,
        &PostParams::default(),
        &binding,
    )
    .await
    .map_err(ControllerError::api(format!(
        "binding pod {namespace}/{name} to {node}"
    )))?;
    tracing::debug!(pod = %format!("{namespace}/{name}"), node = %node, "bound");
    Ok(Action::await_change())
}

/// The node for `pod`, if any fits.
pub fn choose(pod: &Pod, nodes: &[Node], placed: &[Pod]) -> Option<String> {
    let selector = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_selector.clone())
        .unwrap_or_default();
    nodes
        .iter()
        .filter(|n| n.metadata.deletion_timestamp.is_none())
        .filter(|n| {
            !n.spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false)
        })
        .filter(|n| {
            let labels = n.metadata.labels.clone().unwrap_or_default();
            selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            let count = placed
                .iter()
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(&name))
                .count();
            (!is_ready(n), count, name)
        })
        .min()
        .map(|(_, _, name)| name)
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn error_policy(_pod: Arc<Pod>, err: &ControllerError, _ctx: Arc<Context>) -> Action {
    tracing::warn!("binder: {}", crate::error_chain(err));
    Action::requeue(Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, ready: bool, labels: serde_json::Value, cordoned: bool) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"unschedulable": cordoned},
            "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .expect("node")
    }

    fn pod(node_name: Option<&str>, selector: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c"}], "nodeName": node_name, "nodeSelector": selector}
        }))
        .expect("pod")
    }

    #[test]
    fn prefers_ready_then_least_loaded_nodes_and_honours_selectors_and_cordons() {
        let nodes = [
            node("a", true, json!({"disk": "ssd"}), false),
            node("b", true, json!({}), false),
            node("c", false, json!({}), false),
            node("d", true, json!({}), true),
        ];
        let placed = [pod(Some("a"), json!({}))];
        assert_eq!(choose(&pod(None, json!({})), &nodes, &placed).unwrap(), "b");
        assert_eq!(
            choose(&pod(None, json!({"disk": "ssd"})), &nodes, &placed).unwrap(),
            "a"
        );
        assert_eq!(
            choose(&pod(None, json!({"disk": "nvme"})), &nodes, &placed),
            None
        );
        assert_eq!(
            choose(
                &pod(None, json!({})),
                &[node("c", false, json!({}), false)],
                &[]
            )
            .unwrap(),
            "c"
        );
        assert_eq!(choose(&pod(None, json!({})), &[], &[]), None);
    }
}
