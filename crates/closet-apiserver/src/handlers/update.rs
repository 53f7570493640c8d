//! PUT: replace an object, its `status`, or a namespace's `finalize` list; and the shared
//! read-modify-write loop that PATCH uses too.

use axum::response::Response;
use closet_store::StoreError;
use closet_types::params::{WriteParams, WriteVerb};
use http::StatusCode;
use serde_json::{Value, json};

use super::create::{check_type_meta, place_in_namespace};
use super::{Call, params_error, respond_object};
use crate::Shared;
use crate::codec;
use crate::error::{ApiError, ApiResult};
use crate::object::{self, meta_mut};
use crate::strategy::{self, UpdateScope};

/// Retries of an unconditional update that lost a race with another writer.
const RACE_RETRIES: usize = 16;

/// `PUT .../{name}[/status|/finalize]`.
pub(crate) async fn update(shared: &Shared, call: Call, scope: UpdateScope) -> ApiResult<Response> {
    let params = WriteParams::parse(&call.query, WriteVerb::Update).map_err(params_error)?;
    let mut obj = codec::decode_object(call.content_type(), &call.body)?;
    check_type_meta(&call.info, &mut obj)?;
    place_in_namespace(&call, &mut obj)?;
    match object::meta_str(&obj, "name") {
        None | Some("") => {
            meta_mut(&mut obj).insert("name".into(), json!(call.name()));
        }
        Some(n) if n == call.name() => {}
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({})",
                call.name()
            )));
        }
    }
    let warnings = super::field_problems(&call, params.field_validation, &obj)?;
    let precondition = match object::meta_str(&obj, "resourceVersion").filter(|rv| !rv.is_empty()) {
        Some(rv) => Some(object::parse_revision(rv)?),
        None => None,
    };
    let (code, result) = apply(
        shared,
        &call,
        precondition,
        params.dry_run,
        true,
        |current| {
            let errors = strategy::validate_identity(current, &obj);
            if !errors.is_empty() {
                return Err(ApiError::invalid(&call.info, call.name(), errors));
            }
            let mut next = obj.clone();
            strategy::prepare_update(&call.info, current, &mut next, scope);
            Ok(next)
        },
    )
    .await?;
    Ok(super::with_warnings(
        respond_object(&call, code, &result),
        &warnings,
    ))
}

/// Rejects objects that do not decode as their built-in type, with upstream's wording: a
/// missing required field is a 422, a value of the wrong type a 400.
pub(crate) fn check_typed(call: &Call, obj: &Value) -> ApiResult<()> {
    // Deeper objects could not be read back (the decoder stops at 128 levels) and would make
    // every recursive step risky; refuse them before anything walks them.
    let (depth, _) = object::depth_and_size(obj, object::MAX_DEPTH, usize::MAX);
    if depth > object::MAX_DEPTH {
        let why = format!("nests deeper than {} levels", object::MAX_DEPTH);
        let error = closet_types::FieldError::invalid("", "", why);
        return Err(ApiError::invalid(
            &call.info,
            object::name(obj),
            vec![error],
        ));
    }
    match crate::typed::check(&call.info, obj) {
        Ok(()) => Ok(()),
        Err(crate::typed::TypedError::Missing { field }) => {
            let name = object::name(obj);
            let required = closet_types::FieldError::required(field, "");
            Err(ApiError::invalid(&call.info, name, vec![required]))
        }
        Err(crate::typed::TypedError::Malformed(why)) => {
            let kind = &call.info.kind;
            Err(ApiError::bad_request(format!(
                "{kind} in version \"{}\" cannot be handled as a {kind}: {why}",
                call.info.version
            )))
        }
    }
}

/// Read-modify-write of the named object with optimistic concurrency.
///
/// `change` computes the new object from the stored one. With a `precondition`, a stale
/// revision is a 409; without one, a lost race is retried against the fresh object. A change
/// that alters nothing writes nothing (idle clusters write nothing). When the change releases
/// the last thing holding a deleted object, the object is removed.
pub(crate) async fn apply<F>(
    shared: &Shared,
    call: &Call,
    precondition: Option<i64>,
    dry_run: bool,
    track_fields: bool,
    mut change: F,
) -> ApiResult<(StatusCode, Value)>
where
    F: FnMut(&Value) -> ApiResult<Value>,
{
    let key = call.key();
    for _ in 0..RACE_RETRIES {
        let kv = shared
            .store
            .get(&key)
            .await
            .map_err(ApiError::from_store_general)?
            .ok_or_else(|| ApiError::not_found(&call.info, call.name()))?;
        if precondition.is_some_and(|p| p != kv.mod_revision) {
            return Err(ApiError::stale(&call.info, call.name()));
        }
        let current = object::from_kv(&kv)?;
        let mut next = change(&current)?;
        // Held until the store write, when the update drew addresses or ports.
        let _allocating =
            crate::services::admit_update(shared, &call.info, &current, &mut next).await?;
        if track_fields {
            super::fields::track(call, Some(&current), &mut next);
        }
        check_typed(call, &next)?;
        let mut errors = strategy::validate(&call.info, &next);
        errors.extend(strategy::validate_update(&call.info, &current, &next));
        if !errors.is_empty() {
            return Err(ApiError::invalid(&call.info, call.name(), errors));
        }
        object::set_resource_version(&mut next, kv.mod_revision);
        if next == current {
            return Ok((StatusCode::OK, current));
        }
        if dry_run {
            return Ok((StatusCode::OK, next));
        }
        let removing = strategy::ready_to_remove(&call.info, &next);
        let result = if removing {
            shared.store.delete(&key, Some(kv.mod_revision)).await
        } else {
            shared
                .store
                .update(&key, object::to_stored(&next), kv.mod_revision)
                .await
        };
        match result {
            Ok(written) => {
                object::set_resource_version(&mut next, written.mod_revision);
                crate::crd::on_change(shared, &call.info, &next, removing).await;
                return Ok((StatusCode::OK, next));
            }
            Err(StoreError::Conflict { .. }) if precondition.is_none() => continue,
            Err(err) => return Err(ApiError::from_store(err, &call.info, call.name())),
        }
    }
    Err(ApiError::conflict(
        &call.info,
        call.name(),
        "too many concurrent writers; try again",
    ))
}
