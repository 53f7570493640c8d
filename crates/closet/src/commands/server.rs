//! `closet server`: preflight, certificates, store, apiserver, HTTPS, shutdown.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

use anyhow::Context;
use closet_apiserver::ApiServer;
use closet_cli::ServerArgs;
use closet_pki::{ClusterTls, ServingNames};
use closet_store::sqlite::{Options, SqliteStore};
use tokio::signal::unix::{SignalKind, signal};

use crate::{agent, https, preflight};

/// Stack of each async worker and blocking thread.
const WORKER_STACK_BYTES: usize = 16 * 1024 * 1024;

/// Runs the server until SIGTERM or SIGINT.
pub(crate) fn run(args: ServerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Request handling recurses through JSON and YAML up to the decoders' depth limits;
        // debug builds use several times the stack of release builds for that. Untouched
        // stack pages cost no memory.
        .thread_stack_size(WORKER_STACK_BYTES)
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(serve(args));
    // Anything still running (a stuck blocking task) must not hold the exit up.
    runtime.shutdown_timeout(https::SHUTDOWN_GRACE);
    result
}

async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    // Signal handlers first: a SIGTERM during start-up then ends the start-up cleanly instead
    // of killing the process halfway through writing certificates.
    let stop = shutdown_signal()?;

    let network = Network::from_args(&args)?;
    let data_dir = &args.data_dir;
    preflight::create_data_dir(data_dir)?;
    preflight::check_filesystem(data_dir, args.force_unsafe_filesystem)?;
    let _lock = preflight::DataDirLock::acquire(&data_dir.join("closet.lock"))?;
    let listener = preflight::bind(args.bind_address, args.https_listen_port)?;

    let mut names = ServingNames::discover(&args.tls_san);
    if !args.bind_address.is_unspecified() {
        names.ips.insert(args.bind_address);
    }
    // Pods reach the API through the `kubernetes` Service, by address or by name.
    names
        .ips
        .insert(IpAddr::V4(network.service_cidr.kubernetes_ip()));
    for name in KUBERNETES_SERVICE_NAMES {
        names.add(name);
    }
    let tls = ClusterTls::load_or_create(&data_dir.join("server").join("tls"), &names)
        .context("preparing the cluster certificates")?;
    let tls_config = tls.server_config()?;

    let db_dir = data_dir.join("server").join("db");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&db_dir)
        .with_context(|| format!("cannot create {}", db_dir.display()))?;
    let db_path = db_dir.join("state.db");
    let store = SqliteStore::open(&db_path, Options::default())
        .with_context(|| format!("opening the datastore {}", db_path.display()))?;

    let local = local_address(args.bind_address, args.https_listen_port);
    let config = closet_apiserver::Config {
        advertise_address: Some(advertise_address(&args, &names).to_string()),
        default_not_ready_toleration_seconds: Some(args.default_not_ready_toleration_seconds),
        default_unreachable_toleration_seconds: Some(args.default_unreachable_toleration_seconds),
        service_cidr: network.service_cidr,
        service_node_port_range: network.node_ports,
        kubernetes_endpoint: Some(SocketAddr::new(
            agent::node_address(&args),
            args.https_listen_port,
        )),
    };
    let tls_dir = data_dir.join("server").join("tls");
    let node_client = closet_pki::node::load_or_create_apiserver_node_client(&tls_dir, &tls.ca)
        .context("preparing the apiserver's client certificate for node APIs")?;
    let node_client = closet_nodeapi::tls::client_config(
        &tls.ca.pair().cert_pem,
        &node_client.cert_pem,
        &node_client.key_pem,
    )
    .context("building the TLS client for node APIs")?;
    let token = closet_pki::JoinToken::load_or_create(data_dir, &tls.ca)
        .context("preparing the join token")?;
    let service_account_key = closet_pki::ServiceAccountKey::load_or_create(&tls_dir)
        .context("preparing the service account signing key")?;
    let api = ApiServer::new(store.clone(), config)
        .with_node_client(node_client)
        .with_token_authority(closet_apiserver::serviceaccount::TokenAuthority::new(
            service_account_key,
        ))
        .with_join(closet_apiserver::join::JoinAuthority {
            token,
            ca: tls.ca.clone(),
        });
    api.bootstrap()
        .await
        .context("creating the system namespaces")?;

    let url = format!("https://{local}");
    let kubeconfig = tls.admin_kubeconfig(&url)?;
    let written = match write_kubeconfig(&args.write_kubeconfig, &kubeconfig) {
        Ok(()) => args.write_kubeconfig.display().to_string(),
        Err(err) => {
            tracing::warn!(
                "cannot write the admin kubeconfig to {}: {err:#}; `closet kubeconfig` prints it",
                args.write_kubeconfig.display()
            );
            "run `closet kubeconfig`".to_owned()
        }
    };

    // One shutdown signal, fanned out to the listener and the controllers.
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stopping_tx.send(true);
    });
    let controllers = tokio::spawn(closet_controllers::run(
        in_process_client(&api, CONTROLLERS_USER, "closet-controllers"),
        closet_controllers::Settings {
            node_monitor_grace_period: args.node_monitor_grace_period,
            root_ca_pem: Some(tls.ca.pair().cert_pem.clone()),
            cluster_cidr: network.cluster_cidr,
            ..closet_controllers::Settings::default()
        },
        stopped(stopping.clone()),
    ));
    let maintained = api.clone();
    let stop_maintaining = stopped(stopping.clone());
    tokio::spawn(async move {
        maintained
            .maintain_kubernetes_service(stop_maintaining)
            .await;
    });
    tokio::spawn(closet_storage::run(
        in_process_client(&api, CONTROLLERS_USER, "closet-controllers"),
        stopped(stopping.clone()),
    ));
    tokio::spawn(closet_workloads::run(
        in_process_client(&api, CONTROLLERS_USER, "closet-controllers"),
        stopped(stopping.clone()),
    ));
    let platforms: std::sync::Arc<dyn closet_scheduler::platforms::PlatformSource> =
        if args.registry_lookups_local_only {
            std::sync::Arc::new(closet_scheduler::platforms::RegistryPlatforms::local_only())
        } else {
            std::sync::Arc::new(closet_scheduler::platforms::RegistryPlatforms::default())
        };
    tokio::spawn(closet_scheduler::run_with(
        in_process_client(&api, "system:kube-scheduler", "closet-scheduler"),
        closet_scheduler::Config {
            platforms,
            ..closet_scheduler::Config::default()
        },
        stopped(stopping.clone()),
    ));

    let agent = if args.disable_agent {
        tracing::info!("node agent disabled by --disable-agent: this server runs no pods");
        None
    } else {
        let options = agent::options(&args, &network, &tls)?;
        let node = options.agent.node_name.clone();
        let client = agent::node_client(&api, &node);
        let stop = stopped(stopping.clone());
        Some(tokio::spawn(async move {
            if let Err(err) = closet_agent::run_node(options, client, stop).await {
                tracing::error!(
                    "the node agent stopped: {}; the API keeps serving without it (start with --disable-agent to run no pods here)",
                    closet_agent::error_text(&err)
                );
            }
        }))
    };

    tracing::info!("closet API ready at {url} (kubeconfig: {written})");
    https::serve(listener, tls_config, api.router(), stopped(stopping)).await;
    if let Some(agent) = agent
        && tokio::time::timeout(https::SHUTDOWN_GRACE, agent)
            .await
            .is_err()
    {
        tracing::warn!("the node agent did not stop in time");
    }
    if tokio::time::timeout(https::SHUTDOWN_GRACE, controllers)
        .await
        .is_err()
    {
        tracing::warn!("controllers did not stop in time");
    }

    // The router clones are gone with the connections; dropping the last handles closes the
    // store, which joins its writer thread, so do that off the async workers.
    drop(api);
    tokio::task::spawn_blocking(move || drop(store))
        .await
        .context("closing the datastore")?;
    tracing::info!("closet stopped");
    Ok(())
}

/// The names the `kubernetes` Service is reached by, which the serving certificate covers.
const KUBERNETES_SERVICE_NAMES: [&str; 4] = [
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// The cluster's address ranges, from `--service-cidr`, `--service-node-port-range` and
/// `--cluster-cidr`.
pub(crate) struct Network {
    /// Service cluster IPs.
    pub(crate) service_cidr: closet_apiserver::services::ServiceCidr,
    /// Service node ports.
    pub(crate) node_ports: closet_apiserver::services::PortRange,
    /// Pod addresses, carved into one range per node.
    pub(crate) cluster_cidr: closet_controllers::node_ipam::Ipv4Net,
}

impl Network {
    fn from_args(args: &ServerArgs) -> anyhow::Result<Self> {
        let service_cidr = closet_apiserver::services::ServiceCidr::parse(&args.service_cidr)
            .map_err(anyhow::Error::msg)
            .context("--service-cidr (CLOSET_SERVICE_CIDR)")?;
        let node_ports =
            closet_apiserver::services::PortRange::parse(&args.service_node_port_range)
                .map_err(anyhow::Error::msg)
                .context("--service-node-port-range (CLOSET_SERVICE_NODE_PORT_RANGE)")?;
        let cluster_cidr = closet_controllers::node_ipam::Ipv4Net::parse(&args.cluster_cidr)
            .map_err(anyhow::Error::msg)
            .context("--cluster-cidr (CLOSET_CLUSTER_CIDR)")?;
        Ok(Self {
            service_cidr,
            node_ports,
            cluster_cidr,
        })
    }
}

/// The identity of the in-process controllers.
const CONTROLLERS_USER: &str = "system:closet:controllers";

/// A Kubernetes client that calls the apiserver's router directly, as `user`: every
/// component speaks the real API, with no socket in between (DESIGN.md §2).
/// `component` is its user agent, which names it as the field manager of what it writes
/// (`kubectl get -o yaml --show-managed-fields` shows `closet-controllers`, not `unknown`).
fn in_process_client(api: &ApiServer, user: &str, component: &str) -> kube::Client {
    let identity = closet_apiserver::auth::User {
        name: user.to_string(),
        groups: vec!["system:masters".to_string()],
    };
    client_for(api.router_as(identity), component)
}

/// A client over `router` that sends `component/<version>` as its user agent.
pub(crate) fn client_for(router: axum::Router, component: &str) -> kube::Client {
    let agent = http::HeaderValue::from_str(&format!("{component}/{}", env!("CARGO_PKG_VERSION")))
        .unwrap_or_else(|_| http::HeaderValue::from_static("closet"));
    let router = router.layer(axum::middleware::map_request_with_state(
        agent,
        with_user_agent,
    ));
    kube::Client::new(router, "default")
}

async fn with_user_agent(
    axum::extract::State(agent): axum::extract::State<http::HeaderValue>,
    mut request: axum::extract::Request,
) -> axum::extract::Request {
    request
        .headers_mut()
        .entry(http::header::USER_AGENT)
        .or_insert(agent);
    request
}

/// Resolves once the shutdown flag is raised (or its sender is gone).
async fn stopped(mut flag: tokio::sync::watch::Receiver<bool>) {
    let _ = flag.wait_for(|stop| *stop).await;
}

/// Resolves on the first SIGTERM or SIGINT.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!("{name} received, shutting down");
    })
}

/// Where a client on this machine reaches the listener: the bind address, or loopback when
/// bound to every address. This goes into the admin kubeconfig.
fn local_address(bind: IpAddr, port: u16) -> SocketAddr {
    let host = if bind.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        bind
    };
    SocketAddr::new(host, port)
}

/// The address other machines should use, for legacy discovery: the bind address, or the
/// first non-loopback address of this host when bound to every address.
fn advertise_address(args: &ServerArgs, names: &ServingNames) -> SocketAddr {
    let host = if args.bind_address.is_unspecified() {
        let ipv4_first = names
            .ips
            .iter()
            .filter(|ip| !ip.is_loopback())
            .min_by_key(|ip| ip.is_ipv6());
        ipv4_first
            .copied()
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        args.bind_address
    };
    SocketAddr::new(host, args.https_listen_port)
}

/// Writes the kubeconfig with mode 0600, creating its directory.
fn write_kubeconfig(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    closet_pki::write_file_atomic(path, text.as_bytes(), 0o600)?;
    Ok(())
}
