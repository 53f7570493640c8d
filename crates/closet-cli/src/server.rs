//! `closet server` flags.
//!
//! Each flag has three other spellings, in falling precedence after the flag itself: the
//! environment variable named in [`ENV_PREFIX`] + the flag in SCREAMING_SNAKE case, a key of
//! the same name as the flag in the YAML config file (`data-dir: /srv/closet`), and the
//! default shown here. The binary layers the config file in, since clap knows only flags, the
//! environment and defaults.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Prefix of every environment variable closet reads.
pub const ENV_PREFIX: &str = "CLOSET_";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/closet";
/// Default config file.
pub const DEFAULT_CONFIG: &str = "/etc/closet/config.yaml";
/// Default path of the admin kubeconfig the server writes.
pub const DEFAULT_KUBECONFIG: &str = "/etc/closet/kubeconfig.yaml";
/// Default HTTPS port, as upstream.
pub const DEFAULT_HTTPS_PORT: u16 = 6443;
/// Default service CIDR, as k3s.
pub const DEFAULT_SERVICE_CIDR: &str = "10.43.0.0/16";
/// Default NodePort range, as upstream.
pub const DEFAULT_NODE_PORT_RANGE: &str = "30000-32767";
/// Default cluster (pod) CIDR, as k3s.
pub const DEFAULT_CLUSTER_CIDR: &str = "10.42.0.0/16";

/// `closet server`: the API server, datastore and (later) everything else for a
/// single-machine cluster.
#[derive(Clone, Debug, Args)]
pub struct ServerArgs {
    /// Directory for the database, certificates and lock file. Must be on a local filesystem.
    #[arg(long, env = "CLOSET_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Address the HTTPS API listens on.
    #[arg(long, env = "CLOSET_BIND_ADDRESS", default_value = "0.0.0.0")]
    pub bind_address: IpAddr,

    /// Port the HTTPS API listens on.
    #[arg(long, env = "CLOSET_HTTPS_LISTEN_PORT", default_value_t = DEFAULT_HTTPS_PORT)]
    pub https_listen_port: u16,

    /// Where to write the admin kubeconfig (mode 0600).
    #[arg(long, env = "CLOSET_WRITE_KUBECONFIG", default_value = DEFAULT_KUBECONFIG)]
    pub write_kubeconfig: PathBuf,

    /// Extra DNS name or IP address for the serving certificate. Repeat the flag, or separate
    /// values with commas.
    #[arg(long, env = "CLOSET_TLS_SAN", value_delimiter = ',')]
    pub tls_san: Vec<String>,

    /// Do not run the node agent in this process: the server then runs no pods itself, and
    /// machines join with `closet agent`.
    #[arg(long, env = "CLOSET_DISABLE_AGENT")]
    pub disable_agent: bool,

    /// Run no cluster DNS server on this node: its pods then get the host's resolver
    /// settings instead of the cluster DNS address.
    #[arg(long, env = "CLOSET_DISABLE_DNS")]
    pub disable_dns: bool,

    /// Upstream resolver for names outside the cluster domain (`1.2.3.4` or
    /// `127.0.0.1:5353`). Repeat the flag, or separate values with commas. Default: the
    /// host's, from /etc/resolv.conf (systemd-resolved's upstream list instead of its
    /// loopback stub).
    #[arg(long, env = "CLOSET_DNS_UPSTREAM", value_delimiter = ',')]
    pub dns_upstream: Vec<String>,

    /// Ask only registries on this machine (loopback addresses) which CPU architectures an
    /// image offers; the scheduler then never reaches out to registries over the network,
    /// and images elsewhere are placed by node labels alone.
    #[arg(long, env = "CLOSET_REGISTRY_LOOKUPS_LOCAL_ONLY")]
    pub registry_lookups_local_only: bool,

    /// The node's name. Default: this machine's hostname.
    #[arg(long, env = "CLOSET_NODE_NAME")]
    pub node_name: Option<String>,

    /// The address other nodes and the API server reach this node at. Default: the address
    /// of the interface holding the default route.
    #[arg(long, env = "CLOSET_NODE_IP")]
    pub node_ip: Option<IpAddr>,

    /// Use this existing CRI socket (e.g. unix:///run/containerd/containerd.sock) instead of
    /// starting closet's own containerd.
    #[arg(long, env = "CLOSET_CONTAINER_RUNTIME_ENDPOINT")]
    pub container_runtime_endpoint: Option<PathBuf>,

    /// Port of the node API (logs, exec, port-forward); 0 picks a free port.
    #[arg(long, env = "CLOSET_NODE_API_PORT", default_value_t = 10250)]
    pub node_api_port: u16,

    /// Seconds pods tolerate a not-ready node before they are evicted, for pods that do not
    /// say (the toleration added at admission, as upstream's DefaultTolerationSeconds).
    #[arg(
        long,
        env = "CLOSET_DEFAULT_NOT_READY_TOLERATION_SECONDS",
        default_value_t = 300
    )]
    pub default_not_ready_toleration_seconds: i64,

    /// Seconds pods tolerate an unreachable node before they are evicted, for pods that do
    /// not say.
    #[arg(
        long,
        env = "CLOSET_DEFAULT_UNREACHABLE_TOLERATION_SECONDS",
        default_value_t = 300
    )]
    pub default_unreachable_toleration_seconds: i64,

    /// How long a node may go without renewing its Lease or posting status before it is
    /// marked Unknown and tainted unreachable (`40s`, `2m`, `1m30s`, or plain seconds).
    #[arg(long, env = "CLOSET_NODE_MONITOR_GRACE_PERIOD", default_value = "40s", value_parser = parse_duration)]
    pub node_monitor_grace_period: Duration,

    /// The range Service cluster IPs come from (IPv4). The `kubernetes` Service gets its
    /// first address and cluster DNS its tenth.
    #[arg(long, env = "CLOSET_SERVICE_CIDR", default_value = DEFAULT_SERVICE_CIDR)]
    pub service_cidr: String,

    /// The ports NodePort and LoadBalancer Services get their node ports from, `first-last`.
    #[arg(long, env = "CLOSET_SERVICE_NODE_PORT_RANGE", default_value = DEFAULT_NODE_PORT_RANGE)]
    pub service_node_port_range: String,

    /// The range pod addresses come from (IPv4); each node gets a /24 of it.
    #[arg(long, env = "CLOSET_CLUSTER_CIDR", default_value = DEFAULT_CLUSTER_CIDR)]
    pub cluster_cidr: String,

    /// YAML config file whose keys mirror these flags; files in `<config>.d/*.yaml` are
    /// applied after it in name order. A missing default file is fine.
    #[arg(long, env = "CLOSET_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,

    /// Start even though the data dir is on a network or FUSE filesystem (NFS, CIFS/SMB, 9p,
    /// FUSE), where SQLite's locking and fsync cannot be trusted and the database can be
    /// corrupted. Only for filesystems you know to be safe.
    #[arg(long, env = "CLOSET_FORCE_UNSAFE_FILESYSTEM")]
    pub force_unsafe_filesystem: bool,
}

/// Parses a duration as Go spells them for these flags: `40s`, `2m`, `1h`, `1m30s`, `500ms`,
/// or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let bad = || format!("invalid duration {text:?}; use a form like 40s, 2m or 1m30s");
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            _ => return Err(bad()),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go_flags() {
        assert_eq!(parse_duration("40s"), Ok(Duration::from_secs(40)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
    }
}
