//! Properties every printer must hold, whatever users store: one cell per column, and no
//! panic on missing fields, wrong types, huge numbers or bad timestamps.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::{ALL, Column, Printer, cells, columns, test_now};

/// Realistic objects from every group's tests.
fn samples() -> Vec<(&'static str, &'static str, Value)> {
    [
        super::core::samples(),
        super::pod::samples(),
        super::node::samples(),
        super::events::samples(),
        super::storage::samples(),
        super::apps::samples(),
        super::batch::samples(),
        super::networking::samples(),
        super::rbac::samples(),
        super::other::samples(),
    ]
    .concat()
}

fn printers() -> impl Iterator<Item = &'static Printer> {
    ALL.iter().flat_map(|list| list.iter())
}

/// Runs a printer without the safety resize in [`cells`], so a short row fails here.
fn check(p: &Printer, obj: &Value) {
    let row = (p.cells)(obj, test_now());
    assert_eq!(
        row.len(),
        p.columns.len(),
        "{}/{} on {obj}",
        p.group,
        p.resource
    );
}

/// Values that stand in for any field: every JSON type, extremes, and timestamps that are
/// malformed or in the future.
fn odd_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1.5e300),
        json!(""),
        json!("x:y/z"),
        json!("2999-01-01T00:00:00Z"),
        json!("0001-01-01T00:00:00Z"),
        json!("not a time"),
        json!([]),
        json!([null, 1, "a", {}]),
        json!({}),
        json!({"type": "Ready", "status": "True", "name": "n", "reason": "R"}),
    ]
}

/// One step of a path into a JSON value.
#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every path into `v`, as keys and array indices.
fn paths(v: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    let children: Vec<(Step, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, c)| (Step::Key(k.clone()), c)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, c)| (Step::Index(i), c))
            .collect(),
        _ => Vec::new(),
    };
    for (step, child) in children {
        prefix.push(step);
        out.push(prefix.clone());
        paths(child, prefix, out);
        prefix.pop();
    }
}

/// The slot at `path`, for rewriting.
fn slot<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |cur, step| match step {
        Step::Key(k) => cur.as_object_mut()?.get_mut(k),
        Step::Index(i) => cur.as_array_mut()?.get_mut(*i),
    })
}

/// `sample` with the field at `path` removed (or the array entry nulled).
fn without(sample: &Value, path: &[Step]) -> Value {
    let mut obj = sample.clone();
    if let Some((last, parent)) = path.split_last()
        && let Some(parent) = slot(&mut obj, parent)
    {
        match (last, parent) {
            (Step::Key(k), Value::Object(m)) => {
                m.remove(k);
            }
            (Step::Index(i), Value::Array(a)) if *i < a.len() => {
                a.remove(*i);
            }
            _ => {}
        }
    }
    obj
}

#[test]
fn every_served_resource_has_a_printer_and_a_sample() {
    #[rustfmt::skip]
    let served = [
        ("", "pods"), ("", "services"), ("", "endpoints"), ("", "configmaps"), ("", "secrets"),
        ("", "serviceaccounts"), ("", "events"), ("", "namespaces"), ("", "nodes"),
        ("", "persistentvolumes"), ("", "persistentvolumeclaims"), ("", "limitranges"),
        ("", "resourcequotas"), ("apps", "deployments"), ("apps", "replicasets"),
        ("apps", "statefulsets"), ("apps", "daemonsets"), ("apps", "controllerrevisions"),
        ("batch", "jobs"), ("batch", "cronjobs"), ("autoscaling", "horizontalpodautoscalers"),
        ("networking.k8s.io", "ingresses"), ("networking.k8s.io", "ingressclasses"),
        ("networking.k8s.io", "networkpolicies"), ("discovery.k8s.io", "endpointslices"),
        ("events.k8s.io", "events"), ("coordination.k8s.io", "leases"),
        ("scheduling.k8s.io", "priorityclasses"), ("policy", "poddisruptionbudgets"),
        ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "rolebindings"),
        ("rbac.authorization.k8s.io", "clusterroles"),
        ("rbac.authorization.k8s.io", "clusterrolebindings"),
        ("storage.k8s.io", "storageclasses"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ];
    let samples = samples();
    for (g, r) in served {
        assert!(
            printers().any(|p| p.group == g && p.resource == r),
            "printer for {g}/{r}"
        );
        assert!(
            samples.iter().any(|(sg, sr, _)| *sg == g && *sr == r),
            "sample for {g}/{r}"
        );
    }
    let unique: BTreeSet<_> = printers().map(|p| (p.group, p.resource)).collect();
    assert_eq!(
        unique.len(),
        printers().count(),
        "a resource is listed twice"
    );
}

#[test]
fn column_definitions_are_well_formed() {
    let check_columns = |cols: &[Column]| {
        assert_eq!(cols.iter().filter(|c| c.format == "name").count(), 1);
        for c in cols {
            assert!(["string", "integer", "number", "boolean", "date"].contains(&c.kind));
            assert!(c.priority == 0 || c.priority == 1);
            assert!(!c.name.is_empty() && !c.description.is_empty());
        }
    };
    printers().for_each(|p| check_columns(p.columns));
    check_columns(columns("example.com", "widgets"));
}

#[test]
fn unknown_resources_get_name_and_created_at() {
    let names: Vec<_> = columns("example.com", "widgets")
        .iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Name", "Created At"]);
    let w = json!({"metadata": {"name": "w", "creationTimestamp": "2024-01-02T03:04:05.678Z"}});
    let r = cells("example.com", "widgets", &w, test_now());
    assert_eq!(r, ["w", "2024-01-02T03:04:05Z"].map(Value::from));
}

#[test]
fn rows_fit_columns_for_any_top_level_shape() {
    let mut shapes = vec![
        Value::Null,
        json!(1),
        json!("pod"),
        json!([]),
        json!(true),
        json!({}),
    ];
    // Every sample through every printer: objects of the wrong kind are odd input too.
    shapes.extend(samples().into_iter().map(|(_, _, o)| o));
    for p in printers() {
        for obj in &shapes {
            check(p, obj);
        }
    }
}

#[test]
fn rows_fit_columns_when_any_field_is_odd_or_missing() {
    let odd = odd_values();
    for (group, resource, sample) in samples() {
        let Some(p) = printers().find(|p| p.group == group && p.resource == resource) else {
            panic!("sample without printer: {group}/{resource}");
        };
        let mut all = Vec::new();
        paths(&sample, &mut Vec::new(), &mut all);
        for path in &all {
            for replacement in &odd {
                let mut obj = sample.clone();
                if let Some(s) = slot(&mut obj, path) {
                    *s = replacement.clone();
                }
                check(p, &obj);
            }
            check(p, &without(&sample, path));
        }
    }
}

/// Every key the samples use, so generated objects reach deep into real field paths.
fn vocabulary() -> Vec<String> {
    fn keys(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, c)| {
                out.insert(k.clone());
                keys(c, out);
            }),
            Value::Array(a) => a.iter().for_each(|c| keys(c, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    samples().iter().for_each(|(_, _, o)| keys(o, &mut out));
    out.into_iter().collect()
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let words = vocabulary();
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop::sample::select(vec![
            "",
            "True",
            "False",
            "Always",
            "Running",
            "Ready",
            "ClusterIP",
            "LoadBalancer",
            "NodePort",
            "ExternalName",
            "In",
            "Exists",
            "Resource",
            "Pods",
            "External",
            "2024-05-01T11:00:00Z",
            "2999-01-01T00:00:00Z",
            "garbage",
            "a/b",
            "fd00::1",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 96, 6, move |inner| {
        let keys = prop::sample::select(words.clone());
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_objects_never_break_a_printer(obj in arbitrary_json()) {
        for p in printers() {
            check(p, &obj);
            prop_assert_eq!(cells(p.group, p.resource, &obj, test_now()).len(), p.columns.len());
        }
    }
}
