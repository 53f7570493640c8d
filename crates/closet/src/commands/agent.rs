//! `closet agent`: joins the cluster (or reuses the credentials from an earlier join), builds
//! the API client with the node's own certificate, and runs the node agent with it: the
//! same agent `closet server` embeds, talking to the API over HTTPS instead of in-process.

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

/// A joined node: its name, certificates and API client.
struct Joined {
    node_name: String,
    credentials: closet_pki::NodeCredentials,
    client: kube::Client,
}

impl std::fmt::Debug for Joined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joined")
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

/// Joins the cluster (or reuses stored credentials) and checks that the API answers the
/// node's certificate.
async fn connect(args: &AgentArgs) -> anyhow::Result<Joined> {
    let token: JoinToken = args
        .token
        .parse()
        .context("--token (CLOSET_TOKEN) is not a closet join token")?;
    let node_name = match &args.node_name {
        Some(name) => name.clone(),
        None => crate::agent::node_name_from_hostname(&hostname()?),
    };
    let addresses = node_addresses(args);
    let tls_dir = tls_dir(args);

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
    Ok(Joined {
        node_name,
        credentials,
        client,
    })
}

async fn start(args: AgentArgs) -> anyhow::Result<()> {
    let Joined {
        node_name,
        credentials,
        client,
    } = connect(&args).await?;
    let mut config = closet_agent::AgentConfig::new(node_name, args.data_dir.join("agent"));
    config.node_ip = args.node_ip.first().copied();
    config.server_ip = server_ip(&args.server);
    config.service_cidr = closet_apiserver::services::ServiceCidr::parse(&args.service_cidr)
        .map_err(anyhow::Error::msg)
        .context("--service-cidr (CLOSET_SERVICE_CIDR)")?
        .to_string();
    config.cluster_cidr = closet_controllers::node_ipam::Ipv4Net::parse(&args.cluster_cidr)
        .map_err(anyhow::Error::msg)
        .context("--cluster-cidr (CLOSET_CLUSTER_CIDR)")?
        .to_string();
    config.dns = crate::agent::dns_settings(args.disable_dns, &args.dns_upstream)?;
    let node_api_tls = closet_nodeapi::tls::server_config(
        &credentials.ca_pem,
        &credentials.serving.cert_pem,
        &credentials.serving.key_pem,
    )
    .context("building the node API's TLS config")?;
    let options = closet_agent::NodeOptions {
        agent: config,
        runtime_endpoint: args.container_runtime_endpoint.as_ref().map(PathBuf::from),
        node_api_tls,
    };
    let stop = shutdown_signal()?;
    closet_agent::run_node(options, client, stop)
        .await
        .map_err(|err| anyhow::anyhow!(closet_agent::error_text(&err)))
        .context("running the node agent")
}

/// The server's address when the URL names it by IP, so the agent reports the local
/// address that reaches it.
fn server_ip(url: &str) -> Option<std::net::IpAddr> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host.parse().ok()
}

/// Resolves on the first SIGTERM or SIGINT.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutting down the node agent");
    })
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
