//! Cascading deletion through the garbage collector, driven by kubectl: `--cascade`
//! background, foreground and orphan on a ConfigMap owning ConfigMaps and a Pod, and a
//! namespace deleted with its contents. No node agent is needed: the pods stay unbound.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use closet_e2e::{Cluster, TestNs, require_kubectl, test_ns};

/// Creates `owner` and, owned by it, ConfigMaps `<owner>-a` (blocking) and `<owner>-b`, and
/// a pod `<owner>-pod`.
fn family(ns: &TestNs<'_>, owner: &str) -> String {
    ns.kubectl_ok(&["create", "configmap", owner]);
    let uid = ns.kubectl_ok(&["get", "configmap", owner, "-o", "jsonpath={.metadata.uid}"]);
    let owned = |block: bool| {
        format!(
            "  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: {owner}\n    uid: {uid}\n    blockOwnerDeletion: {block}\n"
        )
    };
    let manifest = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {owner}-a\n{a}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {owner}-b\n{b}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {owner}-pod\n{a}spec:\n  containers:\n  - name: c\n    image: busybox\n",
        a = owned(true),
        b = owned(false),
    );
    ns.kubectl_ok(&[
        "apply",
        "-f",
        &ns.write(&format!("{owner}.yaml"), &manifest),
    ]);
    uid
}

fn exists(ns: &TestNs<'_>, kind: &str, name: &str) -> bool {
    ns.kubectl(&["get", kind, name, "--ignore-not-found", "-o", "name"])
        .stdout
        .contains(name)
}

fn wait_gone(ns: &TestNs<'_>, kind: &str, name: &str) {
    ns.eventually(Duration::from_secs(60), || {
        if exists(ns, kind, name) {
            Err(format!("{kind}/{name} still exists"))
        } else {
            Ok(())
        }
    });
}

#[test]
fn cascade_background_deletes_dependents_after_the_owner() {
    require_kubectl!();
    let cluster = Cluster::shared();
    let ns = test_ns!(cluster);
    family(&ns, "bg");
    ns.kubectl_ok(&["delete", "configmap", "bg", "--cascade=background"]);
    assert!(!exists(&ns, "configmap", "bg"), "the owner goes at once");
    wait_gone(&ns, "configmap", "bg-a");
    wait_gone(&ns, "configmap", "bg-b");
    wait_gone(&ns, "pod", "bg-pod");
}

#[test]
fn cascade_foreground_deletes_dependents_first() {
    require_kubectl!();
    let cluster = Cluster::shared();
    let ns = test_ns!(cluster);
    family(&ns, "fg");
    // Hold a blocking dependent so the owner's wait can be seen.
    ns.kubectl_ok(&[
        "patch",
        "configmap",
        "fg-a",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ]);
    ns.kubectl_ok(&[
        "delete",
        "configmap",
        "fg",
        "--cascade=foreground",
        "--wait=false",
    ]);
    let finalizers = ns.kubectl_ok(&[
        "get",
        "configmap",
        "fg",
        "-o",
        "jsonpath={.metadata.finalizers}",
    ]);
    assert!(finalizers.contains("foregroundDeletion"), "{finalizers}");
    wait_gone(&ns, "configmap", "fg-b");
    wait_gone(&ns, "pod", "fg-pod");
    assert!(exists(&ns, "configmap", "fg"), "the owner waits for fg-a");
    ns.kubectl_ok(&[
        "patch",
        "configmap",
        "fg-a",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_gone(&ns, "configmap", "fg-a");
    wait_gone(&ns, "configmap", "fg");
}

#[test]
fn cascade_orphan_keeps_dependents() {
    require_kubectl!();
    let cluster = Cluster::shared();
    let ns = test_ns!(cluster);
    family(&ns, "or");
    ns.kubectl_ok(&["delete", "configmap", "or", "--cascade=orphan"]);
    wait_gone(&ns, "configmap", "or");
    for (kind, name) in [
        ("configmap", "or-a"),
        ("configmap", "or-b"),
        ("pod", "or-pod"),
    ] {
        let refs = ns.kubectl_ok(&[
            "get",
            kind,
            name,
            "-o",
            "jsonpath={.metadata.ownerReferences}",
        ]);
        assert_eq!(
            refs, "",
            "{kind}/{name} keeps no reference to the deleted owner"
        );
    }
    // Still there after the collector had time to act.
    std::thread::sleep(Duration::from_secs(2));
    assert!(exists(&ns, "configmap", "or-a"));
}

#[test]
fn a_deleted_namespace_takes_its_contents_with_it() {
    require_kubectl!();
    let cluster = Cluster::shared();
    let name = closet_e2e::unique_name("gc-ns");
    cluster.kubectl_ok(&["create", "namespace", &name]);
    let ns_args = |rest: &[&str]| {
        let mut v = vec!["-n", name.as_str()];
        v.extend_from_slice(rest);
        v.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |rest: &[&str]| {
        let args = ns_args(rest);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cluster.kubectl_ok(&args)
    };
    run(&["create", "configmap", "plain", "--from-literal=a=b"]);
    // A Job's pods carry the job-tracking finalizer; the namespace must still empty.
    run(&["create", "job", "work", "--image=busybox", "--", "true"]);
    closet_e2e::eventually(Duration::from_secs(60), || {
        let pods = run(&["get", "pods", "-o", "name"]);
        if pods.contains("pod/work-") {
            Ok(())
        } else {
            Err(format!("no job pod yet: {pods:?}"))
        }
    });
    cluster.kubectl_ok(&["delete", "namespace", &name, "--wait=false"]);
    closet_e2e::eventually(Duration::from_secs(120), || {
        let out = cluster.kubectl(&[
            "get",
            "namespace",
            &name,
            "--ignore-not-found",
            "-o",
            "name",
        ]);
        if out.stdout.trim().is_empty() {
            Ok(())
        } else {
            Err(format!("namespace {name} still there"))
        }
    });
}

#[test]
fn create_job_from_a_cronjob() {
    require_kubectl!();
    let cluster = Cluster::shared();
    let ns = test_ns!(cluster);
    ns.kubectl_ok(&[
        "create",
        "cronjob",
        "nightly",
        "--image=busybox",
        "--schedule=0 3 * * *",
        "--",
        "true",
    ]);
    ns.kubectl_ok(&["create", "job", "by-hand", "--from=cronjob/nightly"]);
    let owner = ns.kubectl_ok(&[
        "get",
        "job",
        "by-hand",
        "-o",
        "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}",
    ]);
    assert_eq!(owner, "CronJob/nightly");
    let selector = ns.kubectl_ok(&[
        "get",
        "job",
        "by-hand",
        "-o",
        "jsonpath={.spec.selector.matchLabels}",
    ]);
    assert!(
        selector.contains("batch.kubernetes.io/controller-uid"),
        "{selector}"
    );
    let table = ns.kubectl_ok(&["get", "jobs"]);
    assert!(
        table.contains("by-hand") && table.contains("Running"),
        "{table}"
    );
    // Deleting the CronJob takes the Job with it.
    ns.kubectl_ok(&["delete", "cronjob", "nightly"]);
    wait_gone(&ns, "job", "by-hand");
}
