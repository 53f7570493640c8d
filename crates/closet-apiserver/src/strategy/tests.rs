use serde_json::json;

use super::*;
use crate::registry::Registry;

fn info(group: &str, plural: &str) -> std::sync::Arc<ResourceInfo> {
    Registry::builtin().get(group, "v1", plural).unwrap()
}

#[test]
fn create_sets_server_fields_and_resets_status() {
    let pods = info("", "pods");
    let mut pod = json!({"metadata": {"name": "p", "resourceVersion": "9"}, "spec": {}, "status": {"phase": "Running"}});
    prepare_create(&pods, &mut pod, jiff::Timestamp::UNIX_EPOCH);
    assert_eq!(pod["status"], json!({"phase": "Pending"}));
    assert_eq!(pod["metadata"]["generation"], 1);
    assert_eq!(pod["metadata"]["creationTimestamp"], "1970-01-01T00:00:00Z");
    assert!(pod["metadata"].get("resourceVersion").is_none());
    assert_eq!(pod["metadata"]["uid"].as_str().unwrap().len(), 36);

    let cms = info("", "configmaps");
    let mut cm = json!({"metadata": {"name": "c"}, "data": {"a": "b"}});
    prepare_create(&cms, &mut cm, jiff::Timestamp::UNIX_EPOCH);
    assert!(cm.get("status").is_none());
    assert!(cm["metadata"].get("generation").is_none());
}

#[test]
fn secret_string_data_merges_into_data() {
    let secrets = info("", "secrets");
    let mut s = json!({"metadata": {"name": "s"}, "data": {"user": "YWRtaW4=", "password": "b2xk"}, "stringData": {"password": "hunter2"}});
    prepare_create(&secrets, &mut s, jiff::Timestamp::UNIX_EPOCH);
    assert_eq!(
        s["data"],
        json!({"user": "YWRtaW4=", "password": "aHVudGVyMg=="})
    );
    assert!(s.get("stringData").is_none());
}

#[test]
fn main_update_keeps_status_and_bumps_generation_on_spec_change() {
    let deploy = info("apps", "deployments");
    // As stored: already defaulted.
    let mut old = json!({"metadata": {"name": "d", "uid": "u1", "generation": 3}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
    defaults::apply(&deploy, &mut old);
    let mut new = json!({"metadata": {"name": "d", "uid": "forged"}, "spec": {"replicas": 2}, "status": {"replicas": 99}});
    prepare_update(&deploy, &old, &mut new, UpdateScope::Main);
    assert_eq!(new["status"]["replicas"], 1);
    assert_eq!(new["metadata"]["uid"], "u1");
    assert_eq!(new["metadata"]["generation"], 4);

    let mut same =
        json!({"metadata": {"name": "d", "labels": {"a": "b"}}, "spec": {"replicas": 1}});
    prepare_update(&deploy, &old, &mut same, UpdateScope::Main);
    assert_eq!(same["metadata"]["generation"], 3);
}

#[test]
fn status_update_touches_only_status() {
    let deploy = info("apps", "deployments");
    let old = json!({"metadata": {"name": "d", "labels": {"a": "b"}, "generation": 2}, "spec": {"replicas": 1}, "status": {}});
    let mut new = json!({"metadata": {"name": "d", "labels": {"x": "y"}}, "spec": {"replicas": 5}, "status": {"replicas": 1}});
    prepare_update(&deploy, &old, &mut new, UpdateScope::Status);
    assert_eq!(new["spec"]["replicas"], 1);
    assert_eq!(new["status"]["replicas"], 1);
    assert_eq!(new["metadata"]["labels"], json!({"a": "b"}));
    assert_eq!(new["metadata"]["generation"], 2);
}

#[test]
fn deletion_rules() {
    let cms = info("", "configmaps");
    assert_eq!(
        deletion(&cms, &json!({"metadata": {"name": "c"}}), None),
        Deletion::Now
    );
    let held = json!({"metadata": {"name": "c", "finalizers": ["x/y"]}});
    assert_eq!(
        deletion(&cms, &held, None),
        Deletion::Mark { grace_seconds: 0 }
    );
    let marked = json!({"metadata": {"name": "c", "finalizers": ["x/y"], "deletionTimestamp": "2020-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}});
    assert_eq!(deletion(&cms, &marked, None), Deletion::AlreadyMarked);

    let pods = info("", "pods");
    let unbound = json!({"metadata": {"name": "p"}, "spec": {}});
    assert_eq!(deletion(&pods, &unbound, None), Deletion::Now);
    let bound = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n", "terminationGracePeriodSeconds": 10}, "status": {"phase": "Running"}});
    assert_eq!(
        deletion(&pods, &bound, None),
        Deletion::Mark { grace_seconds: 10 }
    );
    assert_eq!(deletion(&pods, &bound, Some(0)), Deletion::Now);

    let ns = info("", "namespaces");
    let mut n = json!({"metadata": {"name": "n"}});
    prepare_create(&ns, &mut n, jiff::Timestamp::UNIX_EPOCH);
    assert_eq!(deletion(&ns, &n, None), Deletion::Mark { grace_seconds: 0 });
    mark_deleted(&ns, &mut n, 0, jiff::Timestamp::UNIX_EPOCH);
    assert_eq!(n["status"]["phase"], "Terminating");
    assert!(!ready_to_remove(&ns, &n));
    let mut finalized = json!({"spec": {"finalizers": []}});
    prepare_update(&ns, &n, &mut finalized, UpdateScope::Finalize);
    assert!(ready_to_remove(&ns, &finalized));
}

#[test]
fn validation_messages() {
    let cms = info("", "configmaps");
    let bad = json!({"metadata": {"name": "Bad_Name", "labels": {"ok": "fine", "bad key!": "v"}}});
    let errors = validate(&cms, &bad);
    assert!(errors.iter().any(|c| c.field == "metadata.name"));
    assert!(errors.iter().any(|c| c.field == "metadata.labels"));
    assert!(validate(&cms, &json!({"metadata": {"name": "good"}})).is_empty());
    assert_eq!(validate(&cms, &json!({"metadata": {}})).len(), 1);
}

#[test]
fn boolean_fields_default_to_false() {
    assert_eq!(
        field_lookup(&json!({"spec": {}}), "spec.unschedulable").unwrap(),
        "false"
    );
    assert_eq!(
        field_lookup(&json!({"metadata": {"name": "n"}}), "metadata.name").unwrap(),
        "n"
    );
}

#[test]
fn a_pod_past_its_grace_period_goes_with_its_last_finalizer() {
    let pods = info("", "pods");
    let held = json!({"metadata": {"name": "p", "finalizers": ["batch.kubernetes.io/job-tracking"], "deletionTimestamp": "2020-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0}, "spec": {}});
    assert!(!ready_to_remove(&pods, &held));
    let mut released = held.clone();
    released["metadata"]["finalizers"] = json!([]);
    assert!(ready_to_remove(&pods, &released));
    // Still within its grace period: the node removes it.
    let mut graceful = released.clone();
    graceful["metadata"]["deletionGracePeriodSeconds"] = json!(30);
    assert!(!ready_to_remove(&pods, &graceful));
}

#[test]
fn cronjob_time_zones_go_in_their_own_field() {
    let cj = info("batch", "cronjobs");
    let base = |spec: serde_json::Value| {
        let mut o = json!({"metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}}}});
        for (k, v) in spec.as_object().unwrap() {
            o["spec"][k] = v.clone();
        }
        o
    };
    let errs = |spec| format!("{:?}", validate(&cj, &base(spec)));
    assert!(!errs(json!({"schedule": "* * * * *", "timeZone": "Europe/Berlin"})).contains("spec."));
    assert!(
        errs(json!({"schedule": "CRON_TZ=UTC * * * * *"})).contains("cannot use TZ or CRON_TZ")
    );
    assert!(
        errs(json!({"schedule": "* * * * *", "timeZone": "Mars/Olympus"}))
            .contains("unknown time zone Mars/Olympus")
    );
    assert!(
        errs(json!({"schedule": "* * * * *", "timeZone": "Local"})).contains("explicit time zone")
    );
}
