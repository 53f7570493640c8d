//! Crash safety: `kill -9` the server while clients write, restart it, and find every write
//! it acknowledged. The cycle repeats so a kill lands at many points of the group commit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use closet_e2e::Cluster;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::{ListParams, ObjectMeta, PostParams};

const CYCLES: usize = 5;
const WRITERS: usize = 8;
/// How long the writers run before the kill.
const WRITE_FOR: Duration = Duration::from_millis(1500);
const NAMESPACE: &str = "crash";

/// Every acknowledged create: name → (resourceVersion, the value written).
type Acked = Arc<Mutex<BTreeMap<String, (String, String)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_write_survives_kill_9() {
    let cluster = Cluster::start();
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(NAMESPACE.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let client = cluster.client().await;
    Api::<Namespace>::all(client)
        .create(&PostParams::default(), &ns)
        .await
        .expect("create ns");

    let acked: Acked = Arc::default();
    for cycle in 0..CYCLES {
        let client = cluster.client().await;
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                tokio::spawn(write_until_error(
                    client.clone(),
                    cycle,
                    w,
                    acked.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(WRITE_FOR).await;
        let before_kill = acked.lock().expect("acked").len();
        // Kill while every writer still has a request in flight.
        cluster.kill9();
        stop.store(true, Ordering::Relaxed);
        let mut errors = 0;
        for writer in writers {
            errors += writer.await.expect("writer task");
        }
        assert!(
            before_kill > 0,
            "cycle {cycle}: nothing was written before the kill"
        );
        assert!(
            errors > 0,
            "cycle {cycle}: no write was cut off by the kill"
        );

        cluster.restart();
        check(&cluster, cycle, &acked).await;
    }
    cluster.stop();
}

/// Creates ConfigMaps until a call fails (the kill) or `stop` is set; records each 201.
/// Returns 1 if it ended on an error.
async fn write_until_error(
    client: kube::Client,
    cycle: usize,
    writer: usize,
    acked: Acked,
    stop: Arc<AtomicBool>,
) -> usize {
    let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            return 0;
        }
        let name = format!("c{cycle}-w{writer}-{i}");
        let value = format!("{cycle}/{writer}/{i}");
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            data: Some([("v".to_string(), value.clone())].into()),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &cm).await {
            Ok(created) => {
                let rv = created.metadata.resource_version.unwrap_or_default();
                acked.lock().expect("acked").insert(name, (rv, value));
            }
            Err(_) => return 1,
        }
    }
    0
}

/// Every acknowledged object is present with its value and resourceVersion, and no two
/// writes share a resourceVersion.
async fn check(cluster: &Cluster, cycle: usize, acked: &Acked) {
    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, NAMESPACE);
    let list = api
        .list(&ListParams::default())
        .await
        .unwrap_or_else(|e| cluster.fail(format!("cycle {cycle}: list after restart: {e}")));
    let stored: BTreeMap<String, (String, String)> = list
        .items
        .into_iter()
        .map(|cm| {
            let name = cm.metadata.name.unwrap_or_default();
            let rv = cm.metadata.resource_version.unwrap_or_default();
            let value = cm
                .data
                .and_then(|d| d.get("v").cloned())
                .unwrap_or_default();
            (name, (rv, value))
        })
        .collect();
    let acked = acked.lock().expect("acked").clone();
    let lost: Vec<String> = acked
        .iter()
        .filter(|(name, want)| stored.get(*name) != Some(*want))
        .map(|(name, want)| {
            format!(
                "{name}: acknowledged {want:?}, stored {:?}",
                stored.get(name)
            )
        })
        .collect();
    if !lost.is_empty() {
        cluster.fail(format!(
            "cycle {cycle}: {} of {} acknowledged writes lost or changed:\n{}",
            lost.len(),
            acked.len(),
            lost.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
        ));
    }
    let versions: BTreeSet<&String> = stored.values().map(|(rv, _)| rv).collect();
    assert_eq!(
        versions.len(),
        stored.len(),
        "cycle {cycle}: resourceVersions repeat"
    );
    eprintln!(
        "cycle {cycle}: {} acknowledged, {} stored, all present",
        acked.len(),
        stored.len()
    );
}
