//! A recording, stateful [`Runtime`] for unit tests.
//!
//! Sandboxes and containers created through it appear in its lists and status answers and
//! move through the CRI states as a real runtime's would (created → running → exited);
//! every call is recorded with its request so a test can assert what the agent asked for.
//! Calls with nothing to model answer the response type's default.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::cri;
use crate::runtime::cri_calls;
use crate::{BoxFuture, CriError, Runtime};

/// One recorded call: the CRI method name and the request, `Debug`-formatted.
#[derive(Clone, Debug)]
pub struct Call {
    /// The CRI method, e.g. `RunPodSandbox`.
    pub method: &'static str,
    /// The request as `{:?}` printed it.
    pub request: String,
}

/// The modelled runtime state.
#[derive(Debug, Default)]
pub struct FakeState {
    /// Sandboxes by id.
    pub sandboxes: BTreeMap<String, cri::PodSandbox>,
    /// The config each sandbox was created with.
    pub sandbox_configs: BTreeMap<String, cri::PodSandboxConfig>,
    /// Containers by id.
    pub containers: BTreeMap<String, cri::ContainerStatus>,
    /// The sandbox each container belongs to.
    pub container_sandbox: BTreeMap<String, String>,
    /// The config each container was created with.
    pub container_configs: BTreeMap<String, cri::ContainerConfig>,
    /// Images by reference.
    pub images: BTreeMap<String, cri::Image>,
    next_id: u64,
}

/// A [`Runtime`] that models sandboxes, containers and images in memory and records calls.
#[derive(Debug)]
pub struct FakeRuntime {
    /// What `Version` returns.
    pub version: cri::VersionResponse,
    state: Mutex<FakeState>,
    calls: Mutex<Vec<Call>>,
}

impl Default for FakeRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeRuntime {
    /// A fake that reports itself as `containerd` `1.6.20~ds1`, with nothing running.
    pub fn new() -> Self {
        Self {
            version: cri::VersionResponse {
                version: "0.1.0".to_owned(),
                runtime_name: "containerd".to_owned(),
                runtime_version: "1.6.20~ds1".to_owned(),
                runtime_api_version: "v1".to_owned(),
            },
            state: Mutex::default(),
            calls: Mutex::default(),
        }
    }

    /// The names of the CRI methods called so far, in order.
    pub fn calls(&self) -> Vec<&'static str> {
        self.recorded().iter().map(|c| c.method).collect()
    }

    /// Every call so far with its request.
    pub fn recorded(&self) -> Vec<Call> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs `f` on the modelled state, e.g. to make a container exit.
    pub fn with_state<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds an image as if it had been pulled or imported.
    pub fn add_image(&self, reference: &str) {
        self.with_state(|s| {
            s.images.insert(
                reference.to_owned(),
                cri::Image {
                    id: format!("sha256:{:064x}", s.images.len() + 1),
                    repo_tags: vec![reference.to_owned()],
                    ..Default::default()
                },
            );
        });
    }

    /// Marks a running container exited with `code`, as if its process ended.
    pub fn exit_container(&self, id: &str, code: i32) {
        self.with_state(|s| {
            if let Some(c) = s.containers.get_mut(id) {
                c.state = cri::ContainerState::ContainerExited as i32;
                c.exit_code = code;
                c.finished_at = now_nanos();
                c.reason = if code == 0 { "Completed" } else { "Error" }.to_owned();
            }
        });
    }

    fn record(&self, method: &'static str, request: &dyn std::fmt::Debug) {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Call {
                method,
                request: format!("{request:?}"),
            });
    }

    fn answer<Req, Resp>(&self, method: &'static str, request: Req) -> Result<Resp, CriError>
    where
        Req: std::fmt::Debug + 'static,
        Resp: Default + 'static,
    {
        self.record(method, &request);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let any: Box<dyn std::any::Any> = Box::new(request);
        let response: Box<dyn std::any::Any> = match method {
            "Version" => Box::new(self.version.clone()),
            _ => match model(&mut state, method, any) {
                Ok(Some(response)) => response,
                Ok(None) => Box::new(Resp::default()),
                Err(message) => {
                    return Err(CriError::Call {
                        method,
                        socket: "fake".into(),
                        source: Box::new(tonic::Status::not_found(message)),
                    });
                }
            },
        };
        Ok(*response
            .downcast::<Resp>()
            .unwrap_or_else(|_| Box::new(Resp::default())))
    }
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

type Answer = Result<Option<Box<dyn std::any::Any>>, String>;

/// The state machine behind the fake: only the calls the agent's lifecycle depends on.
fn model(s: &mut FakeState, method: &str, request: Box<dyn std::any::Any>) -> Answer {
    let ok = |v: Box<dyn std::any::Any>| Ok(Some(v));
    match method {
        "RunPodSandbox" => {
            let Ok(r) = request.downcast::<cri::RunPodSandboxRequest>() else {
                return Ok(None);
            };
            s.next_id += 1;
            let id = format!("sandbox-{}", s.next_id);
            let config = r.config.unwrap_or_default();
            s.sandboxes.insert(
                id.clone(),
                cri::PodSandbox {
                    id: id.clone(),
                    metadata: config.metadata.clone(),
                    state: cri::PodSandboxState::SandboxReady as i32,
                    created_at: now_nanos(),
                    labels: config.labels.clone(),
                    annotations: config.annotations.clone(),
                    runtime_handler: r.runtime_handler,
                },
            );
            s.sandbox_configs.insert(id.clone(), config);
            ok(Box::new(cri::RunPodSandboxResponse { pod_sandbox_id: id }))
        }
        "StopPodSandbox" => {
            let Ok(r) = request.downcast::<cri::StopPodSandboxRequest>() else {
                return Ok(None);
            };
            if let Some(sb) = s.sandboxes.get_mut(&r.pod_sandbox_id) {
                sb.state = cri::PodSandboxState::SandboxNotready as i32;
            }
            let ids: Vec<String> = s
                .container_sandbox
                .iter()
                .filter(|(_, sb)| **sb == r.pod_sandbox_id)
                .map(|(c, _)| c.clone())
                .collect();
            for id in ids {
                if let Some(c) = s.containers.get_mut(&id)
                    && c.state == cri::ContainerState::ContainerRunning as i32
                {
                    c.state = cri::ContainerState::ContainerExited as i32;
                    c.exit_code = 137;
                    c.finished_at = now_nanos();
                }
            }
            Ok(None)
        }
        "RemovePodSandbox" => {
            let Ok(r) = request.downcast::<cri::RemovePodSandboxRequest>() else {
                return Ok(None);
            };
            s.sandboxes.remove(&r.pod_sandbox_id);
            s.sandbox_configs.remove(&r.pod_sandbox_id);
            let ids: Vec<String> = s
                .container_sandbox
                .iter()
                .filter(|(_, sb)| **sb == r.pod_sandbox_id)
                .map(|(c, _)| c.clone())
                .collect();
            for id in ids {
                s.containers.remove(&id);
                s.container_sandbox.remove(&id);
                s.container_configs.remove(&id);
            }
            Ok(None)
        }
        "PodSandboxStatus" => {
            let Ok(r) = request.downcast::<cri::PodSandboxStatusRequest>() else {
                return Ok(None);
            };
            let Some(sb) = s.sandboxes.get(&r.pod_sandbox_id) else {
                return Err(format!("sandbox {} not found", r.pod_sandbox_id));
            };
            ok(Box::new(cri::PodSandboxStatusResponse {
                status: Some(cri::PodSandboxStatus {
                    id: sb.id.clone(),
                    metadata: sb.metadata.clone(),
                    state: sb.state,
                    created_at: sb.created_at,
                    network: Some(cri::PodSandboxNetworkStatus {
                        ip: "10.42.0.2".to_owned(),
                        ..Default::default()
                    }),
                    labels: sb.labels.clone(),
                    annotations: sb.annotations.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            }))
        }
        "ListPodSandbox" => ok(Box::new(cri::ListPodSandboxResponse {
            items: s.sandboxes.values().cloned().collect(),
        })),
        "CreateContainer" => {
            let Ok(r) = request.downcast::<cri::CreateContainerRequest>() else {
                return Ok(None);
            };
            if !s.sandboxes.contains_key(&r.pod_sandbox_id) {
                return Err(format!("sandbox {} not found", r.pod_sandbox_id));
            }
            s.next_id += 1;
            let id = format!("container-{}", s.next_id);
            let config = r.config.unwrap_or_default();
            let image = config.image.clone();
            s.containers.insert(
                id.clone(),
                cri::ContainerStatus {
                    id: id.clone(),
                    metadata: config.metadata.clone(),
                    state: cri::ContainerState::ContainerCreated as i32,
                    created_at: now_nanos(),
                    image_ref: image.as_ref().map(|i| i.image.clone()).unwrap_or_default(),
                    image,
                    labels: config.labels.clone(),
                    annotations: config.annotations.clone(),
                    log_path: config.log_path.clone(),
                    ..Default::default()
                },
            );
            s.container_sandbox.insert(id.clone(), r.pod_sandbox_id);
            s.container_configs.insert(id.clone(), config);
            ok(Box::new(cri::CreateContainerResponse { container_id: id }))
        }
        "StartContainer" => {
            let Ok(r) = request.downcast::<cri::StartContainerRequest>() else {
                return Ok(None);
            };
            let Some(c) = s.containers.get_mut(&r.container_id) else {
                return Err(format!("container {} not found", r.container_id));
            };
            c.state = cri::ContainerState::ContainerRunning as i32;
            c.started_at = now_nanos();
            Ok(None)
        }
        "StopContainer" => {
            let Ok(r) = request.downcast::<cri::StopContainerRequest>() else {
                return Ok(None);
            };
            if let Some(c) = s.containers.get_mut(&r.container_id)
                && c.state != cri::ContainerState::ContainerExited as i32
            {
                c.state = cri::ContainerState::ContainerExited as i32;
                c.exit_code = 137;
                c.finished_at = now_nanos();
            }
            Ok(None)
        }
        "RemoveContainer" => {
            let Ok(r) = request.downcast::<cri::RemoveContainerRequest>() else {
                return Ok(None);
            };
            s.containers.remove(&r.container_id);
            s.container_sandbox.remove(&r.container_id);
            s.container_configs.remove(&r.container_id);
            Ok(None)
        }
        "ListContainers" => ok(Box::new(cri::ListContainersResponse {
            containers: s
                .containers
                .values()
                .map(|c| cri::Container {
                    id: c.id.clone(),
                    pod_sandbox_id: s.container_sandbox.get(&c.id).cloned().unwrap_or_default(),
                    metadata: c.metadata.clone(),
                    image: c.image.clone(),
                    image_ref: c.image_ref.clone(),
                    state: c.state,
                    created_at: c.created_at,
                    labels: c.labels.clone(),
                    annotations: c.annotations.clone(),
                    ..Default::default()
                })
                .collect(),
        })),
        "ContainerStatus" => {
            let Ok(r) = request.downcast::<cri::ContainerStatusRequest>() else {
                return Ok(None);
            };
            let Some(c) = s.containers.get(&r.container_id) else {
                return Err(format!("container {} not found", r.container_id));
            };
            ok(Box::new(cri::ContainerStatusResponse {
                status: Some(c.clone()),
                ..Default::default()
            }))
        }
        "ListImages" => ok(Box::new(cri::ListImagesResponse {
            images: s.images.values().cloned().collect(),
        })),
        "ImageStatus" => {
            let Ok(r) = request.downcast::<cri::ImageStatusRequest>() else {
                return Ok(None);
            };
            let reference = r.image.map(|i| i.image).unwrap_or_default();
            ok(Box::new(cri::ImageStatusResponse {
                image: s.images.get(&reference).cloned(),
                ..Default::default()
            }))
        }
        "PullImage" => {
            let Ok(r) = request.downcast::<cri::PullImageRequest>() else {
                return Ok(None);
            };
            let reference = r.image.map(|i| i.image).unwrap_or_default();
            let id = format!("sha256:{:064x}", s.images.len() + 1);
            s.images.insert(
                reference.clone(),
                cri::Image {
                    id: id.clone(),
                    repo_tags: vec![reference],
                    ..Default::default()
                },
            );
            ok(Box::new(cri::PullImageResponse { image_ref: id }))
        }
        _ => Ok(None),
    }
}

macro_rules! impl_fake {
    ($(($method:ident, $service:ident, $name:literal, $req:ident, $resp:ident)),* $(,)?) => {
        impl Runtime for FakeRuntime {
            $(
                fn $method(&self, request: cri::$req) -> BoxFuture<'_, Result<cri::$resp, CriError>> {
                    let answer = self.answer::<cri::$req, cri::$resp>($name, request);
                    Box::pin(async move { answer })
                }
            )*
        }
    };
}
cri_calls!(impl_fake);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::RuntimeExt;

    #[tokio::test]
    async fn sandboxes_and_containers_move_through_their_states() {
        let fake = Arc::new(FakeRuntime::new());
        let runtime: Arc<dyn Runtime> = fake.clone();
        assert_eq!(
            runtime
                .runtime_version()
                .await
                .expect("version")
                .runtime_name,
            "containerd"
        );
        let sandbox = runtime
            .run_pod_sandbox(cri::RunPodSandboxRequest::default())
            .await
            .expect("sandbox")
            .pod_sandbox_id;
        let container = runtime
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: sandbox.clone(),
                ..Default::default()
            })
            .await
            .expect("create")
            .container_id;
        runtime
            .start_container(cri::StartContainerRequest {
                container_id: container.clone(),
            })
            .await
            .expect("start");
        assert_eq!(
            runtime.all_containers().await.expect("list")[0].state,
            cri::ContainerState::ContainerRunning as i32
        );
        fake.exit_container(&container, 3);
        let status = runtime
            .container_status(cri::ContainerStatusRequest {
                container_id: container.clone(),
                verbose: false,
            })
            .await
            .expect("status")
            .status
            .expect("present");
        assert_eq!(status.exit_code, 3);
        runtime
            .remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: sandbox,
            })
            .await
            .expect("remove");
        assert!(runtime.all_containers().await.expect("list").is_empty());
        assert_eq!(
            fake.calls(),
            [
                "Version",
                "RunPodSandbox",
                "CreateContainer",
                "StartContainer",
                "ListContainers",
                "ContainerStatus",
                "RemovePodSandbox",
                "ListContainers"
            ]
        );
    }

    #[tokio::test]
    async fn a_container_in_a_missing_sandbox_is_an_error() {
        let fake = FakeRuntime::new();
        let err = fake
            .create_container(cri::CreateContainerRequest {
                pod_sandbox_id: "nope".to_owned(),
                ..Default::default()
            })
            .await
            .expect_err("missing sandbox");
        assert!(err.to_string().contains("CreateContainer"), "{err}");
    }
}
