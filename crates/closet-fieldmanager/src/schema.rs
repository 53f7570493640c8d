//! The list and map semantics the engine walks with, and two implementations: [`Deduced`]
//! (no schema at all) and [`TableSchema`] (a small table of paths).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// How server-side apply combines a list (`x-kubernetes-list-type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// The list is one value: an applier owns it whole and replaces it whole. What an
    /// unmarked list means.
    Atomic,
    /// A set of scalars (`metadata.finalizers`): each value is owned on its own and appliers'
    /// values are merged.
    Set,
    /// A list of objects identified by these fields (`x-kubernetes-list-map-keys`, e.g.
    /// `containers` by `name`): elements merge by key and their fields are owned one by one.
    Map(Vec<String>),
}

/// The server-side-apply semantics of one level of an object: what the engine asks about the
/// fields of the object (or list element) it is looking at.
///
/// An implementation describes one schema node, and [`Schema::child`] steps into a field; for
/// a list field, `child` describes the list's *elements*, so the walk goes
/// `containers` → (element) → `image` with two calls. For a map with free keys
/// (`additionalProperties`, e.g. `labels`, `resources.limits`), `child` describes the map's
/// values whatever the key.
///
/// Every lookup is total: a field the schema does not know is an atomic list, a granular map,
/// not a named field, and its child knows nothing ([`Deduced`]). Answers are only consulted
/// for values of the matching JSON type (`list_type` for arrays, `map_is_atomic` for objects).
///
/// The trait is object safe; the engine only ever holds `&dyn Schema`.
pub trait Schema {
    /// How the list at `field` of the current object merges.
    fn list_type(&self, field: &str) -> ListType;

    /// Whether the object at `field` is one value (`x-kubernetes-map-type: atomic` or
    /// `+structType=atomic`, e.g. a LabelSelector or `nodeSelector`).
    fn map_is_atomic(&self, field: &str) -> bool;

    /// Whether `field` is a property the current object's schema declares, as opposed to a
    /// key of a map with free keys (`labels`) or a field of an unknown type.
    ///
    /// This only shapes the recorded field sets the way upstream's do: an applied field that
    /// is not a named field is owned itself, not just through its children, so it shows up
    /// as `".": {}` in FieldsV1.
    fn is_named_field(&self, field: &str) -> bool;

    /// The schema default of `field` in the current object, when the current object is an
    /// element of a [`ListType::Map`] list and `field` one of its keys. An element that omits
    /// a key field is identified by the default (a container port without `protocol` is the
    /// `TCP` port). `None` leaves the key out of the element's identity.
    fn key_default(&self, field: &str) -> Option<Value> {
        let _ = field;
        None
    }

    /// The schema of the value at `field`: the object there, or the elements of the list
    /// there.
    fn child(&self, field: &str) -> Box<dyn Schema + '_>;
}

/// No schema: every list is atomic, every map granular, no field is named. What upstream
/// deduces for types it has no schema for (custom resources without list-type markers,
/// `x-kubernetes-preserve-unknown-fields` content).
#[derive(Debug, Clone, Copy, Default)]
pub struct Deduced;

impl Schema for Deduced {
    fn list_type(&self, _field: &str) -> ListType {
        ListType::Atomic
    }

    fn map_is_atomic(&self, _field: &str) -> bool {
        false
    }

    fn is_named_field(&self, _field: &str) -> bool {
        false
    }

    fn child(&self, _field: &str) -> Box<dyn Schema + '_> {
        Box::new(Deduced)
    }
}

/// A schema from a table of dotted paths, for tests and for kinds described by hand.
///
/// Paths name fields from the root, with list elements adding no segment:
/// `spec.template.spec.containers` is the containers list and
/// `spec.template.spec.containers.ports` the ports list of each container. Every field is a
/// named field except the keys of maps declared with [`TableSchema::with_free_map`] (and
/// anything below them).
///
/// ```
/// use closet_fieldmanager::{ListType, Schema, TableSchema};
///
/// let schema = TableSchema::new()
///     .with_list("spec.containers", ListType::Map(vec!["name".into()]))
///     .with_free_map("metadata.labels");
/// let spec = schema.child("spec");
/// assert_eq!(spec.list_type("containers"), ListType::Map(vec!["name".into()]));
/// assert!(!schema.child("metadata").child("labels").is_named_field("app"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TableSchema {
    lists: BTreeMap<String, ListType>,
    atomic_maps: BTreeSet<String>,
    free_maps: BTreeSet<String>,
    defaults: BTreeMap<String, Value>,
}

impl TableSchema {
    /// An empty table: every field named, every list atomic, every map granular.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares the list at `path`.
    pub fn with_list(mut self, path: &str, list_type: ListType) -> Self {
        self.lists.insert(path.to_string(), list_type);
        self
    }

    /// Declares the object at `path` atomic.
    pub fn with_atomic_map(mut self, path: &str) -> Self {
        self.atomic_maps.insert(path.to_string());
        self
    }

    /// Declares the object at `path` a map with free keys (`labels`, `data`): its keys are
    /// not named fields, and nor is anything below them.
    pub fn with_free_map(mut self, path: &str) -> Self {
        self.free_maps.insert(path.to_string());
        self
    }

    /// Declares the schema default of the field at `path` (used for list-map keys).
    pub fn with_default(mut self, path: &str, value: Value) -> Self {
        self.defaults.insert(path.to_string(), value);
        self
    }
}

/// One level of a [`TableSchema`].
struct TableNode<'a> {
    table: &'a TableSchema,
    /// The dotted path of this level; empty at the root.
    path: String,
    /// Whether this level is inside a free map.
    free: bool,
}

impl TableNode<'_> {
    fn field_path(&self, field: &str) -> String {
        if self.path.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.path)
        }
    }
}

impl Schema for TableNode<'_> {
    fn list_type(&self, field: &str) -> ListType {
        self.table
            .lists
            .get(&self.field_path(field))
            .cloned()
            .unwrap_or(ListType::Atomic)
    }

    fn map_is_atomic(&self, field: &str) -> bool {
        self.table.atomic_maps.contains(&self.field_path(field))
    }

    fn is_named_field(&self, _field: &str) -> bool {
        !self.free
    }

    fn key_default(&self, field: &str) -> Option<Value> {
        self.table.defaults.get(&self.field_path(field)).cloned()
    }

    fn child(&self, field: &str) -> Box<dyn Schema + '_> {
        let path = self.field_path(field);
        Box::new(TableNode {
            table: self.table,
            free: self.free || self.table.free_maps.contains(&path),
            path,
        })
    }
}

impl Schema for TableSchema {
    fn list_type(&self, field: &str) -> ListType {
        self.root().list_type(field)
    }

    fn map_is_atomic(&self, field: &str) -> bool {
        self.root().map_is_atomic(field)
    }

    fn is_named_field(&self, field: &str) -> bool {
        self.root().is_named_field(field)
    }

    fn key_default(&self, field: &str) -> Option<Value> {
        self.root().key_default(field)
    }

    fn child(&self, field: &str) -> Box<dyn Schema + '_> {
        Box::new(TableNode {
            table: self,
            path: field.to_string(),
            free: self.free_maps.contains(field),
        })
    }
}

impl TableSchema {
    fn root(&self) -> TableNode<'_> {
        TableNode {
            table: self,
            path: String::new(),
            free: false,
        }
    }
}
