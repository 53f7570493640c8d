//! Closed-loop load from several clients (each on its own connection) and open-loop load at a
//! fixed rate. Every loop is bounded twice: by a number of operations and by a time limit.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use kube::Client;

use crate::stats::Summary;

/// Where a closed loop stops: after `max_ops` operations in all, or after `max_time`,
/// whichever comes first.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    /// Operations over all clients.
    pub max_ops: usize,
    /// Wall time.
    pub max_time: Duration,
}

/// Runs `op` in a closed loop on every client in `clients` at once: each client sends its
/// next request as soon as the previous one is answered. `op` gets the client and a number
/// unique within this run (for object names).
pub async fn closed_loop<F, Fut>(clients: &[Client], bound: Bound, op: F) -> Summary
where
    F: Fn(Client, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + bound.max_time;
    let workers: Vec<_> = clients
        .iter()
        .map(|client| {
            let (client, next, op) = (client.clone(), next.clone(), op.clone());
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
                    match op(client.clone(), n).await {
                        Ok(()) => latencies.push(t.elapsed()),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("{e:#}"));
                        }
                    }
                }
                (latencies, errors, first_error)
            })
        })
        .collect();
    collect(workers, started).await
}

/// Starts `op` every `1 / per_sec` seconds for `length`, without waiting for earlier ones
/// (open loop), spreading the requests over `clients` in turn. Latency is measured from the
/// moment a request was due, so a stalled server shows up as latency, not as fewer requests.
pub async fn fixed_rate<F, Fut>(
    clients: &[Client],
    per_sec: u32,
    length: Duration,
    op: F,
) -> Summary
where
    F: Fn(Client, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let period = Duration::from_secs(1) / per_sec;
    let total = (length.as_secs_f64() * f64::from(per_sec)).round() as usize;
    let mut ticks = tokio::time::interval(period);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        let due = ticks.tick().await.into_std();
        let (client, op) = (clients[n % clients.len()].clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let result = op(client, n).await;
            let latency = due.elapsed();
            match result {
                Ok(()) => (vec![latency], 0, None),
                Err(e) => (Vec::new(), 1, Some(format!("{e:#}"))),
            }
        }));
    }
    collect(tasks, started).await
}

/// What one task measured: latencies of its successes, its error count, its first error.
pub type Outcome = (Vec<Duration>, usize, Option<String>);

/// Joins measuring tasks into one summary whose wall time runs from `started` to now.
pub async fn collect(tasks: Vec<tokio::task::JoinHandle<Outcome>>, started: Instant) -> Summary {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok((l, e, f)) => {
                latencies.extend(l);
                errors += e;
                if first_error.is_none() {
                    first_error = f;
                }
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("worker failed: {e}"));
            }
        }
    }
    Summary::new(latencies, errors, first_error, started.elapsed())
}
