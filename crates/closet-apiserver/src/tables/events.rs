//! Events, in both their core/v1 and events.k8s.io/v1 shapes. Upstream serves both groups
//! from one storage and one printer, so `kubectl get events.events.k8s.io` shows the same
//! columns; the newer shape only renames fields (`regarding`, `note`, `deprecated*`).

use jiff::Timestamp;
use serde_json::Value;

use super::format::{int_at, name, obj, since, str_at, time_at};
use super::{Column, Printer, col, wide};

/// Both event printers.
#[rustfmt::skip]
pub(super) static PRINTERS: &[Printer] = &[
    Printer::new("", "events", EVENT, core_cells),
    Printer::new("events.k8s.io", "events", EVENT, v1_cells),
];

/// Events list their own name only in the wide view.
const EVENT_NAME: Column = Column {
    name: "Name",
    kind: "string",
    format: "name",
    description: "Name of the event object.",
    priority: 1,
};

#[rustfmt::skip]
static EVENT: &[Column] = &[
    col("Last Seen", "string", "Time since the event was last observed."),
    col("Type", "string", "Normal or Warning."),
    col("Reason", "string", "Short, machine-readable reason for the event."),
    col("Object", "string", "The object the event is about, as kind/name."),
    wide("Subobject", "string", "Field path within the object, such as a container."),
    wide("Source", "string", "Component (and host) that reported the event."),
    col("Message", "string", "Human-readable description of the event."),
    wide("First Seen", "string", "Time since the event was first observed."),
    wide("Count", "string", "How many times the event has occurred."),
    EVENT_NAME,
];

/// Field names of one event shape.
struct Fields {
    involved: &'static str,
    message: &'static str,
    first: &'static str,
    last: &'static str,
    count: &'static str,
    source: &'static str,
    controller: &'static str,
}

const CORE: Fields = Fields {
    involved: "involvedObject",
    message: "message",
    first: "firstTimestamp",
    last: "lastTimestamp",
    count: "count",
    source: "source",
    // The core/v1 JSON name of ReportingController.
    controller: "reportingComponent",
};

const V1: Fields = Fields {
    involved: "regarding",
    message: "note",
    first: "deprecatedFirstTimestamp",
    last: "deprecatedLastTimestamp",
    count: "deprecatedCount",
    source: "deprecatedSource",
    controller: "reportingController",
};

fn core_cells(ev: &Value, now: Timestamp) -> Vec<Value> {
    event_cells(ev, now, &CORE)
}

fn v1_cells(ev: &Value, now: Timestamp) -> Vec<Value> {
    event_cells(ev, now, &V1)
}

fn event_cells(ev: &Value, now: Timestamp, f: &Fields) -> Vec<Value> {
    // Events from the newer API carry only eventTime; older ones only the timestamps.
    let first = match time_at(ev, &[f.first]) {
        Some(t) => since(Some(t), now),
        None => since(time_at(ev, &["eventTime"]), now),
    };
    let mut last = match time_at(ev, &[f.last]) {
        Some(t) => since(Some(t), now),
        None => first.clone(),
    };
    let mut count = int_at(ev, &[f.count]);
    if obj(ev, &["series"]).is_some() {
        last = since(time_at(ev, &["series", "lastObservedTime"]), now);
        count = int_at(ev, &["series", "count"]);
    } else if count == 0 {
        // Singleton events of the newer API leave the count unset.
        count = 1;
    }
    let kind = str_at(ev, &[f.involved, "kind"]).to_lowercase();
    let target = match str_at(ev, &[f.involved, "name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let component = first_set(
        str_at(ev, &[f.source, "component"]),
        str_at(ev, &[f.controller]),
    );
    let host = first_set(
        str_at(ev, &[f.source, "host"]),
        str_at(ev, &["reportingInstance"]),
    );
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    vec![
        Value::from(last),
        Value::from(str_at(ev, &["type"])),
        Value::from(str_at(ev, &["reason"])),
        Value::from(target),
        Value::from(str_at(ev, &[f.involved, "fieldPath"])),
        Value::from(source),
        Value::from(str_at(ev, &[f.message]).trim()),
        Value::from(first),
        Value::from(count),
        name(ev),
    ]
}

/// `a`, or `b` when `a` is empty.
fn first_set<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

#[cfg(test)]
pub(super) use tests::samples;
#[cfg(test)]
mod tests {
    use super::super::{cells, columns, test_now};
    use serde_json::{Value, json};

    /// Samples for the module-wide robustness tests.
    pub(in super::super) fn samples() -> Vec<(&'static str, &'static str, Value)> {
        vec![
            ("", "events", core_event()),
            ("events.k8s.io", "events", v1_event()),
        ]
    }

    fn core_event() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web-0.17c3", "namespace": "default",
                         "creationTimestamp": "2024-05-01T11:00:00Z"},
            "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "default",
                               "fieldPath": "spec.containers{app}"},
            "reason": "BackOff", "type": "Warning",
            "message": "Back-off restarting failed container\n",
            "source": {"component": "kubelet", "host": "pi-1"},
            "firstTimestamp": "2024-05-01T11:00:00Z",
            "lastTimestamp": "2024-05-01T11:58:00Z",
            "count": 12
        })
    }

    fn v1_event() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.17c4", "namespace": "default"},
            "eventTime": "2024-05-01T11:59:30.000000Z",
            "regarding": {"kind": "Deployment", "name": "web"},
            "reason": "ScalingReplicaSet", "type": "Normal",
            "note": "Scaled up replica set web-5d4 to 3",
            "reportingController": "deployment-controller",
            "reportingInstance": "closet-server"
        })
    }

    #[test]
    fn core_event_row() {
        let r = cells("", "events", &core_event(), test_now());
        let want = [
            json!("2m"),
            json!("Warning"),
            json!("BackOff"),
            json!("pod/web-0"),
            json!("spec.containers{app}"),
            json!("kubelet, pi-1"),
            json!("Back-off restarting failed container"),
            json!("60m"),
            json!(12),
            json!("web-0.17c3"),
        ];
        assert_eq!(r, want);
    }

    #[test]
    fn new_api_event_row() {
        let r = cells("events.k8s.io", "events", &v1_event(), test_now());
        assert_eq!(r[0], json!("30s"));
        assert_eq!(r[3], json!("deployment/web"));
        assert_eq!(r[5], json!("deployment-controller, closet-server"));
        assert_eq!(r[6], json!("Scaled up replica set web-5d4 to 3"));
        assert_eq!(r[7], json!("30s"));
        assert_eq!(r[8], json!(1));
    }

    #[test]
    fn series_overrides_last_seen_and_count() {
        let mut ev = v1_event();
        ev["series"] = json!({"count": 4, "lastObservedTime": "2024-05-01T11:59:55.000000Z"});
        let r = cells("events.k8s.io", "events", &ev, test_now());
        assert_eq!((&r[0], &r[8]), (&json!("5s"), &json!(4)));
        let r = cells(
            "",
            "events",
            &json!({"involvedObject": {"kind": "Node"}}),
            test_now(),
        );
        assert_eq!(r[0], json!("<unknown>"));
        assert_eq!(r[3], json!("node"));
        assert_eq!(r[7], json!("<unknown>"));
    }

    #[test]
    fn wide_columns_sit_between_the_normal_ones() {
        let cols: Vec<_> = columns("", "events")
            .iter()
            .map(|c| (c.name, c.priority))
            .collect();
        assert_eq!(
            cols[..4],
            [("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0)]
        );
        assert_eq!(cols[6], ("Message", 0));
        assert_eq!(columns("events.k8s.io", "events"), columns("", "events"));
    }
}
