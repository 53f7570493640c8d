//! The message table the decoder walks: one [`Message`] per Kubernetes protobuf message, one
//! [`Field`] per field number, and the apiVersion/kind pairs that name top-level objects.
//!
//! The table itself is `schema/generated.rs`, written by `tests/codegen` from k8s-pb's prost
//! attributes (field numbers and wire types), k8s-openapi's serde names (JSON names, required
//! fields, kinds) and `codegen/go-fields.txt` (how Go's `encoding/json` treats each scalar).
//! Regenerate it with `CLOSET_PROTOBUF_REGENERATE=1 cargo test -p closet-protobuf --test codegen`.

#[rustfmt::skip]
mod generated;

/// What a field holds on the wire, and so how its value becomes JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A UTF-8 string.
    String,
    /// Bytes, which JSON carries as standard base64.
    Bytes,
    /// A varint read as a bool.
    Bool,
    /// A varint read as a two's-complement `int32`.
    Int32,
    /// A varint read as a two's-complement `int64`.
    Int64,
    /// A little-endian `double`.
    Double,
    /// An embedded message: an index into [`MESSAGES`].
    Message(u16),
}

/// How many values a field holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// At most one value; the last one on the wire wins (messages merge).
    Single,
    /// A list.
    Repeated,
    /// `map<string, kind>`, sent as repeated entries with the key in field 1, the value in 2.
    Map,
}

/// Messages whose Go type has its own JSON form instead of an object of fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    /// An ordinary message: a JSON object of its fields.
    None,
    /// `metav1.Time`: RFC 3339 in seconds; the zero time is omitted.
    Time,
    /// `metav1.MicroTime`: RFC 3339 with six fractional digits; the zero time is omitted.
    MicroTime,
    /// `resource.Quantity`: its canonical string.
    Quantity,
    /// `intstr.IntOrString`: a number or a string.
    IntOrString,
    /// Raw JSON bytes in field 1 (`runtime.RawExtension`, `metav1.FieldsV1`, CRD `JSON`).
    RawJson,
    /// A named string slice wrapped in `items` (`ExtraValue`, `metav1.Verbs`).
    StringList,
    /// `JSONSchemaPropsOrArray`: one schema or a list of them.
    SchemaOrArray,
    /// `JSONSchemaPropsOrBool`: a schema or a bool.
    SchemaOrBool,
    /// `JSONSchemaPropsOrStringArray`: a schema or a list of strings.
    SchemaOrStringArray,
}

/// A string or bytes field whose empty value Go still writes (a pointer, or no `omitempty`).
pub(crate) const KEEP_EMPTY: u8 = 1;
/// A number or bool field whose zero value Go leaves out (a plain value with `omitempty`).
pub(crate) const OMIT_ZERO: u8 = 2;
/// An embedded struct whose fields Go writes into the parent object (`json:",inline"`).
pub(crate) const INLINE: u8 = 4;

/// One field of a message.
#[derive(Debug)]
pub(crate) struct Field {
    /// The protobuf field number.
    pub(crate) tag: u32,
    /// The JSON name.
    pub(crate) name: &'static str,
    /// What each value is.
    pub(crate) kind: Kind,
    /// How many values there are.
    pub(crate) shape: Shape,
    /// [`KEEP_EMPTY`], [`OMIT_ZERO`] and [`INLINE`].
    pub(crate) flags: u8,
}

impl Field {
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// One message (the generated table names each in a comment, e.g. `io.k8s.api.core.v1.Pod`).
#[derive(Debug)]
pub(crate) struct Message {
    /// Whether the message has its own JSON form.
    pub(crate) special: Special,
    /// The fields, sorted by field number.
    pub(crate) fields: &'static [Field],
}

impl Message {
    /// The field with this number, if the schema knows it.
    pub(crate) fn field(&self, tag: u32) -> Option<(usize, &'static Field)> {
        let index = self.fields.binary_search_by_key(&tag, |f| f.tag).ok()?;
        Some((index, &self.fields[index]))
    }
}

/// Shorthand the generated table uses for one field.
const fn f(tag: u32, name: &'static str, kind: Kind, shape: Shape, flags: u8) -> Field {
    Field {
        tag,
        name,
        kind,
        shape,
        flags,
    }
}

/// Every message, sorted by name.
pub(crate) static MESSAGES: &[Message] = &generated::MESSAGES;

/// The message behind a [`Kind::Message`] index.
pub(crate) fn message(index: u16) -> &'static Message {
    &MESSAGES[usize::from(index)]
}

/// The message for a top-level object, by apiVersion and kind.
pub(crate) fn object(api_version: &str, kind: &str) -> Option<&'static Message> {
    let kinds = &generated::KINDS;
    let index = kinds
        .binary_search_by(|(v, k, _)| (*v, *k).cmp(&(api_version, kind)))
        .ok()?;
    Some(message(kinds[index].2))
}

/// Every apiVersion/kind pair with a protobuf decoding, sorted.
pub(crate) fn kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    generated::KINDS.iter().map(|(v, k, _)| (*v, *k))
}
