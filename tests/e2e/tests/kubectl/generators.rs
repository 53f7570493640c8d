//! `kubectl create <generator>` (protobuf bodies), defaults as upstream sets them, strict
//! field validation and immutable fields, all with default flags.

use closet_e2e::{require_kubectl, test_ns};

use super::cluster;

#[test]
fn every_generator_creates_its_object() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let commands: &[&[&str]] = &[
        &["create", "configmap", "cfg", "--from-literal=a=b"],
        &["create", "secret", "generic", "pw", "--from-literal=p=q"],
        &[
            "create",
            "deployment",
            "web",
            "--image=nginx:1.27",
            "--replicas=2",
        ],
        &["create", "service", "clusterip", "web", "--tcp=80:8080"],
        &["create", "job", "once", "--image=busybox"],
        &[
            "create",
            "cronjob",
            "tick",
            "--image=busybox",
            "--schedule=*/5 * * * *",
        ],
        &["create", "role", "reader", "--verb=get", "--resource=pods"],
        &[
            "create",
            "rolebinding",
            "reader",
            "--role=reader",
            "--user=someone",
        ],
    ];
    for args in commands {
        let out = ns.kubectl_ok(args);
        assert!(out.contains("created"), "kubectl {}: {out}", args.join(" "));
    }
    // Upstream's defaults, visible in the tables kubectl prints.
    let secret = ns.kubectl_ok(&["get", "secret", "pw", "-o", "jsonpath={.type} {.data.p}"]);
    assert_eq!(secret, "Opaque cQ==");
    let cron = ns.kubectl_ok(&[
        "get",
        "cronjob",
        "tick",
        "-o",
        "jsonpath={.spec.suspend} {.spec.concurrencyPolicy}",
    ]);
    assert_eq!(cron, "false Allow");
    let deploy = ns.kubectl_ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.strategy.rollingUpdate.maxSurge} {.spec.template.spec.containers[0].imagePullPolicy}"]);
    assert_eq!(deploy, "2 25% IfNotPresent");
    let svc = ns.kubectl_ok(&[
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.spec.type} {.spec.ports[0].targetPort}",
    ]);
    assert_eq!(svc, "ClusterIP 8080");
    let ns_out = cluster().kubectl_ok(&["create", "namespace", &format!("{}-gen", ns.name())]);
    assert!(ns_out.contains("created"), "{ns_out}");
    cluster().kubectl_ok(&[
        "delete",
        "namespace",
        &format!("{}-gen", ns.name()),
        "--wait=false",
    ]);
}

#[test]
fn strict_validation_and_immutable_fields() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let typo = ns.write(
        "typo.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: typo}\nspec:\n  replicaz: 2\n  selector: {matchLabels: {app: typo}}\n  template:\n    metadata: {labels: {app: typo}}\n    spec: {containers: [{name: c, image: nginx, imagePullPolicyy: Always}]}\n",
    );
    let err = ns.kubectl_err(&["create", "-f", &typo]);
    assert!(err.contains(r#"unknown field "spec.replicaz""#), "{err}");
    assert!(
        err.contains(r#"unknown field "spec.template.spec.containers[0].imagePullPolicyy""#),
        "{err}"
    );
    // Warn creates it and says why; the unknown fields are dropped.
    let warned = ns.kubectl(&["create", "--validate=warn", "-f", &typo]);
    assert!(warned.success(), "{}", warned.describe());
    assert!(
        warned.stderr.contains("unknown field"),
        "{}",
        warned.describe()
    );

    let missing = ns.write(
        "missing.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: noimage}\nspec: {containers: [{name: c}]}\n",
    );
    let err = ns.kubectl_err(&["create", "-f", &missing]);
    assert!(
        err.contains("spec.containers[0].image: Required value"),
        "{err}"
    );

    ns.kubectl_ok(&["create", "deployment", "fixed", "--image=nginx"]);
    let err = ns.kubectl_err(&[
        "patch",
        "deployment",
        "fixed",
        "--type=merge",
        "-p",
        r#"{"spec":{"selector":{"matchLabels":{"app":"other"}}}}"#,
    ]);
    assert!(
        err.contains("spec.selector") && err.contains("field is immutable"),
        "{err}"
    );
}
