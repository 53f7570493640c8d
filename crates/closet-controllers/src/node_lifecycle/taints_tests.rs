use k8s_openapi::api::core::v1::{NodeSpec, NodeStatus};

use super::*;

fn node(ready: &str, unschedulable: bool, taints: Vec<Taint>) -> Node {
    Node {
        spec: Some(NodeSpec {
            unschedulable: Some(unschedulable),
            taints: Some(taints),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: ready.into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        effect: effect.into(),
        ..Default::default()
    }
}

fn toleration(key: &str, op: &str, effect: &str, seconds: Option<i64>) -> Toleration {
    Toleration {
        key: Some(key.into()).filter(|k: &String| !k.is_empty()),
        operator: Some(op.into()),
        effect: Some(effect.into()).filter(|e: &String| !e.is_empty()),
        toleration_seconds: seconds,
        value: None,
    }
}

#[test]
fn unknown_node_gets_unreachable_taints_and_cordon_its_own() {
    let n = node("Unknown", true, vec![taint("user", NO_SCHEDULE)]);
    let next = reconcile_taints(&n, jiff::Timestamp::UNIX_EPOCH).unwrap();
    let keys: Vec<(&str, &str)> = next
        .iter()
        .map(|t| (t.key.as_str(), t.effect.as_str()))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("user", NO_SCHEDULE),
            (UNREACHABLE, NO_EXECUTE),
            (UNREACHABLE, NO_SCHEDULE),
            (UNSCHEDULABLE, NO_SCHEDULE),
        ]
    );
    assert!(next[1].time_added.is_some());
    assert!(next[2].time_added.is_none());
}

#[test]
fn ready_node_loses_managed_taints_keeps_the_users() {
    let n = node(
        "True",
        false,
        vec![taint(UNREACHABLE, NO_EXECUTE), taint("user", NO_EXECUTE)],
    );
    let next = reconcile_taints(&n, jiff::Timestamp::UNIX_EPOCH).unwrap();
    assert_eq!(next, vec![taint("user", NO_EXECUTE)]);
    let settled = node("True", false, next);
    assert_eq!(
        reconcile_taints(&settled, jiff::Timestamp::UNIX_EPOCH),
        None
    );
}

#[test]
fn not_ready_node_gets_not_ready_taints() {
    let n = node("False", false, vec![]);
    let wanted = wanted(&n);
    assert!(wanted.contains(&(NOT_READY, NO_EXECUTE)));
    assert!(wanted.contains(&(NOT_READY, NO_SCHEDULE)));
    assert!(!wanted.iter().any(|(k, _)| *k == UNREACHABLE));
}

#[test]
fn toleration_matching_follows_upstream() {
    let t = taint(UNREACHABLE, NO_EXECUTE);
    assert!(tolerates(&toleration("", "Exists", "", None), &t));
    assert!(tolerates(
        &toleration(UNREACHABLE, "Exists", NO_EXECUTE, None),
        &t
    ));
    assert!(!tolerates(
        &toleration(UNREACHABLE, "Exists", NO_SCHEDULE, None),
        &t
    ));
    assert!(!tolerates(&toleration(NOT_READY, "Exists", "", None), &t));
    assert!(tolerates(&toleration(UNREACHABLE, "Equal", "", None), &t));
}

#[test]
fn windows_none_forever_shortest_seconds() {
    let t = taint(UNREACHABLE, NO_EXECUTE);
    assert_eq!(toleration_window(&[], &t), Some(Duration::ZERO));
    let forever = toleration(UNREACHABLE, "Exists", NO_EXECUTE, None);
    assert_eq!(toleration_window(std::slice::from_ref(&forever), &t), None);
    let short = toleration(UNREACHABLE, "Exists", NO_EXECUTE, Some(5));
    let long = toleration("", "Exists", "", Some(300));
    assert_eq!(
        toleration_window(&[long, short], &t),
        Some(Duration::from_secs(5))
    );
    let negative = toleration(UNREACHABLE, "Exists", NO_EXECUTE, Some(-3));
    assert_eq!(toleration_window(&[negative], &t), Some(Duration::ZERO));
}
