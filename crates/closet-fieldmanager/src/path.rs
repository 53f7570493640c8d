//! Path elements and paths: how one field is named inside a field set, in FieldsV1 keys
//! (`f:spec`, `k:{"name":"web"}`, `v:"a"`) and in conflict messages (`.spec`,
//! `[name="web"]`, `[="a"]`).

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value};

use crate::go_json;

/// One step of a path: which child of an object or list.
///
/// Ordered as upstream orders them (fields, then keys, then values, then indices; values
/// by type, then numerically or byte-wise), which is the order FieldsV1 keys are written in.
/// Numbers compare numerically, so `1` and `1.0` are the same element.
#[derive(Debug, Clone)]
pub enum PathElement {
    /// A field of an object, or a key of a map (`f:spec`).
    Field(String),
    /// The element of a [`ListType::Map`](crate::ListType::Map) list with these key fields,
    /// sorted by name (`k:{"name":"web"}`).
    Key(Vec<(String, Value)>),
    /// The element of a [`ListType::Set`](crate::ListType::Set) list with this value
    /// (`v:"a"`).
    Value(Value),
    /// A list index (`i:0`). Read for compatibility; upstream never writes it.
    Index(i64),
}

/// Why a FieldsV1 key is not a path element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ElementError {
    /// A prefix other than `f:`, `k:`, `v:` or `i:`; upstream drops such keys.
    UnknownType,
    /// A known prefix with unreadable content.
    Invalid(String),
}

impl PathElement {
    /// Parses a FieldsV1 key such as `f:spec` or `k:{"name":"web"}`.
    pub(crate) fn parse(key: &str) -> Result<Self, ElementError> {
        let bytes = key.as_bytes();
        if bytes.len() < 2 {
            return Err(ElementError::Invalid(format!(
                "key {key:?} must be at least 2 characters long"
            )));
        }
        if bytes[1] != b':' {
            return Err(ElementError::Invalid(format!(
                "missing colon in key {key:?}"
            )));
        }
        // Byte 1 is an ASCII colon, so byte 0 is ASCII too and slicing at 2 is on a boundary.
        let content = &key[2..];
        match bytes[0] {
            b'f' => Ok(PathElement::Field(content.to_string())),
            b'v' => serde_json::from_str(content)
                .map(PathElement::Value)
                .map_err(|e| ElementError::Invalid(format!("invalid value in key {key:?}: {e}"))),
            b'k' => match serde_json::from_str::<Value>(content) {
                Ok(Value::Object(fields)) => Ok(PathElement::key(fields)),
                Ok(_) => Err(ElementError::Invalid(format!(
                    "key {key:?} is not an object"
                ))),
                Err(e) => Err(ElementError::Invalid(format!("invalid key {key:?}: {e}"))),
            },
            b'i' => content
                .parse()
                .map(PathElement::Index)
                .map_err(|e| ElementError::Invalid(format!("invalid index in key {key:?}: {e}"))),
            _ => Err(ElementError::UnknownType),
        }
    }

    /// A key element from the key fields of a list-map element.
    pub(crate) fn key(fields: Map<String, Value>) -> Self {
        let mut fields: Vec<(String, Value)> = fields.into_iter().collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    /// The FieldsV1 key of this element, byte for byte as upstream writes it.
    pub(crate) fn serialize(&self) -> String {
        let mut out = String::new();
        match self {
            PathElement::Field(name) => {
                out.push_str("f:");
                out.push_str(name);
            }
            PathElement::Key(fields) => {
                out.push_str("k:{");
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    go_json::write_string(&mut out, name);
                    out.push(':');
                    go_json::write_value(&mut out, value);
                }
                out.push('}');
            }
            PathElement::Value(value) => {
                out.push_str("v:");
                go_json::write_value(&mut out, value);
            }
            PathElement::Index(index) => {
                out.push_str("i:");
                out.push_str(&index.to_string());
            }
        }
        out
    }

    fn rank(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((an, av), (bn, bv)) in a.iter().zip(b) {
                    let c = an.cmp(bn).then_with(|| compare_values(av, bv));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                f.write_str("[")?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}={}", value_text(value))?;
                }
                f.write_str("]")
            }
            PathElement::Value(value) => write!(f, "[={}]", value_text(value)),
            PathElement::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// A path from the root of an object to one field, e.g. `.spec.containers[name="web"].image`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Path(Vec<PathElement>);

impl Path {
    /// A path of these elements.
    pub fn new(elements: Vec<PathElement>) -> Self {
        Path(elements)
    }

    /// The elements, from the root.
    pub fn elements(&self) -> &[PathElement] {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|element| write!(f, "{element}"))
    }
}

/// A value as upstream prints it in a path: strings quoted, maps as `k=v` run together.
fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if n.is_f64() => go_json::float_v(f),
            _ => n.to_string(),
        },
        Value::String(s) => go_json::quote(s),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(value_text).collect();
            format!("[{}]", items.join(","))
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            keys.into_iter()
                .map(|k| format!("{k}={}", value_text(&map[k])))
                .collect()
        }
    }
}

// === value order and equality ===

/// A number as upstream sees it: an integer when it fits an int64, a float otherwise.
enum Num {
    Int(i64),
    Float(f64),
}

fn num(value: &Value) -> Option<Num> {
    let n = value.as_number()?;
    Some(match n.as_i64() {
        Some(i) if !n.is_f64() => Num::Int(i),
        _ => Num::Float(n.as_f64().unwrap_or(0.0)),
    })
}

/// Upstream's total order of values: numbers (compared numerically, ints and floats alike),
/// then strings, booleans, lists, maps, and null last.
pub(crate) fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn class(v: &Value) -> u8 {
        match v {
            Value::Number(_) => 0,
            Value::String(_) => 1,
            Value::Bool(_) => 2,
            Value::Array(_) => 3,
            Value::Object(_) => 4,
            Value::Null => 5,
        }
    }
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => match (num(a), num(b)) {
            (Some(Num::Int(x)), Some(Num::Int(y))) => x.cmp(&y),
            (Some(x), Some(y)) => float(&x).partial_cmp(&float(&y)).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (l, r) in x.iter().zip(y) {
                let c = compare_values(l, r);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => compare_maps(x, y),
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => class(a).cmp(&class(b)),
    }
}

fn float(n: &Num) -> f64 {
    match n {
        Num::Int(i) => *i as f64,
        Num::Float(f) => *f,
    }
}

/// Upstream's map order, quirks included: walks the union of keys in byte order and
/// compares the position against each map's length before looking at the values.
fn compare_maps(a: &Map<String, Value>, b: &Map<String, Value>) -> Ordering {
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    for (i, key) in keys.into_iter().enumerate() {
        let c = if i == a.len() {
            Ordering::Less
        } else if i == b.len() {
            Ordering::Greater
        } else {
            match (a.get(key), b.get(key)) {
                (None, _) => Ordering::Greater,
                (_, None) => Ordering::Less,
                (Some(x), Some(y)) => compare_values(x, y),
            }
        };
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

/// Whether two values are equal as upstream compares them (numbers numerically, maps
/// regardless of key order).
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare_values(a, b) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(l, r)| values_equal(l, r))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn elements_order_like_upstream() {
        let mut elements = [
            PathElement::Index(0),
            PathElement::Value(json!("a")),
            PathElement::Value(json!(2)),
            PathElement::key(
                json!({"name": "b"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            PathElement::Field("b".into()),
            PathElement::Field("a".into()),
        ];
        elements.sort();
        let keys: Vec<String> = elements.iter().map(PathElement::serialize).collect();
        assert_eq!(
            keys,
            ["f:a", "f:b", r#"k:{"name":"b"}"#, "v:2", r#"v:"a""#, "i:0"]
        );
    }

    #[test]
    fn numbers_compare_numerically() {
        assert!(values_equal(&json!(1), &json!(1.0)));
        assert_eq!(PathElement::Value(json!(1)), PathElement::Value(json!(1.0)));
        assert_eq!(compare_values(&json!(2), &json!(1.5)), Ordering::Greater);
    }

    #[test]
    fn display_like_upstream() {
        let path = Path::new(vec![
            PathElement::Field("spec".into()),
            PathElement::key(
                json!({"protocol": "TCP", "containerPort": 80})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            PathElement::Value(json!("x")),
        ]);
        assert_eq!(
            path.to_string(),
            r#".spec[containerPort=80,protocol="TCP"][="x"]"#
        );
    }

    #[test]
    fn parse_rejects_and_drops() {
        assert_eq!(PathElement::parse("x:1"), Err(ElementError::UnknownType));
        assert!(matches!(
            PathElement::parse("f"),
            Err(ElementError::Invalid(_))
        ));
        assert!(matches!(
            PathElement::parse("fx"),
            Err(ElementError::Invalid(_))
        ));
        assert!(matches!(
            PathElement::parse("k:[1]"),
            Err(ElementError::Invalid(_))
        ));
        assert!(matches!(
            PathElement::parse("v:1 2"),
            Err(ElementError::Invalid(_))
        ));
        assert_eq!(PathElement::parse("i:3"), Ok(PathElement::Index(3)));
    }
}
