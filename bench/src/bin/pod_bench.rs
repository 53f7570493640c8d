//! `pod_bench`: starts the release `closet server` with its node agent in a temporary
//! directory and measures pod startup (create → `Running` seen through a watch, image
//! present) for 1 pod and for 30 pods created at once, beside two baselines on the agent's
//! own containerd in the same run: `ctr run -d` of the same image, and the same sandbox and
//! container started through CRI alone; and the server's memory with 0 and with 30 pods.
//! Prints markdown tables for `docs/benchmarks.md`; targets are printed, never asserted.
//!
//! `cargo build --release -p closet && cargo run --release -p closet-bench --bin pod_bench`
//!
//! Needs root, containerd, runc, ctr and the CNI plugins, as the agent does. Every node agent
//! on a machine shares the `closet0` bridge and pod CIDR, so the bench first waits until no
//! other `closet server` with an agent is running. Everything it starts it stops by PID or
//! id: pods, the server, the agent's sandboxes (through CRI) and containerd; then it checks
//! that no shim, pod process or mount of the run is left.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "pod_bench/cri_pods.rs"]
mod cri_pods;
#[path = "pod_bench/ctr.rs"]
mod ctr;
#[path = "pod_bench/pods.rs"]
mod pods;
#[path = "pod_bench/render.rs"]
mod render;

use anyhow::Context;
use clap::Parser;
use closet_bench::node::{self, NodeServer};
use closet_bench::probe::Probe;
use closet_bench::{gate, procs, server};
use closet_cri::CriClient;
use kube::Client;

use crate::ctr::Ctr;
use crate::render::Results;

/// Benchmarks pod startup and the server's memory with pods, against raw containerd.
#[derive(Debug, Parser)]
struct Args {
    /// Rounds; in each, closet, CRI alone and `ctr` in turn start single pods, then a batch.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Single-pod starts per round (one after the other), on each side.
    #[arg(long, default_value_t = 3)]
    singles: usize,
    /// Pods (and containers) created at once in a batch.
    #[arg(long, default_value_t = 30)]
    batch: usize,
    /// Parent directory for the run's temporary directory (the system temp dir if not given).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Start at once even if other closet servers with node agents are running.
    #[arg(long)]
    no_wait: bool,
    /// Copy the server's log and its containerd's log into this directory at the end.
    #[arg(long)]
    keep_logs: Option<PathBuf>,
}

/// The Node the agent registers.
const NODE: &str = "pod-bench";
/// The namespace of the benchmark's pods.
const NAMESPACE: &str = "pod-bench";
/// Quiet time before the idle memory reading.
const IDLE_SETTLE: Duration = Duration::from_secs(5);
/// Quiet time with a full batch Running before its memory reading.
const PODS_SETTLE: Duration = Duration::from_secs(10);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    closet_bench::install_crypto();
    let binary = server::release_binary()?;
    if !args.no_wait {
        gate::take_turn("pod_bench")?;
    }
    let root = closet_bench::run_dir("closet-pod-bench-", args.dir.as_deref())?;
    eprintln!("pod_bench: run directory {}", root.path().display());
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let started = Instant::now();
    let netns_before = procs::netns_entries();
    let load_before = load_average();

    let mut r = Results::default();
    let probe = Probe::new();
    let outcome = match NodeServer::start(&binary, root.path(), NODE, &probe) {
        Ok((srv, ready)) => {
            r.readyz = ready;
            let mut ctr = None;
            let measured = runtime.block_on(run(&srv, root.path(), &args, &mut r, &mut ctr));
            let cleanup = runtime.block_on(cleanup(srv, ctr, &mut r));
            measured.and(cleanup)
        }
        Err(e) => Err(e),
    };
    // Whatever happened above, the run's runtime goes away.
    let removed = runtime.block_on(node::remove_runtime(root.path()));
    r.sandboxes_removed_at_end = removed.unwrap_or_default();
    let leftovers = leftovers(root.path(), &r, &netns_before);
    if let Some(dir) = &args.keep_logs {
        keep_logs(root.path(), dir)?;
    }
    outcome?;

    println!(
        "closet pod_bench, {} rounds of {} single pods and a batch of {}, binary {}, {:.0} s; \
         load average {} at the start, {} at the end\n",
        args.rounds,
        args.singles,
        args.batch,
        binary.display(),
        started.elapsed().as_secs_f64(),
        load_before,
        load_average(),
    );
    println!("{}", render::render(&r, &args_summary(&args)));
    println!("cleanup: {}", leftovers.join("; "));
    if procs::mounts_under(root.path()).is_empty() {
        drop(root);
    } else {
        // Removing a tree with mounts in it would reach into them: leave it for a person.
        let kept = root.keep();
        eprintln!(
            "pod_bench: mounts left under {}; not removed",
            kept.display()
        );
    }
    Ok(())
}

fn args_summary(args: &Args) -> render::Plan {
    render::Plan {
        rounds: args.rounds,
        singles: args.singles,
        batch: args.batch,
    }
}

async fn run(
    srv: &NodeServer,
    scratch: &Path,
    args: &Args,
    r: &mut Results,
    ctr_slot: &mut Option<Ctr>,
) -> anyhow::Result<()> {
    let config = closet_bench::client_config(&srv.kubeconfig()).await?;
    let admin = Client::try_from(config.clone())?;
    phase("waiting for the Node to be Ready");
    r.node_ready = node::wait_node_ready(&admin, NODE).await?;
    tokio::time::sleep(IDLE_SETTLE).await;
    r.idle = procs::memory(srv.pid())?;
    r.idle_tree = tree_rss(srv);
    r.containerd_idle = srv.containerd_pid().map_or(0, procs::rss);

    closet_bench::create_namespace(&admin, NAMESPACE).await?;
    let clients = closet_bench::warm_clients(&config, args.batch.max(1)).await?;
    let cri = CriClient::connect(srv.containerd_socket())
        .await
        .context("connecting to the agent's containerd")?;
    let ctr = ctr_slot.insert(Ctr::prepare(&srv.containerd_socket(), pods::IMAGE, scratch).await?);

    let log_root = scratch.join("cri-bench-logs");
    for round in 0..args.rounds {
        phase(&format!("round {} of {}", round + 1, args.rounds));
        // Another agent starting mid-run shares the bridge and the CPUs: say so in the report.
        for pid in gate::other_agents(srv.pid()) {
            if !r.other_agents.contains(&pid) {
                r.other_agents.push(pid);
            }
        }
        // Which side goes first rotates, so a slow patch of the machine is shared.
        let mut sides = [Side::Closet, Side::Cri, Side::Ctr];
        sides.rotate_left(round % 3);
        for side in sides {
            match side {
                Side::Closet => {
                    for k in 0..args.singles {
                        let prefix = format!("r{round}-s{k}");
                        closet_batch(&clients[..1], &cri, &prefix, r, false, srv).await?;
                    }
                    let last = round + 1 == args.rounds;
                    closet_batch(&clients, &cri, &format!("r{round}-b"), r, last, srv).await?;
                }
                Side::Cri => {
                    for k in 0..args.singles {
                        let names = [format!("r{round}-s{k}")];
                        let (times, sandboxes) =
                            cri_pods::start_batch(&cri, pods::IMAGE, &names, &log_root).await?;
                        r.cri_single.extend(times);
                        cri_pods::remove(&cri, &sandboxes).await?;
                    }
                    let names: Vec<String> =
                        (0..args.batch).map(|i| format!("r{round}-b-{i}")).collect();
                    let t0 = Instant::now();
                    let (times, sandboxes) =
                        cri_pods::start_batch(&cri, pods::IMAGE, &names, &log_root).await?;
                    r.cri_batch_walls.push(t0.elapsed());
                    r.cri_batch.extend(times);
                    record_runtime_procs(srv, r);
                    cri_pods::remove(&cri, &sandboxes).await?;
                }
                Side::Ctr => {
                    for k in 0..args.singles {
                        let ids = [format!("r{round}-s{k}")];
                        let (times, _) = ctr.run_batch(pods::IMAGE, &ids).await?;
                        r.raw_single.extend(times);
                        ctr.remove_all().await;
                    }
                    r.ctr_overhead.push(ctr.overhead().await?);
                    let ids: Vec<String> =
                        (0..args.batch).map(|i| format!("r{round}-b-{i}")).collect();
                    let (times, wall) = ctr.run_batch(pods::IMAGE, &ids).await?;
                    r.raw_batch.extend(times);
                    r.raw_batch_walls.push(wall);
                    record_runtime_procs(srv, r);
                    ctr.remove_all().await;
                }
            }
        }
    }
    Ok(())
}

/// Who starts the pause image in a turn of a round.
#[derive(Clone, Copy, Debug)]
enum Side {
    /// closet pods through the API.
    Closet,
    /// Sandbox and container through CRI directly.
    Cri,
    /// `ctr run -d`: one container, no network.
    Ctr,
}

/// One closet batch: start, runtime breakdown, (for the last full batch) memory with the
/// pods Running, deletion.
async fn closet_batch(
    clients: &[Client],
    cri: &CriClient,
    prefix: &str,
    r: &mut Results,
    measure_memory: bool,
    srv: &NodeServer,
) -> anyhow::Result<()> {
    closet_bench::warm(clients).await?;
    let (mut batch, starts) = pods::start_batch(clients, NAMESPACE, prefix).await?;
    pods::add_runtime_times(cri, NAMESPACE, &mut batch, &starts).await?;
    if measure_memory {
        tokio::time::sleep(PODS_SETTLE).await;
        r.with_pods = procs::memory(srv.pid())?;
        r.with_pods_tree = tree_rss(srv);
        r.containerd_with_pods = srv.containerd_pid().map_or(0, procs::rss);
        let all = procs::all();
        let shims = procs::shims(&all, &srv.containerd_socket());
        r.shims_with_pods = shims.len();
        r.shims_rss_with_pods = shims
            .iter()
            .flat_map(|&s| procs::tree(&all, s, &[]))
            .map(procs::rss)
            .sum();
        record_runtime_procs(srv, r);
    }
    let names: Vec<String> = (0..clients.len())
        .map(|i| format!("{prefix}-{i}"))
        .collect();
    r.deletes
        .push(pods::delete_all(clients, NAMESPACE, &names, cri).await?);
    if clients.len() == 1 {
        r.single.extend(batch.pods);
    } else {
        r.batches.push(batch);
    }
    Ok(())
}

/// RSS of the server and its descendants, less containerd's subtree; and how many processes
/// besides the server that covers.
fn tree_rss(srv: &NodeServer) -> (u64, usize) {
    let all = procs::all();
    let excluded: Vec<u32> = srv.containerd_pid().into_iter().collect();
    let tree = procs::tree(&all, srv.pid(), &excluded);
    let others = tree.len().saturating_sub(1);
    (tree.into_iter().map(procs::rss).sum(), others)
}

/// Notes the shims of the run's containerd and their processes (pause), to check after
/// cleanup that none is left.
fn record_runtime_procs(srv: &NodeServer, r: &mut Results) {
    let all = procs::all();
    for shim in procs::shims(&all, &srv.containerd_socket()) {
        for pid in procs::tree(&all, shim, &[]) {
            if let Some(p) = all.iter().find(|p| p.pid == pid) {
                r.runtime_procs.push((p.pid, p.cmdline.clone()));
            }
        }
    }
}

/// Removes the baseline's containers, then stops the server with SIGTERM.
async fn cleanup(srv: NodeServer, ctr: Option<Ctr>, r: &mut Results) -> anyhow::Result<()> {
    phase("cleaning up");
    if let Some(mut ctr) = ctr {
        ctr.remove_all().await;
        r.ctr_left = ctr.listed().await.unwrap_or_else(|e| vec![e.to_string()]);
    }
    let log = srv.log_tail();
    r.stop =
        tokio::task::block_in_place(|| srv.stop()).with_context(|| format!("its log:\n{log}"))?;
    Ok(())
}

/// What of the run is still there after cleanup, as sentences for the report.
fn leftovers(
    scratch: &Path,
    r: &Results,
    netns_before: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    let mut notes = Vec::new();
    let all = procs::all();
    let naming = procs::naming(&all, scratch);
    notes.push(format!(
        "{} processes naming the run directory",
        naming.len()
    ));
    for p in &naming {
        eprintln!("pod_bench: left running: {} {}", p.pid, p.cmdline);
    }
    let alive = r
        .runtime_procs
        .iter()
        .filter(|(pid, cmdline)| procs::still_running(*pid, cmdline))
        .count();
    notes.push(format!(
        "{alive} of {} shim and pod processes seen during the run still running",
        r.runtime_procs.len()
    ));
    notes.push(format!(
        "{} mounts under the run directory",
        procs::mounts_under(scratch).len()
    ));
    let new_netns = procs::netns_entries().difference(netns_before).count();
    notes.push(format!("{new_netns} new entries in /run/netns"));
    notes.push(format!(
        "{} baseline containers listed by ctr",
        r.ctr_left.len()
    ));
    notes.push(if r.other_agents.is_empty() {
        "no other closet server with an agent seen during the run".to_owned()
    } else {
        format!(
            "other closet servers with an agent ran during the run (PIDs {:?}): the numbers are disturbed",
            r.other_agents
        )
    });
    notes.push(format!(
        "{} sandboxes removed after the server stopped",
        r.sandboxes_removed_at_end
    ));
    notes
}

/// Copies the server's and containerd's logs out of the run directory.
fn keep_logs(scratch: &Path, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let agent = scratch.join("data").join("agent");
    for (from, to) in [
        (scratch.join("server.log"), "server.log"),
        (agent.join("containerd.log"), "containerd.log"),
    ] {
        std::fs::copy(&from, dir.join(to))
            .with_context(|| format!("copying {}", from.display()))?;
    }
    Ok(())
}

/// The 1-minute load average, from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn phase(what: &str) {
    eprintln!("pod_bench: {what}");
}
