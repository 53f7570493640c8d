//! Merge metadata of the built-in types: what upstream declares with `patchStrategy` /
//! `patchMergeKey` struct tags and `+listType` / `+listMapKey` / `+mapType` / `+structType`
//! markers in the k8s.io/api, k8s.io/apimachinery and apiextensions-apiserver types of 1.35.
//! k8s-openapi's schemas carry none of it, and its generated merge strategies differ from
//! upstream in places (it merges `JobStatus.conditions` and `StatefulSetSpec.volumeClaimTemplates`
//! by key, where upstream declares them atomic for server-side apply), so the facts are recorded
//! in a flat table (`table.rs`), one definition at a time, covering every definition the built-in
//! documents reach. A test checks that each row names an existing property.
//!
//! Only fields with a marker appear. A list with no row has no patch strategy (strategic merge
//! patch replaces it) and no list type (server-side apply treats it as atomic).

mod table;

use serde_json::{Map, Value, json};

pub(crate) use table::{ATOMIC_STRUCTS, FIELDS};

/// Server-side apply semantics of a list (`x-kubernetes-list-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListMarker {
    /// Replaced whole.
    Atomic,
    /// A set of scalars.
    Set,
    /// A map keyed by these fields of its elements (`x-kubernetes-list-map-keys`).
    Map(&'static [&'static str]),
}

/// The markers of one field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Marks {
    /// `x-kubernetes-patch-strategy`: `merge`, `retainKeys`, `merge,retainKeys` or `replace`.
    pub(crate) strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`.
    pub(crate) merge_key: Option<&'static str>,
    /// `x-kubernetes-list-type` and `x-kubernetes-list-map-keys`.
    pub(crate) list: Option<ListMarker>,
    /// `x-kubernetes-map-type` on a map or struct field: `atomic` or `granular`.
    pub(crate) map_type: Option<&'static str>,
}

/// The markers of `field` in `definition`.
pub(crate) fn marks(definition: &str, field: &str) -> Option<&'static Marks> {
    FIELDS
        .iter()
        .find(|(d, _)| *d == definition)
        .and_then(|(_, fields)| fields.iter().find(|(f, _)| *f == field))
        .map(|(_, m)| m)
}

/// Writes the markers into `schemas` as the `x-kubernetes-*` extensions kubectl reads.
pub(crate) fn apply(schemas: &mut Map<String, Value>) {
    for (definition, fields) in FIELDS {
        let Some(properties) = schemas
            .get_mut(*definition)
            .and_then(|d| d.get_mut("properties"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for (field, marks) in *fields {
            if let Some(Value::Object(property)) = properties.get_mut(*field) {
                extend(property, marks);
            }
        }
    }
    for definition in ATOMIC_STRUCTS {
        if let Some(Value::Object(schema)) = schemas.get_mut(*definition) {
            schema.insert("x-kubernetes-map-type".to_string(), json!("atomic"));
        }
    }
}

fn extend(property: &mut Map<String, Value>, marks: &Marks) {
    let mut put = |key: &str, value: Value| property.insert(key.to_string(), value);
    if let Some(strategy) = marks.strategy {
        put("x-kubernetes-patch-strategy", json!(strategy));
    }
    if let Some(key) = marks.merge_key {
        put("x-kubernetes-patch-merge-key", json!(key));
    }
    match marks.list {
        Some(ListMarker::Atomic) => {
            put("x-kubernetes-list-type", json!("atomic"));
        }
        Some(ListMarker::Set) => {
            put("x-kubernetes-list-type", json!("set"));
        }
        Some(ListMarker::Map(keys)) => {
            put("x-kubernetes-list-type", json!("map"));
            put("x-kubernetes-list-map-keys", json!(keys));
        }
        None => {}
    }
    if let Some(kind) = marks.map_type {
        put("x-kubernetes-map-type", json!(kind));
    }
}
