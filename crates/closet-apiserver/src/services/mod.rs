//! Service addresses: cluster IPs from the service CIDR and node ports from the NodePort
//! range, given out when Services are created or change type, and checked when a client asks
//! for particular ones (a collision is a 422, as upstream).
//!
//! There is no allocation table: what is in use is read from the stored Services each time,
//! so an address or port is free again as soon as the Service holding it is gone. Writes
//! that allocate hold [`Allocations::lock`] from reading that set until the store has the
//! new Service, so two requests to this apiserver never hand out the same value.
//!
//! [`alloc`] holds the rules for addresses, [`node_ports`] those for ports, [`update`] what
//! an update keeps and drops, [`range`] the CIDR and port-range arithmetic, [`kubernetes`]
//! the `kubernetes` Service in `default`.

mod alloc;
pub mod kubernetes;
mod node_ports;
pub mod range;
mod update;

#[cfg(test)]
mod tests;

use closet_store::ListRequest;
use serde_json::Value;
use tokio::sync::MutexGuard;

pub use alloc::ServiceNetwork;
pub use range::{PortRange, ServiceCidr};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::object;
use crate::registry::ResourceInfo;
use alloc::{AllocError, InUse};

/// Serializes allocating writes within this apiserver.
#[derive(Debug, Default)]
pub(crate) struct Allocations {
    lock: tokio::sync::Mutex<()>,
}

/// Held while a Service write that allocated is on its way to the store.
pub(crate) type AllocationGuard<'a> = MutexGuard<'a, ()>;

/// Takes the allocation lock for a write of kind `info`: only Services need it.
pub(crate) async fn lock<'a>(
    shared: &'a Shared,
    info: &ResourceInfo,
) -> Option<AllocationGuard<'a>> {
    if info.is_core("services") {
        Some(shared.allocations.lock.lock().await)
    } else {
        None
    }
}

/// Gives a new Service its addresses and ports. Call with the lock from [`lock`] held, after
/// defaulting and before the store write.
pub(crate) async fn admit_create(
    shared: &Shared,
    info: &ResourceInfo,
    obj: &mut Value,
) -> ApiResult<()> {
    if !info.is_core("services") {
        return Ok(());
    }
    let in_use = in_use(shared, info, None).await?;
    let name = object::name(obj).to_string();
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    allocate(shared, info, &name, &in_use, spec)
}

/// Carries allocated values over an update of a Service, drops those its new type does not
/// use, and allocates what is new. Returns the lock when the write allocated; the caller
/// keeps it until the store write is done.
pub(crate) async fn admit_update<'a>(
    shared: &'a Shared,
    info: &ResourceInfo,
    old: &Value,
    new: &mut Value,
) -> ApiResult<Option<AllocationGuard<'a>>> {
    if !info.is_core("services") {
        return Ok(None);
    }
    let name = object::name(new).to_string();
    let key = info.key_for(object::meta_str(new, "namespace"), &name);
    let empty = serde_json::Map::new();
    let old_spec = old.get("spec").and_then(Value::as_object).unwrap_or(&empty);
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(None);
    };
    update::carry_over(old_spec, spec);
    if !update::needs_allocation(old_spec, spec) {
        // Nothing drawn or changed: only the spec's own consistency is checked.
        allocate(shared, info, &name, &InUse::default(), spec)?;
        return Ok(None);
    }
    let guard = shared.allocations.lock.lock().await;
    let in_use = in_use(shared, info, Some(&key)).await?;
    allocate(shared, info, &name, &in_use, spec)?;
    Ok(Some(guard))
}

fn allocate(
    shared: &Shared,
    info: &ResourceInfo,
    name: &str,
    in_use: &InUse,
    spec: &mut serde_json::Map<String, Value>,
) -> ApiResult<()> {
    let mut pick = |n: u64| if n == 0 { 0 } else { rand::random_range(0..n) };
    match alloc::allocate(&shared.config.service_network(), in_use, spec, &mut pick) {
        Ok(()) => Ok(()),
        Err(AllocError::Invalid(errors)) => Err(ApiError::invalid(info, name, errors)),
        Err(AllocError::Full(what)) => Err(ApiError::internal(&format!(
            "failed to allocate a {what}: range is full"
        ))),
    }
}

/// What every stored Service but the one at `except` holds.
async fn in_use(shared: &Shared, info: &ResourceInfo, except: Option<&str>) -> ApiResult<InUse> {
    let page = shared
        .store
        .list(ListRequest {
            prefix: info.prefix_for(None),
            ..Default::default()
        })
        .await
        .map_err(ApiError::from_store_general)?;
    let mut in_use = InUse::default();
    for kv in page
        .items
        .iter()
        .filter(|kv| Some(kv.key.as_str()) != except)
    {
        if let Some(spec) = object::from_kv(kv)?.get("spec") {
            in_use.add(spec);
        }
    }
    Ok(in_use)
}
