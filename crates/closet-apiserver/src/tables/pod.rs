//! Pods: the busiest table. STATUS and RESTARTS are computed exactly as upstream's printer
//! does, since users read `Init:0/1`, `CrashLoopBackOff` or `5 (3m ago)` at a glance and
//! scripts grep for them.

use std::collections::HashSet;

use jiff::Timestamp;
use serde_json::Value;

use super::format::{
    age, arr_at, bool_at, condition_true, deleting, int_at, name, obj, opt_str, since, str_at,
    time_at,
};
use super::{AGE, Column, NAME, Printer, col, wide};

/// The pod printer.
pub(super) static PRINTERS: &[Printer] = &[Printer::new("", "pods", POD, pod_cells)];

#[rustfmt::skip]
static POD: &[Column] = &[
    NAME,
    col("Ready", "string", "Ready containers out of all long-running containers."),
    col("Status", "string", "Summary of the pod and container states."),
    col("Restarts", "string", "Container restarts, and how long ago the last one was."),
    AGE,
    wide("IP", "string", "The pod's first IP address."),
    wide("Node", "string", "The node the pod is bound to."),
    wide("Nominated Node", "string", "The node the scheduler nominated by preemption."),
    wide("Readiness Gates", "string", "Readiness gates that are True, out of all of them."),
];

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let s = summarize(pod);
    let restarts = match s.last_restart {
        Some(t) if s.restarts != 0 => format!("{} ({} ago)", s.restarts, since(Some(t), now)),
        _ => s.restarts.to_string(),
    };
    vec![
        name(pod),
        Value::from(format!("{}/{}", s.ready, s.total)),
        Value::from(s.status),
        Value::from(restarts),
        age(pod, now),
        Value::from(pod_ip(pod)),
        Value::from(or_none(str_at(pod, &["spec", "nodeName"]))),
        Value::from(or_none(str_at(pod, &["status", "nominatedNodeName"]))),
        Value::from(readiness_gates(pod)),
    ]
}

/// The computed columns of a pod.
struct Summary {
    ready: usize,
    total: usize,
    status: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

/// Walks init containers, then regular containers, as upstream's `printPod` does: the first
/// init container that has not finished decides the status; otherwise the last regular
/// container with a waiting or terminated reason does.
fn summarize(pod: &Value) -> Summary {
    let init_specs = arr_at(pod, &["spec", "initContainers"]);
    // Sidecars (init containers that restart always) run alongside the app, so they count as
    // containers in READY and their restarts stay in RESTARTS once the pod is initialized.
    let is_sidecar = |c: &&Value| str_at(c, &["restartPolicy"]) == "Always";
    let sidecars: HashSet<&str> = init_specs
        .iter()
        .filter(is_sidecar)
        .map(|c| str_at(c, &["name"]))
        .collect();
    let total =
        arr_at(pod, &["spec", "containers"]).len() + init_specs.iter().filter(is_sidecar).count();

    let phase = str_at(pod, &["status", "phase"]);
    let mut status = match str_at(pod, &["status", "reason"]) {
        "" => phase.to_string(),
        reason => reason.to_string(),
    };
    let conditions = arr_at(pod, &["status", "conditions"]);
    if conditions.iter().any(|c| {
        str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated"
    }) {
        status = "SchedulingGated".to_string();
    }

    let mut ready = 0;
    let mut restarts: i64 = 0;
    let mut last_restart = None;
    let mut sidecar_restarts: i64 = 0;
    let mut sidecar_last_restart = None;
    let mut initializing = false;
    for (i, c) in arr_at(pod, &["status", "initContainerStatuses"])
        .iter()
        .enumerate()
    {
        let count = int_at(c, &["restartCount"]);
        let finished = time_at(c, &["lastState", "terminated", "finishedAt"]);
        restarts = restarts.saturating_add(count);
        last_restart = later(last_restart, finished);
        let sidecar = sidecars.contains(str_at(c, &["name"]));
        if sidecar {
            sidecar_restarts = sidecar_restarts.saturating_add(count);
            sidecar_last_restart = later(sidecar_last_restart, finished);
        }
        let terminated = obj(c, &["state", "terminated"]).is_some();
        let waiting = match obj(c, &["state", "waiting"]) {
            Some(_) => str_at(c, &["state", "waiting", "reason"]),
            None => "",
        };
        if terminated && int_at(c, &["state", "terminated", "exitCode"]) == 0 {
            continue;
        }
        if sidecar && bool_at(c, &["started"]) {
            if bool_at(c, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        status = if terminated {
            match str_at(c, &["state", "terminated", "reason"]) {
                "" => exit_reason("Init:", c),
                reason => format!("Init:{reason}"),
            }
        } else if !waiting.is_empty() && waiting != "PodInitializing" {
            format!("Init:{waiting}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || condition_true(conditions, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut has_running = false;
        for c in arr_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts = restarts.saturating_add(int_at(c, &["restartCount"]));
            let finished = time_at(c, &["lastState", "terminated", "finishedAt"]);
            last_restart = later(last_restart, finished);
            let waiting = opt_str(c, &["state", "waiting", "reason"]).unwrap_or("");
            let terminated = obj(c, &["state", "terminated"]).is_some();
            let term_reason = str_at(c, &["state", "terminated", "reason"]);
            if !waiting.is_empty() {
                status = waiting.to_string();
            } else if terminated && !term_reason.is_empty() {
                status = term_reason.to_string();
            } else if terminated {
                status = exit_reason("", c);
            } else if bool_at(c, &["ready"]) && obj(c, &["state", "running"]).is_some() {
                has_running = true;
                ready += 1;
            }
        }
        // A pod whose app container exited 0 while a sidecar or another container still runs
        // is not done yet.
        if status == "Completed" && has_running {
            let pod_ready = condition_true(conditions, "Ready");
            status = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }

    if deleting(pod) && str_at(pod, &["status", "reason"]) == "NodeLost" {
        status = "Unknown".to_string();
    } else if deleting(pod) && phase != "Failed" && phase != "Succeeded" {
        status = "Terminating".to_string();
    }
    Summary {
        ready,
        total,
        status,
        restarts,
        last_restart,
    }
}

/// "Signal:9" or "ExitCode:1" (after `prefix`) for a terminated container without a reason.
fn exit_reason(prefix: &str, c: &Value) -> String {
    match int_at(c, &["state", "terminated", "signal"]) {
        0 => format!(
            "{prefix}ExitCode:{}",
            int_at(c, &["state", "terminated", "exitCode"])
        ),
        signal => format!("{prefix}Signal:{signal}"),
    }
}

/// The later of two optional times.
fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The first pod IP; objects written before dual-stack carry only `podIP`.
fn pod_ip(pod: &Value) -> String {
    let ip = match arr_at(pod, &["status", "podIPs"]).first() {
        Some(first) => str_at(first, &["ip"]),
        None => str_at(pod, &["status", "podIP"]),
    };
    or_none(ip)
}

/// "true gates/all gates", or `<none>` when the pod declares none.
fn readiness_gates(pod: &Value) -> String {
    let gates = arr_at(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = arr_at(pod, &["status", "conditions"]);
    let passing = gates
        .iter()
        .filter(|g| condition_true(conditions, str_at(g, &["conditionType"])))
        .count();
    format!("{passing}/{}", gates.len())
}

/// `<none>` for an empty string.
fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
pub(super) use tests::samples;
#[cfg(test)]
mod tests;
