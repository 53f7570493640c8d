//! Which fields differ between two versions of an object (upstream's `typed.Compare`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::fieldset::FieldSet;
use crate::path::{PathElement, values_equal};
use crate::schema::Schema;
use crate::walk::{Kind, Slot, index};

/// The fields added, changed and removed going from one object to another.
///
/// Leaves (scalars, atomic lists and maps, and anything whose JSON type changed) are
/// compared by value. A granular map or list element that appears or disappears whole is
/// itself added or removed, along with everything below it.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    pub(crate) added: FieldSet,
    pub(crate) modified: FieldSet,
    pub(crate) removed: FieldSet,
}

impl Comparison {
    /// Takes out the fields at or below `ignored` (upstream's reset-fields filter).
    pub(crate) fn exclude(self, ignored: Option<&FieldSet>) -> Self {
        match ignored {
            Some(ignored) => Comparison {
                added: self.added.recursive_difference(ignored),
                modified: self.modified.recursive_difference(ignored),
                removed: self.removed.recursive_difference(ignored),
            },
            None => self,
        }
    }

    /// The fields whose value is new: modified or added.
    pub(crate) fn changed(&self) -> FieldSet {
        self.modified.union(&self.added)
    }
}

/// Compares two objects (anything else counts as `{}`).
pub(crate) fn compare(old: &Value, new: &Value, schema: &dyn Schema) -> Comparison {
    let empty = Map::new();
    let mut out = Comparison::default();
    compare_maps(
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
        schema,
        &mut Vec::new(),
        &mut out,
    );
    out
}

fn compare_maps(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    schema: &dyn Schema,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let keys = old
        .keys()
        .chain(new.keys().filter(|k| !old.contains_key(*k)));
    for key in keys {
        path.push(PathElement::Field(key.clone()));
        compare_value(
            old.get(key),
            new.get(key),
            Slot::Field(schema, key),
            path,
            out,
        );
        path.pop();
    }
}

fn compare_value(
    old: Option<&Value>,
    new: Option<&Value>,
    slot: Slot<'_>,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let granular = match slot.kind(&[old, new]) {
        Kind::Map if !(is_empty(old) && is_empty(new)) => {
            let empty = Map::new();
            let inner = slot.inner();
            compare_maps(
                old.and_then(Value::as_object).unwrap_or(&empty),
                new.and_then(Value::as_object).unwrap_or(&empty),
                inner.get(),
                path,
                out,
            );
            true
        }
        Kind::List(list_type) if !(is_empty(old) && is_empty(new)) => {
            let inner = slot.inner();
            let old_items = items(old);
            let new_items = items(new);
            match (
                index(old_items, &list_type, inner.get()),
                index(new_items, &list_type, inner.get()),
            ) {
                (Some(old_elements), Some(new_elements)) => {
                    let old_items = old_items.iter().zip(old_elements);
                    let new_items = new_items.iter().zip(new_elements);
                    compare_items(old_items, new_items, inner.get(), path, out);
                    true
                }
                _ => false,
            }
        }
        _ => false,
    };
    if !granular {
        match (old, new) {
            (None, Some(_)) => out.added.insert(path),
            (Some(_), None) => out.removed.insert(path),
            (Some(o), Some(n)) if !values_equal(o, n) => out.modified.insert(path),
            _ => {}
        }
    } else if old.is_none() {
        out.added.insert(path);
    } else if new.is_none() {
        out.removed.insert(path);
    }
}

/// Compares the elements of a granular list by identity. An identity that appears more than
/// once on a side is compared as one value: changed if both sides have it several times and
/// differ, added or removed if only one side has it several times.
fn compare_items<'v>(
    old: impl Iterator<Item = (&'v Value, PathElement)>,
    new: impl Iterator<Item = (&'v Value, PathElement)>,
    schema: &dyn Schema,
    path: &mut Vec<PathElement>,
    out: &mut Comparison,
) {
    let mut order: Vec<PathElement> = Vec::new();
    let mut old_values: BTreeMap<PathElement, Vec<&Value>> = BTreeMap::new();
    let mut new_values: BTreeMap<PathElement, Vec<&Value>> = BTreeMap::new();
    for (item, element) in old {
        let values = old_values.entry(element.clone()).or_default();
        if values.is_empty() {
            order.push(element);
        }
        values.push(item);
    }
    for (item, element) in new {
        if !old_values.contains_key(&element) && !new_values.contains_key(&element) {
            order.push(element.clone());
        }
        new_values.entry(element).or_default().push(item);
    }
    for element in order {
        let olds = old_values.get(&element).map_or(&[][..], Vec::as_slice);
        let news = new_values.get(&element).map_or(&[][..], Vec::as_slice);
        path.push(element);
        match (olds.len(), news.len()) {
            (0..=1, 0..=1) => compare_value(
                olds.first().copied(),
                news.first().copied(),
                Slot::Element(schema),
                path,
                out,
            ),
            (2.., 2..) => {
                let same = olds.len() == news.len()
                    && olds.iter().zip(news).all(|(o, n)| values_equal(o, n));
                if !same {
                    out.modified.insert(path);
                }
            }
            (2.., _) => {
                if let Some(n) = news.first() {
                    compare_value(None, Some(n), Slot::Element(schema), path, out);
                }
                out.removed.insert(path);
            }
            (_, _) => {
                if let Some(o) = olds.first() {
                    compare_value(Some(o), None, Slot::Element(schema), path, out);
                }
                out.added.insert(path);
            }
        }
        path.pop();
    }
}

/// The items of a list value; none for anything else.
fn items(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Absent, `null`, `{}` or `[]`.
pub(crate) fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Object(map)) => map.is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    }
}
