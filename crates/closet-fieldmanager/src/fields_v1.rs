//! FieldsV1, the JSON form of a [`FieldSet`] (`metadata.managedFields[].fieldsV1`).
//!
//! Each key is a serialized path element and each value the set below it; a path that is
//! both a member and has members below it carries `".": {}`. Keys are written in path
//! element order (fields, keys, values, indices), `"."` first, and the JSON text is
//! json-iterator's (`<` as `\u003c`...), so [`FieldSet::to_json`] reproduces upstream's
//! bytes.

use serde_json::{Map, Value};

use crate::MAX_DEPTH;
use crate::fieldset::FieldSet;
use crate::go_json;
use crate::path::{ElementError, PathElement};

/// Why a FieldsV1 document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldsError {
    /// The text is not JSON.
    #[error("fieldsV1 is not valid json: {0}")]
    Json(String),
    /// A node is not an object (or null).
    #[error("fieldsV1 node at {path:?} is not an object")]
    NotAnObject {
        /// The keys leading to the node, joined with `/`.
        path: String,
    },
    /// A key is not a valid path element.
    #[error("invalid fieldsV1 key at {path:?}: {reason}")]
    InvalidKey {
        /// The keys leading to the node holding the key, joined with `/`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The document, or the object a set is taken from, nests deeper than
    /// [`MAX_DEPTH`](crate::MAX_DEPTH).
    #[error("input nests deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
}

impl FieldSet {
    /// Reads a FieldsV1 value as upstream does: keys of unknown element types (not `f:`,
    /// `k:`, `v:` or `i:`) are dropped, `null` reads as `{}`, and a node holding only `"."`
    /// or only dropped keys is a plain member.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, FieldsError> {
        if value.is_null() {
            return Ok(FieldSet::new());
        }
        let mut keys = Vec::new();
        let (children, _) = read(value, &mut keys)?;
        Ok(children.unwrap_or_default())
    }

    /// Parses FieldsV1 JSON text.
    pub fn from_json(text: &str) -> Result<FieldSet, FieldsError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| FieldsError::Json(e.to_string()))?;
        FieldSet::from_fields_v1(&value)
    }

    /// The FieldsV1 value, keys in upstream's order (the workspace's serde_json keeps
    /// insertion order, so serializing it keeps them).
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit_value(false))
    }

    /// The FieldsV1 JSON text, byte for byte as upstream writes it.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.emit_text(false, &mut out);
        out
    }

    /// Walks members and children together in element order; `f` gets each element with
    /// its children, if any.
    fn for_each_entry<'a>(&'a self, mut f: impl FnMut(&'a PathElement, Option<&'a FieldSet>)) {
        let mut members = self.members.iter().peekable();
        let mut children = self.children.iter().peekable();
        loop {
            match (members.peek(), children.peek()) {
                (Some(m), Some((c, set))) => match (*m).cmp(c) {
                    std::cmp::Ordering::Less => {
                        f(m, None);
                        members.next();
                    }
                    std::cmp::Ordering::Greater => {
                        f(c, Some(set));
                        children.next();
                    }
                    std::cmp::Ordering::Equal => {
                        // Both a member and a parent: the child set carries ".".
                        f(c, Some(set));
                        members.next();
                        children.next();
                    }
                },
                (Some(m), None) => {
                    f(m, None);
                    members.next();
                }
                (None, Some((c, set))) => {
                    f(c, Some(set));
                    children.next();
                }
                (None, None) => break,
            }
        }
    }

    fn emit_value(&self, with_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if with_self {
            out.insert(".".to_string(), Value::Object(Map::new()));
        }
        self.for_each_entry(|element, child| {
            let value = match child {
                Some(set) => set.emit_value(self.members.contains(element)),
                None => Map::new(),
            };
            out.insert(element.serialize(), Value::Object(value));
        });
        out
    }

    fn emit_text(&self, with_self: bool, out: &mut String) {
        out.push('{');
        let mut first = true;
        if with_self {
            out.push_str("\".\":{}");
            first = false;
        }
        self.for_each_entry(|element, child| {
            if !first {
                out.push(',');
            }
            first = false;
            go_json::write_string(out, &element.serialize());
            out.push(':');
            match child {
                Some(set) => set.emit_text(self.members.contains(element), out),
                None => out.push_str("{}"),
            }
        });
        out.push('}');
    }
}

/// Reads one node: the set below it (`None` when nothing is), and whether the node itself
/// is a member. Mirrors upstream's `readIterV1`.
fn read(value: &Value, keys: &mut Vec<String>) -> Result<(Option<FieldSet>, bool), FieldsError> {
    if keys.len() >= MAX_DEPTH {
        return Err(FieldsError::TooDeep { max: MAX_DEPTH });
    }
    let map = match value {
        Value::Object(map) => map,
        Value::Null => return Ok((None, true)),
        _ => {
            return Err(FieldsError::NotAnObject {
                path: keys.join("/"),
            });
        }
    };
    let mut children: Option<FieldSet> = None;
    let mut is_member = false;
    for (key, child) in map {
        if key == "." {
            is_member = true;
            continue;
        }
        let element = match PathElement::parse(key) {
            Ok(element) => element,
            // A later version may know these; upstream drops them rather than keep what it
            // does not understand.
            Err(ElementError::UnknownType) => continue,
            Err(ElementError::Invalid(reason)) => {
                return Err(FieldsError::InvalidKey {
                    path: keys.join("/"),
                    reason,
                });
            }
        };
        keys.push(key.clone());
        let (grandchildren, child_is_member) = read(child, keys)?;
        keys.pop();
        if child_is_member {
            children
                .get_or_insert_with(FieldSet::new)
                .members
                .insert(element.clone());
        }
        if let Some(grandchildren) = grandchildren {
            children
                .get_or_insert_with(FieldSet::new)
                .children
                .insert(element, grandchildren);
        }
    }
    if children.is_none() {
        is_member = true;
    }
    Ok((children, is_member))
}
