//! An in-process apiserver with the workload controllers and the garbage collector.

#![allow(
    clippy::unwrap_used,
    dead_code,
    missing_docs,
    unreachable_pub,
    reason = "tests"
)]

use std::time::Duration;

use closet_apiserver::Config;

pub struct Env {
    pub client: kube::Client,
    _stop: tokio::sync::watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

pub async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let api = closet_testkit::apiserver(dir.path(), Config::default()).await;
    let client = closet_testkit::admin_client(&api);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    tokio::spawn(closet_workloads::run(client.clone(), stopped()));
    tokio::spawn(closet_controllers::gc::run(client.clone(), stopped()));
    Env {
        client,
        _stop: stop,
        _dir: dir,
    }
}

/// Polls `f` until it returns `Some`, for up to a minute.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..1200 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
