//! What the runtime holds for one pod: its sandboxes and container instances, read from CRI
//! by the pod's UID label. Everything the agent decides is derived from this view and the
//! pod spec, so a restarted agent picks up where the last one stopped (adoption).

use closet_cri::{Runtime, cri};

use crate::AgentError;

/// The CRI label carrying the pod's UID on sandboxes and containers.
pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";

/// A sandbox of the pod.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxRun {
    /// The CRI id.
    pub id: String,
    /// 0 for the first sandbox, then one more for each replacement.
    pub attempt: u32,
    /// Whether the sandbox is ready (its network set up, its pause process alive).
    pub ready: bool,
    /// When it was created, in Unix nanoseconds.
    pub created_at: i64,
}

/// The CRI state of a container instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Created, not started.
    Created,
    /// Running.
    Running,
    /// Exited.
    Exited,
    /// The runtime does not know.
    Unknown,
}

/// One container instance (one attempt of one container of the pod).
#[derive(Clone, Debug, PartialEq)]
pub struct ContainerRun {
    /// The CRI id.
    pub id: String,
    /// The sandbox it runs in.
    pub sandbox_id: String,
    /// The container's name in the pod spec.
    pub name: String,
    /// Its restart number: 0 for the first instance.
    pub attempt: u32,
    /// Its state.
    pub state: RunState,
    /// Exit code, when exited.
    pub exit_code: i32,
    /// The runtime's reason (`Completed`, `Error`, `OOMKilled`), when exited.
    pub reason: String,
    /// The runtime's message (the termination message), when exited.
    pub message: String,
    /// Created, started and finished times in Unix nanoseconds (0 when not yet).
    pub created_at: i64,
    /// See `created_at`.
    pub started_at: i64,
    /// See `created_at`.
    pub finished_at: i64,
    /// The image as the spec named it.
    pub image: String,
    /// The image the runtime resolved (`sha256:...` or a digest reference).
    pub image_ref: String,
    /// The CRI log file.
    pub log_path: String,
}

/// Everything the runtime holds for one pod.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRuntime {
    /// Sandboxes, oldest first.
    pub sandboxes: Vec<SandboxRun>,
    /// Container instances, oldest first.
    pub containers: Vec<ContainerRun>,
}

impl PodRuntime {
    /// Reads the pod's sandboxes and containers, with full container status.
    pub async fn read(runtime: &dyn Runtime, uid: &str) -> Result<Self, AgentError> {
        let selector =
            std::collections::HashMap::from([(POD_UID_LABEL.to_owned(), uid.to_owned())]);
        let sandboxes = runtime
            .list_pod_sandbox(cri::ListPodSandboxRequest {
                filter: Some(cri::PodSandboxFilter {
                    label_selector: selector.clone(),
                    ..Default::default()
                }),
            })
            .await
            .map_err(AgentError::cri("listing the pod's sandboxes"))?
            .items;
        let containers = runtime
            .list_containers(cri::ListContainersRequest {
                filter: Some(cri::ContainerFilter {
                    label_selector: selector,
                    ..Default::default()
                }),
            })
            .await
            .map_err(AgentError::cri("listing the pod's containers"))?
            .containers;
        let mut view = Self {
            sandboxes: sandboxes
                .into_iter()
                .filter(|s| s.labels.get(POD_UID_LABEL).is_some_and(|u| u == uid))
                .map(|s| SandboxRun {
                    attempt: s.metadata.as_ref().map_or(0, |m| m.attempt),
                    ready: s.state == cri::PodSandboxState::SandboxReady as i32,
                    created_at: s.created_at,
                    id: s.id,
                })
                .collect(),
            containers: Vec::new(),
        };
        for c in containers {
            if c.labels.get(POD_UID_LABEL).is_none_or(|u| u != uid) {
                continue;
            }
            let status = runtime
                .container_status(cri::ContainerStatusRequest {
                    container_id: c.id.clone(),
                    verbose: false,
                })
                .await
                .ok()
                .and_then(|r| r.status);
            view.containers.push(container_run(&c, status.as_ref()));
        }
        view.sandboxes.sort_by_key(|s| (s.attempt, s.created_at));
        view.containers.sort_by_key(|c| (c.attempt, c.created_at));
        Ok(view)
    }

    /// The newest sandbox.
    pub fn sandbox(&self) -> Option<&SandboxRun> {
        self.sandboxes.last()
    }

    /// The newest instance of container `name` in sandbox `sandbox_id`.
    pub fn latest(&self, name: &str) -> Option<&ContainerRun> {
        self.containers.iter().rev().find(|c| c.name == name)
    }

    /// The instance before the newest one, for `lastState` and `logs --previous`.
    pub fn previous(&self, name: &str) -> Option<&ContainerRun> {
        self.containers
            .iter()
            .rev()
            .filter(|c| c.name == name)
            .nth(1)
    }
}

fn container_run(c: &cri::Container, status: Option<&cri::ContainerStatus>) -> ContainerRun {
    let state_code = status.map_or(c.state, |s| s.state);
    let state = match cri::ContainerState::try_from(state_code) {
        Ok(cri::ContainerState::ContainerCreated) => RunState::Created,
        Ok(cri::ContainerState::ContainerRunning) => RunState::Running,
        Ok(cri::ContainerState::ContainerExited) => RunState::Exited,
        _ => RunState::Unknown,
    };
    ContainerRun {
        id: c.id.clone(),
        sandbox_id: c.pod_sandbox_id.clone(),
        name: c
            .metadata
            .as_ref()
            .map(|m| m.name.clone())
            .unwrap_or_default(),
        attempt: c.metadata.as_ref().map_or(0, |m| m.attempt),
        state,
        exit_code: status.map_or(0, |s| s.exit_code),
        reason: status.map(|s| s.reason.clone()).unwrap_or_default(),
        message: status.map(|s| s.message.clone()).unwrap_or_default(),
        created_at: c.created_at,
        started_at: status.map_or(0, |s| s.started_at),
        finished_at: status.map_or(0, |s| s.finished_at),
        image: c
            .image
            .as_ref()
            .map(|i| i.image.clone())
            .unwrap_or_default(),
        image_ref: status.map_or_else(|| c.image_ref.clone(), |s| s.image_ref.clone()),
        log_path: status.map(|s| s.log_path.clone()).unwrap_or_default(),
    }
}
