//! Error answers of the node API: a Kubernetes `Status` with the right code, so that the
//! apiserver can pass it through unchanged and kubectl prints its message.

use axum::response::{IntoResponse, Response};
use closet_types::Status;
use http::StatusCode;

/// A failed node API request.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) Box<Status>);

impl From<Status> for Failure {
    fn from(status: Status) -> Self {
        Self(Box::new(status))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let code = u16::try_from(self.0.code)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            code,
            [(http::header::CONTENT_TYPE, "application/json")],
            self.0.to_json(),
        )
            .into_response()
    }
}

/// 404 for a container the agent does not run.
pub(crate) fn container_not_found(namespace: &str, pod: &str, container: &str) -> Failure {
    Status::not_found("", "pods", pod)
        .with_message(format!(
            "container {container:?} in pod \"{namespace}/{pod}\" is not running on this node"
        ))
        .into()
}

/// 404 for a pod the agent does not run.
pub(crate) fn pod_not_found(namespace: &str, pod: &str) -> Failure {
    Status::not_found("", "pods", pod)
        .with_message(format!(
            "pod \"{namespace}/{pod}\" is not running on this node"
        ))
        .into()
}

/// 400 with a message.
pub(crate) fn bad_request(message: impl Into<String>) -> Failure {
    Status::bad_request(message).into()
}

/// 500 with a message naming what failed and why.
pub(crate) fn internal(what: &str, err: &dyn std::error::Error) -> Failure {
    let mut message = format!("{what}: {err}");
    let mut source = err.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    Status::internal(&message).into()
}

/// Replaces a status's message, keeping code and reason.
trait WithMessage {
    fn with_message(self, message: String) -> Self;
}

impl WithMessage for Status {
    fn with_message(mut self, message: String) -> Self {
        self.message = message;
        self
    }
}
