//! Server-side apply and field ownership, without I/O: the engine behind PATCH with
//! `application/apply-patch+yaml` and the `metadata.managedFields` of every write.
//!
//! Start with [`apply`] (a server-side apply: merge, prune, conflicts, ownership) and
//! [`update`] (what an ordinary create, update or patch does to ownership), then
//! [`ManagedFields`] (the `managedFields` list) and [`FieldSet`] (one manager's fields,
//! with its JSON form FieldsV1). Both operations walk objects with a [`Schema`], which says
//! how lists and maps merge; [`Deduced`] is the no-schema default for custom resources.
//!
//! The semantics are upstream's: sigs.k8s.io/structured-merge-diff (field sets, merge,
//! compare, the Updater's apply and update) and the layers of
//! k8s.io/apimachinery/pkg/util/managedfields around it (untracked metadata,
//! `before-first-apply`, the cap on Update entries, the `kubectl` last-applied handling,
//! entry order and conflict messages). Where this crate departs from upstream, the item that
//! departs says so. Objects are `serde_json::Value`s as the apiserver keeps them; nothing
//! here panics or recurses deeper than [`MAX_DEPTH`] on any input.
//!
//! ```
//! use closet_fieldmanager::{Deduced, ManagedFields, Request, apply, update};
//! use serde_json::json;
//!
//! // PATCH with application/apply-patch+yaml on an absent object: create it.
//! let config = json!({"apiVersion": "v1", "kind": "ConfigMap",
//!                     "metadata": {"name": "cm"}, "data": {"a": "1"}});
//! let request = Request::new("kubectl", "v1", "2024-05-01T10:00:00Z");
//! let applied = apply(None, &config, &ManagedFields::new(), &request, false, &Deduced)?;
//! assert_eq!(
//!     applied.object["metadata"]["managedFields"][0]["fieldsV1"],
//!     json!({"f:data": {".": {}, "f:a": {}}})
//! );
//!
//! // An ordinary update by another manager takes the field it changed.
//! let mut new = applied.object.clone();
//! new["data"]["a"] = json!("2");
//! let start = ManagedFields::for_write(Some(&applied.object), &new, false);
//! let editor = Request::new("kubectl-edit", "v1", "2024-05-01T11:00:00Z");
//! let managed = update(Some(&applied.object), &new, &start, &editor, &Deduced);
//! managed.write_to(&mut new);
//! assert_eq!(
//!     new["metadata"]["managedFields"][1]["fieldsV1"],
//!     json!({"f:data": {"f:a": {}}})
//! );
//! # Ok::<(), closet_fieldmanager::ApplyError>(())
//! ```
//!
//! Module map: `walk` (list element identity and field sets of objects), `compare`,
//! `merge` and `remove` (the three walks apply is built from), `apply` and `update` (the
//! operations), `last_applied` (kubectl's migration helpers), `managed` (the list),
//! `fields_v1` and `path` (the wire forms), `go_json` (Go-exact JSON text).

mod apply;
mod compare;
mod conflict;
mod fields_v1;
mod fieldset;
mod go_json;
mod last_applied;
mod managed;
mod merge;
mod path;
mod remove;
mod schema;
mod serde_impls;
mod update;
mod walk;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;

pub use apply::{Applied, ApplyError, BEFORE_FIRST_APPLY, Document, apply};
pub use conflict::{Conflict, Conflicts};
pub use fields_v1::FieldsError;
pub use fieldset::FieldSet;
pub use last_applied::LAST_APPLIED_ANNOTATION;
pub use managed::{ManagedFields, ManagedFieldsEntry, ManagedFieldsError, Operation};
pub use path::{Path, PathElement};
pub use schema::{Deduced, ListType, Schema, TableSchema};
pub use update::{MAX_UPDATE_MANAGERS, update};

/// The deepest nesting of objects and lists an input may have (a top-level object is one
/// level). Deeper input is refused before any walk, which bounds the engine's recursion.
pub const MAX_DEPTH: usize = 100;

/// Who writes, at which version, and when: what [`apply`] and [`update`] record in
/// `managedFields`.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The field manager (`?fieldManager=`); empty is recorded as `unknown`.
    pub manager: &'a str,
    /// The group-version written at (`apps/v1`), also what an applied configuration's
    /// `apiVersion` must say.
    pub api_version: &'a str,
    /// The current time as RFC 3339 with second precision (`2024-05-01T12:00:00Z`), stamped
    /// on entries whose fields changed.
    pub now: &'a str,
    /// The subresource written through (`status`, `scale`), or empty.
    pub subresource: &'a str,
    /// Fields the write path resets, never to be owned or compared (upstream's reset fields:
    /// `status` for writes to the main resource of a kind with a status subresource, and
    /// everything but `status` for writes to it).
    pub reset_fields: Option<&'a FieldSet>,
}

impl<'a> Request<'a> {
    /// A write by `manager` at `api_version`, at time `now`, to the main resource.
    pub fn new(manager: &'a str, api_version: &'a str, now: &'a str) -> Self {
        Request {
            manager,
            api_version,
            now,
            subresource: "",
            reset_fields: None,
        }
    }

    /// The same write through `subresource`.
    pub fn with_subresource(self, subresource: &'a str) -> Self {
        Request {
            subresource,
            ..self
        }
    }

    /// The same write, with `fields` reset by the write path.
    pub fn with_reset_fields(self, fields: &'a FieldSet) -> Self {
        Request {
            reset_fields: Some(fields),
            ..self
        }
    }
}
