//! closet-protobuf: turns Kubernetes protobuf request bodies into the JSON the apiserver uses.
//!
//! kubectl's typed clients (`create namespace|configmap|secret|deployment|...`, `auth can-i`,
//! `auth whoami`, `create token`) send `application/vnd.kubernetes.protobuf`: the magic
//! `k8s\0`, then a `runtime.Unknown` envelope holding the apiVersion, kind and the object's own
//! protobuf bytes. [`decode`] returns the object exactly as the same client would have sent it
//! in JSON: camelCase names, int-or-string and quantities in their JSON forms, times in RFC
//! 3339, bytes in base64, unset optional fields left out, `kind` and `apiVersion` set.
//!
//! Decoding walks a generated table of every built-in message (`schema`); where Go's
//! `encoding/json` would drop a zero value or inline a struct, the table says so.
//! Start reading at [`decode`], then `decode.rs`; the table's provenance is in `schema.rs`.
//!
//! ```
//! let body = b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x05\x0a\x03\x0a\x01x";
//! let object = closet_protobuf::decode(body).unwrap();
//! assert_eq!(object, serde_json::json!({
//!     "kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "x"},
//! }));
//! ```

mod decode;
mod error;
mod schema;
mod special;
#[cfg(test)]
mod tests;
mod wire;

use serde_json::{Map, Value};

pub use error::{DecodeError, ProtobufError};

use decode::{expect_len, string};
use wire::Reader;

/// The four bytes that start every Kubernetes protobuf body.
pub const MAGIC: [u8; 4] = *b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Decodes a protobuf request body into the object's JSON form.
///
/// Errors for which [`ProtobufError::is_unsupported`] holds mean the body names something
/// without a protobuf decoding (answer 415); any other error means malformed input (400).
/// Decoding never panics, nests at most 100 messages deep, and allocates in proportion to
/// the body.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    let rest = body.strip_prefix(&MAGIC).ok_or(ProtobufError::Magic)?;
    let envelope = Envelope::read(rest).map_err(ProtobufError::Envelope)?;
    if envelope.api_version.is_empty() {
        return Err(ProtobufError::MissingTypeMeta("apiVersion"));
    }
    if envelope.kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta("kind"));
    }
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::ContentEncoding(envelope.content_encoding));
    }
    if !envelope.content_type.is_empty() && envelope.content_type != MEDIA_TYPE {
        return Err(ProtobufError::ContentType(envelope.content_type));
    }
    let Some(message) = schema::object(&envelope.api_version, &envelope.kind) else {
        return Err(ProtobufError::UnsupportedKind {
            api_version: envelope.api_version,
            kind: envelope.kind,
        });
    };
    let fields = match decode::object(message, &[envelope.raw], 0) {
        Ok(fields) => fields,
        Err(source) => {
            return Err(ProtobufError::Object {
                api_version: envelope.api_version,
                kind: envelope.kind,
                source,
            });
        }
    };
    // Go's TypeMeta writes kind first.
    let mut object = Map::new();
    object.insert("kind".into(), Value::String(envelope.kind));
    object.insert("apiVersion".into(), Value::String(envelope.api_version));
    object.extend(fields);
    Ok(Value::Object(object))
}

/// Whether [`decode`] knows the object for this apiVersion and kind.
pub fn supports(api_version: &str, kind: &str) -> bool {
    schema::object(api_version, kind).is_some()
}

/// Every apiVersion and kind [`decode`] knows, sorted.
pub fn kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    schema::kinds()
}

/// `runtime.Unknown`: `{1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding,
/// 4: contentType}`.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    content_encoding: String,
    content_type: String,
}

impl<'a> Envelope<'a> {
    fn read(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut envelope = Envelope {
            api_version: String::new(),
            kind: String::new(),
            raw: &[],
            content_encoding: String::new(),
            content_type: String::new(),
        };
        let mut reader = Reader::new(bytes);
        while let Some((tag, value)) = reader.next_field()? {
            match tag {
                1 => {
                    let mut meta = Reader::new(expect_len(value)?);
                    while let Some((tag, value)) = meta.next_field()? {
                        match tag {
                            1 => envelope.api_version = field_string(value, "apiVersion")?,
                            2 => envelope.kind = field_string(value, "kind")?,
                            _ => {}
                        }
                    }
                }
                2 => envelope.raw = expect_len(value).map_err(|e| e.in_field("raw"))?,
                3 => envelope.content_encoding = field_string(value, "contentEncoding")?,
                4 => envelope.content_type = field_string(value, "contentType")?,
                _ => {}
            }
        }
        Ok(envelope)
    }
}

fn field_string(value: wire::Value<'_>, name: &'static str) -> Result<String, DecodeError> {
    expect_len(value)
        .and_then(string)
        .map_err(|e| e.in_field(name))
}
