#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

const GI: i64 = 1 << 30;

fn pod(containers: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": containers}
    }))
    .unwrap()
}

fn resources_of(pod: &Pod) -> cri::LinuxContainerResources {
    container_resources(pod, &pod.spec.as_ref().unwrap().containers[0], 8 * GI).unwrap()
}

#[test]
fn shares_and_quota_follow_upstream_arithmetic() {
    assert_eq!(milli_cpu_to_shares(0), 2);
    assert_eq!(milli_cpu_to_shares(1), 2);
    assert_eq!(milli_cpu_to_shares(100), 102);
    assert_eq!(milli_cpu_to_shares(1000), 1024);
    assert_eq!(milli_cpu_to_shares(1_000_000), 262_144);
    assert_eq!(milli_cpu_to_quota(0, 100_000), 0);
    assert_eq!(milli_cpu_to_quota(5, 100_000), 1000);
    assert_eq!(milli_cpu_to_quota(250, 100_000), 25_000);
    assert_eq!(milli_cpu_to_quota(2000, 100_000), 200_000);
}

#[test]
fn burstable_container() {
    let pod = pod(json!([{
        "name": "app",
        "resources": {
            "requests": {"cpu": "250m", "memory": "1Gi"},
            "limits": {"cpu": "500m", "memory": "2Gi"}
        }
    }]));
    assert_eq!(qos_class(&pod), QosClass::Burstable);
    let linux = resources_of(&pod);
    assert_eq!(linux.cpu_shares, 256);
    assert_eq!(linux.cpu_quota, 50_000);
    assert_eq!(linux.cpu_period, 100_000);
    assert_eq!(linux.memory_limit_in_bytes, 2 * GI);
    // 1 GiB of 8 GiB requested: 1000 - 125.
    assert_eq!(linux.oom_score_adj, 875);
}

#[test]
fn guaranteed_container() {
    let pod = pod(json!([{
        "name": "app",
        "resources": {
            "requests": {"cpu": "1", "memory": "512Mi"},
            "limits": {"cpu": "1000m", "memory": "512Mi"}
        }
    }]));
    assert_eq!(qos_class(&pod), QosClass::Guaranteed);
    let linux = resources_of(&pod);
    assert_eq!(linux.oom_score_adj, -997);
    assert_eq!(linux.cpu_shares, 1024);
    assert_eq!(linux.cpu_quota, 100_000);
}

#[test]
fn best_effort_container() {
    let pod = pod(json!([{"name": "app"}]));
    assert_eq!(qos_class(&pod), QosClass::BestEffort);
    let linux = resources_of(&pod);
    assert_eq!(linux.cpu_shares, 2);
    assert_eq!(linux.cpu_quota, 0);
    assert_eq!(linux.memory_limit_in_bytes, 0);
    assert_eq!(linux.oom_score_adj, 1000);
}

#[test]
fn limit_only_cpu_sets_shares_from_the_limit() {
    let pod = pod(json!([{"name": "app", "resources": {"limits": {"cpu": "2"}}}]));
    let linux = resources_of(&pod);
    assert_eq!(linux.cpu_shares, 2048);
    assert_eq!(linux.cpu_quota, 200_000);
}

#[test]
fn burstable_scores_stay_between_the_classes() {
    let tiny = pod(json!([
        {"name": "app", "resources": {"requests": {"memory": "1"}}}
    ]));
    assert_eq!(resources_of(&tiny).oom_score_adj, 999);
    let huge = pod(json!([
        {"name": "app", "resources": {"requests": {"memory": "16Gi"}}}
    ]));
    assert_eq!(resources_of(&huge).oom_score_adj, 3);
}

#[test]
fn one_unlimited_container_makes_the_pod_burstable() {
    let pod = pod(json!([
        {"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}},
        {"name": "b"}
    ]));
    assert_eq!(qos_class(&pod), QosClass::Burstable);
}

#[test]
fn status_qos_class_wins() {
    let mut pod = pod(json!([{"name": "app"}]));
    pod.status = Some(serde_json::from_value(json!({"qosClass": "Guaranteed"})).unwrap());
    assert_eq!(qos_class(&pod), QosClass::Guaranteed);
}

#[test]
fn node_critical_pods_are_protected() {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {
            "priorityClassName": "system-node-critical", "priority": 2_000_001_000,
            "containers": [{"name": "app"}]
        }
    }))
    .unwrap();
    assert_eq!(resources_of(&pod).oom_score_adj, -997);
}

#[test]
fn bad_quantities_name_the_field() {
    let pod = pod(json!([{"name": "app", "resources": {"limits": {"memory": "lots"}}}]));
    let err = container_resources(&pod, &pod.spec.as_ref().unwrap().containers[0], GI).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid quantity \"lots\" for resources.limits.memory"
    );
}
