//! [`ManagedFields`]: the `metadata.managedFields` list, read and written as upstream does.

use std::fmt;

use serde_json::{Map, Value};

use crate::fields_v1::FieldsError;
use crate::fieldset::FieldSet;
use crate::go_json;

/// How a manager last wrote its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    /// Server-side apply: the manager states the fields it wants, and dropping one later
    /// removes it.
    Apply,
    /// An ordinary write (create, update, patch): the manager owns the fields it changed.
    Update,
}

impl Operation {
    /// `"Apply"` or `"Update"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `metadata.managedFields`: the fields one manager owns.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedFieldsEntry {
    /// The field manager (`?fieldManager=`, or upstream's default from the user agent).
    pub manager: String,
    /// How it wrote them.
    pub operation: Operation,
    /// The group-version the field set is written in (`apps/v1`, `v1`).
    pub api_version: String,
    /// RFC 3339 time of the last write that changed this manager's fields or their values;
    /// absent in entries written by others without one.
    pub time: Option<String>,
    /// The subresource written through (`status`, `scale`), or empty for the main resource.
    pub subresource: String,
    /// The owned fields.
    pub fields: FieldSet,
}

/// What makes two entries the same manager: name, operation and subresource, and for
/// Update also the version (upstream's manager identifier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) manager: String,
    pub(crate) operation: Operation,
    pub(crate) api_version: String,
    pub(crate) subresource: String,
}

impl Identity {
    pub(crate) fn new(
        manager: &str,
        operation: Operation,
        api_version: &str,
        subresource: &str,
    ) -> Self {
        Identity {
            // Upstream records writes without a manager name as "unknown".
            manager: if manager.is_empty() {
                "unknown"
            } else {
                manager
            }
            .to_string(),
            operation,
            api_version: match operation {
                Operation::Apply => String::new(),
                Operation::Update => api_version.to_string(),
            },
            subresource: subresource.to_string(),
        }
    }

    /// Upstream's identifier text (the entry's JSON without time and fields), which orders
    /// managers in conflict messages and when capping Update entries.
    pub(crate) fn key(&self) -> String {
        let mut out = String::from("{");
        let mut field = |name: &str, value: &str| {
            if !value.is_empty() {
                if out.len() > 1 {
                    out.push(',');
                }
                go_json::write_string(&mut out, name);
                out.push(':');
                go_json::write_string(&mut out, value);
            }
        };
        field("manager", &self.manager);
        field("operation", self.operation.as_str());
        field("apiVersion", &self.api_version);
        field("subresource", &self.subresource);
        out.push('}');
        out
    }
}

impl ManagedFieldsEntry {
    pub(crate) fn identity(&self) -> Identity {
        Identity::new(
            &self.manager,
            self.operation,
            &self.api_version,
            &self.subresource,
        )
    }

    fn to_value(&self) -> Value {
        // Go's field order for ManagedFieldsEntry, empty fields omitted.
        let mut out = Map::new();
        if !self.manager.is_empty() {
            out.insert("manager".into(), self.manager.clone().into());
        }
        out.insert("operation".into(), self.operation.as_str().into());
        out.insert("apiVersion".into(), self.api_version.clone().into());
        if let Some(time) = &self.time {
            out.insert("time".into(), time.clone().into());
        }
        out.insert("fieldsType".into(), "FieldsV1".into());
        out.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            out.insert("subresource".into(), self.subresource.clone().into());
        }
        Value::Object(out)
    }
}

/// Why a `managedFields` list could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManagedFieldsError {
    /// `managedFields` is not a list.
    #[error("managedFields is not a list")]
    NotAList,
    /// An entry is not an object, or a field has the wrong JSON type.
    #[error("managedFields entry {index}: {message}")]
    Malformed {
        /// The entry's position.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// The operation is neither `Apply` nor `Update`.
    #[error("managedFields entry {index}: operation must be `Apply` or `Update`")]
    Operation {
        /// The entry's position.
        index: usize,
    },
    /// `apiVersion` is missing or empty.
    #[error("managedFields entry {index}: apiVersion must not be empty")]
    ApiVersion {
        /// The entry's position.
        index: usize,
    },
    /// `fieldsType` is not `FieldsV1`.
    #[error("managedFields entry {index}: invalid fieldsType {found:?}")]
    FieldsType {
        /// The entry's position.
        index: usize,
        /// What it says instead (empty when missing).
        found: String,
    },
    /// `fieldsV1` does not decode.
    #[error("managedFields entry {index}: {source}")]
    Fields {
        /// The entry's position.
        index: usize,
        /// The decoding error.
        #[source]
        source: FieldsError,
    },
}

/// Every manager's fields of one object: the decoded `metadata.managedFields`.
///
/// Entries are unique by manager identity (name, operation, subresource, and for Update the
/// version; a later duplicate replaces an earlier one, as upstream's decoding into a map
/// does) and are written sorted as upstream sorts them: Apply before Update, then oldest
/// first, then by manager, version and subresource.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManagedFields {
    entries: Vec<ManagedFieldsEntry>,
}

impl ManagedFields {
    /// No managers.
    pub fn new() -> Self {
        Self::default()
    }

    /// These entries, later duplicates replacing earlier ones.
    pub fn from_entries(entries: impl IntoIterator<Item = ManagedFieldsEntry>) -> Self {
        let mut out = ManagedFields::new();
        for entry in entries {
            out.upsert(entry);
        }
        out.sort();
        out
    }

    /// The entries, in written order.
    pub fn entries(&self) -> &[ManagedFieldsEntry] {
        &self.entries
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry of `manager` with `operation` (an Update manager may have one per
    /// version and subresource).
    pub fn get(&self, manager: &str, operation: Operation) -> Option<&ManagedFieldsEntry> {
        self.entries
            .iter()
            .find(|e| e.manager == manager && e.operation == operation)
    }

    /// Decodes a `metadata.managedFields` list strictly: any malformed entry is an error
    /// (for validating what a client sends). Absent or `null` is empty.
    pub fn parse(value: &Value) -> Result<Self, ManagedFieldsError> {
        let items = match value {
            Value::Null => return Ok(ManagedFields::new()),
            Value::Array(items) => items,
            _ => return Err(ManagedFieldsError::NotAList),
        };
        let mut entries = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            entries.push(parse_entry(index, item)?);
        }
        Ok(ManagedFields::from_entries(entries))
    }

    /// The managed fields of `object`, or none when they do not decode: upstream resets
    /// undecodable managed fields rather than fail the write.
    pub fn from_object(object: &Value) -> Self {
        object
            .pointer("/metadata/managedFields")
            .and_then(|value| ManagedFields::parse(value).ok())
            .unwrap_or_default()
    }

    /// The managed fields an ordinary write starts from (upstream's `decodeLiveOrNew`):
    /// those the client sent in `new`, if it sent any that decode; none at all if it sent
    /// `[]` or `[{}]` (the documented way to reset them); otherwise the live object's. Writes
    /// to a subresource always start from the live object's.
    ///
    /// kubectl's migration from client-side apply relies on this: it rewrites
    /// `managedFields` with a json-patch, and the write keeps what it sent.
    pub fn for_write(live: Option<&Value>, new: &Value, subresource: bool) -> Self {
        let from_live = || live.map(ManagedFields::from_object).unwrap_or_default();
        if subresource {
            return from_live();
        }
        let sent = new.pointer("/metadata/managedFields");
        if let Some(Value::Array(items)) = sent {
            let reset = match items.as_slice() {
                [] => true,
                [only] => only.as_object().is_some_and(Map::is_empty),
                _ => false,
            };
            if reset {
                return ManagedFields::new();
            }
        }
        match sent.map(ManagedFields::parse) {
            Some(Ok(sent)) if !sent.is_empty() => sent,
            _ => from_live(),
        }
    }

    /// The `metadata.managedFields` list.
    pub fn to_value(&self) -> Value {
        Value::Array(
            self.entries
                .iter()
                .map(ManagedFieldsEntry::to_value)
                .collect(),
        )
    }

    /// Sets `metadata.managedFields` of `object` to these entries, or removes it when there
    /// are none (upstream never writes an empty list).
    pub fn write_to(&self, object: &mut Value) {
        let Some(object) = object.as_object_mut() else {
            return;
        };
        if self.entries.is_empty() {
            if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
                metadata.remove("managedFields");
            }
            return;
        }
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !metadata.is_object() {
            *metadata = Value::Object(Map::new());
        }
        if let Value::Object(metadata) = metadata {
            metadata.insert("managedFields".into(), self.to_value());
        }
    }

    // === crate-internal editing ===

    pub(crate) fn find(&self, identity: &Identity) -> Option<&ManagedFieldsEntry> {
        self.entries.iter().find(|e| e.identity() == *identity)
    }

    pub(crate) fn find_mut(&mut self, identity: &Identity) -> Option<&mut ManagedFieldsEntry> {
        self.entries.iter_mut().find(|e| e.identity() == *identity)
    }

    pub(crate) fn entries_mut(&mut self) -> &mut Vec<ManagedFieldsEntry> {
        &mut self.entries
    }

    /// Adds `entry`, replacing the entry of the same identity.
    pub(crate) fn upsert(&mut self, entry: ManagedFieldsEntry) {
        let identity = entry.identity();
        match self.find_mut(&identity) {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
    }

    /// Drops entries that own nothing.
    pub(crate) fn drop_empty(&mut self) {
        self.entries.retain(|e| !e.fields.is_empty());
    }

    /// Puts the entries in upstream's written order.
    pub(crate) fn sort(&mut self) {
        self.entries.sort_by(|p, q| {
            p.operation
                .cmp(&q.operation)
                .then_with(|| seconds(p.time.as_deref()).cmp(&seconds(q.time.as_deref())))
                .then_with(|| p.manager.cmp(&q.manager))
                .then_with(|| p.api_version.cmp(&q.api_version))
                .then_with(|| p.subresource.cmp(&q.subresource))
        });
    }
}

fn parse_entry(index: usize, item: &Value) -> Result<ManagedFieldsEntry, ManagedFieldsError> {
    let malformed = |message: &str| ManagedFieldsError::Malformed {
        index,
        message: message.to_string(),
    };
    let Value::Object(entry) = item else {
        return Err(malformed("not an object"));
    };
    let string = |name: &str| -> Result<String, ManagedFieldsError> {
        match entry.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(malformed(&format!("{name} is not a string"))),
        }
    };
    let operation = match string("operation")?.as_str() {
        "Apply" => Operation::Apply,
        "Update" => Operation::Update,
        _ => return Err(ManagedFieldsError::Operation { index }),
    };
    let api_version = string("apiVersion")?;
    if api_version.is_empty() {
        return Err(ManagedFieldsError::ApiVersion { index });
    }
    let fields_type = string("fieldsType")?;
    if fields_type != "FieldsV1" {
        return Err(ManagedFieldsError::FieldsType {
            index,
            found: fields_type,
        });
    }
    let fields = match entry.get("fieldsV1") {
        None => FieldSet::new(),
        Some(value) => FieldSet::from_fields_v1(value)
            .map_err(|source| ManagedFieldsError::Fields { index, source })?,
    };
    let time = string("time")?;
    Ok(ManagedFieldsEntry {
        manager: string("manager")?,
        operation,
        api_version,
        time: (!time.is_empty()).then_some(time),
        subresource: string("subresource")?,
        fields,
    })
}

/// Seconds since the epoch of an RFC 3339 time; 0 when absent or unreadable (upstream
/// sorts a missing time as the zero time... of its own epoch, which orders the same).
pub(crate) fn seconds(time: Option<&str>) -> i64 {
    time.and_then(parse_rfc3339).unwrap_or(0)
}

fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let hours: i64 = rest.get(1..3)?.parse().ok()?;
            let minutes: i64 = rest.get(4..6)?.parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return None,
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_seconds() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(
            parse_rfc3339("2024-02-29T13:00:00.5+01:00"),
            Some(1_709_208_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn identity_keys_are_upstream_json() {
        let apply = Identity::new("kubectl", Operation::Apply, "apps/v1", "");
        assert_eq!(apply.key(), r#"{"manager":"kubectl","operation":"Apply"}"#);
        let update = Identity::new("", Operation::Update, "v1", "status");
        assert_eq!(
            update.key(),
            r#"{"manager":"unknown","operation":"Update","apiVersion":"v1","subresource":"status"}"#
        );
    }
}
