//! A Deployment's status and conditions, as `kubectl rollout status` reads them.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::util::{self, rs_replicas};

/// What happened to a Progressing condition during one reconcile.
pub struct Progress {
    /// A note from the reconcile itself (new ReplicaSet created or found).
    pub note: Option<(&'static str, String)>,
    /// The new ReplicaSet's name, if there is one.
    pub new_name: Option<String>,
    /// Whether the Deployment is paused (no progress is expected).
    pub paused: bool,
}

fn sum(sets: &[&ReplicaSet], f: impl Fn(&ReplicaSet) -> i32) -> i32 {
    sets.iter().map(|rs| f(rs)).sum()
}

/// The counters and the Available condition, from the ReplicaSets (`new` among `all`).
pub fn counters(
    d: &Deployment,
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    now: jiff::Timestamp,
) -> DeploymentStatus {
    let st = |rs: &ReplicaSet| rs.status.clone().unwrap_or_default();
    let available = sum(all, |rs| st(rs).available_replicas.unwrap_or(0));
    let total = sum(all, rs_replicas);
    let want = util::replicas(d);
    let old = d.status.clone().unwrap_or_default();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(sum(all, |rs| st(rs).replicas)),
        updated_replicas: Some(new.map_or(0, |n| st(n).replicas)),
        ready_replicas: Some(sum(all, |rs| st(rs).ready_replicas.unwrap_or(0))),
        available_replicas: Some(available),
        unavailable_replicas: Some((total - available).max(0)),
        collision_count: old.collision_count,
        conditions: old.conditions.clone(),
        terminating_replicas: old.terminating_replicas,
    };
    let (state, reason, message) = if available >= want - util::max_unavailable(d) {
        (
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        (
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    set_condition(
        &mut status,
        "Available",
        state,
        reason,
        message.to_owned(),
        now,
    );
    // A ReplicaSet that cannot create pods makes the Deployment report it too.
    let failure = all.iter().find_map(|rs| {
        st(rs)
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "ReplicaFailure" && c.status == "True")
    });
    match failure {
        Some(c) => set_condition(
            &mut status,
            "ReplicaFailure",
            "True",
            c.reason.as_deref().unwrap_or("FailedCreate"),
            c.message.unwrap_or_default(),
            now,
        ),
        None => remove_condition(&mut status, "ReplicaFailure"),
    }
    status
}

/// Whether the rollout is complete: every replica updated and available, and observed.
pub fn complete(d: &Deployment, s: &DeploymentStatus) -> bool {
    let want = util::replicas(d);
    s.updated_replicas == Some(want)
        && s.replicas == Some(want)
        && s.available_replicas == Some(want)
        && s.observed_generation >= d.metadata.generation
}

fn progressing(old: &DeploymentStatus, new: &DeploymentStatus) -> bool {
    let g = |v: Option<i32>| v.unwrap_or(0);
    let old_pods = g(old.replicas) - g(old.updated_replicas);
    let new_pods = g(new.replicas) - g(new.updated_replicas);
    g(new.updated_replicas) > g(old.updated_replicas)
        || new_pods < old_pods
        || g(new.ready_replicas) > g(old.ready_replicas)
        || g(new.available_replicas) > g(old.available_replicas)
}

/// The Progressing condition for `new`, and how long until the deadline passes if the
/// rollout is still under way.
pub fn progress(
    d: &Deployment,
    status: &mut DeploymentStatus,
    p: Progress,
    now: jiff::Timestamp,
) -> Option<std::time::Duration> {
    let deadline = d.spec.as_ref().and_then(|s| s.progress_deadline_seconds);
    if let Some((reason, message)) = p.note {
        set_condition(status, "Progressing", "True", reason, message, now);
    }
    let current = condition(status, "Progressing").cloned();
    if p.paused {
        if current
            .as_ref()
            .is_none_or(|c| c.reason.as_deref() != Some("DeploymentPaused"))
        {
            set_condition(
                status,
                "Progressing",
                "Unknown",
                "DeploymentPaused",
                "Deployment is paused".into(),
                now,
            );
        }
        return None;
    }
    if current
        .as_ref()
        .is_some_and(|c| c.reason.as_deref() == Some("DeploymentPaused"))
    {
        set_condition(
            status,
            "Progressing",
            "Unknown",
            "DeploymentResumed",
            "Deployment is resumed".into(),
            now,
        );
    }
    let Some(deadline) = deadline else {
        remove_condition(status, "Progressing");
        return None;
    };
    let current = condition(status, "Progressing").cloned();
    let name = p.new_name.unwrap_or_default();
    let done = status.replicas == status.updated_replicas
        && current
            .as_ref()
            .is_some_and(|c| c.reason.as_deref() == Some("NewReplicaSetAvailable"));
    if done {
        return None;
    }
    let old = d.status.clone().unwrap_or_default();
    if complete(d, status) {
        let message = format!("ReplicaSet \"{name}\" has successfully progressed.");
        set_condition(
            status,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            message,
            now,
        );
        return None;
    }
    if progressing(&old, status) {
        let message = format!("ReplicaSet \"{name}\" is progressing.");
        set_condition(
            status,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            message,
            now,
        );
        return Some(std::time::Duration::from_secs(
            u64::try_from(deadline.max(1)).unwrap_or(600),
        ));
    }
    let current = condition(status, "Progressing").cloned();
    let reason = current.as_ref().and_then(|c| c.reason.clone());
    if reason.as_deref() == Some("ProgressDeadlineExceeded") {
        return None;
    }
    let since = current
        .as_ref()
        .and_then(|c| {
            c.last_update_time
                .as_ref()
                .or(c.last_transition_time.as_ref())
        })
        .map_or(now, |t| t.0);
    let until = since + jiff::SignedDuration::from_secs(i64::from(deadline));
    if now >= until {
        let message = format!("ReplicaSet \"{name}\" has timed out progressing.");
        set_condition(
            status,
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            message,
            now,
        );
        return None;
    }
    Some(until.duration_since(now).unsigned_abs() + std::time::Duration::from_millis(200))
}

/// The condition of `type_`, if present.
pub fn condition<'a>(s: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    s.conditions.iter().flatten().find(|c| c.type_ == type_)
}

/// Sets a condition; the transition time moves only when the status changes, the update
/// time whenever anything does.
pub fn set_condition(
    s: &mut DeploymentStatus,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: jiff::Timestamp,
) {
    let conditions = s.conditions.get_or_insert_with(Vec::new);
    let existing = conditions.iter_mut().find(|c| c.type_ == type_);
    match existing {
        Some(c)
            if c.status == status
                && c.reason.as_deref() == Some(reason)
                && c.message.as_deref() == Some(&message) => {}
        Some(c) => {
            if c.status != status {
                c.last_transition_time = Some(Time(now));
            }
            c.status = status.to_owned();
            c.reason = Some(reason.to_owned());
            c.message = Some(message);
            c.last_update_time = Some(Time(now));
        }
        None => conditions.push(DeploymentCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message),
            last_transition_time: Some(Time(now)),
            last_update_time: Some(Time(now)),
        }),
    }
}

fn remove_condition(s: &mut DeploymentStatus, type_: &str) {
    if let Some(c) = s.conditions.as_mut() {
        c.retain(|c| c.type_ != type_);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rs(spec: i32, replicas: i32, ready: i32, available: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": "x"},
            "spec": {"replicas": spec, "selector": {}},
            "status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": available}
        }))
        .unwrap()
    }

    #[test]
    fn counters_conditions_and_completion() {
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "d", "generation": 2},
            "spec": {"replicas": 3, "selector": {}, "template": {}, "progressDeadlineSeconds": 600,
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}
        }))
        .unwrap();
        let now: jiff::Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let old = rs(1, 1, 1, 1);
        let new = rs(3, 3, 3, 2);
        let mut s = counters(&d, &[&old, &new], Some(&new), now);
        assert_eq!(
            (
                s.replicas,
                s.updated_replicas,
                s.ready_replicas,
                s.available_replicas,
                s.unavailable_replicas
            ),
            (Some(4), Some(3), Some(4), Some(3), Some(1))
        );
        assert_eq!(s.observed_generation, Some(2));
        assert_eq!(
            condition(&s, "Available").unwrap().reason.as_deref(),
            Some("MinimumReplicasAvailable")
        );
        assert!(!complete(&d, &s));
        let wait = progress(
            &d,
            &mut s,
            Progress {
                note: None,
                new_name: Some("d-1".into()),
                paused: false,
            },
            now,
        );
        assert_eq!(
            condition(&s, "Progressing").unwrap().reason.as_deref(),
            Some("ReplicaSetUpdated")
        );
        assert!(wait.is_some());
        let done = rs(3, 3, 3, 3);
        let mut s = counters(&d, &[&rs(0, 0, 0, 0), &done], Some(&done), now);
        assert!(complete(&d, &s));
        progress(
            &d,
            &mut s,
            Progress {
                note: None,
                new_name: Some("d-1".into()),
                paused: false,
            },
            now,
        );
        assert_eq!(
            condition(&s, "Progressing").unwrap().reason.as_deref(),
            Some("NewReplicaSetAvailable")
        );
        // No progress for longer than the deadline: timed out.
        let mut stuck = d.clone();
        let mut st = counters(&d, &[&rs(3, 3, 0, 0)], Some(&rs(3, 3, 0, 0)), now);
        set_condition(
            &mut st,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            "x".into(),
            now,
        );
        stuck.status = Some(st.clone());
        let later = now + jiff::SignedDuration::from_secs(601);
        progress(
            &stuck,
            &mut st,
            Progress {
                note: None,
                new_name: None,
                paused: false,
            },
            later,
        );
        let c = condition(&st, "Progressing").unwrap();
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref()),
            ("False", Some("ProgressDeadlineExceeded"))
        );
        assert_eq!(
            condition(&st, "Available").unwrap().reason.as_deref(),
            Some("MinimumReplicasUnavailable")
        );
    }
}
