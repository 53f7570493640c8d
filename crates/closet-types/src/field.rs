//! Field-level validation errors, rendered the way apimachinery's `field.Error` renders them.
//!
//! Every validation in closet reports problems as [`FieldError`]s: the apiserver turns a list of
//! them into the causes of an `Invalid` [`Status`](crate::Status), and the message text is what
//! kubectl prints, so it follows upstream's `<path>: <Type>: <value>: <detail>` shape exactly.

mod quote;

use std::fmt;

pub use quote::go_quote;

/// What kind of problem a [`FieldError`] reports; serialized as the cause `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorType {
    /// A value was looked up and not found.
    NotFound,
    /// A required value was missing.
    Required,
    /// A value that must be unique was repeated.
    Duplicate,
    /// A malformed value.
    Invalid,
    /// A value outside an enumerated set.
    NotSupported,
    /// A well-formed value that is not permitted here.
    Forbidden,
    /// A value longer than allowed.
    TooLong,
    /// A list with too many items.
    TooMany,
    /// A server-side problem not caused by the input.
    Internal,
    /// A value of the wrong type.
    TypeInvalid,
}

impl FieldErrorType {
    /// The machine-readable name, used as `StatusCause.reason`.
    pub fn cause_type(self) -> &'static str {
        match self {
            Self::NotFound => "FieldValueNotFound",
            Self::Required => "FieldValueRequired",
            Self::Duplicate => "FieldValueDuplicate",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::Internal => "InternalError",
            Self::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human-readable name that starts the message body.
    pub fn message(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::Required => "Required value",
            Self::Duplicate => "Duplicate value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::Internal => "Internal error",
        }
    }

    /// Whether the message body shows the offending value (upstream hides it for these).
    fn shows_value(self) -> bool {
        !matches!(
            self,
            Self::Required | Self::Forbidden | Self::TooLong | Self::Internal
        )
    }
}

/// The offending value of a [`FieldError`], kept in the form upstream prints it.
#[derive(Debug, Clone, PartialEq)]
pub enum BadValue {
    /// A string, printed quoted like Go's `%q`.
    String(String),
    /// An integer, printed bare.
    Int(i64),
    /// A boolean, printed bare.
    Bool(bool),
    /// Anything else, printed as compact JSON.
    Json(serde_json::Value),
    /// No value is shown.
    Omitted,
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => f.write_str(&go_quote(s)),
            Self::Int(i) => write!(f, "{i}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Json(v) => write!(f, "{v}"),
            Self::Omitted => Ok(()),
        }
    }
}

impl From<&str> for BadValue {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for BadValue {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl From<i64> for BadValue {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

impl From<bool> for BadValue {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<&[String]> for BadValue {
    fn from(list: &[String]) -> Self {
        Self::Json(serde_json::Value::from(list.to_vec()))
    }
}

/// One problem with one field, e.g. `metadata.name: Invalid value: "X": must be lower case`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The kind of problem.
    pub error_type: FieldErrorType,
    /// The field path, e.g. `metadata.labels[app]`; upstream prints `<nil>` for no path.
    pub field: String,
    /// The offending value.
    pub bad_value: BadValue,
    /// Extra explanation appended after the value.
    pub detail: String,
}

impl FieldError {
    fn new(
        error_type: FieldErrorType,
        field: impl Into<String>,
        bad_value: BadValue,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            error_type,
            field: field.into(),
            bad_value,
            detail: detail.into(),
        }
    }

    /// A malformed value.
    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<BadValue>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(FieldErrorType::Invalid, field, value.into(), detail)
    }

    /// A missing value.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Required, field, BadValue::Omitted, detail)
    }

    /// A well-formed value that is not allowed here.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Forbidden, field, BadValue::Omitted, detail)
    }

    /// A repeated value that must be unique.
    pub fn duplicate(field: impl Into<String>, value: impl Into<BadValue>) -> Self {
        Self::new(FieldErrorType::Duplicate, field, value.into(), "")
    }

    /// A value that refers to something that does not exist.
    pub fn not_found(field: impl Into<String>, value: impl Into<BadValue>) -> Self {
        Self::new(FieldErrorType::NotFound, field, value.into(), "")
    }

    /// A value outside the enumerated `supported` set, listed in the detail.
    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<BadValue>,
        supported: &[&str],
    ) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(FieldErrorType::NotSupported, field, value.into(), detail)
    }

    /// A value longer than `max_bytes`; the value itself is never shown.
    pub fn too_long(field: impl Into<String>, max_bytes: usize) -> Self {
        let unit = if max_bytes == 1 { "byte" } else { "bytes" };
        let detail = format!("may not be more than {max_bytes} {unit}");
        Self::new(FieldErrorType::TooLong, field, BadValue::Omitted, detail)
    }

    /// A list with `actual` items where at most `max` are allowed.
    pub fn too_many(field: impl Into<String>, actual: i64, max: i64) -> Self {
        let unit = if max == 1 { "item" } else { "items" };
        let detail = format!("must have at most {max} {unit}");
        Self::new(
            FieldErrorType::TooMany,
            field,
            BadValue::Int(actual),
            detail,
        )
    }

    /// A server-side failure while validating the field.
    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorType::Internal, field, BadValue::Omitted, detail)
    }

    /// The message without the field path, used as `StatusCause.message`.
    pub fn body(&self) -> String {
        let mut s = self.error_type.message().to_owned();
        if self.error_type.shows_value() && self.bad_value != BadValue::Omitted {
            s.push_str(&format!(": {}", self.bad_value));
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// Several field errors reported together, printed like upstream's aggregate:
/// one error alone, or `[a, b]` with repeated messages dropped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldErrorList(pub Vec<FieldError>);

impl FieldErrorList {
    /// Whether there are no errors.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Turns an empty list into `Ok(())`, so validators can end with `list.into_result()`.
    pub fn into_result(self) -> Result<(), FieldErrorList> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl From<Vec<FieldError>> for FieldErrorList {
    fn from(errors: Vec<FieldError>) -> Self {
        Self(errors)
    }
}

impl fmt::Display for FieldErrorList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut seen: Vec<String> = Vec::new();
        for e in &self.0 {
            let msg = e.to_string();
            if !seen.contains(&msg) {
                seen.push(msg);
            }
        }
        match seen.as_slice() {
            [] => Ok(()),
            [one] => f.write_str(one),
            many => write!(f, "[{}]", many.join(", ")),
        }
    }
}

impl std::error::Error for FieldErrorList {}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
