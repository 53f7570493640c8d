//! Merging an applied configuration into the live object (upstream's `typed.Merge` with
//! the keep-the-applied-value rule).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{Map, Value};

use crate::compare::is_empty;
use crate::path::PathElement;
use crate::schema::Schema;
use crate::walk::{Kind, Slot, index};

/// `config` merged into `live` (both objects; anything else counts as `{}`).
///
/// Maps merge key by key, live keys first in their order, then new keys in the
/// configuration's order; leaves take the configuration's value; sets and list-map lists
/// merge element by element in upstream's order. A key the configuration sets to `null` is
/// dropped from the result (what decoding into a typed object does upstream) unless the live
/// value is a map or list, which upstream keeps.
pub(crate) fn merge(live: &Value, config: &Value, schema: &dyn Schema) -> Value {
    let empty = Map::new();
    Value::Object(merge_maps(
        live.as_object().unwrap_or(&empty),
        config.as_object().unwrap_or(&empty),
        schema,
    ))
}

fn merge_maps(
    live: &Map<String, Value>,
    config: &Map<String, Value>,
    schema: &dyn Schema,
) -> Map<String, Value> {
    let mut out = Map::new();
    let keys = live
        .keys()
        .chain(config.keys().filter(|k| !live.contains_key(*k)));
    for key in keys {
        let applied = config.get(key);
        let merged = merge_value(live.get(key), applied, Slot::Field(schema, key));
        match merged {
            Some(Value::Null) if applied.is_some_and(Value::is_null) => {}
            Some(value) => {
                out.insert(key.clone(), value);
            }
            None => {}
        }
    }
    out
}

fn merge_value(live: Option<&Value>, config: Option<&Value>, slot: Slot<'_>) -> Option<Value> {
    let config = match (live, config) {
        (None, None) => return None,
        (Some(live), None) => return Some(live.clone()),
        (_, Some(config)) => config,
    };
    match slot.kind(&[live, Some(config)]) {
        Kind::Map if !(is_empty(live) && is_empty(Some(config))) => {
            let empty = Map::new();
            let inner = slot.inner();
            Some(Value::Object(merge_maps(
                live.and_then(Value::as_object).unwrap_or(&empty),
                config.as_object().unwrap_or(&empty),
                inner.get(),
            )))
        }
        Kind::List(list_type) if !(is_empty(live) && is_empty(Some(config))) => {
            let inner = slot.inner();
            let live_items = live
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            let config_items = config.as_array().map_or(&[][..], Vec::as_slice);
            // The configuration was checked; a live list whose elements cannot be
            // identified is replaced whole, as an atomic list would be.
            let (Some(live_elements), Some(config_elements)) = (
                index(live_items, &list_type, inner.get()),
                index(config_items, &list_type, inner.get()),
            ) else {
                return Some(config.clone());
            };
            Some(Value::Array(merge_items(
                live_items,
                &live_elements,
                config_items,
                &config_elements,
                inner.get(),
            )))
        }
        // Different JSON types: the configuration's value replaces the live one, taken as
        // if nothing were there (so its null fields go as they would on a create).
        Kind::Leaf if live.is_some() => merge_value(None, Some(config), slot),
        _ => Some(config.clone()),
    }
}

/// Merges two granular lists, element by element, in upstream's order: live elements keep
/// their places, elements only in the configuration are inserted where the configuration
/// puts them relative to the shared ones, and shared elements follow the configuration's
/// order. A live identity that appears several times is kept as it is unless the
/// configuration names it, in which case the configuration's element replaces the copies.
fn merge_items(
    live: &[Value],
    live_elements: &[PathElement],
    config: &[Value],
    config_elements: &[PathElement],
    schema: &dyn Schema,
) -> Vec<Value> {
    let slot = Slot::Element(schema);
    let null = Value::Null;
    // Duplicated live identities merge as null, so the configuration's element wins.
    let mut live_by: BTreeMap<&PathElement, &Value> = BTreeMap::new();
    let mut duplicated: BTreeSet<&PathElement> = BTreeSet::new();
    for (item, element) in live.iter().zip(live_elements) {
        if live_by.insert(element, item).is_some() {
            duplicated.insert(element);
        }
    }
    for element in &duplicated {
        live_by.insert(element, &null);
    }
    let config_by: BTreeMap<&PathElement, &Value> = config_elements.iter().zip(config).collect();

    let mut shared: VecDeque<&PathElement> = config_elements
        .iter()
        .filter(|e| live_by.contains_key(e))
        .collect();
    let mut next_shared = shared.pop_front();
    let mut merged_config: BTreeSet<&PathElement> = BTreeSet::new();
    let mut out = Vec::with_capacity(live.len().max(config.len()));
    let (mut l, mut r) = (0, 0);
    while l < live.len() || r < config.len() {
        if l < live.len() && r < config.len() {
            let element = &live_elements[l];
            if *element == config_elements[r] {
                merged_config.insert(element);
                out.extend(merge_value(
                    live_by.get(element).copied(),
                    config_by.get(element).copied(),
                    slot,
                ));
                l += 1;
                r += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if config_by.contains_key(element) && next_shared.is_some_and(|n| n != element) {
                // A shared element, but not the next one the configuration wants.
                l += 1;
                continue;
            }
        }
        if l < live.len() {
            let element = &live_elements[l];
            if !config_by.contains_key(element) {
                out.extend(merge_value(Some(&live[l]), None, slot));
                l += 1;
                continue;
            } else if merged_config.contains(element) {
                l += 1;
            }
        }
        if r < config.len() {
            let element = &config_elements[r];
            merged_config.insert(element);
            out.extend(merge_value(
                live_by.get(element).copied(),
                config_by.get(element).copied(),
                slot,
            ));
            r += 1;
            if next_shared.is_some_and(|n| n == element) {
                next_shared = shared.pop_front();
            }
        }
    }
    out
}
