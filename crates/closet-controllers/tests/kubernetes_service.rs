//! The `kubernetes` Service's endpoints belong to the apiserver: the endpoints controllers,
//! running against a server that wrote them, leave them as they are.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;
use common::wait_for;

use std::time::Duration;

use closet_apiserver::Config;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, PostParams};
use serde_json::json;

#[tokio::test]
async fn endpoints_controllers_leave_the_kubernetes_service_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        kubernetes_endpoint: Some("192.168.1.10:6443".parse().unwrap()),
        ..Config::default()
    };
    let api = closet_testkit::apiserver(dir.path(), config).await;
    let client = closet_testkit::admin_client(&api);
    let eps: Api<Endpoints> = Api::default_namespaced(client.clone());
    let slices: Api<EndpointSlice> = Api::default_namespaced(client.clone());
    let before = (
        eps.get("kubernetes")
            .await
            .unwrap()
            .metadata
            .resource_version,
        slices
            .get("kubernetes")
            .await
            .unwrap()
            .metadata
            .resource_version,
    );

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controllers = tokio::spawn(closet_controllers::endpoints::run(
        client.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));
    // A Service with a selector: once its Endpoints exist, the controllers have been through
    // the Services they started with, `kubernetes` among them.
    let web: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }))
    .unwrap();
    Api::<Service>::default_namespaced(client.clone())
        .create(&PostParams::default(), &web)
        .await
        .unwrap();
    let written = wait_for(Duration::from_secs(10), || async {
        let found = eps.get_opt("web").await.unwrap().is_some();
        (found, found)
    })
    .await;
    assert!(
        written,
        "the endpoints controller never wrote web's Endpoints"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = (
        eps.get("kubernetes")
            .await
            .unwrap()
            .metadata
            .resource_version,
        slices
            .get("kubernetes")
            .await
            .unwrap()
            .metadata
            .resource_version,
    );
    assert_eq!(before, after);

    let _ = stop_tx.send(());
    controllers.await.unwrap();
}
