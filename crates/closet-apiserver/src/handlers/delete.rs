//! DELETE of one object or of a whole collection, with finalizers and graceful deletion.

use axum::response::Response;
use closet_store::StoreError;
use closet_types::params::{DeleteOptions, ListParams};
use http::StatusCode;
use serde_json::{Value, json};

use super::list::scan;
use super::{Call, params_error, respond_object, respond_value};
use crate::Shared;
use crate::codec::{self, Output};
use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::object;
use crate::strategy::{self, Deletion};

/// Retries when another writer changes the object between read and delete.
const RACE_RETRIES: usize = 16;

/// `DELETE .../{name}`.
pub(crate) async fn delete(shared: &Shared, call: Call) -> ApiResult<Response> {
    let options = delete_options(&call)?;
    match delete_one(shared, &call, &call.key(), call.name(), &options).await? {
        // Upstream answers 202 only for the legacy orphanDependents=false, kept for clients
        // that look for it.
        Outcome::Kept(obj) if options.orphan_dependents == Some(false) => {
            Ok(respond_object(&call, StatusCode::ACCEPTED, &obj))
        }
        Outcome::Kept(obj) => Ok(respond_object(&call, StatusCode::OK, &obj)),
        // Pods answer with the deleted object, other kinds with a Status, as upstream.
        Outcome::Removed(obj) if call.info.is_core("pods") => {
            Ok(respond_object(&call, StatusCode::OK, &obj))
        }
        Outcome::Removed(obj) => {
            let status = json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {
                    "name": object::name(&obj),
                    "group": call.info.group,
                    "kind": call.info.plural,
                    "uid": object::meta_str(&obj, "uid").unwrap_or(""),
                },
            });
            Ok(respond_value(StatusCode::OK, &status, Output::Json))
        }
    }
}

/// `DELETE` on a collection: deletes every object the selectors match.
pub(crate) async fn delete_collection(shared: &Shared, call: Call) -> ApiResult<Response> {
    let options = delete_options(&call)?;
    let mut params = ListParams::parse(&call.query).map_err(params_error)?;
    params.limit = None;
    params.continue_token = None;
    let filter = Filter::new(&call.info, &params)?;
    // Only the identities are kept, not the objects: a large collection stays cheap.
    let mut targets = Vec::new();
    scan(shared, &call, &params, &filter, |obj| {
        let name = object::name(&obj).to_string();
        targets.push((
            call.info
                .key_for(object::meta_str(&obj, "namespace"), &name),
            name,
        ));
        Ok(())
    })
    .await?;
    for (key, name) in &targets {
        match delete_one(shared, &call, key, name, &options).await {
            Ok(_) => {}
            // Someone else deleted it first: the goal is reached.
            Err(err) if err.code() == 404 => {}
            Err(err) => return Err(err),
        }
    }
    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"});
    Ok(respond_value(StatusCode::OK, &status, Output::Json))
}

/// Deletes the pod `call` names with `options`, for the eviction subresource.
pub(crate) async fn delete_pod(
    shared: &Shared,
    call: &Call,
    options: &DeleteOptions,
) -> ApiResult<()> {
    delete_one(shared, call, &call.key(), call.name(), options).await?;
    Ok(())
}

/// What became of a deleted object.
enum Outcome {
    /// Marked for deletion and still present (finalizers, grace period).
    Kept(Value),
    /// Gone from the store; the last state, stamped with the deletion's revision.
    Removed(Value),
}

async fn delete_one(
    shared: &Shared,
    call: &Call,
    key: &str,
    name: &str,
    options: &DeleteOptions,
) -> ApiResult<Outcome> {
    for _ in 0..RACE_RETRIES {
        let kv = shared
            .store
            .get(key)
            .await
            .map_err(ApiError::from_store_general)?
            .ok_or_else(|| ApiError::not_found(&call.info, name))?;
        let mut obj = object::from_kv(&kv)?;
        check_preconditions(call, name, &obj, options)?;
        // The propagation policy is recorded as a finalizer the garbage collector acts on.
        let gc = strategy::gc_finalizers(&object::finalizers(&obj), options);
        if let Some(finalizers) = &gc {
            object::meta_mut(&mut obj).insert("finalizers".into(), json!(finalizers));
        }
        let decision = strategy::deletion(&call.info, &obj, options.grace_period_seconds);
        // An object already marked with no grace period left still takes a new policy, as
        // upstream's registry lets a later DELETE switch between orphan and foreground.
        let refinalize = decision == Deletion::AlreadyMarked
            && gc.is_some()
            && strategy::grace_seconds(&obj) == 0;
        let result = match decision {
            Deletion::AlreadyMarked if !refinalize => return Ok(Outcome::Kept(obj)),
            Deletion::AlreadyMarked | Deletion::Mark { .. } => {
                if let Deletion::Mark { grace_seconds } = decision {
                    let now = jiff::Timestamp::now();
                    strategy::mark_deleted(&call.info, &mut obj, grace_seconds, now);
                }
                if options.dry_run {
                    return Ok(Outcome::Kept(obj));
                }
                let written = shared
                    .store
                    .update(key, object::to_stored(&obj), kv.mod_revision)
                    .await;
                written.map(|kv| {
                    object::set_resource_version(&mut obj, kv.mod_revision);
                    Outcome::Kept(obj)
                })
            }
            Deletion::Now => {
                if options.dry_run {
                    return Ok(Outcome::Removed(obj));
                }
                match shared.store.delete(key, Some(kv.mod_revision)).await {
                    Ok(kv) => {
                        object::set_resource_version(&mut obj, kv.mod_revision);
                        crate::crd::on_change(shared, &call.info, &obj, true).await;
                        Ok(Outcome::Removed(obj))
                    }
                    Err(err) => Err(err),
                }
            }
        };
        match result {
            Ok(outcome) => return Ok(outcome),
            Err(StoreError::Conflict { .. }) => continue,
            Err(err) => return Err(ApiError::from_store(err, &call.info, name)),
        }
    }
    Err(ApiError::conflict(
        &call.info,
        name,
        "too many concurrent writers; try again",
    ))
}

fn check_preconditions(
    call: &Call,
    name: &str,
    obj: &Value,
    options: &DeleteOptions,
) -> ApiResult<()> {
    let Some(pre) = &options.preconditions else {
        return Ok(());
    };
    if let Some(uid) = pre.uid.as_deref() {
        let actual = object::meta_str(obj, "uid").unwrap_or("");
        if uid != actual {
            let why = format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"
            );
            return Err(ApiError::conflict(&call.info, name, &why));
        }
    }
    if let Some(rv) = pre.resource_version.as_deref() {
        let actual = object::meta_str(obj, "resourceVersion").unwrap_or("");
        if rv != actual {
            let why = format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
            );
            return Err(ApiError::conflict(&call.info, name, &why));
        }
    }
    Ok(())
}

/// DeleteOptions from the body and the query string.
fn delete_options(call: &Call) -> ApiResult<DeleteOptions> {
    let body = codec::decode_optional(call.content_type(), &call.body)?;
    DeleteOptions::from_request(&call.query, body.as_ref()).map_err(params_error)
}
