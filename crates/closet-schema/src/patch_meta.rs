//! Merge metadata by field path, for the strategic-merge-patch and server-side-apply engines.
//!
//! The generated schemas of a group-version are compiled once into a small tree of shapes
//! (object with fields, list of items, map of values, scalar, unknown), with each field's
//! markers attached, so an engine walks it level by level with [`Node::field`] and
//! [`Node::items`] alongside the JSON it merges, never reparsing a schema.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::markers::{self, ListMarker, Marks};

/// How strategic merge patch combines a list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// The patch's list replaces the live one (no strategy, atomic, or not a list at all).
    Replace,
    /// Elements are maps matched by this key (`patchStrategy: merge`, `patchMergeKey`).
    MergeByKey(String),
    /// Elements are scalars merged as a set (`patchStrategy: merge` without a key, e.g.
    /// `metadata.finalizers`): `$deleteFromPrimitiveList` removes values.
    MergePrimitives,
}

/// How server-side apply combines a list (`x-kubernetes-list-type`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced whole; also what an unmarked list means.
    Atomic,
    /// A set of scalars.
    Set,
    /// Elements are maps identified by these keys (`x-kubernetes-list-map-keys`).
    Map(Vec<String>),
}

/// What kind of value a [`Node`] describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    /// A struct with known fields.
    Object,
    /// An array.
    List,
    /// A map with free keys (`additionalProperties`), e.g. labels.
    Map,
    /// A string, number, boolean, or scalar union (IntOrString, Quantity, Time).
    Scalar,
    /// Free-form (RawExtension, FieldsV1, JSON) or a path the schema does not know.
    Unknown,
}

/// The merge metadata of one kind; cheap to clone. Walk it from [`PatchMeta::root`], or ask for
/// a whole path at once.
///
/// ```
/// use closet_schema::{ListStrategy, NodeKind};
///
/// let meta = closet_schema::patch_meta("apps", "v1", "Deployment").unwrap();
/// let containers = ["spec", "template", "spec", "containers"];
/// assert_eq!(meta.list_strategy(&containers), ListStrategy::MergeByKey("name".into()));
///
/// // A merge engine walks alongside the JSON it merges, one level per call.
/// let pod_spec = meta.root().child("spec").child("template").child("spec");
/// let container = pod_spec.child("containers"); // the elements of the list
/// assert_eq!(container.kind(), NodeKind::Object);
/// assert_eq!(
///     container.field("env").list_strategy(),
///     ListStrategy::MergeByKey("name".into())
/// );
/// assert!(meta.root().child("spec").field("strategy").retain_keys());
/// ```
#[derive(Clone, Debug)]
pub struct PatchMeta {
    tree: Arc<Tree>,
    root: usize,
}

impl PatchMeta {
    pub(crate) fn new(tree: Arc<Tree>, definition: &str) -> Option<Self> {
        let root = *tree.index.get(definition)?;
        Some(Self { tree, root })
    }

    /// The node of the whole object.
    pub fn root(&self) -> Node<'_> {
        Node {
            tree: &self.tree,
            shape: &self.tree.objects[self.root].shape,
            marks: None,
            element: false,
        }
    }

    /// The node at `path` (see [`Node::at`]).
    pub fn at(&self, path: &[&str]) -> Node<'_> {
        self.root().at(path)
    }

    /// The strategic-merge strategy of the list at `path`, e.g.
    /// `["spec", "template", "spec", "containers"]` → `MergeByKey("name")`.
    pub fn list_strategy(&self, path: &[&str]) -> ListStrategy {
        self.at(path).list_strategy()
    }

    /// Whether the map at `path` (or each element of the list at `path`) keeps only the keys a
    /// patch's `$retainKeys` names.
    pub fn retain_keys(&self, path: &[&str]) -> bool {
        self.at(path).retain_keys()
    }

    /// The server-side-apply list type at `path`; `None` when `path` is not a list.
    pub fn list_type(&self, path: &[&str]) -> Option<ListType> {
        self.at(path).list_type()
    }
}

/// One level of a kind's schema: what a merge engine needs to know about the value at some
/// path. Obtained from [`PatchMeta`]; `Copy`, so hand it down a recursion freely.
#[derive(Clone, Copy, Debug)]
pub struct Node<'a> {
    tree: &'a Tree,
    shape: &'a Shape,
    /// The markers of the field this node was reached through.
    marks: Option<&'static Marks>,
    /// Whether this node is an element of that field's list.
    element: bool,
}

static UNKNOWN: Shape = Shape::Unknown;

impl<'a> Node<'a> {
    fn unknown(self) -> Self {
        Node {
            shape: &UNKNOWN,
            marks: None,
            element: false,
            ..self
        }
    }

    /// What kind of value this is.
    pub fn kind(&self) -> NodeKind {
        match self.shape {
            Shape::Object(_) => NodeKind::Object,
            Shape::List(_) => NodeKind::List,
            Shape::Map(_) => NodeKind::Map,
            Shape::Scalar => NodeKind::Scalar,
            Shape::Unknown => NodeKind::Unknown,
        }
    }

    /// The value under `name`: an object's field, or a map's value (any key). On a list this
    /// steps into the elements first, so `["spec", "containers", "env"]` reads naturally.
    /// Anything else is [`NodeKind::Unknown`].
    pub fn field(self, name: &str) -> Node<'a> {
        match self.shape {
            Shape::Object(index) => {
                let fields = &self.tree.objects[*index].fields;
                match fields.binary_search_by(|f| f.name.as_ref().cmp(name)) {
                    Ok(i) => Node {
                        shape: &fields[i].shape,
                        marks: fields[i].marks,
                        element: false,
                        ..self
                    },
                    Err(_) => self.unknown(),
                }
            }
            Shape::Map(value) => Node {
                shape: value,
                marks: None,
                element: false,
                ..self
            },
            Shape::List(_) => self.items().field(name),
            Shape::Scalar | Shape::Unknown => self.unknown(),
        }
    }

    /// Whether this is an object whose schema declares `name`. Tells an undeclared field
    /// (what `fieldValidation=Strict` rejects) from a declared free-form one, which
    /// [`Node::field`] both answer with [`NodeKind::Unknown`].
    pub fn declares(&self, name: &str) -> bool {
        match self.shape {
            Shape::Object(index) => self.tree.objects[*index]
                .fields
                .binary_search_by(|f| f.name.as_ref().cmp(name))
                .is_ok(),
            _ => false,
        }
    }

    /// The elements of a list; they inherit the list's `retainKeys`. Unknown for non-lists.
    pub fn items(self) -> Node<'a> {
        match self.shape {
            Shape::List(items) => Node {
                shape: items,
                element: true,
                ..self
            },
            _ => self.unknown(),
        }
    }

    /// What a recursive merge descends into at `name`: the field's value, or, when that is a
    /// list, its elements. The list itself is still described by `self.field(name)`.
    pub fn child(self, name: &str) -> Node<'a> {
        let node = self.field(name);
        if node.kind() == NodeKind::List {
            node.items()
        } else {
            node
        }
    }

    /// Walks `path` with [`Node::field`]; a segment that is a number (an index) or `*` steps
    /// into a list's elements.
    pub fn at(self, path: &[&str]) -> Node<'a> {
        path.iter().fold(self, |node, segment| {
            let index = *segment == "*" || segment.bytes().all(|b| b.is_ascii_digit());
            if index && node.kind() == NodeKind::List {
                node.items()
            } else {
                node.field(segment)
            }
        })
    }

    /// The strategic-merge strategy of this list; `Replace` for anything that is not a list.
    pub fn list_strategy(&self) -> ListStrategy {
        let Some(marks) = self
            .marks
            .filter(|_| self.kind() == NodeKind::List && !self.element)
        else {
            return ListStrategy::Replace;
        };
        let merge = marks
            .strategy
            .is_some_and(|s| s.split(',').any(|p| p == "merge"));
        match (merge, marks.merge_key) {
            (true, Some(key)) => ListStrategy::MergeByKey(key.to_string()),
            (true, None) => ListStrategy::MergePrimitives,
            (false, _) => ListStrategy::Replace,
        }
    }

    /// Whether this map (a field tagged `retainKeys`, e.g. a Deployment's `strategy`), or this
    /// list whose elements are such maps (`volumes`), or such an element, honours `$retainKeys`.
    pub fn retain_keys(&self) -> bool {
        self.strategy_has("retainKeys")
    }

    /// Whether strategic merge patch replaces this value whole instead of merging it
    /// (`patchStrategy: replace`, e.g. a PodDisruptionBudget's `spec.selector`).
    pub fn replace(&self) -> bool {
        !self.element && self.strategy_has("replace")
    }

    /// The server-side-apply type of this list; `None` when this is not a list.
    pub fn list_type(&self) -> Option<ListType> {
        if self.kind() != NodeKind::List {
            return None;
        }
        let marker = self.marks.and_then(|m| m.list).filter(|_| !self.element);
        Some(match marker {
            None | Some(ListMarker::Atomic) => ListType::Atomic,
            Some(ListMarker::Set) => ListType::Set,
            Some(ListMarker::Map(keys)) => {
                ListType::Map(keys.iter().map(|k| k.to_string()).collect())
            }
        })
    }

    /// Whether server-side apply treats this map or struct as one value
    /// (`x-kubernetes-map-type: atomic`, e.g. `nodeSelector`, a LabelSelector).
    pub fn atomic_map(&self) -> bool {
        let field = !self.element && self.marks.and_then(|m| m.map_type) == Some("atomic");
        let object = match self.shape {
            Shape::Object(index) => self.tree.objects[*index].atomic,
            _ => false,
        };
        field || object
    }

    fn strategy_has(&self, part: &str) -> bool {
        self.marks
            .and_then(|m| m.strategy)
            .is_some_and(|s| s.split(',').any(|p| p == part))
    }
}

// === impl Tree ===

/// The compiled schemas of one group-version.
#[derive(Debug)]
pub(crate) struct Tree {
    objects: Vec<Object>,
    index: HashMap<String, usize>,
}

#[derive(Debug)]
struct Object {
    /// Sorted by name.
    fields: Vec<Field>,
    /// `+structType=atomic`.
    atomic: bool,
    /// The object's own shape, so the root node can borrow one.
    shape: Shape,
}

#[derive(Debug)]
struct Field {
    name: Box<str>,
    shape: Shape,
    marks: Option<&'static Marks>,
}

#[derive(Debug)]
enum Shape {
    Object(usize),
    List(Box<Shape>),
    Map(Box<Shape>),
    Scalar,
    Unknown,
}

impl Tree {
    /// Compiles the component schemas of one document.
    pub(crate) fn compile(schemas: &Map<String, Value>) -> Self {
        let index: HashMap<String, usize> = schemas
            .iter()
            .filter(|(_, s)| s.get("properties").is_some())
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
            .collect();
        let mut objects = Vec::with_capacity(index.len());
        for (name, schema) in schemas
            .iter()
            .filter(|(_, s)| s.get("properties").is_some())
        {
            let mut fields: Vec<Field> = schema["properties"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(field, property)| Field {
                    name: field.as_str().into(),
                    shape: shape_of(property, schemas, &index),
                    marks: markers::marks(name, field),
                })
                .collect();
            fields.sort_by(|a, b| a.name.cmp(&b.name));
            fields.shrink_to_fit();
            objects.push(Object {
                fields,
                atomic: markers::ATOMIC_STRUCTS.contains(&name.as_str()),
                shape: Shape::Object(objects.len()),
            });
        }
        Self { objects, index }
    }
}

/// The shape of a property schema, following `$ref` (bare or wrapped in `allOf`).
fn shape_of(schema: &Value, schemas: &Map<String, Value>, index: &HashMap<String, usize>) -> Shape {
    let reference = schema
        .get("$ref")
        .or_else(|| schema.pointer("/allOf/0/$ref"))
        .and_then(Value::as_str);
    if let Some(reference) = reference {
        let name = reference.trim_start_matches("#/components/schemas/");
        if let Some(i) = index.get(name) {
            return Shape::Object(*i);
        }
        // A named scalar (Time, Quantity, IntOrString) or a free-form value (RawExtension).
        return match schemas.get(name) {
            Some(target) if is_scalar(target) => Shape::Scalar,
            _ => Shape::Unknown,
        };
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("array") => match schema.get("items") {
            Some(items) => Shape::List(Box::new(shape_of(items, schemas, index))),
            None => Shape::List(Box::new(Shape::Unknown)),
        },
        Some("object") => match schema.get("additionalProperties") {
            Some(values) if values.is_object() => {
                Shape::Map(Box::new(shape_of(values, schemas, index)))
            }
            _ => Shape::Unknown,
        },
        Some(_) => Shape::Scalar,
        None => Shape::Unknown,
    }
}

/// A scalar type, or a `oneOf` of scalar types (IntOrString, Quantity).
fn is_scalar(schema: &Value) -> bool {
    let scalar = |s: &Value| {
        matches!(
            s.get("type").and_then(Value::as_str),
            Some("string" | "integer" | "number" | "boolean")
        )
    };
    match schema.get("oneOf").and_then(Value::as_array) {
        Some(types) => types.iter().all(scalar),
        None => scalar(schema),
    }
}
