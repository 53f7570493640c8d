//! Pods in the states users meet every day, checked cell by cell.

use serde_json::{Value, json};

use super::super::{cells, columns, test_now};

fn row(pod: &Value) -> Vec<Value> {
    let r = cells("", "pods", pod, test_now());
    assert_eq!(r.len(), columns("", "pods").len());
    r
}

/// READY, STATUS and RESTARTS of a pod.
fn summary(pod: &Value) -> (String, String, String) {
    let r = row(pod);
    let s = |i: usize| r[i].as_str().unwrap_or("<not a string>").to_string();
    (s(1), s(2), s(3))
}

fn s(ready: &str, status: &str, restarts: &str) -> (String, String, String) {
    (ready.to_string(), status.to_string(), restarts.to_string())
}

fn pod(spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "default",
                     "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": spec,
        "status": status,
    })
}

fn one_container() -> Value {
    json!({"containers": [{"name": "app", "image": "busybox"}]})
}

/// Samples for the module-wide robustness tests.
pub(in super::super) fn samples() -> Vec<(&'static str, &'static str, Value)> {
    let initializing = init_pod(json!([
        {"name": "migrate", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "seed", "state": {"running": {"startedAt": "2024-05-01T11:59:00Z"}}}
    ]));
    vec![
        ("", "pods", crashloop()),
        ("", "pods", initializing),
        ("", "pods", wide_pod()),
    ]
}

fn crashloop() -> Value {
    pod(
        one_container(),
        json!({"phase": "Running", "containerStatuses": [{
            "name": "app", "ready": false, "restartCount": 5,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                         "finishedAt": "2024-05-01T11:57:00Z"}}
        }]}),
    )
}

fn init_pod(init_statuses: Value) -> Value {
    pod(
        json!({"initContainers": [{"name": "migrate"}, {"name": "seed"}],
               "containers": [{"name": "app"}]}),
        json!({"phase": "Pending", "initContainerStatuses": init_statuses,
               "containerStatuses": [{"name": "app", "ready": false,
                                      "state": {"waiting": {"reason": "PodInitializing"}}}]}),
    )
}

fn wide_pod() -> Value {
    pod(
        json!({"containers": [{"name": "app"}], "nodeName": "pi-1",
               "readinessGates": [{"conditionType": "example.com/lb"},
                                  {"conditionType": "example.com/dns"}]}),
        json!({"phase": "Running", "podIP": "10.42.0.7",
               "podIPs": [{"ip": "10.42.0.7"}, {"ip": "fd00::7"}],
               "nominatedNodeName": "pi-2",
               "conditions": [{"type": "example.com/lb", "status": "True"},
                              {"type": "example.com/dns", "status": "False"},
                              {"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}]}),
    )
}

#[test]
fn pending_pod_without_statuses() {
    let p = pod(one_container(), json!({"phase": "Pending"}));
    assert_eq!(summary(&p), s("0/1", "Pending", "0"));
}

#[test]
fn scheduling_gated_pod() {
    let p = pod(
        one_container(),
        json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
    );
    assert_eq!(summary(&p).1, "SchedulingGated");
}

#[test]
fn running_one_of_two_ready() {
    let p = pod(
        json!({"containers": [{"name": "app"}, {"name": "proxy"}]}),
        json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}},
            {"name": "proxy", "ready": false, "restartCount": 0, "state": {"running": {}}}
        ]}),
    );
    assert_eq!(summary(&p), s("1/2", "Running", "0"));
}

#[test]
fn crashloop_shows_restarts_and_when() {
    assert_eq!(
        summary(&crashloop()),
        s("0/1", "CrashLoopBackOff", "5 (3m ago)")
    );
}

#[test]
fn restarts_without_a_finish_time_have_no_suffix() {
    let mut p = crashloop();
    p["status"]["containerStatuses"][0]["lastState"] = json!({});
    assert_eq!(summary(&p).2, "5");
}

#[test]
fn init_containers_progress() {
    let p = init_pod(json!([
        {"name": "migrate", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "seed", "state": {"running": {}}}
    ]));
    assert_eq!(summary(&p), s("0/1", "Init:1/2", "0"));
    let p =
        init_pod(json!([{"name": "migrate", "state": {"waiting": {"reason": "PodInitializing"}}}]));
    assert_eq!(summary(&p).1, "Init:0/2");
}

#[test]
fn init_container_failures() {
    let p = init_pod(json!([
        {"name": "migrate", "restartCount": 3,
         "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:59:30Z"}}}
    ]));
    // Init restarts count while the pod is still initializing.
    assert_eq!(
        summary(&p),
        s("0/1", "Init:CrashLoopBackOff", "3 (30s ago)")
    );
    let p = init_pod(json!([{"name": "migrate", "state": {"terminated": {"exitCode": 2}}}]));
    assert_eq!(summary(&p).1, "Init:ExitCode:2");
    let killed =
        json!([{"name": "migrate", "state": {"terminated": {"exitCode": 137, "signal": 9}}}]);
    assert_eq!(summary(&init_pod(killed)).1, "Init:Signal:9");
    let failed =
        json!([{"name": "migrate", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]);
    assert_eq!(summary(&init_pod(failed)).1, "Init:Error");
}

#[test]
fn sidecars_count_as_containers() {
    let p = pod(
        json!({"initContainers": [{"name": "mesh", "restartPolicy": "Always"}],
               "containers": [{"name": "app"}]}),
        json!({"phase": "Running",
               "conditions": [{"type": "Initialized", "status": "True"},
                              {"type": "Ready", "status": "True"}],
               "initContainerStatuses": [{"name": "mesh", "started": true, "ready": true,
                   "restartCount": 1, "state": {"running": {}},
                   "lastState": {"terminated": {"exitCode": 1,
                                                "finishedAt": "2024-05-01T11:50:00Z"}}}],
               "containerStatuses": [{"name": "app", "ready": true, "state": {"running": {}}}]}),
    );
    assert_eq!(summary(&p), s("2/2", "Running", "1 (10m ago)"));
}

#[test]
fn completed_container_beside_a_running_one() {
    let mut p = pod(
        json!({"containers": [{"name": "app"}, {"name": "job"}]}),
        json!({"phase": "Running", "containerStatuses": [
            {"name": "app", "ready": true, "state": {"running": {}}},
            {"name": "job", "ready": false,
             "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
        ]}),
    );
    assert_eq!(summary(&p), s("1/2", "NotReady", "0"));
    p["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
    assert_eq!(summary(&p).1, "Running");
}

#[test]
fn completed_and_failed_pods() {
    let p = pod(
        one_container(),
        json!({"phase": "Succeeded", "containerStatuses": [{"name": "app", "ready": false,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}),
    );
    assert_eq!(summary(&p), s("0/1", "Completed", "0"));
    let p = pod(
        one_container(),
        json!({"phase": "Failed", "containerStatuses": [{"name": "app",
            "state": {"terminated": {"exitCode": 137, "signal": 9}}}]}),
    );
    assert_eq!(summary(&p).1, "Signal:9");
    let p = pod(
        one_container(),
        json!({"phase": "Failed", "containerStatuses": [{"name": "app",
            "state": {"terminated": {"exitCode": 3}}}]}),
    );
    assert_eq!(summary(&p).1, "ExitCode:3");
    let p = pod(
        one_container(),
        json!({"phase": "Failed", "reason": "Evicted"}),
    );
    assert_eq!(summary(&p).1, "Evicted");
}

#[test]
fn terminating_and_lost_pods() {
    let mut p = pod(
        one_container(),
        json!({"phase": "Running", "containerStatuses": [{"name": "app", "ready": true,
            "state": {"running": {}}}]}),
    );
    p["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:50Z");
    assert_eq!(summary(&p), s("1/1", "Terminating", "0"));
    p["status"]["reason"] = json!("NodeLost");
    assert_eq!(summary(&p).1, "Unknown");
    // A finished pod being deleted keeps its final status.
    let mut done = pod(one_container(), json!({"phase": "Succeeded"}));
    done["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:50Z");
    assert_eq!(summary(&done).1, "Succeeded");
}

#[test]
fn wide_columns_and_age() {
    let r = row(&wide_pod());
    assert_eq!(r[0], json!("web-0"));
    assert_eq!(r[4], json!("60m"));
    assert_eq!(
        r[5..],
        ["10.42.0.7", "pi-1", "pi-2", "1/2"].map(Value::from)
    );
    let r = row(&pod(one_container(), json!({"phase": "Pending"})));
    assert_eq!(r[5..], ["<none>"; 4].map(Value::from));
}

#[test]
fn column_headers() {
    let names: Vec<_> = columns("", "pods")
        .iter()
        .map(|c| (c.name, c.priority))
        .collect();
    let want = [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ];
    assert_eq!(names, want);
}
