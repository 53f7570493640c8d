//! Constructors for each kind of failure, one per upstream `errors.New*` function.

use super::{FAILURE, SUCCESS, Status, StatusCause, StatusDetails, reason};
use crate::field::{FieldError, FieldErrorList, go_quote};

/// The detail of a conflict caused by a stale `resourceVersion`, as upstream words it.
pub const OPTIMISTIC_LOCK_MESSAGE: &str =
    "the object has been modified; please apply your changes to the latest version and try again";

/// `resource` or `resource.group`, the way upstream names a group-qualified resource or kind.
fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

fn failure(code: i32, reason: &str, message: impl Into<String>) -> Status {
    Status::new(FAILURE, code, reason, message)
}

fn object_details(group: &str, resource: &str, name: &str) -> StatusDetails {
    // Upstream puts the plural resource into `kind` here; clients rely on it.
    StatusDetails {
        name: name.to_owned(),
        group: group.to_owned(),
        kind: resource.to_owned(),
        ..StatusDetails::default()
    }
}

fn retry_details(seconds: i32) -> StatusDetails {
    StatusDetails {
        retry_after_seconds: seconds,
        ..StatusDetails::default()
    }
}

impl Status {
    /// 404: `pods "x" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        let msg = format!(
            "{} {} not found",
            qualified(group, resource),
            go_quote(name)
        );
        failure(404, reason::NOT_FOUND, msg).with_details(object_details(group, resource, name))
    }

    /// 409 on create: `pods "x" already exists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        let msg = format!(
            "{} {} already exists",
            qualified(group, resource),
            go_quote(name)
        );
        failure(409, reason::ALREADY_EXISTS, msg)
            .with_details(object_details(group, resource, name))
    }

    /// 409 when every `generateName` attempt collided with an existing name.
    pub fn generate_name_conflict(group: &str, resource: &str, name: &str, retry: i32) -> Self {
        let msg = format!(
            "{} {} already exists, the server was not able to generate a unique name for the object",
            qualified(group, resource),
            go_quote(name)
        );
        let mut details = object_details(group, resource, name);
        details.retry_after_seconds = retry;
        failure(409, reason::ALREADY_EXISTS, msg).with_details(details)
    }

    /// 409 on update: `Operation cannot be fulfilled on pods "x": <detail>`; pass
    /// [`OPTIMISTIC_LOCK_MESSAGE`] for a stale `resourceVersion`.
    pub fn conflict(group: &str, resource: &str, name: &str, detail: &str) -> Self {
        let msg = format!(
            "Operation cannot be fulfilled on {} {}: {detail}",
            qualified(group, resource),
            go_quote(name)
        );
        failure(409, reason::CONFLICT, msg).with_details(object_details(group, resource, name))
    }

    /// 422: `Pod "x" is invalid: metadata.name: Invalid value: ...`, one cause per error.
    /// Note this takes the *kind* (`Deployment`), not the resource, as upstream does.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let subject = format!("{} {}", qualified(group, kind), go_quote(name));
        let msg = if errors.is_empty() {
            format!("{subject} is invalid")
        } else {
            format!("{subject} is invalid: {}", FieldErrorList(errors.to_vec()))
        };
        let causes = errors
            .iter()
            .map(|e| StatusCause {
                reason: e.error_type.cause_type().to_owned(),
                message: e.body(),
                field: e.field.clone(),
            })
            .collect();
        let details = StatusDetails {
            name: name.to_owned(),
            group: group.to_owned(),
            kind: kind.to_owned(),
            causes,
            ..StatusDetails::default()
        };
        failure(422, reason::INVALID, msg).with_details(details)
    }

    /// 400 with the given message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        failure(400, reason::BAD_REQUEST, message)
    }

    /// 410 `Expired`: a resourceVersion or continue token older than the kept history.
    pub fn expired(message: impl Into<String>) -> Self {
        failure(410, reason::EXPIRED, message)
    }

    /// 410 `Gone`.
    pub fn gone(message: impl Into<String>) -> Self {
        failure(410, reason::GONE, message)
    }

    /// 415: the request body's media type is not one of `accepted`.
    pub fn unsupported_media_type(accepted: &[&str]) -> Self {
        let msg = format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        );
        failure(415, reason::UNSUPPORTED_MEDIA_TYPE, msg)
    }

    /// 406: no media type in `Accept` can be served; `accepted` lists those that can.
    pub fn not_acceptable(accepted: &[&str]) -> Self {
        let msg = format!(
            "only the following media types are accepted: {}",
            accepted.join(", ")
        );
        failure(406, reason::NOT_ACCEPTABLE, msg)
    }

    /// 405: `<action> is not supported on resources of kind "deployments.apps"`.
    pub fn method_not_allowed(group: &str, resource: &str, action: &str) -> Self {
        let msg = format!(
            "{action} is not supported on resources of kind {}",
            go_quote(&qualified(group, resource))
        );
        failure(405, reason::METHOD_NOT_ALLOWED, msg)
            .with_details(object_details(group, resource, ""))
    }

    /// 413: `Request entity too large: <message>`.
    pub fn request_entity_too_large(message: &str) -> Self {
        let msg = format!("Request entity too large: {message}");
        failure(413, reason::REQUEST_ENTITY_TOO_LARGE, msg)
    }

    /// 401, worded as upstream's authentication filter words it.
    pub fn unauthorized() -> Self {
        failure(401, reason::UNAUTHORIZED, "Unauthorized")
    }

    /// 403: `pods "x" is forbidden: <reason>` (without the name, or the resource, when empty).
    pub fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> Self {
        let msg = match (resource.is_empty(), name.is_empty()) {
            (true, _) => format!("forbidden: {why}"),
            (false, true) => format!("{} is forbidden: {why}", qualified(group, resource)),
            (false, false) => {
                format!(
                    "{} {} is forbidden: {why}",
                    qualified(group, resource),
                    go_quote(name)
                )
            }
        };
        failure(403, reason::FORBIDDEN, msg).with_details(object_details(group, resource, name))
    }

    /// 500: `Internal error occurred: <message>`.
    pub fn internal(message: &str) -> Self {
        let details = StatusDetails {
            causes: vec![StatusCause {
                message: message.to_owned(),
                ..StatusCause::default()
            }],
            ..StatusDetails::default()
        };
        failure(
            500,
            reason::INTERNAL_ERROR,
            format!("Internal error occurred: {message}"),
        )
        .with_details(details)
    }

    /// 503 with the given message.
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        failure(503, reason::SERVICE_UNAVAILABLE, message)
    }

    /// 504: `Timeout: <message>`, for a request that ran out of time.
    pub fn timeout(message: &str, retry_after_seconds: i32) -> Self {
        failure(504, reason::TIMEOUT, format!("Timeout: {message}"))
            .with_details(retry_details(retry_after_seconds))
    }

    /// 500 `ServerTimeout`: the operation could not finish in time and may be retried.
    pub fn server_timeout(group: &str, resource: &str, operation: &str, retry: i32) -> Self {
        let msg = format!(
            "The {operation} operation against {} could not be completed at this time, please try again.",
            qualified(group, resource)
        );
        let mut details = object_details(group, resource, operation);
        details.retry_after_seconds = retry;
        failure(500, reason::SERVER_TIMEOUT, msg).with_details(details)
    }

    /// 429 with the given message and retry delay.
    pub fn too_many_requests(message: impl Into<String>, retry_after_seconds: i32) -> Self {
        failure(429, reason::TOO_MANY_REQUESTS, message)
            .with_details(retry_details(retry_after_seconds))
    }

    /// The success body a DELETE returns when it does not return the object.
    pub fn deleted(group: &str, resource: &str, name: &str, uid: &str) -> Self {
        let mut details = object_details(group, resource, name);
        details.uid = uid.to_owned();
        Status::new(SUCCESS, 0, "", "").with_details(details)
    }
}
