//! `kubectl version`, `api-resources`, `api-versions` and the tables of the objects every
//! cluster starts with.

use closet_e2e::require_kubectl;
use serde_json::Value;

use crate::{cluster, header, row, rows};

#[test]
fn version_reports_the_server_as_1_35() {
    require_kubectl!();
    let out = cluster().kubectl_ok(&["version", "-o", "json"]);
    let v: Value = serde_json::from_str(&out).expect("kubectl version -o json prints JSON");
    assert_eq!(v["serverVersion"]["major"], "1", "{out}");
    assert_eq!(v["serverVersion"]["minor"], "35", "{out}");
    let git = v["serverVersion"]["gitVersion"]
        .as_str()
        .unwrap_or_default();
    assert!(git.starts_with("v1.35"), "gitVersion {git:?}");

    let plain = cluster().kubectl_ok(&["version"]);
    assert!(plain.contains("Server Version: v1.35"), "{plain}");
}

/// (name, short names, API version, namespaced, kind) as upstream lists them.
const EXPECTED_RESOURCES: &[(&str, &str, &str, &str, &str)] = &[
    ("pods", "po", "v1", "true", "Pod"),
    ("services", "svc", "v1", "true", "Service"),
    ("configmaps", "cm", "v1", "true", "ConfigMap"),
    ("secrets", "", "v1", "true", "Secret"),
    ("namespaces", "ns", "v1", "false", "Namespace"),
    ("nodes", "no", "v1", "false", "Node"),
    ("serviceaccounts", "sa", "v1", "true", "ServiceAccount"),
    (
        "persistentvolumeclaims",
        "pvc",
        "v1",
        "true",
        "PersistentVolumeClaim",
    ),
    ("events", "ev", "v1", "true", "Event"),
    ("deployments", "deploy", "apps/v1", "true", "Deployment"),
    ("replicasets", "rs", "apps/v1", "true", "ReplicaSet"),
    ("statefulsets", "sts", "apps/v1", "true", "StatefulSet"),
    ("daemonsets", "ds", "apps/v1", "true", "DaemonSet"),
    ("jobs", "", "batch/v1", "true", "Job"),
    ("cronjobs", "cj", "batch/v1", "true", "CronJob"),
    (
        "ingresses",
        "ing",
        "networking.k8s.io/v1",
        "true",
        "Ingress",
    ),
    (
        "customresourcedefinitions",
        "crd,crds",
        "apiextensions.k8s.io/v1",
        "false",
        "CustomResourceDefinition",
    ),
    (
        "clusterroles",
        "",
        "rbac.authorization.k8s.io/v1",
        "false",
        "ClusterRole",
    ),
    ("leases", "", "coordination.k8s.io/v1", "true", "Lease"),
];

#[test]
fn api_resources_lists_builtin_kinds_with_short_names() {
    require_kubectl!();
    let out = cluster().kubectl_ok(&["api-resources"]);
    assert_eq!(
        header(&out),
        ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"],
        "{out}"
    );
    let mut missing = Vec::new();
    for (name, short, version, namespaced, kind) in EXPECTED_RESOURCES {
        let want: Vec<&str> = [*name, short, version, namespaced, kind]
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect();
        let found = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cells| {
                cells.first() == Some(name)
                    && cells.get(cells.len().saturating_sub(3)) == Some(version)
            });
        if found.as_deref() != Some(&want[..]) {
            missing.push(format!("want {want:?}, got {found:?}"));
        }
    }
    assert!(
        missing.is_empty(),
        "api-resources differs:\n{}\n{out}",
        missing.join("\n")
    );

    let apps = cluster().kubectl_ok(&["api-resources", "--api-group=apps", "-o", "name"]);
    for name in [
        "deployments.apps",
        "replicasets.apps",
        "statefulsets.apps",
        "daemonsets.apps",
    ] {
        assert!(
            apps.lines().any(|l| l == name),
            "{name} missing from\n{apps}"
        );
    }
    let cluster_scoped =
        cluster().kubectl_ok(&["api-resources", "--namespaced=false", "-o", "name"]);
    assert!(
        cluster_scoped.lines().any(|l| l == "namespaces"),
        "{cluster_scoped}"
    );
    assert!(
        !cluster_scoped.lines().any(|l| l == "pods"),
        "{cluster_scoped}"
    );

    let versions = cluster().kubectl_ok(&["api-versions"]);
    for gv in [
        "v1",
        "apps/v1",
        "batch/v1",
        "networking.k8s.io/v1",
        "rbac.authorization.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == gv),
            "{gv} missing from\n{versions}"
        );
    }
}

#[test]
fn get_namespaces_shows_the_system_namespaces_as_active() {
    require_kubectl!();
    let out = cluster().kubectl_ok(&["get", "namespaces"]);
    assert_eq!(header(&out), ["NAME", "STATUS", "AGE"], "{out}");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let r = row(&out, ns).unwrap_or_else(|| panic!("no row for {ns} in\n{out}"));
        assert_eq!(r[1], "Active", "{out}");
    }
    let one = cluster().kubectl_ok(&["get", "ns", "kube-system"]);
    assert_eq!(rows(&one).len(), 1, "{one}");
}

#[test]
fn get_serviceaccounts_shows_the_default_accounts() {
    require_kubectl!();
    // Upstream dropped the SECRETS column in 1.35 (kubernetes/kubernetes#117160): nothing has
    // filled `secrets` since 1.24.
    let out = cluster().kubectl_ok(&["get", "serviceaccounts", "-n", "kube-system"]);
    assert_eq!(header(&out), ["NAME", "AGE"], "{out}");
    assert!(row(&out, "default").is_some(), "{out}");

    let all = cluster().kubectl_ok(&["get", "sa", "-A"]);
    assert_eq!(header(&all), ["NAMESPACE", "NAME", "AGE"], "{all}");
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(
            row(&all, ns).is_some_and(|r| r[1] == "default"),
            "no default SA in {ns}:\n{all}"
        );
    }
}
