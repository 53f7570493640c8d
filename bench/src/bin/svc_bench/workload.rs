//! The bench's objects in the API: the HTTP backend pod (busybox `httpd`), the client pod
//! whose network namespace the load and the probes run in (the agent's pause image: it only
//! has to hold the namespace), and ClusterIP Services in front of the backend, shaped as
//! `kubectl create service clusterip NAME --tcp=80:8080` creates them. Also the client's
//! sandbox PID from CRI, and the deletion of everything at the end.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use closet_cri::{CriClient, Runtime, RuntimeExt, cri};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};

use crate::image::BUSYBOX;

/// The backend pod's name; also its `app` label, which every Service selects.
pub(crate) const BACKEND: &str = "backend";
/// The client pods: one sends to the pod IP, the other to the ClusterIP. Two clients keep
/// the paths' connections apart in conntrack: the host keeps a closed connection's entry
/// for two minutes, and a ClusterIP connection's reply tuple (backend to client port) is
/// the original tuple of a pod IP connection from the same port, so one client alternating
/// between the paths would have new connections clash with old ones and wait for SYN
/// retransmits.
pub(crate) const CLIENTS: [&str; 2] = ["client-pod-ip", "client-cluster-ip"];
/// The port busybox `httpd` listens on in the backend.
pub(crate) const BACKEND_PORT: u16 = 8080;
/// The port every Service exposes (to [`BACKEND_PORT`]).
pub(crate) const SERVICE_PORT: u16 = 80;
/// The pause image the agent always has.
const PAUSE: &str = "closet.local/pause:1";
/// How long pods may take to be Ready, or to be gone.
const POD_TIMEOUT: Duration = Duration::from_secs(120);

/// Creates the backend and the client pods and waits until all are Ready; returns the
/// backend's pod IP.
pub(crate) async fn start_pods(client: &Client, namespace: &str) -> anyhow::Result<Ipv4Addr> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    for manifest in [backend()?, client_pod(CLIENTS[0])?, client_pod(CLIENTS[1])?] {
        pods.create(&PostParams::default(), &manifest)
            .await
            .with_context(|| format!("creating pod {:?}", manifest.metadata.name))?;
    }
    let started = Instant::now();
    loop {
        let backend = pods.get(BACKEND).await.context("reading the backend pod")?;
        let mut clients = Vec::new();
        for name in CLIENTS {
            clients.push(pods.get(name).await.context("reading a client pod")?);
        }
        if ready(&backend) && clients.iter().all(ready) {
            let ip = backend
                .status
                .and_then(|s| s.pod_ip)
                .context("the Ready backend pod has no podIP")?;
            return ip
                .parse()
                .with_context(|| format!("the backend's podIP {ip:?}"));
        }
        if started.elapsed() > POD_TIMEOUT {
            bail!(
                "pods not Ready after {POD_TIMEOUT:?}: backend {:?}, clients {:?}",
                backend.status.and_then(|s| s.phase),
                clients
                    .iter()
                    .map(|c| c.status.as_ref().and_then(|s| s.phase.clone()))
                    .collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// busybox `httpd` on [`BACKEND_PORT`], answering `/` with the pod's hostname.
fn backend() -> anyhow::Result<Pod> {
    let script = format!(
        "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p {BACKEND_PORT} -h /www"
    );
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": BACKEND, "labels": { "app": BACKEND } },
        "spec": {
            "containers": [{
                "name": "httpd",
                "image": BUSYBOX,
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", script],
                "ports": [{ "name": "http", "containerPort": BACKEND_PORT }],
            }],
        },
    }))?)
}

/// A pod that only holds a network namespace.
fn client_pod(name: &str) -> anyhow::Result<Pod> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "containers": [{ "name": "pause", "image": PAUSE, "imagePullPolicy": "Never" }],
        },
    }))?)
}

/// The Service `kubectl create service clusterip NAME --tcp=80:8080` posts, except that it
/// selects the backend (`app: backend`) instead of `app: NAME`, so that every Service of the
/// run has the same endpoint.
fn service(name: &str) -> anyhow::Result<Service> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": name, "labels": { "app": name } },
        "spec": {
            "type": "ClusterIP",
            "selector": { "app": BACKEND },
            "ports": [{
                "name": format!("{SERVICE_PORT}-{BACKEND_PORT}"),
                "protocol": "TCP",
                "port": SERVICE_PORT,
                "targetPort": BACKEND_PORT,
            }],
        },
    }))?)
}

/// Creates Service `name`; returns its ClusterIP, as the create call's answer gives it.
pub(crate) async fn create_service(
    client: &Client,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Ipv4Addr> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let created = services
        .create(&PostParams::default(), &service(name)?)
        .await
        .with_context(|| format!("creating Service {name}"))?;
    let ip = created
        .spec
        .and_then(|s| s.cluster_ip)
        .with_context(|| format!("Service {name} was created without a clusterIP"))?;
    ip.parse()
        .with_context(|| format!("Service {name}'s clusterIP {ip:?}"))
}

/// The PID of the client pod's sandbox (its pause process), from CRI's verbose sandbox
/// status: `/proc/<pid>/ns/net` is the pod's network namespace.
pub(crate) async fn client_sandbox_pid(
    cri: &CriClient,
    namespace: &str,
    client: &str,
) -> anyhow::Result<u32> {
    let sandboxes = cri.all_sandboxes().await.context("listing sandboxes")?;
    let sandbox = sandboxes
        .iter()
        .find(|s| {
            s.state == cri::PodSandboxState::SandboxReady as i32
                && s.metadata
                    .as_ref()
                    .is_some_and(|m| m.name == client && m.namespace == namespace)
        })
        .context("no ready sandbox for the client pod")?;
    let status = cri
        .pod_sandbox_status(cri::PodSandboxStatusRequest {
            pod_sandbox_id: sandbox.id.clone(),
            verbose: true,
        })
        .await
        .context("reading the client sandbox's status")?;
    let info = status
        .info
        .get("info")
        .context("the sandbox status has no verbose info")?;
    let info: serde_json::Value =
        serde_json::from_str(info).context("parsing the sandbox's verbose info")?;
    let pid = info["pid"]
        .as_u64()
        .context("the sandbox's verbose info has no pid")?;
    Ok(u32::try_from(pid)?)
}

/// Deletes every Service and pod of `namespace` and waits until the pods are gone.
pub(crate) async fn delete_all(client: &Client, namespace: &str) -> anyhow::Result<()> {
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = DeleteParams::default();
    // One by one, as a user would: not every resource serves deletecollection.
    for svc in services.list(&ListParams::default()).await?.items {
        let name = svc.metadata.name.unwrap_or_default();
        services
            .delete(&name, &params)
            .await
            .with_context(|| format!("deleting Service {name}"))?;
    }
    for pod in pods.list(&ListParams::default()).await?.items {
        let name = pod.metadata.name.unwrap_or_default();
        pods.delete(&name, &params)
            .await
            .with_context(|| format!("deleting pod {name}"))?;
    }
    let started = Instant::now();
    loop {
        let left = pods.list(&ListParams::default()).await?.items.len();
        if left == 0 {
            return Ok(());
        }
        if started.elapsed() > POD_TIMEOUT {
            bail!("{left} pods left {POD_TIMEOUT:?} after deletion");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
