//! Element identity and the order of merged lists.
//!
//! Upstream's rule (`normalizeElementOrder`), reproduced here: the elements a patch
//! mentions come in the patch's order (or its `$setElementOrder`), the elements only the
//! server has keep their own relative order, and the two runs are interleaved by walking
//! both and taking a server-only element first only when the live list has it before the
//! patch element being compared. Everything is hashed, so ordering is O(n log n).

use std::collections::HashMap;

use serde_json::Value;

use crate::directive::{has_marker, is_delete_element};
use crate::error::PatchError;
use crate::path::Path;
use crate::value::{canonical, kind_name};

/// The identity of a list element: its merge-key value for lists of objects merged by
/// key, the whole value otherwise.
pub(crate) fn identity(
    value: &Value,
    key: Option<&str>,
    path: &Path<'_>,
) -> Result<String, PatchError> {
    let Some(key) = key else {
        return Ok(canonical(value));
    };
    let Value::Object(map) = value else {
        return Err(PatchError::WrongType {
            path: path.render(),
            expected: "an object",
            found: kind_name(value),
        });
    };
    map.get(key)
        .map(canonical)
        .ok_or_else(|| PatchError::MissingMergeKey {
            path: path.render(),
            key: key.to_owned(),
        })
}

/// The first position of each identity in a list.
#[derive(Debug, Default, Clone)]
pub(crate) struct IdIndex(HashMap<String, usize>);

impl IdIndex {
    pub(crate) fn new(
        list: &[Value],
        key: Option<&str>,
        path: &Path<'_>,
    ) -> Result<IdIndex, PatchError> {
        let mut index = IdIndex::default();
        for (i, value) in list.iter().enumerate() {
            index.insert(identity(value, key, &path.index(i))?, i);
        }
        Ok(index)
    }

    /// Records `position` for `id` unless `id` is already known.
    pub(crate) fn insert(&mut self, id: String, position: usize) {
        self.0.entry(id).or_insert(position);
    }

    pub(crate) fn get(&self, id: &str) -> Option<usize> {
        self.0.get(id).copied()
    }
}

struct Entry {
    id: String,
    /// Position in the order this run is sorted by.
    rank: Option<usize>,
    value: Value,
}

/// Orders `merged`: elements whose identity `patch_order` knows, sorted by it, interleaved
/// with the rest, sorted by `server_order`.
pub(crate) fn reorder(
    merged: Vec<Value>,
    patch_order: &IdIndex,
    server_order: &IdIndex,
    key: Option<&str>,
    path: &Path<'_>,
) -> Result<Vec<Value>, PatchError> {
    let mut from_patch = Vec::new();
    let mut server_only = Vec::new();
    for (i, value) in merged.into_iter().enumerate() {
        let id = identity(&value, key, &path.index(i))?;
        match patch_order.get(&id) {
            Some(rank) => from_patch.push(Entry {
                id,
                rank: Some(rank),
                value,
            }),
            None => server_only.push(Entry {
                rank: server_order.get(&id),
                id,
                value,
            }),
        }
    }
    let extract_deletes = key.is_some();
    let from_patch = sort_run(from_patch, extract_deletes);
    let server_only = sort_run(server_only, extract_deletes);
    Ok(interleave(server_only, from_patch, server_order))
}

/// Stable sort by rank, unranked last; `{"$patch": "delete"}` elements (present only when
/// merging two patches) go to the end, as upstream puts them.
fn sort_run(entries: Vec<Entry>, extract_deletes: bool) -> Vec<Entry> {
    let (mut kept, deletes): (Vec<Entry>, Vec<Entry>) = if extract_deletes {
        entries
            .into_iter()
            .partition(|entry| !is_delete_element(&entry.value))
    } else {
        (entries, Vec::new())
    };
    kept.sort_by_key(|entry| (entry.rank.is_none(), entry.rank));
    kept.extend(deletes);
    kept
}

/// Upstream's `mergeSortedSlice`: a server-only element goes before the next patch element
/// only when both are in the live list and it comes first there.
fn interleave(
    server_only: Vec<Entry>,
    from_patch: Vec<Entry>,
    server_order: &IdIndex,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(server_only.len() + from_patch.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => matches!(
                (server_order.get(&l.id), server_order.get(&r.id)),
                (Some(li), Some(ri)) if li < ri
            ),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next.map(|entry| entry.value));
    }
    out
}

/// Checks that the ordinary elements of a patch list appear in its `$setElementOrder` list,
/// in the same relative order (elements carrying `$patch` are exempt).
pub(crate) fn check_order(
    patch: &[Value],
    order: &[Value],
    key: Option<&str>,
    path: &Path<'_>,
) -> Result<(), PatchError> {
    // Upstream skips the check when either list is empty.
    if order.is_empty() {
        return Ok(());
    }
    let mut order_ids = order.iter().enumerate();
    'items: for (i, item) in patch.iter().enumerate() {
        if has_marker(item) {
            continue;
        }
        let id = identity(item, key, &path.index(i))?;
        for (j, wanted) in order_ids.by_ref() {
            if identity(wanted, key, &path.index(j))? == id {
                continue 'items;
            }
        }
        return Err(PatchError::OrderMismatch {
            path: path.render(),
        });
    }
    Ok(())
}
