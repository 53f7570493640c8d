//! `closet server` with its node agent: started in the run's directory on a free port of
//! 127.0.0.1, waited for until `/readyz` answers and its Node is Ready, stopped by its PID,
//! and afterwards everything its agent left running (sandboxes, containerd) removed.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use closet_bench::probe::Probe;
use closet_cri::{CriClient, Runtime, RuntimeExt, cri};
use k8s_openapi::api::core::v1::Node;
use kube::{Api, Client};

/// How long the server may take to answer `/readyz`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the Node may take to report Ready (containerd starts and imports pause first).
const NODE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long SIGTERM may take, for the server and for containerd.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `closet server` with its agent. Dropping it SIGKILLs the server; the agent's
/// containerd and pods then still need [`remove_runtime`].
pub(crate) struct NodeServer {
    child: Child,
    watchdog: Option<Child>,
    scratch: PathBuf,
}

impl NodeServer {
    /// Starts the server with data dir, kubeconfig and log under `scratch`, and waits for
    /// `/readyz`; returns it with the time to that first 200.
    pub(crate) fn start(
        binary: &Path,
        scratch: &Path,
        node: &str,
        probe: &Probe,
    ) -> anyhow::Result<(Self, Duration)> {
        let port = free_port()?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(scratch.join("server.log"))
            .context("opening the server log")?;
        let mut cmd = Command::new(binary);
        cmd.arg("server")
            .arg("--data-dir")
            .arg(scratch.join("data"))
            .args(["--https-listen-port", &port.to_string()])
            .args(["--bind-address", "127.0.0.1"])
            .arg("--write-kubeconfig")
            .arg(scratch.join("kubeconfig.yaml"))
            // Defaults only: no file a user may have in /etc/closet applies.
            .args(["--config", "/dev/null"])
            .args(["--node-name", node])
            .args(["--node-api-port", "0"])
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Settings from the caller's environment would make runs incomparable.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CLOSET_") {
                cmd.env_remove(key);
            }
        }
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self {
            watchdog: watchdog(child.id()),
            child,
            scratch: scratch.to_owned(),
        };
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "closet server exited with {status} before it was ready; its log:\n{}",
                    server.log_tail()
                );
            }
            if let Ok(200) = probe.status(port, "/readyz") {
                return Ok((server, started.elapsed()));
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!(
                    "closet server not ready after {READY_TIMEOUT:?}; its log:\n{}",
                    server.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The server's PID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The admin kubeconfig the server wrote.
    pub(crate) fn kubeconfig(&self) -> PathBuf {
        self.scratch.join("kubeconfig.yaml")
    }

    /// The agent's containerd socket.
    pub(crate) fn containerd_socket(&self) -> PathBuf {
        containerd_socket(&self.scratch)
    }

    /// The PID of the agent's containerd, from its PID file.
    pub(crate) fn containerd_pid(&self) -> Option<u32> {
        containerd_pid(&self.scratch)
    }

    /// Sends SIGTERM and waits for the server to exit.
    pub(crate) fn stop(mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        signal(self.pid(), "-TERM");
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("closet server exited with {status} after SIGTERM");
                }
                return Ok(started.elapsed());
            }
            if started.elapsed() > STOP_TIMEOUT {
                bail!("closet server still running {STOP_TIMEOUT:?} after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The last lines of the server log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.scratch.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// `<scratch>/data/agent/containerd/containerd.sock`.
pub(crate) fn containerd_socket(scratch: &Path) -> PathBuf {
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
pub(crate) async fn wait_node_ready(client: &Client, name: &str) -> anyhow::Result<Duration> {
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
pub(crate) async fn remove_runtime(scratch: &Path) -> anyhow::Result<usize> {
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

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Sends a signal with `kill(1)`, by PID (the workspace forbids unsafe code, so no libc).
pub(crate) fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A shell that SIGTERMs the server (by PID) if this benchmark dies without stopping it,
/// for example on Ctrl-C; it exits on its own when the server is gone. The agent's
/// containerd and pods outlive the server by design, so after such a death they need
/// cleaning up by hand: the benchmark prints the run's directory at start.
fn watchdog(server: u32) -> Option<Child> {
    let script = r#"
        while kill -0 "$1" 2>/dev/null; do
            kill -0 "$2" 2>/dev/null || { kill -TERM "$1" 2>/dev/null; exit 0; }
            sleep 1
        done
    "#;
    Command::new("sh")
        .args(["-c", script, "closet-pod-bench-watchdog"])
        .arg(server.to_string())
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}
