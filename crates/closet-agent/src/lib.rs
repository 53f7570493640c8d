//! The node agent (DESIGN.md §6): registers this machine as a Node, renews its Lease, and
//! runs the pods bound to it through CRI on containerd.
//!
//! Start reading at [`Agent::run`]: it starts (or connects to) containerd, imports the pause
//! image and any offline image archives, registers the node, waits for the pod CIDR the
//! server assigns, writes the CNI config, and then runs the pod loop ([`pods`]), the Lease
//! heartbeat and the status reports ([`node`]), and the routes to other nodes' pods
//! ([`network::peer_routes`]) side by side.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

mod directory;
mod error;
pub mod network;
pub mod node;
pub mod pods;
mod start;

pub use start::{NodeOptions, run_node};

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use closet_cri::{Runtime, RuntimeExt};

pub use error::{AgentError, error_text};

/// The default service CIDR (for the blackhole route), as k3s.
pub const DEFAULT_SERVICE_CIDR: &str = "10.43.0.0/16";
/// The default cluster CIDR, as k3s.
pub const DEFAULT_CLUSTER_CIDR: &str = "10.42.0.0/16";

/// How the agent is set up.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The Node's name.
    pub node_name: String,
    /// `<data-dir>/agent`.
    pub agent_dir: PathBuf,
    /// The address other nodes and the server reach this one at; found from the routing
    /// table when unset.
    pub node_ip: Option<IpAddr>,
    /// The API server's address, to pick the local address that reaches it.
    pub server_ip: Option<IpAddr>,
    /// The cluster CIDR (blackholed as a whole; the node's own range is routed to its bridge).
    pub cluster_cidr: String,
    /// The service CIDR (routed into the pod bridge, never out of the node).
    pub service_cidr: String,
    /// The port the node API listens on (0: any free port).
    pub node_api_port: u16,
    /// Pod settings.
    pub pods: pods::PodSettings,
    /// The node-local cluster DNS server.
    pub dns: DnsSettings,
}

/// The node-local cluster DNS server (`closet-dns`), on the 10th address of the service
/// CIDR.
#[derive(Clone, Debug, Default)]
pub struct DnsSettings {
    /// Run no DNS server: pods then get the host's resolver settings.
    pub disabled: bool,
    /// Upstream resolvers for names outside the cluster; empty means the host's, from its
    /// resolv.conf.
    pub upstreams: Vec<std::net::SocketAddr>,
}

impl AgentConfig {
    /// Defaults for a node called `node_name` keeping its state in `agent_dir`.
    pub fn new(node_name: impl Into<String>, agent_dir: impl Into<PathBuf>) -> Self {
        Self {
            node_name: node_name.into(),
            agent_dir: agent_dir.into(),
            node_ip: None,
            server_ip: None,
            cluster_cidr: DEFAULT_CLUSTER_CIDR.to_owned(),
            service_cidr: DEFAULT_SERVICE_CIDR.to_owned(),
            node_api_port: 10250,
            pods: pods::PodSettings::default(),
            dns: DnsSettings::default(),
        }
    }
}

/// The node agent.
pub struct Agent {
    config: AgentConfig,
    client: kube::Client,
    runtime: Arc<dyn Runtime>,
    table: Arc<pods::table::PodTable>,
}

impl Agent {
    /// An agent talking to the API through `client` and to containers through `runtime`.
    pub fn new(config: AgentConfig, client: kube::Client, runtime: Arc<dyn Runtime>) -> Self {
        Self {
            config,
            client,
            runtime,
            table: Arc::default(),
        }
    }

    /// Shares `table` (the pods this agent runs) with whoever reads it, such as the node API.
    pub fn with_table(mut self, table: Arc<pods::table::PodTable>) -> Self {
        self.table = table;
        self
    }

    /// Runs until `shutdown` resolves. Containers keep running after it returns; the next
    /// start adopts them.
    pub async fn run(
        self,
        node_api_port: u16,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), AgentError> {
        let Self {
            config,
            client,
            runtime,
            table,
        } = self;
        let name = config.node_name.clone();
        let facts = node::facts::HostFacts::read(&config.agent_dir);
        let host_ip = config
            .node_ip
            .unwrap_or_else(|| node::facts::primary_address(config.server_ip));
        let version = runtime.runtime_version().await.map_err(AgentError::cri(
            "asking the container runtime for its version",
        ))?;
        let runtime_version = format!("{}://{}", version.runtime_name, version.runtime_version);

        node::register(&client, &name, &facts).await?;
        let hostname = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        let addresses = [host_ip];
        // A machine without `nft` still runs pods; the node says what to install.
        let service_proxy =
            closet_proxy::missing_prerequisites(&std::env::var_os("PATH").unwrap_or_default())
                .map_or(Ok(()), Err);
        if let Err(why) = &service_proxy {
            tracing::warn!("{why}");
        }
        let report = |ready: Result<(), String>| node::object::NodeReport {
            name: &name,
            addresses: &addresses,
            hostname: &hostname,
            runtime_version: &runtime_version,
            node_api_port,
            ready,
            images: None,
            service_proxy: service_proxy.clone(),
        };
        let images = node::images(runtime.as_ref()).await;
        let mut last = node::report_status(
            &client,
            &node::object::NodeReport {
                images: images.as_deref(),
                ..report(Err("the node is starting".into()))
            },
            &facts,
            None,
            true,
        )
        .await?;
        node::renew_lease(&client, &name).await?;
        let storage_root = closet_storage::node::storage_root(&config.agent_dir);
        if let Err(err) = closet_storage::node::advertise(&client, &name, &storage_root).await {
            tracing::warn!("{}", closet_storage::error_chain(&err));
        }

        let pod_cidr = node::wait_for_pod_cidr(&client, &name).await?;
        let cni_dir = config.agent_dir.join("cni");
        network::cni::write(&cni_dir.join("net.d"), &pod_cidr, &cni_dir.join("ipam")).map_err(
            |e| {
                AgentError::Other(format!(
                    "writing the CNI config in {}: {e}",
                    cni_dir.display()
                ))
            },
        )?;
        if let Err(why) =
            network::routes::fix_bridge_addresses(network::cni::BRIDGE, &pod_cidr).await
        {
            tracing::warn!("{why}");
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        let network_missing = network::cni::missing_prerequisites(
            std::path::Path::new(closet_cri::DEFAULT_CNI_BIN_DIR),
            &path,
        );
        if let Some(why) = &network_missing {
            tracing::warn!("pods cannot get a network: {why}");
        }
        if let Err(why) = network::routes::install_blackholes(&[&config.cluster_cidr]).await {
            tracing::warn!("{why}");
        }
        if let Err(why) =
            network::routes::route_services(&config.service_cidr, network::cni::BRIDGE, &pod_cidr)
                .await
        {
            tracing::warn!("the node itself cannot reach ClusterIPs: {why}");
            // Never let the service range follow the default route.
            if let Err(why) = network::routes::install_blackholes(&[&config.service_cidr]).await {
                tracing::warn!("{why}");
            }
        }
        // Without a pod network the node says why in its Ready condition.
        let ready = network_missing.map_or(Ok(()), Err);
        tracing::info!(node = %name, %pod_cidr, address = %host_ip, "node agent ready");

        let shared = Arc::new(pods::Shared {
            client: client.clone(),
            runtime: runtime.clone(),
            node_name: name.clone(),
            host_ip: host_ip.to_string(),
            pods_dir: config.agent_dir.join("pods"),
            logs_dir: config.agent_dir.join("logs"),
            settings: config.pods.clone(),
            table,
            memory_capacity: i64::try_from(facts.memory_bytes).unwrap_or(i64::MAX),
            sandbox_ips: std::sync::Mutex::default(),
            tokens: pods::tokens::TokenCache::default(),
        });
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = move || {
            let mut rx = stop_rx.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        let pod_loop = tokio::spawn(pods::run(shared, stopped()));
        let peer_routes = tokio::spawn(network::peer_routes::run(
            client.clone(),
            name.clone(),
            Arc::new(network::route_table::IpRouteTable),
            stopped(),
        ));
        let proxy_task = start_proxy(&client, &config, stopped());
        let reclaim = tokio::spawn(closet_storage::node::reclaim(
            client.clone(),
            name.clone(),
            storage_root,
            stopped(),
        ));
        let heartbeat = async {
            let mut lease = tokio::time::interval(node::LEASE_RENEW);
            let mut last_report = tokio::time::Instant::now();
            let mut stop = std::pin::pin!(stopped());
            loop {
                tokio::select! {
                    () = &mut stop => break,
                    _ = lease.tick() => {}
                }
                if let Err(err) = node::renew_lease(&client, &name).await {
                    tracing::warn!("{}", error_text(&err));
                }
                let force = last_report.elapsed() >= node::STATUS_REPORT
                    || node::server_disagrees(&client, &name, last.as_ref()).await;
                let images = node::images(runtime.as_ref()).await;
                match node::report_status(
                    &client,
                    &node::object::NodeReport {
                        images: images.as_deref(),
                        ..report(ready.clone())
                    },
                    &facts,
                    last.as_ref(),
                    force,
                )
                .await
                {
                    Ok(Some(written)) => {
                        last = Some(written);
                        last_report = tokio::time::Instant::now();
                    }
                    Ok(None) => {}
                    Err(err) => tracing::warn!("{}", error_text(&err)),
                }
            }
        };
        let signal = async {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        tokio::join!(heartbeat, signal);
        let _ = tokio::time::timeout(Duration::from_secs(5), pod_loop).await;
        if let Some(proxy) = proxy_task {
            // The proxy removes its table on the way out.
            let _ = tokio::time::timeout(Duration::from_secs(5), proxy).await;
        }
        reclaim.abort();
        let _ = tokio::time::timeout(Duration::from_secs(5), peer_routes).await;
        Ok(())
    }
}

/// Starts the service proxy for this node. Without `nft` it keeps trying (the package may
/// be installed later) and says so in the log and the node's `ServiceProxyReady` condition.
fn start_proxy(
    client: &kube::Client,
    config: &AgentConfig,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Option<tokio::task::JoinHandle<()>> {
    let cidrs = config
        .cluster_cidr
        .parse::<closet_proxy::Ipv4Cidr>()
        .and_then(|cluster| Ok((cluster, config.service_cidr.parse()?)));
    let (cluster_cidr, service_cidr) = match cidrs {
        Ok(cidrs) => cidrs,
        Err(err) => {
            tracing::warn!("the service proxy cannot start: {err}");
            return None;
        }
    };
    let proxy = closet_proxy::ProxyConfig {
        node_name: config.node_name.clone(),
        cluster_cidr,
        service_cidr,
    };
    Some(tokio::spawn(closet_proxy::run(client.clone(), proxy, stop)))
}
