//! `describe`, `label`, `annotate` and the errors kubectl prints.

use closet_e2e::{require_kubectl, test_ns};

use crate::{cluster, configmap};

#[test]
fn describe_shows_a_configmap_and_a_namespace() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let file = ns.write(
        "cm.yaml",
        &configmap("described", &[("app", "d")], &[("greeting", "hello")]),
    );
    ns.kubectl_ok(&["create", "-f", &file]);
    let out = ns.kubectl_ok(&["describe", "configmap", "described"]);
    for want in [
        "Name:",
        "described",
        "Namespace:",
        ns.name(),
        "Labels:",
        "app=d",
        "Data",
        "greeting",
        "hello",
    ] {
        assert!(out.contains(want), "describe lacks {want:?}:\n{out}");
    }
    let out = cluster().kubectl_ok(&["describe", "namespace", ns.name()]);
    assert!(out.contains("Name:") && out.contains(ns.name()), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("Status:") && l.contains("Active")),
        "{out}"
    );
}

#[test]
fn label_and_annotate_patch_metadata() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    ns.kubectl_ok(&[
        "create",
        "-f",
        &ns.write("cm.yaml", &configmap("tagged", &[("a", "1")], &[])),
    ]);

    assert_eq!(
        ns.kubectl_ok(&["label", "cm", "tagged", "tier=web"]).trim(),
        "configmap/tagged labeled"
    );
    let labels = ns.kubectl_ok(&["get", "cm", "tagged", "-o", "jsonpath={.metadata.labels}"]);
    assert_eq!(labels, r#"{"a":"1","tier":"web"}"#);

    let err = ns.kubectl_err(&["label", "cm", "tagged", "tier=db"]);
    assert!(err.contains("already has a value"), "{err}");
    ns.kubectl_ok(&["label", "cm", "tagged", "tier=db", "--overwrite"]);
    ns.kubectl_ok(&["label", "cm", "tagged", "a-"]);
    let labels = ns.kubectl_ok(&["get", "cm", "tagged", "-o", "jsonpath={.metadata.labels}"]);
    assert_eq!(labels, r#"{"tier":"db"}"#);

    let out = ns.kubectl_ok(&["annotate", "cm", "tagged", "note=hi there"]);
    assert_eq!(out.trim(), "configmap/tagged annotated");
    let note = ns.kubectl_ok(&[
        "get",
        "cm",
        "tagged",
        "-o",
        "jsonpath={.metadata.annotations.note}",
    ]);
    assert_eq!(note, "hi there");
    let selected = ns.kubectl_ok(&["get", "cm", "-l", "tier=db", "-o", "name"]);
    assert_eq!(selected.trim(), "configmap/tagged");
}

#[test]
fn server_errors_are_printed_with_their_reason() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let err = ns.kubectl_err(&["get", "configmap", "nope"]);
    assert_eq!(
        err.trim(),
        "Error from server (NotFound): configmaps \"nope\" not found"
    );

    let file = ns.write("cm.yaml", &configmap("twice", &[], &[]));
    ns.kubectl_ok(&["create", "-f", &file]);
    let err = ns.kubectl_err(&["create", "-f", &file]);
    assert!(
        err.contains("Error from server (AlreadyExists)")
            && err.contains("configmaps \"twice\" already exists"),
        "{err}"
    );

    let err = ns.kubectl_err(&["get", "foos"]);
    assert!(
        err.contains("the server doesn't have a resource type \"foos\""),
        "{err}"
    );

    let bad = ns.write("bad.yaml", &configmap("Bad_Name", &[], &[]));
    let err = ns.kubectl_err(&["create", "-f", &bad]);
    assert!(
        err.contains("is invalid") && err.contains("metadata.name"),
        "{err}"
    );

    let err = ns.kubectl_err(&["delete", "configmap", "nope"]);
    assert!(err.contains("Error from server (NotFound)"), "{err}");
    let err = cluster().kubectl_err(&["get", "namespace", "no-such-namespace"]);
    assert!(
        err.contains("Error from server (NotFound): namespaces \"no-such-namespace\" not found"),
        "{err}"
    );
}
