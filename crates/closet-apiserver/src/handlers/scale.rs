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

/// Where a kind keeps its replica counts: `spec.replicas` and `status.replicas`, or the
/// paths a CustomResourceDefinition's scale subresource declares (`.spec.size`).
struct ReplicaPaths {
    spec: Vec<String>,
    status: Vec<String>,
}

impl ReplicaPaths {
    fn of(info: &crate::registry::ResourceInfo) -> Self {
        let split = |p: &str| {
            p.split('.')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        match info.custom.as_ref().and_then(|c| c.scale.as_ref()) {
            Some(paths) => Self {
                spec: split(&paths.spec_replicas),
                status: split(&paths.status_replicas),
            },
            None => Self {
                spec: split("spec.replicas"),
                status: split("status.replicas"),
            },
        }
    }
}

fn read(obj: &Value, path: &[String]) -> Option<i64> {
    path.iter().try_fold(obj, |v, p| v.get(p))?.as_i64()
}

/// Sets the integer at `path`, creating the objects on the way.
fn write_at(obj: &mut Value, path: &[String], value: i64) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for p in parents {
        if !cur.get(p).is_some_and(Value::is_object)
            && let Some(map) = cur.as_object_mut()
        {
            map.insert(p.clone(), json!({}));
        }
        let Some(next) = cur.get_mut(p) else { return };
        cur = next;
    }
    if let Some(map) = cur.as_object_mut() {
        map.insert(last.clone(), json!(value));
    }
}

/// The Scale view of a scalable object.
fn to_scale(obj: &Value, paths: &ReplicaPaths) -> Value {
    let meta = object::meta(obj);
    let pick = |f: &str| meta.and_then(|m| m.get(f)).cloned().unwrap_or(Value::Null);
    let spec_replicas = read(obj, &paths.spec);
    let status_replicas = read(obj, &paths.status);
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
        &to_scale(&object::from_kv(&kv)?, &ReplicaPaths::of(&call.info)),
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
    let paths = ReplicaPaths::of(&info);
    let name = call.name().to_string();
    let (_, updated) = apply(
        shared,
        &call,
        precondition,
        params.dry_run,
        true,
        |current| {
            let scale = match &change {
                Change::Patch(patch) => patch.apply_to(&to_scale(current, &paths), &info, &name)?,
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
            write_at(&mut next, &paths.spec, replicas);
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
        &to_scale(&updated, &ReplicaPaths::of(&call.info)),
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
        let paths = ReplicaPaths {
            spec: vec!["spec".into(), "replicas".into()],
            status: vec!["status".into(), "replicas".into()],
        };
        let scale = to_scale(&deploy, &paths);
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(
            scale["status"],
            json!({"replicas": 2, "selector": "app=web"})
        );
        assert_eq!(scale["metadata"]["resourceVersion"], "7");
        assert_eq!(to_scale(&json!({}), &paths)["spec"]["replicas"], 1);
    }
}
