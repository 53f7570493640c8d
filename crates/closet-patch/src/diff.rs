//! Computing a patch from two objects: upstream's `diffMaps` and `diffLists`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::directive::{MARKER, RETAIN_KEYS, delete_key, order_key};
use crate::error::PatchError;
use crate::meta::{ListStrategy, PatchMeta};
use crate::path::Path;
use crate::value::{Kind, canonical, element_kind, kind_name, sort_text};

/// Upstream's `DiffOptions`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DiffOptions {
    /// Emit `$setElementOrder` beside merged lists.
    pub(crate) set_element_order: bool,
    /// Leave out additions and changes (the deletions half of a three-way patch).
    pub(crate) ignore_changes_and_additions: bool,
    /// Leave out deletions (the changes half of a three-way patch).
    pub(crate) ignore_deletions: bool,
    /// Emit `$retainKeys` for this map (set from the parent's metadata).
    pub(crate) build_retain_keys: bool,
}

/// The patch that turns `original` into `modified`, as far as `opts` allow.
pub(crate) fn diff_maps(
    original: &Map<String, Value>,
    modified: &Map<String, Value>,
    meta: &dyn PatchMeta,
    opts: DiffOptions,
    path: &Path<'_>,
) -> Result<Map<String, Value>, PatchError> {
    let mut patch = Map::new();
    let mut retained: Vec<&str> = Vec::new();
    for (key, new) in modified {
        if opts.build_retain_keys && !new.is_null() {
            retained.push(key);
        }
        let Some(old) = original.get(key) else {
            if !opts.ignore_changes_and_additions {
                patch.insert(key.clone(), new.clone());
            }
            continue;
        };
        let field_path = path.field(key);
        match (old, new) {
            (Value::Object(old), Value::Object(new)) => {
                let child_opts = DiffOptions {
                    build_retain_keys: meta.retain_keys(key),
                    ..opts
                };
                let sub = diff_maps(old, new, &*meta.child(key), child_opts, &field_path)?;
                if !sub.is_empty() {
                    patch.insert(key.clone(), Value::Object(sub));
                }
            }
            (Value::Array(old), Value::Array(new)) => {
                diff_list_field(key, old, new, meta, opts, &mut patch, &field_path)?;
            }
            _ => {
                if !opts.ignore_changes_and_additions && old != new {
                    patch.insert(key.clone(), new.clone());
                }
            }
        }
    }
    if !opts.ignore_deletions {
        for key in original.keys() {
            if !modified.contains_key(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    // Upstream also emits the directive when the only difference is a field the original
    // has beyond the modified one, even when deletions are ignored: that is how apply
    // clears a server-defaulted `rollingUpdate` on a switch to `Recreate`.
    if !retained.is_empty() && (!patch.is_empty() || has_extra_field(original, modified)) {
        retained.sort_unstable();
        let list = retained
            .into_iter()
            .map(|key| Value::String(key.to_owned()));
        patch.insert(RETAIN_KEYS.to_owned(), Value::Array(list.collect()));
    }
    Ok(patch)
}

fn has_extra_field(original: &Map<String, Value>, modified: &Map<String, Value>) -> bool {
    original
        .iter()
        .any(|(key, value)| !value.is_null() && !modified.contains_key(key))
}

/// Adds to `patch` what the list at `key` needs: the list itself, or for merged lists the
/// changed elements, `$deleteFromPrimitiveList` and `$setElementOrder`.
fn diff_list_field(
    key: &str,
    old: &[Value],
    new: &[Value],
    meta: &dyn PatchMeta,
    opts: DiffOptions,
    patch: &mut Map<String, Value>,
    path: &Path<'_>,
) -> Result<(), PatchError> {
    let strategy = meta.list_strategy(key);
    if strategy == ListStrategy::Replace {
        if !opts.ignore_changes_and_additions && old != new {
            patch.insert(key.to_owned(), Value::Array(new.to_vec()));
        }
        return Ok(());
    }
    let opts = DiffOptions {
        build_retain_keys: meta.retain_keys(key),
        ..opts
    };
    let lists = diff_lists(
        old,
        new,
        &*meta.child(key),
        strategy.merge_key(),
        opts,
        path,
    )?;
    if !lists.changes.is_empty() {
        patch.insert(key.to_owned(), Value::Array(lists.changes));
    }
    if !lists.deletions.is_empty() {
        patch.insert(delete_key(key), Value::Array(lists.deletions));
    }
    if !lists.order.is_empty() {
        patch.insert(order_key(key), Value::Array(lists.order));
    }
    Ok(())
}

/// What a merged list contributes to a patch.
#[derive(Default)]
struct ListDiff {
    /// The list in the patch: changed and added elements, then deletion elements.
    changes: Vec<Value>,
    /// Primitives to delete, for `$deleteFromPrimitiveList`.
    deletions: Vec<Value>,
    /// The `$setElementOrder` list.
    order: Vec<Value>,
}

fn diff_lists(
    original: &[Value],
    modified: &[Value],
    meta: &dyn PatchMeta,
    key: Option<&str>,
    opts: DiffOptions,
    path: &Path<'_>,
) -> Result<ListDiff, PatchError> {
    if original.is_empty() {
        if modified.is_empty() || opts.ignore_changes_and_additions {
            return Ok(ListDiff::default());
        }
        // Upstream sends the whole new list, without an order directive.
        return Ok(ListDiff {
            changes: modified.to_vec(),
            ..ListDiff::default()
        });
    }
    if element_kind(&[original, modified], path)? == Some(Kind::Object) {
        let key = key.ok_or_else(|| PatchError::NoMergeKey {
            path: path.render(),
        })?;
        diff_lists_of_maps(original, modified, meta, key, opts, path)
    } else {
        Ok(diff_lists_of_primitives(original, modified, opts))
    }
}

fn diff_lists_of_maps(
    original: &[Value],
    modified: &[Value],
    meta: &dyn PatchMeta,
    key: &str,
    opts: DiffOptions,
    path: &Path<'_>,
) -> Result<ListDiff, PatchError> {
    let old = keyed(original, key, path)?;
    let new = keyed(modified, key, path)?;
    let mut changes = Vec::new();
    let mut deletions = Vec::new();
    let (mut i, mut j) = (0, 0);
    // Both sides sorted by the text of their key, walked in step as upstream does.
    loop {
        let step = match (old.get(i), new.get(j)) {
            (None, None) => break,
            (Some(o), Some(n)) => o.text.cmp(&n.text),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
        };
        match (step, old.get(i), new.get(j)) {
            (Ordering::Equal, Some(o), Some(n)) => {
                let sub = diff_maps(o.map, n.map, meta, opts, &path.index(n.index))?;
                if !sub.is_empty() {
                    let mut sub = sub;
                    sub.insert(key.to_owned(), n.id.clone());
                    changes.push(Value::Object(sub));
                }
                i += 1;
                j += 1;
            }
            (Ordering::Greater, _, Some(n)) => {
                if !opts.ignore_changes_and_additions {
                    changes.push(Value::Object(n.map.clone()));
                }
                j += 1;
            }
            (_, Some(o), _) => {
                if !opts.ignore_deletions {
                    let mut directive = Map::new();
                    directive.insert(key.to_owned(), o.id.clone());
                    directive.insert(MARKER.to_owned(), Value::String("delete".to_owned()));
                    deletions.push(Value::Object(directive));
                }
                i += 1;
            }
            _ => break,
        }
    }
    // Changes follow the modified list's order; deletions (sorted by key) go last.
    let rank: HashMap<String, usize> = modified
        .iter()
        .enumerate()
        .rev()
        .filter_map(|(index, element)| element.get(key).map(|id| (canonical(id), index)))
        .collect();
    changes.sort_by_key(|change| {
        change
            .get(key)
            .and_then(|id| rank.get(&canonical(id)).copied())
    });
    let order_same = original.len() == modified.len()
        && original
            .iter()
            .zip(modified)
            .all(|(o, n)| o.get(key) == n.get(key));
    changes.extend(deletions);
    let mut order = Vec::new();
    if opts.set_element_order
        && ((!opts.ignore_changes_and_additions && (!changes.is_empty() || !order_same))
            || (!opts.ignore_deletions && !changes.is_empty()))
    {
        order = new_in_order(modified, key);
    }
    Ok(ListDiff {
        changes,
        deletions: Vec::new(),
        order,
    })
}

/// `[{key: v}, ...]` for each element of `modified`, in its order.
fn new_in_order(modified: &[Value], key: &str) -> Vec<Value> {
    modified
        .iter()
        .filter_map(|element| element.get(key))
        .map(|id| {
            let mut entry = Map::new();
            entry.insert(key.to_owned(), id.clone());
            Value::Object(entry)
        })
        .collect()
}

struct Keyed<'a> {
    index: usize,
    map: &'a Map<String, Value>,
    id: &'a Value,
    text: Cow<'a, str>,
}

/// The elements of a list of objects with their merge-key values, sorted by key text.
fn keyed<'a>(list: &'a [Value], key: &str, path: &Path<'_>) -> Result<Vec<Keyed<'a>>, PatchError> {
    let mut out = Vec::with_capacity(list.len());
    for (index, value) in list.iter().enumerate() {
        let Value::Object(map) = value else {
            return Err(PatchError::WrongType {
                path: path.index(index).render(),
                expected: "an object",
                found: kind_name(value),
            });
        };
        let id = map.get(key).ok_or_else(|| PatchError::MissingMergeKey {
            path: path.index(index).render(),
            key: key.to_owned(),
        })?;
        out.push(Keyed {
            index,
            map,
            id,
            text: sort_text(id),
        });
    }
    out.sort_by(|a, b| a.text.cmp(&b.text));
    Ok(out)
}

fn diff_lists_of_primitives(original: &[Value], modified: &[Value], opts: DiffOptions) -> ListDiff {
    let mut old: Vec<(&Value, Cow<'_, str>)> = original.iter().map(|v| (v, sort_text(v))).collect();
    let mut new: Vec<(usize, &Value, Cow<'_, str>)> = modified
        .iter()
        .enumerate()
        .map(|(i, v)| (i, v, sort_text(v)))
        .collect();
    old.sort_by(|a, b| a.1.cmp(&b.1));
    new.sort_by(|a, b| a.2.cmp(&b.2));
    let mut additions: Vec<(usize, &Value)> = Vec::new();
    let mut deletions: Vec<Value> = Vec::new();
    let (mut i, mut j) = (0, 0);
    loop {
        let step = match (old.get(i), new.get(j)) {
            (None, None) => break,
            (Some(o), Some(n)) => o.1.cmp(&n.2),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
        };
        match step {
            Ordering::Equal => {
                i += 1;
                j += 1;
            }
            Ordering::Greater => {
                if let Some((index, value, _)) = new.get(j)
                    && !opts.ignore_changes_and_additions
                {
                    additions.push((*index, value));
                }
                j += 1;
            }
            Ordering::Less => {
                // Upstream deduplicates the deletions.
                if let Some((value, _)) = old.get(i)
                    && !opts.ignore_deletions
                    && deletions.last() != Some(*value)
                {
                    deletions.push((*value).clone());
                }
                i += 1;
            }
        }
    }
    additions.sort_by_key(|(index, _)| *index);
    let mut order = Vec::new();
    if opts.set_element_order
        && ((!opts.ignore_deletions && !deletions.is_empty())
            || (!opts.ignore_changes_and_additions && original != modified))
    {
        order = modified.to_vec();
    }
    ListDiff {
        changes: additions.into_iter().map(|(_, v)| v.clone()).collect(),
        deletions,
        order,
    }
}
