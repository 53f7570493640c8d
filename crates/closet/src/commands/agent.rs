//! `closet agent`: joins the cluster (or reuses the credentials from an earlier join), builds
//! the API client with the node's own certificate, and runs the node agent with it.

use std::path::PathBuf;

use anyhow::Context;
use closet_cli::AgentArgs;
use closet_pki::{JoinToken, ServingNames, join_client};

/// Runs the agent until it fails or is stopped.
pub(crate) fn run(args: AgentArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(start(args))
}

async fn start(args: AgentArgs) -> anyhow::Result<()> {
    let token: JoinToken = args
        .token
        .parse()
        .context("--token (CLOSET_TOKEN) is not a closet join token")?;
    let node_name = match &args.node_name {
        Some(name) => name.clone(),
        None => hostname()?,
    };
    let addresses = node_addresses(&args);
    let tls_dir = tls_dir(&args);

    let credentials = join_client::join(&args.server, &token, &node_name, &addresses, &tls_dir)
        .await
        .with_context(|| format!("joining the cluster at {}", args.server))?;
    let client = join_client::kube_client(&args.server, &credentials)?;
    let version = client
        .apiserver_version()
        .await
        .with_context(|| format!("reaching the API at {}", args.server))?;
    tracing::info!(
        node = %node_name,
        server = %args.server,
        version = %version.git_version,
        "reached the API with the node's certificate"
    );

    // NEXT: run the node agent over `client` once closet-agent exposes it:
    // `closet_agent::run_remote(client, credentials, node_name, addresses, runtime endpoint,
    // data dir, shutdown signal)`.
    anyhow::bail!("the node agent is not wired into `closet agent` yet")
}

/// `<data-dir>/agent/tls`, where the node's certificates live.
fn tls_dir(args: &AgentArgs) -> PathBuf {
    args.data_dir.join("agent").join("tls")
}

/// The addresses the node's serving certificate covers: `--node-ip`, or else every
/// non-loopback address of the host.
fn node_addresses(args: &AgentArgs) -> Vec<String> {
    let ips: Vec<_> = if args.node_ip.is_empty() {
        ServingNames::discover(&[])
            .ips
            .into_iter()
            .filter(|ip| !ip.is_loopback())
            .collect()
    } else {
        args.node_ip.clone()
    };
    ips.iter().map(ToString::to_string).collect()
}

/// The host name in lower case, which is what kubelet and k3s name a node by default.
fn hostname() -> anyhow::Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .context("reading the host name for the node name; pass --node-name")?;
    let name = name.trim().to_ascii_lowercase();
    anyhow::ensure!(!name.is_empty(), "this host has no name; pass --node-name");
    Ok(name)
}

#[cfg(test)]
#[path = "agent_tests.rs"]
mod tests;
