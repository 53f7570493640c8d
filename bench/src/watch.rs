//! Watch fan-out: many watch streams on one namespace, a writer creating ConfigMaps at a
//! steady pace, and per (watcher, event) the time from the create's acknowledgement to that
//! watcher receiving the ADDED event.
//!
//! kube-rs speaks HTTP/1.1 only, so every watch stream is its own TLS connection.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use tokio::sync::Semaphore;

/// How many watch requests are being opened at once while setting up.
const OPEN_CONCURRENCY: usize = 32;

/// Settings of one fan-out run.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Watch streams to open.
    pub watchers: usize,
    /// ConfigMaps to create while they watch.
    pub events: usize,
    /// Pause between two creates.
    pub spacing: Duration,
    /// How long to wait, after the last create, for stragglers.
    pub drain: Duration,
}

/// What the watchers saw.
#[derive(Debug)]
pub struct Outcome {
    /// Deliveries in milliseconds from the create's acknowledgement to receipt, sorted;
    /// negative when the event arrived before the writer had its response.
    pub from_ack_ms: Vec<f64>,
    /// Deliveries in milliseconds from sending the create to receipt, sorted.
    pub from_send_ms: Vec<f64>,
    /// Deliveries expected: watchers × events.
    pub expected: usize,
    /// Watchers that got every event.
    pub complete_watchers: usize,
    /// Watch streams that ended early or failed.
    pub stream_errors: usize,
    /// How long opening all the streams took.
    pub open_time: Duration,
    /// The server's RSS with every stream open, if measured.
    pub rss_with_watchers: Option<u64>,
}

/// Opens `plan.watchers` watches on `namespace` through `watch_clients` (spread evenly; each
/// client opens one connection per stream), then creates `plan.events` ConfigMaps through
/// `writer`. `measure_rss` is called once all streams are open.
pub async fn fan_out(
    watch_clients: &[Client],
    writer: &Client,
    namespace: &str,
    plan: Plan,
    measure_rss: impl FnOnce() -> Option<u64>,
) -> anyhow::Result<Outcome> {
    let api: Api<ConfigMap> = Api::namespaced(writer.clone(), namespace);
    let rv = api
        .list(&ListParams::default().limit(1))
        .await
        .context("listing before the watch")?
        .metadata
        .resource_version
        .context("list without resourceVersion")?;

    let opened = Instant::now();
    let gate = Arc::new(Semaphore::new(OPEN_CONCURRENCY));
    let mut opening = Vec::with_capacity(plan.watchers);
    for w in 0..plan.watchers {
        let client = watch_clients[w % watch_clients.len()].clone();
        let (gate, rv, namespace) = (gate.clone(), rv.clone(), namespace.to_owned());
        opening.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await;
            let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
            // Watching from the list's revision: an event committed while streams are still
            // being opened is replayed, not missed.
            let stream = api
                .watch(&WatchParams::default().timeout(290), &rv)
                .await
                .context("opening a watch")?;
            drop(permit);
            anyhow::Ok(stream.boxed())
        }));
    }
    let mut streams = Vec::with_capacity(plan.watchers);
    for o in opening {
        streams.push(o.await??);
    }
    let open_time = opened.elapsed();

    let receivers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let events = plan.events;
            tokio::spawn(async move {
                let mut seen: Vec<Option<Instant>> = vec![None; events];
                let mut got = 0;
                while got < events {
                    let event = match stream.try_next().await {
                        Ok(Some(e)) => e,
                        Ok(None) | Err(_) => return (seen, true),
                    };
                    let at = Instant::now();
                    if let WatchEvent::Added(cm) = event
                        && let Some(i) = cm.metadata.name.as_deref().and_then(index_of)
                        && i < events
                        && seen[i].is_none()
                    {
                        seen[i] = Some(at);
                        got += 1;
                    }
                }
                (seen, false)
            })
        })
        .collect();
    let rss_with_watchers = measure_rss();

    let mut sent = Vec::with_capacity(plan.events);
    let mut acked = Vec::with_capacity(plan.events);
    let mut ticks = tokio::time::interval(plan.spacing);
    for i in 0..plan.events {
        ticks.tick().await;
        let t = Instant::now();
        api.create(
            &PostParams::default(),
            &crate::config_map(&format!("w-{i}")),
        )
        .await
        .with_context(|| format!("creating w-{i}"))?;
        sent.push(t);
        acked.push(Instant::now());
    }

    let give_up = tokio::time::Instant::now() + plan.drain;
    let mut from_ack_ms = Vec::with_capacity(plan.watchers * plan.events);
    let mut from_send_ms = Vec::with_capacity(plan.watchers * plan.events);
    let mut complete_watchers = 0;
    let mut stream_errors = 0;
    for mut r in receivers {
        let (seen, ended) = match tokio::time::timeout_at(give_up, &mut r).await {
            Ok(joined) => joined.context("a watcher task failed")?,
            Err(_) => {
                r.abort();
                (vec![None; 0], false)
            }
        };
        stream_errors += usize::from(ended);
        let delivered = seen.iter().flatten().count();
        complete_watchers += usize::from(delivered == plan.events);
        for (i, at) in seen.iter().enumerate() {
            if let Some(at) = at {
                from_ack_ms.push(signed_ms(*at, acked[i]));
                from_send_ms.push(signed_ms(*at, sent[i]));
            }
        }
    }
    from_ack_ms.sort_by(f64::total_cmp);
    from_send_ms.sort_by(f64::total_cmp);
    Ok(Outcome {
        from_ack_ms,
        from_send_ms,
        expected: plan.watchers * plan.events,
        complete_watchers,
        stream_errors,
        open_time,
        rss_with_watchers,
    })
}

/// `w-17` → 17.
fn index_of(name: &str) -> Option<usize> {
    name.strip_prefix("w-")?.parse().ok()
}

/// `later - earlier` in milliseconds, negative when `later` is in fact earlier.
fn signed_ms(later: Instant, earlier: Instant) -> f64 {
    match later.checked_duration_since(earlier) {
        Some(d) => d.as_secs_f64() * 1_000.0,
        None => -(earlier.duration_since(later).as_secs_f64() * 1_000.0),
    }
}
