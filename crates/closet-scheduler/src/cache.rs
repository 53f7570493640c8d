//! The scheduler's view of the cluster: reflector stores for nodes, pods and storage, plus
//! the assume cache — pods this scheduler bound that the pod watch has not shown bound yet.
//! Without it, back-to-back pods would all see the same free node and land on it together.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::reflector::Store;

use crate::framework::{NodeInfo, Snapshot, is_terminal};
use crate::platforms::normalize_image;
use crate::resources::{Resources, pod_requests, pod_requests_for_scoring};

/// How long an assumed binding is trusted without the watch confirming it.
const ASSUME_TTL: Duration = Duration::from_secs(30);

/// Reflector stores the scheduler reads; their watchers are the only writers.
#[derive(Clone)]
pub struct Caches {
    /// All nodes.
    pub nodes: Store<Node>,
    /// All pods, bound or not.
    pub pods: Store<Pod>,
    /// All PersistentVolumeClaims.
    pub claims: Store<PersistentVolumeClaim>,
    /// All PersistentVolumes.
    pub volumes: Store<PersistentVolume>,
    /// All StorageClasses.
    pub classes: Store<StorageClass>,
}

/// Pods bound by this scheduler, by uid, with the node and when.
#[derive(Default)]
pub struct Assumed(Mutex<HashMap<String, (Arc<Pod>, Instant)>>);

impl Assumed {
    /// Records that `pod` was just bound to `node`.
    pub fn assume(&self, pod: &Pod, node: &str) {
        let mut bound = pod.clone();
        if let Some(spec) = bound.spec.as_mut() {
            spec.node_name = Some(node.to_owned());
        }
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        if let Ok(mut map) = self.0.lock() {
            map.insert(uid, (Arc::new(bound), Instant::now()));
        }
    }

    /// Whether a pod with `uid` is assumed bound.
    pub fn contains(&self, uid: &str) -> bool {
        self.0.lock().is_ok_and(|m| m.contains_key(uid))
    }

    /// The assumed pods still needed: not yet seen bound, not deleted, not expired.
    fn current(&self, store: &HashMap<String, Arc<Pod>>) -> Vec<Arc<Pod>> {
        let Ok(mut map) = self.0.lock() else {
            return Vec::new();
        };
        map.retain(|uid, (_, at)| {
            store.get(uid).is_some_and(|p| !is_bound(p)) && at.elapsed() < ASSUME_TTL
        });
        map.values().map(|(p, _)| p.clone()).collect()
    }
}

/// Whether the pod names a node.
pub fn is_bound(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

fn key<K: kube::Resource>(obj: &K) -> String {
    let meta = obj.meta();
    match &meta.namespace {
        Some(ns) => format!("{ns}/{}", meta.name.clone().unwrap_or_default()),
        None => meta.name.clone().unwrap_or_default(),
    }
}

/// Builds the snapshot plugins read, bound and assumed pods placed on their nodes.
pub fn snapshot(caches: &Caches, assumed: &Assumed) -> Snapshot {
    let pods: HashMap<String, Arc<Pod>> = caches
        .pods
        .state()
        .into_iter()
        .map(|p| (p.metadata.uid.clone().unwrap_or_default(), p))
        .collect();
    let mut by_node: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
    let placed = pods
        .values()
        .filter(|p| is_bound(p))
        .cloned()
        .chain(assumed.current(&pods));
    for pod in placed {
        if is_terminal(&pod) {
            continue;
        }
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        by_node.entry(node).or_default().push(pod);
    }
    let mut nodes: Vec<NodeInfo> = caches
        .nodes
        .state()
        .into_iter()
        .filter(|n| n.metadata.deletion_timestamp.is_none())
        .map(|node| {
            let name = node.metadata.name.clone().unwrap_or_default();
            let pods = by_node.remove(&name).unwrap_or_default();
            let mut requested = Resources::default();
            let mut requested_for_scoring = Resources::default();
            for p in &pods {
                requested.add(&pod_requests(p));
                requested_for_scoring.add(&pod_requests_for_scoring(p));
            }
            let images: BTreeSet<String> = node
                .status
                .iter()
                .flat_map(|s| s.images.iter().flatten())
                .flat_map(|i| i.names.iter().flatten())
                .map(|n| normalize_image(n))
                .collect();
            NodeInfo {
                node,
                pods,
                requested,
                requested_for_scoring,
                images,
            }
        })
        .collect();
    nodes.sort_by(|a, b| a.name().cmp(b.name()));
    Snapshot {
        nodes,
        claims: caches
            .claims
            .state()
            .into_iter()
            .map(|c| (key(c.as_ref()), c))
            .collect(),
        volumes: caches
            .volumes
            .state()
            .into_iter()
            .map(|v| (key(v.as_ref()), v))
            .collect(),
        classes: caches
            .classes
            .state()
            .into_iter()
            .map(|c| (key(c.as_ref()), c))
            .collect(),
        platforms: Default::default(),
    }
}
