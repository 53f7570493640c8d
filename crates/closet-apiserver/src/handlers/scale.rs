//! The `scale` subresource of deployments, replicasets and statefulsets: an
//! `autoscaling/v1` Scale view of `spec.replicas` (kubectl-wire.md §1.19).

use axum::response::Response;
use closet_types::FieldError;
use closet_types::params::{WriteParams, WriteVerb};
use http::StatusCode;
use serde_json::{Value, json};

use super::update::apply;
use super::{Call, params_error, respond_value};
use crate::Shared;
use crate::codec;
use crate::error::{ApiError, ApiResult};
use crate::object;

/// The Scale view of a scalable object.
fn to_scale(obj: &Value) -> Value {
    let meta = object::meta(obj);
    let pick = |f: &str| meta.and_then(|m| m.get(f)).cloned().unwrap_or(Value::Null);
    let spec_replicas = obj
        .get("spec")
        .and_then(|s| s.get("replicas"))
        .and_then(Value::as_i64);
    let status_replicas = obj
        .get("status")
        .and_then(|s| s.get("replicas"))
        .and_then(Value::as_i64);
    let selector = obj
        .get("spec")
        .and_then(|s| s.get("selector"))
        .and_then(|s| closet_types::LabelSelector::from_json(s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    let mut metadata = json!({
        "name": pick("name"),
        "namespace": pick("namespace"),
        "uid": pick("uid"),
        "resourceVersion": pick("resourceVersion"),
        "creationTimestamp": pick("creationTimestamp"),
    });
    if let Some(m) = metadata.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        // Upstream defaults an absent replicas field to 1 for these kinds.
        "spec": {"replicas": spec_replicas.unwrap_or(1)},
        "status": {"replicas": status_replicas.unwrap_or(0), "selector": selector},
    })
}

/// `GET .../{name}/scale`.
pub(crate) async fn get(shared: &Shared, call: Call) -> ApiResult<Response> {
    let kv = shared
        .store
        .get(&call.key())
        .await
        .map_err(ApiError::from_store_general)?
        .ok_or_else(|| ApiError::not_found(&call.info, call.name()))?;
    Ok(respond_value(
        StatusCode::OK,
        &to_scale(&object::from_kv(&kv)?),
        call.output,
    ))
}

/// How a write changes the Scale.
enum Change {
    /// PATCH of the Scale view.
    Patch(super::patch::PatchBody),
    /// PUT of a whole Scale.
    Replace(Value),
}

/// `PUT .../{name}/scale` (a whole Scale) and `PATCH .../{name}/scale` (JSON or merge patch
/// of the Scale view).
pub(crate) async fn write(shared: &Shared, call: Call, is_patch: bool) -> ApiResult<Response> {
    let verb = if is_patch {
        WriteVerb::Patch
    } else {
        WriteVerb::Update
    };
    let params = WriteParams::parse(&call.query, verb).map_err(params_error)?;
    let change = if is_patch {
        Change::Patch(super::patch::PatchBody::decode(&call)?)
    } else {
        Change::Replace(codec::decode_object(call.content_type(), &call.body)?)
    };
    let precondition = match &change {
        Change::Replace(scale) => match object::meta_str(scale, "resourceVersion") {
            Some(rv) if !rv.is_empty() => Some(object::parse_revision(rv)?),
            _ => None,
        },
        Change::Patch(_) => None,
    };
    let info = call.info.clone();
    let name = call.name().to_string();
    let (_, updated) = apply(
        shared,
        &call,
        precondition,
        params.dry_run,
        true,
        |current| {
            let scale = match &change {
                Change::Patch(patch) => patch.apply_to(&to_scale(current), &info, &name)?,
                Change::Replace(scale) => scale.clone(),
            };
            let replicas = scale.get("spec").and_then(|s| s.get("replicas"));
            let Some(replicas) = replicas.and_then(Value::as_i64).filter(|r| *r >= 0) else {
                let shown = replicas.map(Value::to_string).unwrap_or_default();
                let why = "must be greater than or equal to 0";
                return Err(ApiError::invalid(
                    &info,
                    &name,
                    vec![FieldError::invalid("spec.replicas", shown, why)],
                ));
            };
            let mut next = current.clone();
            if let Some(spec) = next.get_mut("spec").and_then(Value::as_object_mut) {
                spec.insert("replicas".into(), json!(replicas));
            }
            crate::strategy::prepare_update(
                &info,
                current,
                &mut next,
                crate::strategy::UpdateScope::Main,
            );
            Ok(next)
        },
    )
    .await?;
    Ok(respond_value(
        StatusCode::OK,
        &to_scale(&updated),
        call.output,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view() {
        let deploy = json!({
            "metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "7"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"replicas": 2},
        });
        let scale = to_scale(&deploy);
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(
            scale["status"],
            json!({"replicas": 2, "selector": "app=web"})
        );
        assert_eq!(scale["metadata"]["resourceVersion"], "7");
        assert_eq!(to_scale(&json!({}))["spec"]["replicas"], 1);
    }
}
