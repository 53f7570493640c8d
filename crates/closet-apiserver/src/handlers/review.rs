//! Review kinds: `kubectl auth whoami` (SelfSubjectReview) and `kubectl auth can-i`
//! (SelfSubjectAccessReview, SelfSubjectRulesReview). The answer is computed from the
//! caller's identity and returned; nothing is stored.
//!
//! closet does not enforce RBAC yet: every authenticated user may do everything. The access
//! reviews say exactly that, rather than pretending to a policy that is not applied.

use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use super::create::check_type_meta;
use super::{Call, respond_value};
use crate::codec;
use crate::error::{ApiError, ApiResult};

/// What every access review answers until authorization is enforced.
const NOT_ENFORCED: &str = "closet does not enforce RBAC yet: every authenticated user is allowed";

/// `POST` of a review kind.
pub(crate) fn create(call: Call) -> ApiResult<Response> {
    let mut review = codec::decode_object(call.content_type(), &call.body)?;
    check_type_meta(&call.info, &mut review)?;
    let user = call.user.clone().ok_or_else(ApiError::unauthorized)?;
    let status = match call.info.kind.as_str() {
        "SelfSubjectReview" => {
            let mut groups = user.groups.clone();
            groups.push("system:authenticated".into());
            json!({"userInfo": {"username": user.name, "groups": groups}})
        }
        "SelfSubjectAccessReview" => json!({"allowed": true, "reason": NOT_ENFORCED}),
        "SelfSubjectRulesReview" => json!({
            "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
            "incomplete": false,
        }),
        other => {
            return Err(ApiError::bad_request(format!(
                "{other} is not a review kind"
            )));
        }
    };
    if let Some(map) = review.as_object_mut() {
        map.entry("metadata").or_insert_with(|| json!({}));
        map.insert("status".into(), status);
    }
    Ok(respond_value(StatusCode::CREATED, &review, call.output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_enforced_is_said_plainly() {
        assert!(NOT_ENFORCED.contains("does not enforce"));
    }
}
