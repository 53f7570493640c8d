//! Running the pods bound to this node.
//!
//! The [`run`] loop watches the pods whose `spec.nodeName` is this node and keeps one
//! [`worker::Worker`] task per pod UID. A relister reads the runtime's containers once a
//! second and wakes the worker of any pod whose containers changed state (a container
//! exiting is noticed within a second), and starts a worker for sandboxes whose pod is
//! no longer in the API, so leftovers are cleaned up. Shutting the agent down leaves
//! containers running: the next start adopts them.

pub mod backoff;
pub mod images;
pub mod log_rotation;
pub mod probes;
pub mod runtime_view;
pub mod spec;
pub mod status;
pub mod table;
pub mod terminate;
pub mod tokens;
pub mod worker;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use closet_cri::{Runtime, RuntimeExt};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use runtime_view::POD_UID_LABEL;
use table::PodTable;

/// Settings pods are run with.
#[derive(Clone, Debug)]
pub struct PodSettings {
    /// The cluster DNS address pods' resolv.conf points at, once cluster DNS exists.
    pub cluster_dns: Option<IpAddr>,
    /// The cluster domain.
    pub cluster_domain: String,
}

impl Default for PodSettings {
    fn default() -> Self {
        Self {
            cluster_dns: None,
            cluster_domain: "cluster.local".to_owned(),
        }
    }
}

/// What every worker shares.
pub struct Shared {
    /// The API.
    pub client: kube::Client,
    /// The container runtime.
    pub runtime: Arc<dyn Runtime>,
    /// This node's name.
    pub node_name: String,
    /// This node's address.
    pub host_ip: String,
    /// `<agent-dir>/pods`: one directory per pod UID (volumes).
    pub pods_dir: PathBuf,
    /// `<agent-dir>/logs`: one directory per pod (container logs).
    pub logs_dir: PathBuf,
    /// Pod settings.
    pub settings: PodSettings,
    /// The pods the agent runs, for the node API.
    pub table: Arc<PodTable>,
    /// The node's memory in bytes (OOM score scaling).
    pub memory_capacity: i64,
    /// Each pod's sandbox address, by UID.
    pub sandbox_ips: Mutex<HashMap<String, String>>,
    /// Service account tokens issued for the pods' projected volumes.
    pub tokens: tokens::TokenCache,
}

/// How often the runtime is relisted.
const RELIST: Duration = Duration::from_secs(1);

/// Runs pods until `shutdown` resolves.
pub async fn run(shared: Arc<Shared>, shutdown: impl std::future::Future<Output = ()> + Send) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    let (store, writer) = reflector::store::<Pod>();
    let config = watcher::Config::default().fields(&format!("spec.nodeName={}", shared.node_name));
    let events = reflector::reflector(writer, watcher::watcher(api, config).default_backoff());
    let mut events = std::pin::pin!(events);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut workers: HashMap<String, Arc<Notify>> = HashMap::new();
    let mut tasks: JoinSet<String> = JoinSet::new();
    let mut relist = tokio::time::interval(RELIST);
    relist.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut synced = false;
    let mut swept = false;
    let mut fingerprints: HashMap<String, Vec<(String, i32)>> = HashMap::new();

    let wake =
        |uid: &str, workers: &mut HashMap<String, Arc<Notify>>, tasks: &mut JoinSet<String>| {
            if let Some(notify) = workers.get(uid) {
                notify.notify_one();
                return;
            }
            let notify = Arc::new(Notify::new());
            workers.insert(uid.to_owned(), notify.clone());
            tasks.spawn(work(uid.to_owned(), shared.clone(), store.clone(), notify));
        };

    loop {
        tokio::select! {
            () = &mut shutdown => break,
            event = events.next() => match event {
                Some(Ok(Event::Apply(pod) | Event::Delete(pod))) => {
                    if let Some(uid) = pod.metadata.uid.as_deref() {
                        wake(uid, &mut workers, &mut tasks);
                    }
                }
                // The store shows a (re)list only once it is complete: a worker woken earlier
                // would find its pod missing and take it for deleted, killing a running pod
                // (as after an agent restart, when the runtime is relisted before the API).
                // At the end of the list, every pod in the store gets its turn.
                Some(Ok(Event::InitDone)) => {
                    synced = true;
                    for pod in store.state() {
                        if let Some(uid) = pod.metadata.uid.as_deref() {
                            wake(uid, &mut workers, &mut tasks);
                        }
                    }
                }
                Some(Ok(Event::Init | Event::InitApply(_))) => {}
                Some(Err(err)) => tracing::warn!("watching this node's pods: {err}"),
                None => break,
            },
            Some(done) = tasks.join_next() => {
                if let Ok(uid) = done {
                    workers.remove(&uid);
                }
            }
            _ = relist.tick() => {
                // Until the API's pods are known, a sandbox cannot be told from an orphan.
                if !synced {
                    continue;
                }
                let Ok(current) = relist_runtime(shared.runtime.as_ref()).await else { continue };
                for (uid, print) in &current {
                    let changed = fingerprints.get(uid) != Some(print);
                    // A sandbox whose pod the API no longer has: its worker cleans it up.
                    let orphan = !store.state().iter().any(|p| p.metadata.uid.as_deref() == Some(uid));
                    if changed || (orphan && !workers.contains_key(uid)) {
                        wake(uid, &mut workers, &mut tasks);
                    }
                }
                // Pod directories (volumes, tmpfs mounts) whose pod is gone from both the API
                // and the runtime, as after a pod was deleted while the agent was down: a
                // worker with no pod and nothing running just cleans them up.
                if !swept {
                    swept = true;
                    for uid in pod_dirs(&shared.pods_dir) {
                        let known = current.contains_key(&uid)
                            || store.state().iter().any(|p| p.metadata.uid.as_deref() == Some(uid.as_str()));
                        if !known && !workers.contains_key(&uid) {
                            wake(&uid, &mut workers, &mut tasks);
                        }
                    }
                }
                fingerprints = current;
            }
        }
    }
    tasks.abort_all();
}

/// The pod UIDs that have a directory under `pods_dir`.
fn pod_dirs(pods_dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(pods_dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect()
}

/// Per pod UID: every container and sandbox id with its state.
async fn relist_runtime(
    runtime: &dyn Runtime,
) -> Result<HashMap<String, Vec<(String, i32)>>, closet_cri::CriError> {
    let mut out: HashMap<String, Vec<(String, i32)>> = HashMap::new();
    for sandbox in runtime.all_sandboxes().await? {
        if let Some(uid) = sandbox.labels.get(POD_UID_LABEL) {
            out.entry(uid.clone())
                .or_default()
                .push((sandbox.id, sandbox.state));
        }
    }
    for container in runtime.all_containers().await? {
        if let Some(uid) = container.labels.get(POD_UID_LABEL) {
            out.entry(uid.clone())
                .or_default()
                .push((container.id, container.state));
        }
    }
    for print in out.values_mut() {
        print.sort();
    }
    Ok(out)
}

/// One pod's worker loop.
async fn work(uid: String, shared: Arc<Shared>, store: Store<Pod>, notify: Arc<Notify>) -> String {
    let mut worker = worker::Worker::new(uid.clone(), shared.clone());
    loop {
        let pod = store
            .state()
            .into_iter()
            .find(|p| p.metadata.uid.as_deref() == Some(uid.as_str()));
        let name = pod.as_ref().map(|p| {
            (
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default(),
            )
        });
        let wait = match worker.sync(pod).await {
            Ok(worker::Next::Done) => {
                if let Some((ns, name)) = name {
                    shared.table.remove(&ns, &name);
                }
                remove_table_rows(&shared.table, &uid);
                return uid;
            }
            Ok(worker::Next::After(wait)) => wait,
            Err(err) => {
                tracing::warn!(pod_uid = %uid, "{}", crate::error_text(&err));
                Duration::from_secs(2)
            }
        };
        tokio::select! {
            () = notify.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

fn remove_table_rows(table: &PodTable, uid: &str) {
    let stale: Vec<(String, String)> = table
        .all()
        .into_iter()
        .filter(|(_, row)| row.uid == uid)
        .map(|(key, _)| key)
        .collect();
    for (ns, name) in stale {
        table.remove(&ns, &name);
    }
}
