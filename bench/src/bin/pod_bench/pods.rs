//! Pods through the API: a batch is created at once (one warm client per pod), and a watch
//! opened beforehand notes when each pod is bound to the node and when it first shows
//! `status.phase: Running`. The runtime's own timestamps (sandbox and container creation,
//! container start) then split each pod's start into its parts.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use closet_cri::{CriClient, Runtime, RuntimeExt, cri};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};

/// The image every benchmark pod runs: the agent's own pause image, always present.
pub(crate) const IMAGE: &str = "closet.local/pause:1";
/// How long a batch may take to be Running, or to be gone after deletion.
const BATCH_TIMEOUT: Duration = Duration::from_secs(120);

/// One pod's start, each time measured from just before its create call.
#[derive(Clone, Debug, Default)]
pub(crate) struct PodTimes {
    /// The create call returned.
    pub(crate) created: Option<Duration>,
    /// The watch showed `spec.nodeName` set.
    pub(crate) bound: Option<Duration>,
    /// The watch showed `status.phase: Running`: the measured startup latency.
    pub(crate) running: Option<Duration>,
    /// containerd's creation time of the pod's sandbox (set as RunPodSandbox begins).
    pub(crate) sandbox_created: Option<Duration>,
    /// containerd's creation time of the container (set as CreateContainer ends).
    pub(crate) container_created: Option<Duration>,
    /// containerd's start time of the container (set as StartContainer ends).
    pub(crate) container_started: Option<Duration>,
}

/// A batch's outcome.
#[derive(Debug)]
pub(crate) struct Batch {
    /// Per pod, in creation order.
    pub(crate) pods: Vec<PodTimes>,
    /// From the first create call to the last Running event.
    pub(crate) wall: Duration,
}

/// A pause pod named `name`, for the scheduler to place and the agent to run.
fn pod(name: &str) -> anyhow::Result<Pod> {
    let manifest = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "labels": { "app": "pod-bench" } },
        "spec": {
            "containers": [{
                "name": "pause",
                "image": IMAGE,
                "imagePullPolicy": "Never",
            }],
        },
    });
    Ok(serde_json::from_value(manifest)?)
}

/// Creates one pod per client at once, named `<prefix>-<i>`, and waits until the watch has
/// shown every one Running. `clients` should be warm, so no TLS handshake is timed.
pub(crate) async fn start_batch(
    clients: &[Client],
    namespace: &str,
    prefix: &str,
) -> anyhow::Result<(Batch, Vec<Started>)> {
    let names: Vec<String> = (0..clients.len())
        .map(|i| format!("{prefix}-{i}"))
        .collect();
    let api: Api<Pod> = Api::namespaced(clients[0].clone(), namespace);
    let rv = api
        .list(&ListParams::default().limit(1))
        .await
        .context("listing pods before the watch")?
        .metadata
        .resource_version
        .context("pod list without resourceVersion")?;
    // From the list's revision: nothing created after it can be missed.
    let stream = api
        .watch(&WatchParams::default().timeout(290), &rv)
        .await
        .context("opening the pod watch")?;
    let watcher = tokio::spawn(observe(stream.boxed(), names.clone()));

    let manifests = names
        .iter()
        .map(|n| pod(n))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let t0 = Instant::now();
    let creates = clients.iter().zip(&manifests).map(|(client, manifest)| {
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        async move {
            let started = Started::now(manifest.metadata.name.clone().unwrap_or_default());
            api.create(&PostParams::default(), manifest)
                .await
                .with_context(|| format!("creating pod {}", started.name))?;
            anyhow::Ok((started.at.elapsed(), started))
        }
    });
    let created = futures::future::try_join_all(creates).await?;
    let seen = match tokio::time::timeout(BATCH_TIMEOUT, watcher).await {
        Ok(joined) => joined.context("the watch task failed")??,
        Err(_) => bail!("pods of batch {prefix} not all Running after {BATCH_TIMEOUT:?}"),
    };

    let mut pods = Vec::with_capacity(created.len());
    let mut starts = Vec::with_capacity(created.len());
    let mut last = t0;
    for (took, started) in created {
        let at = seen.get(&started.name).copied().unwrap_or_default();
        let since = |t: Option<Instant>| t.map(|t| t.saturating_duration_since(started.at));
        if let Some(running) = at.running {
            last = last.max(running);
        }
        pods.push(PodTimes {
            created: Some(took),
            bound: since(at.bound),
            running: since(at.running),
            ..Default::default()
        });
        starts.push(started);
    }
    let batch = Batch {
        pods,
        wall: last.saturating_duration_since(t0),
    };
    Ok((batch, starts))
}

/// When a pod's create call began, on both clocks: the monotonic one for the watch, the
/// wall clock for the runtime's timestamps.
#[derive(Clone, Debug)]
pub(crate) struct Started {
    name: String,
    at: Instant,
    wall: SystemTime,
}

impl Started {
    fn now(name: String) -> Self {
        Self {
            name,
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

/// What the watch showed of one pod, and when.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    bound: Option<Instant>,
    running: Option<Instant>,
}

/// Reads pod events until every pod in `names` has been seen Running.
async fn observe(
    mut stream: futures::stream::BoxStream<'static, kube::Result<WatchEvent<Pod>>>,
    names: Vec<String>,
) -> anyhow::Result<HashMap<String, Seen>> {
    let mut seen: HashMap<String, Seen> =
        names.iter().map(|n| (n.clone(), Seen::default())).collect();
    let mut running = 0;
    while running < names.len() {
        let event = stream.try_next().await.context("reading the pod watch")?;
        let at = Instant::now();
        let pod = match event {
            Some(WatchEvent::Added(pod) | WatchEvent::Modified(pod)) => pod,
            Some(WatchEvent::Error(e)) => bail!("the pod watch failed: {}", e.message),
            Some(_) => continue,
            None => bail!(
                "the pod watch ended with {running} of {} pods Running",
                names.len()
            ),
        };
        let Some(entry) = pod.metadata.name.as_ref().and_then(|n| seen.get_mut(n)) else {
            continue;
        };
        if entry.bound.is_none() && pod.spec.as_ref().is_some_and(|s| s.node_name.is_some()) {
            entry.bound = Some(at);
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if entry.running.is_none() && phase == Some("Running") {
            entry.running = Some(at);
            running += 1;
        }
    }
    Ok(seen)
}

/// Fills in each pod's sandbox and container timestamps from the runtime at `cri`.
pub(crate) async fn add_runtime_times(
    cri: &CriClient,
    namespace: &str,
    batch: &mut Batch,
    starts: &[Started],
) -> anyhow::Result<()> {
    let sandboxes = cri.all_sandboxes().await.context("listing sandboxes")?;
    let containers = cri.all_containers().await.context("listing containers")?;
    for (times, started) in batch.pods.iter_mut().zip(starts) {
        let Some(sandbox) = sandboxes.iter().find(|s| {
            s.metadata
                .as_ref()
                .is_some_and(|m| m.name == started.name && m.namespace == namespace)
        }) else {
            continue;
        };
        let since = |ns: i64| {
            let at = SystemTime::UNIX_EPOCH + Duration::from_nanos(u64::try_from(ns).ok()?);
            at.duration_since(started.wall).ok()
        };
        times.sandbox_created = since(sandbox.created_at);
        let Some(container) = containers.iter().find(|c| c.pod_sandbox_id == sandbox.id) else {
            continue;
        };
        times.container_created = since(container.created_at);
        let status = cri
            .container_status(cri::ContainerStatusRequest {
                container_id: container.id.clone(),
                verbose: false,
            })
            .await
            .context("reading a container's status")?;
        times.container_started = status
            .status
            .map(|s| s.started_at)
            .filter(|&t| t > 0)
            .and_then(since);
    }
    Ok(())
}

/// Deletes the pods in `names` (one client each, at once) and waits until the API has none
/// left in `namespace` and the runtime at `cri` holds no sandbox. Returns how long it took.
pub(crate) async fn delete_all(
    clients: &[Client],
    namespace: &str,
    names: &[String],
    cri: &CriClient,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let deletes = names.iter().enumerate().map(|(i, name)| {
        let api: Api<Pod> = Api::namespaced(clients[i % clients.len()].clone(), namespace);
        async move {
            api.delete(name, &DeleteParams::default())
                .await
                .with_context(|| format!("deleting pod {name}"))
        }
    });
    futures::future::try_join_all(deletes).await?;
    let api: Api<Pod> = Api::namespaced(clients[0].clone(), namespace);
    loop {
        let left = api.list(&ListParams::default()).await?.items.len();
        let sandboxes = cri.all_sandboxes().await?.len();
        if left == 0 && sandboxes == 0 {
            return Ok(started.elapsed());
        }
        if started.elapsed() > BATCH_TIMEOUT {
            bail!("{left} pods and {sandboxes} sandboxes left {BATCH_TIMEOUT:?} after deletion");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
