use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodSpec, Taint, Toleration};

use super::*;

#[test]
fn silent_node_conditions_become_unknown_once() {
    let now = jiff::Timestamp::UNIX_EPOCH;
    let ready = NodeCondition {
        type_: "Ready".into(),
        status: "True".into(),
        ..Default::default()
    };
    let next = unknown_conditions(&[ready], now).unwrap();
    assert_eq!(next.len(), AGENT_CONDITIONS.len());
    let r = next.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(r.status, "Unknown");
    assert_eq!(r.reason.as_deref(), Some(REASON_UNKNOWN));
    assert_eq!(r.message.as_deref(), Some(MESSAGE_UNKNOWN));
    assert_eq!(unknown_conditions(&next, now), None);
}

#[test]
fn eviction_counts_from_the_taints_time() {
    let added = jiff::Timestamp::from_second(1_000).unwrap();
    let taint = Taint {
        key: taints::UNREACHABLE.into(),
        effect: taints::NO_EXECUTE.into(),
        time_added: Some(Time(added)),
        value: None,
    };
    let pod = |seconds: Option<i64>, tolerate: bool| Pod {
        spec: Some(PodSpec {
            tolerations: tolerate.then(|| {
                vec![Toleration {
                    key: Some(taints::UNREACHABLE.into()),
                    operator: Some("Exists".into()),
                    effect: Some(taints::NO_EXECUTE.into()),
                    toleration_seconds: seconds,
                    value: None,
                }]
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let later = jiff::Timestamp::from_second(1_003).unwrap();
    let taints = std::slice::from_ref(&taint);
    assert_eq!(
        pods::eviction_due(&pod(Some(5), true), taints, later),
        Some(Duration::from_secs(2))
    );
    let much_later = jiff::Timestamp::from_second(1_010).unwrap();
    assert_eq!(
        pods::eviction_due(&pod(Some(5), true), taints, much_later),
        Some(Duration::ZERO)
    );
    assert_eq!(
        pods::eviction_due(&pod(None, true), taints, much_later),
        None
    );
    assert_eq!(
        pods::eviction_due(&pod(None, false), taints, added),
        Some(Duration::ZERO)
    );
}
