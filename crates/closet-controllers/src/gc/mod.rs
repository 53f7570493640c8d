//! The garbage collector: deletes objects whose owners are gone and carries out the
//! `foregroundDeletion` and `orphan` finalizers the apiserver puts on owners (see
//! [`graph`] for the rules).
//!
//! It discovers every resource type that can be listed, watched and deleted (again every
//! [`DISCOVERY_INTERVAL`], so custom resources join), keeps a metadata-only watch on each,
//! and after any change plans one pass over the whole snapshot. A pass also runs every
//! [`RESYNC_INTERVAL`] as a safety net. An owner missing from the snapshot is looked up
//! through the API before its dependents are touched, since a watch may be behind.

mod act;
pub mod graph;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope, verbs};
use kube::runtime::watcher;

use graph::Node;

/// How often the resource types are discovered again.
pub const DISCOVERY_INTERVAL: Duration = Duration::from_secs(30);
/// How often a pass runs without any change seen.
pub const RESYNC_INTERVAL: Duration = Duration::from_secs(30);
/// Changes arriving within this window share one pass.
const DEBOUNCE: Duration = Duration::from_millis(50);

/// A resource type the collector watches.
#[derive(Clone, Debug)]
pub struct Kind {
    /// Its API coordinates.
    pub resource: ApiResource,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
}

/// What the watches have seen.
#[derive(Default)]
struct State {
    kinds: Vec<Kind>,
    /// Objects by kind index, then UID.
    objects: HashMap<usize, HashMap<String, Node>>,
    /// Owner UIDs the API confirmed absent; UIDs are never reused.
    gone: HashSet<String>,
}

struct Shared {
    client: kube::Client,
    state: Mutex<State>,
    changed: tokio::sync::Notify,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs the garbage collector until `shutdown` resolves.
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()> + Send) {
    let shared = Arc::new(Shared {
        client,
        state: Mutex::new(State::default()),
        changed: tokio::sync::Notify::new(),
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(discover(shared.clone()));
    tasks.spawn(collect(shared));
    shutdown.await;
    tasks.abort_all();
}

/// Whether the collector looks after a resource type. Events are skipped, as upstream's
/// collector skips them: many, short-lived and never owners.
fn wanted(resource: &ApiResource, caps: &ApiCapabilities) -> bool {
    resource.plural != "events"
        && [verbs::LIST, verbs::WATCH, verbs::DELETE, verbs::PATCH]
            .iter()
            .all(|v| caps.supports_operation(v))
}

async fn discover(shared: Arc<Shared>) {
    loop {
        match Discovery::new(shared.client.clone()).run().await {
            Ok(found) => {
                for group in found.groups() {
                    for (resource, caps) in group.recommended_resources() {
                        if wanted(&resource, &caps) {
                            add_kind(&shared, resource, caps.scope == Scope::Namespaced);
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "garbage collector: discovery failed"),
        }
        tokio::time::sleep(DISCOVERY_INTERVAL).await;
    }
}

fn add_kind(shared: &Arc<Shared>, resource: ApiResource, namespaced: bool) {
    let index = {
        let mut state = shared.state();
        let known = state
            .kinds
            .iter()
            .any(|k| k.resource.group == resource.group && k.resource.plural == resource.plural);
        if known {
            return;
        }
        state.kinds.push(Kind {
            resource: resource.clone(),
            namespaced,
        });
        state.kinds.len() - 1
    };
    tokio::spawn(watch_kind(shared.clone(), index, resource));
}

async fn watch_kind(shared: Arc<Shared>, index: usize, resource: ApiResource) {
    let api: Api<PartialObjectMeta<DynamicObject>> =
        Api::all_with(shared.client.clone(), &resource);
    let stream = watcher::watcher(api, watcher::Config::default());
    let mut stream = std::pin::pin!(kube::runtime::WatchStreamExt::default_backoff(stream));
    let mut relist: Option<HashMap<String, Node>> = None;
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(e) => e,
            Err(err) => {
                tracing::debug!(resource = %resource.plural, error = %err, "garbage collector: watch failed");
                continue;
            }
        };
        let mut state = shared.state();
        match event {
            watcher::Event::Init => relist = Some(HashMap::new()),
            watcher::Event::InitApply(obj) => {
                if let (Some(buf), Some(n)) = (relist.as_mut(), node(index, &obj)) {
                    buf.insert(n.uid.clone(), n);
                }
            }
            watcher::Event::InitDone => {
                state
                    .objects
                    .insert(index, relist.take().unwrap_or_default());
            }
            watcher::Event::Apply(obj) => {
                if let Some(n) = node(index, &obj) {
                    state
                        .objects
                        .entry(index)
                        .or_default()
                        .insert(n.uid.clone(), n);
                }
            }
            watcher::Event::Delete(obj) => {
                if let Some(uid) = &obj.metadata.uid {
                    state.objects.entry(index).or_default().remove(uid);
                }
            }
        }
        drop(state);
        shared.changed.notify_one();
    }
}

fn node(kind: usize, obj: &PartialObjectMeta<DynamicObject>) -> Option<Node> {
    let m = &obj.metadata;
    Some(Node {
        kind,
        namespace: m.namespace.clone(),
        name: m.name.clone()?,
        uid: m.uid.clone()?,
        resource_version: m.resource_version.clone().unwrap_or_default(),
        owners: m.owner_references.clone().unwrap_or_default(),
        finalizers: m.finalizers.clone().unwrap_or_default(),
        deleting: m.deletion_timestamp.is_some(),
    })
}

async fn collect(shared: Arc<Shared>) {
    loop {
        let _ = tokio::time::timeout(RESYNC_INTERVAL, shared.changed.notified()).await;
        tokio::time::sleep(DEBOUNCE).await;
        pass(&shared).await;
    }
}

/// One pass: plan, confirm missing owners, plan again if any turned out gone, then write.
async fn pass(shared: &Shared) {
    let (nodes, kinds, gone) = snapshot(shared);
    let mut plan = graph::plan(&nodes, &gone);
    if !plan.verify.is_empty() {
        let found = act::confirm_gone(&shared.client, &kinds, &plan.verify).await;
        if !found.is_empty() {
            let gone = {
                let mut state = shared.state();
                state.gone.extend(found);
                state.gone.clone()
            };
            plan = graph::plan(&nodes, &gone);
        }
    }
    for action in plan.actions {
        act::execute(&shared.client, &kinds, action).await;
    }
}

fn snapshot(shared: &Shared) -> (Vec<Node>, Vec<Kind>, HashSet<String>) {
    let state = shared.state();
    let nodes = state
        .objects
        .values()
        .flat_map(|m| m.values().cloned())
        .collect();
    (nodes, state.kinds.clone(), state.gone.clone())
}
