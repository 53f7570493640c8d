//! Claims: bound on first use to a volume on the pod's node, held while in use, and the
//! data kept (Retain, the default class) or removed (local-path-delete) afterwards.

use std::path::PathBuf;
use std::time::Duration;

use closet_e2e::{Cluster, eventually, test_ns};

use crate::{get, node_cluster};

fn claim_and_pod(name: &str, class: Option<&str>, text: &str) -> String {
    let class = class.map_or(String::new(), |c| format!("  storageClassName: {c}\n"));
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\nspec:\n{class}  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 64Mi\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}-writer\nspec:\n  terminationGracePeriodSeconds: 1\n  volumes:\n  - name: data\n    persistentVolumeClaim: {{claimName: {name}}}\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sh\", \"-c\", \"echo {text} > /data/file && exec sleep 3600\"]\n    volumeMounts:\n    - {{name: data, mountPath: /data}}\n",
        image = closet_e2e::node::BUSYBOX,
    )
}

#[test]
fn a_claim_gets_a_local_volume_on_the_pods_node_and_keeps_its_data_by_default() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    ns.kubectl_ok(&[
        "apply",
        "-f",
        &ns.write("kept.yaml", &claim_and_pod("kept", None, "kept-data")),
    ]);
    ns.wait_ready("kept-writer");
    assert_eq!(
        ns.kubectl_ok(&["exec", "kept-writer", "--", "cat", "/data/file"])
            .trim(),
        "kept-data"
    );

    // The default class was filled in, and the claim is bound to a volume made for it.
    assert_eq!(
        get(&ns, "pvc/kept", "{.spec.storageClassName}"),
        "local-path"
    );
    assert_eq!(get(&ns, "pvc/kept", "{.status.phase}"), "Bound");
    let uid = get(&ns, "pvc/kept", "{.metadata.uid}");
    let pv = get(&ns, "pvc/kept", "{.spec.volumeName}");
    assert_eq!(pv, format!("pvc-{uid}"));
    let pv_ref = format!("pv/{pv}");
    assert_eq!(
        get(
            &ns,
            &pv_ref,
            "{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}"
        ),
        Cluster::NODE
    );
    assert_eq!(
        get(&ns, &pv_ref, "{.spec.persistentVolumeReclaimPolicy}"),
        "Retain"
    );
    assert_eq!(get(&ns, &pv_ref, "{.spec.capacity.storage}"), "64Mi");
    let path = PathBuf::from(get(&ns, &pv_ref, "{.spec.local.path}"));
    let expected = cluster
        .data_dir()
        .join("storage")
        .join(format!("pvc-{uid}_{}_kept", ns.name()));
    assert_eq!(path, expected);
    assert_eq!(
        std::fs::read_to_string(path.join("file")).unwrap().trim(),
        "kept-data"
    );

    // In use: deleting the claim leaves it Terminating until the pod is gone.
    ns.kubectl_ok(&["delete", "pvc", "kept", "--wait=false"]);
    let deleting = get(&ns, "pvc/kept", "{.metadata.deletionTimestamp}");
    assert!(!deleting.is_empty(), "the claim is not marked deleted");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        get(&ns, "pvc/kept", "{.metadata.finalizers[0]}"),
        "kubernetes.io/pvc-protection"
    );
    ns.kubectl_ok(&[
        "delete",
        "pod",
        "kept-writer",
        "--wait=true",
        "--timeout=60s",
    ]);
    eventually(Duration::from_secs(60), || {
        let out = ns.kubectl(&["get", "pvc", "kept"]);
        if out.success() {
            Err(format!("claim still there: {}", out.stdout))
        } else {
            Ok(())
        }
    });
    // Retain: the volume is Released and the data stays on the node.
    eventually(Duration::from_secs(30), || {
        let phase = get(&ns, &pv_ref, "{.status.phase}");
        if phase == "Released" {
            Ok(())
        } else {
            Err(format!("volume {phase}"))
        }
    });
    assert_eq!(
        std::fs::read_to_string(path.join("file")).unwrap().trim(),
        "kept-data"
    );
}

#[test]
fn the_delete_class_removes_the_volume_and_its_data_with_the_claim() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    // The claim waits, unbound, until a pod uses it.
    let manifest = claim_and_pod("scratch", Some("local-path-delete"), "scratch-data");
    let (claim, pod) = manifest.split_once("---\n").unwrap();
    ns.kubectl_ok(&["apply", "-f", &ns.write("claim.yaml", claim)]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(get(&ns, "pvc/scratch", "{.status.phase}"), "Pending");
    ns.kubectl_ok(&["apply", "-f", &ns.write("pod.yaml", pod)]);
    ns.wait_ready("scratch-writer");
    let pv = get(&ns, "pvc/scratch", "{.spec.volumeName}");
    let pv_ref = format!("pv/{pv}");
    assert_eq!(
        get(&ns, &pv_ref, "{.spec.persistentVolumeReclaimPolicy}"),
        "Delete"
    );
    let path = PathBuf::from(get(&ns, &pv_ref, "{.spec.local.path}"));
    assert_eq!(
        std::fs::read_to_string(path.join("file")).unwrap().trim(),
        "scratch-data"
    );

    ns.kubectl_ok(&["delete", "pod", "scratch-writer", "--timeout=60s"]);
    ns.kubectl_ok(&["delete", "pvc", "scratch", "--timeout=60s"]);
    eventually(Duration::from_secs(60), || {
        let out = ns.kubectl(&["get", &pv_ref]);
        if out.success() {
            Err(format!("volume still there: {}", out.stdout))
        } else {
            Ok(())
        }
    });
    assert!(!path.exists(), "{} is still on disk", path.display());
}
