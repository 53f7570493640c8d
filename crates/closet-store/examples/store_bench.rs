//! Benchmark of the SQLite store: durable write throughput and latency at several levels of
//! concurrency, list latency, and how many bytes an idle store writes to disk.
//!
//! `cargo run --release -p closet-store --example store_bench -- --help`

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use closet_store::sqlite::{Options, SqliteStore};
use closet_store::{ListRequest, Store};

/// Measures the SQLite store and prints the results as markdown tables.
#[derive(Debug, Parser)]
struct Args {
    /// Directory for the database; a fresh temporary one if not given. Put it on the disk you
    /// want to measure (fsync cost is the whole story).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Numbers of concurrent writers to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    writers: Vec<usize>,
    /// How long each writer level runs, in seconds.
    #[arg(long, default_value_t = 5)]
    write_secs: u64,
    /// Size of each written value, in bytes.
    #[arg(long, default_value_t = 512)]
    value_bytes: usize,
    /// Keys created for the list measurement.
    #[arg(long, default_value_t = 10_000)]
    list_keys: usize,
    /// How long to watch the idle store's disk writes, in seconds.
    #[arg(long, default_value_t = 30)]
    idle_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temp = tempfile::tempdir().context("creating a temporary directory")?;
    let dir = args.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("bench.db");
    if path.exists() {
        bail!("{} already exists; pass an empty --dir", path.display());
    }
    let store = SqliteStore::open(&path, Options::default())?;
    let value = Bytes::from(vec![b'v'; args.value_bytes]);

    println!(
        "store at {}, values of {} bytes\n",
        path.display(),
        args.value_bytes
    );
    println!("| writers | durable writes/s | p50 latency | p99 latency | disk bytes per write |");
    println!("|---:|---:|---:|---:|---:|");
    for &writers in &args.writers {
        let run = write_run(
            &store,
            writers,
            Duration::from_secs(args.write_secs),
            &value,
        )
        .await?;
        println!(
            "| {writers} | {:.0} | {:.2} ms | {:.2} ms | {} |",
            run.per_sec,
            ms(run.p50),
            ms(run.p99),
            run.disk_per_write
                .map_or("n/a".to_owned(), |b| format!("{b:.0}")),
        );
    }

    let list = list_run(&store, args.list_keys, &value).await?;
    println!("\n| list of {} keys | p50 | p99 |", args.list_keys);
    println!("|---|---:|---:|");
    println!(
        "| whole prefix | {:.2} ms | {:.2} ms |",
        ms(list.full.0),
        ms(list.full.1)
    );
    println!(
        "| pages of 500 | {:.2} ms | {:.2} ms |",
        ms(list.page.0),
        ms(list.page.1)
    );

    let idle = idle_run(&store, Duration::from_secs(args.idle_secs)).await?;
    println!("\n| idle for | disk bytes written per minute |");
    println!("|---:|---:|");
    match idle {
        Some(per_minute) => println!("| {} s | {per_minute:.0} |", args.idle_secs),
        None => println!("| {} s | n/a (no /proc/self/io) |", args.idle_secs),
    }
    drop(store);
    Ok(())
}

struct WriteRun {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
    disk_per_write: Option<f64>,
}

/// Each writer updates its own key in a loop, like node leases and status updates.
async fn write_run(
    store: &Arc<SqliteStore>,
    writers: usize,
    length: Duration,
    value: &Bytes,
) -> anyhow::Result<WriteRun> {
    let disk_before = disk_written();
    let start = Instant::now();
    let deadline = start + length;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (store, value) = (store.clone(), value.clone());
            tokio::spawn(async move {
                let key = format!("/bench/w{writers}/{w}");
                let mut rev = store.create(&key, value.clone()).await?.mod_revision;
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let t = Instant::now();
                    rev = store.update(&key, value.clone(), rev).await?.mod_revision;
                    latencies.push(t.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let elapsed = start.elapsed();
    let writes = latencies.len();
    latencies.sort_unstable();
    let disk_per_write = match (disk_before, disk_written()) {
        (Some(before), Some(after)) if writes > 0 => {
            Some((after.saturating_sub(before)) as f64 / writes as f64)
        }
        _ => None,
    };
    Ok(WriteRun {
        per_sec: writes as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        disk_per_write,
    })
}

struct ListRun {
    full: (Duration, Duration),
    page: (Duration, Duration),
}

async fn list_run(store: &Arc<SqliteStore>, keys: usize, value: &Bytes) -> anyhow::Result<ListRun> {
    let creators: Vec<_> = (0..64)
        .map(|c| {
            let (store, value) = (store.clone(), value.clone());
            tokio::spawn(async move {
                for i in (c..keys).step_by(64) {
                    store
                        .create(&format!("/list/item-{i:06}"), value.clone())
                        .await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for creator in creators {
        creator.await??;
    }
    let mut full = Vec::new();
    let mut page = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let all = store
            .list(ListRequest {
                prefix: "/list/".into(),
                ..Default::default()
            })
            .await?;
        full.push(t.elapsed());
        if all.items.len() != keys {
            bail!("listed {} keys instead of {keys}", all.items.len());
        }
        let mut start_after = None;
        loop {
            let req = ListRequest {
                prefix: "/list/".into(),
                revision: Some(all.revision),
                start_after: start_after.take(),
                limit: Some(500),
            };
            let t = Instant::now();
            let one = store.list(req).await?;
            page.push(t.elapsed());
            if !one.more {
                break;
            }
            start_after = one.items.last().map(|kv| kv.key.clone());
        }
    }
    full.sort_unstable();
    page.sort_unstable();
    Ok(ListRun {
        full: (percentile(&full, 0.5), percentile(&full, 0.99)),
        page: (percentile(&page, 0.5), percentile(&page, 0.99)),
    })
}

/// Lets compaction finish, then counts what the process writes while nothing happens.
async fn idle_run(store: &Arc<SqliteStore>, length: Duration) -> anyhow::Result<Option<f64>> {
    store.compact().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let Some(before) = disk_written() else {
        return Ok(None);
    };
    tokio::time::sleep(length).await;
    let Some(after) = disk_written() else {
        return Ok(None);
    };
    Ok(Some(
        after.saturating_sub(before) as f64 * 60.0 / length.as_secs_f64(),
    ))
}

/// Bytes this process has caused to be written to storage (`write_bytes` in /proc/self/io).
fn disk_written() -> Option<u64> {
    let io = std::fs::read_to_string(Path::new("/proc/self/io")).ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("write_bytes:")?.trim().parse().ok())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}
