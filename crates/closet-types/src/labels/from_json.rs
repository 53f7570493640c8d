//! The structured `metav1.LabelSelector` (`matchLabels` + `matchExpressions`), as workload specs
//! carry it, turned into the same [`LabelSelector`] the string form gives.

use serde_json::Value;

use super::{LabelSelector, Operator, Requirement, SelectorError};
use crate::field::{BadValue, FieldError, FieldErrorList};

impl LabelSelector {
    /// Reads a structured selector. `null` selects nothing and `{}` selects everything, as
    /// upstream's `LabelSelectorAsSelector` has it; `kind`-less JSON is all it expects.
    pub fn from_json(value: &Value) -> Result<Self, SelectorError> {
        let obj = match value {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(obj) => obj,
            other => return Err(shape("", other, "must be a label selector object")),
        };
        let mut requirements = Vec::new();
        match obj.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(labels)) => {
                for (key, value) in labels {
                    let Some(value) = value.as_str() else {
                        let path = format!("matchLabels[{key}]");
                        return Err(shape(&path, value, "must be a string"));
                    };
                    let r = Requirement::new(key, Operator::Equals, vec![value.to_owned()]);
                    requirements.push(r.map_err(SelectorError::Invalid)?);
                }
            }
            Some(other) => return Err(shape("matchLabels", other, "must be an object")),
        }
        match obj.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(exprs)) => {
                for (i, expr) in exprs.iter().enumerate() {
                    requirements.push(expression(i, expr)?);
                }
            }
            Some(other) => return Err(shape("matchExpressions", other, "must be a list")),
        }
        Ok(Self::from_requirements(requirements))
    }
}

fn expression(index: usize, expr: &Value) -> Result<Requirement, SelectorError> {
    let path = format!("matchExpressions[{index}]");
    let Value::Object(expr) = expr else {
        return Err(shape(&path, expr, "must be an object"));
    };
    let key = match expr.get("key") {
        None | Some(Value::Null) => "",
        Some(Value::String(k)) => k,
        Some(other) => return Err(shape(&format!("{path}.key"), other, "must be a string")),
    };
    let operator = match expr.get("operator") {
        None | Some(Value::Null) => "",
        Some(Value::String(op)) => op,
        Some(other) => {
            return Err(shape(
                &format!("{path}.operator"),
                other,
                "must be a string",
            ));
        }
    };
    let operator = match operator {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => return Err(SelectorError::Operator(other.to_owned())),
    };
    let values = match expr.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(values)) => {
            let mut out = Vec::with_capacity(values.len());
            for (j, v) in values.iter().enumerate() {
                let Some(s) = v.as_str() else {
                    return Err(shape(&format!("{path}.values[{j}]"), v, "must be a string"));
                };
                out.push(s.to_owned());
            }
            out
        }
        Some(other) => return Err(shape(&format!("{path}.values"), other, "must be a list")),
    };
    Requirement::new(key, operator, values).map_err(SelectorError::Invalid)
}

/// A JSON value of the wrong type where upstream's decoder would have refused the document.
fn shape(path: &str, value: &Value, detail: &str) -> SelectorError {
    let path = if path.is_empty() { "<nil>" } else { path };
    let e = FieldError::invalid(path, BadValue::Json(value.clone()), detail);
    SelectorError::Invalid(FieldErrorList(vec![e]))
}
