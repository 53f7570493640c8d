//! Turning k8s-openapi's schemars output into the component schemas of an OpenAPI v3 document.
//!
//! schemars (with its OpenAPI 3.0 settings) already gives what kubectl's parser reads for most
//! of a document: definitions named like `io.k8s.api.core.v1.Pod`, `$ref`s to
//! `#/components/schemas/<name>`, and a described `$ref` wrapped in `allOf` as upstream does.
//! What it cannot know is added here: the group-version-kind of each kind, the merge metadata
//! of [`crate::markers`], and upstream's shape of the two scalar unions.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::kinds::{self, GroupVersion};
use crate::markers;

/// Every schema reachable from the kinds of `gv`, enriched, sorted by name.
pub(crate) fn generate(gv: &GroupVersion) -> Map<String, Value> {
    let mut generator = SchemaSettings::openapi3().into_generator();
    for kind in kinds::document_kinds(gv) {
        (kind.schema)(&mut generator);
    }
    let mut definitions: Vec<(String, Value)> =
        generator.take_definitions(true).into_iter().collect();
    definitions.sort_by(|a, b| a.0.cmp(&b.0));
    let mut schemas: Map<String, Value> = definitions
        .into_iter()
        .map(|(name, mut schema)| {
            scalar_union(&name, &mut schema);
            metadata_optional(&mut schema);
            (name, schema)
        })
        .collect();
    for kind in kinds::document_kinds(gv).filter(|k| k.tagged) {
        if let Some(Value::Object(schema)) = schemas.get_mut((kind.name)().as_ref()) {
            schema.insert(
                "x-kubernetes-group-version-kind".to_string(),
                json!([{"group": kind.group, "kind": kind.kind, "version": kind.version}]),
            );
        }
    }
    markers::apply(&mut schemas);
    schemas
}

/// ObjectMeta, ListMeta, Status and DeleteOptions with what they reference: what a document of
/// custom resources needs besides the resources' own schemas.
pub(crate) fn meta() -> Map<String, Value> {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
    let mut generator = SchemaSettings::openapi3().into_generator();
    generator.subschema_for::<meta::ObjectMeta>();
    generator.subschema_for::<meta::ListMeta>();
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::DeleteOptions>();
    let mut definitions: Vec<(String, Value)> =
        generator.take_definitions(true).into_iter().collect();
    definitions.sort_by(|a, b| a.0.cmp(&b.0));
    let mut schemas: Map<String, Value> = definitions
        .into_iter()
        .map(|(name, mut schema)| {
            metadata_optional(&mut schema);
            (name, schema)
        })
        .collect();
    markers::apply(&mut schemas);
    schemas
}

/// k8s-openapi makes `metadata` a required field of every kind (its Rust field is not an
/// `Option`), but upstream's types declare it `omitempty` and its schemas never require it;
/// `kubectl explain` would print `-required-` beside it.
fn metadata_optional(schema: &mut Value) {
    let Value::Object(schema) = schema else {
        return;
    };
    if let Some(Value::Array(required)) = schema.get_mut("required") {
        required.retain(|field| field != "metadata");
        if required.is_empty() {
            schema.remove("required");
        }
    }
}

/// IntOrString and Quantity take upstream's OpenAPI v3 shape, a `oneOf` of scalar types.
/// schemars gives both only `x-kubernetes-int-or-string`, which kubectl's explain would show as
/// an object; IntOrString keeps the extension (structural schemas and CRD tooling read it),
/// Quantity drops it because a quantity may also be a JSON number.
fn scalar_union(name: &str, schema: &mut Value) {
    let Value::Object(schema) = schema else {
        return;
    };
    match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => {
            schema.insert("format".to_string(), json!("int-or-string"));
            schema.insert(
                "oneOf".to_string(),
                json!([{"type": "integer"}, {"type": "string"}]),
            );
        }
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            schema.remove("x-kubernetes-int-or-string");
            schema.insert(
                "oneOf".to_string(),
                json!([{"type": "string"}, {"type": "number"}]),
            );
        }
        // Any JSON value (a CRD schema's `default`, `enum`, `example`), not only objects.
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON" => {
            schema.remove("type");
        }
        _ => {}
    }
}
