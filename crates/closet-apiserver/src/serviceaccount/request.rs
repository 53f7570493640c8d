//! `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`: a TokenRequest
//! (authentication.k8s.io/v1) in, the same object with `status.token` and
//! `status.expirationTimestamp` out, as upstream's token REST storage answers.

use axum::response::Response;
use closet_types::{FieldError, Status};
use http::StatusCode;
use serde_json::{Value, json};

use super::jwt::{self, Claims, KubernetesClaim, ObjectRef};
use super::{TokenAuthority, get_core, uid, unix_now};
use crate::Shared;
use crate::codec;
use crate::error::{ApiError, ApiResult};
use crate::handlers::Call;
use crate::object;

/// Lifetime of a token whose request names none.
pub(crate) const DEFAULT_EXPIRATION_SECONDS: i64 = 3600;
/// Shortest lifetime a request may ask for (upstream: ten minutes).
pub(crate) const MIN_EXPIRATION_SECONDS: i64 = 600;
/// Longest lifetime a request may ask for (upstream: 2^32 seconds).
const MAX_EXPIRATION_SECONDS: i64 = 1 << 32;

const GROUP: &str = "authentication.k8s.io";
const KIND: &str = "TokenRequest";

/// What a validated request asks for.
struct Wanted {
    audiences: Vec<String>,
    expiration_seconds: i64,
    bound: Option<(String, String, Option<String>)>,
}

/// Issues a token for the service account the path names.
pub(crate) async fn create(shared: &Shared, call: Call) -> ApiResult<Response> {
    let authority = shared.tokens.get().ok_or_else(|| {
        ApiError::from(Status::new(
            "Failure",
            503,
            "ServiceUnavailable",
            "this server issues no service account tokens: it has no signing key",
        ))
    })?;
    let namespace = call.namespace().unwrap_or_default().to_owned();
    let name = call.name().to_owned();
    let mut request = codec::decode_object(call.content_type(), &call.body)?;
    check_type_meta(&mut request)?;
    let wanted = validate(&request, authority, &name)?;

    let account = get_core(shared, "serviceaccounts", Some(&namespace), &name)
        .await?
        .ok_or_else(|| ApiError::from(Status::not_found("", "serviceaccounts", &name)))?;
    let now = unix_now();
    let mut kubernetes = KubernetesClaim {
        namespace: namespace.clone(),
        serviceaccount: ObjectRef {
            name: name.clone(),
            uid: uid(&account).to_owned(),
        },
        pod: None,
        node: None,
        secret: None,
    };
    if let Some((kind, bound_name, bound_uid)) = &wanted.bound {
        bind(
            shared,
            &namespace,
            &name,
            kind,
            bound_name,
            bound_uid.as_deref(),
            &mut kubernetes,
        )
        .await?;
    }
    let claims = Claims {
        iss: authority.issuer.clone(),
        sub: super::user_name(&namespace, &name),
        aud: wanted.audiences.clone(),
        exp: now + wanted.expiration_seconds,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::new_v4().to_string(),
        kubernetes,
    };
    let token =
        jwt::encode(&claims, &authority.key).map_err(|e| ApiError::internal(&e.to_string()))?;
    let expires = jiff::Timestamp::from_second(claims.exp)
        .map_err(|_| ApiError::internal("the token's expiry is out of range"))?;
    let created = jiff::Timestamp::from_second(now).unwrap_or_else(|_| jiff::Timestamp::now());

    let map = request
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body of the request must be an object"))?;
    let metadata = map.entry("metadata").or_insert_with(|| json!({}));
    if let Some(meta) = metadata.as_object_mut() {
        meta.insert("name".into(), json!(name));
        meta.insert("namespace".into(), json!(namespace));
        meta.insert(
            "creationTimestamp".into(),
            json!(object::timestamp(created)),
        );
    }
    let spec = map.entry("spec").or_insert_with(|| json!({}));
    if let Some(spec) = spec.as_object_mut() {
        spec.insert("audiences".into(), json!(wanted.audiences));
        spec.insert("expirationSeconds".into(), json!(wanted.expiration_seconds));
    }
    map.insert(
        "status".into(),
        json!({"token": token, "expirationTimestamp": object::timestamp(expires)}),
    );
    Ok(crate::handlers::respond_value(
        StatusCode::CREATED,
        &request,
        call.output,
    ))
}

fn check_type_meta(request: &mut Value) -> ApiResult<()> {
    let Some(map) = request.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body of the request must be an object",
        ));
    };
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") | Some(KIND) => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "the kind of the provided object ({other}) does not match the kind of the endpoint ({KIND})"
            )));
        }
    }
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") | Some("authentication.k8s.io/v1") => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({other}) does not match the expected API version (authentication.k8s.io/v1)"
            )));
        }
    }
    map.insert("kind".into(), json!(KIND));
    map.insert("apiVersion".into(), json!("authentication.k8s.io/v1"));
    Ok(())
}

/// Checks the spec and fills in its defaults.
fn validate(request: &Value, authority: &TokenAuthority, name: &str) -> ApiResult<Wanted> {
    let spec = request.get("spec").cloned().unwrap_or(json!({}));
    let mut errors = Vec::new();
    let audiences: Vec<String> = match spec.get("audiences") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a.as_str() {
                Some(a) => Some(a.to_owned()),
                None => {
                    errors.push(FieldError::invalid(
                        format!("spec.audiences[{i}]"),
                        a.to_string(),
                        "must be a string",
                    ));
                    None
                }
            })
            .collect(),
        Some(other) => {
            errors.push(FieldError::invalid(
                "spec.audiences",
                other.to_string(),
                "must be a list",
            ));
            Vec::new()
        }
    };
    let audiences = if audiences.is_empty() {
        authority.audiences.clone()
    } else {
        audiences
    };
    let expiration_seconds = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION_SECONDS,
        Some(v) => v.as_i64().unwrap_or(-1),
    };
    if expiration_seconds < MIN_EXPIRATION_SECONDS {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            expiration_seconds,
            "may not specify a duration less than 10 minutes",
        ));
    } else if expiration_seconds > MAX_EXPIRATION_SECONDS {
        errors.push(FieldError::invalid(
            "spec.expirationSeconds",
            expiration_seconds,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    if !errors.is_empty() {
        return Err(Status::invalid(GROUP, KIND, name, &errors).into());
    }
    let bound = match spec.get("boundObjectRef") {
        None | Some(Value::Null) => None,
        Some(r) => Some(bound_ref(r)?),
    };
    Ok(Wanted {
        audiences,
        expiration_seconds,
        bound,
    })
}

/// `(kind, name, uid)` of a `boundObjectRef`; only core/v1 Pods, Secrets and Nodes can hold
/// a token, as upstream allows.
fn bound_ref(r: &Value) -> ApiResult<(String, String, Option<String>)> {
    let field = |f: &str| r.get(f).and_then(Value::as_str).unwrap_or("").to_owned();
    let (kind, api_version, name, uid) = (
        field("kind"),
        field("apiVersion"),
        field("name"),
        field("uid"),
    );
    let core = api_version.is_empty() || api_version == "v1";
    if !core || !matches!(kind.as_str(), "Pod" | "Secret" | "Node") {
        let gvk = if api_version.is_empty() {
            kind.clone()
        } else {
            format!("{api_version}, Kind={kind}")
        };
        return Err(ApiError::bad_request(format!(
            "cannot bind token to object of type {gvk}"
        )));
    }
    if name.is_empty() {
        return Err(ApiError::bad_request("boundObjectRef.name is required"));
    }
    Ok((kind, name, (!uid.is_empty()).then_some(uid)))
}

/// Looks the bound object up, checks it, and names it (and a pod's node) in the claim.
async fn bind(
    shared: &Shared,
    namespace: &str,
    account: &str,
    kind: &str,
    name: &str,
    want_uid: Option<&str>,
    claim: &mut KubernetesClaim,
) -> ApiResult<()> {
    let (plural, ns) = match kind {
        "Pod" => ("pods", Some(namespace)),
        "Secret" => ("secrets", Some(namespace)),
        _ => ("nodes", None),
    };
    let obj = get_core(shared, plural, ns, name)
        .await?
        .ok_or_else(|| ApiError::from(Status::not_found("", plural, name)))?;
    let found_uid = uid(&obj).to_owned();
    if want_uid.is_some_and(|u| u != found_uid) {
        return Err(Status::conflict(
            "",
            plural,
            name,
            &format!("the UID in the bound object reference ({}) does not match the UID in record. The object might have been deleted and then recreated", want_uid.unwrap_or_default()),
        )
        .into());
    }
    let reference = ObjectRef {
        name: name.to_owned(),
        uid: found_uid,
    };
    match kind {
        "Pod" => {
            let runs_as = obj
                .pointer("/spec/serviceAccountName")
                .and_then(Value::as_str)
                .unwrap_or("default");
            if runs_as != account {
                return Err(ApiError::bad_request(format!(
                    "cannot bind token for serviceaccount {account:?} to pod running with different serviceaccount name."
                )));
            }
            // The node a pod runs on goes into the claim, so a token can be traced (and
            // later refused) by node too.
            if let Some(node) = obj.pointer("/spec/nodeName").and_then(Value::as_str)
                && !node.is_empty()
                && let Some(node_obj) = get_core(shared, "nodes", None, node).await?
            {
                claim.node = Some(ObjectRef {
                    name: node.to_owned(),
                    uid: uid(&node_obj).to_owned(),
                });
            }
            claim.pod = Some(reference);
        }
        "Secret" => claim.secret = Some(reference),
        _ => claim.node = Some(reference),
    }
    Ok(())
}
