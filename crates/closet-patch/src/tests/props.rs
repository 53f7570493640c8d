//! Properties over generated pods: applying the patch kubectl would compute between two
//! objects turns the first into the second, and no input makes the engine panic.
//!
//! Objects are compared with null-valued fields removed: a strategic merge patch has no way
//! to say "set to null" (null deletes), and the apiserver drops such fields when it decodes.
//! The generator keeps merge keys and set elements unique, as valid objects have them;
//! upstream cannot round-trip duplicates either.

use std::collections::{BTreeMap, HashSet};

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use serde_json::{Map, Value, json};

use crate::test_util::pod_meta;
use crate::{apply_strategic, create_three_way_patch, create_two_way_patch};

fn object(entries: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .filter_map(|(key, value)| value.map(|value| (key.to_owned(), value)))
            .collect(),
    )
}

fn to_object(map: BTreeMap<String, Value>) -> Value {
    Value::Object(map.into_iter().collect())
}

fn text() -> impl Strategy<Value = Value> {
    "[a-c]{1,2}".prop_map(Value::String)
}

fn text_or_null() -> impl Strategy<Value = Value> {
    prop_oneof![3 => text(), 1 => Just(Value::Null)]
}

fn labels() -> impl Strategy<Value = Value> {
    let keys = select(vec!["app", "tier", "env", "team"]).prop_map(str::to_owned);
    btree_map(keys, text_or_null(), 0..4).prop_map(to_object)
}

/// Any JSON (objects, lists, scalars, nulls), for fields without patch metadata.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (0i64..4).prop_map(Value::from),
        "[a-c]{0,2}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map("[a-d]", inner, 0..4).prop_map(to_object),
        ]
    })
    .boxed()
}

/// A shuffled subset of `items`: unique, in any order.
fn unique<T: Clone + std::fmt::Debug + 'static>(
    items: &[T],
) -> impl Strategy<Value = Vec<T>> + use<T> {
    subsequence(items.to_vec(), 0..=items.len()).prop_shuffle()
}

fn env() -> impl Strategy<Value = Value> {
    unique(&["A", "B", "C", "D"])
        .prop_flat_map(|names| {
            let n = names.len();
            (Just(names), vec(option::of(text_or_null()), n))
        })
        .prop_map(|(names, values)| {
            let list = names
                .into_iter()
                .zip(values)
                .map(|(name, value)| object(vec![("name", Some(json!(name))), ("value", value)]));
            Value::Array(list.collect())
        })
}

fn ports() -> impl Strategy<Value = Value> {
    unique(&[80, 443, 8080])
        .prop_flat_map(|ports| {
            let n = ports.len();
            (Just(ports), vec(option::of(select(vec!["TCP", "UDP"])), n))
        })
        .prop_map(|(ports, protocols)| {
            let list = ports.into_iter().zip(protocols).map(|(port, protocol)| {
                object(vec![
                    ("containerPort", Some(json!(port))),
                    ("protocol", protocol.map(Value::from)),
                ])
            });
            Value::Array(list.collect())
        })
}

fn container(name: &'static str) -> impl Strategy<Value = Value> {
    (
        option::of("nginx:1\\.2[0-9]".prop_map(Value::String)),
        option::of(env()),
        option::of(ports()),
        option::of(vec(text(), 0..3).prop_map(Value::Array)),
        option::of(any_json()),
        option::of(text_or_null()),
    )
        .prop_map(move |(image, env, ports, args, resources, working_dir)| {
            object(vec![
                ("name", Some(json!(name))),
                ("image", image),
                ("env", env),
                ("ports", ports),
                ("args", args),
                ("resources", resources),
                ("workingDir", working_dir),
            ])
        })
}

fn containers() -> impl Strategy<Value = Value> {
    unique(&["web", "side", "log", "init"])
        .prop_flat_map(|names| names.into_iter().map(container).collect::<Vec<_>>())
        .prop_map(Value::Array)
}

fn volume(name: &'static str) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"emptyDir": {}})),
        "[xy]".prop_map(|cfg| json!({"configMap": {"name": cfg}})),
        Just(json!({"hostPath": {"path": "/data"}})),
    ]
    .prop_map(move |mut source| {
        source["name"] = json!(name);
        source
    })
}

fn volumes() -> impl Strategy<Value = Value> {
    unique(&["data", "cfg", "cache"])
        .prop_flat_map(|names| names.into_iter().map(volume).collect::<Vec<_>>())
        .prop_map(Value::Array)
}

fn tolerations() -> impl Strategy<Value = Value> {
    let toleration = (select(vec!["k1", "k2"]), option::of(text_or_null()))
        .prop_map(|(key, value)| object(vec![("key", Some(json!(key))), ("value", value)]));
    vec(toleration, 0..3).prop_map(Value::Array)
}

fn finalizers() -> impl Strategy<Value = Value> {
    unique(&["example.com/a", "example.com/b", "example.com/c"])
        .prop_map(|names| Value::Array(names.into_iter().map(Value::from).collect()))
}

/// A pod-like object; `metadata` and `spec` are always objects.
fn pod() -> impl Strategy<Value = Value> {
    let metadata = (
        option::of(labels()),
        option::of(finalizers()),
        option::of(labels()),
    )
        .prop_map(|(labels, finalizers, annotations)| {
            object(vec![
                ("name", Some(json!("p"))),
                ("labels", labels),
                ("finalizers", finalizers),
                ("annotations", annotations),
            ])
        });
    let restart = prop_oneof![
        Just(json!("Always")),
        Just(json!("Never")),
        Just(Value::Null)
    ];
    let spec = (
        option::of(containers()),
        option::of(volumes()),
        option::of(tolerations()),
        option::of(labels()),
        option::of(restart),
        option::of(any_json()),
    )
        .prop_map(
            |(containers, volumes, tolerations, node_selector, restart, extra)| {
                object(vec![
                    ("containers", containers),
                    ("volumes", volumes),
                    ("tolerations", tolerations),
                    ("nodeSelector", node_selector),
                    ("restartPolicy", restart),
                    ("extra", extra),
                ])
            },
        );
    (metadata, spec)
        .prop_map(|(metadata, spec)| json!({"kind": "Pod", "metadata": metadata, "spec": spec}))
}

/// `value` without null-valued object fields, at any depth.
fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| (key, strip_nulls(value)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.into_iter().map(strip_nulls).collect()),
        scalar => scalar,
    }
}

fn container_names(pod: &Value) -> HashSet<String> {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|container| container["name"].as_str().map(str::to_owned))
        .collect()
}

/// `pod` with fields only the server sets, including a defaulted field in the containers
/// named in `known` (those the server had).
fn with_server_fields(pod: &Value, known: &HashSet<String>) -> Value {
    let mut pod = pod.clone();
    pod["status"] = json!({"phase": "Running"});
    pod["metadata"]["resourceVersion"] = json!("7");
    pod["spec"]["nodeName"] = json!("node-1");
    if let Some(containers) = pod["spec"]["containers"].as_array_mut() {
        for container in containers {
            if container["name"]
                .as_str()
                .is_some_and(|name| known.contains(name))
            {
                container["terminationMessagePath"] = json!("/dev/termination-log");
            }
        }
    }
    pod
}

/// A mix of `a` and `b`, so that the two share most of their structure: fields present in
/// both are mixed recursively, lists of keyed objects element by element (the list and its
/// order come from one side, so keys stay unique), anything else is taken from one side.
fn blend(a: &Value, b: &Value, bits: &mut impl Iterator<Item = bool>) -> Value {
    let mut pick = || bits.next().unwrap_or(false);
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut out = Map::new();
            for (key, left) in x {
                match y.get(key) {
                    Some(right) => {
                        out.insert(key.clone(), blend(left, right, bits));
                    }
                    None if bits.next().unwrap_or(false) => {
                        out.insert(key.clone(), left.clone());
                    }
                    None => {}
                }
            }
            for (key, right) in y {
                if !x.contains_key(key) && bits.next().unwrap_or(true) {
                    out.insert(key.clone(), right.clone());
                }
            }
            Value::Object(out)
        }
        (Value::Array(x), Value::Array(y))
            if keyed_by(x).is_some() && keyed_by(x) == keyed_by(y) =>
        {
            let key = keyed_by(x).unwrap_or("name");
            let (base, other) = if pick() { (x, y) } else { (y, x) };
            let list = base.iter().map(|element| {
                let twin = other
                    .iter()
                    .find(|candidate| candidate[key] == element[key]);
                match twin {
                    Some(twin) => blend(element, twin, bits),
                    None => element.clone(),
                }
            });
            Value::Array(list.collect())
        }
        _ => {
            if pick() {
                a.clone()
            } else {
                b.clone()
            }
        }
    }
}

/// The merge key every element of `list` has, among those the generator uses.
fn keyed_by(list: &[Value]) -> Option<&'static str> {
    ["name", "containerPort"]
        .into_iter()
        .find(|key| !list.is_empty() && list.iter().all(|element| element.get(key).is_some()))
}

/// Objects whose keys may be directives, with values that exercise them.
fn hostile(directive_keys: bool) -> BoxedStrategy<Value> {
    let mut keys = vec![
        "containers",
        "env",
        "name",
        "finalizers",
        "volumes",
        "metadata",
        "spec",
        "a",
    ];
    if directive_keys {
        keys.extend([
            "$patch",
            "$retainKeys",
            "$setElementOrder/containers",
            "$setElementOrder/finalizers",
            "$deleteFromPrimitiveList/finalizers",
            "$setElementOrder",
        ]);
    }
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-1i64..3).prop_map(Value::from),
        select(vec!["delete", "replace", "merge", "x", "name", "a"]).prop_map(Value::from),
    ];
    let keys = select(keys).prop_map(str::to_owned);
    leaf.prop_recursive(5, 64, 5, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map(keys.clone(), inner, 0..5).prop_map(to_object),
        ]
    })
    .prop_map(|value| match value {
        Value::Object(map) => Value::Object(map),
        other => Value::Object(Map::from_iter([("spec".to_owned(), other)])),
    })
    .boxed()
}

fn has_directive_key(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| key.starts_with('$') || has_directive_key(value)),
        Value::Array(list) => list.iter().any(has_directive_key),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn two_way_patch_turns_a_into_b(a in pod(), b in pod()) {
        let meta = pod_meta();
        let patch = create_two_way_patch(&a, &b, &meta).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let result = apply_strategic(&a, &patch, &meta).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(strip_nulls(result), strip_nulls(b));
    }

    #[test]
    fn three_way_patch_turns_current_into_b_keeping_server_fields(a in pod(), b in pod()) {
        let meta = pod_meta();
        let known = container_names(&a);
        let current = with_server_fields(&a, &known);
        let patch = create_three_way_patch(Some(&a), &b, &current, &meta)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let result = apply_strategic(&current, &patch, &meta).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(strip_nulls(result), strip_nulls(with_server_fields(&b, &known)));
    }

    #[test]
    fn patches_between_similar_objects_round_trip(
        a in pod(),
        other in pod(),
        bits in vec(any::<bool>(), 256),
    ) {
        let b = blend(&a, &other, &mut bits.into_iter());
        let meta = pod_meta();
        let patch = create_two_way_patch(&a, &b, &meta).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let result = apply_strategic(&a, &patch, &meta).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(strip_nulls(result), strip_nulls(b.clone()));

        let known = container_names(&a);
        let current = with_server_fields(&a, &known);
        let patch = create_three_way_patch(Some(&a), &b, &current, &meta)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let result = apply_strategic(&current, &patch, &meta).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(strip_nulls(result), strip_nulls(with_server_fields(&b, &known)));
    }

    #[test]
    fn unchanged_objects_give_empty_patches(a in pod()) {
        let meta = pod_meta();
        prop_assert_eq!(create_two_way_patch(&a, &a, &meta).ok(), Some(json!({})));
        let current = with_server_fields(&a, &container_names(&a));
        let patch = create_three_way_patch(Some(&a), &a, &current, &meta).ok();
        // Volumes are retainKeys unions, but the server added nothing to them here.
        prop_assert_eq!(patch, Some(json!({})));
    }

    #[test]
    fn arbitrary_input_never_panics_and_stays_bounded(
        original in hostile(false),
        patch in hostile(true),
    ) {
        let meta = pod_meta();
        if let Ok(result) = apply_strategic(&original, &patch, &meta) {
            prop_assert!(result.is_object());
            prop_assert!(!has_directive_key(&result), "a directive leaked: {}", result);
            prop_assert!(result.to_string().len() <= original.to_string().len() + patch.to_string().len());
        }
        let _ = create_two_way_patch(&original, &patch, &meta);
        let _ = create_three_way_patch(Some(&patch), &original, &patch, &meta);
        let _ = create_three_way_patch(None, &patch, &original, &meta);
    }
}
