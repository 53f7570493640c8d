//! The node API serves the apiserver only, and a killed server adopts its running containers.

use std::time::Duration;

use closet_cri::cri::ContainerState;
use closet_e2e::{eventually, node, test_ns};

use crate::{jsonpath, node_cluster, pod_yaml};

#[test]
fn the_node_api_refuses_every_client_but_the_apiserver() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let node_json = cluster.kubectl_ok(&["get", "node", closet_e2e::Cluster::NODE, "-o", "json"]);
    let node: serde_json::Value = serde_json::from_str(&node_json).unwrap();
    let port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .unwrap();
    // No client certificate at all.
    let anonymous = std::process::Command::new("curl")
        .args([
            "-sk",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("https://127.0.0.1:{port}/healthz"),
        ])
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&anonymous.stdout).into_owned();
    assert!(code != "200", "anonymous client got {code}");
    // The cluster admin's certificate is from the right CA but is not the apiserver's.
    let dir = cluster.scratch().join("admin-cert");
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(cluster.kubeconfig()).unwrap()).unwrap();
    use base64::Engine as _;
    let decode = |field: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(kubeconfig["users"][0]["user"][field].as_str().unwrap())
            .unwrap()
    };
    std::fs::write(dir.join("admin.crt"), decode("client-certificate-data")).unwrap();
    std::fs::write(dir.join("admin.key"), decode("client-key-data")).unwrap();
    let admin = std::process::Command::new("curl")
        .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg("--cert")
        .arg(dir.join("admin.crt"))
        .arg("--key")
        .arg(dir.join("admin.key"))
        .arg(format!(
            "https://127.0.0.1:{port}/containerLogs/default/x/y"
        ))
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&admin.stdout).into_owned();
    assert!(
        code == "403" || code == "000",
        "the admin certificate got {code} from the node API"
    );
}

#[test]
fn a_killed_server_adopts_its_running_containers() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    for name in ["keep-a", "keep-b"] {
        ns.kubectl_ok(&[
            "apply",
            "-f",
            &ns.write(
                &format!("{name}.yaml"),
                &pod_yaml(name, "sleep 3600", "", ""),
            ),
        ]);
    }
    ns.wait_ready("keep-a");
    ns.wait_ready("keep-b");
    let before: Vec<String> = ["keep-a", "keep-b"]
        .iter()
        .map(|p| jsonpath(&ns, p, "{.status.containerStatuses[0].containerID}"))
        .collect();
    let socket = cluster.containerd_socket();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let running_before = runtime.block_on(node::count_containers(
        &socket,
        ContainerState::ContainerRunning,
    ));

    cluster.kill9();
    cluster.restart();
    cluster.wait_node_ready();
    ns.wait_ready("keep-a");
    ns.wait_ready("keep-b");
    // Give a duplicating agent the time to show itself.
    std::thread::sleep(Duration::from_secs(3));
    let after: Vec<String> = ["keep-a", "keep-b"]
        .iter()
        .map(|p| jsonpath(&ns, p, "{.status.containerStatuses[0].containerID}"))
        .collect();
    assert_eq!(before, after, "the same containers carry on");
    for pod in ["keep-a", "keep-b"] {
        assert_eq!(
            jsonpath(&ns, pod, "{.status.containerStatuses[0].restartCount}"),
            "0"
        );
    }
    let running_after = eventually(Duration::from_secs(10), || {
        let n = runtime.block_on(node::count_containers(
            &cluster.containerd_socket(),
            ContainerState::ContainerRunning,
        ));
        if n == running_before {
            Ok(n)
        } else {
            Err(format!("{n} running, {running_before} before"))
        }
    });
    assert_eq!(running_after, running_before);
}
