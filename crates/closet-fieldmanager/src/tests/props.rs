//! Properties over generated objects: applying the same configuration twice changes
//! nothing, nothing panics on arbitrary JSON, and FieldsV1 text is stable.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::test_util::{T1, T2, T3, apps, schema};
use crate::{Deduced, FieldSet, ManagedFields, Schema, apply, update};

/// Keys that hit the test schema's lists and maps, and plain ones.
const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "labels",
    "annotations",
    "finalizers",
    "managedFields",
    "spec",
    "selector",
    "template",
    "containers",
    "env",
    "ports",
    "containerPort",
    "protocol",
    "image",
    "fieldsV1",
    "operation",
    "f:a",
    "k:{\"name\":1}",
    "v:1",
    ".",
    "i:0",
    "x:y",
    "a",
    "b",
];

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(str::to_string)
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::from),
        prop::sample::select(vec!["apps/v1", "Apply", "Update", "FieldsV1", "web"])
            .prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A deployment-shaped configuration whose lists identify their elements.
fn config() -> impl Strategy<Value = Value> {
    let small = || "[a-c]{1,2}";
    let container = (
        small(),
        prop::collection::btree_map("[A-C]", small(), 0..3),
        prop::option::of(prop::collection::vec(small(), 0..3)),
        prop::collection::btree_set(1..4i64, 0..3),
    )
        .prop_map(|(image, env, args, ports)| {
            let mut c = json!({"image": image});
            if !env.is_empty() {
                c["env"] = env
                    .into_iter()
                    .map(|(n, v)| json!({"name": n, "value": v}))
                    .collect();
            }
            if let Some(args) = args {
                c["args"] = json!(args);
            }
            if !ports.is_empty() {
                c["ports"] = ports
                    .into_iter()
                    .map(|p| json!({"containerPort": p}))
                    .collect();
            }
            c
        });
    (
        prop::collection::btree_map("[a-c]", small(), 0..3),
        prop::option::of(prop::collection::btree_set(small(), 0..3)),
        prop::option::of(0..5i64),
        prop::option::of(prop::collection::btree_map("[a-c]", small(), 1..3)),
        prop::collection::btree_map("[a-d]", container, 0..4),
        prop::option::of(any_json()),
    )
        .prop_map(|(labels, finalizers, replicas, selector, containers, extra)| {
            let mut metadata = json!({"name": "web"});
            if !labels.is_empty() {
                metadata["labels"] = json!(labels);
            }
            if let Some(finalizers) = finalizers {
                metadata["finalizers"] = json!(finalizers);
            }
            let mut spec = Map::new();
            if let Some(replicas) = replicas {
                spec.insert("replicas".into(), json!(replicas));
            }
            if let Some(selector) = selector {
                spec.insert("selector".into(), json!({"matchLabels": selector}));
            }
            if !containers.is_empty() {
                let containers: Vec<Value> = containers
                    .into_iter()
                    .map(|(name, mut c)| {
                        c["name"] = json!(name);
                        c
                    })
                    .collect();
                spec.insert("template".into(), json!({"spec": {"containers": containers}}));
            }
            if let Some(extra) = extra {
                spec.insert("extra".into(), extra);
            }
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec})
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn applying_twice_is_a_no_op(config in config()) {
        let schema = schema();
        let first = apply(None, &config, &ManagedFields::new(), &apps("kubectl", T1), false, &schema);
        let first = first.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let second = apply(Some(&first.object), &config, &first.managed, &apps("kubectl", T2), false, &schema)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(second, first);
    }

    #[test]
    fn reapplying_over_others_is_a_no_op(a in config(), b in config(), c in config()) {
        let schema = schema();
        let mut managed = ManagedFields::new();
        let mut live: Option<Value> = None;
        for (manager, config, now) in [("alice", &a, T1), ("bob", &b, T2), ("alice", &c, T3)] {
            let applied = apply(live.as_ref(), config, &managed, &apps(manager, now), true, &schema)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            managed = applied.managed;
            live = Some(applied.object);
        }
        let again = apply(live.as_ref(), &c, &managed, &apps("alice", T3), false, &schema)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Some(again.object), live);
        prop_assert_eq!(again.managed, managed);
    }

    #[test]
    fn apply_and_update_never_panic(
        live in any_json(),
        config in any_json(),
        garbage in any_json(),
        force in any::<bool>(),
        typed in any::<bool>(),
    ) {
        let table = schema();
        let schema: &dyn Schema = if typed { &table } else { &Deduced };
        let mut config = config;
        if let Value::Object(map) = &mut config {
            // Mostly get past the version check, to reach the merge.
            map.insert("apiVersion".into(), json!("apps/v1"));
        }
        let managed = ManagedFields::from_object(&json!({"metadata": {"managedFields": garbage}}));
        let _ = ManagedFields::parse(&garbage);
        for live in [None, Some(&live)] {
            for manager in ["kubectl", "other"] {
                if let Ok(applied) = apply(live, &config, &managed, &apps(manager, T1), force, schema) {
                    let again = apply(Some(&applied.object), &config, &applied.managed, &apps(manager, T2), force, schema);
                    prop_assert!(again.is_ok());
                }
                let _ = update(live, &config, &managed, &apps(manager, T1), schema);
            }
        }
        let _ = FieldSet::from_fields_v1(&garbage);
    }

    #[test]
    fn fields_v1_text_is_stable(object in any_json(), typed in any::<bool>()) {
        let table = schema();
        let schema: &dyn Schema = if typed { &table } else { &Deduced };
        let set = FieldSet::from_object(&object, schema).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let text = set.to_json();
        let parsed = FieldSet::from_json(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&parsed, &set);
        prop_assert_eq!(parsed.to_json(), text);
        prop_assert_eq!(FieldSet::from_fields_v1(&set.to_fields_v1()).ok(), Some(set));
    }

    #[test]
    fn set_algebra(a in any_json(), b in any_json()) {
        let table = schema();
        let a = FieldSet::from_object(&a, &table).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let b = FieldSet::from_object(&b, &table).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let union = a.union(&b);
        prop_assert_eq!(union.len(), a.len() + b.len() - a.intersection(&b).len());
        prop_assert!(a.difference(&b).intersection(&b).is_empty());
        prop_assert_eq!(a.difference(&b).union(&a.intersection(&b)), a.clone());
        prop_assert!(a.recursive_difference(&b).len() <= a.difference(&b).len());
        for path in a.paths() {
            prop_assert!(union.contains(path.elements()));
        }
    }
}
