//! Workload controllers: ReplicaSet, Deployment, StatefulSet, DaemonSet, Job and CronJob.
//!
//! Each controller is an ordinary `kube::Client` client with the shape `reconcile` plus an
//! error policy (STYLE.md §4); start with [`job`], then [`run`], which starts them all.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

pub mod cronjob;
pub mod job;

use std::future::Future;

/// Runs every workload controller until `shutdown` resolves.
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let signal = tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    tokio::join!(
        job::run(client.clone(), stopped()),
        cronjob::run(client, stopped()),
    );
    signal.abort();
}
