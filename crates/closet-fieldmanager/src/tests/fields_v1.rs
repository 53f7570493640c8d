//! FieldsV1 text: byte-exact round trips of documents built by upstream's rules, how
//! non-canonical documents read, and field sets of objects.

use serde_json::json;

use crate::test_util::schema;
use crate::{Deduced, FieldSet, FieldsError};

/// Documents in upstream's canonical form: keys in path element order (fields byte-wise,
/// then keys, then values by type, then indices), "." first, json-iterator escaping.
const CANONICAL: &[&str] = &[
    "{}",
    r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{}}}}}"#,
    r#"{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}}}}}}}}"#,
    r#"{"f:metadata":{"f:finalizers":{".":{},"v:\"a.example/x\"":{},"v:\"b.example/y\"":{}}}}"#,
    r#"{"f:data":{".":{},"f:B":{},"f:a":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}}"#,
    r#"{"f:list":{"v:1":{},"v:1.5":{},"v:\"x\"":{},"v:false":{},"v:true":{},"v:[1,\"a\"]":{},"v:{\"k\":null}":{},"v:null":{}}}"#,
    r#"{"f:x":{"f:a":{},"k:{\"a\":1}":{},"k:{\"a\":1,\"b\":2}":{},"k:{\"a\":2}":{},"v:0":{},"i:-1":{},"i:0":{},"i:10":{}}}"#,
    r#"{"f:spec":{"f:rules":{"k:{\"host\":\"a\\u003cb\\u0026c\"}":{".":{},"f:http":{".":{},"f:paths":{}}}}}}"#,
    r#"{"f:metadata":{"f:annotations":{"f:\u003ctag\u003e":{},"f:é":{}}}}"#,
    r#"{"f:spec":{"f:ports":{"k:{\"port\":1.5e-7}":{},"k:{\"port\":1e+21,\"protocol\":\"UDP\"}":{}}}}"#,
];

#[test]
fn canonical_documents_round_trip_byte_for_byte() {
    for text in CANONICAL {
        let set = FieldSet::from_json(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(set.to_json(), *text);
        // The Value form keeps the order, so serde_json writes the same keys in the same order.
        let value = set.to_fields_v1();
        assert_eq!(
            FieldSet::from_fields_v1(&value).as_ref(),
            Ok(&set),
            "{text}"
        );
        let reparsed: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        assert_eq!(value, reparsed, "{text}");
        let keys = |v: &serde_json::Value| serde_json::to_string(v).unwrap_or_default();
        assert_eq!(keys(&value), keys(&reparsed));
    }
}

#[test]
fn non_canonical_documents_read_as_upstream_reads_them() {
    let cases = [
        // Out of order keys are sorted.
        (r#"{"f:b":{},"f:a":{}}"#, r#"{"f:a":{},"f:b":{}}"#),
        // A lone "." is a plain member.
        (r#"{"f:a":{".":{}}}"#, r#"{"f:a":{}}"#),
        // Unknown element types are dropped; a node left with nothing is a member.
        (r#"{"x:future":{},"f:a":{"z:y":{}}}"#, r#"{"f:a":{}}"#),
        // null nodes read as {}.
        (r#"{"f:a":null}"#, r#"{"f:a":{}}"#),
        ("null", "{}"),
        // Key fields are sorted; numbers keep their value.
        (
            r#"{"k:{\"b\":1,\"a\":80.0}":{}}"#,
            r#"{"k:{\"a\":80,\"b\":1}":{}}"#,
        ),
        // Escapes read back to the same string and are written in Go's form.
        (
            r#"{"k:{\"x\":\"\u003c\"}":{}}"#,
            r#"{"k:{\"x\":\"\\u003c\"}":{}}"#,
        ),
    ];
    for (input, canonical) in cases {
        let set = FieldSet::from_json(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(set.to_json(), canonical, "{input}");
    }
}

#[test]
fn malformed_documents_are_errors() {
    let invalid_key = |text: &str| {
        matches!(
            FieldSet::from_json(text),
            Err(FieldsError::InvalidKey { .. })
        )
    };
    assert!(invalid_key(r#"{"f":{}}"#));
    assert!(invalid_key(r#"{"fx":{}}"#));
    assert!(invalid_key(r#"{"f:a":{"k:notjson":{}}}"#));
    assert!(invalid_key(r#"{"k:[1]":{}}"#));
    assert!(invalid_key(r#"{"v:1 2":{}}"#));
    assert!(invalid_key(r#"{"i:x":{}}"#));
    assert!(matches!(
        FieldSet::from_json(r#"{"f:a":1}"#),
        Err(FieldsError::NotAnObject { path }) if path == "f:a"
    ));
    assert!(matches!(
        FieldSet::from_json("[]"),
        Err(FieldsError::NotAnObject { .. })
    ));
    assert!(matches!(
        FieldSet::from_json("{"),
        Err(FieldsError::Json(_))
    ));
    let deep = format!(
        "{}{}",
        r#"{"f:a":"#.repeat(101),
        "{}".to_string() + &"}".repeat(101)
    );
    assert!(matches!(
        FieldSet::from_json(&deep),
        Err(FieldsError::Json(_) | FieldsError::TooDeep { .. })
    ));
}

#[test]
fn object_field_sets_follow_the_schema() {
    let object = json!({
        "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"], "annotations": {}},
        "spec": {
            "replicas": null,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {
                "containers": [{"name": "web", "ports": [{"containerPort": 80, "protocol": "UDP"}]}],
                "volumes": [],
            }},
        },
    });
    let typed = FieldSet::from_object(&object, &schema()).unwrap_or_default();
    assert_eq!(
        typed.to_json(),
        concat!(
            r#"{"f:metadata":{"f:annotations":{},"f:finalizers":{"v:\"a\"":{}},"f:labels":{"f:app":{}},"f:name":{}},"#,
            r#""f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:spec":{"f:containers":{"#,
            r#""k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"UDP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}}}}}}}}"#,
        )
    );
    // Without a schema every level is owned, and lists are atomic.
    let deduced = FieldSet::from_object(&object, &Deduced).unwrap_or_default();
    assert_eq!(
        deduced.to_json(),
        concat!(
            r#"{"f:metadata":{".":{},"f:annotations":{},"f:finalizers":{},"f:labels":{".":{},"f:app":{}},"f:name":{}},"#,
            r#""f:spec":{".":{},"f:replicas":{},"f:selector":{".":{},"f:matchLabels":{".":{},"f:app":{}}},"#,
            r#""f:template":{".":{},"f:spec":{".":{},"f:containers":{},"f:volumes":{}}}}}"#,
        )
    );
}

#[test]
fn duplicated_elements_are_owned_whole() {
    let object = json!({"metadata": {"finalizers": ["a", "b", "a"]}});
    let set = FieldSet::from_object(&object, &schema()).unwrap_or_default();
    assert_eq!(
        set.to_json(),
        r#"{"f:metadata":{"f:finalizers":{"v:\"a\"":{},"v:\"b\"":{}}}}"#
    );
}
