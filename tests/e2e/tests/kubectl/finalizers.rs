//! Graceful deletion held by finalizers, released by a merge or a JSON patch.

use std::time::Duration;

use closet_e2e::{require_kubectl, scaled, test_ns};

use crate::cluster;

#[test]
fn a_finalizer_holds_deletion_until_removed() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers:\n  - example.com/hold\ndata:\n  k: v\n";
    ns.kubectl_ok(&["create", "-f", &ns.write("held.yaml", manifest)]);

    ns.kubectl_ok(&["delete", "configmap", "held", "--wait=false"]);
    let still = ns.kubectl_ok(&[
        "get",
        "cm",
        "held",
        "-o",
        "jsonpath={.metadata.deletionTimestamp} {.metadata.finalizers[0]}",
    ]);
    let (stamp, finalizer) = still.split_once(' ').expect("two fields");
    assert!(
        !stamp.is_empty(),
        "deletionTimestamp must be set: {still:?}"
    );
    assert_eq!(finalizer, "example.com/hold");

    // A second delete while finalizers are pending changes nothing and succeeds.
    ns.kubectl_ok(&["delete", "configmap", "held", "--wait=false"]);

    let mut wait = ns.kubectl_spawn(&["wait", "--for=delete", "configmap/held", "--timeout=60s"]);
    std::thread::sleep(scaled(Duration::from_secs(2)));
    assert!(
        wait.is_running(),
        "the finalizer must hold the object: {}",
        wait.describe()
    );
    let out = ns.kubectl_ok(&["get", "cm", "held", "-o", "name"]);
    assert_eq!(out.trim(), "configmap/held");

    ns.kubectl_ok(&[
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    ns.eventually(Duration::from_secs(20), || match wait.is_running() {
        false => Ok(()),
        true => Err(format!("kubectl wait still running: {}", wait.describe())),
    });
    let out = wait.describe();
    assert!(out.contains("exit status: 0"), "{out}");
    let err = ns.kubectl_err(&["get", "cm", "held"]);
    assert!(err.contains("(NotFound)"), "{err}");
}

#[test]
fn a_json_patch_can_remove_a_finalizer_too() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers:\n  - example.com/a\n  - example.com/b\n";
    ns.kubectl_ok(&["create", "-f", &ns.write("held.yaml", manifest)]);
    ns.kubectl_ok(&["delete", "cm", "held", "--wait=false"]);
    ns.kubectl_ok(&[
        "patch",
        "cm",
        "held",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers/0"}]"#,
    ]);
    let left = ns.kubectl_ok(&["get", "cm", "held", "-o", "jsonpath={.metadata.finalizers}"]);
    assert_eq!(left, r#"["example.com/b"]"#);
    ns.kubectl_ok(&[
        "patch",
        "cm",
        "held",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ]);
    let out = ns.kubectl_ok(&["wait", "--for=delete", "cm/held", "--timeout=30s"]);
    assert!(out.contains("condition met") || out.is_empty(), "{out}");
}
