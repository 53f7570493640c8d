//! The recorder against a real apiserver, in-process.

use closet_apiserver::{ApiServer, Config, auth::User};
use closet_store::sqlite::{Options, SqliteStore};
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

use super::{EventType, Recorder, reference};

async fn client(dir: &tempfile::TempDir) -> kube::Client {
    let store = SqliteStore::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let api = ApiServer::new(store, Config::default());
    api.bootstrap().await.unwrap();
    let admin = User {
        name: "test".into(),
        groups: vec!["system:masters".into()],
    };
    kube::Client::new(api.router_as(admin), "default")
}

#[tokio::test]
async fn repeats_count_up_and_new_messages_make_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = cms
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("subject".into()),
                    ..ObjectMeta::default()
                },
                ..ConfigMap::default()
            },
        )
        .await
        .unwrap();
    let recorder = Recorder::new(client.clone(), "test-controller").with_host("node-a");
    let subject = reference(&cm);
    for _ in 0..3 {
        recorder
            .publish(&subject, EventType::Warning, "Broken", "it broke")
            .await;
    }
    recorder.normal(&subject, "Fixed", "it works").await;

    let events: Api<Event> = Api::namespaced(client, "default");
    let mut listed = events.list(&ListParams::default()).await.unwrap().items;
    listed.sort_by_key(|e| e.reason.clone());
    assert_eq!(listed.len(), 2, "{listed:?}");
    let broken = &listed[0];
    assert_eq!(broken.reason.as_deref(), Some("Broken"));
    assert_eq!(broken.type_.as_deref(), Some("Warning"));
    assert_eq!(broken.count, Some(3));
    assert_eq!(broken.involved_object.name.as_deref(), Some("subject"));
    assert_eq!(broken.involved_object.kind.as_deref(), Some("ConfigMap"));
    assert!(broken.involved_object.uid.is_some());
    let source = broken.source.clone().unwrap();
    assert_eq!(source.component.as_deref(), Some("test-controller"));
    assert_eq!(source.host.as_deref(), Some("node-a"));
    assert_eq!(listed[1].count, Some(1));
    assert_eq!(listed[1].type_.as_deref(), Some("Normal"));
}

#[tokio::test]
async fn a_deleted_event_is_created_again() {
    let dir = tempfile::tempdir().unwrap();
    let client = client(&dir).await;
    let recorder = Recorder::new(client.clone(), "test-controller");
    let subject = k8s_openapi::api::core::v1::ObjectReference {
        kind: Some("Pod".into()),
        namespace: Some("default".into()),
        name: Some("p".into()),
        ..Default::default()
    };
    recorder.warning(&subject, "Broken", "again").await;
    let events: Api<Event> = Api::namespaced(client, "default");
    events
        .delete_collection(&Default::default(), &ListParams::default())
        .await
        .unwrap();
    recorder.warning(&subject, "Broken", "again").await;
    let listed = events.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].count, Some(1));
}
