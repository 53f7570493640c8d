//! The agent's side of `closet-podspec`: fetches what a pod refers to (ConfigMaps, Secrets,
//! pull secrets) and hands it, with the node's settings, to the pure translation there.

use std::collections::BTreeMap;
use std::path::PathBuf;

use closet_cri::cri;
use closet_podspec as podspec;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::api::Api;

use super::Shared;

/// Why a sandbox or container could not be set up, as a container waiting reason.
#[derive(Clone, Debug)]
pub struct SpecFailure {
    /// `CreateContainerConfigError`, `CreatePodSandboxError`, ...
    pub reason: String,
    /// For the user.
    pub message: String,
    /// The pod waits for something else to happen (a claim to be bound), not for a fault to
    /// clear: retried at a steady pace rather than with back-off.
    pub waiting: bool,
}

impl SpecFailure {
    /// A failure with `reason`.
    pub fn new(reason: &str, message: String) -> Self {
        Self {
            reason: reason.to_owned(),
            message,
            waiting: false,
        }
    }
}

impl From<podspec::SpecError> for SpecFailure {
    fn from(err: podspec::SpecError) -> Self {
        Self {
            reason: err.reason().to_owned(),
            message: err.to_string(),
            waiting: matches!(err, podspec::SpecError::ClaimNotReady { .. }),
        }
    }
}

/// The objects a pod refers to, fetched from the API.
#[derive(Clone, Debug, Default)]
pub struct PodEnvironment {
    /// ConfigMaps by name (absent: not found).
    pub config_maps: BTreeMap<String, ConfigMap>,
    /// Secrets by name (absent: not found).
    pub secrets: BTreeMap<String, Secret>,
    /// The pod's `imagePullSecrets` that exist.
    pub pull_secrets: Vec<Secret>,
}

/// The pod's directory: `<agent>/pods/<uid>`.
pub fn pod_dir(shared: &Shared, uid: &str) -> PathBuf {
    shared.pods_dir.join(uid)
}

/// The pod's log directory: `<agent>/logs/<namespace>_<name>_<uid>`, as upstream names it.
pub fn log_dir(shared: &Shared, pod: &Pod) -> PathBuf {
    shared.logs_dir.join(format!(
        "{}_{}_{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    ))
}

/// Fetches the ConfigMaps and Secrets the pod refers to.
pub async fn fetch_environment(shared: &Shared, pod: &Pod) -> Result<PodEnvironment, SpecFailure> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let referenced = podspec::env::referenced_objects(pod);
    let mut env = PodEnvironment::default();
    let config_maps: Api<ConfigMap> = Api::namespaced(shared.client.clone(), &namespace);
    for name in &referenced.config_maps {
        let found = config_maps.get_opt(name).await.map_err(|e| {
            SpecFailure::new(
                "CreateContainerConfigError",
                format!("reading configmap {name:?}: {e}"),
            )
        })?;
        if let Some(cm) = found {
            env.config_maps.insert(name.clone(), cm);
        }
    }
    let secrets: Api<Secret> = Api::namespaced(shared.client.clone(), &namespace);
    let pull: Vec<String> = pod
        .spec
        .as_ref()
        .and_then(|s| s.image_pull_secrets.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.name)
        .collect();
    for name in referenced.secrets.iter().chain(pull.iter()) {
        if env.secrets.contains_key(name) {
            continue;
        }
        let found = secrets.get_opt(name).await.map_err(|e| {
            SpecFailure::new(
                "CreateContainerConfigError",
                format!("reading secret {name:?}: {e}"),
            )
        })?;
        if let Some(secret) = found {
            env.secrets.insert(name.clone(), secret);
        }
    }
    env.pull_secrets = pull
        .iter()
        .filter_map(|n| env.secrets.get(n).cloned())
        .collect();
    Ok(env)
}

/// The sandbox config for the pod's `attempt`-th sandbox.
pub fn sandbox_config(
    shared: &Shared,
    pod: &Pod,
    attempt: u32,
) -> Result<cri::PodSandboxConfig, SpecFailure> {
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let upstream = std::fs::read_to_string("/run/systemd/resolve/resolv.conf").ok();
    let ctx = podspec::sandbox::SandboxContext {
        attempt,
        log_directory: log_dir(shared, pod),
        cluster_dns: shared.settings.cluster_dns,
        cluster_domain: shared.settings.cluster_domain.clone(),
        host_resolv_conf: podspec::dns::ResolvConf::for_pods(&resolv, upstream.as_deref()),
        cgroup_parent: None,
    };
    Ok(podspec::sandbox::sandbox_config(pod, &ctx)?)
}

/// Creates or refreshes the pod's volumes on disk.
pub async fn prepare_volumes(
    shared: &Shared,
    pod: &Pod,
) -> Result<podspec::volumes::VolumeMap, SpecFailure> {
    let env = fetch_environment(shared, pod).await?;
    let claims = resolve_claims(shared, pod).await?;
    let tokens = super::tokens::tokens_for(&shared.client, &shared.tokens, pod)
        .await
        .map_err(|e| SpecFailure::new("ContainerCreating", closet_error_text(&e)))?;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let dir = pod_dir(shared, &uid);
    let pod = pod.clone();
    tokio::task::spawn_blocking(move || {
        let allocatable = BTreeMap::new();
        let ctx = podspec::volumes::VolumeContext {
            config_maps: &env.config_maps,
            secrets: &env.secrets,
            node_allocatable: &allocatable,
            claims: &claims,
            service_account_tokens: &tokens,
        };
        podspec::volumes::prepare(&pod, &dir, &ctx)
    })
    .await
    .map_err(|e| SpecFailure::new("CreateContainerConfigError", e.to_string()))?
    .map_err(SpecFailure::from)
}

/// Follows each of the pod's claims to its volume's directory on this node, creating the
/// directory on first use; a claim not bound yet maps to why, and the pod waits.
async fn resolve_claims(
    shared: &Shared,
    pod: &Pod,
) -> Result<BTreeMap<String, Result<PathBuf, String>>, SpecFailure> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let fs_group = pod
        .spec
        .as_ref()
        .and_then(|s| s.security_context.as_ref())
        .and_then(|s| s.fs_group)
        .and_then(|g| u32::try_from(g).ok());
    let mut claims = BTreeMap::new();
    let names = pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.clone());
    for name in names {
        let failure = |e: closet_storage::StorageError| {
            SpecFailure::new("ContainerCreating", closet_storage::error_chain(&e))
        };
        let resolved = closet_storage::node::resolve(&shared.client, &namespace, &name)
            .await
            .map_err(failure)?;
        let entry = match resolved {
            closet_storage::node::Claim::Ready { path, .. } => {
                let dir = path.clone();
                tokio::task::spawn_blocking(move || {
                    closet_storage::node::ensure_dir(&dir, fs_group)
                })
                .await
                .map_err(|e| SpecFailure::new("ContainerCreating", e.to_string()))?
                .map_err(failure)?;
                Ok(path)
            }
            closet_storage::node::Claim::Waiting(why) => Err(why),
        };
        claims.insert(name, entry);
    }
    Ok(claims)
}

/// The container config for one instance of `container`.
#[allow(
    clippy::too_many_arguments,
    reason = "each input is a different source"
)]
pub fn container_config(
    shared: &Shared,
    pod: &Pod,
    container: &Container,
    attempt: u32,
    env: &PodEnvironment,
    volumes: &podspec::volumes::VolumeMap,
    image_ref: &str,
    pod_ip: Option<String>,
) -> Result<cri::ContainerConfig, SpecFailure> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let dir = pod_dir(shared, &uid);
    let host_ips: Vec<std::net::IpAddr> = shared.host_ip.parse().into_iter().collect();
    let pod_ips: Vec<std::net::IpAddr> =
        pod_ip.and_then(|ip| ip.parse().ok()).into_iter().collect();
    let allocatable = BTreeMap::new();
    let service_env = BTreeMap::new();
    let env_ctx = podspec::env::EnvContext {
        config_maps: &env.config_maps,
        secrets: &env.secrets,
        host_ips: &host_ips,
        pod_ips: &pod_ips,
        node_allocatable: &allocatable,
        service_env: &service_env,
    };
    let variables = podspec::env::resolve_env(pod, container, &env_ctx)?;
    let mounts = podspec::volumes::mounts_for(container, &variables, volumes, &dir)?;
    let termination_log =
        podspec::volumes::termination_log_file(&dir, &container.name, attempt).ok();
    let ctx = podspec::container::ContainerContext {
        attempt,
        log_path: podspec::container::container_log_path(&container.name, attempt),
        env: variables,
        mounts,
        image_ref: image_ref.to_owned(),
        termination_log,
        memory_capacity: shared.memory_capacity,
    };
    Ok(podspec::container::container_config(pod, container, &ctx)?)
}

/// An error and its causes on one line.
fn closet_error_text(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Removes the pod's directories (unmounting what the volumes mounted).
pub async fn cleanup(shared: &Shared, uid: &str) {
    shared.tokens.forget(uid);
    let dir = pod_dir(shared, uid);
    let logs = shared.logs_dir.clone();
    let uid = uid.to_owned();
    let _ = tokio::task::spawn_blocking(move || {
        if let Err(err) = podspec::volumes::cleanup(&dir) {
            tracing::warn!("cleaning up {}: {err}", dir.display());
        }
        // Log directories end in the pod UID.
        if let Ok(entries) = std::fs::read_dir(&logs) {
            for entry in entries.flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .ends_with(&format!("_{uid}"))
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    })
    .await;
}
