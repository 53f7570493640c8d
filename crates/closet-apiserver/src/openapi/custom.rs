//! Schemas of custom resources, from their CustomResourceDefinitions' `openAPIV3Schema`, so
//! `kubectl explain` works for them as for built-in kinds.

use serde_json::{Map, Value, json};

use super::{META, schema_ref};
use crate::registry::ResourceInfo;

/// Upstream's name for a custom resource's schema: the group reversed, as a Java package.
pub(super) fn custom_name(group: &str, version: &str, kind: &str) -> String {
    let group: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", group.join("."))
}

/// Adds a custom resource's schema (and its list's) from its CRD, with the parts a CRD leaves
/// out: `apiVersion`, `kind`, `metadata` as ObjectMeta, and the group-version-kind.
pub(super) fn custom_schemas(info: &ResourceInfo, out: &mut Map<String, Value>) {
    let Some(Value::Object(schema)) = info.custom.as_ref().and_then(|c| c.schema.clone()) else {
        return;
    };
    let name = custom_name(&info.group, &info.version, &info.kind);
    let type_meta = json!({
        "apiVersion": {"description": "The versioned schema of this representation of an object.", "type": "string"},
        "kind": {"description": "The REST resource this object represents, in CamelCase.", "type": "string"},
    });
    let mut schema = schema;
    let properties = schema
        .entry("properties")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(properties) = properties {
        for (field, field_schema) in type_meta.as_object().into_iter().flatten() {
            properties
                .entry(field.clone())
                .or_insert_with(|| field_schema.clone());
        }
        properties.insert(
            "metadata".to_string(),
            json!({"description": "Standard object's metadata.", "allOf": [schema_ref(&format!("{META}.ObjectMeta"))]}),
        );
    }
    schema.insert("type".to_string(), json!("object"));
    schema.insert(
        "x-kubernetes-group-version-kind".to_string(),
        json!([{"group": info.group, "kind": info.kind, "version": info.version}]),
    );
    let list = json!({
        "description": format!("{} is a list of {}.", info.list_kind(), info.kind),
        "type": "object",
        "properties": {
            "apiVersion": type_meta["apiVersion"],
            "items": {"description": format!("The {} objects of the list.", info.kind), "type": "array", "items": schema_ref(&name)},
            "kind": type_meta["kind"],
            "metadata": {"description": "Standard list metadata.", "allOf": [schema_ref(&format!("{META}.ListMeta"))]},
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [{"group": info.group, "kind": info.list_kind(), "version": info.version}],
    });
    out.insert(format!("{name}List"), list);
    out.insert(name, Value::Object(schema));
}
