//! Ordinary writes (create, update, patch): the manager takes the fields it changed.

use serde_json::{Map, Value};

use crate::Request;
use crate::compare::compare;
use crate::fieldset::FieldSet;
use crate::managed::{Identity, ManagedFields, ManagedFieldsEntry, Operation, seconds};
use crate::path::PathElement;
use crate::schema::Schema;
use crate::walk::too_deep;

/// The most Update entries an object keeps; older ones are folded into one
/// `ancient-changes` entry per version (upstream's `DefaultMaxUpdateManagers`).
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager that older Update entries are folded into.
const ANCIENT_CHANGES: &str = "ancient-changes";

/// Records an ordinary write of `new` over `old` (`None` for a create) by
/// `request.manager`, and returns the managed fields to store with `new`.
///
/// Start from [`ManagedFields::for_write`]. The fields whose values the write adds or
/// changes become the manager's, in its one Update entry per version and subresource, and
/// leave every other manager (whatever its operation: an Update takes fields by force);
/// removed fields leave every manager; entries left empty are dropped. The entry's time
/// becomes `request.now` only when the write changed something. Metadata that is never
/// tracked (`name`, `uid`, `resourceVersion`, `managedFields`...) is not recorded, nor are
/// `request`'s reset fields. More than [`MAX_UPDATE_MANAGERS`] Update entries are capped.
///
/// Upstream quirk kept: an existing object (one with a `metadata.uid`) that has no managed
/// fields is not tracked by ordinary writes; the first apply starts tracking it.
///
/// Never fails: input deeper than [`MAX_DEPTH`](crate::MAX_DEPTH) leaves `managed` as it
/// is, as upstream keeps the previous managed fields when recording fails.
pub fn update(
    old: Option<&Value>,
    new: &Value,
    managed: &ManagedFields,
    request: &Request<'_>,
    schema: &dyn Schema,
) -> ManagedFields {
    if old.is_some_and(too_deep) || too_deep(new) {
        return managed.clone();
    }
    let existing = old
        .and_then(|o| o.pointer("/metadata/uid"))
        .and_then(Value::as_str)
        .is_some_and(|uid| !uid.is_empty());
    if managed.is_empty() && existing {
        return managed.clone();
    }
    let mut managed = managed.clone();
    let empty = Value::Object(Map::new());
    record_update(
        &mut managed,
        old.unwrap_or(&empty),
        new,
        request.manager,
        request,
        schema,
    );
    cap_updates(&mut managed);
    managed.sort();
    managed
}

/// The Update bookkeeping shared by [`update`] and apply's first-apply step, under
/// `manager` (not necessarily `request.manager`).
pub(crate) fn record_update(
    managed: &mut ManagedFields,
    old: &Value,
    new: &Value,
    manager: &str,
    request: &Request<'_>,
    schema: &dyn Schema,
) {
    let comparison = compare(&untracked_removed(old), &untracked_removed(new), schema)
        .exclude(request.reset_fields);
    let changed = comparison.changed();
    for entry in managed.entries_mut() {
        entry.fields = entry
            .fields
            .difference(&changed)
            .difference(&comparison.removed);
    }
    managed.drop_empty();

    let taken = changed.difference(&stripped());
    if taken.is_empty() {
        return;
    }
    let identity = Identity::new(
        manager,
        Operation::Update,
        request.api_version,
        request.subresource,
    );
    match managed.find_mut(&identity) {
        Some(entry) => {
            entry.fields = taken.union(&entry.fields);
            entry.time = Some(request.now.to_string());
        }
        None => managed.upsert(ManagedFieldsEntry {
            manager: identity.manager,
            operation: Operation::Update,
            api_version: request.api_version.to_string(),
            time: Some(request.now.to_string()),
            subresource: request.subresource.to_string(),
            fields: taken,
        }),
    }
}

/// `object` without `metadata.managedFields`, which is bookkeeping, not content.
pub(crate) fn untracked_removed(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        metadata.remove("managedFields");
    }
    object
}

/// The fields no manager is recorded as owning (upstream's strip set). Only the exact
/// paths: a manager still owns `.metadata.labels` below `.metadata`.
pub(crate) fn stripped() -> FieldSet {
    let mut set = FieldSet::new();
    let field = |name: &str| PathElement::Field(name.to_string());
    for top in ["apiVersion", "kind", "metadata"] {
        set.insert(&[field(top)]);
    }
    for name in [
        "name",
        "namespace",
        "creationTimestamp",
        "selfLink",
        "uid",
        "clusterName",
        "generation",
        "managedFields",
        "resourceVersion",
    ] {
        set.insert(&[field("metadata"), field(name)]);
    }
    set
}

/// Folds the oldest Update entries into `ancient-changes` entries (one per version) until
/// at most [`MAX_UPDATE_MANAGERS`] remain, as upstream's `capManagersManager` does: the
/// oldest entry of each version becomes the bucket, and each further old entry of that
/// version is merged into it, lending it its time.
pub(crate) fn cap_updates(managed: &mut ManagedFields) {
    let mut updaters: Vec<(i64, String, Identity, String)> = managed
        .entries()
        .iter()
        .filter(|e| e.operation == Operation::Update)
        .map(|e| {
            let identity = e.identity();
            (
                seconds(e.time.as_deref()),
                identity.key(),
                identity,
                e.api_version.clone(),
            )
        })
        .collect();
    let mut remaining = updaters.len();
    if remaining <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut first_of_version: Vec<(String, Identity)> = Vec::new();
    for (_, _, identity, version) in updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let bucket = Identity::new(ANCIENT_CHANGES, Operation::Update, &version, "");
        // Upstream would merge an existing bucket into itself and then delete it, losing
        // its fields; leave it alone instead.
        if identity == bucket {
            continue;
        }
        let Some((_, first)) = first_of_version.iter().find(|(v, _)| *v == version) else {
            first_of_version.push((version, identity));
            continue;
        };
        if managed.find(&bucket).is_none()
            && let Some(entry) = managed.find_mut(first)
        {
            entry.manager = ANCIENT_CHANGES.to_string();
            entry.subresource = String::new();
        }
        let Some(index) = managed
            .entries()
            .iter()
            .position(|e| e.identity() == identity)
        else {
            continue;
        };
        let folded = managed.entries_mut().remove(index);
        if let Some(entry) = managed.find_mut(&bucket) {
            entry.fields = folded.fields.union(&entry.fields);
            entry.time = folded.time;
        }
        remaining -= 1;
    }
}
