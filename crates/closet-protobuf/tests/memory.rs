//! Peak memory while decoding hostile 3 MiB bodies. Alone in its test binary, because the
//! measure (the process's peak resident set) is shared by every thread.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

/// The peak resident memory of this process, from /proc (Linux only).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn three_mebibyte_bodies_stay_within_memory_bounds() {
    let Some(before) = peak_rss_kib() else {
        eprintln!("no /proc/self/status: peak memory is not measured here");
        return;
    };
    let bodies = common::big_bodies();
    // Building the bodies is not the decoder's cost.
    let before = peak_rss_kib().unwrap().max(before);
    for (name, body) in &bodies {
        let value = closet_protobuf::decode(body).unwrap();
        drop(value);
        let peak = peak_rss_kib().unwrap();
        eprintln!(
            "{name}: peak RSS {} MiB above start",
            (peak - before) / 1024
        );
        // About 35 bytes of JSON values per input byte at worst (empty messages); a decoder
        // that trusted lengths or multiplied merges would blow far past this.
        assert!(peak - before < 256 * 1024, "{name}");
    }
}
