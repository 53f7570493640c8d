//! Schemas of list kinds (`PodList`, ...). k8s-openapi models every list as the generic
//! `List<T>`, which has no schema of its own, so the list schema is assembled here in the shape
//! upstream documents use: `apiVersion`, `items`, `kind`, `metadata`, with `items` required.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Value, json};

/// `io.k8s.api.core.v1.PodList` for `Pod`.
pub(crate) fn name<T: JsonSchema>() -> Cow<'static, str> {
    Cow::Owned(format!("{}List", T::schema_name()))
}

/// Adds the list schema of `T` to the generator's definitions and returns a reference to it.
pub(crate) fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    let item = generator.subschema_for::<T>();
    let list_meta = generator.subschema_for::<ListMeta>();
    let item_name = T::schema_name();
    let kind = item_name.rsplit('.').next().unwrap_or_default();
    // The type-meta descriptions are the item's own, so the list reads like its kind.
    let type_meta = |field: &str| {
        generator
            .definitions()
            .get(item_name.as_ref())
            .and_then(|d| d.get("properties"))
            .and_then(|p| p.get(field))
            .cloned()
            .unwrap_or_else(|| json!({"type": "string"}))
    };
    let definition = json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": type_meta("apiVersion"),
            "items": {
                "description": format!("The {kind} objects of the list."),
                "type": "array",
                "items": Value::from(item),
            },
            "kind": type_meta("kind"),
            "metadata": {
                "description": "Standard list metadata: resourceVersion and continue token.",
                "allOf": [Value::from(list_meta)],
            },
        },
        "required": ["items"],
    });
    let name = name::<T>().into_owned();
    let reference = json!({"$ref": format!("#/components/schemas/{name}")});
    generator.definitions_mut().insert(name, definition);
    Schema::try_from(reference).unwrap_or_default()
}
