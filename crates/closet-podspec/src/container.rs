//! Container → `ContainerConfig` (`generateContainerConfig` and `generateLinuxContainerConfig`).

use std::collections::HashMap;
use std::path::PathBuf;

use closet_cri::cri;
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::SpecError;
use crate::expansion;
use crate::image;
use crate::labels;
use crate::resources;
use crate::security;

pub use crate::security::check_non_root;

/// What container creation needs besides the pod and the container.
#[derive(Clone, Debug, Default)]
pub struct ContainerContext {
    /// The restart count this instance is created for (CRI metadata `attempt`).
    pub attempt: u32,
    /// The log file relative to the sandbox's log directory (see [`container_log_path`]).
    pub log_path: String,
    /// The resolved environment (see [`crate::env::resolve_env`]).
    pub env: Vec<cri::KeyValue>,
    /// The volume mounts (see [`crate::volumes::mounts_for`]).
    pub mounts: Vec<cri::Mount>,
    /// The image as the pull resolved it (an image ID or digest reference).
    pub image_ref: String,
    /// The host file behind `terminationMessagePath`
    /// (see [`crate::volumes::termination_log_file`]); `None` mounts nothing there.
    pub termination_log: Option<PathBuf>,
    /// The node's memory in bytes, which scales a burstable container's OOM score.
    pub memory_capacity: i64,
}

/// `<container>/<attempt>.log`, the kubelet's log file layout inside the pod log directory.
pub fn container_log_path(container: &str, attempt: u32) -> String {
    format!("{container}/{attempt}.log")
}

/// The container configuration for one instance of `container`.
///
/// `runAsNonRoot` is checked against an explicit `runAsUser` here; against the image's own user
/// only the agent can check, with [`check_non_root`], once the image is pulled.
pub fn container_config(
    pod: &Pod,
    container: &Container,
    ctx: &ContainerContext,
) -> Result<cri::ContainerConfig, SpecError> {
    let user_image = container.image.clone().unwrap_or_default();
    image::validate_image_name(&user_image)?;
    security::check_explicit_non_root(pod, container)?;
    let (command, args) = expand_command_and_args(container, &ctx.env);
    let mut mounts = ctx.mounts.clone();
    if let Some(mount) = termination_log_mount(container, ctx) {
        mounts.push(mount);
    }
    Ok(cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: container.name.clone(),
            attempt: ctx.attempt,
        }),
        image: Some(cri::ImageSpec {
            image: ctx.image_ref.clone(),
            user_specified_image: user_image,
            ..Default::default()
        }),
        command,
        args,
        working_dir: container.working_dir.clone().unwrap_or_default(),
        envs: ctx.env.clone(),
        mounts,
        labels: labels::container_labels(pod, container),
        annotations: labels::container_annotations(pod, container, ctx.attempt),
        log_path: ctx.log_path.clone(),
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        tty: container.tty.unwrap_or(false),
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(resources::container_resources(
                pod,
                container,
                ctx.memory_capacity,
            )?),
            security_context: Some(security::container_security_context(pod, container)?),
        }),
        ..Default::default()
    })
}

/// `command` and `args` with `$(VAR)` references expanded against the container's environment
/// (`ExpandContainerCommandAndArgs`). The CRI command replaces the image's entrypoint and the
/// args its cmd, exactly as the Kubernetes fields do, so both pass through unchanged otherwise.
pub fn expand_command_and_args(
    container: &Container,
    env: &[cri::KeyValue],
) -> (Vec<String>, Vec<String>) {
    let vars: HashMap<&str, &str> = env
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_str()))
        .collect();
    let expand_all = |list: Option<&Vec<String>>| -> Vec<String> {
        list.into_iter()
            .flatten()
            .map(|item| expansion::expand_with(item, |name| vars.get(name).copied()))
            .collect()
    };
    (
        expand_all(container.command.as_ref()),
        expand_all(container.args.as_ref()),
    )
}

/// The termination message file, mounted read-write at `terminationMessagePath`.
fn termination_log_mount(container: &Container, ctx: &ContainerContext) -> Option<cri::Mount> {
    let path = container
        .termination_message_path
        .as_deref()
        .filter(|p| !p.is_empty())?;
    let host = ctx.termination_log.as_ref()?;
    Some(cri::Mount {
        container_path: path.to_owned(),
        host_path: host.to_string_lossy().into_owned(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests;
