//! `additionalPrinterColumns`: the Table columns a CRD declares, evaluated on its objects.

use serde_json::{Value, json};

/// One declared column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Header.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean` or `date`.
    pub kind: String,
    /// OpenAPI format hint.
    pub format: String,
    /// Human description.
    pub description: String,
    /// 0, or 1 for `-o wide` only.
    pub priority: i64,
    /// Where the value is, e.g. `.spec.size`.
    pub json_path: String,
}

/// Parses a version's `additionalPrinterColumns`; with none declared, upstream shows the age.
pub(super) fn parse(columns: Option<&Value>) -> Vec<PrinterColumn> {
    let parsed: Vec<PrinterColumn> = columns
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let s = |f: &str| c.get(f).and_then(Value::as_str).unwrap_or("").to_string();
            let json_path = s("jsonPath");
            (!s("name").is_empty() && !json_path.is_empty()).then(|| PrinterColumn {
                name: s("name"),
                kind: s("type"),
                format: s("format"),
                description: s("description"),
                priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                json_path,
            })
        })
        .collect();
    if parsed.is_empty() && columns.is_none() {
        return vec![PrinterColumn {
            name: "Age".into(),
            kind: "date".into(),
            format: String::new(),
            description: "When the object was created.".into(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        }];
    }
    parsed
}

/// Column definitions and the cell function for a custom resource's Table.
pub(crate) fn table_columns(columns: &[PrinterColumn]) -> Vec<Value> {
    let mut defs = vec![json!({
        "name": "Name", "type": "string", "format": "name",
        "description": "Name must be unique within a namespace.", "priority": 0,
    })];
    defs.extend(columns.iter().map(|c| {
        json!({"name": c.name, "type": c.kind, "format": c.format, "description": c.description, "priority": c.priority})
    }));
    defs
}

/// The cells of one row.
pub(crate) fn cells(columns: &[PrinterColumn], obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
    let name = crate::object::name(obj).to_string();
    let mut cells = vec![json!(name)];
    cells.extend(columns.iter().map(|c| {
        let value = lookup(obj, &c.json_path);
        match (c.kind.as_str(), value) {
            (_, None) => Value::Null,
            ("date", Some(v)) => {
                let t = v.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok());
                json!(crate::tables::human_age(t, now))
            }
            ("integer" | "number" | "boolean", Some(v)) if !v.is_object() && !v.is_array() => {
                v.clone()
            }
            (_, Some(Value::String(s))) => json!(s),
            (_, Some(v)) => json!(v.to_string()),
        }
    }));
    cells
}

/// Evaluates the simple JSONPath forms CRDs use: `.a.b`, `.a[0].b`, `{.a.b}`.
fn lookup<'a>(obj: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut cur = obj;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (field, index) = match segment.split_once('[') {
            Some((f, rest)) => (f, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        if !field.is_empty() {
            cur = cur.get(field)?;
        }
        if let Some(i) = index {
            cur = cur.get(i)?;
        }
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_declared_columns() {
        let cols = parse(Some(&json!([
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "First", "type": "string", "jsonPath": ".spec.items[0].name"},
            {"name": "Missing", "type": "string", "jsonPath": ".status.nope"},
        ])));
        let obj = json!({"metadata": {"name": "w"}, "spec": {"size": 3, "items": [{"name": "a"}]}});
        let cells = cells(&cols, &obj, jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(cells, vec![json!("w"), json!(3), json!("a"), Value::Null]);
        assert_eq!(table_columns(&cols).len(), 4);
    }

    #[test]
    fn no_declared_columns_shows_age() {
        assert_eq!(parse(None)[0].name, "Age");
    }
}
