//! Workloads of the `apps` group: deployments, replica sets, stateful sets, daemon sets and
//! controller revisions.

use jiff::Timestamp;
use serde_json::Value;

use super::format::{age, arr_at, at, container_cells, int_at, name, opt_int, str_at};
use super::selector::{format_label_selector, format_labels, selector_string};
use super::{AGE, CONTAINERS, Column, IMAGES, NAME, Printer, col, wide};

/// The apps printers.
#[rustfmt::skip]
pub(super) static PRINTERS: &[Printer] = &[
    Printer::new("apps", "deployments", DEPLOYMENT, deployment_cells),
    Printer::new("apps", "replicasets", REPLICASET, replicaset_cells),
    Printer::new("apps", "statefulsets", STATEFULSET, statefulset_cells),
    Printer::new("apps", "daemonsets", DAEMONSET, daemonset_cells),
    Printer::new("apps", "controllerrevisions", REVISION, revision_cells),
];

/// Wide column: the label selector of the managed pods.
const SELECTOR: Column = wide("Selector", "string", "Label selector of the managed pods.");

#[rustfmt::skip]
static DEPLOYMENT: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready replicas out of desired replicas."),
    col("Up-to-date", "string", "Replicas running the latest template."),
    col("Available", "string", "Replicas available to serve."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static REPLICASET: &[Column] = &[
    NAME,
    col("Desired", "integer", "Replicas asked for."),
    col("Current", "integer", "Replicas that exist."),
    col("Ready", "integer", "Replicas that are ready."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static STATEFULSET: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready replicas out of desired replicas."),
    AGE,
    CONTAINERS,
    IMAGES,
];

#[rustfmt::skip]
static DAEMONSET: &[Column] = &[
    NAME,
    col("Desired", "integer", "Nodes that should run the daemon pod."),
    col("Current", "integer", "Nodes running at least one daemon pod."),
    col("Ready", "integer", "Nodes whose daemon pod is ready."),
    col("Up-to-date", "integer", "Nodes running the latest template."),
    col("Available", "integer", "Nodes whose daemon pod is available."),
    col("Node Selector", "string", "Node labels the daemon pods are limited to."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static REVISION: &[Column] = &[
    NAME,
    col("Controller", "string", "The object that owns this revision, as kind.group/name."),
    col("Revision", "string", "Revision number."),
    AGE,
];

/// `spec.replicas`, which defaulting sets to 1 when a manifest leaves it out.
fn desired(o: &Value) -> i64 {
    opt_int(o, &["spec", "replicas"]).unwrap_or(1)
}

fn template_containers(o: &Value) -> (Value, Value) {
    container_cells(arr_at(o, &["spec", "template", "spec", "containers"]))
}

fn deployment_cells(d: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = template_containers(d);
    // Upstream renders this selector with the raw converter, so an empty one is "" here
    // rather than `<none>`.
    let selector =
        selector_string(at(d, &["spec", "selector"])).unwrap_or_else(|| "<invalid>".to_string());
    vec![
        name(d),
        Value::from(format!(
            "{}/{}",
            int_at(d, &["status", "readyReplicas"]),
            desired(d)
        )),
        Value::from(int_at(d, &["status", "updatedReplicas"])),
        Value::from(int_at(d, &["status", "availableReplicas"])),
        age(d, now),
        names,
        images,
        Value::from(selector),
    ]
}

fn replicaset_cells(rs: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = template_containers(rs);
    vec![
        name(rs),
        Value::from(desired(rs)),
        Value::from(int_at(rs, &["status", "replicas"])),
        Value::from(int_at(rs, &["status", "readyReplicas"])),
        age(rs, now),
        names,
        images,
        Value::from(format_label_selector(at(rs, &["spec", "selector"]))),
    ]
}

fn statefulset_cells(sts: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = template_containers(sts);
    let ready = format!(
        "{}/{}",
        int_at(sts, &["status", "readyReplicas"]),
        desired(sts)
    );
    vec![name(sts), Value::from(ready), age(sts, now), names, images]
}

fn daemonset_cells(ds: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = template_containers(ds);
    let status = |key: &str| Value::from(int_at(ds, &["status", key]));
    vec![
        name(ds),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        Value::from(format_labels(at(
            ds,
            &["spec", "template", "spec", "nodeSelector"],
        ))),
        age(ds, now),
        names,
        images,
        Value::from(format_label_selector(at(ds, &["spec", "selector"]))),
    ]
}

fn revision_cells(rev: &Value, now: Timestamp) -> Vec<Value> {
    let owner = arr_at(rev, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| at(r, &["controller"]).and_then(Value::as_bool) == Some(true));
    let controller = match owner {
        None => "<none>".to_string(),
        Some(r) => {
            // "apps/v1" names group apps; "v1" is the core group.
            let group = str_at(r, &["apiVersion"])
                .rsplit_once('/')
                .map_or("", |(g, _)| g);
            let kind = str_at(r, &["kind"]);
            let group_kind = if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            };
            match group_kind.to_lowercase() {
                gk if gk.is_empty() => str_at(r, &["name"]).to_string(),
                gk => format!("{gk}/{}", str_at(r, &["name"])),
            }
        }
    };
    vec![
        name(rev),
        Value::from(controller),
        Value::from(int_at(rev, &["revision"])),
        age(rev, now),
    ]
}

#[cfg(test)]
pub(super) use tests::samples;
#[cfg(test)]
mod tests;
