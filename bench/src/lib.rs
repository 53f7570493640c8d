//! Benchmarks of the real `closet` binary, run as commands and never as timed tests
//! (DESIGN.md §7). The `api_bench` binary starts the release `closet server` in a temporary
//! directory and measures start-up, memory, API latency and throughput, watch fan-out and idle
//! disk writes; results are recorded by hand in `docs/benchmarks.md`.
//!
//! Start reading at `src/bin/api_bench.rs`, which runs the phases in order; [`server`] owns
//! the child process and its `/proc` numbers, [`load`] drives concurrent clients, [`watch`]
//! measures fan-out, [`baseline`] runs the raw store beside the API for a side-by-side ratio.
//! The node benchmarks (`pod_bench`, `svc_bench`) share [`node`] (the server with its node
//! agent and the removal of its runtime), [`gate`] (waiting for other node agents to finish)
//! and [`procs`] (what `/proc` says about a run's processes and mounts).

pub mod baseline;
pub mod gate;
pub mod load;
pub mod node;
pub mod probe;
pub mod procs;
pub mod report;
pub mod server;
pub mod stats;
pub mod watch;

use std::path::Path;

use anyhow::Context;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

/// Installs ring as the process-wide rustls provider (DESIGN.md §3); safe to call twice.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The run's temporary directory, `<prefix>…` under `parent` (the system temp dir if `None`).
pub fn run_dir(prefix: &str, parent: Option<&Path>) -> anyhow::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    match parent {
        Some(dir) => builder.tempdir_in(dir),
        None => builder.tempdir(),
    }
    .context("creating a temporary directory")
}

/// The admin client configuration from the kubeconfig the server wrote. Each
/// `Client::try_from(config.clone())` has its own connection pool, so its own connection.
pub async fn client_config(kubeconfig: &Path) -> anyhow::Result<kube::Config> {
    let raw = kube::config::Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    kube::Config::from_custom_kubeconfig(raw, &Default::default())
        .await
        .with_context(|| format!("loading {}", kubeconfig.display()))
}

/// `count` clients, each with its own connection, already connected (one `/version` each), so
/// no TLS handshake lands inside a timed request.
pub async fn warm_clients(config: &kube::Config, count: usize) -> anyhow::Result<Vec<Client>> {
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        clients.push(Client::try_from(config.clone()).context("building a kube client")?);
    }
    warm(&clients).await?;
    Ok(clients)
}

/// One `/version` on every client, concurrently, to open (or reopen) its connection.
pub async fn warm(clients: &[Client]) -> anyhow::Result<()> {
    let calls = clients.iter().map(|c| c.apiserver_version());
    for result in futures::future::join_all(calls).await {
        result.context("warming a client with GET /version")?;
    }
    Ok(())
}

/// Creates namespace `name`.
pub async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// The small ConfigMap every benchmark writes: one label and 100 bytes of data.
pub fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some([("app".to_owned(), "closet-bench".to_owned())].into()),
            ..Default::default()
        },
        data: Some([("payload".to_owned(), "x".repeat(100))].into()),
        ..Default::default()
    }
}
