//! The raw SQLite store, opened in this process with the server's default options, as the
//! baseline for the API's writes: the same concurrency or rate, new keys, values the size of
//! a stored ConfigMap. The ratio of the two is the cost of everything in front of the store
//! (TLS, HTTP, JSON, admission) plus the server's share of a CPU the benchmark also uses.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use closet_store::Store;
use closet_store::sqlite::{Options, SqliteStore};

use crate::load::Bound;
use crate::stats::Summary;

/// A fresh store and the value every write puts.
pub struct RawStore {
    store: Arc<SqliteStore>,
    value: Bytes,
}

impl RawStore {
    /// Opens a new store at `path` with default options; each write puts `value_bytes` bytes.
    pub fn open(path: &Path, value_bytes: usize) -> anyhow::Result<Self> {
        Ok(Self {
            store: SqliteStore::open(path, Options::default())?,
            value: Bytes::from(vec![b'v'; value_bytes]),
        })
    }

    /// Creates up to `bound.max_ops` new keys under `prefix` from `writers` concurrent tasks,
    /// each writing as soon as its previous write is durable.
    pub async fn creates(&self, prefix: &str, writers: usize, bound: Bound) -> Summary {
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let deadline = started + bound.max_time;
        let tasks: Vec<_> = (0..writers)
            .map(|_| {
                let (store, value, next) = (self.store.clone(), self.value.clone(), next.clone());
                let prefix = prefix.to_owned();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut errors = 0;
                    let mut first_error = None;
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= bound.max_ops || Instant::now() >= deadline {
                            break;
                        }
                        let t = Instant::now();
                        match store
                            .create(&format!("{prefix}{n:06}"), value.clone())
                            .await
                        {
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
        crate::load::collect(tasks, started).await
    }

    /// Creates one new key under `prefix` every `1 / per_sec` seconds for `length`, numbered
    /// from `first`, without waiting for earlier writes (open loop, as
    /// [`crate::load::fixed_rate`] does over the API); latency is measured from when each
    /// write was due. This is the fsync floor under the API's fixed-rate number.
    pub async fn fixed_rate(
        &self,
        prefix: &str,
        first: usize,
        per_sec: u32,
        length: Duration,
    ) -> Summary {
        let total = (length.as_secs_f64() * f64::from(per_sec)).round() as usize;
        let mut ticks = tokio::time::interval(Duration::from_secs(1) / per_sec);
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(total);
        for n in first..first + total {
            let due = ticks.tick().await.into_std();
            let (store, value) = (self.store.clone(), self.value.clone());
            let key = format!("{prefix}{n:06}");
            tasks.push(tokio::spawn(async move {
                match store.create(&key, value).await {
                    Ok(_) => (vec![due.elapsed()], 0, None),
                    Err(e) => (Vec::new(), 1, Some(e.to_string())),
                }
            }));
        }
        crate::load::collect(tasks, started).await
    }

    /// Closes the store, joining its writer thread off the async workers.
    pub async fn close(self) -> anyhow::Result<()> {
        let store = self.store;
        tokio::task::spawn_blocking(move || drop(store)).await?;
        Ok(())
    }
}
