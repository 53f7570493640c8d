//! Pod and container security contexts → CRI security contexts
//! (`pkg/kubelet/kuberuntime/security_context.go` and `pkg/securitycontext`).

use closet_cri::cri;
use cri::security_profile::ProfileType;
use k8s_openapi::api::core::v1::{
    AppArmorProfile, Container, Pod, PodSecurityContext, SELinuxOptions, SeccompProfile,
    SecurityContext,
};

use crate::SpecError;

/// What a container runs with once the pod's defaults and its own settings are merged
/// (`DetermineEffectiveSecurityContext`): the container's value wins field by field.
pub fn effective_security_context(pod: &Pod, container: &Container) -> SecurityContext {
    let pod_sc = pod_security_context(pod);
    let mut effective = container.security_context.clone().unwrap_or_default();
    if let Some(pod_sc) = pod_sc {
        effective.run_as_user = effective.run_as_user.or(pod_sc.run_as_user);
        effective.run_as_group = effective.run_as_group.or(pod_sc.run_as_group);
        effective.run_as_non_root = effective.run_as_non_root.or(pod_sc.run_as_non_root);
        if effective.se_linux_options.is_none() {
            effective.se_linux_options = pod_sc.se_linux_options.clone();
        }
        if effective.seccomp_profile.is_none() {
            effective.seccomp_profile = pod_sc.seccomp_profile.clone();
        }
        if effective.app_armor_profile.is_none() {
            effective.app_armor_profile = pod_sc.app_armor_profile.clone();
        }
    }
    effective
}

pub(crate) fn pod_security_context(pod: &Pod) -> Option<&PodSecurityContext> {
    pod.spec.as_ref()?.security_context.as_ref()
}

/// Network, PID and IPC namespaces (`NamespacesForPod`): the node's when `hostNetwork`,
/// `hostPID`, `hostIPC`; a PID namespace shared by the pod with `shareProcessNamespace`, and
/// one per container otherwise.
pub fn namespace_options(pod: &Pod) -> cri::NamespaceOption {
    let spec = pod.spec.as_ref();
    let flag = |get: fn(&k8s_openapi::api::core::v1::PodSpec) -> Option<bool>| {
        spec.and_then(get).unwrap_or(false)
    };
    let node_or_pod = |host: bool| {
        if host {
            cri::NamespaceMode::Node
        } else {
            cri::NamespaceMode::Pod
        }
    };
    let pid = if flag(|s| s.host_pid) {
        cri::NamespaceMode::Node
    } else if flag(|s| s.share_process_namespace) {
        cri::NamespaceMode::Pod
    } else {
        cri::NamespaceMode::Container
    };
    cri::NamespaceOption {
        network: node_or_pod(flag(|s| s.host_network)) as i32,
        pid: pid as i32,
        ipc: node_or_pod(flag(|s| s.host_ipc)) as i32,
        ..Default::default()
    }
}

/// `fsGroup` first, then `supplementalGroups`, as the kubelet orders them.
pub(crate) fn supplemental_groups(pod: &Pod) -> Vec<i64> {
    let Some(sc) = pod_security_context(pod) else {
        return Vec::new();
    };
    sc.fs_group
        .into_iter()
        .chain(sc.supplemental_groups.iter().flatten().copied())
        .collect()
}

pub(crate) fn supplemental_groups_policy(pod: &Pod) -> Result<i32, SpecError> {
    let policy = pod_security_context(pod).and_then(|sc| sc.supplemental_groups_policy.as_deref());
    match policy {
        None | Some("Merge") => Ok(cri::SupplementalGroupsPolicy::Merge as i32),
        Some("Strict") => Ok(cri::SupplementalGroupsPolicy::Strict as i32),
        Some(other) => Err(invalid(
            "supplementalGroupsPolicy",
            other,
            "must be Merge or Strict",
        )),
    }
}

pub(crate) fn selinux_options(options: Option<&SELinuxOptions>) -> Option<cri::SeLinuxOption> {
    options.map(|o| cri::SeLinuxOption {
        user: o.user.clone().unwrap_or_default(),
        role: o.role.clone().unwrap_or_default(),
        r#type: o.type_.clone().unwrap_or_default(),
        level: o.level.clone().unwrap_or_default(),
    })
}

/// A seccomp profile for CRI (containerd 1.6 reads the typed field). Without a profile the
/// kubelet's default (`SeccompDefault` off) applies: unconfined. Localhost profiles would need
/// a profile directory on every node, which closet does not manage yet.
pub(crate) fn seccomp(profile: Option<&SeccompProfile>) -> Result<cri::SecurityProfile, SpecError> {
    let kind = profile.map(|p| p.type_.as_str()).unwrap_or("Unconfined");
    match kind {
        "RuntimeDefault" => Ok(profile_of(ProfileType::RuntimeDefault)),
        "Unconfined" => Ok(profile_of(ProfileType::Unconfined)),
        "Localhost" => Err(SpecError::Unsupported("a Localhost seccomp profile".into())),
        other => Err(invalid(
            "seccompProfile.type",
            other,
            "unknown profile type",
        )),
    }
}

/// An AppArmor profile; `None` leaves the runtime's default in place.
pub(crate) fn apparmor(
    profile: Option<&AppArmorProfile>,
) -> Result<Option<cri::SecurityProfile>, SpecError> {
    let Some(profile) = profile else {
        return Ok(None);
    };
    let chosen = match profile.type_.as_str() {
        "RuntimeDefault" => profile_of(ProfileType::RuntimeDefault),
        "Unconfined" => profile_of(ProfileType::Unconfined),
        "Localhost" => cri::SecurityProfile {
            profile_type: ProfileType::Localhost as i32,
            localhost_ref: profile.localhost_profile.clone().unwrap_or_default(),
        },
        other => {
            return Err(invalid(
                "appArmorProfile.type",
                other,
                "unknown profile type",
            ));
        }
    };
    Ok(Some(chosen))
}

fn profile_of(kind: ProfileType) -> cri::SecurityProfile {
    cri::SecurityProfile {
        profile_type: kind as i32,
        localhost_ref: String::new(),
    }
}

/// Capability names as CRI wants them: upper case without the `CAP_` prefix, because
/// containerd prepends `CAP_` itself (a manifest saying `CAP_NET_ADMIN` would otherwise become
/// `CAP_CAP_NET_ADMIN` and fail in runc).
pub fn capability_name(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    match upper.strip_prefix("CAP_") {
        Some(bare) => bare.to_owned(),
        None => upper,
    }
}

/// Paths the runtime hides from containers unless `procMount: Unmasked`.
const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths the runtime makes read-only unless `procMount: Unmasked`.
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The container's CRI security context.
pub(crate) fn container_security_context(
    pod: &Pod,
    container: &Container,
) -> Result<cri::LinuxContainerSecurityContext, SpecError> {
    let effective = effective_security_context(pod, container);
    let capabilities = effective.capabilities.as_ref().map(|caps| cri::Capability {
        add_capabilities: caps
            .add
            .iter()
            .flatten()
            .map(|c| capability_name(c))
            .collect(),
        drop_capabilities: caps
            .drop
            .iter()
            .flatten()
            .map(|c| capability_name(c))
            .collect(),
        add_ambient_capabilities: Vec::new(),
    });
    let seccomp = seccomp(effective.seccomp_profile.as_ref())?;
    let apparmor = apparmor(effective.app_armor_profile.as_ref())?;
    let unmasked = effective.proc_mount.as_deref() == Some("Unmasked");
    let paths = |list: &[&str]| {
        if unmasked {
            Vec::new()
        } else {
            list.iter().map(|p| (*p).to_owned()).collect()
        }
    };
    Ok(cri::LinuxContainerSecurityContext {
        capabilities,
        privileged: effective.privileged.unwrap_or(false),
        namespace_options: Some(namespace_options(pod)),
        selinux_options: selinux_options(effective.se_linux_options.as_ref()),
        run_as_user: effective.run_as_user.map(|value| cri::Int64Value { value }),
        run_as_group: effective
            .run_as_group
            .map(|value| cri::Int64Value { value }),
        readonly_rootfs: effective.read_only_root_filesystem.unwrap_or(false),
        supplemental_groups: supplemental_groups(pod),
        supplemental_groups_policy: supplemental_groups_policy(pod)?,
        // Only an explicit `allowPrivilegeEscalation: false` sets no_new_privs.
        no_new_privs: effective.allow_privilege_escalation == Some(false),
        masked_paths: paths(MASKED_PATHS),
        readonly_paths: paths(READONLY_PATHS),
        seccomp: Some(seccomp),
        apparmor,
        ..Default::default()
    })
}

/// Refuses a container whose `runAsNonRoot` its explicit `runAsUser: 0` contradicts. The
/// image's own user is checked by [`check_non_root`] once the image is known.
pub(crate) fn check_explicit_non_root(pod: &Pod, container: &Container) -> Result<(), SpecError> {
    let effective = effective_security_context(pod, container);
    if effective.run_as_non_root == Some(true) && effective.run_as_user == Some(0) {
        return Err(non_root_error(
            pod,
            container,
            "container's runAsUser breaks non-root policy",
        ));
    }
    Ok(())
}

/// Upstream's `verifyRunAsNonRoot` against the image's configured user: `image_user` is the
/// `USER` of the image config as the runtime reports it (`"1000"`, `"1000:1000"`, `"app"`),
/// `None` or empty when the image sets none, which means root.
pub fn check_non_root(
    pod: &Pod,
    container: &Container,
    image_user: Option<&str>,
) -> Result<(), SpecError> {
    let effective = effective_security_context(pod, container);
    if effective.run_as_non_root != Some(true) {
        return Ok(());
    }
    match effective.run_as_user {
        Some(0) => {
            return Err(non_root_error(
                pod,
                container,
                "container's runAsUser breaks non-root policy",
            ));
        }
        Some(_) => return Ok(()),
        None => {}
    }
    let user = image_user.unwrap_or_default();
    let user = user
        .split_once(':')
        .map_or(user, |(user, _group)| user)
        .trim();
    match user.parse::<i64>() {
        _ if user.is_empty() || user == "root" => Err(non_root_error(
            pod,
            container,
            "container has runAsNonRoot and image will run as root",
        )),
        Ok(0) => Err(non_root_error(
            pod,
            container,
            "container has runAsNonRoot and image will run as root",
        )),
        Ok(_) => Ok(()),
        Err(_) => Err(non_root_error(
            pod,
            container,
            &format!(
                "container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root"
            ),
        )),
    }
}

fn non_root_error(pod: &Pod, container: &Container, detail: &str) -> SpecError {
    SpecError::RunAsNonRoot {
        pod: format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        ),
        container: container.name.clone(),
        detail: detail.to_owned(),
    }
}

pub(crate) fn invalid(field: &str, value: &str, reason: &str) -> SpecError {
    SpecError::InvalidField {
        field: field.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

#[cfg(test)]
mod tests;
