//! What the in-process integration tests share: a real apiserver on a fresh SQLite store,
//! reached through `kube::Client` with no socket, and a bounded wait.

#![allow(dead_code, reason = "each test binary uses a different part")]
#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::Duration;

use closet_apiserver::{ApiServer, Config, auth::User};
use closet_store::sqlite::{Options, SqliteStore};

/// A client of a fresh apiserver whose store lives in `dir`, as a cluster admin.
pub(crate) async fn client(dir: &tempfile::TempDir) -> kube::Client {
    let store = SqliteStore::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let api = ApiServer::new(store, Config::default());
    api.bootstrap().await.unwrap();
    let admin = User {
        name: "test".into(),
        groups: vec!["system:masters".into()],
    };
    kube::Client::new(api.router_as(admin), "default")
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
