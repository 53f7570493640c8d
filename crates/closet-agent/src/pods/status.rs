//! A pod's status, computed from its spec, what the runtime holds and what the agent knows
//! (probe results, why a container is waiting). Pure: the worker writes the result through
//! the status subresource only when it differs from what was last written.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::runtime_view::{ContainerRun, PodRuntime, RunState};

/// What the agent knows about one container beyond the runtime's view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerNotes {
    /// Why the container is not running yet (`ErrImagePull`, `CrashLoopBackOff`, ...), and
    /// a message for the user.
    pub waiting: Option<(String, String)>,
    /// The readiness probe's verdict (true without a readiness probe once running).
    pub ready: bool,
    /// The startup probe's verdict (true without a startup probe once running).
    pub started: bool,
}

/// Inputs of [`compute`] besides the pod and the runtime view.
#[derive(Clone, Debug, Default)]
pub struct StatusInputs {
    /// Per container name.
    pub notes: BTreeMap<String, ContainerNotes>,
    /// The node's address.
    pub host_ip: String,
    /// The sandbox's address, once known.
    pub pod_ip: Option<String>,
    /// Now.
    pub now: Option<jiff::Timestamp>,
}

fn time_from_nanos(nanos: i64) -> Option<Time> {
    (nanos > 0)
        .then(|| jiff::Timestamp::from_nanosecond(i128::from(nanos)).ok())
        .flatten()
        .map(|t| Time(t.round(jiff::Unit::Second).unwrap_or(t)))
}

/// The Kubernetes container ID for a CRI id.
pub fn container_id(id: &str) -> String {
    format!("containerd://{id}")
}

fn terminated(run: &ContainerRun) -> ContainerState {
    let reason = if run.reason.is_empty() {
        if run.exit_code == 0 {
            "Completed"
        } else {
            "Error"
        }
        .to_owned()
    } else {
        run.reason.clone()
    };
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: run.exit_code,
            reason: Some(reason),
            message: (!run.message.is_empty()).then(|| run.message.clone()),
            started_at: time_from_nanos(run.started_at),
            finished_at: time_from_nanos(run.finished_at),
            container_id: Some(container_id(&run.id)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn waiting(reason: &str, message: Option<&str>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_owned()),
            message: message.filter(|m| !m.is_empty()).map(str::to_owned),
        }),
        ..Default::default()
    }
}

/// One container's status.
pub fn container_status(
    spec: &Container,
    runtime: &PodRuntime,
    notes: &ContainerNotes,
) -> ContainerStatus {
    let latest = runtime.latest(&spec.name);
    let previous = runtime.previous(&spec.name);
    let (state, last_state) = match (latest, &notes.waiting) {
        // The agent holds the next start back (back-off, a failed pull): show why, with the
        // last run as the last state.
        (Some(run), Some((reason, message))) if run.state == RunState::Exited => {
            (waiting(reason, Some(message)), Some(terminated(run)))
        }
        (Some(run), _) => {
            let state = match run.state {
                RunState::Running => ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: time_from_nanos(run.started_at),
                    }),
                    ..Default::default()
                },
                RunState::Exited => terminated(run),
                RunState::Created | RunState::Unknown => waiting("ContainerCreating", None),
            };
            (state, previous.map(terminated))
        }
        (None, Some((reason, message))) => (waiting(reason, Some(message)), None),
        (None, None) => (waiting("ContainerCreating", None), None),
    };
    let running = latest.is_some_and(|r| r.state == RunState::Running);
    ContainerStatus {
        name: spec.name.clone(),
        image: spec.image.clone().unwrap_or_default(),
        image_id: latest.map(|r| r.image_ref.clone()).unwrap_or_default(),
        container_id: latest.map(|r| container_id(&r.id)),
        ready: running && notes.ready,
        started: Some(running && notes.started),
        restart_count: latest.map_or(0, |r| i32::try_from(r.attempt).unwrap_or(i32::MAX)),
        state: Some(state),
        last_state: Some(last_state.unwrap_or_default()),
        ..Default::default()
    }
}

/// The pod's phase from its container statuses, as upstream's kubelet decides it.
pub fn phase(pod: &Pod, init: &[ContainerStatus], main: &[ContainerStatus]) -> &'static str {
    let policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    let init_failed = init.iter().any(|s| {
        s.state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.exit_code != 0)
    });
    if init_failed && policy == "Never" {
        return "Failed";
    }
    let init_done = init.iter().all(|s| {
        s.state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.exit_code == 0)
    });
    if !init_done {
        return "Pending";
    }
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for s in main {
        let state = s.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if s
            .last_state
            .as_ref()
            .and_then(|l| l.terminated.as_ref())
            .is_some()
        {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    if stopped > 0 {
        if policy == "Always" {
            return "Running";
        }
        if stopped == succeeded {
            return "Succeeded";
        }
        if policy == "Never" {
            return "Failed";
        }
        return "Running";
    }
    "Pending"
}

fn condition(
    type_: &str,
    ok: bool,
    reason: Option<&str>,
    previous: Option<&PodStatus>,
    now: jiff::Timestamp,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let before = previous
        .and_then(|p| p.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_));
    let transition = match before {
        Some(b) if b.status == status => b.last_transition_time.clone(),
        _ => Some(Time(now.round(jiff::Unit::Second).unwrap_or(now))),
    };
    PodCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.filter(|_| !ok).map(str::to_owned),
        last_transition_time: transition,
        ..Default::default()
    }
}

/// The whole status.
pub fn compute(pod: &Pod, runtime: &PodRuntime, inputs: &StatusInputs) -> PodStatus {
    let spec = pod.spec.clone().unwrap_or_default();
    let previous = pod.status.as_ref();
    let now = inputs.now.unwrap_or_else(jiff::Timestamp::now);
    let notes = |name: &str| inputs.notes.get(name).cloned().unwrap_or_default();
    let init: Vec<ContainerStatus> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| container_status(c, runtime, &notes(&c.name)))
        .collect();
    let main: Vec<ContainerStatus> = spec
        .containers
        .iter()
        .map(|c| container_status(c, runtime, &notes(&c.name)))
        .collect();
    let phase = phase(pod, &init, &main);
    let initialized = init.iter().all(|s| {
        s.state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some_and(|t| t.exit_code == 0)
    });
    let terminal = matches!(phase, "Succeeded" | "Failed");
    let containers_ready = !terminal && main.iter().all(|s| s.ready);
    let sandbox_ready = runtime.sandbox().is_some_and(|s| s.ready);
    let conditions = vec![
        condition(
            "PodReadyToStartContainers",
            sandbox_ready,
            None,
            previous,
            now,
        ),
        condition(
            "Initialized",
            initialized,
            Some("ContainersNotInitialized"),
            previous,
            now,
        ),
        condition(
            "Ready",
            containers_ready,
            Some(if terminal {
                "PodCompleted"
            } else {
                "ContainersNotReady"
            }),
            previous,
            now,
        ),
        condition(
            "ContainersReady",
            containers_ready,
            Some(if terminal {
                "PodCompleted"
            } else {
                "ContainersNotReady"
            }),
            previous,
            now,
        ),
        condition("PodScheduled", true, None, previous, now),
    ];
    let pod_ip = inputs
        .pod_ip
        .clone()
        .or_else(|| previous.and_then(|p| p.pod_ip.clone()));
    PodStatus {
        phase: Some(phase.to_owned()),
        conditions: Some(conditions),
        host_ip: Some(inputs.host_ip.clone()),
        host_ips: Some(vec![HostIP {
            ip: inputs.host_ip.clone(),
        }]),
        pod_ips: pod_ip.clone().map(|ip| vec![PodIP { ip }]),
        pod_ip,
        start_time: previous
            .and_then(|p| p.start_time.clone())
            .or_else(|| Some(Time(now.round(jiff::Unit::Second).unwrap_or(now)))),
        init_container_statuses: (!init.is_empty()).then_some(init),
        container_statuses: Some(main),
        qos_class: Some(qos_class(&spec.containers).to_owned()),
        ..Default::default()
    }
}

/// BestEffort without any requests or limits, Guaranteed when every container's limits
/// equal its requests for cpu and memory, Burstable otherwise.
pub fn qos_class(containers: &[Container]) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let res = c.resources.clone().unwrap_or_default();
        let limits = res.limits.unwrap_or_default();
        let requests = res.requests.unwrap_or_default();
        if !limits.is_empty() || !requests.is_empty() {
            any = true;
        }
        for r in ["cpu", "memory"] {
            let limit = limits.get(r);
            let request = requests.get(r).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::runtime_view::SandboxRun;
    use super::*;

    fn pod(policy: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {"restartPolicy": policy, "containers": [{"name": "web", "image": "busybox:1"}]}
        }))
        .unwrap()
    }

    fn run(attempt: u32, state: RunState, exit: i32) -> ContainerRun {
        ContainerRun {
            id: format!("c{attempt}"),
            sandbox_id: "s".into(),
            name: "web".into(),
            attempt,
            state,
            exit_code: exit,
            reason: String::new(),
            message: String::new(),
            created_at: 1,
            started_at: 1_700_000_000_000_000_000,
            finished_at: if state == RunState::Exited {
                1_700_000_001_000_000_000
            } else {
                0
            },
            image: "busybox:1".into(),
            image_ref: "sha256:abc".into(),
            log_path: String::new(),
        }
    }

    fn runtime(containers: Vec<ContainerRun>) -> PodRuntime {
        PodRuntime {
            sandboxes: vec![SandboxRun {
                id: "s".into(),
                attempt: 0,
                ready: true,
                created_at: 1,
            }],
            containers,
        }
    }

    fn inputs(ready: bool, waiting: Option<(&str, &str)>) -> StatusInputs {
        StatusInputs {
            notes: BTreeMap::from([(
                "web".to_owned(),
                ContainerNotes {
                    waiting: waiting.map(|(r, m)| (r.to_owned(), m.to_owned())),
                    ready,
                    started: true,
                },
            )]),
            host_ip: "192.168.1.20".into(),
            pod_ip: Some("10.42.0.5".into()),
            now: Some(jiff::Timestamp::from_second(1_700_000_100).unwrap()),
        }
    }

    fn condition_of(status: &PodStatus, t: &str) -> String {
        status
            .conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == t)
            .unwrap()
            .status
            .clone()
    }

    #[test]
    fn a_running_ready_container_makes_a_running_ready_pod() {
        let status = compute(
            &pod("Always"),
            &runtime(vec![run(0, RunState::Running, 0)]),
            &inputs(true, None),
        );
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(condition_of(&status, "Ready"), "True");
        assert_eq!(status.pod_ip.as_deref(), Some("10.42.0.5"));
        let c = &status.container_statuses.as_ref().unwrap()[0];
        assert!(c.ready);
        assert_eq!(c.container_id.as_deref(), Some("containerd://c0"));
        assert_eq!(status.qos_class.as_deref(), Some("BestEffort"));
    }

    #[test]
    fn nothing_started_yet_is_pending_with_container_creating() {
        let status = compute(&pod("Always"), &runtime(vec![]), &inputs(false, None));
        assert_eq!(status.phase.as_deref(), Some("Pending"));
        let c = &status.container_statuses.as_ref().unwrap()[0];
        assert_eq!(
            c.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("ContainerCreating")
        );
    }

    #[test]
    fn a_crash_loop_shows_back_off_with_the_last_run_and_stays_running() {
        let status = compute(
            &pod("Always"),
            &runtime(vec![
                run(0, RunState::Exited, 1),
                run(1, RunState::Exited, 1),
            ]),
            &inputs(
                false,
                Some((
                    "CrashLoopBackOff",
                    "back-off 10s restarting failed container",
                )),
            ),
        );
        assert_eq!(status.phase.as_deref(), Some("Running"));
        let c = &status.container_statuses.as_ref().unwrap()[0];
        assert_eq!(c.restart_count, 1);
        assert_eq!(
            c.state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("CrashLoopBackOff")
        );
        assert_eq!(
            c.last_state
                .as_ref()
                .unwrap()
                .terminated
                .as_ref()
                .unwrap()
                .exit_code,
            1
        );
        assert_eq!(condition_of(&status, "Ready"), "False");
    }

    #[test]
    fn run_to_completion_phases_follow_the_restart_policy() {
        let ok = runtime(vec![run(0, RunState::Exited, 0)]);
        let bad = runtime(vec![run(0, RunState::Exited, 2)]);
        assert_eq!(
            compute(&pod("Never"), &ok, &inputs(false, None))
                .phase
                .as_deref(),
            Some("Succeeded")
        );
        assert_eq!(
            compute(&pod("OnFailure"), &ok, &inputs(false, None))
                .phase
                .as_deref(),
            Some("Succeeded")
        );
        assert_eq!(
            compute(&pod("Never"), &bad, &inputs(false, None))
                .phase
                .as_deref(),
            Some("Failed")
        );
        assert_eq!(
            compute(&pod("OnFailure"), &bad, &inputs(false, None))
                .phase
                .as_deref(),
            Some("Running")
        );
        let done = compute(&pod("Never"), &ok, &inputs(false, None));
        let c = &done.container_statuses.as_ref().unwrap()[0];
        let t = c.state.as_ref().unwrap().terminated.as_ref().unwrap();
        assert_eq!(t.reason.as_deref(), Some("Completed"));
    }

    #[test]
    fn init_containers_gate_initialized_and_a_failed_one_fails_a_never_pod() {
        let mut p = pod("Never");
        p.spec.as_mut().unwrap().init_containers = Some(vec![
            serde_json::from_value(json!({"name": "init", "image": "busybox:1"})).unwrap(),
        ]);
        let mut init = run(0, RunState::Exited, 1);
        init.name = "init".into();
        let status = compute(&p, &runtime(vec![init.clone()]), &inputs(false, None));
        assert_eq!(status.phase.as_deref(), Some("Failed"));
        p.spec.as_mut().unwrap().restart_policy = Some("Always".into());
        let status = compute(&p, &runtime(vec![init]), &inputs(false, None));
        assert_eq!(status.phase.as_deref(), Some("Pending"));
        assert_eq!(condition_of(&status, "Initialized"), "False");
    }

    #[test]
    fn transition_times_are_kept_while_a_condition_holds() {
        let mut p = pod("Always");
        let first = compute(
            &p,
            &runtime(vec![run(0, RunState::Running, 0)]),
            &inputs(true, None),
        );
        p.status = Some(first.clone());
        let mut later = inputs(true, None);
        later.now = Some(jiff::Timestamp::from_second(1_700_009_999).unwrap());
        let second = compute(&p, &runtime(vec![run(0, RunState::Running, 0)]), &later);
        assert_eq!(first, second);
    }

    #[test]
    fn qos_classes() {
        let c = |res: serde_json::Value| -> Container {
            serde_json::from_value(json!({"name": "c", "resources": res})).unwrap()
        };
        assert_eq!(qos_class(&[c(json!({}))]), "BestEffort");
        assert_eq!(
            qos_class(&[c(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))]),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(&[c(json!({"requests": {"cpu": "1"}}))]),
            "Burstable"
        );
    }
}
