//! Jobs and cron jobs (`batch`).

use jiff::Timestamp;
use serde_json::Value;

use super::format::{
    age, arr_at, at, condition_true, container_cells, deleting, human_duration, int_at, len_at,
    name, opt_bool, opt_int, opt_str, since, str_at, time_at,
};
use super::selector::format_label_selector;
use super::{AGE, CONTAINERS, Column, IMAGES, NAME, Printer, col, wide};

/// The batch printers.
#[rustfmt::skip]
pub(super) static PRINTERS: &[Printer] = &[
    Printer::new("batch", "jobs", JOB, job_cells),
    Printer::new("batch", "cronjobs", CRONJOB, cronjob_cells),
];

/// Wide column: the label selector of the job's pods.
const SELECTOR: Column = wide("Selector", "string", "Label selector of the job's pods.");

#[rustfmt::skip]
static JOB: &[Column] = &[
    NAME,
    col("Status", "string", "Where the job stands, from its conditions."),
    col("Completions", "string", "Succeeded pods out of the completions asked for."),
    col("Duration", "string", "How long the job ran, or has run so far."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

#[rustfmt::skip]
static CRONJOB: &[Column] = &[
    NAME,
    col("Schedule", "string", "Cron schedule of the job."),
    col("Timezone", "string", "Time zone the schedule is read in."),
    col("Suspend", "boolean", "Whether new runs are held back."),
    col("Active", "integer", "Jobs currently running."),
    col("Last Schedule", "string", "Time since a job was last scheduled."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int_at(job, &["status", "succeeded"]);
    let completions = match opt_int(job, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int_at(job, &["spec", "parallelism"]) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let start = time_at(job, &["status", "startTime"]);
    let duration = match (start, time_at(job, &["status", "completionTime"])) {
        (None, _) => String::new(),
        (Some(start), None) => since(Some(start), now),
        (Some(start), Some(end)) => human_duration(end.duration_since(start)),
    };
    let (names, images) = container_cells(arr_at(job, &["spec", "template", "spec", "containers"]));
    vec![
        name(job),
        Value::from(job_status(job)),
        Value::from(completions),
        Value::from(duration),
        age(job, now),
        names,
        images,
        Value::from(format_label_selector(at(job, &["spec", "selector"]))),
    ]
}

/// Final conditions first, then deletion, then the interim ones; upstream's order.
fn job_status(job: &Value) -> &'static str {
    let conditions = arr_at(job, &["status", "conditions"]);
    let has = |kind: &str| condition_true(conditions, kind);
    if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if deleting(job) {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("SuccessCriteriaMet") {
        // Shown since 1.34, for jobs whose success policy is met while pods wind down.
        "SuccessCriteriaMet"
    } else {
        "Running"
    }
}

fn cronjob_cells(cj: &Value, now: Timestamp) -> Vec<Value> {
    let last = match at(cj, &["status", "lastScheduleTime"]) {
        None | Some(Value::Null) => "<none>".to_string(),
        Some(_) => since(time_at(cj, &["status", "lastScheduleTime"]), now),
    };
    // Upstream prints the pointer as text, so the boolean column holds "True"/"False".
    let suspend = match opt_bool(cj, &["spec", "suspend"]) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let template = [
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "spec",
        "containers",
    ];
    let (names, images) = container_cells(arr_at(cj, &template));
    let selector = at(cj, &["spec", "jobTemplate", "spec", "selector"]);
    vec![
        name(cj),
        Value::from(str_at(cj, &["spec", "schedule"])),
        Value::from(opt_str(cj, &["spec", "timeZone"]).unwrap_or("<none>")),
        Value::from(suspend),
        Value::from(len_at(cj, &["status", "active"])),
        Value::from(last),
        age(cj, now),
        names,
        images,
        Value::from(format_label_selector(selector)),
    ]
}

#[cfg(test)]
pub(super) use tests::samples;
#[cfg(test)]
mod tests;
