//! Fakes below the node API's seams, for tests here and in crates that put the node API
//! behind something (the apiserver's proxy tests, end-to-end harnesses): a CRI runtime whose
//! streaming URLs point where the test wants, pods held in memory, and a remotecommand
//! dialer whose sessions the test drives as the process.

use std::collections::HashMap;
use std::sync::Mutex;

use closet_cri::fake::FakeRuntime;
use closet_cri::{BoxFuture, CriError, Runtime, cri};
use closet_types::Status;
use tokio::io::DuplexStream;
use tokio::sync::{mpsc, oneshot};

use crate::exec::{
    self, DialError, RemoteCommandDialer, RemoteSession, SessionReader, SessionWriter,
    StreamOptions,
};
use crate::{ContainerInfo, PodDirectory, PodInfo};

/// `closet_cri::fake::FakeRuntime` (which records every call), answering `Exec`, `Attach`
/// and `PortForward` with `{base}/exec/token`, `{base}/attach/token` and
/// `{base}/portforward/token`, and `ListContainerStats` with [`Self::stats`].
#[derive(Debug)]
pub struct StreamingRuntime {
    /// The recording fake every call also goes to.
    pub fake: FakeRuntime,
    /// The streaming server's base URL, e.g. `http://127.0.0.1:4321`.
    pub base: Mutex<String>,
    /// What `ListContainerStats` returns.
    pub stats: Mutex<Vec<cri::ContainerStats>>,
}

impl StreamingRuntime {
    /// A runtime whose streaming URLs start with `base`.
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            fake: FakeRuntime::new(),
            base: Mutex::new(base.into()),
            stats: Mutex::default(),
        }
    }

    fn url(&self, kind: &str) -> String {
        let base = self.base.lock().unwrap_or_else(|e| e.into_inner());
        format!("{base}/{kind}/token")
    }
}

macro_rules! delegate {
    ($(($method:ident, $req:ident, $resp:ident)),* $(,)?) => {
        impl Runtime for StreamingRuntime {
            $(
                fn $method(&self, r: cri::$req) -> BoxFuture<'_, Result<cri::$resp, CriError>> {
                    self.fake.$method(r)
                }
            )*
            fn exec(&self, r: cri::ExecRequest) -> BoxFuture<'_, Result<cri::ExecResponse, CriError>> {
                let url = self.url("exec");
                let call = self.fake.exec(r);
                Box::pin(async move { call.await.map(|_| cri::ExecResponse { url }) })
            }
            fn attach(&self, r: cri::AttachRequest) -> BoxFuture<'_, Result<cri::AttachResponse, CriError>> {
                let url = self.url("attach");
                let call = self.fake.attach(r);
                Box::pin(async move { call.await.map(|_| cri::AttachResponse { url }) })
            }
            fn port_forward(&self, r: cri::PortForwardRequest) -> BoxFuture<'_, Result<cri::PortForwardResponse, CriError>> {
                let url = self.url("portforward");
                let call = self.fake.port_forward(r);
                Box::pin(async move { call.await.map(|_| cri::PortForwardResponse { url }) })
            }
            fn list_container_stats(&self, r: cri::ListContainerStatsRequest) -> BoxFuture<'_, Result<cri::ListContainerStatsResponse, CriError>> {
                let stats = self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let call = self.fake.list_container_stats(r);
                Box::pin(async move { call.await.map(|_| cri::ListContainerStatsResponse { stats }) })
            }
        }
    };
}

delegate! {
    (version, VersionRequest, VersionResponse),
    (status, StatusRequest, StatusResponse),
    (update_runtime_config, UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse),
    (run_pod_sandbox, RunPodSandboxRequest, RunPodSandboxResponse),
    (stop_pod_sandbox, StopPodSandboxRequest, StopPodSandboxResponse),
    (remove_pod_sandbox, RemovePodSandboxRequest, RemovePodSandboxResponse),
    (pod_sandbox_status, PodSandboxStatusRequest, PodSandboxStatusResponse),
    (list_pod_sandbox, ListPodSandboxRequest, ListPodSandboxResponse),
    (create_container, CreateContainerRequest, CreateContainerResponse),
    (start_container, StartContainerRequest, StartContainerResponse),
    (stop_container, StopContainerRequest, StopContainerResponse),
    (remove_container, RemoveContainerRequest, RemoveContainerResponse),
    (list_containers, ListContainersRequest, ListContainersResponse),
    (container_status, ContainerStatusRequest, ContainerStatusResponse),
    (update_container_resources, UpdateContainerResourcesRequest, UpdateContainerResourcesResponse),
    (reopen_container_log, ReopenContainerLogRequest, ReopenContainerLogResponse),
    (exec_sync, ExecSyncRequest, ExecSyncResponse),
    (container_stats, ContainerStatsRequest, ContainerStatsResponse),
    (list_images, ListImagesRequest, ListImagesResponse),
    (image_status, ImageStatusRequest, ImageStatusResponse),
    (pull_image, PullImageRequest, PullImageResponse),
    (remove_image, RemoveImageRequest, RemoveImageResponse),
    (image_fs_info, ImageFsInfoRequest, ImageFsInfoResponse),
}

/// Pods and containers held in memory, as the agent would know them.
#[derive(Debug, Default)]
pub struct MemoryPods {
    /// Containers by (namespace, pod, container name).
    pub containers: Mutex<HashMap<(String, String, String), ContainerInfo>>,
    /// Pods.
    pub pods: Mutex<Vec<PodInfo>>,
}

impl MemoryPods {
    /// Adds (or replaces) a container.
    pub fn add_container(&self, namespace: &str, pod: &str, name: &str, info: ContainerInfo) {
        self.containers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((namespace.into(), pod.into(), name.into()), info);
    }

    /// Adds a pod.
    pub fn add_pod(&self, pod: PodInfo) {
        self.pods
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(pod);
    }

    /// Marks a container running or stopped.
    pub fn set_running(&self, namespace: &str, pod: &str, name: &str, running: bool) {
        let mut containers = self.containers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = containers.get_mut(&(namespace.into(), pod.into(), name.into())) {
            c.running = running;
        }
    }
}

impl PodDirectory for MemoryPods {
    fn container(&self, namespace: &str, pod: &str, container: &str) -> Option<ContainerInfo> {
        self.containers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(namespace.into(), pod.into(), container.into()))
            .cloned()
    }

    fn pod(&self, namespace: &str, pod: &str) -> Option<PodInfo> {
        self.pods
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|p| p.namespace == namespace && p.name == pod)
            .cloned()
    }

    fn pods(&self) -> Vec<PodInfo> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The process side of one exec or attach session, driven by the test.
#[derive(Debug)]
pub struct ProcessEnd {
    /// The URL the session was opened for.
    pub url: String,
    /// The streams asked for.
    pub options: StreamOptions,
    /// What the client typed; end of file once the client closed stdin.
    pub stdin: DuplexStream,
    /// Write here to produce stdout; drop it to close stdout.
    pub stdout: DuplexStream,
    /// Write here to produce stderr; drop it to close stderr.
    pub stderr: DuplexStream,
    /// Terminal size messages, as the client sent them.
    pub resize: DuplexStream,
    /// Send the final status here to end the process.
    pub outcome: oneshot::Sender<Status>,
}

/// A dialer whose every session is handed to the test as a [`ProcessEnd`].
#[derive(Debug)]
pub struct FakeDialer {
    sessions: mpsc::UnboundedSender<ProcessEnd>,
}

impl FakeDialer {
    /// The dialer and the receiver of its sessions' process ends.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<ProcessEnd>) {
        let (sessions, receiver) = mpsc::unbounded_channel();
        (Self { sessions }, receiver)
    }
}

impl RemoteCommandDialer for FakeDialer {
    fn connect(
        &self,
        url: String,
        options: StreamOptions,
    ) -> exec::BoxFuture<Result<RemoteSession, DialError>> {
        const PIPE: usize = 64 * 1024;
        let (stdin_node, stdin_test) = tokio::io::duplex(PIPE);
        let (stdout_node, stdout_test) = tokio::io::duplex(PIPE);
        let (stderr_node, stderr_test) = tokio::io::duplex(PIPE);
        let (resize_node, resize_test) = tokio::io::duplex(PIPE);
        let (outcome_tx, outcome_rx) = oneshot::channel();
        let sent = self.sessions.send(ProcessEnd {
            url,
            options,
            stdin: stdin_test,
            stdout: stdout_test,
            stderr: stderr_test,
            resize: resize_test,
            outcome: outcome_tx,
        });
        Box::pin(async move {
            sent.map_err(|_| -> DialError { "the test stopped taking sessions".into() })?;
            Ok(RemoteSession {
                stdin: options.stdin.then(|| Box::new(stdin_node) as SessionWriter),
                stdout: options
                    .stdout
                    .then(|| Box::new(stdout_node) as SessionReader),
                stderr: options
                    .stderr
                    .then(|| Box::new(stderr_node) as SessionReader),
                resize: options.tty.then(|| Box::new(resize_node) as SessionWriter),
                outcome: Box::pin(async move {
                    outcome_rx
                        .await
                        .unwrap_or_else(|_| exec::error_status("the test dropped the process"))
                }),
            })
        })
    }
}
