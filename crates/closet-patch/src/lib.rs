//! Strategic merge patch (SMP), without I/O: the server side, [`apply_strategic`], and the
//! patches kubectl computes, [`create_two_way_patch`] (`kubectl edit`) and
//! [`create_three_way_patch`] (client-side `kubectl apply`).
//!
//! Start with [`apply_strategic`] and the [`PatchMeta`] trait it walks with: the metadata
//! says which lists merge by which key, which are sets of primitives and which maps are
//! `retainKeys` unions. [`NoMeta`] knows nothing, which turns a strategic merge patch into a
//! JSON merge patch; custom resources get it.
//!
//! The semantics are those of `k8s.io/apimachinery/pkg/util/strategicpatch` (the engine
//! follows its `mergeMap`, `mergeSlice`, `diffMaps` and ordering rules, so computed patches
//! match kubectl's bodies byte for byte). Where this crate deliberately differs, the item
//! that differs says so; in short, no directive ever reaches a result, `$patch: merge` is
//! accepted as a no-op, and nothing the input can do panics or recurses without bound.
//!
//! Module map: `merge` (maps, both for applying and for combining the two halves of a
//! three-way patch), `list` (lists), `order` (element order), `diff` (computing patches),
//! `directive` (the `$` keys).

mod diff;
mod directive;
mod error;
mod list;
mod merge;
mod meta;
mod order;
mod path;
mod value;

#[cfg(test)]
mod test_util;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

pub use error::{Document, PatchError};
pub use meta::{ListStrategy, NoMeta, PatchMeta};

use diff::{DiffOptions, diff_maps};
use merge::{Mode, merge_map};
use path::Path;
use value::{checked_object, sort_keys};

/// The deepest nesting of objects and lists any input may have (a top-level object is one
/// level). Deeper input is refused with [`PatchError::TooDeep`] before any work, which
/// bounds the engine's recursion.
pub const MAX_DEPTH: usize = 100;

/// Applies the strategic merge patch `patch` to `original`.
///
/// Maps merge recursively and `null` deletes a key; lists follow
/// [`PatchMeta::list_strategy`]. The directives `$patch: replace|delete|merge` (on maps
/// and as list elements), `$setElementOrder/<list>`, `$retainKeys` and
/// `$deleteFromPrimitiveList/<list>` take effect and never appear in the result.
///
/// The result holds only values taken from `original` or `patch`, so it is never larger
/// than the two together, and the work is O(n log n) in their size.
///
/// As upstream, `{"$patch": "delete"}` on a map that exists leaves an empty map there.
pub fn apply_strategic(
    original: &Value,
    patch: &Value,
    meta: &dyn PatchMeta,
) -> Result<Value, PatchError> {
    let original = checked_object(original, Document::Original)?;
    let patch = checked_object(patch, Document::Patch)?;
    let merged = merge_map(
        original.clone(),
        patch.clone(),
        meta,
        Mode::Apply,
        &Path::ROOT,
    )?;
    Ok(Value::Object(merged))
}

/// The patch that turns `original` into `modified`, as `kubectl edit` computes it.
///
/// Keys are sorted as Go writes them, so the serialized patch is kubectl's body.
pub fn create_two_way_patch(
    original: &Value,
    modified: &Value,
    meta: &dyn PatchMeta,
) -> Result<Value, PatchError> {
    let original = checked_object(original, Document::Original)?;
    let modified = checked_object(modified, Document::Modified)?;
    let opts = DiffOptions {
        set_element_order: true,
        ..DiffOptions::default()
    };
    let patch = diff_maps(original, modified, meta, opts, &Path::ROOT)?;
    Ok(sort_keys(Value::Object(patch)))
}

/// The patch client-side `kubectl apply` sends: the changes from `current` (the live
/// object) to `modified` (the new configuration), plus deletions of what `last_applied`
/// (the previous configuration, from the `kubectl.kubernetes.io/last-applied-configuration`
/// annotation; `None` when absent) had and `modified` no longer has.
///
/// Fields only the server set are left alone, except where a `retainKeys` union clears
/// them. Like kubectl (which passes `overwrite = true`), no conflict check is made. Keys
/// are sorted as Go writes them.
pub fn create_three_way_patch(
    last_applied: Option<&Value>,
    modified: &Value,
    current: &Value,
    meta: &dyn PatchMeta,
) -> Result<Value, PatchError> {
    let empty = Map::new();
    let original = match last_applied {
        Some(value) => checked_object(value, Document::LastApplied)?,
        None => &empty,
    };
    let modified = checked_object(modified, Document::Modified)?;
    let current = checked_object(current, Document::Current)?;
    let changes = DiffOptions {
        set_element_order: true,
        ignore_deletions: true,
        ..DiffOptions::default()
    };
    let delta = diff_maps(current, modified, meta, changes, &Path::ROOT)?;
    let deletions_only = DiffOptions {
        set_element_order: true,
        ignore_changes_and_additions: true,
        ..DiffOptions::default()
    };
    let deletions = diff_maps(original, modified, meta, deletions_only, &Path::ROOT)?;
    // Upstream merges the changes into the deletions as one patch into another.
    let patch = merge_map(deletions, delta, meta, Mode::Combine, &Path::ROOT)?;
    Ok(sort_keys(Value::Object(patch)))
}
