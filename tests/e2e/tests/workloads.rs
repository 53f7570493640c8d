//! Deployments and DaemonSets running real containers, driven by real kubectl: create,
//! `rollout status`, `set image` (a rolling update that never drops below the allowed
//! availability), `rollout history`, `rollout undo`, `scale`, and a DaemonSet's pod and its
//! rolling update. Runs under the machine-wide node lock (one agent at a time).

#![allow(clippy::unwrap_used, missing_docs, reason = "tests")]

use std::time::Duration;

use closet_e2e::{Cluster, TestNs, eventually, node, test_ns};

const BUSYBOX_2: &str = "e2e.closet.local/busybox:2";

/// A cluster with its agent and two busybox tags imported, or None (with the reason
/// printed) when this machine cannot run pods.
fn node_cluster() -> Option<(Cluster, std::sync::MutexGuard<'static, ()>)> {
    if let Some(reason) = node::cannot_run_pods() {
        eprintln!("skipping: {reason}");
        return None;
    }
    let turn = node::agent_turn();
    let cluster = Cluster::with_agent();
    node::import_busybox(&cluster);
    let dir = cluster.data_dir().join("agent").join("images");
    std::fs::write(
        dir.join("busybox-2.tar"),
        closet_e2e::images::busybox_archive(BUSYBOX_2),
    )
    .unwrap();
    node::wait_for_image(&cluster, BUSYBOX_2);
    Some((cluster, turn))
}

fn json(ns: &TestNs<'_>, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&ns.kubectl_ok(&all)).unwrap()
}

fn rollout_status(ns: &TestNs<'_>, what: &str) {
    let out = ns.kubectl(&["rollout", "status", what, "--timeout=180s"]);
    if !out.success() {
        let pods = ns.kubectl(&["get", "pods", "-o", "wide"]).stdout;
        ns.cluster().fail(format!(
            "{what} did not roll out: {}\n{pods}",
            out.describe()
        ));
    }
}

#[test]
fn deployment_rolls_out_updates_undoes_and_scales_with_kubectl() {
    let Some((cluster, _turn)) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    ns.kubectl_ok(&[
        "create",
        "deployment",
        "web",
        &format!("--image={}", node::BUSYBOX),
        "--replicas=3",
        "--",
        "sh",
        "-c",
        "sleep 3600",
    ]);
    rollout_status(&ns, "deployment/web");
    let d = json(&ns, &["get", "deployment", "web"]);
    assert_eq!(d["status"]["availableReplicas"], 3);
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    let pods = json(&ns, &["get", "pods", "-l", "app=web"]);
    let hash = pods["items"][0]["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap()
        .to_owned();
    ns.kubectl_ok(&["get", "replicaset", &format!("web-{hash}")]);

    // set image: 3 replicas, maxSurge 25% (1) and maxUnavailable 25% (0): never below 3
    // available pods, never more than 4 pods.
    ns.kubectl_ok(&[
        "set",
        "image",
        "deployment/web",
        &format!("busybox={BUSYBOX_2}"),
    ]);
    let mut done = false;
    for _ in 0..600 {
        let pods = json(&ns, &["get", "pods", "-l", "app=web"]);
        let items = pods["items"].as_array().unwrap();
        let live: Vec<_> = items
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .collect();
        let ready = live
            .iter()
            .filter(|p| {
                p["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
            .count();
        assert!(
            ready >= 3,
            "only {ready} ready pods during the rollout: {pods}"
        );
        assert!(live.len() <= 4, "{} pods during the rollout", live.len());
        let d = json(&ns, &["get", "deployment", "web"]);
        let s = &d["status"];
        if s["observedGeneration"] == d["metadata"]["generation"]
            && s["updatedReplicas"] == 3
            && s["replicas"] == 3
            && s["availableReplicas"] == 3
        {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(done, "the rolling update did not finish");
    rollout_status(&ns, "deployment/web");
    let history = ns.kubectl_ok(&["rollout", "history", "deployment/web"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");

    ns.kubectl_ok(&["rollout", "undo", "deployment/web"]);
    rollout_status(&ns, "deployment/web");
    let d = json(&ns, &["get", "deployment", "web"]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        node::BUSYBOX
    );
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );

    ns.kubectl_ok(&["scale", "deployment/web", "--replicas=1"]);
    eventually(Duration::from_secs(60), || {
        let pods = json(
            &ns,
            &[
                "get",
                "pods",
                "-l",
                "app=web",
                "--field-selector=status.phase=Running",
            ],
        );
        let live = pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .count();
        if live == 1 {
            Ok(())
        } else {
            Err(format!("{live} pods"))
        }
    });
    let events = ns.kubectl_ok(&["get", "events", "--field-selector=reason=ScalingReplicaSet"]);
    assert!(events.contains("Scaled up replica set web-"), "{events}");

    // A paused Deployment keeps its ReplicaSets while the template changes; resume rolls.
    ns.kubectl_ok(&["rollout", "pause", "deployment/web"]);
    let before = replicaset_names(&ns);
    ns.kubectl_ok(&["set", "env", "deployment/web", "PAUSED=yes"]);
    // Pods from here on stop at once (busybox's sleep ignores SIGTERM).
    ns.kubectl_ok(&[
        "patch",
        "deployment/web",
        "--type=merge",
        "-p",
        r#"{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":1}}}}"#,
    ]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(replicaset_names(&ns), before, "a paused Deployment rolled");
    let d = json(&ns, &["get", "deployment", "web"]);
    assert_eq!(d["spec"]["paused"], true);
    ns.kubectl_ok(&["rollout", "resume", "deployment/web"]);
    rollout_status(&ns, "deployment/web");
    assert_ne!(replicaset_names(&ns), before, "resume did not roll");

    // restart: a new revision whose template carries the restart time.
    let revision = |ns: &TestNs<'_>| {
        json(ns, &["get", "deployment", "web"])["metadata"]["annotations"]
            ["deployment.kubernetes.io/revision"]
            .as_str()
            .unwrap_or_default()
            .parse::<u32>()
            .unwrap_or_default()
    };
    let old_revision = revision(&ns);
    ns.kubectl_ok(&["rollout", "restart", "deployment/web"]);
    rollout_status(&ns, "deployment/web");
    assert!(revision(&ns) > old_revision);
    let d = json(&ns, &["get", "deployment", "web"]);
    assert!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string(),
        "{d}"
    );

    // Recreate: the old pods are gone before any new one runs.
    ns.kubectl_ok(&["scale", "deployment/web", "--replicas=2"]);
    rollout_status(&ns, "deployment/web");
    eventually(Duration::from_secs(90), || {
        let pods = json(&ns, &["get", "pods", "-l", "app=web"]);
        let n = pods["items"].as_array().unwrap().len();
        if n == 2 {
            Ok(())
        } else {
            Err(format!("{n} pods, some still terminating"))
        }
    });
    ns.kubectl_ok(&[
        "patch",
        "deployment/web",
        "--type=merge",
        "-p",
        r#"{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}"#,
    ]);
    ns.kubectl_ok(&["set", "env", "deployment/web", "RECREATED=yes"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let pods = json(&ns, &["get", "pods", "-l", "app=web"]);
        let running_hashes: std::collections::BTreeSet<String> = pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .map(|p| p["metadata"]["labels"]["pod-template-hash"].to_string())
            .collect();
        assert!(
            running_hashes.len() <= 1,
            "old and new pods ran together during a Recreate: {running_hashes:?}"
        );
        let d = json(&ns, &["get", "deployment", "web"]);
        let status = &d["status"];
        if status["observedGeneration"] == d["metadata"]["generation"]
            && status["updatedReplicas"] == 2
            && status["availableReplicas"] == 2
            && status["replicas"] == 2
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Recreate did not finish: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Deleting the Deployment in the foreground takes its ReplicaSets and pods first.
    ns.kubectl_ok(&[
        "delete",
        "deployment",
        "web",
        "--cascade=foreground",
        "--timeout=120s",
    ]);
    eventually(Duration::from_secs(60), || {
        let left = ns
            .kubectl(&["get", "deployments,replicasets,pods", "-o", "name"])
            .stdout;
        if left.trim().is_empty() {
            Ok(())
        } else {
            Err(format!("left after the cascade: {left}"))
        }
    });
}

/// The names of the namespace's ReplicaSets, sorted.
fn replicaset_names(ns: &TestNs<'_>) -> Vec<String> {
    let list = json(ns, &["get", "replicasets"]);
    let mut names: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| {
            rs["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn daemonset_runs_one_pod_on_the_node_and_rolls_it() {
    let Some((cluster, _turn)) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    let manifest = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: agent\nspec:\n  selector:\n    matchLabels:\n      app: agent\n  template:\n    metadata:\n      labels:\n        app: agent\n    spec:\n      containers:\n      - name: main\n        image: {image}\n        imagePullPolicy: Never\n        command: [\"sh\", \"-c\", \"sleep 3600\"]\n"
        )
    };
    ns.kubectl_ok(&[
        "apply",
        "-f",
        &ns.write("ds.yaml", &manifest(node::BUSYBOX)),
    ]);
    rollout_status(&ns, "daemonset/agent");
    let pods = json(&ns, &["get", "pods", "-l", "app=agent"]);
    let items = pods["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["spec"]["nodeName"], Cluster::NODE);
    let term = &items[0]["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"][0];
    assert_eq!(term["matchFields"][0]["key"], "metadata.name");
    assert_eq!(term["matchFields"][0]["values"][0], Cluster::NODE);
    let ds = json(&ns, &["get", "daemonset", "agent"]);
    assert_eq!(ds["status"]["desiredNumberScheduled"], 1);
    assert_eq!(ds["status"]["numberReady"], 1);

    ns.kubectl_ok(&["apply", "-f", &ns.write("ds.yaml", &manifest(BUSYBOX_2))]);
    rollout_status(&ns, "daemonset/agent");
    let ds = json(&ns, &["get", "daemonset", "agent"]);
    assert_eq!(ds["status"]["updatedNumberScheduled"], 1);
    eventually(Duration::from_secs(60), || {
        let pods = json(&ns, &["get", "pods", "-l", "app=agent"]);
        let items = pods["items"].as_array().unwrap();
        let images: Vec<_> = items
            .iter()
            .map(|p| p["spec"]["containers"][0]["image"].clone())
            .collect();
        if items.len() == 1 && images[0] == BUSYBOX_2 {
            Ok(())
        } else {
            Err(format!("{images:?}"))
        }
    });
    let history = ns.kubectl_ok(&["rollout", "history", "daemonset/agent"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");
}
