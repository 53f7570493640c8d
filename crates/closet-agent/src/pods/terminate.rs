//! Stopping pods and containers gracefully: the preStop hook, then SIGTERM, then SIGKILL when
//! the grace period runs out (CRI `StopContainer` with a timeout does the last two).

use std::time::Duration;

use closet_cri::cri;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};
use tokio::time::Instant;

use super::runtime_view::{PodRuntime, RunState};
use super::{Shared, probes, spec};
use crate::AgentError;

/// Stops every running container of the pod (concurrently, each with its preStop hook), then
/// its sandboxes.
pub async fn kill_pod(
    shared: &Shared,
    pod: &Pod,
    runtime: &PodRuntime,
    grace: i64,
) -> Result<(), AgentError> {
    let spec_ = pod.spec.clone().unwrap_or_default();
    let mut kills = Vec::new();
    for run in runtime
        .containers
        .iter()
        .filter(|c| c.state != RunState::Exited)
    {
        let container = spec_
            .containers
            .iter()
            .chain(spec_.init_containers.iter().flatten())
            .find(|c| c.name == run.name)
            .cloned()
            .unwrap_or_default();
        kills.push(async move { kill_container(shared, pod, &container, &run.id, grace).await });
    }
    futures::future::join_all(kills).await;
    stop_sandboxes(shared, runtime).await;
    Ok(())
}

/// Stops one container: its preStop hook within the grace period, then CRI StopContainer with
/// what is left of it.
pub async fn kill_container(
    shared: &Shared,
    pod: &Pod,
    container: &Container,
    id: &str,
    grace: i64,
) {
    let started = Instant::now();
    let grace = Duration::from_secs(u64::try_from(grace.max(0)).unwrap_or(0));
    if let Some(hook) = container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        && !grace.is_zero()
    {
        let ip = shared
            .sandbox_ips
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(pod.metadata.uid.as_deref().unwrap_or_default())
            .cloned();
        let run = run_hook(shared, hook, container, id, ip.as_deref(), grace);
        if tokio::time::timeout(grace, run).await.is_err() {
            tracing::info!(container = %container.name, "preStop hook did not finish within the grace period");
        }
    }
    let left = grace.saturating_sub(started.elapsed());
    stop_container(shared, id, i64::try_from(left.as_secs()).unwrap_or(0)).await;
}

async fn run_hook(
    shared: &Shared,
    hook: &LifecycleHandler,
    container: &Container,
    id: &str,
    ip: Option<&str>,
    grace: Duration,
) {
    if let Some(exec) = &hook.exec {
        let _ = shared
            .runtime
            .exec_sync(cri::ExecSyncRequest {
                container_id: id.to_owned(),
                cmd: exec.command.clone().unwrap_or_default(),
                timeout: i64::try_from(grace.as_secs()).unwrap_or(0),
            })
            .await;
    } else if let Some(http) = &hook.http_get {
        let probe = k8s_openapi::api::core::v1::Probe {
            http_get: Some(http.clone()),
            timeout_seconds: Some(i32::try_from(grace.as_secs()).unwrap_or(i32::MAX)),
            ..Default::default()
        };
        let _ = probes::run(&probe, container, id, ip, shared.runtime.as_ref()).await;
    } else if let Some(sleep) = &hook.sleep {
        tokio::time::sleep(Duration::from_secs(
            u64::try_from(sleep.seconds.max(0)).unwrap_or(0),
        ))
        .await;
    }
}

/// CRI StopContainer: the stop signal, then SIGKILL after `timeout` seconds.
pub async fn stop_container(shared: &Shared, id: &str, timeout: i64) {
    if let Err(err) = shared
        .runtime
        .stop_container(cri::StopContainerRequest {
            container_id: id.to_owned(),
            timeout,
        })
        .await
    {
        tracing::debug!(container = %super::worker::short(id), "stop: {}", crate::error_text(&err));
    }
}

/// Stops every ready sandbox of the pod (its network goes, its address is released).
pub async fn stop_sandboxes(shared: &Shared, runtime: &PodRuntime) {
    for sandbox in runtime.sandboxes.iter().filter(|s| s.ready) {
        if let Err(err) = shared
            .runtime
            .stop_pod_sandbox(cri::StopPodSandboxRequest {
                pod_sandbox_id: sandbox.id.clone(),
            })
            .await
        {
            tracing::warn!(sandbox = %super::worker::short(&sandbox.id), "stopping sandbox: {}", crate::error_text(&err));
        }
    }
}

/// The pod is gone from the API: stop and remove everything the runtime holds for it, and
/// its directories.
pub async fn remove_everything(
    shared: &Shared,
    uid: &str,
    runtime: &PodRuntime,
) -> Result<(), AgentError> {
    for run in runtime
        .containers
        .iter()
        .filter(|c| c.state != RunState::Exited)
    {
        stop_container(shared, &run.id, 2).await;
    }
    for sandbox in &runtime.sandboxes {
        let _ = shared
            .runtime
            .stop_pod_sandbox(cri::StopPodSandboxRequest {
                pod_sandbox_id: sandbox.id.clone(),
            })
            .await;
        shared
            .runtime
            .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: sandbox.id.clone(),
            })
            .await
            .map_err(AgentError::cri("removing a sandbox"))?;
    }
    shared
        .sandbox_ips
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(uid);
    spec::cleanup(shared, uid).await;
    Ok(())
}
