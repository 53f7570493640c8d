//! Pod → `PodSandboxConfig` (`generatePodSandboxConfig` and `generatePodSandboxLinuxConfig`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use closet_cri::cri;
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::SpecError;
use crate::dns::{self, ResolvConf};
use crate::labels;
use crate::resources;
use crate::security;

const MAX_HOSTNAME_LEN: usize = 63;
const MAX_FQDN_LEN: usize = 64;

/// What sandbox creation needs besides the pod.
#[derive(Clone, Debug)]
pub struct SandboxContext {
    /// How many sandboxes this pod has had before this one (CRI metadata `attempt`).
    pub attempt: u32,
    /// Directory for the pod's container logs (see [`pod_log_directory`]).
    pub log_directory: PathBuf,
    /// The cluster DNS server; `None` makes `ClusterFirst` pods use the host's resolver, as
    /// the kubelet does without `clusterDNS`.
    pub cluster_dns: Option<IpAddr>,
    /// The cluster domain, normally `cluster.local`.
    pub cluster_domain: String,
    /// The host resolver settings (see [`ResolvConf::for_pods`]).
    pub host_resolv_conf: ResolvConf,
    /// The cgroup the sandbox goes under, when the agent manages pod cgroups.
    pub cgroup_parent: Option<String>,
}

/// `<root>/<namespace>_<name>_<uid>`, the kubelet's layout under `/var/log/pods`.
pub fn pod_log_directory(root: &Path, pod: &Pod) -> PathBuf {
    let meta = &pod.metadata;
    root.join(format!(
        "{}_{}_{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
        meta.uid.as_deref().unwrap_or_default()
    ))
}

/// The sandbox configuration for `pod`.
pub fn sandbox_config(pod: &Pod, ctx: &SandboxContext) -> Result<cri::PodSandboxConfig, SpecError> {
    let key = labels::PodKey::of(pod);
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let cluster = dns::ClusterDns {
        server: ctx.cluster_dns,
        domain: &ctx.cluster_domain,
        host: &ctx.host_resolv_conf,
    };
    // A sandbox on the host network keeps the node's hostname.
    let hostname = if host_network {
        String::new()
    } else {
        sandbox_hostname(pod, &ctx.cluster_domain)?
    };
    Ok(cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: key.name,
            uid: key.uid,
            namespace: key.namespace,
            attempt: ctx.attempt,
        }),
        hostname,
        log_directory: ctx.log_directory.to_string_lossy().into_owned(),
        dns_config: Some(dns::pod_dns_config(pod, cluster)?),
        port_mappings: port_mappings(pod)?,
        labels: labels::sandbox_labels(pod),
        annotations: labels::sandbox_annotations(pod),
        linux: Some(linux_config(pod, ctx)?),
        windows: None,
    })
}

/// The pod's hostname and domain (`GeneratePodHostNameAndDomain`): `spec.hostname` or the pod
/// name, cut to 63 characters; with `spec.subdomain` the domain is
/// `<subdomain>.<namespace>.svc.<cluster domain>`.
pub fn hostname_and_domain(pod: &Pod, cluster_domain: &str) -> Result<(String, String), SpecError> {
    let spec = pod.spec.as_ref();
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let hostname = match spec
        .and_then(|s| s.hostname.as_deref())
        .filter(|h| !h.is_empty())
    {
        Some(hostname) => {
            check_dns_label("hostname", hostname)?;
            hostname
        }
        None => name,
    };
    let hostname = truncate_hostname(hostname)?;
    let domain = match spec
        .and_then(|s| s.subdomain.as_deref())
        .filter(|d| !d.is_empty())
    {
        Some(subdomain) => {
            check_dns_label("subdomain", subdomain)?;
            let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
            format!("{subdomain}.{namespace}.svc.{cluster_domain}")
        }
        None => String::new(),
    };
    Ok((hostname, domain))
}

/// The kernel hostname: the short name, or the FQDN with `setHostnameAsFQDN`.
fn sandbox_hostname(pod: &Pod, cluster_domain: &str) -> Result<String, SpecError> {
    let (hostname, domain) = hostname_and_domain(pod, cluster_domain)?;
    let as_fqdn = pod
        .spec
        .as_ref()
        .and_then(|s| s.set_hostname_as_fqdn)
        .unwrap_or(false);
    if !as_fqdn || domain.is_empty() {
        return Ok(hostname);
    }
    let fqdn = format!("{hostname}.{domain}");
    if fqdn.len() > MAX_FQDN_LEN {
        return Err(SpecError::Hostname(format!(
            "failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} is too long \
             ({MAX_FQDN_LEN} characters is the max, {} characters requested)",
            fqdn.len()
        )));
    }
    Ok(fqdn)
}

fn truncate_hostname(hostname: &str) -> Result<String, SpecError> {
    if hostname.len() <= MAX_HOSTNAME_LEN {
        return Ok(hostname.to_owned());
    }
    // Names are ASCII (DNS labels), so cutting at a byte index is safe; the guard keeps a
    // malformed name from panicking.
    let cut = hostname.get(..MAX_HOSTNAME_LEN).unwrap_or(hostname);
    let trimmed = cut.trim_end_matches(['-', '.']);
    if trimmed.is_empty() {
        return Err(SpecError::Hostname(format!(
            "hostname for pod {hostname:?} was invalid"
        )));
    }
    Ok(trimmed.to_owned())
}

fn check_dns_label(field: &str, value: &str) -> Result<(), SpecError> {
    let bytes = value.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_HOSTNAME_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    if ok {
        Ok(())
    } else {
        Err(SpecError::Hostname(format!(
            "pod {field} {value:?} is not a valid DNS label"
        )))
    }
}

/// Host ports of every container, as CRI port mappings; ports without `hostPort` need none.
fn port_mappings(pod: &Pod) -> Result<Vec<cri::PortMapping>, SpecError> {
    let Some(spec) = pod.spec.as_ref() else {
        return Ok(Vec::new());
    };
    let mut mappings: Vec<cri::PortMapping> = Vec::new();
    for port in spec
        .containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
    {
        let Some(host_port) = port.host_port.filter(|p| *p > 0) else {
            continue;
        };
        let protocol = match port.protocol.as_deref().unwrap_or("TCP") {
            "TCP" => cri::Protocol::Tcp,
            "UDP" => cri::Protocol::Udp,
            "SCTP" => cri::Protocol::Sctp,
            other => {
                return Err(security::invalid(
                    "ports.protocol",
                    other,
                    "must be TCP, UDP or SCTP",
                ));
            }
        };
        let mapping = cri::PortMapping {
            protocol: protocol as i32,
            container_port: port.container_port,
            host_port,
            host_ip: port.host_ip.clone().unwrap_or_default(),
        };
        if !mappings.contains(&mapping) {
            mappings.push(mapping);
        }
    }
    Ok(mappings)
}

fn linux_config(pod: &Pod, ctx: &SandboxContext) -> Result<cri::LinuxPodSandboxConfig, SpecError> {
    let pod_sc = security::pod_security_context(pod);
    let sysctls: HashMap<String, String> = pod_sc
        .into_iter()
        .flat_map(|sc| sc.sysctls.iter().flatten())
        .map(|sysctl| (sysctl.name.clone(), sysctl.value.clone()))
        .collect();
    let security_context = cri::LinuxSandboxSecurityContext {
        namespace_options: Some(security::namespace_options(pod)),
        selinux_options: security::selinux_options(
            pod_sc.and_then(|sc| sc.se_linux_options.as_ref()),
        ),
        run_as_user: pod_sc
            .and_then(|sc| sc.run_as_user)
            .map(|value| cri::Int64Value { value }),
        run_as_group: pod_sc
            .and_then(|sc| sc.run_as_group)
            .map(|value| cri::Int64Value { value }),
        supplemental_groups: security::supplemental_groups(pod),
        supplemental_groups_policy: security::supplemental_groups_policy(pod)?,
        privileged: any_privileged(pod),
        seccomp: Some(security::seccomp(
            pod_sc.and_then(|sc| sc.seccomp_profile.as_ref()),
        )?),
        apparmor: security::apparmor(pod_sc.and_then(|sc| sc.app_armor_profile.as_ref()))?,
        ..Default::default()
    };
    Ok(cri::LinuxPodSandboxConfig {
        cgroup_parent: ctx.cgroup_parent.clone().unwrap_or_default(),
        security_context: Some(security_context),
        sysctls,
        overhead: resources::overhead_resources(pod)?,
        resources: None,
    })
}

/// Sysctls every pod may set: namespaced, and unable to hurt other pods (the kubelet's safe
/// list at 1.35).
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];

/// The pod's sysctls the node must refuse (upstream rejects such a pod at admission with
/// reason `SysctlForbidden`): those neither safe nor matched by `allowed_unsafe` (exact names
/// or `prefix*` patterns), and network ones on a host-network pod, which would change the
/// node's own network settings.
pub fn forbidden_sysctls(pod: &Pod, allowed_unsafe: &[&str]) -> Vec<String> {
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let allowed = |name: &str| {
        SAFE_SYSCTLS.contains(&name)
            || allowed_unsafe
                .iter()
                .any(|pattern| match pattern.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => name == *pattern,
                })
    };
    security::pod_security_context(pod)
        .into_iter()
        .flat_map(|sc| sc.sysctls.iter().flatten())
        .map(|sysctl| dotted_sysctl(&sysctl.name))
        .filter(|name| !allowed(name) || (host_network && name.starts_with("net.")))
        .collect()
}

/// `net/ipv4/ip_forward` is another spelling of `net.ipv4.ip_forward` (with `.` and `/`
/// swapped, as in `net/ipv4/conf/eth0.100/forwarding`).
fn dotted_sysctl(name: &str) -> String {
    if !name.contains('/') {
        return name.to_owned();
    }
    name.chars()
        .map(|c| match c {
            '/' => '.',
            '.' => '/',
            other => other,
        })
        .collect()
}

/// The sandbox must know up front whether any of its containers will be privileged.
fn any_privileged(pod: &Pod) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return false;
    };
    let privileged = |c: &Container| {
        c.security_context
            .as_ref()
            .and_then(|sc| sc.privileged)
            .unwrap_or(false)
    };
    let ephemeral = spec.ephemeral_containers.iter().flatten().any(|c| {
        c.security_context
            .as_ref()
            .and_then(|sc| sc.privileged)
            .unwrap_or(false)
    });
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .any(privileged)
        || ephemeral
}

#[cfg(test)]
mod tests;
