//! Which nodes a DaemonSet's pod belongs on, and the pod for one node: the node selector,
//! required node affinity and taints against tolerations (with the tolerations upstream adds
//! to every daemon pod), and the `matchFields metadata.name` affinity that lets the scheduler
//! place the pod on exactly its node.

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PodSpec,
    Taint, Toleration,
};

/// Whether a node gets a daemon pod, and whether an existing one may stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fit {
    /// A new pod may be placed there.
    pub should_run: bool,
    /// A pod already there may keep running (NoSchedule taints do not evict).
    pub should_continue: bool,
}

/// The tolerations upstream gives every daemon pod, so it runs on nodes that are not ready,
/// unreachable, under pressure or cordoned.
pub fn default_tolerations(host_network: bool) -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(format!("node.kubernetes.io/{key}")),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Toleration::default()
    };
    let mut out = vec![
        t("not-ready", "NoExecute"),
        t("unreachable", "NoExecute"),
        t("disk-pressure", "NoSchedule"),
        t("memory-pressure", "NoSchedule"),
        t("pid-pressure", "NoSchedule"),
        t("unschedulable", "NoSchedule"),
    ];
    if host_network {
        out.push(t("network-unavailable", "NoSchedule"));
    }
    out
}

/// The template's pod spec with the default tolerations added (those it lacks).
pub fn with_default_tolerations(spec: &PodSpec) -> PodSpec {
    let mut spec = spec.clone();
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for t in default_tolerations(spec.host_network.unwrap_or(false)) {
        if !tolerations
            .iter()
            .any(|have| have.key == t.key && have.effect == t.effect)
        {
            tolerations.push(t);
        }
    }
    spec
}

/// Pins `spec` to `node` with required node affinity on `metadata.name`, replacing other
/// required terms (the controller has already checked them, as upstream does).
pub fn pin_to_node(spec: &mut PodSpec, node: &str) {
    let term = NodeSelectorTerm {
        match_fields: Some(vec![NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(vec![node.to_owned()]),
        }]),
        match_expressions: None,
    };
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![term],
    });
}

/// The node a daemon pod is for: its `nodeName`, or the `metadata.name` its affinity names.
pub fn target_node(spec: &PodSpec) -> Option<String> {
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|t| {
        t.match_fields.iter().flatten().find_map(|f| {
            let values = f.values.as_deref().unwrap_or_default();
            (f.key == "metadata.name" && f.operator == "In" && values.len() == 1)
                .then(|| values[0].clone())
        })
    })
}

fn requirement(r: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(|v| number(v)),
                values.first().and_then(|b| number(b)),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

/// Whether `node` satisfies the spec's nodeSelector and required node affinity.
pub fn selects(spec: &PodSpec, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let by_selector = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    let name = node.metadata.name.clone();
    let by_affinity = required.is_none_or(|sel| {
        sel.node_selector_terms.iter().any(|term| {
            let exprs = term
                .match_expressions
                .iter()
                .flatten()
                .all(|r| requirement(r, labels.get(&r.key)));
            let fields = term
                .match_fields
                .iter()
                .flatten()
                .all(|r| r.key == "metadata.name" && requirement(r, name.as_ref()));
            let empty = term.match_expressions.as_ref().is_none_or(|e| e.is_empty())
                && term.match_fields.as_ref().is_none_or(|f| f.is_empty());
            !empty && exprs && fields
        })
    });
    by_selector && by_affinity
}

/// Whether `toleration` tolerates `taint`.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect_ok = toleration
        .effect
        .as_deref()
        .is_none_or(|e| e.is_empty() || e == taint.effect);
    let key_ok = match toleration.key.as_deref() {
        None | Some("") => toleration.operator.as_deref() == Some("Exists"),
        Some(k) => k == taint.key,
    };
    let value_ok = match toleration.operator.as_deref() {
        Some("Exists") => true,
        _ => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
    };
    effect_ok && key_ok && value_ok
}

/// Where a daemon pod with `spec` (default tolerations included) may run on `node`.
pub fn fit(spec: &PodSpec, node: &Node) -> Fit {
    let name_ok = spec
        .node_name
        .as_deref()
        .is_none_or(|n| n.is_empty() || Some(n) == node.metadata.name.as_deref());
    if !name_ok || !selects(spec, node) {
        return Fit {
            should_run: false,
            should_continue: false,
        };
    }
    let spec = with_default_tolerations(spec);
    let tolerations = spec.tolerations.unwrap_or_default();
    let untolerated = |effect: &str| {
        node.spec
            .iter()
            .flat_map(|s| s.taints.iter().flatten())
            .any(|taint| taint.effect == effect && !tolerations.iter().any(|t| tolerates(t, taint)))
    };
    let evicted = untolerated("NoExecute");
    Fit {
        should_run: !evicted && !untolerated("NoSchedule"),
        should_continue: !evicted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).unwrap()
    }

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn selectors_affinity_and_taints() {
        let plain =
            node(json!({"metadata": {"name": "n1", "labels": {"disk": "ssd", "cores": "8"}}}));
        let any = spec(json!({"containers": []}));
        assert_eq!(
            fit(&any, &plain),
            Fit {
                should_run: true,
                should_continue: true
            }
        );
        assert!(
            !fit(
                &spec(json!({"containers": [], "nodeSelector": {"disk": "hdd"}})),
                &plain
            )
            .should_run
        );
        let affinity = spec(
            json!({"containers": [], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}
            ]}}}}),
        );
        assert!(fit(&affinity, &plain).should_run);
        let mut pinned = any.clone();
        pin_to_node(&mut pinned, "n2");
        assert_eq!(target_node(&pinned).as_deref(), Some("n2"));
        assert!(!selects(&pinned, &plain));
        pin_to_node(&mut pinned, "n1");
        assert!(selects(&pinned, &plain));
        // A cordoned, not-ready node still gets its daemon pod (default tolerations).
        let cordoned = node(json!({"metadata": {"name": "n1"}, "spec": {"taints": [
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}
        ]}}));
        assert!(fit(&any, &cordoned).should_run);
        // A custom NoSchedule taint keeps new pods off but lets existing ones stay.
        let tainted = node(
            json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}}),
        );
        assert_eq!(
            fit(&any, &tainted),
            Fit {
                should_run: false,
                should_continue: true
            }
        );
        let tolerating = spec(
            json!({"containers": [], "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu"}]}),
        );
        assert!(fit(&tolerating, &tainted).should_run);
        let evicting = node(
            json!({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "x", "effect": "NoExecute"}]}}),
        );
        assert_eq!(
            fit(&any, &evicting),
            Fit {
                should_run: false,
                should_continue: false
            }
        );
        assert_eq!(default_tolerations(false).len(), 6);
        assert_eq!(
            with_default_tolerations(&tolerating)
                .tolerations
                .unwrap()
                .len(),
            7
        );
    }
}
