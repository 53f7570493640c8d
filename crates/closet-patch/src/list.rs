//! Merging lists (upstream's `mergeSlice`), and patch values that have nothing to merge
//! with.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::directive::{MARKER, Marker};
use crate::error::PatchError;
use crate::merge::{Mode, merge_map};
use crate::meta::{ListStrategy, PatchMeta};
use crate::order::{IdIndex, reorder};
use crate::path::Path;
use crate::value::{Kind, canonical, element_kind, kind_name};

/// Merges the patch list `patch` into `original` by `strategy`; `meta` describes the
/// elements.
pub(crate) fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    strategy: &ListStrategy,
    meta: &dyn PatchMeta,
    mode: Mode,
    path: &Path<'_>,
) -> Result<Vec<Value>, PatchError> {
    let key = match strategy {
        ListStrategy::Replace => {
            return match mode {
                Mode::Apply => resolve_list(patch, meta, path),
                Mode::Combine => Ok(patch),
            };
        }
        ListStrategy::MergePrimitives => None,
        ListStrategy::MergeByKey(key) => Some(key.as_str()),
    };
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    match (element_kind(&[&original, &patch], path)?, key) {
        (Some(Kind::Object), Some(key)) => merge_by_key(original, patch, key, meta, mode, path),
        (Some(Kind::Object), None) => Err(PatchError::NoMergeKey {
            path: path.render(),
        }),
        // Upstream fails here too, when ordering the merged list.
        (Some(kind), Some(_)) => Err(PatchError::WrongType {
            path: path.render(),
            expected: "a list of objects",
            found: kind.name(),
        }),
        (Some(_), None) => merge_primitives(original, patch, path),
        (None, _) => Ok(original),
    }
}

/// A set union that keeps the first of equal elements, then upstream's ordering.
fn merge_primitives(
    original: Vec<Value>,
    patch: Vec<Value>,
    path: &Path<'_>,
) -> Result<Vec<Value>, PatchError> {
    let server_order = IdIndex::new(&original, None, path)?;
    let patch_order = IdIndex::new(&patch, None, path)?;
    let mut seen = HashSet::new();
    let merged: Vec<Value> = original
        .into_iter()
        .chain(patch)
        .filter(|value| seen.insert(canonical(value)))
        .collect();
    reorder(merged, &patch_order, &server_order, None, path)
}

/// Objects matched by `key`: `$patch: delete` elements remove every match, a
/// `$patch: replace` element makes the other elements the whole list, the rest merge
/// into their match or are appended.
fn merge_by_key(
    original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
    meta: &dyn PatchMeta,
    mode: Mode,
    path: &Path<'_>,
) -> Result<Vec<Value>, PatchError> {
    let mut doomed = HashSet::new();
    let mut replace = false;
    let mut items = Vec::with_capacity(patch.len());
    for (i, element) in patch.into_iter().enumerate() {
        let element_path = path.index(i);
        let Value::Object(map) = element else {
            return Err(PatchError::WrongType {
                path: element_path.render(),
                expected: "an object",
                found: kind_name(&element),
            });
        };
        let Some(marker) = map.get(MARKER) else {
            items.push((i, map));
            continue;
        };
        match Marker::parse(marker, &element_path)? {
            Marker::Delete => {
                doomed.insert(identity_of_map(&map, key, &element_path)?);
            }
            Marker::Replace => replace = true,
            // The list merges already; the element only says so.
            Marker::Merge => {}
        }
    }

    let mut merged: Vec<Value> = if replace {
        let replacement = std::mem::take(&mut items);
        let mut list = Vec::with_capacity(replacement.len());
        for (i, map) in replacement {
            list.push(Value::Object(match mode {
                Mode::Apply => merge_map(Map::new(), map, meta, mode, &path.index(i))?,
                Mode::Combine => map,
            }));
        }
        list
    } else if doomed.is_empty() {
        original
    } else {
        original
            .into_iter()
            .filter(|element| {
                element
                    .get(key)
                    .is_none_or(|id| !doomed.contains(&canonical(id)))
            })
            .collect()
    };

    let server_order = IdIndex::new(&merged, Some(key), path)?;
    let mut positions = server_order.clone();
    let mut patch_order = IdIndex::default();
    for (rank, (i, item)) in items.into_iter().enumerate() {
        let item_path = path.index(i);
        let id = identity_of_map(&item, key, &item_path)?;
        patch_order.insert(id.clone(), rank);
        match positions.get(&id).and_then(|at| merged.get_mut(at)) {
            Some(Value::Object(old)) => {
                *old = merge_map(std::mem::take(old), item, meta, mode, &item_path)?;
            }
            Some(other) => {
                return Err(PatchError::WrongType {
                    path: item_path.render(),
                    expected: "an object",
                    found: kind_name(other),
                });
            }
            None => {
                let element = match mode {
                    Mode::Apply => merge_map(Map::new(), item, meta, mode, &item_path)?,
                    Mode::Combine => item,
                };
                positions.insert(id, merged.len());
                merged.push(Value::Object(element));
            }
        }
    }
    reorder(merged, &patch_order, &server_order, Some(key), path)
}

fn identity_of_map(
    map: &Map<String, Value>,
    key: &str,
    path: &Path<'_>,
) -> Result<String, PatchError> {
    map.get(key)
        .map(canonical)
        .ok_or_else(|| PatchError::MissingMergeKey {
            path: path.render(),
            key: key.to_owned(),
        })
}

/// A patch value with nothing of the same type to merge into, for the field `field` of
/// an object described by `meta`. `None` means the field ends up absent.
///
/// Applying, the value is merged into nothing: nulls go, `$patch: delete` removes, and
/// every other directive takes effect, so none leaks into the object. (Upstream copies
/// such values with only `$patch` maps dropped, which leaks the other directives and
/// drops `$patch: replace` maps whole.) Combining, upstream's `removeDirectives` applies.
pub(crate) fn fresh_value(
    value: Value,
    field: &str,
    meta: &dyn PatchMeta,
    mode: Mode,
    path: &Path<'_>,
) -> Result<Option<Value>, PatchError> {
    if mode == Mode::Combine {
        return Ok(remove_directives(value));
    }
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => {
            if let Some(marker) = map.get(MARKER)
                && Marker::parse(marker, path)? == Marker::Delete
            {
                return Ok(None);
            }
            let merged = merge_map(Map::new(), map, &*meta.child(field), mode, path)?;
            Ok(Some(Value::Object(merged)))
        }
        Value::Array(list) => Ok(Some(Value::Array(resolve_list(
            list,
            &*meta.child(field),
            path,
        )?))),
        scalar => Ok(Some(scalar)),
    }
}

/// [`fresh_value`] for a list known to be at `field`.
pub(crate) fn fresh_list(
    list: Vec<Value>,
    field: &str,
    meta: &dyn PatchMeta,
    mode: Mode,
    path: &Path<'_>,
) -> Result<Vec<Value>, PatchError> {
    match mode {
        Mode::Apply => resolve_list(list, &*meta.child(field), path),
        Mode::Combine => Ok(list.into_iter().filter_map(remove_directives).collect()),
    }
}

/// A patch list taken as the new value: directive elements (`$patch: …`) are dropped and
/// object elements are merged into nothing. Null elements stay, as upstream keeps them.
fn resolve_list(
    list: Vec<Value>,
    meta: &dyn PatchMeta,
    path: &Path<'_>,
) -> Result<Vec<Value>, PatchError> {
    let mut out = Vec::with_capacity(list.len());
    for (i, value) in list.into_iter().enumerate() {
        let element_path = path.index(i);
        match value {
            Value::Object(map) => {
                if let Some(marker) = map.get(MARKER) {
                    Marker::parse(marker, &element_path)?;
                    continue;
                }
                out.push(Value::Object(merge_map(
                    Map::new(),
                    map,
                    meta,
                    Mode::Apply,
                    &element_path,
                )?));
            }
            Value::Array(inner) => {
                out.push(Value::Array(resolve_list(inner, meta, &element_path)?))
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Upstream's `removeDirectives`: drops every object carrying `$patch`, recursively.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) if map.contains_key(MARKER) => None,
        Value::Object(map) => Some(Value::Object(
            map.into_iter()
                .filter_map(|(key, value)| remove_directives(value).map(|value| (key, value)))
                .collect(),
        )),
        Value::Array(list) => Some(Value::Array(
            list.into_iter().filter_map(remove_directives).collect(),
        )),
        scalar => Some(scalar),
    }
}
