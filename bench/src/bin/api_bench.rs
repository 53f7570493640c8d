//! `api_bench`: starts the release `closet server` in a temporary directory and measures it
//! from the outside, the way a user's clients see it, then prints markdown tables for
//! `docs/benchmarks.md`. Targets are printed beside the numbers and never asserted.
//!
//! `cargo build --release -p closet && cargo run --release -p closet-bench --bin api_bench -- [--quick]`
//!
//! Phases, in order: cold and warm starts; one long-lived server for idle memory, the raw
//! store beside 64 API clients creating 10,000 ConfigMaps, a full list, idle disk writes,
//! create/get/list at 1/8/64 clients beside `GET /version`, creates at a fixed rate, watch
//! fan-out; last, a restart on the full data dir.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use closet_bench::load::{self, Bound};
use closet_bench::probe::Probe;
use closet_bench::report::Table;
use closet_bench::server::{self, Memory, Server};
use closet_bench::stats::{Summary, fmt_duration, median, mib, ms, quantile};
use closet_bench::watch::{self, Plan};
use closet_bench::{baseline, config_map, create_namespace, warm, warm_clients};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};

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
struct Sizes {
    starts: usize,
    objects: usize,
    cell: Bound,
    rate_secs: u64,
    watch: Plan,
    idle_settle: Duration,
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

const CONCURRENCY: [usize; 3] = [1, 8, 64];
const RATE_PER_SEC: u32 = 100;
const SMALL_NS_OBJECTS: usize = 100;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    closet_bench::install_crypto();
    let binary = server::release_binary()?;
    let plan = Sizes::new(args.quick);
    let mut builder = tempfile::Builder::new();
    builder.prefix("closet-bench-");
    let root = match &args.dir {
        Some(dir) => builder.tempdir_in(dir),
        None => builder.tempdir(),
    }
    .context("creating a temporary directory")?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let started = Instant::now();
    let report = runtime.block_on(run(&binary, root.path(), &plan))?;
    println!(
        "closet api_bench ({}), binary {}, data under {}, {:.0} s\n",
        if args.quick { "--quick" } else { "full run" },
        binary.display(),
        args.dir
            .as_deref()
            .map_or_else(|| std::env::temp_dir(), Path::to_owned)
            .display(),
        started.elapsed().as_secs_f64()
    );
    println!("{report}");
    Ok(())
}

/// Everything measured, for the tables.
#[derive(Default)]
struct Results {
    cold: Vec<Duration>,
    warm: Vec<Duration>,
    cold_rss: Vec<u64>,
    stops: Vec<Duration>,
    idle: Memory,
    baseline_store: Summary,
    bulk: Summary,
    value_bytes: usize,
    after_create: Memory,
    list_times: Vec<Duration>,
    list_bytes: usize,
    after_each_list: Vec<Memory>,
    idle_disk: Option<IdleDisk>,
    cells: Vec<(&'static str, usize, Summary)>,
    rate: Summary,
    watch: Option<watch::Outcome>,
    before_watch: Memory,
    end: Memory,
    full_restart: Duration,
    full_restart_objects: usize,
    after_restart: Memory,
}

struct IdleDisk {
    window: Duration,
    written: u64,
    samples: Vec<u64>,
    db_before: (u64, u64),
    db_after: (u64, u64),
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
        "raw store, then the API: {} creates from 64 writers",
        plan.objects
    ));
    let bulk = Bound {
        max_ops: plan.objects,
        max_time: Duration::from_secs(120),
    };
    let base_dir = root.join("baseline");
    std::fs::create_dir_all(&base_dir)?;
    r.baseline_store = baseline::store_creates(&base_dir, 64, bulk, r.value_bytes).await?;
    r.bulk = load::closed_loop(&clients, bulk, |client, n| async move {
        let api: Api<ConfigMap> = Api::namespaced(client, "bench-10k");
        api.create(&PostParams::default(), &config_map(&format!("cm-{n:05}")))
            .await?;
        Ok(())
    })
    .await;
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
        "{RATE_PER_SEC} creates/s for {} s",
        plan.rate_secs
    ));
    warm(&clients[..8]).await?;
    r.rate = load::fixed_rate(
        &clients[..8],
        RATE_PER_SEC,
        Duration::from_secs(plan.rate_secs),
        |client, n| async move {
            let api: Api<ConfigMap> = Api::namespaced(client, "bench-rate");
            api.create(&PostParams::default(), &config_map(&format!("r-{n}")))
                .await?;
            Ok(())
        },
    )
    .await;

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

    Ok(render(&r, plan))
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

// === report ===

fn render(r: &Results, plan: &Sizes) -> String {
    let mut main = Table::new(&["measurement", ">result", "target", "baseline / notes"]);
    let n = plan.starts;
    main.row([
        format!("start → /readyz 200, cold (fresh data dir), median of {n}"),
        fmt_duration(median(&r.cold)),
        verdict_max(median(&r.cold), Duration::from_secs(1)),
        format!("min {} / max {}", fmt_min(&r.cold), fmt_max(&r.cold)),
    ]);
    main.row([
        format!("start → /readyz 200, warm (existing data dir), median of {n}"),
        fmt_duration(median(&r.warm)),
        verdict_max(median(&r.warm), Duration::from_secs(1)),
        format!("min {} / max {}", fmt_min(&r.warm), fmt_max(&r.warm)),
    ]);
    main.row([
        format!(
            "start → /readyz 200, warm with {} ConfigMaps in the data dir",
            r.full_restart_objects
        ),
        fmt_duration(r.full_restart),
        verdict_max(r.full_restart, Duration::from_secs(1)),
        "one sample".to_owned(),
    ]);
    main.row([
        format!("SIGTERM → exit, median of {}", r.stops.len()),
        fmt_duration(median(&r.stops)),
        "–".to_owned(),
        String::new(),
    ]);
    let mut cold_rss = r.cold_rss.clone();
    cold_rss.sort_unstable();
    main.row([
        "RSS at the moment /readyz first answers (cold, median)".to_owned(),
        mib(quantile(&cold_rss, 0.5)),
        "–".to_owned(),
        String::new(),
    ]);
    main.row(mem_row("RSS idle, 3 s after start", r.idle, 20));
    main.row(mem_row(
        &format!("RSS after creating {} ConfigMaps", r.bulk.ops),
        r.after_create,
        60,
    ));
    if let Some(last) = r.after_each_list.last() {
        let mut row = mem_row(
            &format!(
                "RSS after {} full lists of {} ConfigMaps",
                r.after_each_list.len(),
                r.bulk.ops
            ),
            *last,
            60,
        );
        let each: Vec<String> = r.after_each_list.iter().map(|m| mib(m.rss)).collect();
        row[3] = format!("VmRSS after each list: {}", each.join(", "));
        main.row(row);
    }
    if let Some(w) = &r.watch {
        main.row([
            format!("RSS with {} watch streams open", plan.watch.watchers),
            w.rss_with_watchers.map_or("n/a".to_owned(), mib),
            "–".to_owned(),
            format!("{} just before opening them", mib(r.before_watch.rss)),
        ]);
    }
    main.row(mem_row("RSS at the end of the run", r.end, 60));
    main.row(mem_row(
        "RSS 2 s after the restart on the full data dir",
        r.after_restart,
        60,
    ));
    main.row([
        format!(
            "full list of {} ConfigMaps (JSON, {}), median of 3",
            r.bulk.ops,
            mib(r.list_bytes as u64)
        ),
        fmt_duration(median(&r.list_times)),
        "–".to_owned(),
        "raw GET, body read as text".to_owned(),
    ]);
    let ratio = r.bulk.per_sec() / r.baseline_store.per_sec().max(f64::MIN_POSITIVE);
    main.row([
        format!(
            "durable creates/s, 64 clients, {} ConfigMaps",
            r.bulk.ops
        ),
        format!(
            "{:.0}/s (p50 {}, p99 {}){}",
            r.bulk.per_sec(),
            fmt_duration(r.bulk.p50()),
            fmt_duration(r.bulk.p99()),
            errors_note(&r.bulk)
        ),
        verdict_min(r.bulk.per_sec(), 5_000.0),
        format!(
            "raw store, 64 writers, {}-byte values: {:.0}/s (p50 {}, p99 {}); API ÷ store = {:.2}{}",
            r.value_bytes,
            r.baseline_store.per_sec(),
            fmt_duration(r.baseline_store.p50()),
            fmt_duration(r.baseline_store.p99()),
            ratio,
            errors_note(&r.baseline_store)
        ),
    ]);
    main.row([
        format!(
            "mutating (create) p99 at {RATE_PER_SEC}/s for {} s",
            plan.rate_secs
        ),
        format!(
            "{} (p50 {}, max {}, {} ok){}",
            fmt_duration(r.rate.p99()),
            fmt_duration(r.rate.p50()),
            fmt_duration(r.rate.max()),
            r.rate.ops,
            errors_note(&r.rate)
        ),
        verdict_max(r.rate.p99(), Duration::from_millis(10)),
        "open loop over 8 connections; latency from when each request was due".to_owned(),
    ]);
    if let Some(w) = &r.watch {
        let q = |v: &[f64], p| quantile(v, p);
        main.row([
            format!(
                "watch delivery, {} watchers × {} events, create ack → receipt",
                plan.watch.watchers, plan.watch.events
            ),
            format!(
                "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                q(&w.from_ack_ms, 0.5),
                q(&w.from_ack_ms, 0.99),
                w.from_ack_ms.last().copied().unwrap_or_default()
            ),
            "–".to_owned(),
            format!(
                "from sending the create: p50 {:.2} ms, p99 {:.2} ms; {:.0}% arrived before the ack",
                q(&w.from_send_ms, 0.5),
                q(&w.from_send_ms, 0.99),
                100.0 * w.from_ack_ms.iter().filter(|&&v| v < 0.0).count() as f64
                    / w.from_ack_ms.len().max(1) as f64
            ),
        ]);
        main.row([
            "watch events delivered".to_owned(),
            format!("{} of {}", w.from_ack_ms.len(), w.expected),
            "all".to_owned(),
            format!(
                "{} of {} watchers got every event; {} streams ended early; opening all took {}; \
                 one HTTP/1.1 TLS connection per watch (kube-rs has no HTTP/2)",
                w.complete_watchers,
                plan.watch.watchers,
                w.stream_errors,
                fmt_duration(w.open_time)
            ),
        ]);
    }
    if let Some(d) = &r.idle_disk {
        let per_min = d.written as f64 * 60.0 / d.window.as_secs_f64();
        main.row([
            format!(
                "idle disk writes (write_bytes), {:.0} s window",
                d.window.as_secs_f64()
            ),
            format!("{per_min:.0} bytes/min"),
            if d.written == 0 {
                "≈ 0: met"
            } else {
                "≈ 0: not 0"
            }
            .to_owned(),
            format!(
                "per 10 s: {:?}; db {} → {} bytes, WAL {} → {} bytes",
                d.samples, d.db_before.0, d.db_after.0, d.db_before.1, d.db_after.1
            ),
        ]);
    }

    let mut crud = Table::new(&[
        "op",
        ">clients",
        ">ops",
        ">ops/s",
        ">p50",
        ">p99",
        ">max",
        ">errors",
        ">p50 ÷ /version p50",
    ]);
    for (op, clients, s) in &r.cells {
        let transport = r
            .cells
            .iter()
            .find(|(o, c, _)| *o == "GET /version" && c == clients)
            .map(|(_, _, v)| v.p50());
        let ratio = match transport {
            Some(t) if !t.is_zero() => format!("{:.2}", ms(s.p50()) / ms(t)),
            _ => "–".to_owned(),
        };
        crud.row([
            (*op).to_owned(),
            clients.to_string(),
            s.ops.to_string(),
            format!("{:.0}", s.per_sec()),
            fmt_duration(s.p50()),
            fmt_duration(s.p99()),
            fmt_duration(s.max()),
            s.errors.to_string(),
            ratio,
        ]);
    }
    let errors: Vec<String> = r
        .cells
        .iter()
        .filter_map(|(op, c, s)| Some(format!("{op} × {c}: {}", s.first_error.as_ref()?)))
        .collect();

    let mut out = main.render();
    out.push_str(&format!(
        "\nClosed loops of at most {} operations or {} s per cell; each client is its own \
         kube-rs client with one warm TLS connection; get reads one of {SMALL_NS_OBJECTS} \
         ConfigMaps, list lists a namespace of {SMALL_NS_OBJECTS}.\n\n",
        plan.cell.max_ops,
        plan.cell.max_time.as_secs()
    ));
    out.push_str(&crud.render());
    if !errors.is_empty() {
        out.push_str(&format!("\nFirst errors: {}\n", errors.join("; ")));
    }
    out
}

fn mem_row(what: &str, m: Memory, target_mb: u64) -> [String; 4] {
    let limit = target_mb * 1_000_000;
    let verdict = if m.rss <= limit {
        format!("≤ {target_mb} MB: met")
    } else {
        format!(
            "≤ {target_mb} MB: missed, {:.1}×",
            m.rss as f64 / limit as f64
        )
    };
    [
        format!("{what} (VmRSS / VmHWM)"),
        format!("{} / {}", mib(m.rss), mib(m.hwm)),
        verdict,
        String::new(),
    ]
}

fn verdict_max(value: Duration, limit: Duration) -> String {
    if value <= limit {
        format!("≤ {}: met", fmt_duration(limit))
    } else {
        format!(
            "≤ {}: missed, {:.1}×",
            fmt_duration(limit),
            value.as_secs_f64() / limit.as_secs_f64()
        )
    }
}

fn verdict_min(value: f64, floor: f64) -> String {
    if value >= floor {
        format!("≥ {floor:.0}/s: met")
    } else {
        format!("≥ {floor:.0}/s: missed, {:.2}× of it", value / floor)
    }
}

fn errors_note(s: &Summary) -> String {
    if s.errors == 0 {
        String::new()
    } else {
        format!(
            ", {} errors: {}",
            s.errors,
            s.first_error.as_deref().unwrap_or("")
        )
    }
}

fn fmt_min(v: &[Duration]) -> String {
    v.iter().min().map_or("–".to_owned(), |d| fmt_duration(*d))
}

fn fmt_max(v: &[Duration]) -> String {
    v.iter().max().map_or("–".to_owned(), |d| fmt_duration(*d))
}
