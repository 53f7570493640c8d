//! The scheduler through real kubectl against the real binary. Nodes are Node objects made
//! with kubectl (no agent runs, so no containers start): the tests read where pods were
//! bound and why the rest wait, from `kubectl get`, `describe` and `get events`.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use closet_e2e::registry::Registry;
use closet_e2e::{Cluster, TestNs, images, require_kubectl, test_ns};
use closet_image::Platform;

/// Makes a Ready node `name` with 2 CPUs and 4 GiB, of this machine's architecture unless
/// `labels` says otherwise.
fn fake_node(ns: &TestNs<'_>, name: &str, labels: &[(&str, &str)]) {
    let arch = Platform::host().architecture;
    let mut all = vec![
        ("kubernetes.io/hostname".to_owned(), name.to_owned()),
        ("kubernetes.io/arch".to_owned(), arch),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
    ];
    for (k, v) in labels {
        all.retain(|(key, _)| key != k);
        all.push(((*k).to_owned(), (*v).to_owned()));
    }
    let labels: String = all
        .iter()
        .map(|(k, v)| format!("    {k}: \"{v}\"\n"))
        .collect();
    let manifest =
        format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n{labels}");
    ns.kubectl_ok(&["apply", "-f", &ns.write(&format!("{name}.yaml"), &manifest)]);
    let status = r#"{"status":{"capacity":{"cpu":"2","memory":"4Gi","pods":"110"},"allocatable":{"cpu":"2","memory":"4Gi","pods":"110"},"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"fake"}]}}"#;
    ns.kubectl_ok(&[
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ]);
}

fn pod(ns: &TestNs<'_>, name: &str, labels: &str, image: &str, extra_spec: &str) {
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n  containers:\n  - name: main\n    image: {image}\n{extra_spec}"
    );
    ns.kubectl_ok(&["apply", "-f", &ns.write(&format!("{name}.yaml"), &manifest)]);
}

/// The pod's node once it has one.
fn bound_node(ns: &TestNs<'_>, pod: &str) -> String {
    ns.eventually(Duration::from_secs(30), || {
        let node = ns.kubectl_ok(&["get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"]);
        if node.trim().is_empty() {
            Err(format!("{pod} is not bound yet"))
        } else {
            Ok(node.trim().to_owned())
        }
    })
}

/// The pod's FailedScheduling message once `kubectl get events` shows one containing `want`.
fn failed_scheduling(ns: &TestNs<'_>, pod: &str, want: &str) -> String {
    let selector = format!("reason=FailedScheduling,involvedObject.name={pod}");
    ns.eventually(Duration::from_secs(30), || {
        let out = ns.kubectl_ok(&[
            "get",
            "events",
            "--field-selector",
            &selector,
            "-o",
            "jsonpath={.items[*].message}",
        ]);
        if out.contains(want) {
            Ok(out)
        } else {
            Err(format!("events for {pod}: {out:?}, want {want:?}"))
        }
    })
}

/// An image reference no test pulls (no agent runs); its registry refuses connections.
const NO_PULL: &str = "127.0.0.1:9/closet-e2e/none:1";

#[test]
fn a_pod_whose_image_lacks_the_node_architecture_stays_pending() {
    require_kubectl!();
    if !Registry::available() {
        eprintln!("skipping: no docker-registry (apt-get install docker-registry)");
        return;
    }
    let cluster = Cluster::start();
    let ns = test_ns!(&cluster);
    let registry = Registry::start().expect("start the local registry");
    let other = images::other_platform();
    let reference = registry.reference("closet-e2e/foreign:1");
    let layout = images::single(&reference, images::busybox_image(other.clone()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(registry.push(&layout, "closet-e2e/foreign:1"))
        .expect("push the image");

    fake_node(&ns, "sched-native", &[]);
    pod(&ns, "foreign", "", &reference, "");
    let host = Platform::host().architecture;
    let want = format!(
        "0/1 nodes are available: 1 image \"{reference}\" has no linux/{host} variant (only linux/{}).",
        other.architecture
    );
    failed_scheduling(&ns, "foreign", &want);
    let described = ns.kubectl_ok(&["describe", "pod", "foreign"]);
    assert!(described.contains("FailedScheduling"), "{described}");
    assert!(
        described.contains(&format!("has no linux/{host} variant")),
        "{described}"
    );
    let phase = ns.kubectl_ok(&[
        "get",
        "pod",
        "foreign",
        "-o",
        "jsonpath={.status.phase}/{.spec.nodeName}",
    ]);
    assert_eq!(phase.trim(), "Pending/");
    let condition = ns.kubectl_ok(&[
        "get",
        "pod",
        "foreign",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason}",
    ]);
    assert_eq!(condition.trim(), "Unschedulable");

    // A node of the image's architecture takes it.
    fake_node(
        &ns,
        "sched-foreign",
        &[("kubernetes.io/arch", &other.architecture)],
    );
    assert_eq!(bound_node(&ns, "foreign"), "sched-foreign");
}

#[test]
fn a_taint_keeps_pods_off_until_removed() {
    require_kubectl!();
    let cluster = Cluster::start();
    let ns = test_ns!(&cluster);
    fake_node(&ns, "sched-tainted", &[]);
    ns.kubectl_ok(&["taint", "node", "sched-tainted", "dedicated=db:NoSchedule"]);
    pod(&ns, "app", "", NO_PULL, "");
    failed_scheduling(
        &ns,
        "app",
        "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: db}.",
    );
    pod(
        &ns,
        "db",
        "",
        NO_PULL,
        "  tolerations:\n  - key: dedicated\n    value: db\n    effect: NoSchedule\n",
    );
    assert_eq!(bound_node(&ns, "db"), "sched-tainted");
    ns.kubectl_ok(&["taint", "node", "sched-tainted", "dedicated=db:NoSchedule-"]);
    assert_eq!(bound_node(&ns, "app"), "sched-tainted");
}

#[test]
fn node_affinity_picks_the_matching_node() {
    require_kubectl!();
    let cluster = Cluster::start();
    let ns = test_ns!(&cluster);
    fake_node(&ns, "sched-hdd", &[("disk", "hdd")]);
    fake_node(&ns, "sched-ssd", &[("disk", "ssd")]);
    let affinity = "  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n        nodeSelectorTerms:\n        - matchExpressions:\n          - {key: disk, operator: In, values: [ssd]}\n";
    for i in 0..3 {
        pod(&ns, &format!("fast-{i}"), "", NO_PULL, affinity);
    }
    for i in 0..3 {
        assert_eq!(bound_node(&ns, &format!("fast-{i}")), "sched-ssd");
    }
    let nvme = "  nodeSelector:\n    disk: nvme\n";
    pod(&ns, "nvme", "", NO_PULL, nvme);
    failed_scheduling(
        &ns,
        "nvme",
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector.",
    );
}

#[test]
fn anti_affinity_puts_replicas_on_different_nodes() {
    require_kubectl!();
    let cluster = Cluster::start();
    let ns = test_ns!(&cluster);
    fake_node(&ns, "sched-one", &[]);
    fake_node(&ns, "sched-two", &[]);
    let anti = "  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector:\n          matchLabels: {app: web}\n        topologyKey: kubernetes.io/hostname\n";
    for i in 0..3 {
        pod(&ns, &format!("web-{i}"), "app: web", NO_PULL, anti);
    }
    let first = bound_node(&ns, "web-0");
    let second = bound_node(&ns, "web-1");
    assert_ne!(first, second);
    failed_scheduling(
        &ns,
        "web-2",
        "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules.",
    );
    // No agent confirms the deletion, so it is forced.
    ns.kubectl_ok(&["delete", "pod", "web-0", "--grace-period=0", "--force"]);
    assert_eq!(bound_node(&ns, "web-2"), first);
}
