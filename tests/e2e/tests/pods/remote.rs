//! `closet agent` on its own: a server without an agent, and an agent process that joins it
//! with the token and runs a pod, reached through the node API over the network.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use closet_e2e::{Cluster, eventually, node, test_ns};

use crate::pod_yaml;

/// The agent process and its data dir; dropping it kills the agent and clears its runtime.
struct RemoteAgent {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for RemoteAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        node::remove_pods(
            &self
                .dir
                .path()
                .join("data/agent/containerd/containerd.sock"),
        );
    }
}

#[test]
fn a_joined_agent_runs_pods_for_a_server_without_one() {
    if let Some(reason) = closet_e2e::node::cannot_run_pods() {
        eprintln!("skipping: {reason}");
        return;
    }
    // Same turn-taking as every agent test: the bridge and pod CIDR are shared.
    let _turn = closet_e2e::node::agent_turn();
    let cluster = Cluster::start();
    let token = Command::new(closet_e2e::closet_binary())
        .args(["token", "--data-dir"])
        .arg(cluster.data_dir())
        .output()
        .expect("run closet token");
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    assert!(token.starts_with("K10"), "{token}");

    let dir = tempfile::Builder::new()
        .prefix("closet-e2e-agent-")
        .tempdir()
        .unwrap();
    let log = std::fs::File::create(dir.path().join("agent.log")).unwrap();
    let child = Command::new(closet_e2e::closet_binary())
        .args([
            "agent",
            "--server",
            &cluster.url(),
            "--token",
            &token,
            "--node-name",
            "remote",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start closet agent");
    let agent = RemoteAgent { child, dir };
    let agent_log =
        || std::fs::read_to_string(agent.dir.path().join("agent.log")).unwrap_or_default();

    let ready = closet_e2e::try_eventually(Duration::from_secs(60), || {
        let out = cluster
            .kubectl(&[
                "get",
                "node",
                "remote",
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
            ])
            .stdout;
        if out.trim() == "True" {
            Ok(())
        } else {
            Err(format!("node not Ready: {out:?}"))
        }
    });
    if let Err(e) = ready {
        cluster.fail(format!("{e}\n--- agent log ---\n{}", agent_log()));
    }
    // The agent's images directory is under its own data dir.
    let images = agent.dir.path().join("data/agent/images");
    std::fs::create_dir_all(&images).unwrap();
    std::fs::write(
        images.join("busybox.tar"),
        closet_e2e::images::busybox_archive(node::BUSYBOX),
    )
    .unwrap();

    let ns = test_ns!(&cluster);
    let manifest = pod_yaml("far", "echo from the joined node; sleep 3600", "", "");
    ns.kubectl_ok(&["apply", "-f", &ns.write("far.yaml", &manifest)]);
    ns.wait_ready("far");
    assert_eq!(crate::jsonpath(&ns, "far", "{.spec.nodeName}"), "remote");
    let logs = eventually(Duration::from_secs(20), || {
        let out = ns.kubectl_ok(&["logs", "far"]);
        if out.contains("from the joined node") {
            Ok(out)
        } else {
            Err(out)
        }
    });
    assert_eq!(logs.trim(), "from the joined node");
    assert_eq!(
        ns.kubectl_ok(&["exec", "far", "--", "cat", "/etc/hostname"])
            .trim(),
        "far"
    );
    drop(agent);
}
