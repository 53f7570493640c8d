//! Bringing a node up: the container runtime (closet's own containerd, or an existing CRI
//! socket), the pause image and offline image archives, the node API, the node-local
//! cluster DNS server, then the agent.

use std::path::PathBuf;
use std::sync::Arc;

use closet_cri::images::{CtrImporter, ImportDir};
use closet_cri::{Containerd, ContainerdConfig, CriClient, Runtime};

use crate::{Agent, AgentConfig, AgentError};

/// Everything a node needs besides its API client.
pub struct NodeOptions {
    /// The agent's settings.
    pub agent: AgentConfig,
    /// An existing CRI socket to use instead of starting closet's own containerd.
    pub runtime_endpoint: Option<PathBuf>,
    /// The node API's TLS config (its serving certificate, the cluster CA for clients).
    pub node_api_tls: Arc<rustls::ServerConfig>,
}

/// Runs a node until `shutdown` resolves: containerd (supervised), image imports, the node
/// API and the agent. Containers keep running after it returns.
pub async fn run_node(
    options: NodeOptions,
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), AgentError> {
    let agent_dir = options.agent.agent_dir.clone();
    std::fs::create_dir_all(&agent_dir)
        .map_err(|e| AgentError::Other(format!("cannot create {}: {e}", agent_dir.display())))?;
    let (runtime, containerd, socket): (Arc<dyn Runtime>, Option<Containerd>, PathBuf) =
        match &options.runtime_endpoint {
            Some(endpoint) => {
                let client = CriClient::connect(endpoint).await.map_err(AgentError::cri(
                    "connecting to --container-runtime-endpoint",
                ))?;
                let socket = client.socket().to_path_buf();
                (Arc::new(client), None, socket)
            }
            None => {
                let config = ContainerdConfig::new(&agent_dir).for_this_process();
                let socket = config.socket_path();
                let containerd = Containerd::start(config)
                    .await
                    .map_err(AgentError::cri("starting containerd"))?;
                (
                    Arc::new(containerd.client().clone()),
                    Some(containerd),
                    socket,
                )
            }
        };

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    match CtrImporter::new(&socket) {
        Ok(importer) => {
            match importer
                .import_bytes("closet's pause image", closet_image::pause::archive())
                .await
            {
                Ok(_) => tracing::debug!("imported {}", closet_image::pause::IMAGE),
                Err(err) => {
                    tracing::warn!("importing the pause image: {}", crate::error_text(&err))
                }
            }
            let images_dir = agent_dir.join("images");
            let _ = std::fs::create_dir_all(&images_dir);
            let watcher = ImportDir::new(images_dir, Arc::new(importer));
            let stop = stopped();
            tokio::spawn(async move {
                tokio::select! {
                    () = watcher.run() => {}
                    () = stop => {}
                }
            });
        }
        Err(err) => tracing::warn!("image import is unavailable: {}", crate::error_text(&err)),
    }

    let table = Arc::new(crate::pods::table::PodTable::default());
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", options.agent.node_api_port))
        .await
        .map_err(|e| {
            AgentError::Other(format!(
                "the node API cannot listen on port {}: {e}; another closet agent or a kubelet may be running (choose another port with --node-api-port)",
                options.agent.node_api_port
            ))
        })?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
    let node_api = closet_nodeapi::NodeApi::new(
        runtime.clone(),
        Arc::new(crate::directory::Directory(table.clone())),
        options.agent.node_name.clone(),
    )
    .with_node_fs_path(options.agent.agent_dir.clone());
    let api_task = tokio::spawn(node_api.serve(listener, options.node_api_tls.clone(), stopped()));

    let mut config = options.agent;
    let dns = cluster_dns(&mut config, &client, stopped()).await;

    let agent = Agent::new(config, client, runtime).with_table(table);
    let signal = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let (result, ()) = tokio::join!(agent.run(port, stopped()), signal);
    let _ = api_task.await;
    if let Some((dns, holder, address)) = dns {
        let _ = dns.await;
        crate::network::dns_address::remove(holder, address).await;
    }
    if let Some(containerd) = containerd
        && let Err(err) = containerd.stop().await
    {
        tracing::warn!("stopping containerd: {}", crate::error_text(&err));
    }
    result
}

/// Starts the node-local cluster DNS server on the 10th address of the service CIDR and
/// points pods at it (`config.pods.cluster_dns`). When that cannot be done (no root, the
/// port taken), pods get the host's resolver settings and the node says why in its log.
async fn cluster_dns(
    config: &mut AgentConfig,
    client: &kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Option<(
    tokio::task::JoinHandle<()>,
    crate::network::dns_address::Holder,
    std::net::IpAddr,
)> {
    if config.dns.disabled {
        tracing::info!("cluster DNS disabled: pods use the host's resolvers");
        return None;
    }
    let Some(address) = closet_dns::cluster_dns_address(&config.service_cidr) else {
        tracing::warn!(
            "the service CIDR {} has no 10th address for cluster DNS; pods use the host's resolvers",
            config.service_cidr
        );
        return None;
    };
    let holder = match crate::network::dns_address::install(address).await {
        Ok(holder) => holder,
        Err(why) => {
            tracing::warn!("cluster DNS is unavailable: {why}; pods use the host's resolvers");
            return None;
        }
    };
    let listeners = match closet_dns::Listeners::bind((address, 53).into()).await {
        Ok(listeners) => listeners,
        Err(err) => {
            tracing::warn!(
                "cluster DNS cannot listen on {address}:53: {err}; pods use the host's resolvers"
            );
            return None;
        }
    };
    let mut dns = closet_dns::Config::new(&[&config.service_cidr, &config.cluster_cidr]);
    dns.domain = config.pods.cluster_domain.clone();
    dns.upstreams = config.dns.upstreams.clone();
    config.pods.cluster_dns = Some(address);
    let task = tokio::spawn(closet_dns::run(client.clone(), listeners, dns, shutdown));
    Some((task, holder, address))
}
