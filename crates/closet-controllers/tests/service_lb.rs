//! LoadBalancer Service addresses against a real apiserver, in-process.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;
use common::{client, wait_for};

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Service};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

async fn node(nodes: &Api<Node>, name: &str, ip: &str, ready: &str) {
    let obj: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
    if nodes.get_opt(name).await.unwrap().is_none() {
        nodes.create(&PostParams::default(), &obj).await.unwrap();
    }
    let status = json!({"status": {
        "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
        "conditions": [{"type": "Ready", "status": ready}],
    }});
    nodes
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

fn ingress(svc: &Service) -> Vec<String> {
    svc.status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.clone())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| i.ip)
        .collect()
}

async fn ingress_becomes(services: &Api<Service>, name: &str, want: &[&str]) {
    let got = wait_for(Duration::from_secs(10), || async {
        let got = ingress(&services.get(name).await.unwrap());
        (got == want, got)
    })
    .await;
    assert_eq!(got, want);
}

#[tokio::test]
async fn load_balancers_are_reached_at_every_ready_node() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(closet_controllers::service_lb::run(
        client.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    let nodes: Api<Node> = Api::all(client.clone());
    node(&nodes, "b", "192.168.1.21", "True").await;
    node(&nodes, "a", "192.168.1.11", "True").await;
    node(&nodes, "c", "192.168.1.31", "False").await;

    let services: Api<Service> = Api::default_namespaced(client.clone());
    let lb: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]},
    }))
    .unwrap();
    services.create(&PostParams::default(), &lb).await.unwrap();
    let plain: Service = serde_json::from_value(json!({
        "metadata": {"name": "plain"},
        "spec": {"ports": [{"port": 80}]},
    }))
    .unwrap();
    services
        .create(&PostParams::default(), &plain)
        .await
        .unwrap();
    ingress_becomes(&services, "web", &["192.168.1.11", "192.168.1.21"]).await;

    // Nodes come, go NotReady and recover.
    node(&nodes, "c", "192.168.1.31", "True").await;
    ingress_becomes(
        &services,
        "web",
        &["192.168.1.11", "192.168.1.21", "192.168.1.31"],
    )
    .await;
    node(&nodes, "a", "192.168.1.11", "Unknown").await;
    ingress_becomes(&services, "web", &["192.168.1.21", "192.168.1.31"]).await;

    // No longer a LoadBalancer: the addresses go.
    let to_cluster_ip = json!({"spec": {"type": "ClusterIP"}});
    services
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&to_cluster_ip),
        )
        .await
        .unwrap();
    ingress_becomes(&services, "web", &[]).await;
    assert!(ingress(&services.get("plain").await.unwrap()).is_empty());

    let _ = stop_tx.send(());
    controller.await.unwrap();
}
