//! `kubectl create -f`, `replace -f` and `delete`.

use closet_e2e::{require_kubectl, test_ns};

use crate::{NOT_ROOT_CA, cluster, configmap, header, row};

const KINDS: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  index.html: "<h1>hi</h1>"
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
type: Opaque
data:
  password: aHVudGVyMg==
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
---
apiVersion: v1
kind: Pod
metadata:
  name: lonely
  labels:
    app: lonely
spec:
  containers:
  - name: main
    image: busybox:1.36
    command: ["sleep", "3600"]
"#;

#[test]
fn create_f_stores_every_kind_and_get_shows_their_columns() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let file = ns.write("kinds.yaml", KINDS);
    let out = ns.kubectl_ok(&["create", "-f", &file]);
    for created in [
        "configmap/web-config created",
        "secret/web-secret created",
        "service/web created",
        "deployment.apps/web created",
        "pod/lonely created",
    ] {
        assert!(out.contains(created), "missing {created:?} in\n{out}");
    }

    let secret = ns.kubectl_ok(&["get", "secret", "web-secret"]);
    assert_eq!(header(&secret), ["NAME", "TYPE", "DATA", "AGE"], "{secret}");
    assert_eq!(
        row(&secret, "web-secret").expect("row")[1..3],
        ["Opaque", "1"],
        "{secret}"
    );
    let svc = ns.kubectl_ok(&["get", "services"]);
    assert_eq!(
        header(&svc),
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ],
        "{svc}"
    );
    let r = row(&svc, "web").expect("web service row");
    assert_eq!(r[1], "ClusterIP", "{svc}");
    assert!(r[4].starts_with("80/TCP"), "{svc}");
    let svc_wide = ns.kubectl_ok(&["get", "svc", "-o", "wide"]);
    assert_eq!(header(&svc_wide).last(), Some(&"SELECTOR"), "{svc_wide}");
    assert!(svc_wide.contains("app=web"), "{svc_wide}");

    let deploy = ns.kubectl_ok(&["get", "deploy"]);
    assert_eq!(
        header(&deploy),
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{deploy}"
    );
    assert_eq!(
        row(&deploy, "web").expect("web deployment row")[1],
        "0/2",
        "{deploy}"
    );
    let wide = ns.kubectl_ok(&["get", "deployments.apps", "-o", "wide"]);
    let h = header(&wide);
    assert_eq!(h[5..], ["CONTAINERS", "IMAGES", "SELECTOR"], "{wide}");
    assert!(
        wide.contains("nginx:1.27") && wide.contains("app=web"),
        "{wide}"
    );

    let pods = ns.kubectl_ok(&["get", "po"]);
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{pods}"
    );
    assert_eq!(
        row(&pods, "lonely").expect("pod row")[1..4],
        ["0/1", "Pending", "0"],
        "{pods}"
    );
    let pods_wide = ns.kubectl_ok(&["get", "pods", "-o", "wide"]);
    assert_eq!(
        header(&pods_wide),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ],
        "{pods_wide}"
    );

    let select = |args: &[&str]| ns.kubectl_ok(args).trim().to_string();
    let pending = select(&[
        "get",
        "pods",
        "-l",
        "app=lonely",
        "--field-selector",
        "status.phase=Pending",
        "-o",
        "name",
    ]);
    assert_eq!(pending, "pod/lonely");
    let running = select(&[
        "get",
        "pods",
        "-l",
        "app=lonely",
        "--field-selector",
        "status.phase=Running",
        "-o",
        "name",
    ]);
    assert_eq!(running, "");
    let unscheduled = select(&[
        "get",
        "pods",
        "-l",
        "app=lonely",
        "--field-selector",
        "spec.nodeName=",
        "-o",
        "name",
    ]);
    assert_eq!(unscheduled, "pod/lonely");
    let opaque = select(&[
        "get",
        "secrets",
        "--field-selector",
        "type=Opaque",
        "-o",
        "name",
    ]);
    assert_eq!(opaque, "secret/web-secret");

    let all = ns.kubectl_ok(&["get", "all", "-o", "name"]);
    for name in ["pod/lonely", "service/web", "deployment.apps/web"] {
        assert!(
            all.lines().any(|l| l == name),
            "{name} missing from get all:\n{all}"
        );
    }
    assert!(
        !all.contains("configmap/"),
        "configmaps are not in the all category:\n{all}"
    );
}

#[test]
fn generate_name_and_delete_by_label() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let generated = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: gen-\n  labels:\n    batch: one\n";
    let file = ns.write("gen.yaml", generated);
    let mut names = Vec::new();
    for _ in 0..3 {
        let out = ns.kubectl_ok(&["create", "-f", &file]);
        let name = out
            .trim()
            .strip_prefix("configmap/")
            .and_then(|n| n.strip_suffix(" created"));
        let name = name
            .unwrap_or_else(|| panic!("unexpected output {out:?}"))
            .to_string();
        assert!(name.starts_with("gen-") && name.len() > 4, "{name}");
        names.push(name);
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3, "generated names repeat: {names:?}");
    ns.kubectl_ok(&[
        "create",
        "-f",
        &ns.write("keep.yaml", &configmap("keep", &[], &[])),
    ]);

    let out = ns.kubectl_ok(&["delete", "configmaps", "-l", "batch=one"]);
    assert_eq!(out.lines().count(), 3, "{out}");
    let left = ns.kubectl_ok(&["get", "cm", NOT_ROOT_CA, "-o", "name"]);
    assert_eq!(left.trim(), "configmap/keep");
}

/// `stringData` is a write-only convenience: the server merges it into `data`, base64-encoded,
/// and never returns it.
#[test]
fn secret_string_data_is_merged_into_data() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let manifest = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ntype: Opaque\n\
                    data:\n  user: YWRtaW4=\n  password: b2xk\nstringData:\n  password: hunter2\n";
    ns.kubectl_ok(&["create", "-f", &ns.write("secret.yaml", manifest)]);
    let table = ns.kubectl_ok(&["get", "secret", "s"]);
    assert_eq!(
        row(&table, "s").expect("row")[1..3],
        ["Opaque", "2"],
        "{table}"
    );
    let json = ns.kubectl_ok(&["get", "secret", "s", "-o", "json"]);
    let secret: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    // stringData wins over data for the same key, as upstream.
    assert_eq!(
        secret["data"],
        serde_json::json!({"password": "aHVudGVyMg==", "user": "YWRtaW4="}),
        "{json}"
    );
    assert!(
        secret.get("stringData").is_none(),
        "stringData is write-only:\n{json}"
    );
}

#[test]
fn replace_f_updates_and_delete_waits() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let file = ns.write("cm.yaml", &configmap("settings", &[], &[("mode", "old")]));
    ns.kubectl_ok(&["create", "-f", &file]);
    let rv_before = ns.kubectl_ok(&[
        "get",
        "cm",
        "settings",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);

    ns.write(
        "cm.yaml",
        &configmap("settings", &[("tier", "web")], &[("mode", "new")]),
    );
    let out = ns.kubectl_ok(&["replace", "-f", &file]);
    assert_eq!(out.trim(), "configmap/settings replaced");
    let got = ns.kubectl_ok(&[
        "get",
        "cm",
        "settings",
        "-o",
        "jsonpath={.data.mode} {.metadata.labels.tier} {.metadata.resourceVersion}",
    ]);
    let got: Vec<&str> = got.split(' ').collect();
    assert_eq!(got[..2], ["new", "web"]);
    assert_ne!(got[2], rv_before, "replace must change the resourceVersion");

    // A manifest carrying an old resourceVersion is a precondition that fails.
    let stale = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  resourceVersion: \"{}\"\n",
        rv_before.trim()
    );
    let err = ns.kubectl_err(&["replace", "-f", &ns.write("stale.yaml", &stale)]);
    assert!(
        err.contains("Error from server (Conflict)")
            && err.contains("the object has been modified"),
        "{err}"
    );

    let out = ns.kubectl_ok(&["delete", "-f", &file]);
    assert_eq!(out.trim(), "configmap \"settings\" deleted");
    let err = ns.kubectl_err(&["get", "cm", "settings"]);
    assert!(
        err.contains("Error from server (NotFound): configmaps \"settings\" not found"),
        "{err}"
    );

    let err = ns.kubectl_err(&["replace", "-f", &file]);
    assert!(
        err.contains("(NotFound)"),
        "replacing a missing object: {err}"
    );

    ns.kubectl_ok(&["create", "-f", &file]);
    let out = ns.kubectl_ok(&["delete", "configmap", "settings", "--wait=true"]);
    assert_eq!(out.trim(), "configmap \"settings\" deleted");
}
