//! Server-side Table columns and cells: what `kubectl get` prints for every built-in kind.
//!
//! kubectl asks for `meta.k8s.io/v1` Tables (kubectl-wire.md §1.3, §3.2) and prints the
//! columns the server chooses, so these must match upstream's printers column for column,
//! including the `-o wide` ones (priority 1): kubectl hides those itself, and the server always
//! sends every cell, as upstream's apiserver does.
//!
//! Start at [`columns`] and [`cells`]; they are crate-visible because the crate root keeps
//! this module private and the Table encoder beside it is the only caller. Each API group has
//! its own file with a `PRINTERS` list; `format.rs` and `selector.rs` hold the shared helpers.
//! Objects are arbitrary JSON from users, so every printer reads through the panic-free
//! accessors in `format.rs`.

mod apps;
mod batch;
mod core;
mod events;
mod format;
mod networking;
mod node;
mod other;
mod pod;
mod rbac;
mod selector;
mod storage;
#[cfg(test)]
mod tests;

use jiff::Timestamp;
use serde_json::Value;

/// One column of a Table (a `meta.k8s.io/v1` `TableColumnDefinition`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Column {
    /// Header text; kubectl upper-cases it.
    pub(crate) name: &'static str,
    /// The definition's `type`: "string", "integer", "number", "boolean" or "date".
    pub(crate) kind: &'static str,
    /// "name" for the column holding the object name, else "".
    pub(crate) format: &'static str,
    /// One line telling what the column shows.
    pub(crate) description: &'static str,
    /// 0 for normal columns, 1 for those kubectl shows only with `-o wide`.
    pub(crate) priority: i32,
}

/// A normal column.
const fn col(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        description,
        priority: 0,
    }
}

/// A column kubectl shows only with `-o wide`.
const fn wide(name: &'static str, kind: &'static str, description: &'static str) -> Column {
    Column {
        name,
        kind,
        format: "",
        description,
        priority: 1,
    }
}

/// The Name column every printer starts with.
const NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    description: "Name of the object, unique within its namespace (or the cluster).",
    priority: 0,
};

/// The Age column: time since creation.
const AGE: Column = col("Age", "string", "Time since the object was created.");

/// Wide column of the workload kinds: container names of the pod template.
const CONTAINERS: Column = wide(
    "Containers",
    "string",
    "Names of the containers in the template.",
);

/// Wide column of the workload kinds: container images of the pod template.
const IMAGES: Column = wide(
    "Images",
    "string",
    "Images of the containers in the template.",
);

/// What upstream's default table convertor shows for kinds without a printer (roles,
/// limit ranges, CRDs, custom resources without printer columns).
#[rustfmt::skip]
static DEFAULT_COLUMNS: &[Column] = &[
    NAME,
    col("Created At", "date", "When the object was created (RFC 3339)."),
];

/// How one resource is printed.
struct Printer {
    /// API group, "" for core.
    group: &'static str,
    /// Plural resource name.
    resource: &'static str,
    /// The columns, in order.
    columns: &'static [Column],
    /// Builds one row; must return exactly `columns.len()` cells.
    cells: fn(&Value, Timestamp) -> Vec<Value>,
}

impl Printer {
    /// A const constructor, so each group's list can be a static.
    const fn new(
        group: &'static str,
        resource: &'static str,
        columns: &'static [Column],
        cells: fn(&Value, Timestamp) -> Vec<Value>,
    ) -> Self {
        Self {
            group,
            resource,
            columns,
            cells,
        }
    }
}

/// Every printer, group by group.
static ALL: &[&[Printer]] = &[
    core::PRINTERS,
    pod::PRINTERS,
    node::PRINTERS,
    events::PRINTERS,
    storage::PRINTERS,
    apps::PRINTERS,
    batch::PRINTERS,
    networking::PRINTERS,
    rbac::PRINTERS,
    other::PRINTERS,
];

/// The printer for a resource, if it has one of its own.
fn find(group: &str, resource: &str) -> Option<&'static Printer> {
    ALL.iter()
        .flat_map(|list| list.iter())
        .find(|p| p.group == group && p.resource == resource)
}

/// The columns for a resource, by API group and plural resource name (e.g. `("", "pods")`,
/// `("apps", "deployments")`). Unknown resources (CRDs without printer columns) get the
/// default Name + Created At columns.
/// An age as kubectl shows it (`5m`, `3d4h`), or `<unknown>`.
pub(crate) fn human_age(t: Option<Timestamp>, now: Timestamp) -> String {
    format::since(t, now)
}

pub(crate) fn columns(group: &str, resource: &str) -> &'static [Column] {
    find(group, resource).map_or(DEFAULT_COLUMNS, |p| p.columns)
}

/// The cells of one row for `obj`, same length and order as [`columns`]`(group, resource)`.
/// `now` is the reference for ages. Never panics, whatever the object holds.
pub(crate) fn cells(group: &str, resource: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    let (columns, build) = match find(group, resource) {
        Some(p) => (p.columns, p.cells),
        None => (
            DEFAULT_COLUMNS,
            default_cells as fn(&Value, Timestamp) -> Vec<Value>,
        ),
    };
    let mut row = build(obj, now);
    // Each printer is tested to fill its columns exactly; this only keeps the promise to the
    // caller if a later edit slips, rather than sending kubectl a ragged row.
    row.resize(columns.len(), Value::Null);
    row
}

/// Name and creation time in RFC 3339, as upstream's default convertor prints them (a missing
/// timestamp is Go's zero time).
fn default_cells(obj: &Value, _now: Timestamp) -> Vec<Value> {
    let created = match format::time_at(obj, &["metadata", "creationTimestamp"]) {
        // Formatted by hand: whole seconds in UTC, like Go's RFC3339 layout, and no
        // fallible formatter in the path.
        Some(t) => {
            let dt = jiff::tz::Offset::UTC.to_datetime(t);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            )
        }
        None => "0001-01-01T00:00:00Z".to_string(),
    };
    vec![format::name(obj), Value::from(created)]
}

/// The clock every test reads ages against: 2024-05-01T12:00:00Z.
#[cfg(test)]
fn test_now() -> Timestamp {
    Timestamp::constant(1_714_564_800, 0)
}
