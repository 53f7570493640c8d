//! Pod CIDR allocation against a real apiserver, in-process.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;
use common::client;

use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, PostParams};
use serde_json::json;

/// Polls `check` every 50 ms for up to 10 s.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    mut check: impl FnMut() -> F,
) -> T {
    for _ in 0..200 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within 10 s");
}

#[tokio::test]
async fn nodes_get_distinct_pod_cidrs() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controllers = tokio::spawn(closet_controllers::run(
        client.clone(),
        closet_controllers::Settings::default(),
        async move {
            let _ = stop_rx.await;
        },
    ));

    let nodes: Api<Node> = Api::all(client.clone());
    for name in ["one", "two"] {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }
    let cidr = |name: &'static str| {
        let nodes = nodes.clone();
        async move { nodes.get(name).await.unwrap().spec?.pod_cidr }
    };
    let one = eventually(|| cidr("one")).await;
    let two = eventually(|| cidr("two")).await;
    assert_ne!(one, two);
    let mut both = [one.clone(), two.clone()];
    both.sort();
    assert_eq!(both, ["10.42.0.0/24", "10.42.1.0/24"]);

    let _ = stop_tx.send(());
    controllers.await.unwrap();
}
