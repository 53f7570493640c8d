//! A recording [`Runtime`] for unit tests: answers from canned state and remembers each call.

use std::sync::Mutex;

use crate::cri;
use crate::{BoxFuture, CriError, Runtime};

/// A [`Runtime`] that serves the fields below and records the name of every CRI method called.
#[derive(Debug, Default)]
pub struct FakeRuntime {
    /// What `version` returns.
    pub version: cri::VersionResponse,
    /// What `list_pod_sandboxes` returns.
    pub sandboxes: Vec<cri::PodSandbox>,
    /// What `list_containers` returns.
    pub containers: Vec<cri::Container>,
    /// What `list_images` returns.
    pub images: Vec<cri::Image>,
    calls: Mutex<Vec<&'static str>>,
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
            ..Self::default()
        }
    }

    /// The CRI methods called so far, in order (`Version`, `ListPodSandbox`, …).
    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn record(&self, method: &'static str) {
        self.calls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(method);
    }
}

impl Runtime for FakeRuntime {
    fn version(&self) -> BoxFuture<'_, Result<cri::VersionResponse, CriError>> {
        self.record("Version");
        Box::pin(async move { Ok(self.version.clone()) })
    }

    fn list_pod_sandboxes(&self) -> BoxFuture<'_, Result<Vec<cri::PodSandbox>, CriError>> {
        self.record("ListPodSandbox");
        Box::pin(async move { Ok(self.sandboxes.clone()) })
    }

    fn list_containers(&self) -> BoxFuture<'_, Result<Vec<cri::Container>, CriError>> {
        self.record("ListContainers");
        Box::pin(async move { Ok(self.containers.clone()) })
    }

    fn list_images(&self) -> BoxFuture<'_, Result<Vec<cri::Image>, CriError>> {
        self.record("ListImages");
        Box::pin(async move { Ok(self.images.clone()) })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn the_fake_serves_its_state_through_the_trait_object_and_records_calls() {
        let mut fake = FakeRuntime::new();
        fake.images.push(cri::Image {
            id: "sha256:abc".to_owned(),
            ..Default::default()
        });
        let fake = Arc::new(fake);
        let runtime: Arc<dyn Runtime> = fake.clone();

        assert_eq!(
            runtime.version().await.expect("version").runtime_name,
            "containerd"
        );
        assert!(
            runtime
                .list_pod_sandboxes()
                .await
                .expect("sandboxes")
                .is_empty()
        );
        assert!(
            runtime
                .list_containers()
                .await
                .expect("containers")
                .is_empty()
        );
        assert_eq!(
            runtime.list_images().await.expect("images")[0].id,
            "sha256:abc"
        );
        assert_eq!(
            fake.calls(),
            ["Version", "ListPodSandbox", "ListContainers", "ListImages"]
        );
    }
}
