//! The apiserver driven by kube-rs with no socket: `kube::Client` calls the router as a tower
//! Service, exactly as the in-process components of `closet server` do.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeMap;
use std::time::Duration;

use closet_apiserver::{ApiServer, Config, auth::User};
use closet_store::sqlite::{Options, SqliteStore};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::watcher;

struct Server {
    _dir: tempfile::TempDir,
    client: kube::Client,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let api = ApiServer::new(store, Config::default());
    api.bootstrap().await.unwrap();
    let admin = User {
        name: "test-admin".into(),
        groups: vec!["system:masters".into()],
    };
    let client = kube::Client::new(api.router_as(admin), "default");
    Server { _dir: dir, client }
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([("app".into(), "demo".into())])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("key".into(), value.into())])),
        ..Default::default()
    }
}

#[tokio::test]
async fn crud_round_trip() {
    let s = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(s.client.clone());
    let created = cms
        .create(&PostParams::default(), &config_map("a", "1"))
        .await
        .unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());

    let got = cms.get("a").await.unwrap();
    assert_eq!(got.data.unwrap()["key"], "1");

    let mut changed = cms.get("a").await.unwrap();
    changed.data = Some(BTreeMap::from([("key".into(), "2".into())]));
    let replaced = cms
        .replace("a", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_ne!(replaced.metadata.resource_version.unwrap(), rv);

    // A stale resourceVersion is a 409 Conflict.
    let mut stale = changed.clone();
    stale.metadata.resource_version = Some(rv);
    let err = cms
        .replace("a", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err:?}"
    );

    let patch = serde_json::json!({"metadata": {"labels": {"tier": "web"}}});
    let patched = cms
        .patch("a", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.unwrap()["tier"], "web");

    cms.delete("a", &DeleteParams::default()).await.unwrap();
    let err = cms.get("a").await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 404 && s.reason == "NotFound"));
}

#[tokio::test]
async fn list_pages_share_one_snapshot() {
    let s = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(s.client.clone());
    for i in 0..5 {
        cms.create(&PostParams::default(), &config_map(&format!("cm{i}"), "x"))
            .await
            .unwrap();
    }
    let first = cms.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().unwrap();
    // Written after the first page: a consistent snapshot never shows it.
    cms.create(&PostParams::default(), &config_map("cm9", "late"))
        .await
        .unwrap();
    let mut names: Vec<String> = first
        .items
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    let mut token = Some(token);
    while let Some(t) = token {
        let page = cms
            .list(&ListParams::default().limit(2).continue_token(&t))
            .await
            .unwrap();
        assert_eq!(
            page.metadata.resource_version,
            first.metadata.resource_version
        );
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
    }
    assert_eq!(names, ["cm0", "cm1", "cm2", "cm3", "cm4"]);
}

#[tokio::test]
async fn runtime_watcher_sees_changes() {
    let s = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(s.client.clone());
    cms.create(&PostParams::default(), &config_map("before", "x"))
        .await
        .unwrap();
    let mut events = watcher(cms.clone(), watcher::Config::default()).boxed();
    let mut seen_init = false;
    // Initial state first, as a kube-runtime store expects.
    while let Some(event) = tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .unwrap()
        .unwrap()
    {
        match event {
            watcher::Event::InitApply(cm) => {
                seen_init |= cm.metadata.name.as_deref() == Some("before")
            }
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert!(seen_init);
    cms.create(&PostParams::default(), &config_map("after", "y"))
        .await
        .unwrap();
    cms.delete("after", &DeleteParams::default()).await.unwrap();
    let mut applied = false;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), events.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match event {
            watcher::Event::Apply(cm) if cm.metadata.name.as_deref() == Some("after") => {
                applied = true
            }
            watcher::Event::Delete(cm) if cm.metadata.name.as_deref() == Some("after") => break,
            _ => {}
        }
    }
    assert!(applied);
}

#[tokio::test]
async fn finalizers_hold_deletion_and_watch_sees_both_steps() {
    let s = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(s.client.clone());
    let mut cm = config_map("held", "x");
    cm.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    let rv = created.metadata.resource_version.clone().unwrap();
    let mut stream = cms
        .watch(&WatchParams::default().fields("metadata.name=held"), &rv)
        .await
        .unwrap()
        .boxed();

    cms.delete("held", &DeleteParams::default()).await.unwrap();
    let still = cms.get("held").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());

    let release = serde_json::json!({"metadata": {"finalizers": null}});
    cms.patch("held", &PatchParams::default(), &Patch::Merge(&release))
        .await
        .unwrap();
    assert!(cms.get_opt("held").await.unwrap().is_none());

    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            WatchEvent::Modified(cm) => {
                assert!(cm.metadata.deletion_timestamp.is_some());
                kinds.push("MODIFIED");
            }
            WatchEvent::Deleted(_) => kinds.push("DELETED"),
            WatchEvent::Bookmark(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, ["MODIFIED", "DELETED"]);
}

#[tokio::test]
async fn label_selector_changes_become_added_and_deleted() {
    let s = server().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(s.client.clone());
    let created = cms
        .create(&PostParams::default(), &config_map("c", "x"))
        .await
        .unwrap();
    let rv = created.metadata.resource_version.unwrap();
    let mut stream = cms
        .watch(&WatchParams::default().labels("tier=web"), &rv)
        .await
        .unwrap()
        .boxed();
    let on = serde_json::json!({"metadata": {"labels": {"tier": "web"}}});
    let off = serde_json::json!({"metadata": {"labels": {"tier": "db"}}});
    cms.patch("c", &PatchParams::default(), &Patch::Merge(&on))
        .await
        .unwrap();
    cms.patch("c", &PatchParams::default(), &Patch::Merge(&off))
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(first, WatchEvent::Added(_)), "{first:?}");
    let second = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(second, WatchEvent::Deleted(_)), "{second:?}");
}

#[tokio::test]
async fn system_namespaces_and_pods_start_pending() {
    let s = server().await;
    let namespaces: Api<Namespace> = Api::all(s.client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.metadata.name.unwrap())
        .collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );

    let pods: Api<Pod> = Api::default_namespaced(s.client.clone());
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": "Running"},
    }))
    .unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
}

#[tokio::test]
async fn unauthenticated_requests_get_401_in_process_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let api = ApiServer::new(store, Config::default());
    let anonymous = kube::Client::new(api.router(), "default");
    let err = Api::<ConfigMap>::default_namespaced(anonymous.clone())
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 401),
        "{err:?}"
    );
    let version = anonymous.apiserver_version().await.unwrap();
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "35")
    );
}

#[tokio::test]
async fn reviews_answer_for_the_caller() {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    let s = server().await;
    let whoami: Api<SelfSubjectReview> = Api::all(s.client.clone());
    let answer = whoami
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap();
    let user = answer.status.unwrap().user_info.unwrap();
    assert_eq!(user.username.as_deref(), Some("test-admin"));
    assert!(user.groups.unwrap().contains(&"system:masters".to_string()));

    let can_i: Api<SelfSubjectAccessReview> = Api::all(s.client.clone());
    let question = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some("get".into()),
                resource: Some("pods".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = can_i
        .create(&PostParams::default(), &question)
        .await
        .unwrap();
    assert!(answer.status.unwrap().allowed);
    // Reviews are not stored: listing them is not a served verb.
    let err = can_i.list(&ListParams::default()).await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 405),
        "{err:?}"
    );
}
