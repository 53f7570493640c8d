//! Each directive and strategy of [`apply_strategic`], on a pod.

use serde_json::{Value, json};

use crate::test_util::pod_meta;
use crate::{NoMeta, apply_strategic};

fn apply(original: Value, patch: Value) -> Value {
    apply_strategic(&original, &patch, &pod_meta()).expect("patch applies")
}

fn pod(containers: Value) -> Value {
    json!({"metadata": {"name": "p"}, "spec": {"containers": containers}})
}

#[test]
fn maps_merge_recursively_and_null_deletes() {
    let original = json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}}});
    let patch = json!({"metadata": {"labels": {"a": null, "c": "3"}, "annotations": {"x": "y"}}});
    assert_eq!(
        apply(original, patch),
        json!({"metadata": {"name": "p", "labels": {"b": "2", "c": "3"}, "annotations": {"x": "y"}}})
    );
}

#[test]
fn null_for_an_absent_key_changes_nothing() {
    let original = json!({"spec": {"nodeName": "n1"}});
    assert_eq!(
        apply(original.clone(), json!({"spec": {"hostname": null}})),
        original
    );
}

// Without `$setElementOrder`, upstream puts a server-only element before a patch element
// only when both are in the live list in that order, so new elements come first.
#[test]
fn merge_key_lists_merge_matching_elements_and_append_new_ones() {
    let original = pod(json!([
        {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
        {"name": "log", "image": "busybox"}
    ]));
    let patch = json!({"spec": {"containers": [
        {"name": "web", "env": [{"name": "B", "value": "2"}]},
        {"name": "new", "image": "redis"}
    ]}});
    assert_eq!(
        apply(original, patch)["spec"]["containers"],
        json!([
            {"name": "web", "image": "nginx:1", "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]},
            {"name": "new", "image": "redis"},
            {"name": "log", "image": "busybox"}
        ])
    );
}

#[test]
fn integer_merge_keys_match() {
    let original =
        pod(json!([{"name": "web", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]));
    let patch = json!({"spec": {"containers": [{"name": "web", "ports": [{"containerPort": 80, "name": "http"}]}]}});
    assert_eq!(
        apply(original, patch)["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}])
    );
}

#[test]
fn delete_element_removes_the_match() {
    let original = pod(json!([{"name": "web"}, {"name": "log"}]));
    let patch = json!({"spec": {"containers": [{"name": "log", "$patch": "delete"}]}});
    assert_eq!(
        apply(original, patch)["spec"]["containers"],
        json!([{"name": "web"}])
    );
}

#[test]
fn replace_element_replaces_the_list() {
    let original = pod(json!([{"name": "web", "image": "a"}, {"name": "log"}]));
    let patch =
        json!({"spec": {"containers": [{"name": "only", "image": "b"}, {"$patch": "replace"}]}});
    assert_eq!(
        apply(original, patch)["spec"]["containers"],
        json!([{"name": "only", "image": "b"}])
    );
}

#[test]
fn replace_directive_on_a_map_takes_the_patch_literally() {
    let original = json!({"spec": {"nodeSelector": {"a": "1", "b": "2"}}});
    let patch = json!({"spec": {"nodeSelector": {"$patch": "replace", "c": "3", "d": null}}});
    assert_eq!(
        apply(original, patch),
        json!({"spec": {"nodeSelector": {"c": "3"}}})
    );
}

#[test]
fn delete_directive_on_an_absent_map_adds_nothing() {
    let original = json!({"spec": {}});
    assert_eq!(
        apply(
            original.clone(),
            json!({"spec": {"affinity": {"$patch": "delete"}}})
        ),
        original
    );
}

#[test]
fn merge_directive_is_a_no_op() {
    let original = json!({"spec": {"nodeSelector": {"a": "1"}}});
    let patch = json!({"spec": {"nodeSelector": {"$patch": "merge", "b": "2"}}});
    assert_eq!(
        apply(original, patch),
        json!({"spec": {"nodeSelector": {"a": "1", "b": "2"}}})
    );
    let original = pod(json!([{"name": "web"}]));
    let patch = json!({"spec": {"containers": [{"$patch": "merge"}, {"name": "log"}]}});
    assert_eq!(
        apply(original, patch)["spec"]["containers"],
        json!([{"name": "log"}, {"name": "web"}])
    );
}

#[test]
fn set_element_order_reorders_maps_and_primitives() {
    let original = json!({
        "metadata": {"finalizers": ["a", "b", "c"]},
        "spec": {"containers": [{"name": "x"}, {"name": "y"}, {"name": "z"}]}
    });
    let patch = json!({
        "metadata": {"$setElementOrder/finalizers": ["c", "a", "b"]},
        "spec": {"$setElementOrder/containers": [{"name": "z"}, {"name": "x"}, {"name": "y"}]}
    });
    assert_eq!(
        apply(original, patch),
        json!({
            "metadata": {"finalizers": ["c", "a", "b"]},
            "spec": {"containers": [{"name": "z"}, {"name": "x"}, {"name": "y"}]}
        })
    );
}

#[test]
fn set_element_order_for_a_list_the_original_lacks() {
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "a"}, {"name": "b"}]
    }});
    // The patch's own order disagrees with its directive; upstream rejects that.
    assert!(apply_strategic(&json!({}), &patch, &pod_meta()).is_err());
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "b"}, {"name": "a", "$setElementOrder/env": [{"name": "E"}], "env": [{"name": "E"}]}]
    }});
    assert_eq!(
        apply(json!({}), patch),
        json!({"spec": {"containers": [{"name": "b"}, {"name": "a", "env": [{"name": "E"}]}]}})
    );
}

#[test]
fn retain_keys_clears_unlisted_fields() {
    let original = json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}, "extra": 1}]}});
    let patch = json!({"spec": {"volumes": [
        {"name": "v", "$retainKeys": ["hostPath", "name"], "hostPath": {"path": "/d"}}
    ]}});
    assert_eq!(
        apply(original, patch),
        json!({"spec": {"volumes": [{"name": "v", "hostPath": {"path": "/d"}}]}})
    );
}

#[test]
fn delete_from_primitive_list_removes_every_copy() {
    let original = json!({"metadata": {"finalizers": ["a", "b", "a", "c"]}});
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "zz"]}});
    assert_eq!(
        apply(original, patch),
        json!({"metadata": {"finalizers": ["b", "c"]}})
    );
}

#[test]
fn delete_from_primitive_list_applies_after_additions() {
    let original = json!({"metadata": {"finalizers": ["a"]}});
    let patch = json!({"metadata": {"finalizers": ["b", "c"], "$deleteFromPrimitiveList/finalizers": ["a", "c"]}});
    assert_eq!(
        apply(original, patch),
        json!({"metadata": {"finalizers": ["b"]}})
    );
}

#[test]
fn primitive_sets_union_without_duplicates() {
    let original = json!({"metadata": {"finalizers": ["a", "b"]}});
    let patch = json!({"metadata": {"finalizers": ["c", "a"]}});
    assert_eq!(
        apply(original, patch),
        json!({"metadata": {"finalizers": ["c", "a", "b"]}})
    );
}

#[test]
fn lists_without_a_strategy_are_replaced() {
    let original = json!({"spec": {"tolerations": [{"key": "a"}, {"key": "b"}]}});
    let patch = json!({"spec": {"tolerations": [{"key": "c"}]}});
    assert_eq!(
        apply(original, patch),
        json!({"spec": {"tolerations": [{"key": "c"}]}})
    );
}

#[test]
fn no_meta_behaves_as_a_json_merge_patch() {
    let original = json!({"spec": {"size": 3, "tags": ["a", "b"], "nested": {"x": 1, "y": 2}}});
    let patch = json!({"spec": {"size": 4, "tags": ["a"], "nested": {"y": null}}});
    assert_eq!(
        apply_strategic(&original, &patch, &NoMeta).expect("apply"),
        json!({"spec": {"size": 4, "tags": ["a"], "nested": {"x": 1}}})
    );
}

#[test]
fn directives_never_leak_into_the_result() {
    let original = pod(json!([{"name": "web", "image": "a"}]));
    let patch = json!({"spec": {
        "containers": [{
            "name": "new",
            "$setElementOrder/env": [{"name": "B"}, {"name": "A"}],
            "env": [{"name": "B"}, {"name": "A"}, {"name": "C", "$patch": "delete"}, {"$patch": "replace"}],
            "$deleteFromPrimitiveList/args": ["x"],
            "args": [{"$patch": "delete"}, "y"],
            "resources": {"$patch": "replace", "limits": {"cpu": "1", "memory": null}},
            "$retainKeys": ["name", "env", "args", "resources"]
        }],
        "tolerations": [{"key": "k", "$patch": "delete"}, {"key": "j", "extra": {"$patch": "replace", "a": 1}}],
        "affinity": {"nodeAffinity": {"$patch": "delete"}, "podAffinity": {"x": null, "y": 1}}
    }});
    let result = apply(original, patch);
    assert_eq!(
        result["spec"],
        json!({
            "containers": [
                {"name": "new", "env": [{"name": "B"}, {"name": "A"}], "args": ["y"], "resources": {"limits": {"cpu": "1"}}},
                {"name": "web", "image": "a"}
            ],
            "tolerations": [{"key": "j", "extra": {"a": 1}}],
            "affinity": {"podAffinity": {"y": 1}}
        })
    );
    assert!(!result.to_string().contains('$'), "{result}");
}

#[test]
fn a_changed_type_replaces_the_value() {
    let original = json!({"spec": {"containers": "oops", "nodeSelector": ["a"]}});
    let patch = json!({"spec": {"containers": [{"name": "web", "env": [{"name": "A", "x": null}]}], "nodeSelector": {"a": "1"}}});
    assert_eq!(
        apply(original, patch),
        json!({"spec": {"containers": [{"name": "web", "env": [{"name": "A"}]}], "nodeSelector": {"a": "1"}}})
    );
}

#[test]
fn long_lists_merge_in_linear_time() {
    // A quadratic merge would take minutes here; this takes milliseconds.
    let n = 20_000;
    let original: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("c{i}"), "image": "a"}))
        .collect();
    let patch: Vec<Value> = (0..n)
        .rev()
        .map(|i| json!({"name": format!("c{i}"), "image": "b"}))
        .collect();
    let order: Vec<Value> = (0..n)
        .rev()
        .map(|i| json!({"name": format!("c{i}")}))
        .collect();
    let nulls: serde_json::Map<String, Value> =
        (0..n).map(|i| (format!("k{i}"), Value::Null)).collect();
    let labels: serde_json::Map<String, Value> =
        (0..n).map(|i| (format!("k{i}"), json!("v"))).collect();
    let result = apply(
        json!({"metadata": {"labels": labels}, "spec": {"containers": original}}),
        json!({"metadata": {"labels": nulls}, "spec": {"containers": patch, "$setElementOrder/containers": order}}),
    );
    let containers = result["spec"]["containers"].as_array().expect("list");
    assert_eq!(containers.len(), n);
    assert_eq!(
        containers[0],
        json!({"name": format!("c{}", n - 1), "image": "b"})
    );
    assert_eq!(result["metadata"]["labels"], json!({}));
}
