//! `sched_bench`: how fast the scheduler binds a burst of pods. Starts the release
//! `closet server` without an agent, makes N simulated nodes (Node objects with capacity and
//! a Ready condition, no agent behind them), creates 100 pending pods at once and measures
//! from the first create to the moment every pod names a node. Prints pods bound per second
//! and how the pods spread over the nodes. Nothing is asserted.
//!
//! `cargo build --release -p closet && cargo run --release -p closet-bench --bin sched_bench -- [--nodes 10] [--pods 100]`

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use closet_bench::probe::Probe;
use closet_bench::server::{self, Server};
use closet_bench::{client_config, create_namespace, install_crypto};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// Measures pods bound per second for a burst of pending pods.
#[derive(Debug, Parser)]
struct Args {
    /// Simulated nodes.
    #[arg(long, default_value_t = 10)]
    nodes: usize,
    /// Pods created at once.
    #[arg(long, default_value_t = 100)]
    pods: usize,
    /// The closet binary (the release build of this workspace if not given).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Parent directory for the temporary data dir.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The longest the benchmark waits for every pod to be bound.
const BIND_TIMEOUT: Duration = Duration::from_secs(300);
/// Creates in flight at once.
const CREATE_CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    install_crypto();
    let binary = match args.binary {
        Some(path) => path,
        None => server::release_binary()?,
    };
    let scratch = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .context("creating the scratch dir")?;
    let probe = Probe::new();
    let (server, _) = Server::start(&binary, scratch.path(), &probe)?;
    let config = client_config(&server.kubeconfig()).await?;
    let client = Client::try_from(config).context("building a kube client")?;
    let result = run(&client, args.nodes, args.pods).await;
    if result.is_err() {
        eprintln!("--- server log, tail ---\n{}", server.log_tail());
    }
    let _ = server.stop();
    result
}

async fn run(client: &Client, node_count: usize, pod_count: usize) -> anyhow::Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    for i in 0..node_count {
        let name = format!("sim-{i:03}");
        let node: Node = serde_json::from_value(json!({"metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"}}}))?;
        nodes
            .create(&PostParams::default(), &node)
            .await
            .with_context(|| format!("creating node {name}"))?;
        let resources = json!({"cpu": "4", "memory": "8Gi", "pods": "110"});
        let status = json!({"status": {"capacity": resources, "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}});
        nodes
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .with_context(|| format!("marking node {name} Ready"))?;
    }
    create_namespace(client, "sched-bench").await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "sched-bench");
    // No agent runs these; the image's registry (loopback, closed port) answers at once.
    let template = |i: usize| -> anyhow::Result<Pod> {
        Ok(serde_json::from_value(
            json!({"metadata": {"name": format!("p-{i:04}"), "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "main", "image": "127.0.0.1:9/bench/pause:1",
                "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}),
        )?)
    };
    let manifests = (0..pod_count)
        .map(template)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let start = Instant::now();
    let creates = futures::stream::iter(manifests.iter().map(|pod| {
        let pods = pods.clone();
        async move { pods.create(&PostParams::default(), pod).await }
    }))
    .buffer_unordered(CREATE_CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    let created = start.elapsed();
    for result in creates {
        result.context("creating a pod")?;
    }
    let placement = loop {
        let list = pods
            .list(&ListParams::default())
            .await
            .context("listing pods")?;
        let bound: Vec<String> = list
            .items
            .iter()
            .filter_map(|p| p.spec.as_ref()?.node_name.clone())
            .collect();
        if bound.len() == pod_count {
            break bound;
        }
        if start.elapsed() > BIND_TIMEOUT {
            bail!(
                "only {} of {pod_count} pods bound after {BIND_TIMEOUT:?}",
                bound.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let elapsed = start.elapsed();
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    for node in placement {
        *per_node.entry(node).or_insert(0) += 1;
    }
    let (min, max) = (
        per_node.values().min().copied().unwrap_or(0),
        per_node.values().max().copied().unwrap_or(0),
    );
    let rate = f64::from(u32::try_from(pod_count).unwrap_or(u32::MAX)) / elapsed.as_secs_f64();
    println!(
        "| nodes | pods | created in | all bound in | pods bound/s | pods per node (min–max) |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {node_count} | {pod_count} | {:.0} ms | {:.0} ms | {rate:.0} | {min}–{max} (on {} nodes) |",
        created.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e3,
        per_node.len()
    );
    Ok(())
}
