//! Addresses for LoadBalancer Services, as k3s's ServiceLB gives them: until the cluster has
//! virtual IPs of its own, a LoadBalancer Service is reached at every Ready node's address
//! (its node ports and the service proxy do the rest), so `status.loadBalancer.ingress`
//! lists the InternalIP of each Ready node, sorted and without duplicates.
//!
//! Services that name a `loadBalancerClass` belong to another implementation and are left
//! alone. When a Service stops being a LoadBalancer, the addresses this controller wrote
//! are cleared. Any Node change requeues every LoadBalancer Service, so nodes joining,
//! leaving or going NotReady show in the status.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde_json::json;

use crate::ControllerError;

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let store = controller.store();
    controller
        .watches(
            Api::<Node>::all(client.clone()),
            watcher::Config::default(),
            move |_node: Node| {
                store
                    .state()
                    .into_iter()
                    .filter(|s| is_load_balancer(s) || !ingress(s).is_empty())
                    .map(|s| ObjectRef::from_obj(&*s))
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %crate::error_chain(&err), "service-lb reconcile");
            }
        })
        .await;
}

fn is_load_balancer(svc: &Service) -> bool {
    svc.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
}

fn has_class(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.load_balancer_class.as_deref())
        .is_some_and(|c| !c.is_empty())
}

/// The IPs currently in `status.loadBalancer.ingress`.
fn ingress(svc: &Service) -> Vec<String> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|i| i.ip.clone())
        .collect()
}

/// The InternalIP of every Ready node that is not being deleted, sorted and deduplicated.
pub fn node_addresses(nodes: &[Node]) -> Vec<String> {
    let ready = |node: &&Node| {
        node.metadata.deletion_timestamp.is_none()
            && node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    };
    let set: BTreeSet<String> = nodes
        .iter()
        .filter(ready)
        .flat_map(|node| {
            node.status
                .as_ref()
                .and_then(|s| s.addresses.clone())
                .unwrap_or_default()
        })
        .filter(|a| a.type_ == "InternalIP")
        .map(|a| a.address)
        .collect();
    set.into_iter().collect()
}

/// Writes one Service's load balancer addresses.
pub async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    if svc.metadata.deletion_timestamp.is_some() || has_class(&svc) {
        return Ok(Action::await_change());
    }
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let wanted = if is_load_balancer(&svc) {
        let nodes = Api::<Node>::all(ctx.client.clone())
            .list(&ListParams::default())
            .await
            .map_err(ControllerError::api("listing nodes"))?;
        node_addresses(&nodes.items)
    } else {
        Vec::new()
    };
    if ingress(&svc) == wanted {
        return Ok(Action::await_change());
    }
    let entries: Vec<_> = wanted.iter().map(|ip| json!({"ip": ip})).collect();
    let ingress = if entries.is_empty() {
        serde_json::Value::Null
    } else {
        json!(entries)
    };
    let patch = json!({"status": {"loadBalancer": {"ingress": ingress}}});
    let result = Api::<Service>::namespaced(ctx.client.clone(), &namespace)
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await;
    match result {
        Ok(_) => Ok(Action::await_change()),
        // Deleted meanwhile: nothing to write.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Action::await_change()),
        Err(err) => Err(ControllerError::api(format!(
            "writing the load balancer status of {namespace}/{name}"
        ))(err)),
    }
}

/// Failed reconciles are retried after a short pause.
pub fn error_policy(svc: Arc<Service>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(
        service = %svc.metadata.name.as_deref().unwrap_or_default(),
        error = %crate::error_chain(err),
        "service-lb"
    );
    Action::requeue(Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeAddress, NodeCondition, NodeStatus};

    fn node(ready: &str, ips: &[&str]) -> Node {
        Node {
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: ready.into(),
                    ..Default::default()
                }]),
                addresses: Some(
                    ips.iter()
                        .map(|ip| NodeAddress {
                            type_: "InternalIP".into(),
                            address: (*ip).into(),
                        })
                        .chain([NodeAddress {
                            type_: "Hostname".into(),
                            address: "pi".into(),
                        }])
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn ready_nodes_internal_ips_sorted_and_deduplicated() {
        let nodes = [
            node("True", &["192.168.1.20"]),
            node("False", &["192.168.1.30"]),
            node("Unknown", &["192.168.1.40"]),
            node("True", &["192.168.1.11", "192.168.1.20"]),
        ];
        assert_eq!(node_addresses(&nodes), ["192.168.1.11", "192.168.1.20"]);
        assert!(node_addresses(&[]).is_empty());
    }
}
