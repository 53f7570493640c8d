//! What upstream does for the manager `kubectl` alone, to ease the move from client-side
//! apply (the `kubectl.kubernetes.io/last-applied-configuration` annotation) to server-side
//! apply: conflicts with one's own last client-side apply are forced, and the annotation,
//! when present, is kept in step with what is applied.

use serde_json::Value;

use crate::compare::compare;
use crate::fieldset::FieldSet;
use crate::go_json;
use crate::schema::Schema;
use crate::walk::{check_config, field_set, too_deep};

/// The manager name these rules apply to (kubectl's default for `apply --server-side`).
pub(crate) const KUBECTL: &str = "kubectl";

/// The client-side apply annotation.
pub const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Upstream's limit on the total size of an object's annotations (keys plus values).
const MAX_ANNOTATIONS_SIZE: usize = 256 * 1024;

/// The fields of the live object's last-applied configuration whose values the object
/// still has: conflicts on these are the user's own earlier client-side apply, so they are
/// forced. `None` when there is no usable annotation (absent, not a JSON object, another
/// version, or lists without identity).
pub(crate) fn allowed_conflicts(
    live: &Value,
    api_version: &str,
    schema: &dyn Schema,
) -> Option<FieldSet> {
    let text = live
        .pointer("/metadata/annotations")?
        .get(LAST_APPLIED_ANNOTATION)?
        .as_str()
        .filter(|text| !text.is_empty())?;
    let last: Value = serde_json::from_str(text).ok()?;
    let map = last.as_object()?;
    if map.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    if too_deep(&last) || check_config(map, schema).is_err() {
        return None;
    }
    let comparison = compare(&last, live, schema);
    Some(
        field_set(&last, schema)
            .difference(&comparison.modified)
            .difference(&comparison.added)
            .difference(&comparison.removed),
    )
}

/// Rewrites an existing last-applied annotation of `object` to `config` (without the
/// annotation itself), encoded as upstream's unstructured encoder writes it: sorted keys,
/// Go escaping, a final newline. Dropped if it would push the annotations over their size
/// limit, as upstream does.
pub(crate) fn refresh(object: &mut Value, config: &Value) {
    let Some(Value::Object(annotations)) = object.pointer_mut("/metadata/annotations") else {
        return;
    };
    let present = annotations
        .get(LAST_APPLIED_ANNOTATION)
        .and_then(Value::as_str)
        .is_some_and(|text| !text.is_empty());
    if !present {
        return;
    }
    let mut config = config.clone();
    if let Some(Value::Object(config_annotations)) = config.pointer_mut("/metadata/annotations") {
        config_annotations.remove(LAST_APPLIED_ANNOTATION);
    }
    let mut text = go_json::to_string(&config);
    text.push('\n');
    annotations.insert(LAST_APPLIED_ANNOTATION.to_string(), Value::String(text));
    let size: usize = annotations
        .iter()
        .map(|(key, value)| key.len() + value.as_str().map_or(0, str::len))
        .sum();
    if size > MAX_ANNOTATIONS_SIZE {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}
