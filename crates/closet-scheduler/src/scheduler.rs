//! The scheduling loop: reflectors keep the caches, their watch events wake the loop, and
//! the loop takes the pending pods that are due, one at a time, and binds or reports them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{
    Binding, Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::SchedulerError;
use crate::cache::{self, Assumed, Caches, is_bound};
use crate::framework::{Snapshot, is_terminal};
use crate::platforms::{PlatformSource, RegistryPlatforms, normalize_image};
use crate::plugins::{image_platform, volumes};
use crate::queue::Queue;
use crate::registry::Profile;
use crate::schedule::{Decision, schedule};

/// The name pods ask for to be placed by this scheduler.
pub const SCHEDULER_NAME: &str = "default-scheduler";

/// What the scheduler runs with.
pub struct Config {
    /// Where image platforms come from.
    pub platforms: Arc<dyn PlatformSource>,
    /// The plugins.
    pub profile: Profile,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            platforms: Arc::new(RegistryPlatforms::default()),
            profile: Profile::default(),
        }
    }
}

/// Watch events wake the loop; some also make waiting pods due at once.
#[derive(Default)]
struct Wake {
    notify: Notify,
    flush: AtomicBool,
}

impl Wake {
    fn poke(&self, flush: bool) {
        if flush {
            self.flush.store(true, Ordering::SeqCst);
        }
        self.notify.notify_one();
    }
}

/// Whether a pod is this scheduler's to place now.
pub fn is_pending(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let ours = spec
        .scheduler_name
        .as_deref()
        .is_none_or(|s| s.is_empty() || s == SCHEDULER_NAME);
    let gated = spec
        .scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty());
    ours && !gated
        && !is_bound(pod)
        && pod.metadata.deletion_timestamp.is_none()
        && !is_terminal(pod)
}

fn reflect<K, F>(
    api: Api<K>,
    wake: Arc<Wake>,
    flush: F,
) -> (Store<K>, impl Stream<Item = ()> + Send)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    F: Fn(&K, bool) -> Option<bool> + Send + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .map(move |event| match event {
            Ok(watcher::Event::Apply(obj)) => {
                if let Some(f) = flush(&obj, false) {
                    wake.poke(f);
                }
            }
            Ok(watcher::Event::Delete(obj)) => {
                if let Some(f) = flush(&obj, true) {
                    wake.poke(f);
                }
            }
            Ok(watcher::Event::InitDone) => wake.poke(true),
            Ok(_) => {}
            Err(err) => tracing::debug!(error = %err, "scheduler watch"),
        });
    (reader, stream)
}

struct Context {
    client: kube::Client,
    caches: Caches,
    assumed: Assumed,
    config: Config,
    recorder: Arc<closet_events::Recorder>,
}

/// Runs the scheduler with the default configuration until `shutdown` resolves.
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()> + Send + 'static) {
    run_with(client, Config::default(), shutdown).await;
}

/// Runs the scheduler with `config` until `shutdown` resolves.
pub async fn run_with(
    client: kube::Client,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let wake = Arc::new(Wake::default());
    let (nodes, node_events) = reflect(Api::<Node>::all(client.clone()), wake.clone(), |_, _| {
        Some(true)
    });
    // New pending pods only wake the loop; pods leaving a node (deleted or finished) free
    // room, so every waiting pod gets another try.
    let (pods, pod_events) = reflect(
        Api::<Pod>::all(client.clone()),
        wake.clone(),
        |p: &Pod, deleted| {
            if is_bound(p) {
                (deleted || is_terminal(p)).then_some(true)
            } else {
                Some(false)
            }
        },
    );
    let (claims, claim_events) = reflect(
        Api::<PersistentVolumeClaim>::all(client.clone()),
        wake.clone(),
        |_, _| Some(true),
    );
    let (volumes, volume_events) = reflect(
        Api::<PersistentVolume>::all(client.clone()),
        wake.clone(),
        |_, _| Some(true),
    );
    let (classes, class_events) = reflect(
        Api::<StorageClass>::all(client.clone()),
        wake.clone(),
        |_, _| Some(true),
    );
    let watches = futures::future::join5(
        node_events.for_each(|()| async {}),
        pod_events.for_each(|()| async {}),
        claim_events.for_each(|()| async {}),
        volume_events.for_each(|()| async {}),
        class_events.for_each(|()| async {}),
    );
    let ctx = Context {
        recorder: Arc::new(closet_events::Recorder::new(client.clone(), SCHEDULER_NAME)),
        client,
        caches: Caches {
            nodes,
            pods,
            claims,
            volumes,
            classes,
        },
        assumed: Assumed::default(),
        config,
    };
    tokio::select! {
        () = shutdown => {}
        _ = watches => tracing::warn!("scheduler watches ended"),
        () = scheduling_loop(&ctx, &wake) => {}
    }
}

async fn scheduling_loop(ctx: &Context, wake: &Wake) {
    let c = &ctx.caches;
    let ready = futures::future::join5(
        c.nodes.wait_until_ready(),
        c.pods.wait_until_ready(),
        c.claims.wait_until_ready(),
        c.volumes.wait_until_ready(),
        c.classes.wait_until_ready(),
    );
    let _ = ready.await;
    let mut queue = Queue::default();
    loop {
        if wake.flush.swap(false, Ordering::SeqCst) {
            queue.flush(Instant::now());
        }
        let mut pending: Vec<Arc<Pod>> = c
            .pods
            .state()
            .into_iter()
            .filter(|p| {
                is_pending(p)
                    && !ctx
                        .assumed
                        .contains(p.metadata.uid.as_deref().unwrap_or_default())
            })
            .collect();
        // Higher priority first, then oldest first.
        pending.sort_by_key(|p| {
            (
                std::cmp::Reverse(p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)),
                p.metadata.creation_timestamp.clone().map(|t| t.0),
                p.metadata.name.clone(),
            )
        });
        let uids: std::collections::HashSet<String> = pending
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        queue.retain(|uid| uids.contains(uid));
        let now = Instant::now();
        let due: Vec<Arc<Pod>> = pending
            .into_iter()
            .filter(|p| queue.is_due(p.metadata.uid.as_deref().unwrap_or_default(), now))
            .collect();
        if due.is_empty() {
            let until = queue.next_due().unwrap_or(now + Duration::from_secs(60));
            tokio::select! {
                () = wake.notify.notified() => {}
                () = tokio::time::sleep_until(until) => {}
            }
            continue;
        }
        for pod in due {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            if attempt(ctx, &pod).await {
                queue.forget(&uid);
            } else {
                queue.failed(&uid, Instant::now());
            }
        }
    }
}

/// Tries to place one pod; true when it was bound (or is gone and needs no more tries).
async fn attempt(ctx: &Context, pod: &Pod) -> bool {
    let mut snapshot = cache::snapshot(&ctx.caches, &ctx.assumed);
    resolve_platforms(ctx, pod, &mut snapshot).await;
    let name = format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    );
    let span = tracing::debug_span!("schedule", pod = %name);
    let _entered = span.enter();
    match schedule(&ctx.config.profile, pod, &snapshot) {
        Decision::Node(node) => match bind(ctx, pod, &node, &snapshot).await {
            Ok(()) => {
                ctx.assumed.assume(pod, &node);
                tracing::debug!(%node, "bound");
                let recorder = ctx.recorder.clone();
                let reference = closet_events::reference(pod);
                let message = format!("Successfully assigned {name} to {node}");
                tokio::spawn(
                    async move { recorder.normal(&reference, "Scheduled", &message).await },
                );
                true
            }
            Err(err) if err.is_gone() => true,
            Err(err) => {
                let message = crate::error_chain(&err);
                tracing::warn!("{message}");
                ctx.recorder
                    .warning(&closet_events::reference(pod), "FailedScheduling", &message)
                    .await;
                false
            }
        },
        Decision::Unschedulable(message) => {
            tracing::debug!(%message, "unschedulable");
            report_unschedulable(ctx, pod, &message).await;
            false
        }
        Decision::Error(message) => {
            tracing::warn!(pod = %name, "scheduling failed: {message}");
            ctx.recorder
                .warning(&closet_events::reference(pod), "FailedScheduling", &message)
                .await;
            false
        }
    }
}

/// Looks up the platforms of the pod's images that some node does not already hold.
async fn resolve_platforms(ctx: &Context, pod: &Pod, snapshot: &mut Snapshot) {
    for image in image_platform::images(pod) {
        let normalized = normalize_image(&image);
        if !snapshot.nodes.is_empty()
            && snapshot
                .nodes
                .iter()
                .all(|n| n.images.contains(&normalized))
        {
            continue;
        }
        let offered = ctx.config.platforms.platforms(&image).await;
        if !offered.is_empty() {
            snapshot.platforms.insert(image, offered);
        }
    }
}

/// Names the node on WaitForFirstConsumer claims, then binds through `pods/binding`.
async fn bind(
    ctx: &Context,
    pod: &Pod,
    node: &str,
    snapshot: &Snapshot,
) -> Result<(), SchedulerError> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &namespace);
    for claim in volumes::claims_to_select(pod, snapshot) {
        let patch = json!({"metadata": {"annotations": {volumes::SELECTED_NODE: node}}});
        claims
            .patch(&claim, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| SchedulerError::SelectNode {
                claim: format!("{namespace}/{claim}"),
                node: node.to_owned(),
                source,
            })?;
    }
    let binding = Binding {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        },
        target: ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Node".to_owned()),
            name: Some(node.to_owned()),
            ..Default::default()
        },
    };
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    pods.create_subresource::<Binding, serde_json::Value>(
        "binding",
        &name,
        &PostParams::default(),
        &binding,
    )
    .await
    .map_err(|source| SchedulerError::Bind {
        pod: format!("{namespace}/{name}"),
        node: node.to_owned(),
        source,
    })?;
    Ok(())
}

/// A FailedScheduling event and a PodScheduled=False condition carrying `message`.
async fn report_unschedulable(ctx: &Context, pod: &Pod, message: &str) {
    ctx.recorder
        .warning(&closet_events::reference(pod), "FailedScheduling", message)
        .await;
    let mut conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let current = conditions.iter().find(|c| c.type_ == "PodScheduled");
    if current.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
            && c.message.as_deref() == Some(message)
    }) {
        return;
    }
    conditions.retain(|c| c.type_ != "PodScheduled");
    let mut value = serde_json::to_value(&conditions).unwrap_or_else(|_| json!([]));
    if let Some(list) = value.as_array_mut() {
        list.push(json!({
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": jiff::Timestamp::now().to_string(),
        }));
    }
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let patch = json!({"status": {"conditions": value}});
    if let Err(err) = pods
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        tracing::debug!(pod = %format!("{namespace}/{name}"), error = %err, "writing PodScheduled");
    }
}
