//! The second baseline: the same pod started through CRI alone, as a kubelet-like agent
//! with no API server, scheduler or status writes would: RunPodSandbox (pause, network
//! namespace, the agent's CNI bridge and addresses), CreateContainer, StartContainer, on the
//! agent's containerd. The sandboxes carry no pod uid label, so the agent leaves them alone.
//!
//! The configs are minimal (no DNS settings, volumes or security options), so this is a
//! floor for what the runtime itself costs per pod, not a copy of the agent's requests.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use closet_cri::{CriClient, Runtime, cri};

/// The CRI namespace of the baseline's sandboxes (a label only; not a containerd one).
const NAMESPACE: &str = "cri-bench";

/// Starts one sandbox with one container per name, all at once; returns each pod's time
/// from RunPodSandbox to StartContainer's answer, and the sandbox ids for [`remove`].
pub(crate) async fn start_batch(
    cri: &CriClient,
    image: &str,
    names: &[String],
    log_root: &Path,
) -> anyhow::Result<(Vec<Duration>, Vec<String>)> {
    let starts = names.iter().map(|name| async move {
        let sandbox_config = sandbox_config(name, &log_root.join(name));
        let start = Instant::now();
        let sandbox = cri
            .run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(sandbox_config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .with_context(|| format!("RunPodSandbox for {name}"))?
            .pod_sandbox_id;
        let container = cri
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: sandbox.clone(),
                config: Some(container_config(image)),
                sandbox_config: Some(sandbox_config),
            })
            .await
            .with_context(|| format!("CreateContainer for {name}"))?
            .container_id;
        cri.start_container(cri::StartContainerRequest {
            container_id: container,
        })
        .await
        .with_context(|| format!("StartContainer for {name}"))?;
        anyhow::Ok((start.elapsed(), sandbox))
    });
    let done = futures::future::try_join_all(starts).await?;
    Ok(done.into_iter().unzip())
}

/// Stops and removes the sandboxes (their containers and network namespaces go with them).
pub(crate) async fn remove(cri: &CriClient, sandboxes: &[String]) -> anyhow::Result<()> {
    let removals = sandboxes.iter().map(|id| async move {
        cri.stop_pod_sandbox(cri::StopPodSandboxRequest {
            pod_sandbox_id: id.clone(),
        })
        .await?;
        cri.remove_pod_sandbox(cri::RemovePodSandboxRequest {
            pod_sandbox_id: id.clone(),
        })
        .await?;
        anyhow::Ok(())
    });
    futures::future::try_join_all(removals).await?;
    Ok(())
}

fn sandbox_config(name: &str, log_directory: &Path) -> cri::PodSandboxConfig {
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: name.to_owned(),
            uid: format!("{NAMESPACE}-{name}"),
            namespace: NAMESPACE.to_owned(),
            attempt: 0,
        }),
        hostname: name.to_owned(),
        log_directory: log_directory.to_string_lossy().into_owned(),
        linux: Some(cri::LinuxPodSandboxConfig {
            security_context: Some(cri::LinuxSandboxSecurityContext {
                // A network namespace of the pod's own (so CNI runs), processes per
                // container: a pod's defaults.
                namespace_options: Some(cri::NamespaceOption {
                    network: cri::NamespaceMode::Pod as i32,
                    pid: cri::NamespaceMode::Container as i32,
                    ipc: cri::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn container_config(image: &str) -> cri::ContainerConfig {
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: "pause".to_owned(),
            attempt: 0,
        }),
        image: Some(cri::ImageSpec {
            image: image.to_owned(),
            ..Default::default()
        }),
        log_path: "pause_0.log".to_owned(),
        linux: Some(cri::LinuxContainerConfig::default()),
        ..Default::default()
    }
}
