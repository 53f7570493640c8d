//! Workload controllers: ReplicaSet, Deployment, StatefulSet, DaemonSet, Job and CronJob.
//!
//! Each controller is an ordinary `kube::Client` client (DESIGN.md §2) with the shape
//! `reconcile(object, context) -> Action` plus an error policy (STYLE.md §4). Start reading at
//! [`replicaset`], the simplest; [`deployment`] drives ReplicaSets, [`daemonset`] places one
//! pod per node, [`statefulset`] gives each pod a stable name and claims of its own, [`job`] runs pods to
//! completion and [`cronjob`] creates Jobs on a schedule. The shared pieces (informer caches and work queue, controller references,
//! expectations, pod helpers) are in [`shared`]. [`run`] starts them all.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod job;
pub mod replicaset;
pub mod shared;
pub mod statefulset;

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
        replicaset::run(client.clone(), stopped()),
        deployment::run(client.clone(), stopped()),
        daemonset::run(client.clone(), stopped()),
        statefulset::run(client.clone(), stopped()),
        job::run(client.clone(), stopped()),
        cronjob::run(client, stopped()),
    );
    signal.abort();
}
