//! Server-side apply: merging a configuration into the live object and moving ownership.

use std::fmt;

use serde_json::{Map, Value};

use crate::MAX_DEPTH;
use crate::Request;
use crate::compare::compare;
use crate::conflict::{Conflict, Conflicts};
use crate::fieldset::FieldSet;
use crate::last_applied;
use crate::managed::{Identity, ManagedFields, ManagedFieldsEntry, Operation};
use crate::merge::merge;
use crate::path::values_equal;
use crate::remove::{Removed, remove};
use crate::schema::Schema;
use crate::update::{cap_updates, record_update, stripped, untracked_removed};
use crate::walk::{check_config, ensure_named, field_set, too_deep};

/// The manager that takes the fields of an object that has no managed fields yet when it is
/// first applied to (upstream's `before-first-apply`), so applying over them conflicts.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// The result of a successful apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The object to store: the live object with the configuration merged in and the
    /// manager's dropped fields pruned, with `metadata.managedFields` set to [`Self::managed`].
    /// When the apply changes no field, this is the live object with the new managed fields.
    pub object: Value,
    /// The new managed fields (also written into [`Self::object`]).
    pub managed: ManagedFields,
}

/// Which input an [`ApplyError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// The live object.
    Live,
    /// The applied configuration (the request body).
    Config,
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Document::Live => "live object",
            Document::Config => "applied configuration",
        })
    }
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// Other managers own fields the apply would change: 409 `Conflict` with one
    /// `FieldManagerConflict` cause per field. The message is upstream's, word for word.
    #[error(transparent)]
    Conflict(#[from] Conflicts),
    /// An input is not a JSON object: 400.
    #[error("the {document} is not a json object")]
    NotAnObject {
        /// The input at fault.
        document: Document,
    },
    /// An input nests deeper than [`MAX_DEPTH`]: 422 for the configuration.
    #[error("the {document} nests deeper than {max} levels")]
    TooDeep {
        /// The input at fault.
        document: Document,
        /// The limit.
        max: usize,
    },
    /// The configuration carries `metadata.managedFields`: 400, upstream's
    /// `metadata.managedFields must be nil`.
    #[error("metadata.managedFields must be nil")]
    ManagedFieldsInConfig,
    /// The configuration's `apiVersion` is not the endpoint's: 400.
    #[error(
        "incorrect version specified in apply patch: specified patch version {specified:?}, expected {expected:?}"
    )]
    Version {
        /// The configuration's `apiVersion`.
        specified: String,
        /// The version applied at.
        expected: String,
    },
    /// A set or list-map list of the configuration has an element without identity, or
    /// the same element twice: 422.
    #[error("invalid applied configuration at {path}: {reason}")]
    InvalidConfig {
        /// The list, e.g. `.spec.template.spec.containers`.
        path: String,
        /// What is wrong, in upstream's words.
        reason: String,
    },
}

/// Applies `config` for `request.manager`: the server side of a PATCH with
/// `application/apply-patch+yaml` (`live` is `None` when the object does not exist yet).
///
/// Fields in `config` are set; fields this manager applied before and no longer applies are
/// removed unless another manager also owns them; list-map elements merge by key, sets
/// merge, atomic lists and maps are replaced. Changing a field another manager owns (Apply
/// or Update) is a conflict unless `force`, in which case the field moves to this manager.
/// The manager's entry (operation Apply) holds exactly the fields of `config` (less the
/// metadata never tracked and `request`'s reset fields); its time is `request.now` when the
/// object changed or the entry is new, and stays as it was otherwise.
///
/// Upstream behaviour reproduced around the merge: an object with no managed fields first
/// gets them for its existing fields under [`BEFORE_FIRST_APPLY`]; for manager `kubectl`,
/// conflicts with values still equal to the object's `last-applied-configuration`
/// annotation are forced (so migrating from client-side apply does not conflict with
/// oneself), and an existing annotation is rewritten to the applied configuration.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    managed: &ManagedFields,
    request: &Request<'_>,
    force: bool,
    schema: &dyn Schema,
) -> Result<Applied, ApplyError> {
    let Value::Object(config_map) = config else {
        return Err(ApplyError::NotAnObject {
            document: Document::Config,
        });
    };
    if too_deep(config) {
        return Err(ApplyError::TooDeep {
            document: Document::Config,
            max: MAX_DEPTH,
        });
    }
    if let Some(live) = live {
        if !live.is_object() {
            return Err(ApplyError::NotAnObject {
                document: Document::Live,
            });
        }
        if too_deep(live) {
            return Err(ApplyError::TooDeep {
                document: Document::Live,
                max: MAX_DEPTH,
            });
        }
    }
    if config
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApplyError::ManagedFieldsInConfig);
    }
    let specified = config
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if specified != request.api_version {
        return Err(ApplyError::Version {
            specified: specified.to_string(),
            expected: request.api_version.to_string(),
        });
    }
    check_config(config_map, schema).map_err(|(path, reason)| ApplyError::InvalidConfig {
        path: path.to_string(),
        reason,
    })?;

    let live_object = live.map_or_else(|| Value::Object(Map::new()), untracked_removed);
    let run = |force: bool| {
        apply_once(
            live.is_some(),
            &live_object,
            config,
            managed,
            request,
            force,
            schema,
        )
    };
    let result = match run(force) {
        Err(conflicts) if request.manager == last_applied::KUBECTL => {
            match last_applied::allowed_conflicts(&live_object, request.api_version, schema) {
                Some(allowed) => {
                    let remaining: Vec<Conflict> = conflicts
                        .iter()
                        .filter(|c| !allowed.contains(c.path.elements()))
                        .cloned()
                        .collect();
                    if remaining.is_empty() {
                        run(true)
                    } else {
                        Err(Conflicts::from_vec(remaining))
                    }
                }
                None => Err(conflicts),
            }
        }
        other => other,
    };
    let (mut object, managed) = result?;
    if request.manager == last_applied::KUBECTL {
        last_applied::refresh(&mut object, config);
    }
    managed.write_to(&mut object);
    Ok(Applied { object, managed })
}

/// One apply, without the `kubectl`-specific layers. `live` has no managed fields.
fn apply_once(
    existed: bool,
    live: &Value,
    config: &Value,
    managed: &ManagedFields,
    request: &Request<'_>,
    force: bool,
    schema: &dyn Schema,
) -> Result<(Value, ManagedFields), Conflicts> {
    let mut managed = managed.clone();
    if managed.is_empty() && existed {
        let empty = Value::Object(Map::new());
        record_update(
            &mut managed,
            &empty,
            live,
            BEFORE_FIRST_APPLY,
            request,
            schema,
        );
        cap_updates(&mut managed);
    }

    let identity = Identity::new(
        request.manager,
        Operation::Apply,
        request.api_version,
        request.subresource,
    );
    let merged = merge(live, config, schema);
    let last = managed
        .find(&identity)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut applied = field_set(config, schema);
    if let Some(reset) = request.reset_fields {
        applied = applied.recursive_difference(reset);
    }
    match managed.find_mut(&identity) {
        Some(entry) => {
            entry.fields = applied;
            entry.api_version = request.api_version.to_string();
        }
        None => managed.upsert(ManagedFieldsEntry {
            manager: identity.manager.clone(),
            operation: Operation::Apply,
            api_version: request.api_version.to_string(),
            time: None,
            subresource: request.subresource.to_string(),
            fields: applied,
        }),
    }
    let merged = if last.is_empty() {
        merged
    } else {
        prune(&merged, config, &managed, &last, schema)
    };

    let comparison = compare(live, &merged, schema).exclude(request.reset_fields);
    let changed = comparison.changed();
    let conflicts: Vec<(Identity, String, FieldSet)> = managed
        .entries()
        .iter()
        .filter(|e| e.identity() != identity)
        .filter_map(|e| {
            let taken = e.fields.intersection(&changed);
            (!taken.is_empty()).then(|| (e.identity(), e.api_version.clone(), taken))
        })
        .collect();
    if !force && !conflicts.is_empty() {
        return Err(Conflicts::from_sets(conflicts));
    }
    for entry in managed.entries_mut() {
        if entry.identity() != identity {
            entry.fields = entry
                .fields
                .difference(&changed)
                .difference(&comparison.removed);
        }
    }
    if let Some(entry) = managed.find_mut(&identity) {
        entry.fields = entry.fields.difference(&stripped());
    }
    managed.drop_empty();

    let changed_object = !values_equal(live, &merged);
    if let Some(entry) = managed.find_mut(&identity) {
        // Upstream stamps the time only when the object changed, which leaves a new
        // manager applying what is already there without a time (kubernetes#127938); a
        // new entry gets one here.
        if changed_object || entry.time.is_none() {
            entry.time = Some(request.now.to_string());
        }
    }
    managed.sort();
    let object = if changed_object { merged } else { live.clone() };
    Ok((object, managed))
}

/// Removes from `merged` what the manager applied last time (`last`) and no longer applies,
/// unless another manager (or this apply) owns it: upstream's `prune`,
/// `addBackOwnedItems` and `addBackDanglingItems`, step for step, then [`settle`].
fn prune(
    merged: &Value,
    config: &Value,
    managed: &ManagedFields,
    last: &FieldSet,
    schema: &dyn Schema,
) -> Value {
    // What each intermediate object specifies, counting maps the removal emptied (upstream
    // leaves null there, which is a member).
    let specified = |removed: &Removed| {
        ensure_named(
            &field_set(&removed.value, schema).union(&removed.emptied),
            schema,
        )
    };
    let last = ensure_named(last, schema);
    let pruned = remove(merged, &last, schema);

    let owned = managed
        .entries()
        .iter()
        .fold(FieldSet::new(), |all, e| all.union(&e.fields));
    let merged_set = ensure_named(&field_set(merged, schema), schema);
    let keep = specified(&pruned).union(&ensure_named(&owned, schema));
    let pruned = remove(merged, &merged_set.difference(&keep), schema);

    // Only what the manager itself had applied goes; unowned fields stay.
    let gone = merged_set
        .difference(&specified(&pruned))
        .intersection(&last);
    settle(remove(merged, &gone, schema), config, &owned, schema)
}

/// Turns the pruned object into what is stored. Upstream leaves `null` where the removal
/// emptied a map and lets decoding decide (a typed object drops a nil map, keeps a zero
/// struct); here an emptied map stays `{}` when a manager owns it and goes otherwise. The
/// configuration is then merged once more, which puts back the empty values it states
/// (`finalizers: []`) so that applying it again changes nothing.
fn settle(pruned: Removed, config: &Value, owned: &FieldSet, schema: &dyn Schema) -> Value {
    let unowned = pruned.emptied.difference(owned);
    let settled = if unowned.is_empty() {
        pruned.value
    } else {
        remove(&pruned.value, &unowned, schema).value
    };
    merge(&settled, config, schema)
}
