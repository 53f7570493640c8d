//! Node lifecycle, drains and endpoints with real agents, containerd and kubectl.
//!
//! Every test runs a node agent, so `.config/nextest.toml` runs this binary's tests one at a
//! time (and under the machine-wide node lock when other suites run too).

#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use closet_cri::cri::ContainerState;
use closet_e2e::{Cluster, StandaloneAgent, TestNs, eventually, node};

fn pod(name: &str, labels: &str, pod_extra: &str, container_extra: &str, command: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n{labels}spec:\n  terminationGracePeriodSeconds: 1\n{pod_extra}  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", {command:?}]\n{container_extra}",
        image = node::BUSYBOX,
    )
}

fn jsonpath(ns: &TestNs<'_>, args: &[&str], path: &str) -> String {
    let mut all = args.to_vec();
    let out = format!("jsonpath={path}");
    all.extend(["-o", &out]);
    ns.kubectl(&all).stdout.trim().to_owned()
}

fn apply(ns: &TestNs<'_>, file: &str, yaml: &str) {
    let path = ns.write(file, yaml);
    ns.kubectl_ok(&["apply", "-f", &path]);
}

#[test]
fn paused_agent_node_goes_unknown_evicts_and_recovers() {
    if let Some(why) = node::cannot_run_pods() {
        eprintln!("skipping: {why}");
        return;
    }
    let _turn = node::agent_turn();
    // Longer than the agent's 10 s Lease renewal, shorter than the default 40 s.
    let cluster = Cluster::start_with("node-monitor-grace-period: 15s\n");
    let agent = StandaloneAgent::join(&cluster);
    node::import_busybox(&cluster);
    let ns = TestNs::new(&cluster);
    let tolerate = |seconds: &str| {
        format!(
            "  tolerations:\n  - key: node.kubernetes.io/unreachable\n    operator: Exists\n    effect: NoExecute\n{seconds}"
        )
    };
    apply(
        &ns,
        "brief.yaml",
        &pod(
            "brief",
            "    app: brief\n",
            &tolerate("    tolerationSeconds: 3\n"),
            "",
            "sleep 3600",
        ),
    );
    apply(
        &ns,
        "forever.yaml",
        &pod(
            "forever",
            "    app: forever\n",
            &tolerate(""),
            "",
            "sleep 3600",
        ),
    );
    // A Deployment whose pods tolerate the unreachable node for 3 s: they are evicted and
    // replaced, and after the node comes back exactly two of them run.
    apply(
        &ns,
        "web.yaml",
        &format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      terminationGracePeriodSeconds: 1\n      tolerations:\n      - key: node.kubernetes.io/unreachable\n        operator: Exists\n        effect: NoExecute\n        tolerationSeconds: 3\n      containers:\n      - name: main\n        image: {image}\n        imagePullPolicy: Never\n        command: [\"sleep\", \"3600\"]\n",
            image = node::BUSYBOX
        ),
    );
    ns.wait_ready("brief");
    ns.wait_ready("forever");
    let rollout = ns.kubectl(&["rollout", "status", "deployment/web", "--timeout=90s"]);
    assert!(rollout.success(), "{}", rollout.describe());
    let web_before = jsonpath(
        &ns,
        &["get", "pods", "-l", "app=web"],
        "{.items[*].metadata.name}",
    );
    // Admission gave the pod without its own not-ready toleration the default one.
    let defaults = jsonpath(
        &ns,
        &["get", "pod", "brief"],
        "{.spec.tolerations[?(@.key==\"node.kubernetes.io/not-ready\")].tolerationSeconds}",
    );
    assert_eq!(defaults, "300");

    agent.pause();
    let node = Cluster::NODE;
    eventually(Duration::from_secs(60), || {
        let ready = jsonpath(
            &ns,
            &["get", "node", node],
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        );
        let taints = jsonpath(&ns, &["get", "node", node], "{.spec.taints[*].key}");
        if ready == "Unknown" && taints.contains("node.kubernetes.io/unreachable") {
            Ok(())
        } else {
            Err(format!("node Ready={ready:?}, taints {taints:?}"))
        }
    });
    let events = ns
        .kubectl(&[
            "get",
            "events",
            "-A",
            "--field-selector",
            "reason=NodeNotReady",
        ])
        .stdout;
    assert!(events.contains("NodeNotReady"), "{events}");
    eventually(Duration::from_secs(60), || {
        let marked = jsonpath(
            &ns,
            &["get", "pod", "brief"],
            "{.metadata.deletionTimestamp}",
        );
        if !marked.is_empty() {
            Ok(())
        } else {
            Err("the pod tolerating 3 s is not marked for deletion".to_owned())
        }
    });
    eventually(Duration::from_secs(60), || {
        let marked = jsonpath(
            &ns,
            &["get", "pods", "-l", "app=web"],
            "{range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name} {end}",
        );
        let evicted = web_before
            .split_whitespace()
            .all(|name| marked.split_whitespace().any(|m| m == name));
        if evicted {
            Ok(())
        } else {
            Err(format!(
                "Deployment pods {web_before:?}, marked for deletion {marked:?}"
            ))
        }
    });
    let forever = jsonpath(
        &ns,
        &["get", "pod", "forever"],
        "{.metadata.deletionTimestamp}",
    );
    assert!(
        forever.is_empty(),
        "the pod tolerating for ever was evicted"
    );

    agent.resume();
    eventually(Duration::from_secs(60), || {
        let ready = jsonpath(
            &ns,
            &["get", "node", node],
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        );
        let taints = jsonpath(&ns, &["get", "node", node], "{.spec.taints[*].key}");
        if ready == "True" && taints.is_empty() {
            Ok(())
        } else {
            Err(format!("node Ready={ready:?}, taints {taints:?}"))
        }
    });
    // The evicted pods finish their deletion; the tolerant one stays and is Ready again; the
    // Deployment is back to exactly its two replicas, none of them an evicted one.
    eventually(Duration::from_secs(90), || {
        let bare = ns
            .kubectl(&["get", "pods", "-l", "app in (brief,forever)", "-o", "name"])
            .stdout;
        let web = jsonpath(
            &ns,
            &["get", "pods", "-l", "app=web"],
            "{range .items[*]}{.metadata.name}={.status.phase}/{.metadata.deletionTimestamp} {end}",
        );
        let running: Vec<&str> = web
            .split_whitespace()
            .filter(|p| p.ends_with("=Running/"))
            .collect();
        let all = web.split_whitespace().count();
        let fresh = running.iter().all(|p| {
            !web_before
                .split_whitespace()
                .any(|old| p.starts_with(&format!("{old}=")))
        });
        if bare.trim() == "pod/forever" && all == 2 && running.len() == 2 && fresh {
            Ok(())
        } else {
            Err(format!("bare pods {bare:?}, Deployment pods {web:?}"))
        }
    });
    ns.wait_ready("forever");
    let rollout = ns.kubectl(&["rollout", "status", "deployment/web", "--timeout=90s"]);
    assert!(rollout.success(), "{}", rollout.describe());
    // No duplicates once things settle: two web pods, and the runtime runs exactly three
    // containers (forever's and the two web pods').
    std::thread::sleep(Duration::from_secs(3));
    let web = jsonpath(
        &ns,
        &["get", "pods", "-l", "app=web"],
        "{.items[*].metadata.name}",
    );
    assert_eq!(web.split_whitespace().count(), 2, "Deployment pods: {web}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let running = runtime.block_on(node::count_containers(
        &cluster.containerd_socket(),
        ContainerState::ContainerRunning,
    ));
    assert_eq!(running, 3, "running containers");
}

#[test]
fn drain_waits_for_the_disruption_budget() {
    if let Some(why) = node::cannot_run_pods() {
        eprintln!("skipping: {why}");
        return;
    }
    let _turn = node::agent_turn();
    let cluster = Cluster::with_agent();
    node::import_busybox(&cluster);
    let ns = TestNs::new(&cluster);
    // A ReplicaSet owns the pods, so drain evicts them without --force.
    let rs = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: db\nspec:\n  replicas: 2\n  selector:\n    matchLabels:\n      app: db\n  template:\n    metadata:\n      labels:\n        app: db\n    spec:\n      terminationGracePeriodSeconds: 1\n      containers:\n      - name: main\n        image: e2e.closet.local/busybox:1\n        imagePullPolicy: Never\n        command: [\"sleep\", \"3600\"]\n";
    apply(&ns, "rs.yaml", rs);
    eventually(Duration::from_secs(90), || {
        let ready = jsonpath(&ns, &["get", "rs", "db"], "{.status.readyReplicas}");
        if ready == "2" {
            Ok(())
        } else {
            Err(format!("readyReplicas {ready:?}"))
        }
    });
    let names = jsonpath(
        &ns,
        &["get", "pod", "-l", "app=db"],
        "{.items[*].metadata.name}",
    );
    let names: Vec<&str> = names.split_whitespace().collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: db\nspec:\n  minAvailable: 2\n  selector:\n    matchLabels:\n      app: db\n";
    apply(&ns, "pdb.yaml", pdb);
    eventually(Duration::from_secs(30), || {
        let seen = jsonpath(
            &ns,
            &["get", "pdb", "db"],
            "{.status.currentHealthy}/{.status.disruptionsAllowed}",
        );
        if seen == "2/0" {
            Ok(())
        } else {
            Err(format!("pdb status {seen:?}"))
        }
    });

    let blocked = ns.kubectl(&[
        "drain",
        Cluster::NODE,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=12s",
    ]);
    assert!(
        !blocked.success(),
        "drain passed a budget that allows nothing"
    );
    assert!(
        blocked.stderr.contains("disruption budget"),
        "{}",
        blocked.describe()
    );
    let unschedulable = jsonpath(
        &ns,
        &["get", "node", Cluster::NODE],
        "{.spec.unschedulable}",
    );
    assert_eq!(unschedulable, "true");
    let kept = ns
        .kubectl(&[
            "get",
            "pod",
            names[0],
            names[1],
            "-o",
            "jsonpath={.items[*].metadata.deletionTimestamp}",
        ])
        .stdout;
    assert!(
        kept.trim().is_empty(),
        "a pod was evicted despite the budget: {kept}"
    );

    ns.kubectl_ok(&[
        "patch",
        "pdb",
        "db",
        "--type=merge",
        "-p",
        "{\"spec\":{\"minAvailable\":0}}",
    ]);
    eventually(Duration::from_secs(30), || {
        let allowed = jsonpath(&ns, &["get", "pdb", "db"], "{.status.disruptionsAllowed}");
        if allowed == "2" {
            Ok(())
        } else {
            Err(format!("disruptionsAllowed {allowed:?}"))
        }
    });
    let drained = ns.kubectl(&[
        "drain",
        Cluster::NODE,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=90s",
    ]);
    assert!(drained.success(), "{}", drained.describe());
    assert!(drained.stdout.contains("evicted"), "{}", drained.describe());
    // (A ReplicaSet controller may have made replacements, Pending on the cordoned node.)
    eventually(Duration::from_secs(60), || {
        let left = ns
            .kubectl(&[
                "get",
                "pod",
                names[0],
                names[1],
                "-o",
                "name",
                "--ignore-not-found",
            ])
            .stdout;
        if left.trim().is_empty() {
            Ok(())
        } else {
            Err(format!("still there: {left}"))
        }
    });
    ns.kubectl_ok(&["uncordon", Cluster::NODE]);
}

#[test]
fn endpoints_follow_a_readiness_probe() {
    if let Some(why) = node::cannot_run_pods() {
        eprintln!("skipping: {why}");
        return;
    }
    let _turn = node::agent_turn();
    let cluster = Cluster::with_agent();
    node::import_busybox(&cluster);
    let ns = TestNs::new(&cluster);
    let probe = "    ports:\n    - name: web\n      containerPort: 8080\n    readinessProbe:\n      exec:\n        command: [\"cat\", \"/tmp/ready\"]\n      periodSeconds: 1\n      failureThreshold: 1\n";
    apply(
        &ns,
        "web.yaml",
        &pod(
            "web",
            "    app: web\n",
            "",
            probe,
            "touch /tmp/ready; sleep 3600",
        ),
    );
    let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - name: http\n    port: 80\n    targetPort: web\n";
    apply(&ns, "svc.yaml", svc);
    ns.wait_ready("web");
    let ip = jsonpath(&ns, &["get", "pod", "web"], "{.status.podIP}");
    let addresses = |ns: &TestNs<'_>| {
        (
            jsonpath(
                ns,
                &["get", "endpoints", "web"],
                "{.subsets[*].addresses[*].ip}",
            ),
            jsonpath(
                ns,
                &["get", "endpoints", "web"],
                "{.subsets[*].notReadyAddresses[*].ip}",
            ),
            jsonpath(
                ns,
                &["get", "endpoints", "web"],
                "{.subsets[*].ports[*].port}",
            ),
        )
    };
    let expect = |ready: &str, not_ready: &str| {
        let want = (ready.to_owned(), not_ready.to_owned(), "8080".to_owned());
        eventually(Duration::from_secs(30), || {
            let got = addresses(&ns);
            if got == want {
                Ok(())
            } else {
                Err(format!("endpoints {got:?}, want {want:?}"))
            }
        });
    };
    expect(&ip, "");
    let slice = jsonpath(
        &ns,
        &[
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=web",
        ],
        "{.items[*].endpoints[*].conditions.ready}",
    );
    assert_eq!(slice, "true");

    ns.kubectl_ok(&["exec", "web", "--", "rm", "/tmp/ready"]);
    expect("", &ip);
    eventually(Duration::from_secs(30), || {
        let ready = jsonpath(
            &ns,
            &[
                "get",
                "endpointslices",
                "-l",
                "kubernetes.io/service-name=web",
            ],
            "{.items[*].endpoints[*].conditions.ready}",
        );
        if ready == "false" {
            Ok(())
        } else {
            Err(format!("slice ready {ready:?}"))
        }
    });
    ns.kubectl_ok(&["exec", "web", "--", "touch", "/tmp/ready"]);
    expect(&ip, "");
}
