//! `POST pods/{name}/eviction`: a policy/v1 Eviction, deleting a pod only if its
//! PodDisruptionBudget allows it (what `kubectl drain` calls).
//!
//! As upstream: a pod that is not running (Pending, Succeeded, Failed) or already being
//! deleted goes without a budget check; no matching budget deletes at once; more than one is
//! an internal error; one budget with `disruptionsAllowed > 0` is decremented and the pod
//! recorded in `disruptedPods` (a compare-and-swap on the budget, retried on conflict)
//! before the pod is deleted; otherwise 429 with a `DisruptionBudget` cause.

use std::collections::BTreeMap;

use axum::response::Response;
use closet_store::{ListRequest, StoreError};
use closet_types::Status;
use closet_types::params::DeleteOptions;
use closet_types::status::{StatusCause, StatusDetails, reason};
use http::StatusCode;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::{Value, json};

use super::{Call, params_error, respond_value};
use crate::Shared;
use crate::codec::{self, Output};
use crate::error::{ApiError, ApiResult};
use crate::object;

/// Attempts at the budget's compare-and-swap before giving up.
const CAS_RETRIES: usize = 16;
/// Most `disruptedPods` entries a budget may hold, as upstream.
const MAX_DISRUPTED_PODS: usize = 2000;

/// `POST .../pods/{name}/eviction`.
pub(crate) async fn evict(shared: &Shared, call: Call) -> ApiResult<Response> {
    let eviction = codec::decode_object(call.content_type(), &call.body)?;
    let named = object::name(&eviction);
    if !named.is_empty() && named != call.name() {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let options = DeleteOptions::from_request(&call.query, eviction.get("deleteOptions"))
        .map_err(params_error)?;
    let kv = shared
        .store
        .get(&call.key())
        .await
        .map_err(ApiError::from_store_general)?
        .ok_or_else(|| ApiError::not_found(&call.info, call.name()))?;
    let pod = object::from_kv(&kv)?;
    if !can_ignore_budget(&pod) {
        let budgets = matching_budgets(shared, &call, &pod).await?;
        match budgets.as_slice() {
            [] => {}
            [name] => take_from_budget(shared, &call, name, &pod, options.dry_run).await?,
            _ => {
                return Err(ApiError::internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ));
            }
        }
    }
    if !options.dry_run && !object::is_deleting(&pod) {
        mark_disruption_target(shared, &call, kv).await?;
    }
    super::delete::delete_pod(shared, &call, &options).await?;
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
    Ok(respond_value(StatusCode::CREATED, &status, Output::Json))
}

/// Records on the pod, before it is deleted, why it goes: the `DisruptionTarget` condition
/// with reason `EvictionByEvictionAPI`, as upstream does, so that a Job's pod failure policy
/// and whoever reads the pod can tell an eviction from a crash. Retries on conflicts with the
/// pod's newest version; a pod gone meanwhile is left to the delete that follows.
async fn mark_disruption_target(
    shared: &Shared,
    call: &Call,
    mut kv: closet_store::KeyValue,
) -> ApiResult<()> {
    for _ in 0..CAS_RETRIES {
        let mut pod = object::from_kv(&kv)?;
        let condition = json!({
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "EvictionByEvictionAPI",
            "message": "Eviction API: evicting",
            "lastTransitionTime": object::timestamp(jiff::Timestamp::now()),
        });
        let Some(status) = pod
            .as_object_mut()
            .map(|p| p.entry("status").or_insert_with(|| json!({})))
        else {
            return Ok(());
        };
        if !status.is_object() {
            *status = json!({});
        }
        let conditions = status
            .as_object_mut()
            .map(|s| s.entry("conditions").or_insert_with(|| json!([])));
        if let Some(list) = conditions {
            if !list.is_array() {
                *list = json!([]);
            }
            if let Some(items) = list.as_array_mut() {
                items.retain(|c| c.get("type").and_then(Value::as_str) != Some("DisruptionTarget"));
                items.push(condition);
            }
        }
        match shared
            .store
            .update(&call.key(), object::to_stored(&pod), kv.mod_revision)
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => {
                match shared
                    .store
                    .get(&call.key())
                    .await
                    .map_err(ApiError::from_store_general)?
                {
                    Some(newer) => kv = newer,
                    None => return Ok(()),
                }
            }
            Err(err) => return Err(ApiError::from_store(err, &call.info, call.name())),
        }
    }
    Err(ApiError::conflict(
        &call.info,
        call.name(),
        "the pod changed too often while being evicted; try again",
    ))
}

/// Pods that are not running, or already going, need no budget (upstream's canIgnorePDB).
fn can_ignore_budget(pod: &Value) -> bool {
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    object::is_deleting(pod) || matches!(phase, Some("Succeeded" | "Failed" | "Pending"))
}

/// The names of the budgets in the pod's namespace whose selector matches it.
async fn matching_budgets(shared: &Shared, call: &Call, pod: &Value) -> ApiResult<Vec<String>> {
    let labels: BTreeMap<String, String> =
        serde_json::from_value(Value::Object(object::labels(pod))).unwrap_or_default();
    if labels.is_empty() {
        return Ok(Vec::new());
    }
    let Some(info) = shared.registry.get("policy", "v1", "poddisruptionbudgets") else {
        return Ok(Vec::new());
    };
    let items = shared
        .store
        .list(ListRequest {
            prefix: info.prefix_for(call.namespace()),
            ..ListRequest::default()
        })
        .await
        .map_err(ApiError::from_store_general)?
        .items;
    let mut out = Vec::new();
    for kv in items {
        let pdb = object::from_kv(&kv)?;
        let selector: Option<LabelSelector> = pdb
            .pointer("/spec/selector")
            .and_then(|s| serde_json::from_value(s.clone()).ok());
        // A budget without a selector selects nothing; an empty one, everything (policy/v1).
        if selector.is_some_and(|s| selects(&s, &labels)) {
            out.push(object::name(&pdb).to_string());
        }
    }
    Ok(out)
}

/// Label-selector matching (matchLabels and matchExpressions).
fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_label = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    by_label
        && selector.match_expressions.iter().flatten().all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            let value = labels.get(&e.key);
            match e.operator.as_str() {
                "In" => value.is_some_and(|v| values.contains(v)),
                "NotIn" => value.is_none_or(|v| !values.contains(v)),
                "Exists" => value.is_some(),
                "DoesNotExist" => value.is_none(),
                _ => false,
            }
        })
}

/// Decrements the pod's single budget, or says why it may not go.
async fn take_from_budget(
    shared: &Shared,
    call: &Call,
    name: &str,
    pod: &Value,
    dry_run: bool,
) -> ApiResult<()> {
    let Some(info) = shared.registry.get("policy", "v1", "poddisruptionbudgets") else {
        return Ok(());
    };
    let key = info.key_for(call.namespace(), name);
    for _ in 0..CAS_RETRIES {
        let Some(kv) = shared
            .store
            .get(&key)
            .await
            .map_err(ApiError::from_store_general)?
        else {
            // The budget went away meanwhile: nothing protects the pod any more.
            return Ok(());
        };
        let mut pdb = object::from_kv(&kv)?;
        let int = |path: &str| pdb.pointer(path).and_then(Value::as_i64).unwrap_or(0);
        let healthy = int("/status/currentHealthy");
        let desired = int("/status/desiredHealthy");
        if !is_ready(pod) {
            let policy = pdb
                .pointer("/spec/unhealthyPodEvictionPolicy")
                .and_then(Value::as_str);
            // An unready pod does not count against the budget when the budget is met (or
            // always, with AlwaysAllow).
            if policy == Some("AlwaysAllow") || (healthy >= desired && desired > 0) {
                return Ok(());
            }
        }
        if int("/status/observedGeneration") < int("/metadata/generation") {
            return Err(too_many_requests(format!(
                "The disruption budget {name} is still being processed by the server."
            )));
        }
        let allowed = int("/status/disruptionsAllowed");
        if allowed < 0 {
            return Err(ApiError::forbidden(
                &info,
                name,
                "pdb disruptions allowed is negative",
            ));
        }
        let disrupted = pdb
            .pointer("/status/disruptedPods")
            .and_then(Value::as_object)
            .map_or(0, serde_json::Map::len);
        if disrupted > MAX_DISRUPTED_PODS {
            return Err(ApiError::forbidden(
                &info,
                name,
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
            ));
        }
        if allowed == 0 {
            return Err(too_many_requests(format!(
                "The disruption budget {name} needs {desired} healthy pods and has {healthy} currently"
            )));
        }
        if dry_run {
            return Ok(());
        }
        let now = object::timestamp(jiff::Timestamp::now());
        let mut status = pdb
            .get("status")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        status.insert("disruptionsAllowed".into(), json!(allowed - 1));
        let mut disrupted_pods = status
            .get("disruptedPods")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        disrupted_pods.insert(object::name(pod).to_string(), json!(now));
        status.insert("disruptedPods".into(), Value::Object(disrupted_pods));
        if let Some(map) = pdb.as_object_mut() {
            map.insert("status".into(), Value::Object(status));
        }
        match shared
            .store
            .update(&key, object::to_stored(&pdb), kv.mod_revision)
            .await
        {
            Ok(_) => return Ok(()),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(ApiError::from_store(err, &info, name)),
        }
    }
    Err(ApiError::conflict(
        &info,
        name,
        "too many concurrent evictions; try again",
    ))
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// 429 as upstream: the fixed message, and a `DisruptionBudget` cause saying which.
fn too_many_requests(cause: String) -> ApiError {
    Status::new(
        closet_types::status::FAILURE,
        429,
        reason::TOO_MANY_REQUESTS,
        "Cannot evict pod as it would violate the pod's disruption budget.",
    )
    .with_details(StatusDetails {
        causes: vec![StatusCause {
            reason: "DisruptionBudget".into(),
            message: cause,
            ..Default::default()
        }],
        retry_after_seconds: 10,
        ..Default::default()
    })
    .into()
}
