//! Volume usage as kubelet reports it: `kubectl get --raw
//! /api/v1/nodes/<node>/proxy/stats/summary` (what `kubectl df-pv` and k9s read) lists a
//! pod's volumes with what they hold, and a claim's volume names its claim.

use std::time::Duration;

use closet_e2e::raw::Request;
use closet_e2e::{Cluster, eventually, test_ns};
use serde_json::Value;

use crate::node_cluster;

const MIB: u64 = 1 << 20;

fn manifest() -> String {
    format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: usage\nspec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 64Mi\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: usage-writer\nspec:\n  terminationGracePeriodSeconds: 1\n  volumes:\n  - name: data\n    persistentVolumeClaim: {{claimName: usage}}\n  - name: scratch\n    emptyDir: {{}}\n  containers:\n  - name: main\n    image: {image}\n    imagePullPolicy: Never\n    command: [\"sleep\", \"3600\"]\n    volumeMounts:\n    - {{name: data, mountPath: /data}}\n    - {{name: scratch, mountPath: /scratch}}\n",
        image = closet_e2e::node::BUSYBOX,
    )
}

/// The pod's entry in a summary document.
fn pod_entry<'a>(summary: &'a Value, namespace: &str, name: &str) -> Option<&'a Value> {
    summary["pods"]
        .as_array()?
        .iter()
        .find(|p| p["podRef"]["namespace"] == namespace && p["podRef"]["name"] == name)
}

/// The pod's volume called `name`.
fn volume<'a>(pod: &'a Value, name: &str) -> Option<&'a Value> {
    pod["volume"].as_array()?.iter().find(|v| v["name"] == name)
}

#[test]
fn the_node_summary_reports_a_claims_usage() {
    let Some(cluster) = node_cluster() else {
        return;
    };
    let ns = test_ns!(&cluster);
    ns.kubectl_ok(&["apply", "-f", &ns.write("usage.yaml", &manifest())]);
    ns.wait_ready("usage-writer");
    ns.kubectl_ok(&[
        "exec",
        "usage-writer",
        "--",
        "sh",
        "-c",
        "dd if=/dev/zero of=/data/f bs=1M count=2 && sync",
    ]);

    let path = format!("/api/v1/nodes/{}/proxy/stats/summary", Cluster::NODE);
    let summary = eventually(Duration::from_secs(120), || {
        let out = ns.kubectl(&["get", "--raw", &path]);
        if !out.success() {
            return Err(out.describe());
        }
        let summary: Value = serde_json::from_str(&out.stdout).map_err(|e| e.to_string())?;
        let pod = pod_entry(&summary, ns.name(), "usage-writer")
            .ok_or_else(|| format!("the pod is not in the summary: {summary}"))?;
        let data = volume(pod, "data").ok_or_else(|| format!("no data volume: {pod}"))?;
        let used = data["usedBytes"].as_u64().unwrap_or(0);
        if used < 2 * MIB {
            return Err(format!(
                "the claim's volume reports {used} bytes used: {data}"
            ));
        }
        Ok(summary)
    });
    let pod = pod_entry(&summary, ns.name(), "usage-writer").unwrap();
    let data = volume(pod, "data").unwrap();
    assert_eq!(
        data["pvcRef"],
        serde_json::json!({"name": "usage", "namespace": ns.name()}),
        "{data}"
    );
    let used = data["usedBytes"].as_u64().unwrap();
    assert!(data["capacityBytes"].as_u64().unwrap() > used, "{data}");
    assert!(data["inodesUsed"].as_u64().unwrap() >= 2, "{data}");
    assert!(
        data["time"].as_str().is_some_and(|t| !t.is_empty()),
        "{data}"
    );
    let scratch = volume(pod, "scratch").unwrap_or_else(|| panic!("no scratch volume: {pod}"));
    assert!(scratch.get("pvcRef").is_none(), "{scratch}");
    assert!(scratch["usedBytes"].as_u64().unwrap() < MIB, "{scratch}");
    let node_fs = &summary["node"]["fs"];
    assert!(node_fs["capacityBytes"].as_u64().unwrap() > 0, "{node_fs}");

    // The node proxy only reads.
    let response = cluster
        .raw(true)
        .send(&Request::new("POST", &path).json(&serde_json::json!({})))
        .unwrap_or_else(|e| cluster.fail(e));
    let body = String::from_utf8_lossy(&response.body);
    assert_eq!(response.status, 405, "{body}");
    assert!(body.contains("MethodNotAllowed"), "{body}");
}
