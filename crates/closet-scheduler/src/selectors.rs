//! Label selectors and node selector terms, matched as the API defines them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Labels of an object, empty when it has none.
pub type Labels = BTreeMap<String, String>;

/// Whether `labels` satisfy `selector`. A selector with no requirements matches everything.
pub fn label_selector_matches(selector: &LabelSelector, labels: &Labels) -> bool {
    let by_label = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    by_label
        && selector
            .match_expressions
            .iter()
            .flatten()
            .all(|e| expression_matches(&e.key, &e.operator, e.values.as_deref(), labels))
}

fn expression_matches(
    key: &str,
    operator: &str,
    values: Option<&[String]>,
    labels: &Labels,
) -> bool {
    let values = values.unwrap_or_default();
    let value = labels.get(key);
    match operator {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(want)) = (
                value.and_then(|v| v.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if operator == "Gt" {
                have > want
            } else {
                have < want
            }
        }
        _ => false,
    }
}

fn requirement_matches(r: &NodeSelectorRequirement, labels: &Labels) -> bool {
    expression_matches(&r.key, &r.operator, r.values.as_deref(), labels)
}

/// Whether `node` satisfies one node selector term: all its label expressions and all its
/// field expressions (only `metadata.name` exists). An empty term matches nothing.
pub fn node_term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let name = Labels::from([(
        "metadata.name".to_owned(),
        node.metadata.name.clone().unwrap_or_default(),
    )]);
    expressions.iter().all(|r| requirement_matches(r, &labels))
        && fields.iter().all(|r| requirement_matches(r, &name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_match_labels_and_expressions() {
        let labels = Labels::from([("app".into(), "web".into()), ("tier".into(), "3".into())]);
        let sel = |v| serde_json::from_value::<LabelSelector>(v).unwrap();
        assert!(label_selector_matches(&sel(json!({})), &labels));
        assert!(label_selector_matches(
            &sel(json!({"matchLabels": {"app": "web"}})),
            &labels
        ));
        assert!(!label_selector_matches(
            &sel(json!({"matchLabels": {"app": "db"}})),
            &labels
        ));
        let expr = |op: &str, values: serde_json::Value| {
            sel(json!({"matchExpressions": [{"key": "tier", "operator": op, "values": values}]}))
        };
        assert!(label_selector_matches(&expr("In", json!(["3"])), &labels));
        assert!(!label_selector_matches(
            &expr("NotIn", json!(["3"])),
            &labels
        ));
        assert!(label_selector_matches(
            &expr("Exists", json!(null)),
            &labels
        ));
        assert!(label_selector_matches(&expr("Gt", json!(["2"])), &labels));
        assert!(!label_selector_matches(&expr("Lt", json!(["2"])), &labels));
    }

    #[test]
    fn node_terms_match_labels_and_the_name_field() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "pi", "labels": {"disk": "ssd"}}
        }))
        .unwrap();
        let term = |v| serde_json::from_value::<NodeSelectorTerm>(v).unwrap();
        assert!(node_term_matches(
            &term(
                json!({"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]})
            ),
            &node
        ));
        assert!(node_term_matches(
            &term(
                json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["pi"]}]})
            ),
            &node
        ));
        assert!(!node_term_matches(&term(json!({})), &node));
    }
}
