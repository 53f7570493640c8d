//! Malformed patches and inputs: each is an error with a clear message, never a panic.

use serde_json::{Value, json};

use crate::test_util::pod_meta;
use crate::{
    Document, MAX_DEPTH, NoMeta, PatchError, apply_strategic, create_three_way_patch,
    create_two_way_patch,
};

fn apply_err(original: Value, patch: Value) -> PatchError {
    apply_strategic(&original, &patch, &pod_meta()).expect_err("the patch is refused")
}

fn nested(depth: usize) -> Value {
    // Built by moving, not with `json!`, which would serialize the value recursively.
    let mut value = Value::Object(serde_json::Map::new());
    for _ in 1..depth {
        let mut map = serde_json::Map::new();
        map.insert("a".to_owned(), value);
        value = Value::Object(map);
    }
    value
}

#[test]
fn documents_must_be_objects() {
    let err = apply_err(json!({}), json!([1]));
    assert_eq!(
        err,
        PatchError::NotAnObject {
            document: Document::Patch,
            found: "list"
        }
    );
    assert_eq!(err.to_string(), "the patch is not a json object but a list");
    let err = apply_err(json!("x"), json!({}));
    assert!(matches!(
        err,
        PatchError::NotAnObject {
            document: Document::Original,
            ..
        }
    ));
    let err = create_two_way_patch(&json!({}), &json!(null), &NoMeta).expect_err("refused");
    assert!(matches!(
        err,
        PatchError::NotAnObject {
            document: Document::Modified,
            ..
        }
    ));
    let err = create_three_way_patch(Some(&json!(1)), &json!({}), &json!({}), &NoMeta)
        .expect_err("refused");
    assert!(matches!(
        err,
        PatchError::NotAnObject {
            document: Document::LastApplied,
            ..
        }
    ));
}

#[test]
fn unknown_patch_directives() {
    let err = apply_err(
        json!({"spec": {"nodeSelector": {}}}),
        json!({"spec": {"nodeSelector": {"$patch": "remove"}}}),
    );
    assert_eq!(
        err.to_string(),
        r#"unknown $patch directive "remove" at .spec.nodeSelector"#
    );
    let err = apply_err(
        json!({}),
        json!({"spec": {"containers": [{"name": "a", "$patch": 7}]}}),
    );
    assert_eq!(
        err.to_string(),
        "unknown $patch directive 7 at .spec.containers[0]"
    );
    let err = apply_err(
        json!({"spec": {"containers": []}}),
        json!({"spec": {"containers": [{"$patch": "drop"}]}}),
    );
    assert!(matches!(err, PatchError::UnknownDirective { .. }), "{err}");
}

#[test]
fn merge_key_elements_need_the_key() {
    let original = json!({"spec": {"containers": [{"name": "web"}]}});
    let err = apply_err(
        original.clone(),
        json!({"spec": {"containers": [{"image": "x"}]}}),
    );
    assert_eq!(
        err.to_string(),
        r#"element .spec.containers[0] of a list merged by "name" has no "name" field"#
    );
    assert!(err.is_unprocessable());
    let err = apply_err(
        original,
        json!({"spec": {"containers": [{"$patch": "delete"}]}}),
    );
    assert!(matches!(err, PatchError::MissingMergeKey { .. }), "{err}");
    let err = create_two_way_patch(
        &json!({"spec": {"containers": [{"name": "a"}]}}),
        &json!({"spec": {"containers": [{"image": "a"}]}}),
        &pod_meta(),
    )
    .expect_err("refused");
    assert!(matches!(err, PatchError::MissingMergeKey { .. }), "{err}");
}

#[test]
fn malformed_parallel_directives() {
    let original = json!({"metadata": {"finalizers": ["a"]}});
    let err = apply_err(
        original.clone(),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
    );
    assert_eq!(
        err.to_string(),
        "invalid $deleteFromPrimitiveList/finalizers directive at .metadata: expected a list"
    );
    let err = apply_err(
        original.clone(),
        json!({"metadata": {"$setElementOrder/finalizers": {"a": 1}}}),
    );
    assert!(
        matches!(err, PatchError::MalformedDirective { .. }),
        "{err}"
    );
    let err = apply_err(
        original.clone(),
        json!({"metadata": {"$setElementOrderfinalizers": ["a"]}}),
    );
    assert!(
        matches!(err, PatchError::MalformedDirective { .. }),
        "{err}"
    );
    let err = apply_err(original, json!({"metadata": {"$retainKeys": "name"}}));
    assert!(
        matches!(err, PatchError::MalformedDirective { .. }),
        "{err}"
    );
    assert!(!err.is_unprocessable());
}

#[test]
fn retain_keys_must_list_what_the_patch_sets() {
    let err = apply_err(
        json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}),
        json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name"], "hostPath": {"path": "/"}}]}}),
    );
    assert_eq!(
        err.to_string(),
        r#"field "hostPath" at .spec.volumes[0] is set by the patch but not listed in $retainKeys"#
    );
}

#[test]
fn wrong_types_in_merged_lists() {
    let err = apply_err(
        json!({"spec": {"containers": [{"name": "web"}]}}),
        json!({"spec": {"containers": ["web"]}}),
    );
    assert_eq!(
        err.to_string(),
        "the elements of list .spec.containers are not all of one type"
    );
    let err = apply_err(
        json!({"spec": {"containers": ["a"]}}),
        json!({"spec": {"containers": ["b"]}}),
    );
    assert!(matches!(err, PatchError::WrongType { .. }), "{err}");
    let err = apply_err(
        json!({"metadata": {"finalizers": [["a"]]}}),
        json!({"metadata": {"finalizers": [["b"]]}}),
    );
    assert!(matches!(err, PatchError::ListOfLists { .. }), "{err}");
    let err = apply_err(
        json!({"metadata": {"finalizers": [{"a": 1}]}}),
        json!({"metadata": {"finalizers": [{"b": 1}]}}),
    );
    assert!(matches!(err, PatchError::NoMergeKey { .. }), "{err}");
    let err = apply_err(
        json!({"metadata": {"finalizers": "a"}}),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
    );
    assert!(matches!(err, PatchError::WrongType { .. }), "{err}");
    let err = apply_err(
        json!({"spec": {"containers": {"name": "a"}}}),
        json!({"spec": {"$setElementOrder/containers": [{"name": "a"}]}}),
    );
    assert!(matches!(err, PatchError::WrongType { .. }), "{err}");
}

#[test]
fn nesting_is_bounded() {
    let ok = nested(MAX_DEPTH);
    assert!(apply_strategic(&ok, &ok, &NoMeta).is_ok());
    assert!(create_two_way_patch(&ok, &json!({}), &NoMeta).is_ok());

    let deep = nested(MAX_DEPTH + 1);
    let err = apply_strategic(&json!({}), &deep, &NoMeta).expect_err("refused");
    assert_eq!(
        err,
        PatchError::TooDeep {
            document: Document::Patch,
            max: MAX_DEPTH
        }
    );
    assert_eq!(err.to_string(), "the patch nests deeper than 100 levels");
    let err = create_three_way_patch(None, &json!({}), &deep, &NoMeta).expect_err("refused");
    assert!(matches!(
        err,
        PatchError::TooDeep {
            document: Document::Current,
            ..
        }
    ));

    // Far deeper than any stack would survive if the engine recursed into it.
    let hostile = nested(5_000);
    assert!(apply_strategic(&hostile, &json!({}), &NoMeta).is_err());
}

#[test]
fn messages_are_lower_case_without_a_final_period() {
    let errors = [
        apply_err(json!({}), json!(1)),
        apply_err(json!({}), nested(MAX_DEPTH + 1)),
        apply_err(
            json!({"spec": {"containers": [{"name": "w"}]}}),
            json!({"spec": {"containers": [{}]}}),
        ),
        apply_err(json!({}), json!({"metadata": {"$retainKeys": 1}})),
    ];
    for err in errors {
        let text = err.to_string();
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        assert!(!text.ends_with('.'), "{text}");
    }
}

/// `{"mergingList": [{"name": "n", "mergingList": [...]}]}`, `depth` levels deep.
fn merge_chain(depth: usize, leaf: &str) -> Value {
    let mut value = json!({"name": "n", "leaf": leaf});
    for _ in 0..(depth - 3) / 2 {
        let mut map = serde_json::Map::new();
        map.insert("name".to_owned(), json!("n"));
        map.insert("mergingList".to_owned(), Value::Array(vec![value]));
        value = Value::Object(map);
    }
    json!({"mergingList": [value]})
}

#[test]
fn the_deepest_allowed_merge_fits_a_tokio_worker_stack() {
    // 2 MiB is a tokio worker's default stack; debug builds need under 1 MiB here,
    // release builds under 256 KiB.
    let worker = std::thread::Builder::new().stack_size(2 << 20).spawn(|| {
        let a = merge_chain(MAX_DEPTH, "a");
        let b = merge_chain(MAX_DEPTH, "b");
        let meta = crate::test_util::item_meta();
        let patch = create_two_way_patch(&a, &b, &meta).expect("two-way");
        assert_eq!(apply_strategic(&a, &patch, &meta).expect("apply"), b);
        let patch = create_three_way_patch(Some(&a), &b, &a, &meta).expect("three-way");
        assert_eq!(apply_strategic(&a, &patch, &meta).expect("apply"), b);
        assert!(apply_strategic(&json!({}), &a, &meta).is_ok());
        assert!(apply_strategic(&a, &merge_chain(MAX_DEPTH + 2, "c"), &meta).is_err());
    });
    worker.expect("spawn").join().expect("no stack overflow");
}
