//! Small helpers over `serde_json::Value`: JSON types, identities, ordering, depth.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::error::{Document, PatchError};
use crate::path::Path;

/// The JSON type of a value. Upstream compares Go types, which differ only in also telling
/// integers from floats; both are `Number` here, which changes no outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    List,
    Object,
}

impl Kind {
    pub(crate) fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::List,
            Value::Object(_) => Kind::Object,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "boolean",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::List => "list",
            Kind::Object => "object",
        }
    }
}

/// The JSON type name of `value`, for error messages.
pub(crate) fn kind_name(value: &Value) -> &'static str {
    Kind::of(value).name()
}

/// The one element type shared by every element of `lists`, `None` when all are empty.
pub(crate) fn element_kind(
    lists: &[&[Value]],
    path: &Path<'_>,
) -> Result<Option<Kind>, PatchError> {
    let mut found = None;
    for value in lists.iter().flat_map(|list| list.iter()) {
        let kind = Kind::of(value);
        match found {
            None if kind == Kind::List => {
                return Err(PatchError::ListOfLists {
                    path: path.render(),
                });
            }
            None => found = Some(kind),
            Some(seen) if seen != kind => {
                return Err(PatchError::MixedElementTypes {
                    path: path.render(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(found)
}

/// A string that two values share exactly when they are equal: compact JSON with object
/// keys sorted. Used to hash merge-key values and set elements.
pub(crate) fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(list) => {
            out.push('[');
            for (i, item) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The text upstream sorts scalars and merge-key values by (Go's `%v`): strings bare,
/// numbers and booleans as written, null as `<nil>`. It decides the order of deletion
/// lists and `$retainKeys` in computed patches.
pub(crate) fn sort_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => Cow::Borrowed(text),
        Value::Null => Cow::Borrowed("<nil>"),
        Value::Bool(_) | Value::Number(_) => Cow::Owned(value.to_string()),
        Value::Array(_) | Value::Object(_) => Cow::Owned(canonical(value)),
    }
}

/// Whether `value` nests objects and lists deeper than `max` levels (a top-level object
/// is one level). Iterative, so hostile input cannot overflow the stack here.
pub(crate) fn deeper_than(value: &Value, max: usize) -> bool {
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(list) => Box::new(list.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth > max {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// `value` as an object no deeper than [`crate::MAX_DEPTH`], or the error for `document`.
pub(crate) fn checked_object(
    value: &Value,
    document: Document,
) -> Result<&Map<String, Value>, PatchError> {
    let Value::Object(map) = value else {
        return Err(PatchError::NotAnObject {
            document,
            found: kind_name(value),
        });
    };
    if deeper_than(value, crate::MAX_DEPTH) {
        return Err(PatchError::TooDeep {
            document,
            max: crate::MAX_DEPTH,
        });
    }
    Ok(map)
}

/// `value` with every object's keys in byte order, as Go's encoder writes maps; computed
/// patches are sorted so that they match kubectl's bodies byte for byte.
pub(crate) fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(list) => Value::Array(list.into_iter().map(sort_keys).collect()),
        scalar => scalar,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn canonical_ignores_key_order() {
        assert_eq!(
            canonical(&json!({"b": 1, "a": [true, null]})),
            r#"{"a":[true,null],"b":1}"#
        );
        assert_eq!(
            canonical(&json!({"a": 1, "b": 2})),
            canonical(&json!({"b": 2, "a": 1}))
        );
        assert_ne!(canonical(&json!("1")), canonical(&json!(1)));
    }

    #[test]
    fn depth_counts_containers() {
        assert!(!deeper_than(&json!({"a": {"b": 1}}), 2));
        assert!(deeper_than(&json!({"a": {"b": {}}}), 2));
        assert!(!deeper_than(&json!({"a": [1, 2]}), 2));
        assert!(deeper_than(&json!({"a": [[1]]}), 2));
    }
}
