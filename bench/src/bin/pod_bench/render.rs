//! The tables printed at the end of a pod benchmark run.

use std::time::Duration;

use closet_bench::report::Table;
use closet_bench::server::Memory;
use closet_bench::stats::{fmt_duration, median, mib, quantile};

use crate::pods::{Batch, PodTimes};

/// The sizes of the run, for the table titles.
pub(crate) struct Plan {
    pub(crate) rounds: usize,
    pub(crate) singles: usize,
    pub(crate) batch: usize,
}

/// Everything measured.
#[derive(Default)]
pub(crate) struct Results {
    pub(crate) readyz: Duration,
    pub(crate) node_ready: Duration,
    pub(crate) idle: Memory,
    pub(crate) idle_tree: (u64, usize),
    pub(crate) containerd_idle: u64,
    pub(crate) with_pods: Memory,
    pub(crate) with_pods_tree: (u64, usize),
    pub(crate) containerd_with_pods: u64,
    pub(crate) shims_with_pods: usize,
    pub(crate) shims_rss_with_pods: u64,
    pub(crate) single: Vec<PodTimes>,
    pub(crate) batches: Vec<Batch>,
    pub(crate) raw_single: Vec<Duration>,
    pub(crate) raw_batch: Vec<Duration>,
    pub(crate) raw_batch_walls: Vec<Duration>,
    pub(crate) ctr_overhead: Vec<Duration>,
    pub(crate) cri_single: Vec<Duration>,
    pub(crate) cri_batch: Vec<Duration>,
    pub(crate) cri_batch_walls: Vec<Duration>,
    pub(crate) deletes: Vec<Duration>,
    pub(crate) stop: Duration,
    pub(crate) runtime_procs: Vec<(u32, String)>,
    pub(crate) ctr_left: Vec<String>,
    pub(crate) sandboxes_removed_at_end: usize,
    pub(crate) other_agents: Vec<u32>,
}

/// Target: a pod starts within this factor of a raw `ctr run`.
const RATIO_TARGET: f64 = 1.2;
/// Target: p99 pod startup.
const P99_TARGET: Duration = Duration::from_secs(1);
/// Target: the server's RSS with a full batch of pods, in MB.
const RSS_TARGET_MB: u64 = 40;

/// All the tables, as markdown.
pub(crate) fn render(r: &Results, plan: &Plan) -> String {
    let single: Vec<Duration> = sorted(r.single.iter().filter_map(|p| p.running));
    let batch_pods: Vec<&PodTimes> = r.batches.iter().flat_map(|b| &b.pods).collect();
    let batch: Vec<Duration> = sorted(batch_pods.iter().filter_map(|p| p.running));
    let raw_single = sorted(r.raw_single.iter().copied());
    let raw_batch = sorted(r.raw_batch.iter().copied());
    let cri_single = sorted(r.cri_single.iter().copied());
    let cri_batch = sorted(r.cri_batch.iter().copied());
    let n = plan.batch;

    let mut main = Table::new(&["measurement", ">result", "target", "baseline / notes"]);
    main.row([
        "start → /readyz 200 (agent on, fresh data dir)".to_owned(),
        fmt_duration(r.readyz),
        "–".to_owned(),
        "one sample".to_owned(),
    ]);
    main.row([
        "/readyz → Node Ready (containerd started, pause imported)".to_owned(),
        fmt_duration(r.node_ready),
        "–".to_owned(),
        "one sample".to_owned(),
    ]);
    for (what, closet, cri, raw) in [
        ("1 at a time", &single, &cri_single, &raw_single),
        (&*format!("{n} at once"), &batch, &cri_batch, &raw_batch),
    ] {
        for (q, label) in [(0.5, "p50"), (0.99, "p99")] {
            let (c, k, x) = (quantile(closet, q), quantile(cri, q), quantile(raw, q));
            let target = if label == "p99" {
                format!("{}; {}", max_verdict(c, P99_TARGET), ratio_verdict(c, x))
            } else {
                ratio_verdict(c, x)
            };
            main.row([
                format!(
                    "pod startup, {what}, create → Running: {label} of {}",
                    closet.len()
                ),
                fmt_duration(c),
                target,
                format!(
                    "`ctr run -d` {label} of {} {} (closet ÷ ctr = {}); \
                     CRI alone {label} of {} {} (closet ÷ CRI = {})",
                    raw.len(),
                    fmt_duration(x),
                    fmt_ratio(c, x),
                    cri.len(),
                    fmt_duration(k),
                    fmt_ratio(c, k),
                ),
            ]);
        }
    }
    let walls: Vec<Duration> = r.batches.iter().map(|b| b.wall).collect();
    main.row([
        format!(
            "{n} pods at once: first create → last Running, median of {}",
            walls.len()
        ),
        fmt_duration(median(&walls)),
        "–".to_owned(),
        format!(
            "CRI alone, first RunPodSandbox → last StartContainer answer: {}; \
             {n} `ctr run -d` at once, first start → last exit: {}",
            fmt_duration(median(&r.cri_batch_walls)),
            fmt_duration(median(&r.raw_batch_walls))
        ),
    ]);
    main.row([
        format!(
            "`ctr containers ls` (ctr's own start + one round trip), median of {}",
            r.ctr_overhead.len()
        ),
        fmt_duration(median(&r.ctr_overhead)),
        "–".to_owned(),
        "included in every `ctr run -d` sample".to_owned(),
    ]);
    main.row([
        "server RSS, Node Ready, 0 pods, 5 s idle (VmRSS / VmHWM)".to_owned(),
        format!("{} / {}", mib(r.idle.rss), mib(r.idle.hwm)),
        "–".to_owned(),
        tree_note(r.idle_tree, r.containerd_idle),
    ]);
    main.row([
        format!("server RSS, {n} pods Running, 10 s settle (VmRSS / VmHWM)"),
        format!("{} / {}", mib(r.with_pods.rss), mib(r.with_pods.hwm)),
        mb_verdict(r.with_pods_tree.0, RSS_TARGET_MB),
        format!(
            "{}; {} shims with their pause processes: {} in all",
            tree_note(r.with_pods_tree, r.containerd_with_pods),
            r.shims_with_pods,
            mib(r.shims_rss_with_pods)
        ),
    ]);
    main.row([
        format!(
            "delete → pods gone and sandboxes removed, median of {}",
            r.deletes.len()
        ),
        fmt_duration(median(&r.deletes)),
        "–".to_owned(),
        String::new(),
    ]);
    main.row([
        "server SIGTERM → exit (agent stops; containerd and pods stay)".to_owned(),
        fmt_duration(r.stop),
        "–".to_owned(),
        String::new(),
    ]);

    let mut spread = Table::new(&["start", ">samples", ">min", ">p50", ">p99", ">max"]);
    for (what, s) in [
        ("closet pod, 1 at a time".to_owned(), &single),
        (
            "CRI alone (sandbox + container), 1 at a time".to_owned(),
            &cri_single,
        ),
        ("`ctr run -d`, 1 at a time".to_owned(), &raw_single),
        (format!("closet pods, {n} at once"), &batch),
        (format!("CRI alone, {n} at once"), &cri_batch),
        (format!("`ctr run -d`, {n} at once"), &raw_batch),
    ] {
        spread.row([
            what,
            s.len().to_string(),
            fmt_duration(s.first().copied().unwrap_or_default()),
            fmt_duration(quantile(s, 0.5)),
            fmt_duration(quantile(s, 0.99)),
            fmt_duration(s.last().copied().unwrap_or_default()),
        ]);
    }

    let mut parts = Table::new(&[
        "part of a pod's start",
        ">1 pod: p50",
        ">1 pod: p99",
        &format!(">{n} at once: p50"),
        &format!(">{n} at once: p99"),
    ]);
    let singles: Vec<&PodTimes> = r.single.iter().collect();
    for (what, from, to) in PARTS {
        let a = part(&singles, *from, *to);
        let b = part(&batch_pods, *from, *to);
        parts.row([
            (*what).to_owned(),
            fmt_ms(quantile(&a, 0.5)),
            fmt_ms(quantile(&a, 0.99)),
            fmt_ms(quantile(&b, 0.5)),
            fmt_ms(quantile(&b, 0.99)),
        ]);
    }

    format!(
        "{}\n{} rounds; in each, three sides take turns (the first rotates): closet pods \
         through the API, the same pause image as a sandbox plus a container through CRI alone, \
         and `ctr run -d` of it (one container, no network), all on the agent's containerd. \
         Each side starts {} single pods one after the other, then {n} at once; everything is \
         deleted between samples.\n\n{}\n\
         Parts of each pod's start, from just before its create call: the API and watch times \
         as this process saw them, the sandbox and container times from containerd (CRI \
         `created_at`, `started_at`). Each row's quantiles are over pods, so the rows do not \
         add up.\n\n{}",
        main.render(),
        plan.rounds,
        plan.singles,
        spread.render(),
        parts.render()
    )
}

type Mark = fn(&PodTimes) -> Option<Duration>;

/// The parts of a start: (name, from, to), each mark measured from the create call.
const PARTS: &[(&str, Mark, Mark)] = &[
    (
        "create call answered",
        |_| Some(Duration::ZERO),
        |p| p.created,
    ),
    (
        "create → bound to the node (scheduler)",
        |_| Some(Duration::ZERO),
        |p| p.bound,
    ),
    (
        "bound → RunPodSandbox begins (agent sees the pod)",
        |p| p.bound,
        |p| p.sandbox_created,
    ),
    (
        "sandbox begins → container created (RunPodSandbox, CreateContainer)",
        |p| p.sandbox_created,
        |p| p.container_created,
    ),
    (
        "container created → started (StartContainer)",
        |p| p.container_created,
        |p| p.container_started,
    ),
    (
        "started → Running seen in the watch (status write, watch)",
        |p| p.container_started,
        |p| p.running,
    ),
    (
        "create → Running (the total)",
        |_| Some(Duration::ZERO),
        |p| p.running,
    ),
];

/// `to - from` in milliseconds for every pod that has both marks, sorted; negative when the
/// two clocks disagree by more than the gap.
fn part(pods: &[&PodTimes], from: Mark, to: Mark) -> Vec<f64> {
    let mut out: Vec<f64> = pods
        .iter()
        .filter_map(|p| Some(to(p)?.as_secs_f64() * 1e3 - from(p)?.as_secs_f64() * 1e3))
        .collect();
    out.sort_by(f64::total_cmp);
    out
}

fn fmt_ms(v: f64) -> String {
    format!("{v:.1} ms")
}

fn sorted(v: impl Iterator<Item = Duration>) -> Vec<Duration> {
    let mut v: Vec<Duration> = v.collect();
    v.sort_unstable();
    v
}

fn fmt_ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        return "–".to_owned();
    }
    format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
}

fn ratio_verdict(closet: Duration, raw: Duration) -> String {
    if raw.is_zero() {
        return "no baseline".to_owned();
    }
    let ratio = closet.as_secs_f64() / raw.as_secs_f64();
    if ratio <= RATIO_TARGET {
        format!("≤ {RATIO_TARGET}× ctr: met")
    } else {
        format!("≤ {RATIO_TARGET}× ctr: missed, {ratio:.2}×")
    }
}

fn max_verdict(value: Duration, limit: Duration) -> String {
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

fn mb_verdict(bytes: u64, target_mb: u64) -> String {
    let limit = target_mb * 1_000_000;
    if bytes <= limit {
        format!("≤ {target_mb} MB: met")
    } else {
        format!(
            "≤ {target_mb} MB: missed, {:.1}×",
            bytes as f64 / limit as f64
        )
    }
}

/// The process-tree note: the server's tree without containerd, and containerd beside it.
fn tree_note((tree_rss, others): (u64, usize), containerd: u64) -> String {
    format!(
        "server's process tree without containerd: {} ({others} processes besides the \
         server); containerd: {}",
        mib(tree_rss),
        mib(containerd)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_differences_of_marks_that_exist() {
        let ms = Duration::from_millis;
        let a = PodTimes {
            bound: Some(ms(10)),
            sandbox_created: Some(ms(15)),
            ..Default::default()
        };
        let b = PodTimes {
            bound: Some(ms(20)),
            ..Default::default()
        };
        let got = part(&[&a, &b], |p| p.bound, |p| p.sandbox_created);
        assert_eq!(got, vec![5.0]);
    }

    #[test]
    fn verdicts_compare_against_the_targets() {
        let ms = Duration::from_millis;
        assert_eq!(ratio_verdict(ms(120), ms(100)), "≤ 1.2× ctr: met");
        assert_eq!(ratio_verdict(ms(300), ms(100)), "≤ 1.2× ctr: missed, 3.00×");
        assert_eq!(mb_verdict(39_000_000, 40), "≤ 40 MB: met");
        assert_eq!(mb_verdict(60_000_000, 40), "≤ 40 MB: missed, 1.5×");
    }
}
