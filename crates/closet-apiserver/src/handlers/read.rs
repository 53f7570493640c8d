//! GET of one object (and of its `status` subresource, which reads the same object).

use axum::response::Response;
use http::StatusCode;

use super::{Call, respond_object};
use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::object;

/// `GET .../{name}`.
pub(crate) async fn get(shared: &Shared, call: Call) -> ApiResult<Response> {
    // Any stored state satisfies a resourceVersion, but it must be one.
    let rv = closet_types::GetParams::parse(&call.query).resource_version;
    if let Some(rv) = rv.filter(|rv| !rv.is_empty()) {
        object::parse_revision(&rv)?;
    }
    let kv = shared
        .store
        .get(&call.key())
        .await
        .map_err(|e| ApiError::from_store(e, &call.info, call.name()))?
        .ok_or_else(|| ApiError::not_found(&call.info, call.name()))?;
    let obj = object::from_kv(&kv)?;
    Ok(respond_object(&call, StatusCode::OK, &obj))
}
