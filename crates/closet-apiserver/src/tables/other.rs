//! The smaller groups: leases, priority classes, disruption budgets, autoscalers, custom
//! resource definitions and admission webhook configurations.

use jiff::Timestamp;
use serde_json::Value;

use super::format::{age, arr_at, at, bool_at, int_at, len_at, name, obj, opt_int, str_at, text};
use super::{AGE, Column, DEFAULT_COLUMNS, NAME, Printer, col, default_cells};

/// The printers of the smaller groups.
#[rustfmt::skip]
pub(super) static PRINTERS: &[Printer] = &[
    Printer::new("coordination.k8s.io", "leases", LEASE, lease_cells),
    Printer::new("scheduling.k8s.io", "priorityclasses", PRIORITY, priority_cells),
    Printer::new("policy", "poddisruptionbudgets", PDB, pdb_cells),
    Printer::new("autoscaling", "horizontalpodautoscalers", HPA, hpa_cells),
    // CRDs use upstream's default convertor.
    Printer::new(CRD, "customresourcedefinitions", DEFAULT_COLUMNS, default_cells),
    Printer::new(ADMISSION, "mutatingwebhookconfigurations", WEBHOOKS, webhook_cells),
    Printer::new(ADMISSION, "validatingwebhookconfigurations", WEBHOOKS, webhook_cells),
];

const ADMISSION: &str = "admissionregistration.k8s.io";
const CRD: &str = "apiextensions.k8s.io";

#[rustfmt::skip]
static LEASE: &[Column] = &[
    NAME,
    col("Holder", "string", "Identity holding the lease."),
    AGE,
];

#[rustfmt::skip]
static PRIORITY: &[Column] = &[
    NAME,
    col("Value", "integer", "Priority given to pods of this class."),
    col("Global-Default", "boolean", "Whether pods without a class get this one."),
    AGE,
    // Upstream declares this column without the wide priority, so it always shows.
    col("PreemptionPolicy", "string", "Whether pods of this class may preempt others."),
];

#[rustfmt::skip]
static PDB: &[Column] = &[
    NAME,
    col("Min Available", "string", "Pods that must stay available."),
    col("Max Unavailable", "string", "Pods that may be unavailable."),
    col("Allowed Disruptions", "integer", "Pods that may be evicted right now."),
    AGE,
];

#[rustfmt::skip]
static HPA: &[Column] = &[
    NAME,
    col("Reference", "string", "The scaled object, as Kind/name."),
    col("Targets", "string", "Current and target values of up to two metrics."),
    col("MinPods", "string", "Lower replica bound."),
    col("MaxPods", "string", "Upper replica bound."),
    col("Replicas", "string", "Current replicas."),
    AGE,
];

#[rustfmt::skip]
static WEBHOOKS: &[Column] = &[
    NAME,
    col("Webhooks", "integer", "Number of webhooks in this configuration."),
    AGE,
];

fn lease_cells(l: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(l),
        Value::from(str_at(l, &["spec", "holderIdentity"])),
        age(l, now),
    ]
}

fn priority_cells(pc: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(pc),
        Value::from(int_at(pc, &["value"])),
        Value::from(bool_at(pc, &["globalDefault"])),
        age(pc, now),
        Value::from(str_at(pc, &["preemptionPolicy"])),
    ]
}

fn pdb_cells(pdb: &Value, now: Timestamp) -> Vec<Value> {
    // Int-or-string fields: either form is shown as written.
    let bound = |key: &str| match at(pdb, &["spec", key]) {
        None | Some(Value::Null) => "N/A".to_string(),
        Some(v) => text(v),
    };
    vec![
        name(pdb),
        Value::from(bound("minAvailable")),
        Value::from(bound("maxUnavailable")),
        Value::from(int_at(pdb, &["status", "disruptionsAllowed"])),
        age(pdb, now),
    ]
}

fn webhook_cells(w: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(w), Value::from(len_at(w, &["webhooks"])), age(w, now)]
}

fn hpa_cells(hpa: &Value, now: Timestamp) -> Vec<Value> {
    let reference = format!(
        "{}/{}",
        str_at(hpa, &["spec", "scaleTargetRef", "kind"]),
        str_at(hpa, &["spec", "scaleTargetRef", "name"])
    );
    let min =
        opt_int(hpa, &["spec", "minReplicas"]).map_or("<unset>".to_string(), |n| n.to_string());
    vec![
        name(hpa),
        Value::from(reference),
        Value::from(hpa_targets(hpa)),
        Value::from(min),
        Value::from(int_at(hpa, &["spec", "maxReplicas"])),
        Value::from(int_at(hpa, &["status", "currentReplicas"])),
        age(hpa, now),
    ]
}

/// "cpu: 40%/80%, memory: 120Mi/200Mi + 1 more..." as upstream's `formatHPAMetrics`; each
/// spec metric is paired with the status entry at the same index.
fn hpa_targets(hpa: &Value) -> String {
    const MAX: usize = 2;
    let specs = arr_at(hpa, &["spec", "metrics"]);
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let statuses = arr_at(hpa, &["status", "currentMetrics"]);
    let list: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| metric(spec, statuses.get(i)))
        .collect();
    let shown = list[..list.len().min(MAX)].join(", ");
    if list.len() > MAX {
        format!("{shown} + {} more...", list.len() - MAX)
    } else {
        shown
    }
}

/// One metric as "current/target", with the resource name first for resource metrics.
fn metric(spec: &Value, status: Option<&Value>) -> String {
    // The key holding the metric of each type, in both spec and status.
    let source = match str_at(spec, &["type"]) {
        "External" => "external",
        "Pods" => "pods",
        "Object" => "object",
        "Resource" => "resource",
        "ContainerResource" => "containerResource",
        _ => return "<unknown type>".to_string(),
    };
    // The status entry only counts when it carries the same kind of metric.
    let current = status.filter(|s| obj(s, &[source]).is_some());
    let target = |key: &str| at(spec, &[source, "target", key]).filter(|v| !v.is_null());
    let cur = |key: &str| current.and_then(|s| at(s, &[source, "current", key]));
    let unknown = || "<unknown>".to_string();
    match source {
        "pods" => {
            let now = current.map_or_else(unknown, |_| quantity(cur("averageValue")));
            format!("{now}/{}", quantity(target("averageValue")))
        }
        "external" | "object" => match target("averageValue") {
            Some(avg) => {
                let now = cur("averageValue").filter(|v| !v.is_null());
                let now = now.map_or_else(unknown, |v| quantity(Some(v)));
                format!("{now}/{} (avg)", quantity(Some(avg)))
            }
            None => {
                let now = current.map_or_else(unknown, |_| quantity(cur("value")));
                format!("{now}/{}", quantity(target("value")))
            }
        },
        _ => {
            let resource = str_at(spec, &[source, "name"]);
            match target("averageValue") {
                Some(avg) => {
                    let now = current.map_or_else(unknown, |_| quantity(cur("averageValue")));
                    format!("{resource}: {now}/{}", quantity(Some(avg)))
                }
                None => {
                    let percent = |v: Option<&Value>| v?.as_i64().map(|n| format!("{n}%"));
                    let now = percent(cur("averageUtilization")).unwrap_or_else(unknown);
                    let goal = percent(target("averageUtilization"))
                        .unwrap_or_else(|| "<auto>".to_string());
                    format!("{resource}: {now}/{goal}")
                }
            }
        }
    }
}

/// A quantity of a metric; upstream prints a missing one as "<nil>" here.
fn quantity(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(n @ Value::Number(_)) => n.to_string(),
        _ => "<nil>".to_string(),
    }
}

#[cfg(test)]
pub(super) use tests::samples;
#[cfg(test)]
mod tests;
