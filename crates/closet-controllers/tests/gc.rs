//! The garbage collector against a real apiserver, in-process: the three propagation
//! policies, blockOwnerDeletion, several owners and dangling references.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use closet_apiserver::Config;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};

struct Env {
    cms: Api<ConfigMap>,
    client: kube::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let api = closet_testkit::apiserver(dir.path(), Config::default()).await;
    let client = closet_testkit::admin_client(&api);
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(closet_controllers::gc::run(client.clone(), async move {
        let _ = stop_rx.await;
    }));
    Env {
        cms: Api::namespaced(client.clone(), "default"),
        client,
        _stop: stop,
        _dir: dir,
    }
}

fn owner_ref(cm: &ConfigMap, block: bool) -> OwnerReference {
    OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: cm.metadata.name.clone().unwrap(),
        uid: cm.metadata.uid.clone().unwrap(),
        block_owner_deletion: Some(block),
        ..OwnerReference::default()
    }
}

async fn make(
    cms: &Api<ConfigMap>,
    name: &str,
    owners: Vec<OwnerReference>,
    hold: bool,
) -> ConfigMap {
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            owner_references: Some(owners),
            finalizers: hold.then(|| vec!["example.com/hold".to_string()]),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    cms.create(&PostParams::default(), &cm).await.unwrap()
}

/// Waits (bounded) until `check` holds for the named object's state (`None` = gone).
async fn until(cms: &Api<ConfigMap>, name: &str, check: impl Fn(Option<&ConfigMap>) -> bool) {
    for _ in 0..600 {
        if check(cms.get_opt(name).await.unwrap().as_ref()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{name} never reached the expected state: {:?}",
        cms.get_opt(name).await.unwrap()
    );
}

async fn release(cms: &Api<ConfigMap>, name: &str) {
    let body = serde_json::json!({"metadata": {"finalizers": null}});
    cms.patch(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap();
}

fn policy(p: kube::api::PropagationPolicy) -> DeleteParams {
    DeleteParams {
        propagation_policy: Some(p),
        ..DeleteParams::default()
    }
}

#[tokio::test]
async fn background_deletes_dependents_after_the_owner() {
    let e = env().await;
    let owner = make(&e.cms, "owner", vec![], false).await;
    make(&e.cms, "child", vec![owner_ref(&owner, false)], false).await;
    let grandchild_owner = e.cms.get("child").await.unwrap();
    make(
        &e.cms,
        "grandchild",
        vec![owner_ref(&grandchild_owner, false)],
        false,
    )
    .await;
    // No policy given: background, the default; the owner goes at once.
    e.cms
        .delete("owner", &DeleteParams::default())
        .await
        .unwrap();
    assert!(e.cms.get_opt("owner").await.unwrap().is_none());
    until(&e.cms, "child", |c| c.is_none()).await;
    until(&e.cms, "grandchild", |c| c.is_none()).await;
}

#[tokio::test]
async fn foreground_waits_for_blocking_dependents() {
    let e = env().await;
    let owner = make(&e.cms, "owner", vec![], false).await;
    make(&e.cms, "blocking", vec![owner_ref(&owner, true)], true).await;
    make(&e.cms, "loose", vec![owner_ref(&owner, false)], false).await;
    e.cms
        .delete("owner", &policy(kube::api::PropagationPolicy::Foreground))
        .await
        .unwrap();
    let marked = e.cms.get("owner").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(
        marked.metadata.finalizers.as_deref(),
        Some(&["foregroundDeletion".to_string()][..])
    );
    until(&e.cms, "loose", |c| c.is_none()).await;
    until(&e.cms, "blocking", |c| {
        c.is_some_and(|c| c.metadata.deletion_timestamp.is_some())
    })
    .await;
    // The blocking dependent is held by its own finalizer: the owner must wait for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(e.cms.get_opt("owner").await.unwrap().is_some());
    release(&e.cms, "blocking").await;
    until(&e.cms, "blocking", |c| c.is_none()).await;
    until(&e.cms, "owner", |c| c.is_none()).await;
}

#[tokio::test]
async fn foreground_without_dependents_just_deletes() {
    let e = env().await;
    make(&e.cms, "alone", vec![], false).await;
    e.cms
        .delete("alone", &policy(kube::api::PropagationPolicy::Foreground))
        .await
        .unwrap();
    until(&e.cms, "alone", |c| c.is_none()).await;
}

#[tokio::test]
async fn orphan_keeps_dependents_without_the_reference() {
    let e = env().await;
    let owner = make(&e.cms, "owner", vec![], false).await;
    let other = make(&e.cms, "other", vec![], false).await;
    make(
        &e.cms,
        "kept",
        vec![owner_ref(&owner, true), owner_ref(&other, false)],
        false,
    )
    .await;
    e.cms
        .delete("owner", &policy(kube::api::PropagationPolicy::Orphan))
        .await
        .unwrap();
    until(&e.cms, "owner", |c| c.is_none()).await;
    let kept = e.cms.get("kept").await.unwrap();
    let refs = kept.metadata.owner_references.unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].name, "other");
}

#[tokio::test]
async fn legacy_orphan_dependents_orphans() {
    let e = env().await;
    let owner = make(&e.cms, "owner", vec![], false).await;
    make(&e.cms, "kept", vec![owner_ref(&owner, false)], false).await;
    // kube's DeleteParams lacks the deprecated field; send it as older clients did.
    let uri = "/api/v1/namespaces/default/configmaps/owner?orphanDependents=true";
    let req = http::Request::delete(uri).body(Vec::new()).unwrap();
    e.client.request_text(req).await.unwrap();
    until(&e.cms, "owner", |c| c.is_none()).await;
    let kept = e.cms.get("kept").await.unwrap();
    assert!(
        kept.metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn a_dependent_goes_only_when_all_owners_are_gone() {
    let e = env().await;
    let a = make(&e.cms, "a", vec![], false).await;
    let b = make(&e.cms, "b", vec![], false).await;
    make(
        &e.cms,
        "shared",
        vec![owner_ref(&a, false), owner_ref(&b, false)],
        false,
    )
    .await;
    e.cms.delete("a", &DeleteParams::default()).await.unwrap();
    until(&e.cms, "shared", |c| {
        c.is_some_and(|c| {
            c.metadata
                .owner_references
                .as_ref()
                .is_some_and(|r| r.len() == 1)
        })
    })
    .await;
    e.cms.delete("b", &DeleteParams::default()).await.unwrap();
    until(&e.cms, "shared", |c| c.is_none()).await;
}

#[tokio::test]
async fn a_dangling_reference_deletes_the_dependent() {
    let e = env().await;
    let ghost = OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: "never-was".into(),
        uid: "00000000-0000-0000-0000-000000000001".into(),
        ..OwnerReference::default()
    };
    make(&e.cms, "orphaned", vec![ghost], false).await;
    // A live owner with the same name but another UID is not the owner either.
    make(&e.cms, "impostor", vec![], false).await;
    let wrong = OwnerReference {
        name: "impostor".into(),
        uid: "00000000-0000-0000-0000-000000000002".into(),
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        ..OwnerReference::default()
    };
    make(&e.cms, "misled", vec![wrong], false).await;
    until(&e.cms, "orphaned", |c| c.is_none()).await;
    until(&e.cms, "misled", |c| c.is_none()).await;
    assert!(e.cms.get_opt("impostor").await.unwrap().is_some());
}

#[tokio::test]
async fn a_pod_owned_by_a_configmap_goes_in_the_foreground() {
    let e = env().await;
    let owner = make(&e.cms, "owner", vec![], false).await;
    let pods: Api<Pod> = Api::namespaced(e.client.clone(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "ownerReferences": [owner_ref(&owner, true)]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    e.cms
        .delete("owner", &policy(kube::api::PropagationPolicy::Foreground))
        .await
        .unwrap();
    for _ in 0..600 {
        if pods.get_opt("p").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pods.get_opt("p").await.unwrap().is_none());
    until(&e.cms, "owner", |c| c.is_none()).await;
}

#[tokio::test]
async fn a_deleted_pod_stays_until_its_last_finalizer_goes() {
    let e = env().await;
    let pods: Api<Pod> = Api::namespaced(e.client.clone(), "default");
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "held", "finalizers": ["batch.kubernetes.io/job-tracking"]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    pods.delete("held", &DeleteParams::default()).await.unwrap();
    let marked = pods.get("held").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    let body = serde_json::json!({"metadata": {"finalizers": null}});
    pods.patch("held", &PatchParams::default(), &Patch::Merge(&body))
        .await
        .unwrap();
    assert!(pods.get_opt("held").await.unwrap().is_none());
}
