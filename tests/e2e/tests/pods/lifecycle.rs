//! Starting, restarting, probing and stopping containers.

use std::time::{Duration, Instant};

use closet_e2e::test_ns;

use crate::{jsonpath, node_cluster, pod_yaml, wait_for};

#[test]
fn a_web_server_pod_runs_and_becomes_ready_with_its_node_facts() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    let manifest = pod_yaml(
        "web",
        "mkdir -p /www && echo hello from closet > /www/index.html && exec httpd -f -p 8080 -h /www",
        "    ports:\n    - containerPort: 8080\n      name: http\n    readinessProbe:\n      httpGet:\n        path: /index.html\n        port: http\n      periodSeconds: 1\n",
        "",
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("web.yaml", &manifest)]);
    ns.wait_ready("web");
    assert_eq!(jsonpath(&ns, "web", "{.status.phase}"), "Running");
    let ip = jsonpath(&ns, "web", "{.status.podIP}");
    assert!(
        ip.starts_with("10.42."),
        "pod IP {ip} is from the node's pod CIDR"
    );
    assert!(
        jsonpath(&ns, "web", "{.status.containerStatuses[0].containerID}")
            .starts_with("containerd://")
    );
    // The node: labels, capacity, addresses and the lease.
    let node = cluster.kubectl_ok(&["get", "node", closet_e2e::Cluster::NODE, "-o", "json"]);
    let node: serde_json::Value = serde_json::from_str(&node).unwrap();
    assert_eq!(node["metadata"]["labels"]["kubernetes.io/os"], "linux");
    assert!(node["metadata"]["labels"]["kubernetes.io/arch"].is_string());
    assert!(node["status"]["capacity"]["cpu"].is_string());
    assert!(
        node["status"]["nodeInfo"]["containerRuntimeVersion"]
            .as_str()
            .unwrap()
            .starts_with("containerd://")
    );
    assert!(
        node["spec"]["podCIDR"]
            .as_str()
            .unwrap()
            .starts_with("10.42.")
    );
    cluster.kubectl_ok(&[
        "get",
        "lease",
        "-n",
        "kube-node-lease",
        closet_e2e::Cluster::NODE,
    ]);
    // `closet image import` by hand, and `closet image ls`.
    let archive = ns.dir().join("busybox-2.tar");
    std::fs::write(
        &archive,
        closet_e2e::images::busybox_archive("e2e.closet.local/busybox:by-hand"),
    )
    .unwrap();
    let closet = |args: &[&str]| {
        let out = std::process::Command::new(closet_e2e::closet_binary())
            .args(args)
            .arg("--data-dir")
            .arg(cluster.data_dir())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "closet {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    closet(&["image", "import", archive.to_str().unwrap()]);
    let listed = closet(&["image", "ls"]);
    assert!(listed.contains("e2e.closet.local/busybox"), "{listed}");
    assert!(listed.contains("by-hand"), "{listed}");
    assert!(listed.contains("closet.local/pause"), "{listed}");
    // The pod answers on its address from the host.
    let out = std::process::Command::new("busybox")
        .args([
            "wget",
            "-q",
            "-O",
            "-",
            &format!("http://{ip}:8080/index.html"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello from closet"
    );
}

#[test]
fn a_crashing_container_backs_off_and_a_failing_liveness_probe_restarts_one() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    ns.kubectl_ok(&[
        "apply",
        "-f",
        &ns.write(
            "crash.yaml",
            &pod_yaml("crash", "echo boom; exit 3", "", ""),
        ),
    ]);
    wait_for(
        &ns,
        "crash",
        "{.status.containerStatuses[0].state.waiting.reason}",
        Duration::from_secs(60),
        |r| r == "CrashLoopBackOff",
    );
    let last = jsonpath(
        &ns,
        "crash",
        "{.status.containerStatuses[0].lastState.terminated.exitCode}",
    );
    assert_eq!(last, "3");
    let restarts: u32 = jsonpath(&ns, "crash", "{.status.containerStatuses[0].restartCount}")
        .parse()
        .unwrap();
    assert!(restarts >= 1);
    // The previous instance's log is kept.
    let previous = ns.kubectl_ok(&["logs", "crash", "--previous"]);
    assert_eq!(previous.trim(), "boom");

    let liveness = pod_yaml(
        "alive",
        "touch /tmp/healthy; sleep 3; rm /tmp/healthy; sleep 3600",
        "    livenessProbe:\n      exec:\n        command: [\"cat\", \"/tmp/healthy\"]\n      periodSeconds: 1\n      failureThreshold: 2\n",
        "  terminationGracePeriodSeconds: 1\n",
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("alive.yaml", &liveness)]);
    wait_for(
        &ns,
        "alive",
        "{.status.containerStatuses[0].restartCount}",
        Duration::from_secs(60),
        |r| r.parse::<u32>().unwrap_or(0) >= 1,
    );
}

#[test]
fn init_containers_run_in_order_and_env_comes_from_field_refs() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: init\nspec:\n  restartPolicy: Never\n  volumes:\n  - name: work\n    emptyDir: {{}}\n  initContainers:\n  - name: first\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", \"echo first >> /work/order\"]\n    volumeMounts: [{{name: work, mountPath: /work}}]\n  - name: second\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", \"echo second >> /work/order\"]\n    volumeMounts: [{{name: work, mountPath: /work}}]\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", \"cat /work/order; echo pod=$POD_NAME ns=$POD_NS node=$NODE\"]\n    volumeMounts: [{{name: work, mountPath: /work}}]\n    env:\n    - name: POD_NAME\n      valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}\n    - name: POD_NS\n      valueFrom: {{fieldRef: {{fieldPath: metadata.namespace}}}}\n    - name: NODE\n      valueFrom: {{fieldRef: {{fieldPath: spec.nodeName}}}}\n",
        image = closet_e2e::node::BUSYBOX
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("init.yaml", &manifest)]);
    wait_for(
        &ns,
        "init",
        "{.status.phase}",
        Duration::from_secs(90),
        |p| p == "Succeeded",
    );
    let logs = ns.kubectl_ok(&["logs", "init"]);
    assert_eq!(
        logs.trim(),
        format!(
            "first\nsecond\npod=init ns={} node={}",
            ns.name(),
            closet_e2e::Cluster::NODE
        )
    );
}

#[test]
fn deletion_honours_the_grace_period_and_runs_pre_stop() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    // The shell ignores SIGTERM, so only SIGKILL at the end of the grace period stops it.
    let manifest = pod_yaml(
        "slow",
        "trap '' TERM; while true; do sleep 1; done",
        "    lifecycle:\n      preStop:\n        exec:\n          command: [\"sh\", \"-c\", \"echo stopping > /proc/1/fd/1\"]\n",
        "  terminationGracePeriodSeconds: 4\n",
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("slow.yaml", &manifest)]);
    ns.wait_ready("slow");
    let started = Instant::now();
    ns.kubectl_ok(&["delete", "pod", "slow", "--wait=true", "--timeout=60s"]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(3),
        "deleted after {took:?}, before the 4 s grace period ran out"
    );
    assert!(took < Duration::from_secs(30), "deletion took {took:?}");
}

#[test]
fn host_network_and_host_port_pods_answer_on_the_node() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    let free_port = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // Home Assistant and friends run on the host network.
    let host_port = free_port();
    let host_net = pod_yaml(
        "hostnet",
        &format!(
            "mkdir -p /www && echo on the host network > /www/index.html && exec httpd -f -p 127.0.0.1:{host_port} -h /www"
        ),
        "",
        "  hostNetwork: true\n",
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("hostnet.yaml", &host_net)]);
    ns.wait_ready("hostnet");
    assert_eq!(
        jsonpath(&ns, "hostnet", "{.status.podIP}"),
        jsonpath(&ns, "hostnet", "{.status.hostIP}"),
        "a host-network pod has the node's address"
    );
    let get = |port: u16| {
        std::process::Command::new("busybox")
            .args([
                "wget",
                "-q",
                "-O",
                "-",
                &format!("http://127.0.0.1:{port}/index.html"),
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    // Ready as soon as it runs (no readiness probe): give httpd a moment to listen.
    let answer = closet_e2e::eventually(Duration::from_secs(20), || {
        let text = get(host_port);
        if text.is_empty() {
            Err("no answer yet".to_owned())
        } else {
            Ok(text)
        }
    });
    assert_eq!(answer, "on the host network");

    // A hostPort maps a port of the node to the pod (the CNI portmap plugin).
    let mapped = free_port();
    let with_port = pod_yaml(
        "mapped",
        "mkdir -p /www && echo through a host port > /www/index.html && exec httpd -f -p 8080 -h /www",
        &format!("    ports:\n    - containerPort: 8080\n      hostPort: {mapped}\n"),
        "",
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write("mapped.yaml", &with_port)]);
    ns.wait_ready("mapped");
    let node_ip = jsonpath(&ns, "mapped", "{.status.hostIP}");
    let body = closet_e2e::eventually(Duration::from_secs(20), || {
        let out = std::process::Command::new("busybox")
            .args([
                "wget",
                "-q",
                "-O",
                "-",
                &format!("http://{node_ip}:{mapped}/index.html"),
            ])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if text.is_empty() {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        } else {
            Ok(text)
        }
    });
    assert_eq!(body, "through a host port");
}
