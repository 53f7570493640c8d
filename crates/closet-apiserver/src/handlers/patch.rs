//! PATCH with `application/json-patch+json` (RFC 6902), `application/merge-patch+json`
//! (RFC 7386) and `application/strategic-merge-patch+json` (built-in kinds only, as
//! upstream). Server-side apply answers 415 until it is built.

use axum::response::Response;
use closet_types::FieldError;
use closet_types::params::{WriteParams, WriteVerb};
use serde_json::Value;

use super::update::apply;
use super::{Call, params_error, respond_object};
use crate::Shared;
use crate::codec::MAX_BODY_BYTES;
use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::registry::ResourceInfo;
use crate::strategy::{self, UpdateScope};

/// The patch formats understood.
pub(crate) enum PatchBody {
    /// RFC 6902 operations.
    Json(json_patch::Patch),
    /// RFC 7386 merge patch.
    Merge(Value),
    /// Strategic merge patch, driven by the kind's merge keys and patch strategies.
    Strategic(Value),
}

impl PatchBody {
    /// Decodes the body by its Content-Type.
    pub(crate) fn decode(call: &Call) -> ApiResult<Self> {
        let content_type = call.content_type().unwrap_or("");
        let media = content_type.split(';').next().unwrap_or("").trim();
        let strategic = media == "application/strategic-merge-patch+json";
        // Upstream refuses strategic merge patches on custom resources: their schemas carry
        // no merge keys.
        if strategic && call.info.custom.is_some() {
            return Err(ApiError::unsupported_media_type());
        }
        if !strategic
            && !matches!(
                media,
                "application/json-patch+json" | "application/merge-patch+json"
            )
        {
            return Err(ApiError::unsupported_media_type());
        }
        let body: Value = serde_json::from_slice(&call.body).map_err(|e| {
            ApiError::bad_request(format!("the patch could not be decoded as JSON: {e}"))
        })?;
        if media == "application/json-patch+json" {
            let ops = serde_json::from_value(body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            Ok(Self::Json(ops))
        } else if body.is_object() && strategic {
            Ok(Self::Strategic(body))
        } else if body.is_object() {
            Ok(Self::Merge(body))
        } else {
            Err(ApiError::bad_request("a merge patch must be a JSON object"))
        }
    }

    /// A `resourceVersion` inside a merge patch is a precondition, as upstream treats it.
    fn precondition(&self) -> ApiResult<Option<i64>> {
        let (Self::Merge(body) | Self::Strategic(body)) = self else {
            return Ok(None);
        };
        let rv = body
            .get("metadata")
            .and_then(|m| m.get("resourceVersion"))
            .and_then(Value::as_str);
        match rv {
            Some(rv) if !rv.is_empty() => Ok(Some(object::parse_revision(rv)?)),
            _ => Ok(None),
        }
    }

    /// Applies the patch to `target`.
    pub(crate) fn apply_to(
        &self,
        target: &Value,
        info: &ResourceInfo,
        name: &str,
    ) -> ApiResult<Value> {
        let mut patched = target.clone();
        match self {
            Self::Json(ops) => apply_json_patch(&mut patched, ops, info, name)?,
            Self::Merge(body) => json_patch::merge(&mut patched, body),
            Self::Strategic(body) => {
                // The target names its own kind (a Scale view is autoscaling/v1 Scale).
                let api_version = target
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
                let kind = target.get("kind").and_then(Value::as_str).unwrap_or("");
                patched = crate::merge_meta::apply((group, version, kind), target, body).map_err(
                    |err| {
                        let why = format!("the strategic merge patch could not be applied: {err}");
                        if err.is_unprocessable() {
                            ApiError::invalid(info, name, vec![FieldError::invalid("", "", why)])
                        } else {
                            ApiError::bad_request(why)
                        }
                    },
                )?;
            }
        }
        if serde_json::to_vec(&patched).map_or(0, |b| b.len()) > MAX_BODY_BYTES {
            return Err(ApiError::too_large(MAX_BODY_BYTES));
        }
        Ok(patched)
    }
}

/// Applies RFC 6902 operations one at a time, refusing what could hurt the server: a `move`
/// into the value's own child (the RFC forbids it), and results that nest deeper than
/// [`object::MAX_DEPTH`] or grow past the body limit, checked after every operation so a
/// few `copy` operations cannot double a document into gigabytes or a 100,000-deep chain.
fn apply_json_patch(
    target: &mut Value,
    ops: &json_patch::Patch,
    info: &ResourceInfo,
    name: &str,
) -> ApiResult<()> {
    use json_patch::PatchOperation;
    let invalid =
        |why: String| ApiError::invalid(info, name, vec![FieldError::invalid("", "", why)]);
    if ops.0.len() > MAX_OPERATIONS {
        return Err(ApiError::bad_request(format!(
            "the JSON patch has {} operations; at most {MAX_OPERATIONS} are accepted",
            ops.0.len()
        )));
    }
    // Growth is accounted per operation from what each one inserts, so checking stays
    // linear in the patch however many operations it has.
    let (_, mut size) = object::depth_and_size(target, object::MAX_DEPTH, MAX_BODY_BYTES);
    for op in &ops.0 {
        let (path, inserted, grows) = match op {
            PatchOperation::Add(a) => (a.path.to_string(), Some(&a.value), true),
            PatchOperation::Replace(r) => (r.path.to_string(), Some(&r.value), true),
            PatchOperation::Copy(c) => (
                c.path.to_string(),
                target.pointer(&c.from.to_string()),
                true,
            ),
            PatchOperation::Move(m) => {
                let (from, path) = (m.from.to_string(), m.path.to_string());
                if path.starts_with(&format!("{from}/")) {
                    return Err(invalid(format!(
                        "cannot move {from} into its own child {path}"
                    )));
                }
                (path, target.pointer(&from), false)
            }
            _ => (String::new(), None, false),
        };
        if let Some(value) = inserted {
            let (depth, added) = object::depth_and_size(value, object::MAX_DEPTH, MAX_BODY_BYTES);
            if depth + path.matches('/').count() > object::MAX_DEPTH {
                return Err(invalid(format!(
                    "the patched object would nest deeper than {} levels",
                    object::MAX_DEPTH
                )));
            }
            if grows {
                size += added;
            }
            if size > MAX_BODY_BYTES {
                return Err(ApiError::too_large(MAX_BODY_BYTES));
            }
        }
        json_patch::patch(target, std::slice::from_ref(op))
            .map_err(|e| invalid(format!("the JSON patch could not be applied: {e}")))?;
    }
    Ok(())
}

/// Most operations one JSON patch may carry, as upstream.
const MAX_OPERATIONS: usize = 10_000;

/// `PATCH .../{name}[/status]`.
pub(crate) async fn patch(shared: &Shared, call: Call, scope: UpdateScope) -> ApiResult<Response> {
    let params = WriteParams::parse(&call.query, WriteVerb::Patch).map_err(params_error)?;
    let body = PatchBody::decode(&call)?;
    let duplicates = crate::codec::duplicate_fields(&call.body);
    if params.field_validation == closet_types::FieldValidation::Strict && !duplicates.is_empty() {
        let fields: Vec<String> = duplicates
            .iter()
            .take(16)
            .map(|f| format!("duplicate field \"{f}\""))
            .collect();
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            fields.join(", ")
        )));
    }
    let precondition = body.precondition()?;
    let info = call.info.clone();
    let name = call.name().to_string();
    let (code, result) = apply(
        shared,
        &call,
        precondition,
        params.dry_run,
        true,
        |current| {
            let mut patched = body.apply_to(current, &info, &name)?;
            check_patched(current, &patched)?;
            // A malformed value (a bad timestamp) is the decoder's 400 before anything else.
            super::update::check_typed(&call, &patched)?;
            let errors = strategy::validate_identity(current, &patched);
            if !errors.is_empty() {
                return Err(ApiError::invalid(&info, &name, errors));
            }
            strategy::prepare_update(&info, current, &mut patched, scope);
            Ok(patched)
        },
    )
    .await?;
    Ok(respond_object(&call, code, &result))
}

/// A patch may not change what identifies an object.
fn check_patched(current: &Value, patched: &Value) -> ApiResult<()> {
    for field in ["kind", "apiVersion"] {
        if patched.get(field) != current.get(field) {
            return Err(ApiError::bad_request(format!(
                "a patch may not change {field}"
            )));
        }
    }
    if object::name(patched) != object::name(current)
        || object::meta_str(patched, "namespace") != object::meta_str(current, "namespace")
    {
        return Err(ApiError::bad_request(
            "a patch may not change the name or namespace",
        ));
    }
    Ok(())
}
