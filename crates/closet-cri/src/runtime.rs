use std::future::Future;
use std::pin::Pin;

use crate::CriError;
use crate::cri;

/// A boxed, `Send` future, so [`Runtime`] stays usable as `Arc<dyn Runtime>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The agent's view of the container runtime: the seam between closet and CRI (STYLE.md §9).
///
/// The real implementation is [`crate::CriClient`]; unit tests use `fake::FakeRuntime`.
/// Methods are added as the agent needs them.
pub trait Runtime: Send + Sync {
    /// CRI `Version`: the runtime's name and version.
    fn version(&self) -> BoxFuture<'_, Result<cri::VersionResponse, CriError>>;
    /// CRI `ListPodSandbox` without a filter.
    fn list_pod_sandboxes(&self) -> BoxFuture<'_, Result<Vec<cri::PodSandbox>, CriError>>;
    /// CRI `ListContainers` without a filter.
    fn list_containers(&self) -> BoxFuture<'_, Result<Vec<cri::Container>, CriError>>;
    /// CRI `ListImages` without a filter.
    fn list_images(&self) -> BoxFuture<'_, Result<Vec<cri::Image>, CriError>>;
}
