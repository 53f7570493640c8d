//! `GET /stats/summary`: node and pod CPU and memory usage, and filesystem usage of the
//! node and of pod volumes ([`volumes`]).
//!
//! CPU usage is a rate, and CRI reports cumulative CPU time, so each summary compares two
//! samples: the newest kept sample at least [`MIN_WINDOW`] old (samples are kept from
//! earlier requests), or, if there is none, one taken now and another [`MIN_WINDOW`] later.
//! containerd's own `usage_nano_cores` is only a fallback for containers new since the
//! older sample: containerd computes it against whatever call came before, so it is
//! unreliable with more than one caller.

mod proc;
mod volumes;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use closet_cri::{Runtime, cri};

use crate::server::Inner;
use crate::status;
use crate::summary::{
    ContainerStats, CpuStats, MemoryStats, NodeStats, PodReference, PodStats, Summary,
};
use crate::{PodDirectory, PodInfo};

/// The shortest window a CPU rate is computed over.
const MIN_WINDOW: Duration = Duration::from_secs(1);
/// Samples older than this are not used as a base: the rate would be a stale average.
const MAX_WINDOW: Duration = Duration::from_secs(120);

/// One container's counters at one moment.
#[derive(Clone, Debug, Default)]
struct ContainerSample {
    cpu_nanos: Option<u64>,
    runtime_nano_cores: Option<u64>,
    working_set: Option<u64>,
    usage: Option<u64>,
}

/// Everything measured at one moment.
#[derive(Debug)]
struct Sample {
    at: Instant,
    time: jiff::Timestamp,
    node_cpu_nanos: Option<u64>,
    node_memory: Option<proc::Memory>,
    containers: HashMap<String, ContainerSample>,
}

/// Takes samples and keeps recent ones as bases for rates.
#[derive(Debug, Default)]
pub(crate) struct Sampler {
    kept: Mutex<VecDeque<Arc<Sample>>>,
    volumes: Arc<volumes::VolumeMeter>,
}

impl Sampler {
    /// The summary of this node now; the node's `fs` describes the filesystem holding
    /// `node_fs_path`, if given.
    pub(crate) async fn summary(
        &self,
        runtime: &dyn Runtime,
        pods: &dyn PodDirectory,
        node_name: &str,
        node_fs_path: Option<PathBuf>,
    ) -> Result<Summary, closet_cri::CriError> {
        let now = Arc::new(take(runtime).await?);
        let (base, now) = match self.keep(now.clone()) {
            Some(base) => (base, now),
            None => {
                tokio::time::sleep(MIN_WINDOW).await;
                let later = Arc::new(take(runtime).await?);
                self.keep(later.clone());
                (now, later)
            }
        };
        let listed = pods.pods();
        let mut summary = build(&base, &now, &listed, node_name);
        summary.node.fs = volumes::fill(
            self.volumes.clone(),
            &mut summary.pods,
            &listed,
            node_fs_path,
        )
        .await;
        Ok(summary)
    }

    /// Keeps `sample` and returns the base to compare it with, if a kept one fits.
    fn keep(&self, sample: Arc<Sample>) -> Option<Arc<Sample>> {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let old_enough = |s: &Sample| sample.at.saturating_duration_since(s.at) >= MIN_WINDOW;
        let base = kept
            .iter()
            .rev()
            .find(|s| old_enough(s))
            .filter(|s| sample.at.saturating_duration_since(s.at) <= MAX_WINDOW)
            .cloned();
        // The oldest is needed only while the next one is not yet old enough to replace it.
        while kept.len() > 1 && kept.get(1).is_some_and(|s| old_enough(s)) {
            kept.pop_front();
        }
        kept.push_back(sample);
        base
    }
}

async fn take(runtime: &dyn Runtime) -> Result<Sample, closet_cri::CriError> {
    let stats = runtime
        .list_container_stats(cri::ListContainerStatsRequest { filter: None })
        .await?
        .stats;
    let containers = stats
        .into_iter()
        .filter_map(|s| {
            let id = s.attributes.as_ref()?.id.clone();
            let cpu = s.cpu.as_ref();
            let memory = s.memory.as_ref();
            Some((
                id,
                ContainerSample {
                    cpu_nanos: cpu
                        .and_then(|c| c.usage_core_nano_seconds.as_ref())
                        .map(|v| v.value),
                    runtime_nano_cores: cpu
                        .and_then(|c| c.usage_nano_cores.as_ref())
                        .map(|v| v.value)
                        .filter(|v| *v > 0),
                    working_set: memory
                        .and_then(|m| m.working_set_bytes.as_ref())
                        .map(|v| v.value),
                    usage: memory.and_then(|m| m.usage_bytes.as_ref()).map(|v| v.value),
                },
            ))
        })
        .collect();
    let (stat, meminfo) = tokio::join!(
        tokio::fs::read_to_string("/proc/stat"),
        tokio::fs::read_to_string("/proc/meminfo")
    );
    Ok(Sample {
        at: Instant::now(),
        time: jiff::Timestamp::now(),
        node_cpu_nanos: stat.ok().as_deref().and_then(proc::busy_cpu_nanos),
        node_memory: meminfo.ok().as_deref().and_then(proc::memory),
        containers,
    })
}

fn build(base: &Sample, now: &Sample, pods: &[PodInfo], node_name: &str) -> Summary {
    let window = now.at.saturating_duration_since(base.at);
    let time = now.time.to_string();
    let rate = |before: Option<u64>, after: Option<u64>| -> Option<u64> {
        let delta = after?.checked_sub(before?)?;
        let nanos = window.as_nanos();
        (nanos > 0)
            .then(|| u64::try_from(u128::from(delta) * 1_000_000_000 / nanos).unwrap_or(u64::MAX))
    };
    let cpu = |usage: Option<u64>, per_core: Option<u64>| CpuStats {
        time: time.clone(),
        usage_nano_cores: per_core,
        usage_core_nano_seconds: usage,
        window_seconds: Some(window.as_secs_f64()),
    };
    let node = NodeStats {
        node_name: node_name.to_owned(),
        cpu: now
            .node_cpu_nanos
            .map(|n| cpu(Some(n), rate(base.node_cpu_nanos, Some(n)))),
        memory: now.node_memory.map(|m| MemoryStats {
            time: time.clone(),
            usage_bytes: Some(m.total.saturating_sub(m.available)),
            working_set_bytes: Some(m.total.saturating_sub(m.available)),
            available_bytes: Some(m.available),
        }),
        fs: None,
    };
    let mut pod_stats = Vec::new();
    for pod in pods {
        let mut containers = Vec::new();
        for (name, id) in &pod.containers {
            let Some(sample) = now.containers.get(id) else {
                continue;
            };
            let before = base.containers.get(id).and_then(|b| b.cpu_nanos);
            let per_core = rate(before, sample.cpu_nanos).or(sample.runtime_nano_cores);
            containers.push(ContainerStats {
                name: name.clone(),
                cpu: sample.cpu_nanos.map(|n| cpu(Some(n), per_core)),
                memory: Some(MemoryStats {
                    time: time.clone(),
                    usage_bytes: sample.usage,
                    working_set_bytes: sample.working_set,
                    available_bytes: None,
                }),
            });
        }
        if containers.is_empty() {
            continue;
        }
        let sum = |f: &dyn Fn(&ContainerStats) -> Option<u64>| -> Option<u64> {
            containers
                .iter()
                .map(f)
                .fold(None, |acc, v| match (acc, v) {
                    (None, v) => v,
                    (acc, None) => acc,
                    (Some(a), Some(b)) => Some(a.saturating_add(b)),
                })
        };
        let cpu_total = sum(&|c| c.cpu.as_ref()?.usage_core_nano_seconds);
        let cores_total = sum(&|c| c.cpu.as_ref()?.usage_nano_cores);
        let working_set = sum(&|c| c.memory.as_ref()?.working_set_bytes);
        let usage = sum(&|c| c.memory.as_ref()?.usage_bytes);
        pod_stats.push(PodStats {
            pod_ref: PodReference {
                name: pod.name.clone(),
                namespace: pod.namespace.clone(),
                uid: pod.uid.clone(),
            },
            cpu: cpu_total.map(|n| cpu(Some(n), cores_total)),
            memory: Some(MemoryStats {
                time: time.clone(),
                usage_bytes: usage,
                working_set_bytes: working_set,
                available_bytes: None,
            }),
            containers,
            volumes: Vec::new(),
        });
    }
    Summary {
        node,
        pods: pod_stats,
    }
}

/// The handler.
pub(crate) async fn summary(State(api): State<Arc<Inner>>) -> Response {
    match api
        .stats
        .summary(
            &*api.runtime,
            &*api.pods,
            &api.node_name,
            api.node_fs_path.clone(),
        )
        .await
    {
        Ok(summary) => Json(summary).into_response(),
        Err(err) => status::internal("CRI ListContainerStats", &err).into_response(),
    }
}

#[cfg(test)]
mod tests;
