//! A `closet agent` process joined to a [`Cluster`] started without its own agent, as a
//! second machine would join it; tests can pause and resume it with SIGSTOP and SIGCONT.

use std::fs::OpenOptions;
use std::process::{Child, Command, Stdio};

use crate::Cluster;
use crate::process;

/// A running standalone agent, stopped and cleaned up when dropped.
pub struct StandaloneAgent {
    child: Child,
    watchdog: Option<Child>,
    socket: std::path::PathBuf,
}

impl StandaloneAgent {
    /// Runs `closet agent --server URL --token T` for node [`Cluster::NODE`], sharing the
    /// cluster's data dir (the server runs no agent there, so `agent/` is free), and waits
    /// until the node is Ready.
    pub fn join(cluster: &Cluster) -> Self {
        let binary = crate::closet_binary();
        let token = Command::new(&binary)
            .arg("token")
            .arg("--data-dir")
            .arg(cluster.data_dir())
            .output()
            .expect("run closet token");
        assert!(token.status.success(), "closet token failed: {token:?}");
        let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(cluster.log_path())
            .expect("open the log");
        let log_err = log.try_clone().expect("clone the log file handle");
        let child = Command::new(&binary)
            .arg("agent")
            .args(["--server", &cluster.url(), "--token", &token])
            .arg("--data-dir")
            .arg(cluster.data_dir())
            .args(["--node-name", Cluster::NODE])
            .env("NO_COLOR", "1")
            .env(
                "CLOSET_LOG",
                std::env::var("CLOSET_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let watchdog = process::watchdog(child.id(), None);
        let agent = Self {
            child,
            watchdog,
            socket: cluster.containerd_socket(),
        };
        cluster.wait_node_ready();
        agent
    }

    /// The agent's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Freezes the agent (SIGSTOP): no Lease renewals, no status, as a hung machine.
    pub fn pause(&self) {
        signal(self.pid(), "-STOP");
    }

    /// Thaws the agent (SIGCONT).
    pub fn resume(&self) {
        signal(self.pid(), "-CONT");
    }
}

fn signal(pid: u32, which: &str) {
    let _ = Command::new("kill")
        .args([which, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

impl Drop for StandaloneAgent {
    fn drop(&mut self) {
        // Killed, not stopped: a stopping agent takes its containerd down with it, and the
        // pods' shims and mounts would outlive both; with containerd still up,
        // `remove_pods` removes every sandbox through CRI and then stops it.
        self.resume();
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        crate::node::remove_pods(&self.socket);
        crate::node::remove_proxy_table();
    }
}
