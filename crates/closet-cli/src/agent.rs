//! `closet agent` flags.
//!
//! Each flag can also come from the environment variable `CLOSET_<FLAG>` (SCREAMING_SNAKE
//! case), as for `closet server`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;

use crate::server::{DEFAULT_CLUSTER_CIDR, DEFAULT_DATA_DIR, DEFAULT_SERVICE_CIDR};

/// `closet agent`: the node side only, for every machine but the server. Joins the cluster with
/// a token, then talks only to the API.
#[derive(Clone, Debug, Args)]
pub struct AgentArgs {
    /// URL of the server's API, e.g. `https://192.168.1.10:6443`.
    #[arg(long, env = "CLOSET_SERVER")]
    pub server: String,

    /// The server's join token; `closet token` on the server prints it.
    #[arg(long, env = "CLOSET_TOKEN", hide_env_values = true)]
    pub token: String,

    /// Directory for this node's certificates (`<data-dir>/agent/tls`) and container runtime.
    #[arg(long, env = "CLOSET_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Name of this node's Node object. Defaults to the host name, in lower case.
    #[arg(long, env = "CLOSET_NODE_NAME")]
    pub node_name: Option<String>,

    /// IP address of this node, which its serving certificate covers. Repeat the flag, or
    /// separate values with commas, for dual-stack nodes. Defaults to every non-loopback
    /// address of the host.
    #[arg(long, env = "CLOSET_NODE_IP", value_delimiter = ',')]
    pub node_ip: Vec<IpAddr>,

    /// CRI socket of a container runtime to use instead of closet's own containerd, e.g.
    /// `unix:///run/containerd/containerd.sock`.
    #[arg(long, env = "CLOSET_CONTAINER_RUNTIME_ENDPOINT")]
    pub container_runtime_endpoint: Option<String>,

    /// The cluster's service CIDR, as given to the server; routed nowhere on this node
    /// (a blackhole route) so service addresses never leak onto the LAN.
    #[arg(long, env = "CLOSET_SERVICE_CIDR", default_value = DEFAULT_SERVICE_CIDR)]
    pub service_cidr: String,

    /// The cluster's pod CIDR, as given to the server; blackholed like the service CIDR,
    /// except for this node's own range.
    #[arg(long, env = "CLOSET_CLUSTER_CIDR", default_value = DEFAULT_CLUSTER_CIDR)]
    pub cluster_cidr: String,
    /// Run no cluster DNS server on this node: its pods then get the host's resolver
    /// settings instead of the cluster DNS address.
    #[arg(long, env = "CLOSET_DISABLE_DNS")]
    pub disable_dns: bool,

    /// Upstream resolver for names outside the cluster domain (`1.2.3.4` or
    /// `127.0.0.1:5353`). Repeat the flag, or separate values with commas. Default: the
    /// host's, from /etc/resolv.conf.
    #[arg(long, env = "CLOSET_DNS_UPSTREAM", value_delimiter = ',')]
    pub dns_upstream: Vec<String>,
}
