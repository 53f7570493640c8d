use serde_json::json;

use super::*;
use crate::field::FieldError;

#[test]
fn not_found_serializes_byte_for_byte_like_upstream() {
    let s = Status::not_found("", "pods", "x");
    assert_eq!(
        s.to_json(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}"#
    );
    let s = Status::not_found("apps", "deployments", "web");
    assert_eq!(s.message, r#"deployments.apps "web" not found"#);
    assert_eq!(s.details.as_ref().unwrap().group, "apps");
}

#[test]
fn round_trips_through_json() {
    let literal = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Pod \"x\" is invalid: metadata.name: Invalid value: \"X\": bad",
        "reason": "Invalid",
        "details": {
            "name": "x",
            "kind": "Pod",
            "causes": [{"reason": "FieldValueInvalid", "message": "Invalid value: \"X\": bad", "field": "metadata.name"}]
        },
        "code": 422
    });
    let parsed: Status = serde_json::from_value(literal.clone()).unwrap();
    assert_eq!(
        parsed,
        Status::invalid(
            "",
            "Pod",
            "x",
            &[FieldError::invalid("metadata.name", "X", "bad")]
        )
    );
    assert_eq!(serde_json::to_value(&parsed).unwrap(), literal);

    // A sparse body from another server still reads, with defaults filled in.
    let sparse: Status = serde_json::from_value(json!({"code": 500})).unwrap();
    assert_eq!(sparse.kind, "Status");
    assert_eq!(sparse.api_version, "v1");
    assert!(sparse.details.is_none());
}

#[test]
fn conflict_and_exists_messages() {
    let s = Status::conflict("", "pods", "x", OPTIMISTIC_LOCK_MESSAGE);
    assert_eq!(
        s.message,
        r#"Operation cannot be fulfilled on pods "x": the object has been modified; please apply your changes to the latest version and try again"#
    );
    assert_eq!((s.code, s.reason.as_str()), (409, reason::CONFLICT));
    let s = Status::already_exists("apps", "deployments", "web");
    assert_eq!(s.message, r#"deployments.apps "web" already exists"#);
    assert_eq!((s.code, s.reason.as_str()), (409, reason::ALREADY_EXISTS));
    let s = Status::generate_name_conflict("", "pods", "web-abcde", 1);
    assert!(
        s.message
            .ends_with("the server was not able to generate a unique name for the object")
    );
    assert_eq!(s.details.unwrap().retry_after_seconds, 1);
}

#[test]
fn invalid_aggregates_messages() {
    let errs = [
        FieldError::invalid("metadata.name", "X", "bad"),
        FieldError::required("spec.containers", ""),
    ];
    let s = Status::invalid("apps", "Deployment", "web", &errs);
    assert_eq!(
        s.message,
        r#"Deployment.apps "web" is invalid: [metadata.name: Invalid value: "X": bad, spec.containers: Required value]"#
    );
    let causes = &s.details.as_ref().unwrap().causes;
    assert_eq!(causes[1].reason, "FieldValueRequired");
    assert_eq!(causes[1].message, "Required value");
    assert_eq!(
        Status::invalid("", "Pod", "x", &[]).message,
        r#"Pod "x" is invalid"#
    );
}

#[test]
fn simple_failures() {
    let cases = [
        (
            Status::bad_request("nope"),
            400,
            reason::BAD_REQUEST,
            "nope",
        ),
        (
            Status::expired("too old resource version: 1 (5)"),
            410,
            reason::EXPIRED,
            "too old resource version: 1 (5)",
        ),
        (Status::gone("gone"), 410, reason::GONE, "gone"),
        (
            Status::unauthorized(),
            401,
            reason::UNAUTHORIZED,
            "Unauthorized",
        ),
        (
            Status::internal("disk full"),
            500,
            reason::INTERNAL_ERROR,
            "Internal error occurred: disk full",
        ),
        (
            Status::service_unavailable("starting"),
            503,
            reason::SERVICE_UNAVAILABLE,
            "starting",
        ),
        (
            Status::timeout("request did not complete within 60s", 0),
            504,
            reason::TIMEOUT,
            "Timeout: request did not complete within 60s",
        ),
        (
            Status::request_entity_too_large("limit is 3145728"),
            413,
            reason::REQUEST_ENTITY_TOO_LARGE,
            "Request entity too large: limit is 3145728",
        ),
        (
            Status::too_many_requests("slow down", 2),
            429,
            reason::TOO_MANY_REQUESTS,
            "slow down",
        ),
    ];
    for (s, code, reason, msg) in cases {
        assert_eq!(
            (s.code, s.reason.as_str(), s.message.as_str()),
            (code, reason, msg)
        );
        assert!(s.is_failure());
    }
}

#[test]
fn media_type_and_method_messages() {
    let s = Status::unsupported_media_type(&["application/json", "application/yaml"]);
    assert_eq!(s.code, 415);
    assert_eq!(
        s.message,
        "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
    );
    let s = Status::not_acceptable(&["application/json"]);
    assert_eq!(s.code, 406);
    assert_eq!(
        s.message,
        "only the following media types are accepted: application/json"
    );
    let s = Status::method_not_allowed("apps", "deployments", "watch");
    assert_eq!(s.code, 405);
    assert_eq!(
        s.message,
        r#"watch is not supported on resources of kind "deployments.apps""#
    );
}

#[test]
fn forbidden_variants() {
    let why = r#"User "bob" cannot get resource "pods" in API group "" in the namespace "default""#;
    assert_eq!(
        Status::forbidden("", "pods", "x", why).message,
        format!(r#"pods "x" is forbidden: {why}"#)
    );
    assert_eq!(
        Status::forbidden("", "pods", "", why).message,
        format!("pods is forbidden: {why}")
    );
    assert_eq!(Status::forbidden("", "", "", "no").message, "forbidden: no");
    assert_eq!(Status::forbidden("", "pods", "", why).code, 403);
}

#[test]
fn server_timeout_and_deleted() {
    let s = Status::server_timeout("", "pods", "create", 2);
    assert_eq!(
        s.message,
        "The create operation against pods could not be completed at this time, please try again."
    );
    assert_eq!((s.code, s.reason.as_str()), (500, reason::SERVER_TIMEOUT));
    let s = Status::deleted("apps", "deployments", "web", "1234");
    assert_eq!(
        s.to_json(),
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"web","group":"apps","kind":"deployments","uid":"1234"}}"#
    );
    assert!(!s.is_failure());
}
