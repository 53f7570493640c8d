//! Whole-machine CPU and memory from `/proc/stat` and `/proc/meminfo`.

/// Clock ticks per second of `/proc/stat` (`USER_HZ`), 100 on every Linux architecture
/// closet runs on.
const USER_HZ: u64 = 100;

/// CPU time spent on anything but idling, in nanoseconds since boot, from `/proc/stat`.
pub(crate) fn busy_cpu_nanos(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is
    // already counted in user and nice.
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    let busy = at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
    Some(busy.saturating_mul(1_000_000_000 / USER_HZ))
}

/// Memory of the machine in bytes, from `/proc/meminfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Memory {
    /// `MemTotal`.
    pub(crate) total: u64,
    /// `MemAvailable`: what could be given to new work without swapping.
    pub(crate) available: u64,
}

/// Parses `/proc/meminfo`.
pub(crate) fn memory(meminfo: &str) -> Option<Memory> {
    let field = |name: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some(Memory {
        total: field("MemTotal")?,
        available: field("MemAvailable")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_time_leaves_out_idle_and_iowait() {
        let stat = "cpu  100 20 30 1000 50 5 5 10 7 0\ncpu0 1 2 3 4\nintr 1\n";
        assert_eq!(busy_cpu_nanos(stat), Some(170 * 10_000_000));
        assert_eq!(busy_cpu_nanos("intr 1\n"), None);
    }

    #[test]
    fn meminfo_in_bytes() {
        let text = "MemTotal:        8000000 kB\nMemFree:  1 kB\nMemAvailable:    6000000 kB\n";
        assert_eq!(
            memory(text),
            Some(Memory {
                total: 8_000_000 * 1024,
                available: 6_000_000 * 1024
            })
        );
        assert_eq!(memory("MemTotal: 1 kB\n"), None);
    }
}
