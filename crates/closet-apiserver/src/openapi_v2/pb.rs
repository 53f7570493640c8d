//! The little of the protobuf wire format the OpenAPI v2 document needs: varints and
//! length-delimited fields, written by hand so the gnostic schema costs no code generator.
//!
//! Fields are written in the order the caller adds them; repeated fields are simply added
//! more than once. Proto3 readers accept any field order, and omitted fields read as empty.

/// Wire type of varint fields (bools, integers).
const VARINT: u8 = 0;
/// Wire type of strings, bytes and embedded messages.
const LEN: u8 = 2;

/// One protobuf message under construction.
#[derive(Clone, Debug, Default)]
pub(super) struct Message(Vec<u8>);

impl Message {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Adds a `string` field.
    pub(super) fn string(mut self, field: u32, value: &str) -> Self {
        self.bytes(field, value.as_bytes());
        self
    }

    /// Adds a `string` field once per value (a `repeated string`).
    pub(super) fn strings(self, field: u32, values: &[&str]) -> Self {
        values.iter().fold(self, |m, v| m.string(field, v))
    }

    /// Adds a `bool` field.
    pub(super) fn bool(mut self, field: u32, value: bool) -> Self {
        put_key(&mut self.0, field, VARINT);
        put_varint(&mut self.0, u64::from(value));
        self
    }

    /// Adds an embedded message field.
    pub(super) fn message(mut self, field: u32, value: Message) -> Self {
        self.bytes(field, &value.0);
        self
    }

    /// Adds one embedded message per item (a `repeated` message field).
    pub(super) fn messages(self, field: u32, values: impl IntoIterator<Item = Message>) -> Self {
        values.into_iter().fold(self, |m, v| m.message(field, v))
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn bytes(&mut self, field: u32, value: &[u8]) {
        put_key(&mut self.0, field, LEN);
        put_varint(&mut self.0, value.len() as u64);
        self.0.extend_from_slice(value);
    }
}

fn put_key(buf: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire_type));
}

/// Base-128, least significant group first, high bit set on every byte but the last.
fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// A reader for tests: splits a message into its fields without knowing the schema.
#[cfg(test)]
pub(super) mod decode {
    /// One decoded field value.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) enum Value {
        Varint(u64),
        Bytes(Vec<u8>),
    }

    /// Every `(field number, value)` of `buf`, in order. Panics on malformed input or on
    /// wire types the encoder never writes.
    pub(crate) fn fields(mut buf: &[u8]) -> Vec<(u32, Value)> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let key = varint(&mut buf);
            let field = u32::try_from(key >> 3).expect("field number fits u32");
            let value = match key & 7 {
                0 => Value::Varint(varint(&mut buf)),
                2 => {
                    let len = usize::try_from(varint(&mut buf)).expect("length fits usize");
                    assert!(len <= buf.len(), "field {field} runs past the end");
                    let (bytes, rest) = buf.split_at(len);
                    buf = rest;
                    Value::Bytes(bytes.to_vec())
                }
                other => panic!("unexpected wire type {other} for field {field}"),
            };
            out.push((field, value));
        }
        out
    }

    /// The length-delimited values of `field` (repeated or not), in order.
    pub(crate) fn all(buf: &[u8], field: u32) -> Vec<Vec<u8>> {
        fields(buf)
            .into_iter()
            .filter_map(|(f, v)| match v {
                Value::Bytes(b) if f == field => Some(b),
                _ => None,
            })
            .collect()
    }

    /// The last value of a singular length-delimited `field`, as proto3 readers take it.
    pub(crate) fn one(buf: &[u8], field: u32) -> Option<Vec<u8>> {
        all(buf, field).pop()
    }

    /// A singular `string` field; empty when absent, as proto3 getters return.
    pub(crate) fn string(buf: &[u8], field: u32) -> String {
        one(buf, field)
            .map(|b| String::from_utf8(b).expect("string field is UTF-8"))
            .unwrap_or_default()
    }

    fn varint(buf: &mut &[u8]) -> u64 {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = buf.split_first().expect("varint runs past the end");
            *buf = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return value;
            }
        }
        panic!("varint longer than 10 bytes");
    }
}

#[cfg(test)]
mod tests {
    use super::decode::{Value, fields, string};
    use super::*;

    fn varint_bytes(value: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        put_varint(&mut buf, value);
        buf
    }

    #[test]
    fn varints_match_the_protobuf_encoding() {
        assert_eq!(varint_bytes(0), [0x00]);
        assert_eq!(varint_bytes(1), [0x01]);
        assert_eq!(varint_bytes(127), [0x7f]);
        assert_eq!(varint_bytes(128), [0x80, 0x01]);
        // The example of the protobuf encoding guide.
        assert_eq!(varint_bytes(150), [0x96, 0x01]);
        assert_eq!(varint_bytes(300), [0xac, 0x02]);
        assert_eq!(varint_bytes(u64::MAX).len(), 10);
    }

    #[test]
    fn fields_match_the_protobuf_encoding() {
        // Guide examples: `string b = 2` set to "testing"; `bool` field 1 set to true.
        let m = Message::new().string(2, "testing").bool(1, true);
        assert_eq!(
            m.into_bytes(),
            [
                0x12, 0x07, b't', b'e', b's', b't', b'i', b'n', b'g', 0x08, 0x01
            ]
        );
        // Field numbers above 15 take a two-byte key.
        assert_eq!(
            Message::new().bool(16, false).into_bytes(),
            [0x80, 0x01, 0x00]
        );
    }

    #[test]
    fn nested_and_repeated_fields_read_back() {
        let long = "x".repeat(300);
        let inner = Message::new().string(4, "fieldValidation").bool(20, true);
        let outer = Message::new()
            .strings(7, &["a", "b"])
            .messages(8, [inner.clone(), inner])
            .string(1, &long)
            .into_bytes();
        let read = fields(&outer);
        assert_eq!(read.len(), 5);
        assert_eq!(read[0], (7, Value::Bytes(b"a".to_vec())));
        assert_eq!(read[1], (7, Value::Bytes(b"b".to_vec())));
        let Value::Bytes(inner) = &read[2].1 else {
            panic!("field 8 is a message");
        };
        assert_eq!(string(inner, 4), "fieldValidation");
        assert!(fields(inner).contains(&(20, Value::Varint(1))));
        assert_eq!(string(&outer, 1), long);
        assert_eq!(string(&outer, 99), "");
    }

    #[test]
    fn large_varints_read_back() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut buf = Vec::new();
            put_key(&mut buf, 1, VARINT);
            put_varint(&mut buf, value);
            assert_eq!(fields(&buf), [(1, Value::Varint(value))]);
        }
    }
}
