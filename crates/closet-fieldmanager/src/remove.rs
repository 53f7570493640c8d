//! Removing a field set from an object (upstream's `RemoveItems`), which is how apply
//! prunes what a manager stopped applying.

use serde_json::{Map, Value};

use crate::fieldset::FieldSet;
use crate::path::PathElement;
use crate::schema::Schema;
use crate::walk::{Kind, Slot, index};

/// The result of [`remove`].
pub(crate) struct Removed {
    /// The object without the removed fields.
    pub(crate) value: Value,
    /// The maps the removal emptied, left in place as `{}`.
    pub(crate) emptied: FieldSet,
}

/// `object` without the members of `set` (and what lies below them). Atomic values are
/// never entered.
///
/// A map emptied by the removal stays, as `{}`, and is reported in
/// [`Removed::emptied`]: upstream leaves `null` there, and both read as the same field set,
/// which the pruning steps depend on. A granular list emptied by the removal, and a list
/// element emptied, disappear (upstream's `null` list reads the same for the steps that
/// follow, and a `null` element has no identity).
pub(crate) fn remove(object: &Value, set: &FieldSet, schema: &dyn Schema) -> Removed {
    let mut remover = Remover {
        path: Vec::new(),
        emptied: FieldSet::new(),
    };
    let value = match object {
        Value::Object(map) => Value::Object(remover.map(map, set, schema)),
        other => other.clone(),
    };
    Removed {
        value,
        emptied: remover.emptied,
    }
}

struct Remover {
    path: Vec<PathElement>,
    emptied: FieldSet,
}

/// What became of one value.
enum Outcome {
    Kept(Value),
    EmptiedMap,
    Gone,
}

impl Remover {
    fn map(
        &mut self,
        map: &Map<String, Value>,
        set: &FieldSet,
        schema: &dyn Schema,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in map {
            let element = PathElement::Field(key.clone());
            if set.members.contains(&element) {
                continue;
            }
            let Some(below) = set.children.get(&element) else {
                out.insert(key.clone(), value.clone());
                continue;
            };
            self.path.push(element);
            match self.value(value, below, Slot::Field(schema, key)) {
                Outcome::Kept(kept) => {
                    out.insert(key.clone(), kept);
                }
                Outcome::EmptiedMap => {
                    self.emptied.insert(&self.path);
                    out.insert(key.clone(), Value::Object(Map::new()));
                }
                Outcome::Gone => {}
            }
            self.path.pop();
        }
        out
    }

    fn value(&mut self, value: &Value, set: &FieldSet, slot: Slot<'_>) -> Outcome {
        match (value, slot.kind(&[Some(value)])) {
            (Value::Object(map), Kind::Map) => {
                let out = self.map(map, set, slot.inner().get());
                if out.is_empty() && !map.is_empty() {
                    Outcome::EmptiedMap
                } else {
                    Outcome::Kept(Value::Object(out))
                }
            }
            (Value::Array(items), Kind::List(list_type)) => {
                let inner = slot.inner();
                let Some(elements) = index(items, &list_type, inner.get()) else {
                    return Outcome::Kept(value.clone());
                };
                let mut out = Vec::with_capacity(items.len());
                for (item, element) in items.iter().zip(elements) {
                    if set.members.contains(&element) {
                        continue;
                    }
                    let Some(below) = set.children.get(&element) else {
                        out.push(item.clone());
                        continue;
                    };
                    self.path.push(element);
                    if let Outcome::Kept(kept) = self.value(item, below, Slot::Element(inner.get()))
                    {
                        out.push(kept);
                    }
                    self.path.pop();
                }
                if out.is_empty() && !items.is_empty() {
                    Outcome::Gone
                } else {
                    Outcome::Kept(Value::Array(out))
                }
            }
            _ => Outcome::Kept(value.clone()),
        }
    }
}
