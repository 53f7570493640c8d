//! The tables printed at the end of a run: what was measured, beside its target and, where
//! one makes sense, a baseline measured in the same run.

use std::time::Duration;

use closet_bench::report::Table;
use closet_bench::server::Memory;
use closet_bench::stats::{Summary, fmt_duration, median, mib, ms, quantile};
use closet_bench::watch;

use crate::{RATE_PER_SEC, SMALL_NS_OBJECTS, Sizes};

/// Everything measured, for the tables.
#[derive(Default)]
pub(crate) struct Results {
    pub(crate) cold: Vec<Duration>,
    pub(crate) warm: Vec<Duration>,
    pub(crate) cold_rss: Vec<u64>,
    pub(crate) stops: Vec<Duration>,
    pub(crate) idle: Memory,
    pub(crate) baseline_store: Summary,
    pub(crate) bulk: Summary,
    pub(crate) value_bytes: usize,
    pub(crate) after_create: Memory,
    pub(crate) list_times: Vec<Duration>,
    pub(crate) list_bytes: usize,
    pub(crate) after_each_list: Vec<Memory>,
    pub(crate) idle_disk: Option<IdleDisk>,
    pub(crate) cells: Vec<(&'static str, usize, Summary)>,
    pub(crate) rate: Summary,
    pub(crate) rate_store: Summary,
    pub(crate) watch: Option<watch::Outcome>,
    pub(crate) before_watch: Memory,
    pub(crate) end: Memory,
    pub(crate) full_restart: Duration,
    pub(crate) full_restart_objects: usize,
    pub(crate) after_restart: Memory,
}

pub(crate) struct IdleDisk {
    pub(crate) window: Duration,
    pub(crate) written: u64,
    pub(crate) samples: Vec<u64>,
    pub(crate) db_before: (u64, u64),
    pub(crate) db_after: (u64, u64),
}

/// All the tables, as markdown.
pub(crate) fn render(r: &Results, plan: &Sizes) -> String {
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
            "raw store, 64 writers, {}-byte values, in alternating turns: {:.0}/s (p50 {}, p99 {}); API ÷ store = {:.2}{}",
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
        format!(
            "raw store at the same rate, in alternating 1 s turns: p99 {} (p50 {}, max {}); \
             API p99 ÷ store p99 = {:.2}{}. Open loop over 8 connections; latency from when \
             each request was due",
            fmt_duration(r.rate_store.p99()),
            fmt_duration(r.rate_store.p50()),
            fmt_duration(r.rate_store.max()),
            ms(r.rate.p99()) / ms(r.rate_store.p99()).max(f64::MIN_POSITIVE),
            errors_note(&r.rate_store)
        ),
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
