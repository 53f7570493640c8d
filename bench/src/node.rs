//! `closet server` with its node agent: started in the run's directory on a free port of
//! 127.0.0.1, waited for until `/readyz` answers and its Node is Ready, stopped by its PID,
//! and afterwards everything its agent left running (sandboxes, containerd) removed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::probe::Probe;
use crate::server::{Role, Server, signal};
use anyhow::bail;
use closet_cri::{CriClient, Runtime, RuntimeExt, cri};
use k8s_openapi::api::core::v1::Node;
use kube::{Api, Client};

/// How long the Node may take to report Ready (containerd starts and imports pause first).
const NODE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long SIGTERM may take for containerd.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `closet server` with its agent: the bench's [`Server`] in the node role.
/// Dropping it kills the server; the agent's containerd and pods then still need
/// [`remove_runtime`].
pub struct NodeServer {
    server: Server,
    scratch: PathBuf,
}

impl NodeServer {
    /// Starts the server with data dir, kubeconfig and log under `scratch`, and waits for
    /// `/readyz`; returns it with the time to that first 200.
    pub fn start(
        binary: &Path,
        scratch: &Path,
        node: &str,
        probe: &Probe,
    ) -> anyhow::Result<(Self, Duration)> {
        let (server, ready) = Server::start_as(binary, scratch, probe, Role::Node(node))?;
        let node = Self {
            server,
            scratch: scratch.to_owned(),
        };
        Ok((node, ready))
    }

    /// The server's PID.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// The admin kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> PathBuf {
        self.server.kubeconfig()
    }

    /// The agent's containerd socket.
    pub fn containerd_socket(&self) -> PathBuf {
        containerd_socket(&self.scratch)
    }

    /// The PID of the agent's containerd, from its PID file.
    pub fn containerd_pid(&self) -> Option<u32> {
        containerd_pid(&self.scratch)
    }

    /// Sends SIGTERM and waits for the server to exit.
    pub fn stop(self) -> anyhow::Result<Duration> {
        self.server.stop()
    }

    /// The last lines of the server log, for error messages.
    pub fn log_tail(&self) -> String {
        self.server.log_tail()
    }
}

/// `<scratch>/data/agent/containerd/containerd.sock`.
pub fn containerd_socket(scratch: &Path) -> PathBuf {
    scratch
        .join("data")
        .join("agent")
        .join("containerd")
        .join("containerd.sock")
}

fn containerd_pid(scratch: &Path) -> Option<u32> {
    let file = containerd_socket(scratch).with_file_name("containerd.pid");
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Polls the Node until its Ready condition is True; returns how long that took.
pub async fn wait_node_ready(client: &Client, name: &str) -> anyhow::Result<Duration> {
    let nodes: Api<Node> = Api::all(client.clone());
    let started = Instant::now();
    let mut last = String::from("no Node yet");
    while started.elapsed() < NODE_TIMEOUT {
        match nodes.get_opt(name).await {
            Ok(Some(node)) => {
                let ready = node
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
                match ready {
                    Some(c) if c.status == "True" => return Ok(started.elapsed()),
                    Some(c) => last = format!("Ready={} ({:?})", c.status, c.message),
                    None => last = "no Ready condition".to_owned(),
                }
            }
            Ok(None) => {}
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("node {name} not Ready after {NODE_TIMEOUT:?}: {last}")
}

/// Stops and removes every sandbox of the run's containerd through CRI (which takes their
/// containers, network namespaces and addresses with them), then stops that containerd by
/// the PID in its PID file. Call after the server is gone, so its agent restarts nothing.
pub async fn remove_runtime(scratch: &Path) -> anyhow::Result<usize> {
    let socket = containerd_socket(scratch);
    let mut removed = 0;
    if socket.exists()
        && let Ok(Ok(client)) =
            tokio::time::timeout(Duration::from_secs(5), CriClient::connect(&socket)).await
    {
        let sandboxes = client.all_sandboxes().await.unwrap_or_default();
        for sandbox in sandboxes {
            let id = sandbox.id;
            let stop = cri::StopPodSandboxRequest {
                pod_sandbox_id: id.clone(),
            };
            let remove = cri::RemovePodSandboxRequest { pod_sandbox_id: id };
            let step = Duration::from_secs(30);
            let _ = tokio::time::timeout(step, client.stop_pod_sandbox(stop)).await;
            if let Ok(Ok(_)) = tokio::time::timeout(step, client.remove_pod_sandbox(remove)).await {
                removed += 1;
            }
        }
    }
    if let Some(pid) = containerd_pid(scratch) {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        // Only the containerd of this run: its command line names the run's directory.
        if String::from_utf8_lossy(&cmdline).contains(&scratch.display().to_string()) {
            signal(pid, "-TERM");
            let started = Instant::now();
            while std::path::Path::new(&format!("/proc/{pid}")).exists() {
                if started.elapsed() > STOP_TIMEOUT {
                    bail!("containerd {pid} still running {STOP_TIMEOUT:?} after SIGTERM");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    Ok(removed)
}
