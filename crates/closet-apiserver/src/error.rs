//! Every failure a request can meet, turned into a Kubernetes `Status` in one place.
//!
//! The wording comes from [`closet_types::Status`]'s constructors (upstream's messages);
//! this module adds the mapping from store failures and the HTTP response.

use axum::response::{IntoResponse, Response};
use closet_store::StoreError;
use closet_types::{FieldError, Status};
use http::StatusCode;

use crate::registry::ResourceInfo;

/// Media types a request body may have.
const ACCEPTED_BODIES: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
];

/// Media types a response can be produced in.
const PRODUCED: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/json;as=Table;v=v1;g=meta.k8s.io",
];

/// A failed request, carrying the `Status` the client will see.
#[derive(Clone, Debug)]
pub struct ApiError(Box<Status>);

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        Self(Box::new(status))
    }
}

impl ApiError {
    /// 404: `pods "x" not found`.
    pub fn not_found(info: &ResourceInfo, name: &str) -> Self {
        Status::not_found(&info.group, &info.plural, name).into()
    }

    /// 404 for a path that addresses nothing.
    pub fn path_not_found(path: &str) -> Self {
        let mut status = Status::not_found("", "", "");
        status.message = format!("the server could not find the requested resource ({path})");
        status.details = None;
        status.into()
    }

    /// 404 for a namespace that does not exist when an object is created in it.
    pub fn namespace_not_found(namespace: &str) -> Self {
        Status::not_found("", "namespaces", namespace).into()
    }

    /// 409: `pods "x" already exists`.
    pub fn already_exists(info: &ResourceInfo, name: &str) -> Self {
        Status::already_exists(&info.group, &info.plural, name).into()
    }

    /// 409: a precondition (resourceVersion or uid) did not hold.
    pub fn conflict(info: &ResourceInfo, name: &str, why: &str) -> Self {
        Status::conflict(&info.group, &info.plural, name, why).into()
    }

    /// The standard optimistic-concurrency conflict.
    pub fn stale(info: &ResourceInfo, name: &str) -> Self {
        Self::conflict(info, name, closet_types::status::OPTIMISTIC_LOCK_MESSAGE)
    }

    /// 422 with field errors: `Pod "X" is invalid: metadata.name: Invalid value: ...`.
    pub fn invalid(info: &ResourceInfo, name: &str, errors: Vec<FieldError>) -> Self {
        Status::invalid(&info.group, &info.kind, name, &errors).into()
    }

    /// 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Status::bad_request(message).into()
    }

    /// 401: no credentials.
    pub fn unauthorized() -> Self {
        Status::unauthorized().into()
    }

    /// 403 with a message about one object.
    pub fn forbidden(info: &ResourceInfo, name: &str, why: &str) -> Self {
        Status::forbidden(&info.group, &info.plural, name, why).into()
    }

    /// 405: the verb is not supported on this resource.
    pub fn method_not_allowed(info: Option<&ResourceInfo>, action: &str) -> Self {
        let (group, resource) = info.map_or(("", ""), |i| (i.group.as_str(), i.plural.as_str()));
        Status::method_not_allowed(group, resource, action).into()
    }

    /// 406: none of the accepted media types can be produced.
    pub fn not_acceptable() -> Self {
        Status::not_acceptable(PRODUCED).into()
    }

    /// 410: the resourceVersion is older than the retained history.
    pub fn expired(message: impl Into<String>) -> Self {
        Status::expired(message).into()
    }

    /// 413: the body is too large.
    pub fn too_large(limit: usize) -> Self {
        Status::request_entity_too_large(&format!("limit is {limit} bytes")).into()
    }

    /// 415: the body's media type is not understood.
    pub fn unsupported_media_type() -> Self {
        Status::unsupported_media_type(ACCEPTED_BODIES).into()
    }

    /// 500: something inside the server failed.
    pub fn internal(message: &str) -> Self {
        Status::internal(message).into()
    }

    /// Maps a store failure on one object to the status the client should see.
    pub fn from_store(err: StoreError, info: &ResourceInfo, name: &str) -> Self {
        match err {
            StoreError::AlreadyExists { .. } => Self::already_exists(info, name),
            StoreError::NotFound { .. } => Self::not_found(info, name),
            StoreError::Conflict { .. } => Self::stale(info, name),
            other => Self::from_store_general(other),
        }
    }

    /// Maps a store failure that is not about one object.
    pub fn from_store_general(err: StoreError) -> Self {
        match err {
            StoreError::Compacted {
                requested,
                compacted,
            } => Self::expired(format!(
                "too old resource version: {requested} ({compacted})"
            )),
            StoreError::FutureRevision { requested, current } => Status::timeout(
                &format!("Too large resource version: {requested}, current: {current}"),
                1,
            )
            .into(),
            StoreError::Unavailable { reason } => {
                Status::service_unavailable(format!("storage is unavailable: {reason}")).into()
            }
            other => {
                let chain = error_chain(&other);
                tracing::error!(error = %chain, "store failure");
                Self::internal(&format!("storage error: {chain}"))
            }
        }
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        u16::try_from(self.0.code).unwrap_or(500)
    }

    /// The Status object.
    pub fn status(&self) -> &Status {
        &self.0
    }

    /// The Status object as JSON.
    pub fn to_status(&self) -> serde_json::Value {
        serde_json::to_value(&*self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.0.code, self.0.reason, self.0.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            code,
            [(http::header::CONTENT_TYPE, "application/json")],
            self.0.to_json(),
        )
            .into_response()
    }
}

/// An error and its sources, joined with `: `.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
