//! `deploy_bench`: starts the release `closet server` with its node agent in a temporary
//! directory and measures the workload controllers end to end: the time from creating a
//! 30-replica Deployment to all 30 pods Ready (as the Deployment's status reports it), and
//! the time of a rolling update of those 30 replicas (a pod template change, as `kubectl
//! rollout restart` makes) until `kubectl rollout status` would report success. Prints the
//! numbers; nothing is asserted.
//!
//! `cargo build --release -p closet && cargo run --release -p closet-bench --bin deploy_bench`
//!
//! Needs what the agent needs (root, containerd, runc, the CNI plugins); waits, as
//! `pod_bench` does, until no other node agent runs on the machine. Pods run the agent's
//! own pause image, always present. Everything started is stopped by PID or through CRI.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use closet_bench::node::{self, NodeServer};
use closet_bench::probe::Probe;
use closet_bench::{gate, server};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};

/// Benchmarks a Deployment's first rollout and a rolling update.
#[derive(Debug, Parser)]
struct Args {
    /// The Deployment's replicas.
    #[arg(long, default_value_t = 30)]
    replicas: i32,
    /// Parent directory for the run's temporary directory (the system temp dir if not given).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Start at once even if other closet servers with node agents are running.
    #[arg(long)]
    no_wait: bool,
}

const NODE: &str = "deploy-bench";
const NAMESPACE: &str = "deploy-bench";
/// How long one phase may take before the bench gives up.
const PHASE_TIMEOUT: Duration = Duration::from_secs(600);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    closet_bench::install_crypto();
    let binary = server::release_binary()?;
    if !args.no_wait {
        gate::take_turn("deploy_bench")?;
    }
    let root = closet_bench::run_dir("closet-deploy-bench-", args.dir.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let probe = Probe::new();
    let outcome = match NodeServer::start(&binary, root.path(), NODE, &probe) {
        Ok((srv, _)) => {
            let measured = runtime.block_on(run(&srv, &args));
            let stopped = srv.stop().map(|_| ());
            measured.and_then(|m| stopped.map(|()| m))
        }
        Err(e) => Err(e),
    };
    let removed = runtime.block_on(node::remove_runtime(root.path()));
    let (first, update) = outcome?;
    println!(
        "closet deploy_bench, {} replicas (pause image), binary {}\n",
        args.replicas,
        binary.display()
    );
    println!("| phase | time |\n|---|---|");
    println!(
        "| create → all {} Ready (status.availableReplicas) | {:.2} s |",
        args.replicas,
        first.as_secs_f64()
    );
    println!(
        "| rolling update (template change) → rollout complete | {:.2} s |",
        update.as_secs_f64()
    );
    println!(
        "\ncleanup: {} sandboxes removed",
        removed.unwrap_or_default()
    );
    Ok(())
}

async fn run(srv: &NodeServer, args: &Args) -> anyhow::Result<(Duration, Duration)> {
    let config = closet_bench::client_config(&srv.kubeconfig()).await?;
    let client = kube::Client::try_from(config)?;
    node::wait_node_ready(&client, NODE).await?;
    closet_bench::create_namespace(&client, NAMESPACE).await?;
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let d: Deployment = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "bench"},
        "spec": {
            "replicas": args.replicas,
            "selector": {"matchLabels": {"app": "bench"}},
            "template": {
                "metadata": {"labels": {"app": "bench"}},
                "spec": {"containers": [{"name": "pause", "image": "closet.local/pause:1", "imagePullPolicy": "Never"}]},
            },
        },
    }))?;
    let started = Instant::now();
    deploys.create(&PostParams::default(), &d).await?;
    wait_rolled_out(&deploys, args.replicas)
        .await
        .context(srv.log_tail())?;
    let first = started.elapsed();
    let restart = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": format!("{:?}", std::time::SystemTime::now())}}}}});
    let started = Instant::now();
    deploys
        .patch("bench", &PatchParams::default(), &Patch::Merge(&restart))
        .await?;
    wait_rolled_out(&deploys, args.replicas)
        .await
        .context(srv.log_tail())?;
    let update = started.elapsed();
    empty(&client, &deploys).await.context(srv.log_tail())?;
    Ok((first, update))
}

/// Scales the Deployment to zero and waits until its pods are gone, so the agent stops every
/// container before the server does (the runtime is then left with nothing to clean up).
async fn empty(client: &kube::Client, deploys: &Api<Deployment>) -> anyhow::Result<()> {
    let zero = serde_json::json!({"spec": {"replicas": 0}});
    deploys
        .patch_scale("bench", &PatchParams::default(), &Patch::Merge(&zero))
        .await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let started = Instant::now();
    while started.elapsed() < PHASE_TIMEOUT {
        if pods.list(&ListParams::default()).await?.items.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("pods still present {PHASE_TIMEOUT:?} after scaling to zero")
}

/// Polls until the Deployment reports what `kubectl rollout status` calls success.
async fn wait_rolled_out(deploys: &Api<Deployment>, replicas: i32) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < PHASE_TIMEOUT {
        let d = deploys.get("bench").await?;
        let s = d.status.clone().unwrap_or_default();
        let updated = s.updated_replicas.unwrap_or(0);
        if s.observed_generation >= d.metadata.generation
            && updated >= replicas
            && s.replicas.unwrap_or(0) <= updated
            && s.available_replicas.unwrap_or(0) >= updated
        {
            return Ok(());
        }
        last = format!("{s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("not rolled out after {PHASE_TIMEOUT:?}: {last}")
}
