//! Several machines on one: a `closet server` without an agent in the host network
//! namespace, listening on a bridge ([`crate::netns::Bridge`]), and one `closet agent` per
//! node, each in its own network namespace on that bridge with its own data dir, containerd
//! and pod network, joined with the cluster's token as a separate machine would join it.
//!
//! ```no_run
//! let nodes = closet_e2e::MultiNode::start(2, "");
//! nodes.import_busybox();
//! let a = nodes.node(0);
//! // a.name(), a.address(), a.netns().exec(&["ip", "route"]), nodes.cluster().kubectl(..)
//! ```
//!
//! Dropping it kills the agents, removes their pods through CRI (no shims, mounts or pod
//! namespaces stay behind), stops their containerds, then deletes the namespaces, the veths,
//! the server and the bridge, also when the test failed.

use std::fs::OpenOptions;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Cluster;
use crate::netns::{Bridge, Netns};
use crate::process;

/// How long a node may take to register and report Ready (scaled by the patience).
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How many log lines of each agent go into a failure message.
const LOG_TAIL_LINES: usize = 40;

/// A server and agents in separate network namespaces. Fields drop in order: the agents
/// (and their namespaces) first, then the server, then the bridge.
pub struct MultiNode {
    nodes: Vec<NetnsNode>,
    cluster: Cluster,
    bridge: Bridge,
}

impl MultiNode {
    /// Starts the server (with `settings`, extra config-file lines) on a new bridge, then
    /// `count` agents named `e2e-node-0`, `e2e-node-1`... in their own namespaces, and waits
    /// until every node is Ready.
    pub fn start(count: u8, settings: &str) -> Self {
        let bridge = Bridge::create();
        let cluster = Cluster::start_on(IpAddr::V4(bridge.gateway()), settings);
        let token = join_token(&cluster);
        let mut nodes = Vec::new();
        for index in 0..count {
            nodes.push(NetnsNode::start(&cluster, &bridge, index, &token));
        }
        let multi = Self {
            nodes,
            cluster,
            bridge,
        };
        for node in &multi.nodes {
            multi.wait_ready(node);
        }
        multi
    }

    /// The server.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The bridge joining the namespaces (the server listens on its gateway address).
    pub fn bridge(&self) -> &Bridge {
        &self.bridge
    }

    /// Node `index`.
    pub fn node(&self, index: usize) -> &NetnsNode {
        &self.nodes[index]
    }

    /// Every node.
    pub fn nodes(&self) -> &[NetnsNode] {
        &self.nodes
    }

    /// Drops the busybox test image ([`crate::node::BUSYBOX`]) into every agent's image
    /// directory and waits until each runtime lists it.
    pub fn import_busybox(&self) {
        let archive = crate::images::busybox_archive(crate::node::BUSYBOX);
        for node in &self.nodes {
            crate::node::drop_image(&node.data_dir, "busybox.tar", &archive);
        }
        for node in &self.nodes {
            if let Err(e) =
                crate::node::wait_for_image_at(&node.containerd_socket(), crate::node::BUSYBOX)
            {
                self.fail(format!("node {}: {e}", node.name));
            }
        }
    }

    /// Kills node `index`'s agent as a machine dying would, and removes its pods and
    /// containerd; its namespace stays (so it is as if the machine were switched off). The
    /// Node object stays in the API until someone deletes it.
    pub fn kill(&self, index: usize) {
        self.nodes[index].kill();
    }

    /// Waits until `node` reports Ready.
    pub fn wait_ready(&self, node: &NetnsNode) {
        let deadline = Instant::now() + crate::scaled(READY_TIMEOUT);
        loop {
            let out = self
                .cluster
                .kubectl(&[
                    "get",
                    "node",
                    &node.name,
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                ])
                .stdout;
            if out.trim() == "True" {
                return;
            }
            if let Some(status) = node.exited() {
                self.fail(format!("the agent of {} exited with {status}", node.name));
            }
            if Instant::now() > deadline {
                self.fail(format!(
                    "node {} not Ready after {READY_TIMEOUT:?}: {out:?}",
                    node.name
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Panics with `msg`, the tail of every agent's log and the server's.
    #[track_caller]
    pub fn fail(&self, msg: impl std::fmt::Display) -> ! {
        let agents: String = self.nodes.iter().map(NetnsNode::log_tail).collect();
        self.cluster.fail(format!("{msg}\n{agents}"))
    }
}

/// `closet token` for the cluster's data dir.
fn join_token(cluster: &Cluster) -> String {
    let out = Command::new(crate::closet_binary())
        .arg("token")
        .arg("--data-dir")
        .arg(cluster.data_dir())
        .output()
        .expect("run closet token");
    assert!(out.status.success(), "closet token failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// One machine: a network namespace on the bridge and a `closet agent` running in it.
pub struct NetnsNode {
    name: String,
    address: Ipv4Addr,
    data_dir: PathBuf,
    log: PathBuf,
    agent: Mutex<Option<AgentProcess>>,
    netns: Netns,
}

struct AgentProcess {
    child: Child,
    watchdog: Option<Child>,
}

impl NetnsNode {
    fn start(cluster: &Cluster, bridge: &Bridge, index: u8, token: &str) -> Self {
        let name = format!("e2e-node-{index}");
        let netns = bridge.join(index);
        let address = bridge.address(index);
        let data_dir = cluster.scratch().join("nodes").join(&name);
        std::fs::create_dir_all(&data_dir).expect("create the node's data dir");
        let log = cluster.scratch().join(format!("{name}.log"));
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the agent log");
        let err = out.try_clone().expect("clone the log file handle");
        let child = netns
            .command(&crate::closet_binary())
            .arg("agent")
            .args(["--server", &cluster.url(), "--token", token])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--node-name", &name, "--node-ip", &address.to_string()])
            .env("NO_COLOR", "1")
            .env(
                "CLOSET_LOG",
                std::env::var("CLOSET_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run nsenter ... closet agent: {e}"));
        // `nsenter` execs the agent, so this pid is the agent's.
        let watchdog = process::watchdog(child.id(), None);
        Self {
            name,
            address,
            data_dir,
            log,
            agent: Mutex::new(Some(AgentProcess { child, watchdog })),
            netns,
        }
    }

    /// The Node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its address on the bridge (its InternalIP).
    pub fn address(&self) -> Ipv4Addr {
        self.address
    }

    /// Its network namespace.
    pub fn netns(&self) -> &Netns {
        &self.netns
    }

    /// The agent's `--data-dir`.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The agent's containerd socket.
    pub fn containerd_socket(&self) -> PathBuf {
        self.data_dir
            .join("agent")
            .join("containerd")
            .join("containerd.sock")
    }

    /// The agent's whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines of the agent's log, headed by its name.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        format!(
            "--- agent {} log (last {LOG_TAIL_LINES} lines) ---\n{}\n",
            self.name,
            lines[from..].join("\n")
        )
    }

    /// The agent's exit status, if it has exited.
    fn exited(&self) -> Option<std::process::ExitStatus> {
        let mut agent = self.agent.lock().unwrap_or_else(|e| e.into_inner());
        agent.as_mut()?.child.try_wait().ok().flatten()
    }

    /// Kills the agent and removes what it ran (see [`MultiNode::kill`]).
    fn kill(&self) {
        let taken = self.agent.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut agent) = taken {
            // Killed, not stopped: a stopping agent takes its containerd down with it, and
            // the pods' shims and mounts would outlive both; with containerd still up,
            // `remove_pods` removes every sandbox through CRI and then stops it.
            let _ = agent.child.kill();
            let _ = agent.child.wait();
            if let Some(mut w) = agent.watchdog.take() {
                let _ = w.kill();
                let _ = w.wait();
            }
            crate::node::remove_pods(&self.containerd_socket());
        }
    }
}

impl Drop for NetnsNode {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprint!("{}", self.log_tail());
        }
        self.kill();
        // `netns` drops next: deleting the namespace removes its veth pair.
    }
}
