//! `meta.k8s.io/v1` Tables: the server-side printing kubectl relies on for its columns.
//! Column definitions and cells come from [`crate::tables`]; this module wraps them with row
//! objects as `includeObject` asks.

use closet_types::IncludeObject;
use serde_json::{Value, json};

use crate::object;
use crate::registry::ResourceInfo;
use crate::tables;

/// A Table of `objects`; `list_meta` is the list's metadata (resourceVersion, continue).
pub(crate) fn from_objects(
    info: &ResourceInfo,
    objects: &[Value],
    list_meta: Option<&Value>,
    include: IncludeObject,
) -> Value {
    let now = jiff::Timestamp::now();
    let rows = objects
        .iter()
        .map(|obj| row(info, obj, include, now))
        .collect();
    let metadata = list_meta.cloned().unwrap_or_else(|| {
        let rv = objects
            .first()
            .and_then(|o| object::meta_str(o, "resourceVersion"));
        json!({"resourceVersion": rv.unwrap_or("")})
    });
    table(info, rows, metadata)
}

/// One Table row for `obj`.
pub(crate) fn row(
    info: &ResourceInfo,
    obj: &Value,
    include: IncludeObject,
    now: jiff::Timestamp,
) -> Value {
    let cells = match info.custom.as_ref() {
        Some(custom) => crate::crd::cells(&custom.printer_columns, obj, now),
        None => tables::cells(&info.group, &info.plural, obj, now),
    };
    let mut row = json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Object => row["object"] = obj.clone(),
        IncludeObject::Metadata => row["object"] = crate::codec::partial(obj),
    }
    row
}

/// A Table around rows already built.
pub(crate) fn table(info: &ResourceInfo, rows: Vec<Value>, metadata: Value) -> Value {
    let definitions = match info.custom.as_ref() {
        Some(custom) => crate::crd::table_columns(&custom.printer_columns),
        None => builtin_definitions(info),
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

fn builtin_definitions(info: &ResourceInfo) -> Vec<Value> {
    tables::columns(&info.group, &info.plural)
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.kind,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect()
}
