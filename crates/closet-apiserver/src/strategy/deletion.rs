//! How a DELETE proceeds: at once, or by marking the object and waiting for whatever holds
//! it (finalizers, a namespace's contents, a node stopping a pod's containers).

use serde_json::{Value, json};

use crate::object::{finalizers, is_deleting, meta, meta_mut, timestamp};
use crate::registry::ResourceInfo;

/// How a DELETE of an existing object proceeds.
#[derive(Clone, Debug, PartialEq)]
pub enum Deletion {
    /// Remove it from the store now.
    Now,
    /// Mark it (deletionTimestamp, grace period) and keep it.
    Mark {
        /// Seconds until the deletion is due.
        grace_seconds: i64,
    },
    /// Already marked with a grace period no longer than asked: nothing to do.
    AlreadyMarked,
}

/// The grace period a pod gets: none when no node runs it (unbound, or already finished).
fn pod_grace(obj: &Value, requested: Option<i64>) -> i64 {
    let phase = obj
        .get("status")
        .and_then(|s| s.get("phase"))
        .and_then(Value::as_str);
    let bound = obj
        .get("spec")
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !bound || matches!(phase, Some("Succeeded" | "Failed")) {
        return 0;
    }
    requested
        .or_else(|| {
            obj.get("spec")?
                .get("terminationGracePeriodSeconds")?
                .as_i64()
        })
        .unwrap_or(30)
        .max(0)
}

fn namespace_held(obj: &Value) -> bool {
    obj.get("spec")
        .and_then(|s| s.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// Decides how to delete `obj`, given the requested grace period.
pub fn deletion(info: &ResourceInfo, obj: &Value, requested_grace: Option<i64>) -> Deletion {
    let grace = if info.is_core("pods") {
        pod_grace(obj, requested_grace)
    } else {
        0
    };
    let held = !finalizers(obj).is_empty()
        || (info.is_core("namespaces") && namespace_held(obj))
        || grace > 0;
    if !held {
        return Deletion::Now;
    }
    if is_deleting(obj) {
        let current = grace_seconds(obj);
        // A second delete may only shorten the grace period, as upstream.
        return if grace < current {
            Deletion::Mark {
                grace_seconds: grace,
            }
        } else {
            Deletion::AlreadyMarked
        };
    }
    Deletion::Mark {
        grace_seconds: grace,
    }
}

/// Marks `obj` as being deleted.
pub fn mark_deleted(
    info: &ResourceInfo,
    obj: &mut Value,
    grace_seconds: i64,
    now: jiff::Timestamp,
) {
    let due = now
        .checked_add(jiff::SignedDuration::from_secs(grace_seconds))
        .unwrap_or(now);
    let m = meta_mut(obj);
    m.insert("deletionTimestamp".into(), json!(timestamp(due)));
    m.insert("deletionGracePeriodSeconds".into(), json!(grace_seconds));
    if info.is_core("namespaces")
        && let Some(Value::Object(status)) = obj
            .as_object_mut()
            .map(|o| o.entry("status").or_insert_with(|| json!({})))
    {
        status.insert("phase".into(), json!("Terminating"));
    }
}

/// Whether an object marked for deletion may now be removed: nothing holds it any more.
/// A pod still within its grace period is removed by its node (a delete with grace 0), not
/// here; one whose grace period is over goes when its last finalizer does.
pub fn ready_to_remove(info: &ResourceInfo, obj: &Value) -> bool {
    if !is_deleting(obj) || !finalizers(obj).is_empty() {
        return false;
    }
    if info.is_core("pods") {
        return grace_seconds(obj) == 0;
    }
    !(info.is_core("namespaces") && namespace_held(obj))
}

/// The grace period a marked object was given (0 when none was recorded).
pub fn grace_seconds(obj: &Value) -> i64 {
    meta(obj)
        .and_then(|m| m.get("deletionGracePeriodSeconds"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}
