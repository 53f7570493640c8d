//! The storage controllers against a real apiserver, in-process: default classes, default
//! class admission, provisioning on the pod's node, binding, and protection.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

async fn client(dir: &tempfile::TempDir) -> kube::Client {
    closet_testkit::client(dir.path()).await
}

async fn wait_for<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_claim_is_provisioned_on_its_pods_node_bound_and_protected() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controllers = tokio::spawn(closet_storage::run(client.clone(), async move {
        let _ = stop_rx.await;
    }));

    let classes: Api<StorageClass> = Api::all(client.clone());
    let default = wait_for("the default class", || {
        let classes = classes.clone();
        async move { classes.get_opt("local-path").await.unwrap() }
    })
    .await;
    assert_eq!(default.provisioner, closet_storage::PROVISIONER);
    assert_eq!(default.reclaim_policy.as_deref(), Some("Retain"));
    assert_eq!(
        default.volume_binding_mode.as_deref(),
        Some("WaitForFirstConsumer")
    );
    let delete = wait_for("the delete class", || {
        let classes = classes.clone();
        async move { classes.get_opt("local-path-delete").await.unwrap() }
    })
    .await;
    assert_eq!(delete.reclaim_policy.as_deref(), Some("Delete"));

    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"},
                     "annotations": {closet_storage::ROOT_ANNOTATION: "/srv/closet/storage"}}
    }))
    .unwrap();
    nodes.create(&PostParams::default(), &node).await.unwrap();

    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .unwrap();
    let created = claims.create(&PostParams::default(), &claim).await.unwrap();
    // Admission: the default class and the protection finalizer.
    assert_eq!(
        created.spec.as_ref().unwrap().storage_class_name.as_deref(),
        Some("local-path")
    );
    assert_eq!(
        created.metadata.finalizers.as_deref(),
        Some(&["kubernetes.io/pvc-protection".to_owned()][..])
    );
    // A claim created by server-side apply passes the same admission.
    let applied: PersistentVolumeClaim = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "applied"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .unwrap();
    let applied = claims
        .patch(
            "applied",
            &kube::api::PatchParams::apply("test"),
            &kube::api::Patch::Apply(&applied),
        )
        .await
        .unwrap();
    assert_eq!(
        applied.spec.as_ref().unwrap().storage_class_name.as_deref(),
        Some("local-path")
    );
    assert_eq!(
        applied.metadata.finalizers.as_deref(),
        Some(&["kubernetes.io/pvc-protection".to_owned()][..])
    );
    let uid = created.metadata.uid.clone().unwrap();
    // WaitForFirstConsumer: nothing happens until a pod on a node uses the claim.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    assert!(pvs.get_opt(&format!("pvc-{uid}")).await.unwrap().is_none());

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "user"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}],
                 "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let bound = wait_for("the claim to be bound", || {
        let claims = claims.clone();
        async move {
            let c = claims.get("data").await.unwrap();
            (c.status.as_ref()?.phase.as_deref() == Some("Bound")).then_some(c)
        }
    })
    .await;
    let pv_name = bound.spec.as_ref().unwrap().volume_name.clone().unwrap();
    assert_eq!(pv_name, format!("pvc-{uid}"));
    assert_eq!(
        bound.status.as_ref().unwrap().capacity.as_ref().unwrap()["storage"].0,
        "1Gi"
    );
    let annotations = bound.metadata.annotations.clone().unwrap();
    assert_eq!(annotations["pv.kubernetes.io/bind-completed"], "yes");
    let pv = wait_for("the volume to be bound", || {
        let pvs = pvs.clone();
        let name = pv_name.clone();
        async move {
            let pv = pvs.get(&name).await.unwrap();
            (pv.status.as_ref()?.phase.as_deref() == Some("Bound")).then_some(pv)
        }
    })
    .await;
    let spec = pv.spec.clone().unwrap();
    assert_eq!(
        spec.local.unwrap().path,
        format!("/srv/closet/storage/pvc-{uid}_default_data")
    );
    assert_eq!(spec.claim_ref.unwrap().uid.as_deref(), Some(uid.as_str()));
    assert_eq!(
        pv.metadata.finalizers.as_deref(),
        Some(&["kubernetes.io/pv-protection".to_owned()][..])
    );

    // In use: the claim stays, Terminating, until the pod goes.
    claims
        .delete("data", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = claims.get("data").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    pods.delete(
        "user",
        &DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    wait_for("the claim to go", || {
        let claims = claims.clone();
        async move {
            claims
                .get_opt("data")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;
    // Retain: the volume is Released and stays; deleting it goes through once unbound.
    wait_for("the volume to be released", || {
        let pvs = pvs.clone();
        let name = pv_name.clone();
        async move {
            let pv = pvs.get(&name).await.unwrap();
            (pv.status.as_ref()?.phase.as_deref() == Some("Released")).then_some(())
        }
    })
    .await;
    pvs.delete(&pv_name, &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the released volume to go", || {
        let pvs = pvs.clone();
        let name = pv_name.clone();
        async move { pvs.get_opt(&name).await.unwrap().is_none().then_some(()) }
    })
    .await;

    // A user's edit of a built-in class survives the next server start.
    classes
        .patch(
            "local-path",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations": {
                "storageclass.kubernetes.io/is-default-class": "false"}}})),
        )
        .await
        .unwrap();
    closet_storage::classes::ensure(&client).await.unwrap();
    let kept = classes.get("local-path").await.unwrap();
    assert_eq!(
        kept.metadata.annotations.unwrap()["storageclass.kubernetes.io/is-default-class"],
        "false"
    );

    let _ = stop_tx.send(());
    let _ = controllers.await;
}

#[tokio::test]
async fn a_precreated_volume_of_the_class_binds_the_smallest_fit() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let controllers = tokio::spawn(closet_storage::run(client.clone(), async move {
        let _ = stop_rx.await;
    }));
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    for (name, size) in [("big", "10Gi"), ("fit", "2Gi"), ("small", "1Mi")] {
        let pv: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"storageClassName": "manual", "accessModes": ["ReadWriteOnce"],
                     "capacity": {"storage": size}, "hostPath": {"path": format!("/tmp/{name}")}}
        }))
        .unwrap();
        pvs.create(&PostParams::default(), &pv).await.unwrap();
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "manual"},
        "spec": {"storageClassName": "manual", "accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .unwrap();
    claims.create(&PostParams::default(), &claim).await.unwrap();
    let volume = wait_for("the claim to be bound", || {
        let claims = claims.clone();
        async move {
            let c = claims.get("manual").await.unwrap();
            (c.status.as_ref()?.phase.as_deref() == Some("Bound")).then(|| c.spec?.volume_name)?
        }
    })
    .await;
    assert_eq!(volume, "fit");
    wait_for("the others to be Available", || {
        let pvs = pvs.clone();
        async move {
            let big = pvs.get("big").await.unwrap();
            (big.status?.phase.as_deref() == Some("Available")).then_some(())
        }
    })
    .await;
    let _ = stop_tx.send(());
    let _ = controllers.await;
}
