//! The bodies kubectl 1.32 was observed sending (kubectl-wire.md §1.6, §1.17, §1.21, §3.5),
//! computed from the objects it had, and applied back.

use serde_json::{Value, json};

use crate::test_util::deployment_meta;
use crate::{apply_strategic, create_three_way_patch, create_two_way_patch};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// A manifest as kubectl records it: namespace filled in, `annotations: {}`.
fn manifest(replicas: u32, image: &str, env: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"annotations": {}, "name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"env": env, "image": image, "name": "nginx"}]}
            }
        }
    })
}

/// The annotation value kubectl writes: compact JSON and a newline.
fn annotation(manifest: &Value) -> String {
    format!("{manifest}\n")
}

/// `manifest` carrying its own last-applied annotation, as kubectl's "modified" object.
fn annotated(manifest: &Value) -> Value {
    let mut object = manifest.clone();
    object["metadata"]["annotations"][LAST_APPLIED] = json!(annotation(manifest));
    object
}

/// What the server holds after applying `manifest`: the annotation, defaults and status.
fn live(manifest: &Value) -> Value {
    let mut object = annotated(manifest);
    object["metadata"]["uid"] = json!("6a0f3c4e-1111-4222-8333-944445555666");
    object["metadata"]["resourceVersion"] = json!("1234");
    object["metadata"]["generation"] = json!(1);
    let spec = &mut object["spec"];
    spec["revisionHistoryLimit"] = json!(10);
    spec["progressDeadlineSeconds"] = json!(600);
    if spec.get("strategy").is_none() {
        spec["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}});
    }
    let pod = &mut spec["template"]["spec"];
    pod["restartPolicy"] = json!("Always");
    pod["dnsPolicy"] = json!("ClusterFirst");
    if let Some(containers) = pod["containers"].as_array_mut() {
        for container in containers {
            container["imagePullPolicy"] = json!("IfNotPresent");
            container["terminationMessagePath"] = json!("/dev/termination-log");
            container["resources"] = json!({});
        }
    }
    object["status"] = json!({"observedGeneration": 1, "replicas": 1});
    object
}

fn encode(value: &Value) -> String {
    serde_json::to_string(value).expect("a json value encodes")
}

#[test]
fn apply_env_b_to_c_matches_kubectl_byte_for_byte() {
    let old = manifest(
        1,
        "nginx:1.27",
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
    );
    let new = manifest(
        2,
        "nginx:1.28",
        json!([{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]),
    );
    let current = live(&old);
    let meta = deployment_meta();

    let patch =
        create_three_way_patch(Some(&old), &annotated(&new), &current, &meta).expect("patch");

    let expected = r#"{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":ANNOTATION}},"spec":{"replicas":2,"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"}],"containers":[{"$setElementOrder/env":[{"name":"A"},{"name":"C"}],"env":[{"name":"C","value":"3"},{"$patch":"delete","name":"B"}],"image":"nginx:1.28","name":"nginx"}]}}}}"#
        .replace("ANNOTATION", &encode(&json!(annotation(&new))));
    assert_eq!(encode(&patch), expected);

    let applied = apply_strategic(&current, &patch, &meta).expect("apply");
    let container = &applied["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["env"],
        json!([{"name": "A", "value": "1"}, {"name": "C", "value": "3"}])
    );
    assert_eq!(container["image"], "nginx:1.28");
    assert_eq!(
        container["imagePullPolicy"], "IfNotPresent",
        "server defaults stay"
    );
    assert_eq!(applied["spec"]["replicas"], 2);
    assert_eq!(applied["status"], current["status"]);
    assert_eq!(
        applied["metadata"]["annotations"][LAST_APPLIED],
        json!(annotation(&new))
    );

    // The third apply finds nothing to send, which kubectl prints as "unchanged".
    let again =
        create_three_way_patch(Some(&new), &annotated(&new), &applied, &meta).expect("patch");
    assert_eq!(again, json!({}));
}

#[test]
fn apply_strategy_rolling_update_to_recreate_sends_retain_keys() {
    let env = json!([{"name": "A", "value": "1"}]);
    let mut old = manifest(1, "nginx:1.27", env.clone());
    old["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}});
    let mut new = manifest(1, "nginx:1.27", env);
    new["spec"]["strategy"] = json!({"type": "Recreate"});
    let current = live(&old);
    let meta = deployment_meta();

    let patch =
        create_three_way_patch(Some(&old), &annotated(&new), &current, &meta).expect("patch");
    assert_eq!(
        encode(&patch["spec"]),
        r#"{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"}}"#
    );

    let applied = apply_strategic(&current, &patch, &meta).expect("apply");
    assert_eq!(applied["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn recreate_clears_a_server_defaulted_rolling_update() {
    // The manifest never named rollingUpdate; the server defaulted it.
    let env = json!([]);
    let old = manifest(1, "nginx:1.27", env.clone());
    let mut new = manifest(1, "nginx:1.27", env);
    new["spec"]["strategy"] = json!({"type": "Recreate"});
    let current = live(&old);
    let meta = deployment_meta();

    let patch =
        create_three_way_patch(Some(&old), &annotated(&new), &current, &meta).expect("patch");
    assert_eq!(
        encode(&patch["spec"]),
        r#"{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}"#
    );
    let applied = apply_strategic(&current, &patch, &meta).expect("apply");
    assert_eq!(applied["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn apply_volume_empty_dir_to_config_map_sends_retain_keys() {
    let env = json!([{"name": "A", "value": "1"}]);
    let mut old = manifest(1, "nginx:1.27", env.clone());
    old["spec"]["template"]["spec"]["volumes"] = json!([{"name": "data", "emptyDir": {}}]);
    let mut new = manifest(1, "nginx:1.27", env);
    new["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "data", "configMap": {"name": "cfg"}}]);
    let current = live(&old);
    let meta = deployment_meta();

    let patch =
        create_three_way_patch(Some(&old), &annotated(&new), &current, &meta).expect("patch");
    assert_eq!(
        encode(&patch["spec"]),
        r#"{"template":{"spec":{"$setElementOrder/volumes":[{"name":"data"}],"volumes":[{"$retainKeys":["configMap","name"],"configMap":{"name":"cfg"},"emptyDir":null,"name":"data"}]}}}"#
    );

    let applied = apply_strategic(&current, &patch, &meta).expect("apply");
    assert_eq!(
        applied["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "data", "configMap": {"name": "cfg"}}])
    );
}

#[test]
fn apply_finalizer_removal_sends_delete_from_primitive_list() {
    let env = json!([]);
    let mut old = manifest(1, "nginx:1.27", env.clone());
    old["metadata"]["finalizers"] = json!(["example.com/a", "example.com/b"]);
    let mut new = manifest(1, "nginx:1.27", env);
    new["metadata"]["finalizers"] = json!(["example.com/a"]);
    let current = live(&old);
    let meta = deployment_meta();

    let patch =
        create_three_way_patch(Some(&old), &annotated(&new), &current, &meta).expect("patch");
    let expected = r#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["example.com/b"],"$setElementOrder/finalizers":["example.com/a"],"annotations":{"kubectl.kubernetes.io/last-applied-configuration":ANNOTATION}}}"#
        .replace("ANNOTATION", &encode(&json!(annotation(&new))));
    assert_eq!(encode(&patch), expected);

    let applied = apply_strategic(&current, &patch, &meta).expect("apply");
    assert_eq!(applied["metadata"]["finalizers"], json!(["example.com/a"]));
}

#[test]
fn first_apply_without_last_applied_only_adds() {
    let old = manifest(1, "nginx:1.27", json!([{"name": "A", "value": "1"}]));
    let current = live(&old);
    let meta = deployment_meta();
    // No annotation: nothing is deleted, even what the manifest lacks.
    let mut new = manifest(1, "nginx:1.27", json!([]));
    new["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .expect("container")
        .remove("env");
    let patch = create_three_way_patch(None, &new, &current, &meta).expect("patch");
    let applied = apply_strategic(&current, &patch, &meta).expect("apply");
    assert_eq!(
        applied["spec"]["template"]["spec"]["containers"][0]["env"],
        json!([{"name": "A", "value": "1"}])
    );
}

#[test]
fn edit_changing_the_image_matches_kubectl() {
    let server = live(&manifest(1, "nginx:1.28", json!([])));
    let mut edited = server.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.29");
    let meta = deployment_meta();

    let patch = create_two_way_patch(&server, &edited, &meta).expect("patch");
    assert_eq!(
        encode(&patch),
        r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"nginx"}],"containers":[{"image":"nginx:1.29","name":"nginx"}]}}}}"#
    );
    assert_eq!(
        apply_strategic(&server, &patch, &meta).expect("apply"),
        edited
    );
}

#[test]
fn set_image_and_rollout_restart_bodies_apply() {
    let server = live(&manifest(1, "nginx:1.28", json!([])));
    let meta = deployment_meta();

    let set_image = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"image": "nginx:1.30", "name": "nginx"}]
    }}}});
    let applied = apply_strategic(&server, &set_image, &meta).expect("apply");
    let mut expected = server.clone();
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.30");
    assert_eq!(applied, expected);

    let restart = json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2025-05-01T10:00:00Z"
    }}}}});
    let applied = apply_strategic(&server, &restart, &meta).expect("apply");
    assert_eq!(
        applied["spec"]["template"]["metadata"],
        json!({"labels": {"app": "web"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-05-01T10:00:00Z"}})
    );
}

#[test]
fn label_and_annotate_merge_patches_apply_as_strategic_too() {
    let server = live(&manifest(1, "nginx:1.28", json!([])));
    let label = json!({"metadata": {"labels": {"tier": "web"}}});
    let applied = apply_strategic(&server, &label, &deployment_meta()).expect("apply");
    assert_eq!(applied["metadata"]["labels"], json!({"tier": "web"}));
}
