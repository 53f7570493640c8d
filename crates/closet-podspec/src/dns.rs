//! A pod's resolv.conf, as the kubelet composes it (`pkg/kubelet/network/dns`).
//!
//! `ClusterFirst` pods ask the cluster DNS server with the cluster search path in front of the
//! host's; `Default` pods get the host's settings; `None` pods only what `dnsConfig` says; and
//! `dnsConfig` is merged on top in every case. The result is cut to the limits glibc and the
//! API enforce.

use std::net::IpAddr;

use closet_cri::cri;
use k8s_openapi::api::core::v1::{Pod, PodDNSConfig};

use crate::SpecError;

const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCH_PATHS: usize = 32;
const MAX_SEARCH_LINE_CHARS: usize = 2048;
const MAX_DOMAIN_CHARS: usize = 253;

/// The host resolver settings pods inherit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` lines, in order.
    pub nameservers: Vec<String>,
    /// The last `search` line's domains, without trailing dots.
    pub searches: Vec<String>,
    /// `options` entries (`ndots:2`, `edns0`); a later option replaces an earlier one of the
    /// same name.
    pub options: Vec<String>,
}

impl ResolvConf {
    /// Parses resolv.conf text the way the kubelet does: nameservers accumulate, the last
    /// `search` line wins, options merge by name; comments (`#`, `;`) and other lines are
    /// ignored.
    pub fn parse(text: &str) -> ResolvConf {
        let mut conf = ResolvConf::default();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let mut fields = line.split_whitespace();
            match fields.next() {
                Some("nameserver") => conf.nameservers.extend(fields.next().map(str::to_owned)),
                Some("search") => {
                    conf.searches = fields
                        .filter(|domain| *domain != ".")
                        .map(|domain| domain.trim_end_matches('.').to_owned())
                        .collect();
                }
                Some("options") => {
                    for option in fields {
                        merge_option(&mut conf.options, option.to_owned());
                    }
                }
                _ => {}
            }
        }
        conf
    }

    /// The host settings to give pods. A loopback nameserver (systemd-resolved's `127.0.0.53`,
    /// a local dnsmasq) is unreachable from a pod's network namespace, so when `/etc/resolv.conf`
    /// lists one and systemd-resolved's upstream file (`/run/systemd/resolve/resolv.conf`) was
    /// passed, that file is used instead, as kubeadm and k3s arrange; loopback servers left over
    /// are dropped.
    pub fn for_pods(etc_resolv_conf: &str, systemd_resolved: Option<&str>) -> ResolvConf {
        let mut conf = ResolvConf::parse(etc_resolv_conf);
        if conf.nameservers.iter().any(|server| is_loopback(server))
            && let Some(upstream) = systemd_resolved
        {
            conf = ResolvConf::parse(upstream);
        }
        conf.nameservers.retain(|server| !is_loopback(server));
        conf
    }
}

fn is_loopback(server: &str) -> bool {
    server.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Adds `option`, replacing an existing one with the same name (the part before `:`).
fn merge_option(options: &mut Vec<String>, option: String) {
    let name = |o: &str| o.split_once(':').map_or(o, |(name, _)| name).to_owned();
    let new_name = name(&option);
    match options
        .iter_mut()
        .find(|existing| name(existing) == new_name)
    {
        Some(existing) => *existing = option,
        None => options.push(option),
    }
}

/// Where cluster DNS settings come from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClusterDns<'a> {
    pub(crate) server: Option<IpAddr>,
    pub(crate) domain: &'a str,
    pub(crate) host: &'a ResolvConf,
}

/// The sandbox's DNS configuration for `pod`.
pub(crate) fn pod_dns_config(
    pod: &Pod,
    cluster: ClusterDns<'_>,
) -> Result<cri::DnsConfig, SpecError> {
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    let policy = spec
        .and_then(|s| s.dns_policy.as_deref())
        .unwrap_or("ClusterFirst");
    let host = cluster.host;
    let mut config = match policy {
        "None" => cri::DnsConfig::default(),
        "ClusterFirstWithHostNet" | "ClusterFirst"
            if (policy != "ClusterFirst" || !host_network) && cluster.server.is_some() =>
        {
            let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
            cri::DnsConfig {
                servers: cluster.server.iter().map(IpAddr::to_string).collect(),
                searches: cluster_searches(namespace, cluster.domain, &host.searches),
                options: vec!["ndots:5".to_owned()],
            }
        }
        // Without a cluster DNS server the kubelet falls back to the host's settings, and a
        // ClusterFirst pod on the host network never uses the cluster's.
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" => cri::DnsConfig {
            servers: host.nameservers.clone(),
            searches: host.searches.clone(),
            options: host.options.clone(),
        },
        other => {
            return Err(SpecError::InvalidField {
                field: "dnsPolicy".into(),
                value: other.into(),
                reason: "must be ClusterFirst, ClusterFirstWithHostNet, Default or None".into(),
            });
        }
    };
    if let Some(extra) = spec.and_then(|s| s.dns_config.as_ref()) {
        merge_pod_dns_config(&mut config, extra);
    }
    fit_limits(&mut config);
    Ok(config)
}

fn cluster_searches(namespace: &str, domain: &str, host: &[String]) -> Vec<String> {
    if domain.is_empty() {
        return host.to_vec();
    }
    let mut searches = vec![
        format!("{namespace}.svc.{domain}"),
        format!("svc.{domain}"),
        domain.to_owned(),
    ];
    searches.extend(host.iter().cloned());
    dedup_keep_first(searches)
}

fn merge_pod_dns_config(config: &mut cri::DnsConfig, extra: &PodDNSConfig) {
    config
        .servers
        .extend(extra.nameservers.iter().flatten().cloned());
    config.servers = dedup_keep_first(std::mem::take(&mut config.servers));
    config
        .searches
        .extend(extra.searches.iter().flatten().cloned());
    config.searches = dedup_keep_first(std::mem::take(&mut config.searches));
    for option in extra.options.iter().flatten() {
        let Some(name) = option.name.as_deref() else {
            continue;
        };
        let text = match option.value.as_deref().filter(|v| !v.is_empty()) {
            Some(value) => format!("{name}:{value}"),
            None => name.to_owned(),
        };
        merge_option(&mut config.options, text);
    }
}

fn dedup_keep_first(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// At most 3 nameservers; search domains: at most 32, none longer than 253 characters (glibc
/// aborts on those), and the whole line at most 2048 characters, dropping from the end.
fn fit_limits(config: &mut cri::DnsConfig) {
    if config.servers.len() > MAX_NAMESERVERS {
        tracing::warn!(servers = ?config.servers, "more than 3 nameservers; using the first 3");
        config.servers.truncate(MAX_NAMESERVERS);
    }
    config.searches.truncate(MAX_SEARCH_PATHS);
    config
        .searches
        .retain(|domain| domain.len() <= MAX_DOMAIN_CHARS);
    let line_len = |searches: &[String]| {
        searches.iter().map(String::len).sum::<usize>() + searches.len().saturating_sub(1)
    };
    while line_len(&config.searches) > MAX_SEARCH_LINE_CHARS {
        config.searches.pop();
    }
}

#[cfg(test)]
mod tests;
