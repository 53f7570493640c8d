//! Review kinds: `kubectl auth whoami` (SelfSubjectReview), `kubectl auth can-i`
//! (SelfSubjectAccessReview, SelfSubjectRulesReview) and TokenReview (is this service
//! account token good?). The answer is computed and returned; nothing is stored.
//!
//! closet does not enforce RBAC yet: every authenticated user may do everything. The access
//! reviews say exactly that, rather than pretending to a policy that is not applied.

use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use super::create::check_type_meta;
use super::{Call, respond_value};
use crate::Shared;
use crate::codec;
use crate::error::{ApiError, ApiResult};

/// What every access review answers until authorization is enforced.
const NOT_ENFORCED: &str = "closet does not enforce RBAC yet: every authenticated user is allowed";

/// `POST` of a review kind.
pub(crate) async fn create(shared: &Shared, call: Call) -> ApiResult<Response> {
    let mut review = codec::decode_object(call.content_type(), &call.body)?;
    check_type_meta(&call.info, &mut review)?;
    let user = call.user.clone().ok_or_else(ApiError::unauthorized)?;
    let status = match call.info.kind.as_str() {
        "SelfSubjectReview" => {
            let mut groups = user.groups.clone();
            groups.push("system:authenticated".into());
            json!({"userInfo": {"username": user.name, "groups": groups}})
        }
        "TokenReview" => token_review(shared, &review).await,
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

/// The status of a TokenReview: who the token authenticates as, or why it does not.
async fn token_review(shared: &Shared, review: &serde_json::Value) -> serde_json::Value {
    let token = review
        .pointer("/spec/token")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("");
    let wanted: Option<Vec<String>> = review
        .pointer("/spec/audiences")
        .and_then(serde_json::Value::as_array)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        });
    let result = crate::serviceaccount::authn::authenticate(shared, token, wanted.as_deref()).await;
    let audiences = wanted.unwrap_or_else(|| {
        shared
            .tokens
            .get()
            .map(|t| t.audiences.clone())
            .unwrap_or_default()
    });
    match result {
        Ok(user) => {
            let mut groups = user.groups.clone();
            groups.push("system:authenticated".into());
            json!({
                "authenticated": true,
                "user": {"username": user.name, "groups": groups},
                "audiences": audiences,
            })
        }
        Err(err) => json!({"authenticated": false, "error": err.to_string()}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_enforced_is_said_plainly() {
        assert!(NOT_ENFORCED.contains("does not enforce"));
    }
}
