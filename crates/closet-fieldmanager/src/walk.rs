//! Walking objects with a [`Schema`]: how list elements are identified, the field set an
//! object specifies ([`FieldSet::from_object`]), and the checks an applied configuration
//! must pass.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::MAX_DEPTH;
use crate::fields_v1::FieldsError;
use crate::fieldset::FieldSet;
use crate::path::{Path, PathElement};
use crate::schema::{ListType, Schema};

/// Where a value sits, which decides how it merges: a field of an object described by a
/// schema, or an element of a granular list (whose schema describes the element).
#[derive(Clone, Copy)]
pub(crate) enum Slot<'a> {
    Field(&'a dyn Schema, &'a str),
    Element(&'a dyn Schema),
}

/// How a walk treats one value, decided from both sides' JSON types and the schema.
pub(crate) enum Kind {
    /// Compared and replaced whole.
    Leaf,
    /// An object merged field by field; the schema describes its fields.
    Map,
    /// A set or list-map list; the schema describes its elements.
    List(ListType),
}

impl<'a> Slot<'a> {
    /// The kind of the value here, given the values on either side (at least one present).
    /// `null` goes with either container type, as upstream lets null stand for an empty map
    /// or list; two different JSON types make a leaf.
    pub(crate) fn kind(self, sides: &[Option<&Value>]) -> Kind {
        let mut shape = None;
        for value in sides.iter().flatten() {
            let this = match value {
                Value::Object(_) => 1,
                Value::Array(_) => 2,
                Value::Null => continue,
                _ => 3,
            };
            match shape {
                None => shape = Some(this),
                Some(s) if s == this => {}
                Some(_) => return Kind::Leaf,
            }
        }
        match shape {
            Some(1) if !self.atomic_map() => Kind::Map,
            Some(2) => match self.list_type() {
                ListType::Atomic => Kind::Leaf,
                list_type => Kind::List(list_type),
            },
            _ => Kind::Leaf,
        }
    }

    fn atomic_map(self) -> bool {
        match self {
            Slot::Field(schema, field) => schema.map_is_atomic(field),
            Slot::Element(_) => false,
        }
    }

    fn list_type(self) -> ListType {
        match self {
            Slot::Field(schema, field) => schema.list_type(field),
            // A granular list's elements are maps or scalars, never granular lists.
            Slot::Element(_) => ListType::Atomic,
        }
    }

    /// The schema of this value's fields (for a map) or elements (for a list).
    pub(crate) fn inner(self) -> Inner<'a> {
        match self {
            Slot::Field(schema, field) => Inner::Owned(schema.child(field)),
            Slot::Element(schema) => Inner::Borrowed(schema),
        }
    }
}

/// A schema either stepped into (boxed) or passed through.
pub(crate) enum Inner<'a> {
    Owned(Box<dyn Schema + 'a>),
    Borrowed(&'a dyn Schema),
}

impl Inner<'_> {
    pub(crate) fn get(&self) -> &dyn Schema {
        match self {
            Inner::Owned(schema) => schema.as_ref(),
            Inner::Borrowed(schema) => *schema,
        }
    }
}

/// The path element that identifies `item` in a list of `list_type` (not atomic), or why it
/// has none. `element` is the schema of the list's elements.
pub(crate) fn element_of(
    item: &Value,
    list_type: &ListType,
    element: &dyn Schema,
) -> Result<PathElement, String> {
    let keys = match list_type {
        ListType::Map(keys) if !keys.is_empty() => keys,
        // No keys: upstream treats the list as a set of scalars.
        _ => {
            return match item {
                Value::Object(_) => {
                    Err("associative list without keys has an element that's a map type".into())
                }
                Value::Array(_) => {
                    Err("not supported: associative list with lists as elements".into())
                }
                Value::Null => Err(
                    "associative list without keys has an element that's an explicit null".into(),
                ),
                scalar => Ok(PathElement::Value(scalar.clone())),
            };
        }
    };
    let map = match item {
        Value::Object(map) => map,
        Value::Null => return Err("associative list with keys may not have a null element".into()),
        _ => return Err("associative list with keys may not have non-map elements".into()),
    };
    let mut fields = Map::new();
    for key in keys {
        // A key the element omits takes its schema default; without one it is left out of
        // the identity, which then names a different element than one that sets it.
        if let Some(value) = map.get(key).cloned().or_else(|| element.key_default(key)) {
            fields.insert(key.clone(), value);
        }
    }
    if fields.is_empty() {
        return Err(format!(
            "associative list with keys has an element that omits all key fields {keys:?} \
             (and doesn't have default values for any key fields)"
        ));
    }
    Ok(PathElement::key(fields))
}

/// The path elements of every item, or `None` when some item has none (such a list is
/// treated as atomic wherever it is met outside an applied configuration).
pub(crate) fn index(
    items: &[Value],
    list_type: &ListType,
    element: &dyn Schema,
) -> Option<Vec<PathElement>> {
    items
        .iter()
        .map(|item| element_of(item, list_type, element).ok())
        .collect()
}

impl FieldSet {
    /// The fields `object` specifies, as upstream's `ToFieldSet`: every scalar, atomic list
    /// and atomic map; every element of a set or list-map list (and its fields); every
    /// `null` or `{}`; and every field that is not a named field of its object (so a
    /// [`Deduced`](crate::Deduced) walk owns every level).
    ///
    /// An empty set or list-map list (`[]`) specifies nothing. A list whose elements cannot
    /// be identified is taken as atomic; an element that appears twice is owned only as a
    /// whole.
    pub fn from_object(object: &Value, schema: &dyn Schema) -> Result<FieldSet, FieldsError> {
        if too_deep(object) {
            return Err(FieldsError::TooDeep { max: MAX_DEPTH });
        }
        Ok(field_set(object, schema))
    }
}

/// [`FieldSet::from_object`] for input already checked for depth.
pub(crate) fn field_set(object: &Value, schema: &dyn Schema) -> FieldSet {
    let mut set = FieldSet::new();
    if let Value::Object(map) = object {
        walk_map(map, schema, &mut Vec::new(), &mut set);
    }
    set
}

fn walk_map(
    map: &Map<String, Value>,
    schema: &dyn Schema,
    path: &mut Vec<PathElement>,
    set: &mut FieldSet,
) {
    for (key, value) in map {
        path.push(PathElement::Field(key.clone()));
        walk_value(value, Slot::Field(schema, key), path, set);
        let empty_map = value.as_object().is_some_and(Map::is_empty);
        if value.is_null() || empty_map || !schema.is_named_field(key) {
            set.insert(path);
        }
        path.pop();
    }
}

fn walk_value(value: &Value, slot: Slot<'_>, path: &mut Vec<PathElement>, set: &mut FieldSet) {
    match (value, slot.kind(&[Some(value)])) {
        (Value::Object(map), Kind::Map) => walk_map(map, slot.inner().get(), path, set),
        (Value::Array(items), Kind::List(list_type)) => {
            let inner = slot.inner();
            match index(items, &list_type, inner.get()) {
                Some(elements) => walk_items(items, &elements, inner.get(), path, set),
                None => set.insert(path),
            }
        }
        _ => set.insert(path),
    }
}

fn walk_items(
    items: &[Value],
    elements: &[PathElement],
    schema: &dyn Schema,
    path: &mut Vec<PathElement>,
    set: &mut FieldSet,
) {
    let mut seen = BTreeSet::new();
    let mut duplicates = BTreeSet::new();
    for element in elements {
        if !seen.insert(element) && duplicates.insert(element) {
            path.push(element.clone());
            set.insert(path);
            path.pop();
        }
    }
    for (item, element) in items.iter().zip(elements) {
        if duplicates.contains(element) {
            continue;
        }
        path.push(element.clone());
        if let Value::Object(map) = item {
            walk_map(map, schema, path, set);
        }
        set.insert(path);
        path.pop();
    }
}

/// `set` plus, as members, the named fields that only have members below them (upstream's
/// `EnsureNamedFieldsAreMembers`): owning `.spec.replicas` then also covers `.spec`, but
/// owning `.metadata.labels.app` does not cover a label key's map.
pub(crate) fn ensure_named(set: &FieldSet, schema: &dyn Schema) -> FieldSet {
    let mut out = FieldSet {
        members: set.members.clone(),
        children: Default::default(),
    };
    for (element, child) in &set.children {
        let child = match element {
            PathElement::Field(name) => {
                if schema.is_named_field(name) {
                    out.members.insert(element.clone());
                }
                ensure_named(child, schema.child(name).as_ref())
            }
            // A list's elements: the schema passed down for the list already describes them.
            _ => ensure_named(child, schema),
        };
        out.children.insert(element.clone(), child);
    }
    out
}

/// Checks that every set and list-map list of an applied configuration identifies its
/// elements, once each. Returns the path of the first list that does not, and why.
pub(crate) fn check_config(
    object: &Map<String, Value>,
    schema: &dyn Schema,
) -> Result<(), (Path, String)> {
    check_map(object, schema, &mut Vec::new())
}

fn check_map(
    map: &Map<String, Value>,
    schema: &dyn Schema,
    path: &mut Vec<PathElement>,
) -> Result<(), (Path, String)> {
    for (key, value) in map {
        path.push(PathElement::Field(key.clone()));
        check_value(value, Slot::Field(schema, key), path)?;
        path.pop();
    }
    Ok(())
}

fn check_value(
    value: &Value,
    slot: Slot<'_>,
    path: &mut Vec<PathElement>,
) -> Result<(), (Path, String)> {
    match (value, slot.kind(&[Some(value)])) {
        (Value::Object(map), Kind::Map) => check_map(map, slot.inner().get(), path),
        (Value::Array(items), Kind::List(list_type)) => {
            let inner = slot.inner();
            let mut seen = BTreeSet::new();
            for (i, item) in items.iter().enumerate() {
                let element = element_of(item, &list_type, inner.get()).map_err(|reason| {
                    (Path::new(path.clone()), format!("element {i}: {reason}"))
                })?;
                if let Value::Object(map) = item {
                    path.push(element.clone());
                    check_map(map, inner.get(), path)?;
                    path.pop();
                }
                let text = element.to_string();
                if !seen.insert(element) {
                    return Err((
                        Path::new(path.clone()),
                        format!("duplicate entries for key {text}"),
                    ));
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether `value` nests objects and lists deeper than [`MAX_DEPTH`]. Iterative, so any
/// input can be checked.
pub(crate) fn too_deep(value: &Value) -> bool {
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Object(map) => Box::new(map.values()),
            Value::Array(items) => Box::new(items.iter()),
            _ => continue,
        };
        if depth > MAX_DEPTH {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}
