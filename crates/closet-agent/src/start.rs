//! Bringing a node up: the container runtime (closet's own containerd, or an existing CRI
//! socket), the pause image and offline image archives, the node API, then the agent.

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

    let agent = Agent::new(options.agent, client, runtime).with_table(table);
    let signal = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let (result, ()) = tokio::join!(agent.run(port, stopped()), signal);
    let _ = api_task.await;
    if let Some(containerd) = containerd
        && let Err(err) = containerd.stop().await
    {
        tracing::warn!("stopping containerd: {}", crate::error_text(&err));
    }
    result
}
