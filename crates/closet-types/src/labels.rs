//! Label selectors: the `labelSelector` query parameter and `metav1.LabelSelector` objects.
//!
//! [`LabelSelector::parse`] reads the string form (`app=web,tier in (a,b),!legacy`) exactly as
//! apimachinery's `labels.Parse` does, error messages included; [`LabelSelector::from_json`]
//! reads the structured form that workload specs carry. Both give the same type, which matches
//! `metadata.labels` and prints back to the canonical string.

mod from_json;
mod parser;

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::field::{BadValue, FieldError, FieldErrorList};
use crate::names::{is_label_value, is_qualified_name};

/// How a [`Requirement`] relates its key to its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value`; also true when the key is absent.
    NotEquals,
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)`; also true when the key is absent.
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>n`, comparing integers.
    GreaterThan,
    /// `key<n`, comparing integers.
    LessThan,
}

/// One condition of a selector; all of a selector's requirements must hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement, checking the key, the values, and their number for `operator`.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, FieldErrorList> {
        let mut errs = Vec::new();
        let key_errs = is_qualified_name(key);
        if !key_errs.is_empty() {
            errs.push(FieldError::invalid("key", key, key_errs.join("; ")));
        }
        let count_error = match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                Some("for 'in', 'notin' operators, values set can't be empty")
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                Some("exact-match compatibility requires one single value")
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                Some("values set must be empty for exists and does not exist")
            }
            Operator::GreaterThan | Operator::LessThan if values.len() != 1 => {
                Some("for 'Gt', 'Lt' operators, exactly one value is required")
            }
            _ => None,
        };
        if let Some(msg) = count_error {
            // Go marshals the nil slice a structured selector yields for no values as `null`.
            let shown = if values.is_empty() {
                BadValue::Json(Value::Null)
            } else {
                BadValue::from(&values[..])
            };
            errs.push(FieldError::invalid("values", shown, msg));
        }
        if matches!(operator, Operator::GreaterThan | Operator::LessThan) {
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    let msg = "for 'Gt', 'Lt' operators, the value must be an integer";
                    errs.push(FieldError::invalid(format!("values[{i}]"), v.as_str(), msg));
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let value_errs = is_label_value(v);
            if !value_errs.is_empty() {
                let path = format!("values[{i}][{key}]");
                errs.push(FieldError::invalid(path, v.as_str(), value_errs.join("; ")));
            }
        }
        FieldErrorList(errs).into_result()?;
        let mut values = values;
        // Values form a set: the order never matters and the canonical string is sorted.
        values.sort();
        values.dedup();
        Ok(Self {
            key: key.to_owned(),
            operator,
            values,
        })
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted and without repeats.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether labels, given as a lookup from key to value, satisfy this requirement.
    pub fn matches<'a>(&self, lookup: &impl Fn(&str) -> Option<&'a str>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                lookup(&self.key).is_some_and(has)
            }
            Operator::NotIn | Operator::NotEquals => !lookup(&self.key).is_some_and(has),
            Operator::Exists => lookup(&self.key).is_some(),
            Operator::DoesNotExist => lookup(&self.key).is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(have)) = lookup(&self.key).map(str::parse::<i64>) else {
                    return false;
                };
                let Some(Ok(want)) = self.values.first().map(|v| v.parse::<i64>()) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.operator {
            Operator::Exists => return f.write_str(&self.key),
            Operator::DoesNotExist => return write!(f, "!{}", self.key),
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
        };
        let values = self.values.join(",");
        match self.operator {
            Operator::In | Operator::NotIn => write!(f, "{}{op}({values})", self.key),
            _ => write!(f, "{}{op}{values}", self.key),
        }
    }
}

/// A parsed label selector: the AND of its requirements.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    /// A null `metav1.LabelSelector` selects nothing, unlike an empty one, which selects all.
    nothing: bool,
}

impl LabelSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// The selector that matches no object (what a null structured selector means).
    pub fn nothing() -> Self {
        Self {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Builds a selector from requirements, ordered by key like upstream.
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        // Stable, so repeated keys keep their written order and printing round-trips.
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self {
            requirements,
            nothing: false,
        }
    }

    /// Parses the string form; see the module docs for the syntax.
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        parser::parse(selector).map(Self::from_requirements)
    }

    /// The requirements, ordered by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the selector matches everything (no requirements, and not [`nothing`](Self::nothing)).
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether an object with these `metadata.labels` is selected; pass an empty map when the
    /// object has no labels. Values that are not strings never equal any selector value.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        // A NUL can never be in a valid selector value, so it stands for "present, not a string".
        self.matches_fn(|k| labels.get(k).map(|v| v.as_str().unwrap_or("\0")))
    }

    /// Whether a whole object (as JSON) is selected, reading its `metadata.labels`; an object
    /// without labels has none.
    pub fn matches_labels_of(&self, object: &Value) -> bool {
        let empty = Map::new();
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        self.matches(labels.unwrap_or(&empty))
    }

    /// Like [`matches`](Self::matches), for labels held in any other form.
    pub fn matches_fn<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(&lookup))
    }

    /// The single value `key` must have, if the selector pins it with `=`, `==` or a one-value
    /// `in`; useful to narrow a search by an indexed label.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match (r.operator, r.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [one]) => Some(one),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Why a label selector was refused; the text is upstream's, as kubectl users see it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectorError {
    /// The string form is malformed between requirements.
    #[error("{0}")]
    Syntax(String),
    /// One requirement of the string form is malformed or invalid.
    #[error("unable to parse requirement: {0}")]
    Requirement(#[source] RequirementError),
    /// A structured selector used an operator other than In, NotIn, Exists, DoesNotExist.
    #[error("{} is not a valid label selector operator", crate::field::go_quote(.0))]
    Operator(String),
    /// A structured selector's key or values are invalid, or it has the wrong JSON shape.
    #[error("{0}")]
    Invalid(#[source] FieldErrorList),
}

/// The inner cause of [`SelectorError::Requirement`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequirementError {
    /// A token was not what the grammar allows here.
    #[error("{0}")]
    Syntax(String),
    /// The key or a value breaks label syntax.
    #[error("{0}")]
    Invalid(#[source] FieldErrorList),
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
