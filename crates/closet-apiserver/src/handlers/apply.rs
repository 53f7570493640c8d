//! Server-side apply: `PATCH` with `application/apply-patch+yaml` (kubectl-wire.md §1.7).
//! The configuration is merged into the live object (or creates it) by closet-fieldmanager,
//! which tracks ownership in `managedFields` and refuses to change fields another manager
//! owns unless `force=true`.

use axum::response::Response;
use closet_store::StoreError;
use closet_types::FieldError;
use closet_types::params::{WriteParams, WriteVerb};
use closet_types::status::{FAILURE, Status, StatusCause, StatusDetails};
use http::StatusCode;
use serde_json::{Value, json};

use super::create::{check_type_meta, place_in_namespace};
use super::update::{apply as read_modify_write, check_typed};
use super::{Call, params_error, respond_object};
use crate::Shared;
use crate::codec;
use crate::error::{ApiError, ApiResult};
use crate::object::{self, meta_mut};
use crate::strategy::{self, UpdateScope};

/// `PATCH .../{name}` with an apply configuration.
pub(crate) async fn server_side_apply(shared: &Shared, call: Call) -> ApiResult<Response> {
    let params = WriteParams::parse(&call.query, WriteVerb::Patch).map_err(params_error)?;
    let Some(manager) = params.field_manager.clone().filter(|m| !m.is_empty()) else {
        let required = FieldError::required("fieldManager", "is required for apply patch");
        return Err(Status::invalid("meta.k8s.io", "PatchOptions", "", &[required]).into());
    };
    // An apply configuration is YAML; JSON is YAML too.
    let mut config = codec::decode_object(Some("application/yaml"), &call.body)?;
    for field in ["apiVersion", "kind"] {
        if config
            .get(field)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(ApiError::bad_request(format!(
                "{field} must be set in an apply configuration"
            )));
        }
    }
    check_type_meta(&call.info, &mut config)?;
    place_in_namespace(&call, &mut config)?;
    match object::meta_str(&config, "name") {
        Some(n) if n == call.name() => {}
        None | Some("") => {
            meta_mut(&mut config).insert("name".into(), json!(call.name()));
        }
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({})",
                call.name()
            )));
        }
    }
    let now = object::timestamp(jiff::Timestamp::now());
    let api_version = call.info.api_version();
    let request = closet_fieldmanager::Request::new(&manager, &api_version, &now);
    let merge = |live: Option<&Value>| -> ApiResult<Value> {
        let managed = live
            .map(closet_fieldmanager::ManagedFields::from_object)
            .unwrap_or_default();
        crate::merge_meta::with_apply_schema(call.gvk(), |schema| {
            closet_fieldmanager::apply(live, &config, &managed, &request, params.force, schema)
        })
        .map(|applied| applied.object)
        .map_err(|err| apply_error(&call, err))
    };
    loop {
        let exists = shared
            .store
            .get(&call.key())
            .await
            .map_err(ApiError::from_store_general)?
            .is_some();
        if exists {
            let (code, result) =
                read_modify_write(shared, &call, None, params.dry_run, false, |current| {
                    let mut next = merge(Some(current))?;
                    strategy::prepare_update(&call.info, current, &mut next, UpdateScope::Main);
                    Ok(next)
                })
                .await?;
            return Ok(respond_object(&call, code, &result));
        }
        let mut created = merge(None)?;
        if let Some(ns) = call.namespace() {
            super::create::ensure_namespace_open(shared, &call.info, ns).await?;
            if call.info.is_core("pods") {
                crate::serviceaccount::admission::admit_pod(shared, ns, &mut created).await?;
            }
        }
        super::storage::admit_create(shared, &call.info, &mut created).await?;
        strategy::prepare_create(&call.info, &mut created, jiff::Timestamp::now());
        check_typed(&call, &created)?;
        crate::admission::on_create(&shared.config, &call.info, &mut created);
        let _allocating = crate::services::lock(shared, &call.info).await;
        crate::services::admit_create(shared, &call.info, &mut created).await?;
        let errors = strategy::validate(&call.info, &created);
        if !errors.is_empty() {
            return Err(ApiError::invalid(&call.info, call.name(), errors));
        }
        if params.dry_run {
            return Ok(respond_object(&call, StatusCode::CREATED, &created));
        }
        match shared
            .store
            .create(&call.key(), object::to_stored(&created))
            .await
        {
            Ok(kv) => {
                object::set_resource_version(&mut created, kv.mod_revision);
                crate::crd::on_change(shared, &call.info, &created, false).await;
                return Ok(respond_object(&call, StatusCode::CREATED, &created));
            }
            // Created by someone else meanwhile: apply to theirs.
            Err(StoreError::AlreadyExists { .. }) => continue,
            Err(err) => return Err(ApiError::from_store(err, &call.info, call.name())),
        }
    }
}

/// The Status for a failed apply: conflicts are a 409 with one `FieldManagerConflict` cause
/// per field, as kubectl prints them.
fn apply_error(call: &Call, err: closet_fieldmanager::ApplyError) -> ApiError {
    use closet_fieldmanager::ApplyError;
    match err {
        ApplyError::Conflict(conflicts) => {
            let causes = conflicts
                .iter()
                .map(|c| StatusCause {
                    reason: "FieldManagerConflict".into(),
                    message: c.message(),
                    field: c.field(),
                })
                .collect();
            let details = StatusDetails {
                name: call.name().to_string(),
                group: call.info.group.clone(),
                kind: call.info.plural.clone(),
                causes,
                ..StatusDetails::default()
            };
            Status::new(FAILURE, 409, "Conflict", conflicts.message())
                .with_details(details)
                .into()
        }
        ApplyError::InvalidConfig { .. } | ApplyError::TooDeep { .. } => ApiError::invalid(
            &call.info,
            call.name(),
            vec![FieldError::invalid("", "", err.to_string())],
        ),
        other => ApiError::bad_request(other.to_string()),
    }
}
