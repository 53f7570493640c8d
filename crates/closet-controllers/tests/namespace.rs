//! The namespace controller against a real apiserver, in-process.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;
use common::client;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};

async fn wait_gone(api: &Api<Namespace>, name: &str, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if api.get_opt(name).await.unwrap().is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn deleted_namespace_empties_then_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controller = tokio::spawn(closet_controllers::run(
        client.clone(),
        closet_controllers::Settings::default(),
        async move {
            let _ = stop_rx.await;
        },
    ));

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("demo".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "demo");
    let mut held = ConfigMap {
        metadata: ObjectMeta {
            name: Some("held".into()),
            finalizers: Some(vec!["example.com/hold".into()]),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("a".into(), "b".into())])),
        ..Default::default()
    };
    cms.create(&PostParams::default(), &held).await.unwrap();
    held.metadata.name = Some("plain".into());
    held.metadata.finalizers = None;
    cms.create(&PostParams::default(), &held).await.unwrap();

    namespaces
        .delete("demo", &DeleteParams::default())
        .await
        .unwrap();
    // The plain object goes; the held one keeps the namespace Terminating.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(cms.get_opt("plain").await.unwrap().is_none());
    let terminating = namespaces.get("demo").await.unwrap();
    assert_eq!(
        terminating.status.unwrap().phase.as_deref(),
        Some("Terminating")
    );
    assert!(!wait_gone(&namespaces, "demo", Duration::from_millis(500)).await);

    let release = serde_json::json!({"metadata": {"finalizers": null}});
    cms.patch("held", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .unwrap();
    assert!(
        wait_gone(&namespaces, "demo", Duration::from_secs(10)).await,
        "namespace was not removed"
    );

    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), controller)
        .await
        .unwrap()
        .unwrap();
}
