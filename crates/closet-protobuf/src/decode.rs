//! The table-driven decoder: protobuf bytes of one message → the JSON object Go would write.
//!
//! A message is read in one pass that gathers each field's values, then written out in field
//! order. A singular embedded message may appear several times on the wire, and protobuf says
//! the occurrences merge as if their bytes were concatenated; the decoder keeps the slices and
//! decodes them together, which is exactly that.

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use crate::error::{DecodeError, Reason};
use crate::schema::{self, Field, INLINE, KEEP_EMPTY, Kind, Message, OMIT_ZERO, Shape, Special};
use crate::special;
use crate::wire::{self, Reader};

/// How deep messages may nest. Kubernetes objects need about 12 (a CRD's schema, one level per
/// nested property, needs more); the bound keeps hostile input off the stack.
pub(crate) const MAX_DEPTH: usize = 100;

/// What one field collected while its message was read.
enum Slot<'a> {
    Empty,
    Scalar(Value),
    List(Vec<Value>),
    Map(Map<String, Value>),
    /// The occurrences of a singular message (its index), to merge.
    Parts(u16, Vec<&'a [u8]>),
}

impl Slot<'_> {
    /// The empty collection for a field's shape (no allocation until something is added).
    fn for_field(field: &Field) -> Self {
        match field.shape {
            Shape::Single => Slot::Empty,
            Shape::Repeated => Slot::List(Vec::new()),
            Shape::Map => Slot::Map(Map::new()),
        }
    }
}

/// Decodes a message given as the concatenation of `parts`. `None` means Go writes nothing
/// (or `null`) for it, like the zero `metav1.Time`.
pub(crate) fn message(
    msg: &'static Message,
    parts: &[&[u8]],
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(Reason::TooDeep(MAX_DEPTH).into());
    }
    match msg.special {
        Special::None => object(msg, parts, depth).map(|o| Some(Value::Object(o))),
        _ => special::decode(msg, parts, depth),
    }
}

/// Decodes an ordinary message into its JSON object.
pub(crate) fn object(
    msg: &'static Message,
    parts: &[&[u8]],
    depth: usize,
) -> Result<Map<String, Value>, DecodeError> {
    let mut slots: Vec<Slot<'_>> = Vec::new();
    for part in parts {
        let mut reader = Reader::new(part);
        while let Some((tag, value)) = reader.next_field()? {
            // Unknown fields are skipped, as Go's generated code does.
            let Some((index, field)) = msg.field(tag) else {
                continue;
            };
            if slots.is_empty() {
                slots = msg.fields.iter().map(Slot::for_field).collect();
            }
            collect(&mut slots[index], field, value, depth).map_err(|e| e.in_field(field.name))?;
        }
    }
    let mut out = Map::new();
    for (field, slot) in msg.fields.iter().zip(slots) {
        emit(&mut out, field, slot, depth).map_err(|e| e.in_field(field.name))?;
    }
    Ok(out)
}

fn collect<'a>(
    slot: &mut Slot<'a>,
    field: &'static Field,
    value: wire::Value<'a>,
    depth: usize,
) -> Result<(), DecodeError> {
    match (field.kind, slot) {
        (Kind::Message(index), slot @ (Slot::Empty | Slot::Parts(..))) => {
            let bytes = expect_len(value)?;
            match slot {
                Slot::Parts(_, parts) => parts.push(bytes),
                _ => *slot = Slot::Parts(index, vec![bytes]),
            }
        }
        // Scalars: the last occurrence wins.
        (kind, slot @ (Slot::Empty | Slot::Scalar(_) | Slot::Parts(..))) => {
            *slot = Slot::Scalar(scalar(kind, value, depth)?);
        }
        // Packed numbers: proto3 writers pack them, Go's gogo writers do not.
        (Kind::Bool | Kind::Int32 | Kind::Int64, Slot::List(list))
            if matches!(value, wire::Value::Len(_)) =>
        {
            let mut reader = Reader::new(expect_len(value)?);
            while !reader.is_empty() {
                let n = reader.varint()?;
                list.push(scalar(field.kind, wire::Value::Varint(n), depth)?);
            }
        }
        (Kind::Double, Slot::List(list)) if matches!(value, wire::Value::Len(_)) => {
            for chunk in expect_len(value)?.chunks(8) {
                let bits = chunk.try_into().map_err(|_| Reason::Truncated)?;
                list.push(scalar(
                    field.kind,
                    wire::Value::Fixed64(u64::from_le_bytes(bits)),
                    depth,
                )?);
            }
        }
        (kind, Slot::List(list)) => {
            let index = list.len();
            let item = scalar(kind, value, depth).map_err(|e| e.at_index(index))?;
            list.push(item);
        }
        (kind, Slot::Map(map)) => {
            let (key, item) = entry(kind, expect_len(value)?, depth)?;
            map.insert(key, item);
        }
    }
    Ok(())
}

/// One `map<string, kind>` entry: key in field 1, value in field 2, either possibly absent.
fn entry(kind: Kind, bytes: &[u8], depth: usize) -> Result<(String, Value), DecodeError> {
    let mut key = String::new();
    let mut value = None;
    let mut parts = Vec::new();
    let mut reader = Reader::new(bytes);
    while let Some((tag, item)) = reader.next_field()? {
        match (tag, kind) {
            (1, _) => key = string(expect_len(item)?)?,
            (2, Kind::Message(_)) => parts.push(expect_len(item)?),
            (2, _) => value = Some(item),
            _ => {}
        }
    }
    let value = match (kind, value) {
        (Kind::Message(index), _) => {
            message(schema::message(index), &parts, depth + 1).map(|v| v.unwrap_or(Value::Null))
        }
        (kind, Some(item)) => scalar(kind, item, depth),
        (kind, None) => Ok(zero(kind)),
    };
    match value {
        Ok(value) => Ok((key, value)),
        Err(e) => Err(e.at_key(&key)),
    }
}

/// A scalar (or, in a list, an embedded message) from one wire value.
fn scalar(kind: Kind, value: wire::Value<'_>, depth: usize) -> Result<Value, DecodeError> {
    Ok(match kind {
        Kind::String => Value::String(string(expect_len(value)?)?),
        Kind::Bytes => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(expect_len(value)?))
        }
        Kind::Bool => Value::Bool(expect_varint(value)? != 0),
        // Two's complement, truncated to 32 bits the way Go's `int32(v)` does.
        Kind::Int32 => Value::from(expect_varint(value)? as i32),
        Kind::Int64 => Value::from(expect_varint(value)? as i64),
        Kind::Double => {
            let wire::Value::Fixed64(bits) = value else {
                return Err(wrong("fixed64", value));
            };
            let n = Number::from_f64(f64::from_bits(bits)).ok_or(Reason::NotFinite)?;
            Value::Number(n)
        }
        Kind::Message(index) => {
            let bytes = expect_len(value)?;
            message(schema::message(index), &[bytes], depth + 1)?.unwrap_or(Value::Null)
        }
    })
}

/// Writes one field's collected values into `out` under Go's rules for empty values.
fn emit(
    out: &mut Map<String, Value>,
    field: &'static Field,
    slot: Slot<'_>,
    depth: usize,
) -> Result<(), DecodeError> {
    match slot {
        Slot::Empty => {}
        Slot::Scalar(value) => {
            if !omitted(field, &value) {
                out.insert(field.name.to_string(), value);
            }
        }
        Slot::List(list) => {
            if !list.is_empty() {
                out.insert(field.name.to_string(), Value::Array(list));
            }
        }
        Slot::Map(mut map) => {
            if !map.is_empty() {
                // Go writes map keys sorted; so does every Go client's JSON.
                map.sort_keys();
                out.insert(field.name.to_string(), Value::Object(map));
            }
        }
        Slot::Parts(index, parts) => match message(schema::message(index), &parts, depth + 1)? {
            Some(Value::Object(inner)) if field.has(INLINE) => out.extend(inner),
            Some(value) => {
                out.insert(field.name.to_string(), value);
            }
            None => {}
        },
    }
    Ok(())
}

/// Whether Go's JSON leaves this present scalar out: an empty string unless Go writes it
/// anyway, a zero number or false only for value fields with `omitempty`.
fn omitted(field: &Field, value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty() && !field.has(KEEP_EMPTY),
        Value::Bool(b) => !b && field.has(OMIT_ZERO),
        Value::Number(n) => n.as_f64() == Some(0.0) && field.has(OMIT_ZERO),
        _ => false,
    }
}

/// The value of a map entry whose value field is absent.
fn zero(kind: Kind) -> Value {
    match kind {
        Kind::String | Kind::Bytes => Value::String(String::new()),
        Kind::Bool => Value::Bool(false),
        Kind::Int32 | Kind::Int64 => Value::from(0),
        Kind::Double => Value::from(0.0),
        Kind::Message(_) => Value::Null,
    }
}

pub(crate) fn string(bytes: &[u8]) -> Result<String, DecodeError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(_) => Err(Reason::InvalidUtf8.into()),
    }
}

pub(crate) fn expect_len<'a>(value: wire::Value<'a>) -> Result<&'a [u8], DecodeError> {
    match value {
        wire::Value::Len(bytes) => Ok(bytes),
        other => Err(wrong("length-delimited", other)),
    }
}

pub(crate) fn expect_varint(value: wire::Value<'_>) -> Result<u64, DecodeError> {
    match value {
        wire::Value::Varint(n) => Ok(n),
        other => Err(wrong("varint", other)),
    }
}

fn wrong(expected: &'static str, found: wire::Value<'_>) -> DecodeError {
    Reason::WrongWireType {
        expected,
        found: found.wire_type(),
    }
    .into()
}
