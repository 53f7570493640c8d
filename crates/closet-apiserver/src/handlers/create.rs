//! POST: create an object (and the pod `binding` subresource).

use axum::response::Response;
use closet_store::StoreError;
use closet_types::FieldError;
use closet_types::params::{WriteParams, WriteVerb};
use http::StatusCode;
use serde_json::{Value, json};

use super::{Call, params_error, respond_object, respond_value};
use crate::Shared;
use crate::codec::{self, Output};
use crate::error::{ApiError, ApiResult};
use crate::object::{self, meta_mut};
use crate::registry::ResourceInfo;
use crate::strategy;

/// Attempts at a unique name for `generateName` before giving up.
const GENERATE_NAME_ATTEMPTS: usize = 8;

/// `POST` on a collection.
pub(crate) async fn create(shared: &Shared, call: Call) -> ApiResult<Response> {
    let params = WriteParams::parse(&call.query, WriteVerb::Create).map_err(params_error)?;
    let mut obj = codec::decode_object(call.content_type(), &call.body)?;
    check_type_meta(&call.info, &mut obj)?;
    place_in_namespace(&call, &mut obj)?;
    let warnings = super::field_problems(&call, params.field_validation, &obj)?;
    super::update::check_typed(&call, &obj)?;
    crate::admission::on_create(&shared.config, &call.info, &mut obj);
    // A generated name is retried on collision; a name the client chose is not.
    let generate = object::meta_str(&obj, "generateName")
        .filter(|g| !g.is_empty() && object::name(&obj).is_empty())
        .map(str::to_string);
    if object::name(&obj).is_empty() && generate.is_none() {
        let required = FieldError::required("metadata.name", "name or generateName is required");
        return Err(ApiError::invalid(&call.info, "", vec![required]));
    }
    if let Some(ns) = call.namespace() {
        ensure_namespace_open(shared, &call.info, ns).await?;
        if call.info.is_core("pods") {
            crate::serviceaccount::admission::admit_pod(shared, ns, &mut obj).await?;
        }
    }
    super::storage::admit_create(shared, &call.info, &mut obj).await?;
    // Held until the store has the object, so concurrent creates draw different addresses.
    let _allocating = crate::services::lock(shared, &call.info).await;
    for attempt in 1..=GENERATE_NAME_ATTEMPTS {
        let mut candidate = obj.clone();
        if let Some(base) = &generate {
            let name = closet_types::names::generate_name(base, rand::random::<u32>);
            meta_mut(&mut candidate).insert("name".into(), json!(name));
        }
        strategy::prepare_create(&call.info, &mut candidate, jiff::Timestamp::now());
        super::fields::track(&call, None, &mut candidate);
        crate::services::admit_create(shared, &call.info, &mut candidate).await?;
        let name = object::name(&candidate).to_string();
        let errors = strategy::validate(&call.info, &candidate);
        if !errors.is_empty() {
            return Err(ApiError::invalid(&call.info, &name, errors));
        }
        if params.dry_run {
            let resp = respond_object(&call, StatusCode::CREATED, &candidate);
            return Ok(super::with_warnings(resp, &warnings));
        }
        let key = call.info.key_for(call.namespace(), &name);
        match shared
            .store
            .create(&key, object::to_stored(&candidate))
            .await
        {
            Ok(kv) => {
                object::set_resource_version(&mut candidate, kv.mod_revision);
                if call.info.is_core("namespaces") {
                    crate::bootstrap::ensure_default_service_account(shared, &name).await;
                }
                crate::crd::on_change(shared, &call.info, &candidate, false).await;
                let resp = respond_object(&call, StatusCode::CREATED, &candidate);
                return Ok(super::with_warnings(resp, &warnings));
            }
            Err(StoreError::AlreadyExists { .. })
                if generate.is_some() && attempt < GENERATE_NAME_ATTEMPTS => {}
            Err(err) => return Err(ApiError::from_store(err, &call.info, &name)),
        }
    }
    Err(ApiError::internal(
        "could not find a free generated name; try again",
    ))
}

/// Checks `apiVersion` and `kind` against the endpoint, filling them in when absent.
pub(crate) fn check_type_meta(info: &ResourceInfo, obj: &mut Value) -> ApiResult<()> {
    let api_version = info.api_version();
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body of the request must be an object",
        ));
    };
    for field in ["kind", "apiVersion"] {
        if map
            .get(field)
            .is_some_and(|v| !v.is_string() && !v.is_null())
        {
            return Err(ApiError::bad_request(format!("{field} must be a string")));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(info.kind));
        }
        Some(kind) if kind == info.kind => {}
        Some(kind) => {
            return Err(ApiError::bad_request(format!(
                "the kind of the provided object ({kind}) does not match the kind of the endpoint ({})",
                info.kind
            )));
        }
    }
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
    }
    Ok(())
}

/// Sets or checks `metadata.namespace` against the path, as upstream does.
pub(crate) fn place_in_namespace(call: &Call, obj: &mut Value) -> ApiResult<()> {
    let body_ns = object::meta_str(obj, "namespace").unwrap_or("").to_string();
    match call.namespace() {
        Some(ns) => {
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            meta_mut(obj).insert("namespace".into(), json!(ns));
        }
        None if call.info.namespaced => {
            return Err(ApiError::bad_request(
                "a namespace is required: create namespaced objects under /namespaces/{namespace}/",
            ));
        }
        None => {
            meta_mut(obj).remove("namespace");
        }
    }
    Ok(())
}

/// New objects go only into namespaces that exist and are not being deleted.
pub(crate) async fn ensure_namespace_open(
    shared: &Shared,
    info: &ResourceInfo,
    ns: &str,
) -> ApiResult<()> {
    let kv = shared
        .store
        .get(&format!("/core/namespaces/{ns}"))
        .await
        .map_err(ApiError::from_store_general)?
        .ok_or_else(|| ApiError::namespace_not_found(ns))?;
    if object::is_deleting(&object::from_kv(&kv)?) {
        return Err(ApiError::forbidden(
            info,
            "",
            &format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            ),
        ));
    }
    Ok(())
}

/// Sets the pod's PodScheduled condition to True, as upstream's binding does, replacing a
/// False one the scheduler wrote while no node fitted.
fn mark_scheduled(pod: &mut Value) {
    let Some(obj) = pod.as_object_mut() else {
        return;
    };
    let status = obj.entry("status").or_insert_with(|| json!({}));
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(conditions) = conditions.as_array_mut() else {
        return;
    };
    conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
    conditions.push(json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": object::timestamp(jiff::Timestamp::now()),
    }));
}

/// `POST pods/{name}/binding`: assigns a pod to a node, once.
pub(crate) async fn bind(shared: &Shared, call: Call) -> ApiResult<Response> {
    let binding = codec::decode_object(call.content_type(), &call.body)?;
    let Some(node) = binding
        .get("target")
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
    else {
        let required = FieldError::required("target.name", "the node to bind to");
        return Err(ApiError::invalid(&call.info, call.name(), vec![required]));
    };
    loop {
        let kv = shared
            .store
            .get(&call.key())
            .await
            .map_err(ApiError::from_store_general)?
            .ok_or_else(|| ApiError::not_found(&call.info, call.name()))?;
        let mut pod = object::from_kv(&kv)?;
        let bound = pod
            .get("spec")
            .and_then(|s| s.get("nodeName"))
            .and_then(Value::as_str);
        if let Some(bound) = bound.filter(|b| !b.is_empty()) {
            let why = format!("pod {} is already assigned to node {bound:?}", call.name());
            return Err(ApiError::conflict(&call.info, call.name(), &why));
        }
        if object::is_deleting(&pod) {
            let why = "pod is being deleted, cannot be assigned to a host";
            return Err(ApiError::conflict(&call.info, call.name(), why));
        }
        if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("nodeName".into(), json!(node));
        }
        mark_scheduled(&mut pod);
        match shared
            .store
            .update(&call.key(), object::to_stored(&pod), kv.mod_revision)
            .await
        {
            Ok(_) => {
                let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
                return Ok(respond_value(StatusCode::CREATED, &status, Output::Json));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(ApiError::from_store(err, &call.info, call.name())),
        }
    }
}
