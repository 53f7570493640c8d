//! DeleteOptions, from the query string, from a JSON body, or both.
//!
//! kubectl sends DeleteOptions as a body (`{"kind":"DeleteOptions","apiVersion":"v1",
//! "propagationPolicy":"Background"}`); other clients use query parameters. Upstream reads the
//! body when there is one and the query otherwise; we read both and let parameters present in
//! the query override the body, which agrees with upstream whenever only one is used.

use serde_json::{Map, Value};

use super::query::Query;
use super::{ParamsError, check, validate_dry_run};
use crate::field::FieldError;

const KIND: &str = "DeleteOptions";

/// What happens to the dependents of a deleted object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropagationPolicy {
    /// Leave dependents alone, dropping their owner reference.
    Orphan,
    /// Delete the owner now and the dependents in the background.
    Background,
    /// Delete the dependents first, then the owner.
    Foreground,
}

/// Conditions the object must meet for the delete to happen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preconditions {
    /// The object's `metadata.uid` must equal this.
    pub uid: Option<String>,
    /// The object's `metadata.resourceVersion` must equal this.
    pub resource_version: Option<String>,
}

/// The options of a delete request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteOptions {
    /// Seconds to let the object terminate; 0 deletes immediately.
    pub grace_period_seconds: Option<i64>,
    /// How dependents are handled.
    pub propagation_policy: Option<PropagationPolicy>,
    /// Conditions on the object.
    pub preconditions: Option<Preconditions>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// The deprecated boolean form of `Orphan`; may not be combined with `propagation_policy`.
    pub orphan_dependents: Option<bool>,
}

/// Values as received, before validation refuses unknown spellings.
#[derive(Default)]
struct Raw {
    grace_period_seconds: Option<i64>,
    propagation_policy: Option<String>,
    preconditions: Option<Preconditions>,
    dry_run: Option<Vec<String>>,
    orphan_dependents: Option<bool>,
}

impl DeleteOptions {
    /// Reads options from the query string alone.
    pub fn from_query(query: &str) -> Result<Self, ParamsError> {
        raw_from_query(query)?.validate()
    }

    /// Reads options from a JSON body alone. `kind` and `apiVersion` may be missing; unknown
    /// fields are ignored, as upstream's decoder ignores them.
    pub fn from_json(body: &Value) -> Result<Self, ParamsError> {
        raw_from_json(body)?.validate()
    }

    /// Reads a whole request: the body, if any, then the query parameters over it.
    pub fn from_request(query: &str, body: Option<&Value>) -> Result<Self, ParamsError> {
        let mut merged = match body {
            Some(b) => raw_from_json(b)?,
            None => Raw::default(),
        };
        let q = raw_from_query(query)?;
        merged.grace_period_seconds = q.grace_period_seconds.or(merged.grace_period_seconds);
        merged.propagation_policy = q.propagation_policy.or(merged.propagation_policy);
        merged.dry_run = q.dry_run.or(merged.dry_run);
        merged.orphan_dependents = q.orphan_dependents.or(merged.orphan_dependents);
        merged.validate()
    }
}

impl Raw {
    /// Upstream's `ValidateDeleteOptions`.
    fn validate(self) -> Result<DeleteOptions, ParamsError> {
        let mut errs = Vec::new();
        let policy = self.propagation_policy.as_deref();
        if self.orphan_dependents.is_some()
            && let Some(p) = policy
        {
            let msg = "orphanDependents and deletionPropagation cannot be both set";
            errs.push(FieldError::invalid("propagationPolicy", p, msg));
        }
        let propagation_policy = match policy {
            None => None,
            Some("Orphan") => Some(PropagationPolicy::Orphan),
            Some("Background") => Some(PropagationPolicy::Background),
            Some("Foreground") => Some(PropagationPolicy::Foreground),
            Some(other) => {
                let supported = ["Foreground", "Background", "Orphan", "nil"];
                errs.push(FieldError::not_supported(
                    "propagationPolicy",
                    other,
                    &supported,
                ));
                None
            }
        };
        let dry_run = validate_dry_run(self.dry_run.as_deref().unwrap_or_default(), &mut errs);
        check(KIND, errs)?;
        Ok(DeleteOptions {
            grace_period_seconds: self.grace_period_seconds,
            propagation_policy,
            preconditions: self.preconditions,
            dry_run,
            orphan_dependents: self.orphan_dependents,
        })
    }
}

fn raw_from_query(query: &str) -> Result<Raw, ParamsError> {
    let q = Query::parse(query);
    let dry_run = q.all("dryRun");
    Ok(Raw {
        grace_period_seconds: q.int("gracePeriodSeconds")?,
        // Unlike most strings, an empty policy is kept so validation reports it, as upstream.
        propagation_policy: q.first("propagationPolicy").map(str::to_owned),
        preconditions: None,
        dry_run: (!dry_run.is_empty()).then_some(dry_run),
        orphan_dependents: q.bool("orphanDependents")?,
    })
}

fn raw_from_json(body: &Value) -> Result<Raw, ParamsError> {
    let Value::Object(obj) = body else {
        return Err(body_error(format!(
            "cannot unmarshal {} into {KIND}",
            json_type(body)
        )));
    };
    if let Some(kind) = obj.get("kind").and_then(Value::as_str)
        && !kind.is_empty()
        && kind != KIND
    {
        let msg = "decoded object cannot be converted to DeleteOptions";
        return Err(body_error(msg.to_owned()));
    }
    let preconditions = match present(obj, "preconditions") {
        None => None,
        Some(Value::Object(p)) => Some(Preconditions {
            uid: string_field(p, "uid", "preconditions.uid")?,
            resource_version: string_field(p, "resourceVersion", "preconditions.resourceVersion")?,
        }),
        Some(other) => return Err(type_error(other, "preconditions", "Preconditions")),
    };
    let dry_run = match present(obj, "dryRun") {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| type_error(v, "dryRun", "string"))
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(other) => return Err(type_error(other, "dryRun", "[]string")),
    };
    let grace_period_seconds = match present(obj, "gracePeriodSeconds") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| type_error(v, "gracePeriodSeconds", "int64"))?,
        ),
    };
    let orphan_dependents = match present(obj, "orphanDependents") {
        None => None,
        Some(v) => Some(
            v.as_bool()
                .ok_or_else(|| type_error(v, "orphanDependents", "bool"))?,
        ),
    };
    Ok(Raw {
        grace_period_seconds,
        propagation_policy: string_field(obj, "propagationPolicy", "propagationPolicy")?,
        preconditions,
        dry_run,
        orphan_dependents,
    })
}

/// A field's value, treating JSON `null` as absent, as Go's decoder does for pointers.
fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn string_field(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<String>, ParamsError> {
    match present(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(type_error(other, path, "string")),
    }
}

/// Worded after Go's JSON decoder, which is what upstream's message comes from.
fn type_error(value: &Value, path: &str, go_type: &str) -> ParamsError {
    let found = match value {
        Value::Number(_) => format!("number {value}"),
        other => json_type(other).to_owned(),
    };
    body_error(format!(
        "cannot unmarshal {found} into field {KIND}.{path} of type {go_type}"
    ))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn body_error(message: String) -> ParamsError {
    ParamsError::DeleteBody(message)
}
