//! The directive keys of a strategic merge patch and how a patch map splits into
//! directives and ordinary fields.

use serde_json::{Map, Value};

use crate::error::PatchError;
use crate::path::Path;
use crate::value::canonical;

/// `$patch: replace|delete|merge`, on a map or as a list element.
pub(crate) const MARKER: &str = "$patch";
/// `$retainKeys: [...]`, on a map.
pub(crate) const RETAIN_KEYS: &str = "$retainKeys";
/// `$setElementOrder/<list>: [...]`, beside a list.
pub(crate) const SET_ELEMENT_ORDER: &str = "$setElementOrder";
/// `$deleteFromPrimitiveList/<list>: [...]`, beside a list of primitives.
pub(crate) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// The value of a `$patch` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    Replace,
    Delete,
    Merge,
}

impl Marker {
    pub(crate) fn parse(value: &Value, path: &Path<'_>) -> Result<Marker, PatchError> {
        match value.as_str() {
            Some("replace") => Ok(Marker::Replace),
            Some("delete") => Ok(Marker::Delete),
            Some("merge") => Ok(Marker::Merge),
            _ => Err(PatchError::UnknownDirective {
                path: path.render(),
                value: shorten(canonical(value)),
            }),
        }
    }
}

/// Whether `value` is an object carrying a `$patch` directive.
pub(crate) fn has_marker(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|map| map.contains_key(MARKER))
}

/// Whether `value` is a `{"<key>": v, "$patch": "delete"}` list element.
pub(crate) fn is_delete_element(value: &Value) -> bool {
    value
        .as_object()
        .and_then(|map| map.get(MARKER))
        .is_some_and(|marker| marker.as_str() == Some("delete"))
}

pub(crate) fn order_key(field: &str) -> String {
    format!("{SET_ELEMENT_ORDER}/{field}")
}

pub(crate) fn delete_key(field: &str) -> String {
    format!("{DELETE_FROM_PRIMITIVE_LIST}/{field}")
}

fn shorten(mut text: String) -> String {
    const LIMIT: usize = 64;
    if text.len() > LIMIT {
        let mut cut = LIMIT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// A patch map taken apart: its directives, and its ordinary fields in patch order.
pub(crate) struct SplitPatch {
    pub(crate) marker: Option<Value>,
    pub(crate) retain_keys: Option<Value>,
    /// `(list field, order)` for each `$setElementOrder/<list field>`.
    pub(crate) orders: Vec<(String, Value)>,
    /// `(list field, values)` for each `$deleteFromPrimitiveList/<list field>`.
    pub(crate) deletes: Vec<(String, Value)>,
    pub(crate) fields: Map<String, Value>,
}

impl SplitPatch {
    pub(crate) fn new(patch: Map<String, Value>, path: &Path<'_>) -> Result<Self, PatchError> {
        let mut split = SplitPatch {
            marker: None,
            retain_keys: None,
            orders: Vec::new(),
            deletes: Vec::new(),
            fields: Map::new(),
        };
        for (key, value) in patch {
            if key == MARKER {
                split.marker = Some(value);
            } else if key == RETAIN_KEYS {
                split.retain_keys = Some(value);
            } else if let Some(rest) = key.strip_prefix(SET_ELEMENT_ORDER) {
                let field = list_field(rest, &key, path)?;
                split.orders.push((field, value));
            } else if let Some(rest) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
                let field = list_field(rest, &key, path)?;
                split.deletes.push((field, value));
            } else {
                split.fields.insert(key, value);
            }
        }
        Ok(split)
    }

    /// The patch map again, without its `$patch` marker.
    pub(crate) fn into_map(self) -> Map<String, Value> {
        let mut map = Map::new();
        if let Some(retain) = self.retain_keys {
            map.insert(RETAIN_KEYS.to_owned(), retain);
        }
        for (field, order) in self.orders {
            map.insert(order_key(&field), order);
        }
        for (field, values) in self.deletes {
            map.insert(delete_key(&field), values);
        }
        map.extend(self.fields);
        map
    }
}

/// The list field named after the `/` of a parallel-list directive key.
fn list_field(rest: &str, key: &str, path: &Path<'_>) -> Result<String, PatchError> {
    match rest.strip_prefix('/') {
        Some(field) => Ok(field.to_owned()),
        None => Err(PatchError::MalformedDirective {
            path: path.render(),
            directive: key.to_owned(),
            expected: "a key of the form <directive>/<list field>",
        }),
    }
}
