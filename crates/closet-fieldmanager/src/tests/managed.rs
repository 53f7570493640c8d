//! Ordinary writes ([`update`]) and the `managedFields` list itself.

use serde_json::{Value, json};

use crate::test_util::{T1, T2, T3, apps, deployment, fields_of, schema};
use crate::{
    FieldSet, MAX_UPDATE_MANAGERS, ManagedFields, ManagedFieldsError, Operation, PathElement,
    Request, update,
};

use Operation::Update;

fn web() -> Value {
    deployment(1, json!([{"name": "web", "image": "nginx:1.27"}]))
}

fn created(manager: &str) -> (Value, ManagedFields) {
    let object = web();
    let managed = update(
        None,
        &object,
        &ManagedFields::new(),
        &apps(manager, T1),
        &schema(),
    );
    (object, managed)
}

#[test]
fn create_records_every_field_but_untracked_metadata() {
    let (_, managed) = created("kubectl-create");
    assert_eq!(
        managed.to_value(),
        json!([{
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": FieldSet::from_json(concat!(
                r#"{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"#,
                r#""f:spec":{".":{},"f:replicas":{},"f:selector":{},"f:template":{".":{},"#,
                r#""f:metadata":{".":{},"f:labels":{".":{},"f:app":{}}},"#,
                r#""f:spec":{".":{},"f:containers":{".":{},"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}"#,
            )).unwrap_or_default().to_fields_v1(),
        }])
    );
}

#[test]
fn changed_fields_move_to_the_writer() {
    let schema = schema();
    let (old, managed) = created("kubectl-create");
    let mut new = old.clone();
    new["spec"]["replicas"] = json!(3);
    new["metadata"]["uid"] = json!("abc");
    let after = update(
        Some(&old),
        &new,
        &managed,
        &apps("kubectl-scale", T2),
        &schema,
    );
    assert_eq!(
        fields_of(&after, "kubectl-scale", Update),
        r#"{"f:spec":{"f:replicas":{}}}"#
    );
    assert!(!fields_of(&after, "kubectl-create", Update).contains("f:replicas"));
    assert_eq!(
        after
            .get("kubectl-scale", Update)
            .and_then(|e| e.time.as_deref()),
        Some(T2)
    );
    assert_eq!(
        after
            .get("kubectl-create", Update)
            .and_then(|e| e.time.as_deref()),
        Some(T1)
    );

    // Taking a manager's last field drops its entry.
    let mut again = new.clone();
    again["spec"]["replicas"] = json!(4);
    let last = update(Some(&new), &again, &after, &apps("hpa", T3), &schema);
    assert!(last.get("kubectl-scale", Update).is_none());

    // Removed fields leave their owners.
    let mut removed = new.clone();
    if let Some(Value::Object(labels)) = removed.pointer_mut("/metadata/labels") {
        labels.remove("app");
    }
    let after_removal = update(Some(&new), &removed, &after, &apps("editor", T3), &schema);
    let field = |name: &str| PathElement::Field(name.to_string());
    let create = after_removal.get("kubectl-create", Update).expect("entry");
    assert!(
        !create
            .fields
            .contains(&[field("metadata"), field("labels"), field("app")])
    );
    assert!(
        create
            .fields
            .contains(&[field("metadata"), field("labels")])
    );
    assert!(after_removal.get("editor", Update).is_none());
}

#[test]
fn one_update_entry_per_manager_and_version() {
    let schema = schema();
    let (old, managed) = created("ctl");
    let mut v1 = old.clone();
    v1["spec"]["paused"] = json!(true);
    let first = update(Some(&old), &v1, &managed, &apps("ctl", T2), &schema);
    assert_eq!(first.entries().len(), 1);
    assert!(fields_of(&first, "ctl", Update).contains("f:paused"));
    assert_eq!(first.entries()[0].time.as_deref(), Some(T2));

    let mut v2 = v1.clone();
    v2["spec"]["minReadySeconds"] = json!(5);
    let other_version = Request::new("ctl", "apps/v1beta2", T3);
    let second = update(Some(&v1), &v2, &first, &other_version, &schema);
    let versions: Vec<&str> = second
        .entries()
        .iter()
        .map(|e| e.api_version.as_str())
        .collect();
    assert_eq!(versions, ["apps/v1", "apps/v1beta2"]);

    // A write that changes nothing records nothing.
    let unchanged = update(Some(&v2), &v2, &second, &apps("other", T3), &schema);
    assert_eq!(unchanged, second);
}

#[test]
fn update_entries_are_capped() {
    let schema = schema();
    let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}});
    let mut managed = ManagedFields::new();
    for i in 0..=MAX_UPDATE_MANAGERS {
        let mut next = object.clone();
        next["data"] = json!({});
        next["data"][format!("k{i}")] = json!("v");
        if let Some(Value::Object(data)) = object.get("data") {
            for (k, v) in data {
                next["data"][k] = v.clone();
            }
        }
        let now = format!("2024-05-01T10:{i:02}:00Z");
        managed = update(
            Some(&object),
            &next,
            &managed,
            &Request::new(&format!("m{i}"), "v1", &now),
            &schema,
        );
        object = next;
    }
    assert_eq!(managed.entries().len(), MAX_UPDATE_MANAGERS);
    let bucket = managed.get("ancient-changes", Update).expect("bucket");
    assert_eq!(bucket.time.as_deref(), Some("2024-05-01T10:01:00Z"));
    assert!(bucket.fields.to_json().contains("f:k0"));
    assert!(bucket.fields.to_json().contains("f:k1"));
    assert!(managed.get("m0", Update).is_none() && managed.get("m1", Update).is_none());
    assert!(managed.get("m2", Update).is_some());
}

#[test]
fn existing_objects_without_managed_fields_stay_untracked() {
    let mut old = web();
    old["metadata"]["uid"] = json!("abc");
    let mut new = old.clone();
    new["spec"]["replicas"] = json!(2);
    let managed = update(
        Some(&old),
        &new,
        &ManagedFields::new(),
        &apps("x", T1),
        &schema(),
    );
    assert!(managed.is_empty());
}

#[test]
fn reset_fields_and_subresources() {
    let schema = schema();
    let (old, managed) = created("ctl");
    let mut new = old.clone();
    new["status"] = json!({"replicas": 1});
    new["spec"]["paused"] = json!(true);
    let status = FieldSet::from_json(r#"{"f:status":{}}"#).unwrap_or_default();
    let main = apps("ctl", T2).with_reset_fields(&status);
    let after = update(Some(&old), &new, &managed, &main, &schema);
    assert!(!fields_of(&after, "ctl", Update).contains("status"));

    let sub = apps("kubelet", T3).with_subresource("status");
    let after = update(Some(&old), &new, &managed, &sub, &schema);
    let written = serde_json::to_string(&after.to_value()).unwrap_or_default();
    assert!(written.contains(r#""fieldsV1":{"f:spec":{"f:paused":{}},"f:status":{".":{},"f:replicas":{}}},"subresource":"status"}"#), "{written}");
}

#[test]
fn entries_are_written_in_upstream_order() {
    let entry = |manager: &str, operation: &str, time: Option<&str>| {
        let mut entry = json!({
            "manager": manager, "operation": operation, "apiVersion": "v1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {}},
        });
        if let Some(time) = time {
            entry["time"] = json!(time);
        }
        entry
    };
    let list = json!([
        entry("b", "Update", Some(T1)),
        entry("z", "Update", Some("2024-05-01T09:00:00+00:00")),
        entry("a", "Update", Some(T1)),
        entry("c", "Apply", Some(T3)),
        entry("d", "Apply", None),
    ]);
    let managed = ManagedFields::parse(&list).expect("parse");
    let order: Vec<&str> = managed
        .entries()
        .iter()
        .map(|e| e.manager.as_str())
        .collect();
    assert_eq!(order, ["d", "c", "z", "a", "b"]);
    assert_eq!(
        serde_json::to_string(&managed.to_value()[1]).unwrap_or_default(),
        r#"{"manager":"c","operation":"Apply","apiVersion":"v1","time":"2024-05-01T12:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{}}}"#
    );
    // Same identity twice: the later one wins.
    let twice = json!([
        entry("a", "Update", Some(T1)),
        entry("a", "Update", Some(T2))
    ]);
    let managed = ManagedFields::parse(&twice).expect("parse");
    assert_eq!(managed.entries().len(), 1);
    assert_eq!(managed.entries()[0].time.as_deref(), Some(T2));
}

#[test]
fn garbage_is_refused_strictly_and_reset_leniently() {
    let bad = [
        (json!({}), ManagedFieldsError::NotAList),
        (
            json!([1]),
            ManagedFieldsError::Malformed {
                index: 0,
                message: "not an object".into(),
            },
        ),
        (
            json!([{"operation": "Delete", "apiVersion": "v1", "fieldsType": "FieldsV1"}]),
            ManagedFieldsError::Operation { index: 0 },
        ),
        (
            json!([{"operation": "Apply", "fieldsType": "FieldsV1"}]),
            ManagedFieldsError::ApiVersion { index: 0 },
        ),
        (
            json!([{"operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV2"}]),
            ManagedFieldsError::FieldsType {
                index: 0,
                found: "FieldsV2".into(),
            },
        ),
    ];
    for (value, expected) in bad {
        assert_eq!(ManagedFields::parse(&value), Err(expected));
        let object = json!({"metadata": {"managedFields": value}});
        assert!(ManagedFields::from_object(&object).is_empty());
    }
    let bad_fields = json!([{"operation": "Apply", "apiVersion": "v1", "fieldsType": "FieldsV1",
                             "fieldsV1": {"f:a": 7}}]);
    assert!(matches!(
        ManagedFields::parse(&bad_fields),
        Err(ManagedFieldsError::Fields { index: 0, .. })
    ));
}

#[test]
fn writes_start_from_what_the_client_sent() {
    let (object, managed) = created("ctl");
    let mut live = object.clone();
    managed.write_to(&mut live);
    let with = |list: Value| {
        let mut new = object.clone();
        new["metadata"]["managedFields"] = list;
        new
    };
    // Nothing sent, or garbage: the live object's.
    assert_eq!(
        ManagedFields::for_write(Some(&live), &object, false),
        managed
    );
    assert_eq!(
        ManagedFields::for_write(Some(&live), &with(json!("x")), false),
        managed
    );
    assert_eq!(
        ManagedFields::for_write(Some(&live), &with(json!([{"operation": "?"}])), false),
        managed
    );
    // A reset.
    assert!(ManagedFields::for_write(Some(&live), &with(json!([])), false).is_empty());
    assert!(ManagedFields::for_write(Some(&live), &with(json!([{}])), false).is_empty());
    // Something valid: taken as sent, except through a subresource.
    let sent = json!([{"manager": "m", "operation": "Update", "apiVersion": "apps/v1",
                       "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]);
    let taken = ManagedFields::for_write(Some(&live), &with(sent.clone()), false);
    assert_eq!(taken.to_value(), sent);
    assert_eq!(
        ManagedFields::for_write(Some(&live), &with(sent), true),
        managed
    );
    assert!(ManagedFields::for_write(None, &object, false).is_empty());

    // Writing none removes the list.
    ManagedFields::new().write_to(&mut live);
    assert!(live["metadata"].get("managedFields").is_none());
}
