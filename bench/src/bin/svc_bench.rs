//! `svc_bench`: starts the release `closet server` with its node agent in a temporary
//! directory, runs an HTTP backend pod (busybox `httpd`) behind a ClusterIP Service and two
//! client pods (one per path), and measures, from inside the client pods' network namespaces:
//!
//! - the Service proxy's overhead: `wrk` requests per second to the backend's pod IP and to
//!   its ClusterIP, in alternating rounds of the same run;
//! - how soon a new Service is usable: for Services created one after the other, the time
//!   from the create call returning to the first DNS answer for its name from the cluster
//!   DNS, and to the first HTTP answer through its ClusterIP.
//!
//! Prints markdown tables for `docs/benchmarks.md`; targets are printed, never asserted.
//!
//! `cargo build --release -p closet -p closet-bench && target/release/svc_bench`
//!
//! Needs root, containerd, runc, the CNI plugins and nftables (as the agent does), and
//! `wrk`, `nsenter` and `/bin/busybox` (busybox-static) on the host. Every node agent on a
//! machine shares the `closet0` bridge and pod CIDR, so the bench first waits until no other
//! `closet server` with an agent runs. It stops everything it started by PID or id: the
//! prober and `wrk` (its children), the pods and Services (through the API), the server, and
//! the agent's sandboxes (through CRI) and containerd; it creates no network namespace.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "svc_bench/dns.rs"]
mod dns;
#[path = "svc_bench/image.rs"]
mod image;
#[path = "svc_bench/prober.rs"]
mod prober;
#[path = "svc_bench/render.rs"]
mod render;
#[path = "svc_bench/workload.rs"]
mod workload;
#[path = "svc_bench/wrk.rs"]
mod wrk;

use anyhow::{Context, bail};
use clap::Parser;
use closet_bench::node::{self, NodeServer};
use closet_bench::probe::Probe;
use closet_bench::{gate, procs, server};
use closet_cri::{CriClient, RuntimeExt};
use kube::Client;

use crate::prober::Prober;
use crate::render::{Path as Via, Results, ServiceTimes};
use crate::workload::{BACKEND_PORT, CLIENTS, SERVICE_PORT};
use crate::wrk::Load;

/// Benchmarks the Service proxy and how soon a new Service answers by name.
#[derive(Debug, Parser)]
struct Args {
    /// `wrk` rounds on each path (pod IP and ClusterIP alternate).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds per `wrk` round.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// `wrk` threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// `wrk` connections.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// New Services created one after the other for the time-to-reachable measurement.
    #[arg(long, default_value_t = 20)]
    services: usize,
    /// Parent directory for the run's temporary directory (the system temp dir if not given).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Start at once even if other closet servers with node agents are running.
    #[arg(long)]
    no_wait: bool,
    /// Copy the server's log into this directory at the end.
    #[arg(long)]
    keep_logs: Option<PathBuf>,
    /// Internal: run as the HTTP prober inside a pod's network namespace.
    #[arg(long, hide = true)]
    http_prober: bool,
}

/// The Node the agent registers.
const NODE: &str = "svc-bench";
/// The namespace of the benchmark's pods and Services.
const NAMESPACE: &str = "svc-bench";
/// Each path gets one unrecorded `wrk` run of this length first.
const WARM_UP: Duration = Duration::from_secs(2);
/// How long the agent may take to tear the deleted pods down.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Quiet time between two new Services.
const BETWEEN_SERVICES: Duration = Duration::from_millis(200);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.http_prober {
        return prober::serve();
    }
    closet_bench::install_crypto();
    let binary = server::release_binary()?;
    if !wrk::available() {
        bail!("`wrk` is not installed (apt-get install wrk)");
    }
    if !prober::nsenter_available() {
        bail!("`nsenter` is not installed (package util-linux)");
    }
    if !args.no_wait {
        gate::take_turn("svc_bench")?;
    }
    let root = closet_bench::run_dir("closet-svc-bench-", args.dir.as_deref())?;
    eprintln!("svc_bench: run directory {}", root.path().display());
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let started = Instant::now();
    let netns_before = procs::netns_entries();

    let mut r = Results::default();
    let probe = Probe::new();
    let outcome = match NodeServer::start(&binary, root.path(), NODE, &probe) {
        Ok((srv, ready)) => {
            r.readyz = ready;
            let mut prober = None;
            let measured = runtime.block_on(run(&srv, root.path(), &args, &mut r, &mut prober));
            let cleanup = runtime.block_on(cleanup(srv, root.path(), prober));
            measured.and(cleanup)
        }
        Err(e) => Err(e),
    };
    // Whatever happened above, the run's runtime goes away.
    let removed = runtime.block_on(node::remove_runtime(root.path()));
    r.sandboxes_removed_at_end = removed.unwrap_or_default();
    let leftovers = leftovers(root.path(), &r, &netns_before);
    if let Some(dir) = &args.keep_logs {
        std::fs::create_dir_all(dir)?;
        std::fs::copy(root.path().join("server.log"), dir.join("server.log"))
            .context("copying the server log")?;
    }
    outcome?;

    println!(
        "closet svc_bench, {} wrk rounds of {} s per path and {} new Services, binary {}, \
         {:.0} s\n",
        args.rounds,
        args.seconds,
        args.services,
        binary.display(),
        started.elapsed().as_secs_f64(),
    );
    println!("{}", render::render(&r));
    println!("cleanup: {}", leftovers.join("; "));
    if procs::mounts_under(root.path()).is_empty() {
        drop(root);
    } else {
        // Removing a tree with mounts in it would reach into them: leave it for a person.
        let kept = root.keep();
        eprintln!(
            "svc_bench: mounts left under {}; not removed",
            kept.display()
        );
    }
    Ok(())
}

async fn run(
    srv: &NodeServer,
    scratch: &Path,
    args: &Args,
    r: &mut Results,
    prober_slot: &mut Option<Prober>,
) -> anyhow::Result<()> {
    let config = closet_bench::client_config(&srv.kubeconfig()).await?;
    let admin = Client::try_from(config)?;
    phase("waiting for the Node to be Ready");
    r.node_ready = node::wait_node_ready(&admin, NODE).await?;
    closet_bench::create_namespace(&admin, NAMESPACE).await?;
    let cri = CriClient::connect(srv.containerd_socket())
        .await
        .context("connecting to the agent's containerd")?;
    phase("importing the busybox image");
    r.image_import = image::import(&scratch.join("data"), &cri).await?;
    phase("starting the backend and client pods");
    let t0 = Instant::now();
    let pod_ip = workload::start_pods(&admin, NAMESPACE).await?;
    r.pods_ready = t0.elapsed();
    let pod_ip_client = workload::client_sandbox_pid(&cri, NAMESPACE, CLIENTS[0]).await?;
    let pid = workload::client_sandbox_pid(&cri, NAMESPACE, CLIENTS[1]).await?;
    tune_client_netns(pod_ip_client).await?;
    tune_client_netns(pid).await?;
    let prober = prober_slot.insert(Prober::start(pid)?);

    let cluster_ip = workload::create_service(&admin, NAMESPACE, workload::BACKEND).await?;
    let pod_target = SocketAddr::new(IpAddr::V4(pod_ip), BACKEND_PORT);
    let cluster_target = SocketAddr::new(IpAddr::V4(cluster_ip), SERVICE_PORT);
    // Both paths answer before any load is timed.
    prober.first_answer(pod_target).await?;
    prober.first_answer(cluster_target).await?;
    r.targets = vec![
        (Via::PodIp, pod_target.to_string()),
        (Via::ClusterIp, cluster_target.to_string()),
    ];

    let load = Load {
        threads: args.threads,
        connections: args.connections,
        duration: Duration::from_secs(args.seconds),
    };
    r.load = Some(load);
    phase("warming up both paths");
    let warm_up = Load {
        duration: WARM_UP,
        ..load
    };
    wrk::run(pod_ip_client, pod_target, warm_up).await?;
    wrk::run(pid, cluster_target, warm_up).await?;
    for round in 0..args.rounds {
        for (via, client, target) in [
            (Via::PodIp, pod_ip_client, pod_target),
            (Via::ClusterIp, pid, cluster_target),
        ] {
            phase(&format!(
                "wrk round {} of {} via {target}",
                round + 1,
                args.rounds
            ));
            note_other_agents(srv, r);
            r.rounds.push((via, wrk::run(client, target, load).await?));
        }
    }

    phase(&format!("creating {} Services", args.services));
    for i in 0..args.services {
        note_other_agents(srv, r);
        let name = format!("web-{i:02}");
        let t0 = Instant::now();
        let ip = workload::create_service(&admin, NAMESPACE, &name).await?;
        let create = t0.elapsed();
        let fqdn = format!("{name}.{NAMESPACE}.svc.cluster.local");
        let target = SocketAddr::new(IpAddr::V4(ip), SERVICE_PORT);
        let (dns, http) = tokio::join!(
            dns::first_answer(&fqdn, ip, prober::GIVE_UP),
            prober.first_answer(target)
        );
        let mut times = ServiceTimes {
            create,
            ..Default::default()
        };
        match dns {
            Ok(took) => times.dns = Some(took),
            Err(e) => r.service_errors.push(format!("{name} DNS: {e:#}")),
        }
        match http {
            Ok(took) => times.http = Some(took),
            Err(e) => r.service_errors.push(format!("{name} HTTP: {e:#}")),
        }
        r.services.push(times);
        tokio::time::sleep(BETWEEN_SERVICES).await;
    }
    Ok(())
}

/// Lets the client pod reuse ports of connections the backend still holds in TIME_WAIT.
/// busybox `httpd` closes first, so each of the tens of thousands of connections a round
/// opens leaves a TIME_WAIT socket in the backend for a minute; once the client's ports wrap
/// around, a new SYN meets one. With TCP timestamps (randomized per connection) the backend
/// rejects it as old and the client waits a second to retry, which would measure port
/// reuse, not the proxy; without them the higher sequence number is accepted at once. A
/// wider port range makes the reuse rarer. Both settings belong to the client pod's own
/// network namespace only.
async fn tune_client_netns(pid: u32) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .args([
            "sysctl",
            "-w",
            "net.ipv4.tcp_timestamps=0",
            "net.ipv4.ip_local_port_range=1024 65535",
        ])
        .output()
        .await
        .context("running sysctl in the client pod's network namespace")?;
    if !out.status.success() {
        bail!(
            "sysctl in the client pod's network namespace failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Another agent starting mid-run shares the bridge and the CPUs: say so in the report.
fn note_other_agents(srv: &NodeServer, r: &mut Results) {
    for pid in gate::other_agents(srv.pid()) {
        if !r.other_agents.contains(&pid) {
            r.other_agents.push(pid);
        }
    }
}

/// Stops the prober, deletes the Services and pods through the API, then stops the server
/// with SIGTERM.
async fn cleanup(srv: NodeServer, scratch: &Path, prober: Option<Prober>) -> anyhow::Result<()> {
    phase("cleaning up");
    if let Some(prober) = prober {
        prober.stop().await;
    }
    let deleted = async {
        let config = closet_bench::client_config(&srv.kubeconfig()).await?;
        workload::delete_all(&Client::try_from(config)?, NAMESPACE).await
    };
    // The sandboxes are removed through CRI afterwards in any case.
    match deleted.await {
        Ok(()) => wait_torn_down(&srv, scratch).await,
        Err(e) => eprintln!("svc_bench: deleting the pods through the API: {e:#}"),
    }
    let log = srv.log_tail();
    tokio::task::block_in_place(|| srv.stop()).with_context(|| format!("its log:\n{log}"))?;
    Ok(())
}

/// Waits (up to [`TEARDOWN_TIMEOUT`]) until the agent has removed the deleted pods' sandboxes
/// and unmounted their volumes: a pod leaves the API before its volumes are torn down, and
/// a server stopped in between would leave the mounts behind.
async fn wait_torn_down(srv: &NodeServer, scratch: &Path) {
    let Ok(cri) = CriClient::connect(srv.containerd_socket()).await else {
        return;
    };
    let started = Instant::now();
    while started.elapsed() < TEARDOWN_TIMEOUT {
        let sandboxes = cri.all_sandboxes().await.map_or(1, |s| s.len());
        if sandboxes == 0 && procs::mounts_under(scratch).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("svc_bench: the agent had not torn the pods down after {TEARDOWN_TIMEOUT:?}");
}

/// What of the run is still there after cleanup, as sentences for the report.
fn leftovers(
    scratch: &Path,
    r: &Results,
    netns_before: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    let naming = procs::naming(&procs::all(), scratch);
    for p in &naming {
        eprintln!("svc_bench: left running: {} {}", p.pid, p.cmdline);
    }
    let new_netns = procs::netns_entries().difference(netns_before).count();
    vec![
        format!("{} processes naming the run directory", naming.len()),
        format!(
            "{} mounts under the run directory",
            procs::mounts_under(scratch).len()
        ),
        format!("{new_netns} new entries in /run/netns"),
        format!(
            "{} sandboxes removed through CRI after the server stopped",
            r.sandboxes_removed_at_end
        ),
        if r.other_agents.is_empty() {
            "no other closet server with an agent seen during the run".to_owned()
        } else {
            format!(
                "other closet servers with an agent ran during the run (PIDs {:?}): the numbers are disturbed",
                r.other_agents
            )
        },
    ]
}

fn phase(what: &str) {
    eprintln!("svc_bench: {what}");
}
