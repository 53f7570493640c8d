use std::future::Future;
use std::pin::Pin;

use crate::CriError;
use crate::cri;

/// A boxed, `Send` future, so [`Runtime`] stays usable as `Arc<dyn Runtime>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Declares every CRI v1 call the agent makes, once: the [`Runtime`] trait method, the gRPC
/// call in [`crate::CriClient`] and the recording answer in `fake::FakeRuntime` are all
/// generated from this list, so the three can never drift apart.
///
/// Each row: trait method, gRPC service field (`runtime` or `images`), CRI method name,
/// request type, response type.
macro_rules! cri_calls {
    ($callback:ident) => {
        $callback! {
            (version, runtime, "Version", VersionRequest, VersionResponse),
            (status, runtime, "Status", StatusRequest, StatusResponse),
            (update_runtime_config, runtime, "UpdateRuntimeConfig", UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse),
            (run_pod_sandbox, runtime, "RunPodSandbox", RunPodSandboxRequest, RunPodSandboxResponse),
            (stop_pod_sandbox, runtime, "StopPodSandbox", StopPodSandboxRequest, StopPodSandboxResponse),
            (remove_pod_sandbox, runtime, "RemovePodSandbox", RemovePodSandboxRequest, RemovePodSandboxResponse),
            (pod_sandbox_status, runtime, "PodSandboxStatus", PodSandboxStatusRequest, PodSandboxStatusResponse),
            (list_pod_sandbox, runtime, "ListPodSandbox", ListPodSandboxRequest, ListPodSandboxResponse),
            (create_container, runtime, "CreateContainer", CreateContainerRequest, CreateContainerResponse),
            (start_container, runtime, "StartContainer", StartContainerRequest, StartContainerResponse),
            (stop_container, runtime, "StopContainer", StopContainerRequest, StopContainerResponse),
            (remove_container, runtime, "RemoveContainer", RemoveContainerRequest, RemoveContainerResponse),
            (list_containers, runtime, "ListContainers", ListContainersRequest, ListContainersResponse),
            (container_status, runtime, "ContainerStatus", ContainerStatusRequest, ContainerStatusResponse),
            (update_container_resources, runtime, "UpdateContainerResources", UpdateContainerResourcesRequest, UpdateContainerResourcesResponse),
            (reopen_container_log, runtime, "ReopenContainerLog", ReopenContainerLogRequest, ReopenContainerLogResponse),
            (exec_sync, runtime, "ExecSync", ExecSyncRequest, ExecSyncResponse),
            (exec, runtime, "Exec", ExecRequest, ExecResponse),
            (attach, runtime, "Attach", AttachRequest, AttachResponse),
            (port_forward, runtime, "PortForward", PortForwardRequest, PortForwardResponse),
            (container_stats, runtime, "ContainerStats", ContainerStatsRequest, ContainerStatsResponse),
            (list_container_stats, runtime, "ListContainerStats", ListContainerStatsRequest, ListContainerStatsResponse),
            (list_images, images, "ListImages", ListImagesRequest, ListImagesResponse),
            (image_status, images, "ImageStatus", ImageStatusRequest, ImageStatusResponse),
            (pull_image, images, "PullImage", PullImageRequest, PullImageResponse),
            (remove_image, images, "RemoveImage", RemoveImageRequest, RemoveImageResponse),
            (image_fs_info, images, "ImageFsInfo", ImageFsInfoRequest, ImageFsInfoResponse),
        }
    };
}
pub(crate) use cri_calls;

macro_rules! declare_trait {
    ($(($method:ident, $service:ident, $name:literal, $req:ident, $resp:ident)),* $(,)?) => {
        /// The agent's view of the container runtime: the seam between closet and CRI
        /// (STYLE.md §9). One method per CRI v1 call, taking and returning the CRI messages
        /// unchanged.
        ///
        /// The real implementation is [`crate::CriClient`]; unit tests use
        /// `fake::FakeRuntime`.
        pub trait Runtime: Send + Sync {
            $(
                #[doc = concat!("CRI `", $name, "`.")]
                fn $method(&self, request: cri::$req) -> BoxFuture<'_, Result<cri::$resp, CriError>>;
            )*
        }
    };
}
cri_calls!(declare_trait);

/// The CRI API version closet speaks.
pub const CRI_VERSION: &str = "v1";

/// Small conveniences over [`Runtime`] for the calls made most often.
pub trait RuntimeExt: Runtime {
    /// Every sandbox, without a filter.
    fn all_sandboxes(&self) -> BoxFuture<'_, Result<Vec<cri::PodSandbox>, CriError>> {
        let call = self.list_pod_sandbox(cri::ListPodSandboxRequest { filter: None });
        Box::pin(async move { Ok(call.await?.items) })
    }
    /// Every container, without a filter.
    fn all_containers(&self) -> BoxFuture<'_, Result<Vec<cri::Container>, CriError>> {
        let call = self.list_containers(cri::ListContainersRequest { filter: None });
        Box::pin(async move { Ok(call.await?.containers) })
    }
    /// Every image, without a filter.
    fn all_images(&self) -> BoxFuture<'_, Result<Vec<cri::Image>, CriError>> {
        let call = self.list_images(cri::ListImagesRequest { filter: None });
        Box::pin(async move { Ok(call.await?.images) })
    }
    /// The runtime's name and version.
    fn runtime_version(&self) -> BoxFuture<'_, Result<cri::VersionResponse, CriError>> {
        self.version(cri::VersionRequest {
            version: CRI_VERSION.to_owned(),
        })
    }
}

impl<R: Runtime + ?Sized> RuntimeExt for R {}
