//! `api_bench`: starts the release `closet server` in a temporary directory and measures it
//! from the outside, the way a user's clients see it, then prints markdown tables for
//! `docs/benchmarks.md`. Targets are printed beside the numbers and never asserted.
//!
//! `cargo build --release -p closet && cargo run --release -p closet-bench --bin api_bench -- [--quick]`
//!
//! Phases, in order: cold and warm starts; one long-lived server for idle memory, 64 API
//! clients creating 10,000 ConfigMaps in turns with the raw store doing the same, full lists,
//! idle disk writes, create/get/list at 1/8/64 clients beside `GET /version`, creates at a
//! fixed rate in turns with the raw store, watch fan-out; last, a restart on the full data
//! dir. The machine is shared and noisy, so every baseline runs in the same run, interleaved
//! with what it is the baseline of, and the tables give ratios.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// Beside this file rather than in src/bin/, where cargo would take it for another binary.
#[path = "api_bench/render.rs"]
mod render;

use anyhow::{Context, bail};
use clap::Parser;
use closet_bench::baseline::RawStore;
use closet_bench::load::{self, Bound};
use closet_bench::probe::Probe;
use closet_bench::server::{self, Server};
use closet_bench::stats::Summary;
use closet_bench::watch::{self, Plan};
use closet_bench::{config_map, create_namespace, warm, warm_clients};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use render::{IdleDisk, Results};

/// Benchmarks the release closet server and prints markdown tables.
#[derive(Debug, Parser)]
struct Args {
    /// A shorter run (about 1.5 minutes instead of 5): fewer starts and operations, shorter
    /// idle and fixed-rate windows.
    #[arg(long)]
    quick: bool,
    /// Parent directory for the temporary data dirs (the system temp dir if not given). Put it
    /// on the disk you want to measure: fsync is most of a durable write.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// The sizes of one run.
pub(crate) struct Sizes {
    /// Cold starts, and as many warm restarts.
    pub(crate) starts: usize,
    /// ConfigMaps created by 64 clients for the memory and durable-write measurements.
    pub(crate) objects: usize,
    /// Bound of each create/get/list cell.
    pub(crate) cell: Bound,
    /// Length of the fixed-rate run.
    pub(crate) rate_secs: u64,
    /// The watch fan-out.
    pub(crate) watch: Plan,
    /// Quiet time before the idle disk window opens.
    idle_settle: Duration,
    /// Length of the idle disk window.
    idle_secs: u64,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        let watch = Plan {
            watchers: 1_000,
            events: if quick { 40 } else { 100 },
            spacing: Duration::from_millis(50),
            drain: Duration::from_secs(10),
        };
        Self {
            starts: if quick { 3 } else { 5 },
            objects: 10_000,
            cell: Bound {
                max_ops: if quick { 500 } else { 5_000 },
                max_time: Duration::from_secs(if quick { 4 } else { 15 }),
            },
            rate_secs: if quick { 5 } else { 10 },
            watch,
            idle_settle: Duration::from_secs(if quick { 2 } else { 5 }),
            idle_secs: if quick { 30 } else { 60 },
        }
    }
}

/// Concurrent clients of the create/get/list cells.
const CONCURRENCY: [usize; 3] = [1, 8, 64];
/// Requests per second of the fixed-rate run.
const RATE_PER_SEC: u32 = 100;
/// Creates per turn when the raw store and the API take turns.
const BULK_TURN: usize = 2_000;
/// ConfigMaps in the namespace that get and list read.
const SMALL_NS_OBJECTS: usize = 100;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    closet_bench::install_crypto();
    let binary = server::release_binary()?;
    let plan = Sizes::new(args.quick);
    let root = closet_bench::run_dir("closet-bench-", args.dir.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let started = Instant::now();
    let report = runtime.block_on(run(&binary, root.path(), &plan))?;
    println!(
        "closet api_bench ({}), binary {}, data under {}, {:.0} s\n",
        if args.quick { "--quick" } else { "full run" },
        binary.display(),
        args.dir
            .as_deref()
            .map_or_else(std::env::temp_dir, Path::to_owned)
            .display(),
        started.elapsed().as_secs_f64()
    );
    println!("{report}");
    Ok(())
}

async fn run(binary: &Path, root: &Path, plan: &Sizes) -> anyhow::Result<String> {
    let probe = Probe::new();
    let mut r = Results::default();

    phase(&format!(
        "{} cold starts, {} warm restarts",
        plan.starts, plan.starts
    ));
    tokio::task::block_in_place(|| starts(binary, root, &probe, plan, &mut r))?;

    phase("starting the server for the rest of the run");
    let scratch = root.join("main");
    std::fs::create_dir_all(&scratch)?;
    let (srv, _) = tokio::task::block_in_place(|| Server::start(binary, &scratch, &probe))?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    r.idle = srv.memory()?;

    let config = closet_bench::client_config(&srv.kubeconfig()).await?;
    let clients = warm_clients(&config, 64).await?;
    let c0 = clients[0].clone();
    for ns in [
        "bench-10k",
        "bench-crud",
        "bench-small",
        "bench-rate",
        "bench-watch",
    ] {
        create_namespace(&c0, ns).await?;
    }
    let small: Api<ConfigMap> = Api::namespaced(c0.clone(), "bench-small");
    for i in 0..SMALL_NS_OBJECTS {
        small
            .create(&PostParams::default(), &config_map(&format!("s-{i}")))
            .await?;
    }
    // The baseline store gets values as large as a ConfigMap as the API returns it.
    r.value_bytes = raw_get(&c0, "/api/v1/namespaces/bench-small/configmaps/s-0")
        .await?
        .len();

    phase(&format!(
        "{} creates from 64 writers, raw store and API in turns of {BULK_TURN}",
        plan.objects
    ));
    // The store and the API take turns in slices, so a burst of noise from the machine's
    // other users lands on both sides of the ratio alike.
    let raw = RawStore::open(&root.join("baseline.db"), r.value_bytes)?;
    let mut done = 0;
    while done < plan.objects {
        let turn = Bound {
            max_ops: BULK_TURN.min(plan.objects - done),
            max_time: Duration::from_secs(60),
        };
        let store_turn = raw.creates(&format!("/bulk/{done:06}-"), 64, turn).await;
        r.baseline_store.merge(store_turn);
        let api_turn = load::closed_loop(&clients, turn, move |client, n| async move {
            let api: Api<ConfigMap> = Api::namespaced(client, "bench-10k");
            let name = format!("cm-{:05}", done + n);
            api.create(&PostParams::default(), &config_map(&name))
                .await?;
            Ok(())
        })
        .await;
        r.bulk.merge(api_turn);
        done += turn.max_ops;
    }
    r.after_create = srv.memory()?;

    phase("full list of the bulk namespace, 3 times");
    for _ in 0..3 {
        let t = Instant::now();
        let body = raw_get(&c0, "/api/v1/namespaces/bench-10k/configmaps").await?;
        r.list_times.push(t.elapsed());
        r.list_bytes = body.len();
        let items = serde_json::from_str::<serde_json::Value>(&body)?["items"]
            .as_array()
            .map_or(0, Vec::len);
        if items != r.bulk.ops {
            bail!("listed {items} ConfigMaps, created {}", r.bulk.ops);
        }
        drop(body);
        r.after_each_list.push(srv.memory()?);
    }

    phase(&format!(
        "idle disk writes: {} s settle, {} s window",
        plan.idle_settle.as_secs(),
        plan.idle_secs
    ));
    r.idle_disk = Some(idle_disk(&srv, plan).await?);

    phase("GET /version, create, get, list at 1, 8, 64 clients");
    for op in ["GET /version", "create", "get", "list"] {
        for c in CONCURRENCY {
            warm(&clients[..c]).await?;
            let summary = cell(op, c, &clients[..c], plan.cell).await;
            r.cells.push((op, c, summary));
        }
    }

    phase(&format!(
        "{RATE_PER_SEC} creates/s for {} s each, raw store and API in turns of 1 s",
        plan.rate_secs
    ));
    warm(&clients[..8]).await?;
    for turn in 0..plan.rate_secs as usize {
        let first = turn * RATE_PER_SEC as usize;
        let second = Duration::from_secs(1);
        let store_turn = raw.fixed_rate("/rate/", first, RATE_PER_SEC, second).await;
        r.rate_store.merge(store_turn);
        let api_turn = load::fixed_rate(
            &clients[..8],
            RATE_PER_SEC,
            second,
            move |client, n| async move {
                let api: Api<ConfigMap> = Api::namespaced(client, "bench-rate");
                let cm = config_map(&format!("r-{}", first + n));
                api.create(&PostParams::default(), &cm).await?;
                Ok(())
            },
        )
        .await;
        r.rate.merge(api_turn);
    }
    raw.close().await?;

    phase(&format!(
        "watch fan-out: {} watchers, {} events {} ms apart",
        plan.watch.watchers,
        plan.watch.events,
        plan.watch.spacing.as_millis()
    ));
    let watch_client = Client::try_from(config.clone())?;
    warm(&clients[..1]).await?;
    r.before_watch = srv.memory()?;
    r.watch = Some(
        watch::fan_out(
            std::slice::from_ref(&watch_client),
            &c0,
            "bench-watch",
            plan.watch,
            || srv.memory().ok().map(|m| m.rss),
        )
        .await?,
    );
    drop(watch_client);
    tokio::time::sleep(Duration::from_secs(1)).await;
    r.end = srv.memory()?;

    phase("restart on the full data dir");
    r.full_restart_objects = count_objects(&c0).await?;
    drop((clients, c0, small));
    tokio::task::block_in_place(|| srv.stop())?;
    let (srv, ready) = tokio::task::block_in_place(|| Server::start(binary, &scratch, &probe))?;
    r.full_restart = ready;
    tokio::time::sleep(Duration::from_secs(2)).await;
    r.after_restart = srv.memory()?;
    tokio::task::block_in_place(|| srv.stop())?;

    Ok(render::render(&r, plan))
}

/// Cold starts in fresh data dirs, then warm restarts on the last one's data dir.
fn starts(
    binary: &Path,
    root: &Path,
    probe: &Probe,
    plan: &Sizes,
    r: &mut Results,
) -> anyhow::Result<()> {
    let mut last = PathBuf::new();
    for i in 0..plan.starts {
        last = root.join(format!("cold-{i}"));
        std::fs::create_dir_all(&last)?;
        let (srv, ready) = Server::start(binary, &last, probe)?;
        r.cold.push(ready);
        r.cold_rss.push(srv.memory()?.rss);
        r.stops.push(srv.stop()?);
    }
    for _ in 0..plan.starts {
        let (srv, ready) = Server::start(binary, &last, probe)?;
        r.warm.push(ready);
        r.stops.push(srv.stop()?);
    }
    Ok(())
}

/// One closed-loop cell of the create/get/list table.
async fn cell(op: &'static str, clients: usize, pool: &[Client], bound: Bound) -> Summary {
    match op {
        "GET /version" => {
            load::closed_loop(pool, bound, |client, _| async move {
                client.apiserver_version().await?;
                Ok(())
            })
            .await
        }
        "create" => {
            load::closed_loop(pool, bound, move |client, n| async move {
                let api: Api<ConfigMap> = Api::namespaced(client, "bench-crud");
                let cm = config_map(&format!("c{clients}-{n}"));
                api.create(&PostParams::default(), &cm).await?;
                Ok(())
            })
            .await
        }
        "get" => {
            load::closed_loop(pool, bound, |client, n| async move {
                let api: Api<ConfigMap> = Api::namespaced(client, "bench-small");
                api.get(&format!("s-{}", n % SMALL_NS_OBJECTS)).await?;
                Ok(())
            })
            .await
        }
        _ => {
            load::closed_loop(pool, bound, |client, _| async move {
                let api: Api<ConfigMap> = Api::namespaced(client, "bench-small");
                let list = api.list(&ListParams::default()).await?;
                if list.items.len() != SMALL_NS_OBJECTS {
                    bail!("listed {} ConfigMaps", list.items.len());
                }
                Ok(())
            })
            .await
        }
    }
}

/// Lets the server settle, then counts what it writes to disk while nothing happens.
async fn idle_disk(srv: &Server, plan: &Sizes) -> anyhow::Result<IdleDisk> {
    tokio::time::sleep(plan.idle_settle).await;
    let db_before = srv.db_sizes();
    let start = srv.write_bytes()?;
    let t = Instant::now();
    let mut samples = Vec::new();
    let mut prev = start;
    for _ in 0..plan.idle_secs.div_ceil(10) {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let now = srv.write_bytes()?;
        samples.push(now - prev);
        prev = now;
    }
    Ok(IdleDisk {
        window: t.elapsed(),
        written: prev - start,
        samples,
        db_before,
        db_after: srv.db_sizes(),
    })
}

/// The body of `GET path`, as text (no typed decoding, so a list is timed as the server's
/// work plus transport, not as kube-rs deserialising 10,000 objects).
async fn raw_get(client: &Client, path: &str) -> anyhow::Result<String> {
    let req = http::Request::get(path).body(Vec::new())?;
    Ok(client.request_text(req).await?)
}

/// How many ConfigMaps the server holds over all namespaces.
async fn count_objects(client: &Client) -> anyhow::Result<usize> {
    let body = raw_get(client, "/api/v1/configmaps").await?;
    let doc: serde_json::Value = serde_json::from_str(&body)?;
    Ok(doc["items"].as_array().map_or(0, Vec::len))
}

fn phase(what: &str) {
    eprintln!("api_bench: {what}");
}
