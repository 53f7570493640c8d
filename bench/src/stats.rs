//! Latency samples and their summaries.

use std::time::Duration;

/// The outcome of one measured loop: how many operations, how long, and their latencies.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Operations that succeeded.
    pub ops: usize,
    /// Operations that failed (not in the latencies).
    pub errors: usize,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
    /// Wall time of the whole loop.
    pub elapsed: Duration,
    /// Latencies of the successful operations, sorted.
    pub sorted: Vec<Duration>,
}

impl Summary {
    /// Builds a summary, sorting `latencies`.
    pub fn new(
        mut latencies: Vec<Duration>,
        errors: usize,
        first_error: Option<String>,
        elapsed: Duration,
    ) -> Self {
        latencies.sort_unstable();
        Self {
            ops: latencies.len(),
            errors,
            first_error,
            elapsed,
            sorted: latencies,
        }
    }

    /// Adds `other`'s operations to this summary (the wall times add up too).
    pub fn merge(&mut self, other: Summary) {
        self.ops += other.ops;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.elapsed += other.elapsed;
        self.sorted.extend(other.sorted);
        self.sorted.sort_unstable();
    }

    /// Successful operations per second of wall time.
    pub fn per_sec(&self) -> f64 {
        if self.elapsed.is_zero() {
            return 0.0;
        }
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p` quantile (0.0..=1.0) of the latencies.
    pub fn quantile(&self, p: f64) -> Duration {
        quantile(&self.sorted, p)
    }

    /// Median latency.
    pub fn p50(&self) -> Duration {
        self.quantile(0.50)
    }

    /// 99th percentile latency.
    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    /// Largest latency.
    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }
}

/// The `p` quantile of sorted samples (nearest rank); zero for no samples.
pub fn quantile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// The median of some durations (sorted here).
pub fn median(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    quantile(&sorted, 0.5)
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// A duration as `1.23 ms` (or `1.23 s` from one second up).
pub fn fmt_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.2} ms", ms(d))
    }
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_the_nearest_rank() {
        let samples: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&samples, 0.5), 51);
        assert_eq!(quantile(&samples, 0.99), 99);
        assert_eq!(quantile(&samples, 1.0), 100);
        assert_eq!(quantile::<u32>(&[], 0.5), 0);
    }
}
