//! kube-rs over TLS against the real server: typed CRUD, conflicts, paging, selectors, raw
//! watches and a kube-runtime watcher.

use std::collections::BTreeSet;
use std::time::Duration;

use closet_e2e::{Cluster, scaled, unique_name};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::watcher;
use kube::{Api, Client};

fn cluster() -> &'static Cluster {
    Cluster::shared()
}

/// A client and a fresh namespace, created through the API.
/// Every namespace holds the `kube-root-ca.crt` ConfigMap, as upstream; listings that count
/// a test's own ConfigMaps leave it out.
const NOT_ROOT_CA: &str = "metadata.name!=kube-root-ca.crt";

async fn setup() -> (Client, String) {
    let client = cluster().client().await;
    let name = unique_name(std::thread::current().name().unwrap_or("kube"));
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| cluster().fail(format!("create namespace {name}: {e}")));
    (client, name)
}

fn cm(name: &str, labels: &[(&str, &str)], data: &[(&str, &str)]) -> ConfigMap {
    let strings = |kv: &[(&str, &str)]| {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: (!labels.is_empty()).then(|| strings(labels)),
            ..Default::default()
        },
        data: Some(strings(data)),
        ..Default::default()
    }
}

/// The next item of a watch stream, failing (with the server log) after 15 s or on an error.
async fn next_event<T: std::fmt::Debug, E: std::fmt::Debug>(
    stream: &mut futures::stream::BoxStream<'_, Result<T, E>>,
) -> T {
    match tokio::time::timeout(scaled(Duration::from_secs(15)), stream.try_next()).await {
        Ok(Ok(Some(event))) => event,
        other => cluster().fail(format!("no watch event: {other:?}")),
    }
}

/// The HTTP code and reason of a failed call.
fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.reason.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn configmap_create_get_list_replace_delete() {
    let (client, ns) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();

    let created = api
        .create(&pp, &cm("one", &[], &[("k", "v")]))
        .await
        .expect("create");
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some(ns.as_str()));
    assert!(
        meta.uid.is_some() && meta.resource_version.is_some() && meta.creation_timestamp.is_some()
    );

    let got = api.get("one").await.expect("get");
    assert_eq!(got.data, created.data);
    assert_eq!(
        got.metadata.resource_version,
        created.metadata.resource_version
    );

    let list = api
        .list(&ListParams::default().fields(NOT_ROOT_CA))
        .await
        .expect("list");
    assert_eq!(list.items.len(), 1);
    assert!(
        list.metadata.resource_version.is_some(),
        "a list carries its resourceVersion"
    );

    let mut changed = got.clone();
    changed.data = Some([("k".to_string(), "w".to_string())].into());
    let replaced = api.replace("one", &pp, &changed).await.expect("replace");
    assert_eq!(
        replaced
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("w")
    );
    assert_ne!(
        replaced.metadata.resource_version,
        got.metadata.resource_version
    );
    assert_eq!(replaced.metadata.uid, got.metadata.uid);

    let patched = api
        .patch(
            "one",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"data": {"p": "1"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(patched.data.as_ref().map(|d| d.len()), Some(2));

    api.delete("one", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(api_error(api.get("one").await), (404, "NotFound".into()));
    assert_eq!(
        api_error(api.delete("one", &DeleteParams::default()).await).0,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stale_resource_version_and_duplicate_create_conflict() {
    let (client, ns) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    let first = api
        .create(&pp, &cm("c", &[], &[("n", "0")]))
        .await
        .expect("create");
    assert_eq!(
        api_error(api.create(&pp, &cm("c", &[], &[])).await),
        (409, "AlreadyExists".into())
    );

    let mut fresh = first.clone();
    fresh.data = Some([("n".to_string(), "1".to_string())].into());
    api.replace("c", &pp, &fresh)
        .await
        .expect("replace at the current resourceVersion");

    let mut stale = first;
    stale.data = Some([("n".to_string(), "2".to_string())].into());
    assert_eq!(
        api_error(api.replace("c", &pp, &stale).await),
        (409, "Conflict".into())
    );
    let now = api.get("c").await.expect("get");
    assert_eq!(
        now.data.and_then(|d| d.get("n").cloned()).as_deref(),
        Some("1")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_pages_over_one_snapshot() {
    let (client, ns) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("p{i}"), &[], &[]))
            .await
            .expect("create");
    }
    let mut names = Vec::new();
    let mut versions = BTreeSet::new();
    let mut params = ListParams::default().limit(2).fields(NOT_ROOT_CA);
    let mut pages = 0;
    loop {
        let page = api.list(&params).await.expect("list page");
        pages += 1;
        assert!(page.items.len() <= 2, "a page holds at most `limit` items");
        versions.insert(
            page.metadata
                .resource_version
                .clone()
                .expect("page resourceVersion"),
        );
        names.extend(page.items.iter().filter_map(|c| c.metadata.name.clone()));
        if pages == 1 {
            // Written after the first page: a consistent snapshot must not show it.
            api.create(&PostParams::default(), &cm("p9-late", &[], &[]))
                .await
                .expect("create");
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(names, ["p0", "p1", "p2", "p3", "p4"]);
    assert_eq!(pages, 3);
    assert_eq!(
        versions.len(),
        1,
        "every page has the first page's resourceVersion: {versions:?}"
    );
    assert_eq!(
        api.list(&ListParams::default().fields(NOT_ROOT_CA))
            .await
            .expect("list")
            .items
            .len(),
        6
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn label_selectors_and_delete_collection() {
    let (client, ns) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    for (name, env) in [("a", "dev"), ("b", "prod"), ("c", "test")] {
        api.create(&PostParams::default(), &cm(name, &[("env", env)], &[]))
            .await
            .expect("create");
    }
    let names = |list: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        list.items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect()
    };
    let got = api
        .list(&ListParams::default().labels("env in (dev,test)"))
        .await
        .expect("list");
    assert_eq!(names(got), ["a", "c"]);
    let got = api
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .expect("list");
    assert_eq!(names(got), ["b"]);

    let lp = ListParams::default().labels("env!=prod");
    api.delete_collection(&DeleteParams::default(), &lp)
        .await
        .expect("deletecollection");
    let left = api
        .list(&ListParams::default().fields(NOT_ROOT_CA))
        .await
        .expect("list");
    assert_eq!(names(left), ["b"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_watch_sees_graceful_deletion_with_a_finalizer() {
    let (client, ns) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let mut held = cm("held", &[], &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    let created = api
        .create(&PostParams::default(), &held)
        .await
        .expect("create");
    let rv = created.metadata.resource_version.expect("resourceVersion");

    let mut events = api
        .watch(&WatchParams::default().fields(NOT_ROOT_CA), &rv)
        .await
        .expect("watch")
        .boxed();
    api.delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    match next_event(&mut events).await {
        WatchEvent::Modified(cm) => {
            assert!(
                cm.metadata.deletion_timestamp.is_some(),
                "MODIFIED carries deletionTimestamp"
            )
        }
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    assert!(
        api.get("held").await.is_ok(),
        "the finalizer keeps the object"
    );

    let remove = Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}}));
    api.patch("held", &PatchParams::default(), &remove)
        .await
        .expect("remove the finalizer");
    match next_event(&mut events).await {
        WatchEvent::Deleted(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("held")),
        other => panic!("expected DELETED, got {other:?}"),
    }
    assert_eq!(api_error(api.get("held").await).0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn runtime_watcher_sees_apply_and_delete() {
    let (client, ns) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    api.create(&PostParams::default(), &cm("existing", &[], &[]))
        .await
        .expect("create");

    let mut stream = watcher(api.clone(), watcher::Config::default().fields(NOT_ROOT_CA)).boxed();
    // The initial list: Init, the existing object, InitDone.
    assert!(matches!(
        next_event(&mut stream).await,
        watcher::Event::Init
    ));
    match next_event(&mut stream).await {
        watcher::Event::InitApply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("existing")),
        other => panic!("expected InitApply(existing), got {other:?}"),
    }
    assert!(matches!(
        next_event(&mut stream).await,
        watcher::Event::InitDone
    ));

    api.create(&PostParams::default(), &cm("fresh", &[], &[("k", "1")]))
        .await
        .expect("create");
    match next_event(&mut stream).await {
        watcher::Event::Apply(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("fresh")),
        other => panic!("expected Apply(fresh), got {other:?}"),
    }
    let patch = Patch::Merge(serde_json::json!({"data": {"k": "2"}}));
    api.patch("fresh", &PatchParams::default(), &patch)
        .await
        .expect("patch");
    match next_event(&mut stream).await {
        watcher::Event::Apply(cm) => {
            assert_eq!(
                cm.data.and_then(|d| d.get("k").cloned()).as_deref(),
                Some("2")
            )
        }
        other => panic!("expected Apply(fresh) with k=2, got {other:?}"),
    }
    api.delete("fresh", &DeleteParams::default())
        .await
        .expect("delete");
    match next_event(&mut stream).await {
        watcher::Event::Delete(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("fresh")),
        other => panic!("expected Delete(fresh), got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_from_zero_replays_current_state() {
    let (client, ns) = setup().await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    for name in ["x", "y"] {
        api.create(&PostParams::default(), &cm(name, &[], &[]))
            .await
            .expect("create");
    }
    let mut stream = api
        .watch(&WatchParams::default().fields(NOT_ROOT_CA), "0")
        .await
        .expect("watch")
        .boxed();
    let mut added = BTreeSet::new();
    while added.len() < 2 {
        let event = tokio::time::timeout(scaled(Duration::from_secs(10)), stream.try_next()).await;
        match event {
            Ok(Ok(Some(WatchEvent::Added(cm)))) => {
                added.insert(cm.metadata.name.unwrap_or_default());
            }
            Ok(Ok(Some(WatchEvent::Bookmark(_)))) => {}
            other => cluster().fail(format!("expected ADDED events, got {other:?}")),
        }
    }
    assert_eq!(added, BTreeSet::from(["x".to_string(), "y".to_string()]));
}
