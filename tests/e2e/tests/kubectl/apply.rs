//! `kubectl apply` in both forms, `edit`, `diff`, `patch` and the CSA to SSA migration, with
//! default flags.

use closet_e2e::{require_kubectl, test_ns};

use super::cluster;

/// A Deployment manifest; the variant changes replicas, image, env, the strategy and a
/// volume source, everything client-side apply computes directives for.
fn deployment(name: &str, updated: bool) -> String {
    let (replicas, image, env, strategy, volume) = if updated {
        (
            2,
            "nginx:1.28",
            r#"{name: A, value: "1"}, {name: C, value: "3"}"#,
            "Recreate",
            "configMap: {name: cfg}",
        )
    } else {
        (
            1,
            "nginx:1.27",
            r#"{name: A, value: "1"}, {name: B, value: "2"}"#,
            "RollingUpdate",
            "emptyDir: {}",
        )
    };
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: {name}}}}}\n  strategy: {{type: {strategy}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n        env: [{env}]\n      volumes: [{{name: data, {volume}}}]\n"
    )
}

#[test]
fn client_side_apply_creates_updates_and_leaves_unchanged() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let v1 = ns.write("v1.yaml", &deployment("web", false));
    let v2 = ns.write("v2.yaml", &deployment("web", true));
    assert!(ns.kubectl_ok(&["apply", "-f", &v1]).contains("created"));
    assert!(ns.kubectl_ok(&["apply", "-f", &v2]).contains("configured"));
    assert!(ns.kubectl_ok(&["apply", "-f", &v2]).contains("unchanged"));
    let spec = ns.kubectl_ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.strategy} {.spec.template.spec.containers[0].env} {.spec.template.spec.volumes[0]}"]);
    assert!(spec.starts_with("2 {\"type\":\"Recreate\"}"), "{spec}");
    assert!(
        spec.contains(r#"{"name":"C","value":"3"}"#) && !spec.contains(r#""name":"B""#),
        "{spec}"
    );
    assert!(
        spec.contains("configMap") && !spec.contains("emptyDir"),
        "{spec}"
    );
}

#[test]
fn diff_edit_patch_and_set_image() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let v1 = ns.write("v1.yaml", &deployment("web", false));
    let v2 = ns.write("v2.yaml", &deployment("web", true));
    ns.kubectl_ok(&["apply", "-f", &v1]);
    let diff = ns.kubectl(&["diff", "-f", &v2]);
    assert_eq!(diff.status.code(), Some(1), "{}", diff.describe());
    assert!(diff.stdout.contains("nginx:1.28"), "{}", diff.stdout);
    let image = ns.kubectl_ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "nginx:1.27", "diff must not persist anything");

    ns.kubectl_ok(&["set", "image", "deployment/web", "web=nginx:1.29"]);
    ns.kubectl_ok(&["patch", "deployment", "web", "--type=strategic", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"D","value":"4"}]}]}}}}"#]);
    ns.kubectl_ok(&[
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
    ]);
    ns.kubectl_ok(&[
        "patch",
        "deployment",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"tier":"web"}}}"#,
    ]);
    let edit = ns.cluster().kubectl_env(
        &["-n", ns.name(), "edit", "deployment/web"],
        &[("EDITOR", "sed -i s/nginx:1.29/nginx:1.30/")],
    );
    assert!(edit.success(), "{}", edit.describe());
    let got = ns.kubectl_ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[*].name} {.metadata.labels.tier}"]);
    // Without $setElementOrder, upstream's strategic merge puts patched elements first.
    assert_eq!(got, "3 nginx:1.30 D A B web");
}

#[test]
fn server_side_apply_conflicts_and_force() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let v1 = ns.write("v1.yaml", &deployment("ssa", false));
    let v2 = ns.write("v2.yaml", &deployment("ssa", true));
    assert!(
        ns.kubectl_ok(&["apply", "--server-side", "-f", &v1])
            .contains("serverside-applied")
    );
    let managers = ns.kubectl_ok(&[
        "get",
        "deploy",
        "ssa",
        "-o",
        "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}",
    ]);
    // The apply is kubectl's; the deployment controller's writes (annotations, status) are
    // recorded under its own name, as kube-controller-manager's are upstream.
    let managers: Vec<&str> = managers.split_whitespace().collect();
    assert!(managers.contains(&"kubectl/Apply"), "{managers:?}");
    assert!(
        managers
            .iter()
            .all(|m| *m == "kubectl/Apply" || m.starts_with("closet-controllers/")),
        "{managers:?}"
    );
    // Another manager takes .spec.replicas...
    ns.kubectl_ok(&["scale", "deployment", "ssa", "--replicas=5"]);
    // ...so changing it is a conflict, until forced.
    let err = ns.kubectl_err(&["apply", "--server-side", "-f", &v2]);
    assert!(
        err.contains("conflict") && err.contains(".spec.replicas"),
        "{err}"
    );
    ns.kubectl_ok(&["apply", "--server-side", "--force-conflicts", "-f", &v2]);
    let replicas = ns.kubectl_ok(&["get", "deploy", "ssa", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "2");
    // A server-side dry run changes nothing.
    let dry = ns.write("v3.yaml", &deployment("ssa", false));
    ns.kubectl_ok(&["apply", "--server-side", "--dry-run=server", "-f", &dry]);
    let still = ns.kubectl_ok(&["get", "deploy", "ssa", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(still, "2");
}

#[test]
fn client_side_apply_migrates_to_server_side() {
    require_kubectl!();
    let ns = test_ns!(cluster());
    let v1 = ns.write("v1.yaml", &deployment("mig", false));
    let v2 = ns.write("v2.yaml", &deployment("mig", true));
    ns.kubectl_ok(&["apply", "-f", &v1]);
    ns.kubectl_ok(&["apply", "--server-side", "-f", &v2]);
    let managed = ns.kubectl_ok(&[
        "get",
        "deploy",
        "mig",
        "-o",
        "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}",
    ]);
    assert!(
        managed.contains("kubectl/Apply") && managed.contains("kubectl-last-applied/Apply"),
        "{managed}"
    );
    let replicas = ns.kubectl_ok(&["get", "deploy", "mig", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "2");
}
