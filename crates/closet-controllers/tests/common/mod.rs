//! What the in-process integration tests share: a real apiserver on a fresh SQLite store,
//! reached through `kube::Client` with no socket, and a bounded wait.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

/// A client of a fresh apiserver whose store lives in `dir`, as a cluster admin.
pub(crate) async fn client(dir: &tempfile::TempDir) -> kube::Client {
    closet_testkit::client(dir.path()).await
}

/// Polls `check` until it reports done or `within` passes; returns its last value.
pub(crate) async fn wait_for<T, F, Fut>(within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (bool, T)>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (done, value) = check().await;
        if done || tokio::time::Instant::now() >= deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
