//! Merging a patch map into an object: upstream's `mergeMap`.
//!
//! The same walk serves two purposes, told apart by [`Mode`]. Applying a patch
//! ([`Mode::Apply`]) consumes every directive. Combining the two halves of a three-way
//! patch ([`Mode::Combine`]) merges one patch into another and carries the directives
//! through, as upstream does with `MergeParallelList: false`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::directive::{Marker, RETAIN_KEYS, SplitPatch, delete_key, order_key};
use crate::error::PatchError;
use crate::list::{fresh_list, fresh_value, merge_list};
use crate::meta::PatchMeta;
use crate::order::{IdIndex, check_order, reorder};
use crate::path::Path;
use crate::value::{Kind, canonical, kind_name};

/// What a merge is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Apply a patch to an object: directives take effect, nulls delete.
    Apply,
    /// Merge a patch into another patch: directives and nulls are kept.
    Combine,
}

/// Merges `patch` into `original` under `meta`.
pub(crate) fn merge_map(
    mut original: Map<String, Value>,
    patch: Map<String, Value>,
    meta: &dyn PatchMeta,
    mode: Mode,
    path: &Path<'_>,
) -> Result<Map<String, Value>, PatchError> {
    let mut split = SplitPatch::new(patch, path)?;

    if let Some(marker) = split.marker.take() {
        match (Marker::parse(&marker, path)?, mode) {
            // Upstream leaves an empty map where the deleted one was (its own tests expect
            // `simpleMap: {}`); a `$patch: delete` map for an absent key adds nothing.
            (Marker::Delete, _) => return Ok(Map::new()),
            (Marker::Replace, Mode::Apply) => {
                return merge_map(Map::new(), split.into_map(), meta, mode, path);
            }
            (Marker::Replace, Mode::Combine) => return Ok(split.into_map()),
            (Marker::Merge, _) => {}
        }
    }

    if let Some(retain) = split.retain_keys.take() {
        match mode {
            Mode::Apply => retain_keys(&mut original, &retain, &split.fields, path)?,
            Mode::Combine => carry(&mut original, RETAIN_KEYS.to_owned(), retain, path)?,
        }
    }

    let mut consumed = HashSet::new();
    for (field, order) in std::mem::take(&mut split.orders) {
        if mode == Mode::Combine {
            carry(&mut original, order_key(&field), order.clone(), path)?;
        }
        if set_element_order(
            &mut original,
            &mut split.fields,
            &field,
            order,
            meta,
            mode,
            path,
        )? {
            consumed.insert(field);
        }
    }

    let mut removed = HashSet::new();
    for (key, value) in split.fields {
        if consumed.contains(&key) {
            continue;
        }
        let field_path = path.field(&key);
        if value.is_null() {
            match mode {
                Mode::Apply if original.contains_key(&key) => {
                    removed.insert(key);
                }
                Mode::Apply => {}
                // Keep the null: it is the deletion the combined patch must carry.
                Mode::Combine => {
                    original.insert(key, Value::Null);
                }
            }
            continue;
        }
        let merged = match original.get_mut(&key) {
            Some(existing) if Kind::of(existing) == Kind::of(&value) => {
                match (existing.take(), value) {
                    (Value::Object(old), Value::Object(new)) => Some(Value::Object(merge_map(
                        old,
                        new,
                        &*meta.child(&key),
                        mode,
                        &field_path,
                    )?)),
                    (Value::Array(old), Value::Array(new)) => Some(Value::Array(merge_list(
                        old,
                        new,
                        &meta.list_strategy(&key),
                        &*meta.child(&key),
                        mode,
                        &field_path,
                    )?)),
                    (_, new) => Some(new),
                }
            }
            // Absent, or of another type: the patch value replaces, directives resolved.
            _ => fresh_value(value, &key, meta, mode, &field_path)?,
        };
        match merged {
            Some(value) => {
                original.insert(key, value);
            }
            None if original.contains_key(&key) => {
                removed.insert(key);
            }
            None => {}
        }
    }

    for (field, values) in split.deletes {
        match mode {
            Mode::Apply if !removed.contains(&field) => {
                delete_from_list(&mut original, &field, &values, path)?;
            }
            Mode::Apply => {}
            Mode::Combine => {
                original.insert(delete_key(&field), values);
            }
        }
    }

    // Removal is deferred and done in one pass: removing keys one by one from an ordered
    // map is quadratic, and a patch may null thousands of keys.
    if !removed.is_empty() {
        original.retain(|key, _| !removed.contains(key));
    }
    Ok(original)
}

/// `$retainKeys`: every field the patch sets must be listed; unlisted fields of the
/// original are cleared before the merge.
fn retain_keys(
    original: &mut Map<String, Value>,
    retain: &Value,
    fields: &Map<String, Value>,
    path: &Path<'_>,
) -> Result<(), PatchError> {
    let Value::Array(list) = retain else {
        return Err(PatchError::MalformedDirective {
            path: path.render(),
            directive: RETAIN_KEYS.to_owned(),
            expected: "a list of field names",
        });
    };
    let keep: HashSet<&str> = list.iter().filter_map(Value::as_str).collect();
    if let Some((key, _)) = fields
        .iter()
        .find(|(key, value)| !value.is_null() && !keep.contains(key.as_str()))
    {
        return Err(PatchError::NotRetained {
            path: path.render(),
            key: key.clone(),
        });
    }
    original.retain(|key, _| keep.contains(key.as_str()));
    Ok(())
}

/// Copies a directive from the second patch into the first, which must not disagree.
fn carry(
    original: &mut Map<String, Value>,
    key: String,
    value: Value,
    path: &Path<'_>,
) -> Result<(), PatchError> {
    match original.get(&key) {
        Some(existing) if *existing != value => Err(PatchError::InconsistentDirective {
            path: path.render(),
            directive: key,
        }),
        Some(_) => Ok(()),
        None => {
            original.insert(key, value);
            Ok(())
        }
    }
}

/// `$setElementOrder/<field>`: merges the list at `field` (if the patch has one) and puts
/// the result in the given order. Returns whether the patch's list at `field` is consumed.
fn set_element_order(
    original: &mut Map<String, Value>,
    fields: &mut Map<String, Value>,
    field: &str,
    order: Value,
    meta: &dyn PatchMeta,
    mode: Mode,
    path: &Path<'_>,
) -> Result<bool, PatchError> {
    let field_path = path.field(field);
    let Value::Array(order) = order else {
        return Err(PatchError::MalformedDirective {
            path: path.render(),
            directive: order_key(field),
            expected: "a list",
        });
    };
    let patch_list = take_list(fields.get_mut(field), &field_path)?;
    let original_list = take_list(original.get_mut(field), &field_path)?;
    let strategy = meta.list_strategy(field);
    let key = strategy.merge_key();
    if let Some(patch_list) = &patch_list {
        check_order(patch_list, &order, key, &field_path)?;
    }
    let server_order = match &original_list {
        Some(list) => IdIndex::new(list, key, &field_path)?,
        None => IdIndex::default(),
    };
    let consumed = patch_list.is_some();
    let merged = match (original_list, patch_list) {
        (Some(old), None) => old,
        (None, Some(new)) => fresh_list(new, field, meta, mode, &field_path)?,
        (Some(old), Some(new)) => {
            merge_list(old, new, &strategy, &*meta.child(field), mode, &field_path)?
        }
        (None, None) => return Ok(false),
    };
    let order_index = IdIndex::new(&order, key, &field_path)?;
    let ordered = reorder(merged, &order_index, &server_order, key, &field_path)?;
    original.insert(field.to_owned(), Value::Array(ordered));
    Ok(consumed)
}

/// Takes the list out of a slot, leaving it empty; `None` when there is no slot.
fn take_list(slot: Option<&mut Value>, path: &Path<'_>) -> Result<Option<Vec<Value>>, PatchError> {
    match slot {
        None => Ok(None),
        Some(Value::Array(list)) => Ok(Some(std::mem::take(list))),
        Some(other) => Err(PatchError::WrongType {
            path: path.render(),
            expected: "a list",
            found: kind_name(other),
        }),
    }
}

/// `$deleteFromPrimitiveList/<field>`: removes every element equal to a listed value.
fn delete_from_list(
    original: &mut Map<String, Value>,
    field: &str,
    values: &Value,
    path: &Path<'_>,
) -> Result<(), PatchError> {
    let Value::Array(values) = values else {
        return Err(PatchError::MalformedDirective {
            path: path.render(),
            directive: delete_key(field),
            expected: "a list",
        });
    };
    match original.get_mut(field) {
        None => Ok(()),
        Some(Value::Array(list)) => {
            let doomed: HashSet<String> = values.iter().map(canonical).collect();
            list.retain(|value| !doomed.contains(&canonical(value)));
            Ok(())
        }
        Some(other) => Err(PatchError::WrongType {
            path: path.field(field).render(),
            expected: "a list",
            found: kind_name(other),
        }),
    }
}
