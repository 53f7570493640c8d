//! The serviceaccount and root-ca controllers against a real apiserver, in-process.

#![allow(clippy::unwrap_used, reason = "tests")]

mod common;
use common::client;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};

const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n";

/// Polls `check` every 50 ms for up to a minute.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn every_namespace_keeps_its_default_account_and_root_ca() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let settings = closet_controllers::Settings {
        root_ca_pem: Some(CA.to_owned()),
        ..Default::default()
    };
    let controllers = tokio::spawn(closet_controllers::run(
        client.clone(),
        settings,
        async move {
            let _ = stop_rx.await;
        },
    ));

    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some("fresh".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "fresh");
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "fresh");
    let has_ca = || async {
        cms.get_opt("kube-root-ca.crt")
            .await
            .unwrap()
            .and_then(|cm| cm.data)
            .is_some_and(|d| d.get("ca.crt").map(String::as_str) == Some(CA))
    };
    eventually("kube-root-ca.crt published", has_ca).await;
    eventually("default account exists", || async {
        accounts.get_opt("default").await.unwrap().is_some()
    })
    .await;

    // Deleted: both come back.
    let old_uid = accounts.get("default").await.unwrap().metadata.uid;
    accounts
        .delete("default", &DeleteParams::default())
        .await
        .unwrap();
    eventually("default account recreated", || async {
        accounts
            .get_opt("default")
            .await
            .unwrap()
            .is_some_and(|sa| sa.metadata.uid != old_uid)
    })
    .await;
    cms.delete("kube-root-ca.crt", &DeleteParams::default())
        .await
        .unwrap();
    eventually("kube-root-ca.crt recreated", has_ca).await;

    // Edited: the certificate is put back, the extra label stays.
    let mut edited = cms.get("kube-root-ca.crt").await.unwrap();
    edited.data = Some(BTreeMap::from([("ca.crt".into(), "tampered".into())]));
    edited.metadata.labels = Some(BTreeMap::from([("team".into(), "a".into())]));
    cms.replace("kube-root-ca.crt", &PostParams::default(), &edited)
        .await
        .unwrap();
    eventually("kube-root-ca.crt repaired", has_ca).await;
    let repaired = cms.get("kube-root-ca.crt").await.unwrap();
    assert_eq!(repaired.metadata.labels.unwrap()["team"], "a");

    // The system namespaces get theirs too.
    let system: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    eventually("kube-system has the root CA", || async {
        system.get_opt("kube-root-ca.crt").await.unwrap().is_some()
    })
    .await;

    let _ = stop_tx.send(());
    controllers.await.unwrap();
}
