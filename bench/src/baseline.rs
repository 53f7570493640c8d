//! The raw SQLite store, opened in this process with the server's default options, as the
//! baseline for the API's durable write rate: the same number of concurrent writers creating
//! the same number of new keys with values the size of a stored ConfigMap. The ratio of the
//! two is the cost of everything in front of the store (TLS, HTTP, JSON, admission).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use closet_store::Store;
use closet_store::sqlite::{Options, SqliteStore};

use crate::load::Bound;
use crate::stats::Summary;

/// Creates up to `bound.max_ops` new keys from `writers` concurrent tasks in a fresh store at
/// `dir/baseline.db`, each value `value_bytes` long.
pub async fn store_creates(
    dir: &Path,
    writers: usize,
    bound: Bound,
    value_bytes: usize,
) -> anyhow::Result<Summary> {
    let store = SqliteStore::open(&dir.join("baseline.db"), Options::default())?;
    let value = Bytes::from(vec![b'v'; value_bytes]);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + bound.max_time;
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (store, value, next) = (store.clone(), value.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies: Vec<Duration> = Vec::new();
                let mut errors = 0;
                let mut first_error = None;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= bound.max_ops || Instant::now() >= deadline {
                        break;
                    }
                    let key = format!("/registry/configmaps/bench/cm-{n:05}");
                    let t = Instant::now();
                    match store.create(&key, value.clone()).await {
                        Ok(_) => latencies.push(t.elapsed()),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                (latencies, errors, first_error)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        let (l, e, f) = task.await?;
        latencies.extend(l);
        errors += e;
        if first_error.is_none() {
            first_error = f;
        }
    }
    let elapsed = started.elapsed();
    // Closing joins the writer thread; keep that off the async workers.
    tokio::task::spawn_blocking(move || drop(store)).await?;
    Ok(Summary::new(latencies, errors, first_error, elapsed))
}
