//! The tables printed at the end of a Service benchmark run.

use std::time::Duration;

use closet_bench::report::Table;
use closet_bench::stats::{fmt_duration, quantile};

use crate::wrk::{Load, Round};

/// Target (issue 6): the proxy costs at most this share of the pod-to-pod request rate.
const OVERHEAD_TARGET_PERCENT: f64 = 5.0;
/// Target (issue 6): a new Service answers by name within this time.
const REACHABLE_TARGET: Duration = Duration::from_secs(1);

/// Where a `wrk` round sent its requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    /// The backend pod's own address: the bridge alone.
    PodIp,
    /// The Service's ClusterIP: the host's routing and the proxy's DNAT.
    ClusterIp,
}

impl Path {
    fn label(self) -> &'static str {
        match self {
            Path::PodIp => "pod IP",
            Path::ClusterIp => "ClusterIP",
        }
    }
}

/// One new Service's timings, each from its create call returning.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServiceTimes {
    /// How long the create call itself took.
    pub(crate) create: Duration,
    /// The first A answer with its ClusterIP from the cluster DNS.
    pub(crate) dns: Option<Duration>,
    /// The first HTTP 200 through its ClusterIP from inside the client pod.
    pub(crate) http: Option<Duration>,
}

/// Everything measured.
#[derive(Default)]
pub(crate) struct Results {
    pub(crate) readyz: Duration,
    pub(crate) node_ready: Duration,
    pub(crate) image_import: Duration,
    pub(crate) pods_ready: Duration,
    pub(crate) load: Option<Load>,
    pub(crate) targets: Vec<(Path, String)>,
    pub(crate) rounds: Vec<(Path, Round)>,
    pub(crate) services: Vec<ServiceTimes>,
    pub(crate) service_errors: Vec<String>,
    pub(crate) other_agents: Vec<u32>,
    pub(crate) sandboxes_removed_at_end: usize,
}

/// All the tables, as markdown.
pub(crate) fn render(r: &Results) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Setup: `/readyz` after {}, Node Ready after {}, busybox image imported in {}, \
         backend and client pods Ready in {}.\n\n",
        fmt_duration(r.readyz),
        fmt_duration(r.node_ready),
        fmt_duration(r.image_import),
        fmt_duration(r.pods_ready),
    ));
    out.push_str(&proxy(r));
    out.push_str(&services(r));
    out
}

fn proxy(r: &Results) -> String {
    let mut out = String::new();
    let Some(load) = r.load else {
        return out;
    };
    out.push_str(&format!(
        "### Service proxy: HTTP requests per second, pod IP vs ClusterIP\n\n\
         `wrk -t{} -c{} -d{}s` from inside a client pod's network namespace (one client pod per path), rounds \
         alternating between the backend's pod IP and its Service's ClusterIP. busybox \
         `httpd` closes every connection after one answer (no keep-alive), so every request \
         is a new connection: a new conntrack entry and NAT lookup each time, the worst case \
         for a NAT proxy.\n\n",
        load.threads,
        load.connections,
        load.duration.as_secs()
    ));
    let mut rounds = Table::new(&[
        ">round",
        "path",
        "address",
        ">req/s",
        ">p50",
        ">p99",
        ">requests",
        ">errors",
    ]);
    let mut counters = [0usize; 2];
    for (path, round) in &r.rounds {
        let k = usize::from(*path == Path::ClusterIp);
        counters[k] += 1;
        let address = r
            .targets
            .iter()
            .find(|(p, _)| p == path)
            .map_or("", |(_, a)| a.as_str());
        rounds.row([
            counters[k].to_string(),
            path.label().to_owned(),
            format!("`{address}`"),
            format!("{:.0}", round.rps),
            fmt_duration(round.p50),
            fmt_duration(round.p99),
            round.requests.to_string(),
            round.errors.to_string(),
        ]);
    }
    out.push_str(&rounds.render());
    out.push('\n');

    let mean = |path: Path| {
        let rates: Vec<f64> = r
            .rounds
            .iter()
            .filter(|(p, _)| *p == path)
            .map(|(_, round)| round.rps)
            .collect();
        (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64)
    };
    let mut summary = Table::new(&["path", ">mean req/s", ">vs pod IP"]);
    let pod = mean(Path::PodIp);
    let cluster = mean(Path::ClusterIp);
    for (path, rate) in [(Path::PodIp, pod), (Path::ClusterIp, cluster)] {
        let ratio = match (rate, pod) {
            (Some(rate), Some(pod)) if pod > 0.0 => format!("{:.3}", rate / pod),
            _ => "-".to_owned(),
        };
        summary.row([
            path.label().to_owned(),
            rate.map_or("-".to_owned(), |v| format!("{v:.0}")),
            ratio,
        ]);
    }
    out.push_str(&summary.render());
    if let (Some(pod), Some(cluster)) = (pod, cluster)
        && pod > 0.0
    {
        out.push_str(&format!(
            "\nProxy overhead (1 - ClusterIP req/s / pod IP req/s, from the means): \
             **{:.1} %** (target ≤ {OVERHEAD_TARGET_PERCENT} %).\n\n",
            (1.0 - cluster / pod) * 100.0
        ));
    }
    out
}

fn services(r: &Results) -> String {
    let mut out = format!(
        "### New Service: create → name resolves, create → ClusterIP answers\n\n\
         {} Services created one after the other (each as `kubectl create service clusterip` \
         makes it, selecting the Ready backend); times from the create call returning to the \
         first A answer with the ClusterIP from the cluster DNS (UDP from the host, every \
         5 ms) and to the first HTTP 200 through the ClusterIP from inside the client pod (a \
         new attempt every 5 ms).\n\n",
        r.services.len() + r.service_errors.len()
    );
    let mut table = Table::new(&["measure", ">n", ">median", ">p90", ">max", "target"]);
    let create: Vec<Duration> = r.services.iter().map(|s| s.create).collect();
    let dns: Vec<Duration> = r.services.iter().filter_map(|s| s.dns).collect();
    let http: Vec<Duration> = r.services.iter().filter_map(|s| s.http).collect();
    let both: Vec<Duration> = r
        .services
        .iter()
        .filter_map(|s| Some(s.dns?.max(s.http?)))
        .collect();
    let rows = [
        ("create call (POST)", create, String::new()),
        ("→ DNS A answer", dns, String::new()),
        ("→ HTTP 200 via ClusterIP", http, String::new()),
        (
            "→ both (reachable by name)",
            both,
            format!("≤ {}", fmt_duration(REACHABLE_TARGET)),
        ),
    ];
    for (label, mut samples, target) in rows {
        samples.sort_unstable();
        table.row([
            label.to_owned(),
            samples.len().to_string(),
            fmt_duration(quantile(&samples, 0.5)),
            fmt_duration(quantile(&samples, 0.9)),
            fmt_duration(samples.last().copied().unwrap_or_default()),
            target,
        ]);
    }
    out.push_str(&table.render());
    for e in &r.service_errors {
        out.push_str(&format!("\n- failed: {e}"));
    }
    out.push('\n');
    out
}
