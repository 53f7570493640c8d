//! Errors: [`ProtobufError`] for the caller, [`DecodeError`] for where in the object decoding
//! stopped and why.

use std::fmt;

/// Why a protobuf request body could not become JSON.
///
/// [`ProtobufError::is_unsupported`] separates bodies the server cannot handle (415
/// UnsupportedMediaType) from malformed ones (400 BadRequest).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtobufError {
    /// The body does not start with the four bytes `k8s\0`.
    #[error("body does not start with the kubernetes protobuf magic \"k8s\\0\"")]
    Magic,
    /// The `runtime.Unknown` envelope after the magic is malformed.
    #[error("malformed runtime.Unknown envelope")]
    Envelope(#[source] DecodeError),
    /// The envelope names no apiVersion or no kind.
    #[error("runtime.Unknown envelope has no {0}")]
    MissingTypeMeta(&'static str),
    /// No built-in message is known for this apiVersion and kind.
    #[error("no protobuf serialization for apiVersion {api_version:?}, kind {kind:?}")]
    UnsupportedKind {
        /// The envelope's apiVersion.
        api_version: String,
        /// The envelope's kind.
        kind: String,
    },
    /// The envelope says the object is compressed or otherwise encoded.
    #[error("unsupported content encoding {0:?} in the runtime.Unknown envelope")]
    ContentEncoding(String),
    /// The envelope says the object is not protobuf.
    #[error("unsupported content type {0:?} in the runtime.Unknown envelope")]
    ContentType(String),
    /// The object inside the envelope is malformed.
    #[error("malformed {kind} ({api_version}) in protobuf body")]
    Object {
        /// The envelope's apiVersion.
        api_version: String,
        /// The envelope's kind.
        kind: String,
        /// Where and why decoding stopped.
        #[source]
        source: DecodeError,
    },
}

impl ProtobufError {
    /// Whether the body is well formed but names something this server cannot decode, so the
    /// answer is 415 UnsupportedMediaType rather than 400 BadRequest.
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            Self::UnsupportedKind { .. } | Self::ContentEncoding(_) | Self::ContentType(_)
        )
    }
}

/// Where in an object decoding stopped (a JSON path such as `spec.ports[0].port`) and why.
#[derive(Debug)]
pub struct DecodeError {
    /// Path segments, innermost first: errors gain their context on the way out.
    path: Vec<Segment>,
    reason: Reason,
}

#[derive(Debug)]
enum Segment {
    Field(&'static str),
    Index(usize),
    Key(String),
}

impl DecodeError {
    pub(crate) fn new(reason: Reason) -> Self {
        Self {
            path: Vec::new(),
            reason,
        }
    }

    pub(crate) fn in_field(mut self, name: &'static str) -> Self {
        self.path.push(Segment::Field(name));
        self
    }

    pub(crate) fn at_index(mut self, index: usize) -> Self {
        self.path.push(Segment::Index(index));
        self
    }

    pub(crate) fn at_key(mut self, key: &str) -> Self {
        self.path.push(Segment::Key(key.to_string()));
        self
    }

    /// The JSON path of the value that failed, e.g. `spec.template.spec.containers[0].image`.
    pub fn path(&self) -> String {
        let mut out = String::new();
        for segment in self.path.iter().rev() {
            match segment {
                Segment::Field(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Segment::Index(i) => out.push_str(&format!("[{i}]")),
                Segment::Key(key) => out.push_str(&format!("[{key:?}]")),
            }
        }
        out
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path();
        if path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", path, self.reason)
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.reason {
            Reason::EmbeddedJson(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Reason> for DecodeError {
    fn from(reason: Reason) -> Self {
        Self::new(reason)
    }
}

/// What was wrong with the bytes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Reason {
    #[error("truncated input")]
    Truncated,
    #[error("varint longer than 64 bits")]
    VarintOverflow,
    #[error("invalid field number {0}")]
    InvalidTag(u64),
    #[error("unsupported wire type {0}")]
    WireType(u8),
    #[error("expected {expected}, found {found}")]
    WrongWireType {
        expected: &'static str,
        found: &'static str,
    },
    #[error("messages nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("time out of range (seconds {0})")]
    TimeOutOfRange(i64),
    #[error("number is not finite")]
    NotFinite,
    #[error("empty quantity")]
    EmptyQuantity,
    #[error("int-or-string has unknown type {0}")]
    IntOrStringType(i64),
    #[error("embedded JSON is invalid")]
    EmbeddedJson(#[source] serde_json::Error),
}

impl PartialEq for Reason {
    fn eq(&self, other: &Self) -> bool {
        // Good enough for tests: the variant and its message.
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}
