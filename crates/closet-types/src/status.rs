//! The Kubernetes `Status` object: the body of every API error and of some successes.
//!
//! The constructors mirror apimachinery's `errors.New*` functions, code, reason, details and
//! message text alike, because kubectl prints the message verbatim (`Error from server
//! (NotFound): pods "x" not found`) and clients branch on the reason.

mod builders;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use builders::OPTIMISTIC_LOCK_MESSAGE;

/// `status` of a successful operation.
pub const SUCCESS: &str = "Success";
/// `status` of a failed operation.
pub const FAILURE: &str = "Failure";

/// A `Status` object (`kind: Status`, `apiVersion: v1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Always `Status`.
    #[serde(default = "kind")]
    pub kind: String,
    /// Always `v1`.
    #[serde(default = "api_version")]
    pub api_version: String,
    /// List metadata; always `{}` in practice, but always present, as upstream sends it.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// [`SUCCESS`] or [`FAILURE`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// Human-readable description, shown by kubectl.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Machine-readable reason, e.g. `NotFound`; see [`reason`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Extra data about the object concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    /// The HTTP status code, repeated in the body.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: i32,
}

/// `Status.details`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    /// Name of the object concerned.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// API group of the object concerned.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Kind, or plural resource name, of the object concerned (upstream mixes both).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// UID of the object concerned.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Individual problems, e.g. one per invalid field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    /// Seconds a client should wait before retrying.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry_after_seconds: i32,
}

/// One entry of `Status.details.causes`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatusCause {
    /// Machine-readable cause, e.g. `FieldValueInvalid`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable description of this cause.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// Path of the field concerned, e.g. `metadata.name`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

/// The `reason` values closet produces.
pub mod reason {
    /// 404.
    pub const NOT_FOUND: &str = "NotFound";
    /// 409 on create.
    pub const ALREADY_EXISTS: &str = "AlreadyExists";
    /// 409 on a stale update.
    pub const CONFLICT: &str = "Conflict";
    /// 422.
    pub const INVALID: &str = "Invalid";
    /// 400.
    pub const BAD_REQUEST: &str = "BadRequest";
    /// 410 for a compacted resourceVersion or continue token.
    pub const EXPIRED: &str = "Expired";
    /// 410 otherwise.
    pub const GONE: &str = "Gone";
    /// 415.
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "UnsupportedMediaType";
    /// 406.
    pub const NOT_ACCEPTABLE: &str = "NotAcceptable";
    /// 405.
    pub const METHOD_NOT_ALLOWED: &str = "MethodNotAllowed";
    /// 413.
    pub const REQUEST_ENTITY_TOO_LARGE: &str = "RequestEntityTooLarge";
    /// 401.
    pub const UNAUTHORIZED: &str = "Unauthorized";
    /// 403.
    pub const FORBIDDEN: &str = "Forbidden";
    /// 500.
    pub const INTERNAL_ERROR: &str = "InternalError";
    /// 503.
    pub const SERVICE_UNAVAILABLE: &str = "ServiceUnavailable";
    /// 504, a request that ran out of time.
    pub const TIMEOUT: &str = "Timeout";
    /// 500, an operation that could not finish in time and may be retried.
    pub const SERVER_TIMEOUT: &str = "ServerTimeout";
    /// 429.
    pub const TOO_MANY_REQUESTS: &str = "TooManyRequests";
}

impl Status {
    /// A bare `Status` with only the fixed parts set.
    pub fn new(status: &str, code: i32, reason: &str, message: impl Into<String>) -> Self {
        Self {
            kind: kind(),
            api_version: api_version(),
            metadata: Map::new(),
            status: status.to_owned(),
            message: message.into(),
            reason: reason.to_owned(),
            details: None,
            code,
        }
    }

    /// Sets the details.
    pub fn with_details(mut self, details: StatusDetails) -> Self {
        self.details = Some(details);
        self
    }

    /// Whether this reports a failure.
    pub fn is_failure(&self) -> bool {
        self.status == FAILURE
    }

    /// The body as JSON text; infallible because every field is a plain string or number.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn kind() -> String {
    "Status".to_owned()
}

fn api_version() -> String {
    "v1".to_owned()
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
