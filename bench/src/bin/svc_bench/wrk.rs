//! `wrk` run inside the client pod's network namespace (`nsenter --net=…`), so its traffic
//! takes a pod's path: out of the pod's veth onto the bridge, and for a ClusterIP through
//! the host's routing and the proxy's nftables DNAT back to the backend's veth. Its summary
//! is parsed into [`Round`]s.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::Command;

/// The load of one `wrk` run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Load {
    pub(crate) threads: usize,
    pub(crate) connections: usize,
    pub(crate) duration: Duration,
}

/// What one `wrk` run reported.
#[derive(Clone, Debug, Default)]
pub(crate) struct Round {
    /// Requests per second over the run.
    pub(crate) rps: f64,
    /// Requests completed.
    pub(crate) requests: u64,
    /// Median and 99th percentile latency.
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    /// Socket errors (connect, read, write, timeout) and non-2xx/3xx answers.
    pub(crate) errors: u64,
}

/// Whether `wrk` can be started.
pub(crate) fn available() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Runs `wrk` against `http://target/` in the network namespace of `pid`.
pub(crate) async fn run(pid: u32, target: SocketAddr, load: Load) -> anyhow::Result<Round> {
    let out = Command::new("nsenter")
        .arg(format!("--net=/proc/{pid}/ns/net"))
        .arg("wrk")
        .args(["-t", &load.threads.to_string()])
        .args(["-c", &load.connections.to_string()])
        .args(["-d", &format!("{}s", load.duration.as_secs().max(1))])
        .arg("--latency")
        .arg(format!("http://{target}/"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("running wrk under nsenter")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk against {target} failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    parse(&stdout).with_context(|| format!("reading wrk's summary:\n{stdout}"))
}

/// Reads the numbers of a `wrk --latency` summary.
fn parse(summary: &str) -> anyhow::Result<Round> {
    let mut round = Round::default();
    let mut rps = None;
    for line in summary.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", value] => rps = Some(value.parse::<f64>()?),
            [count, "requests", "in", ..] => round.requests = count.parse()?,
            ["50%", value] => round.p50 = latency(value)?,
            ["99%", value] => round.p99 = latency(value)?,
            ["Socket", "errors:", rest @ ..] => {
                // connect 0, read 1, write 0, timeout 0
                round.errors += rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum::<u64>();
            }
            ["Non-2xx", "or", "3xx", "responses:", count] => {
                round.errors += count.parse::<u64>()?
            }
            _ => {}
        }
    }
    round.rps = rps.context("no Requests/sec line")?;
    Ok(round)
}

/// A wrk latency such as `812.00us`, `1.23ms` or `1.01s`.
fn latency(value: &str) -> anyhow::Result<Duration> {
    // Nanoseconds per unit.
    let (number, scale) = if let Some(n) = value.strip_suffix("us") {
        (n, 1e3)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1e6)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1e9)
    } else if let Some(n) = value.strip_suffix('m') {
        (n, 60e9)
    } else {
        bail!("unknown latency unit in {value:?}")
    };
    let nanos = (number.parse::<f64>()? * scale).round();
    if !(0.0..1e18).contains(&nanos) {
        bail!("latency {value:?} out of range");
    }
    // In range and rounded: the conversion is exact.
    Ok(Duration::from_nanos(nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_read() {
        let summary = "Running 10s test @ http://10.42.0.5:8080/
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.23ms  310.00us   9.80ms   80.00%
    Req/Sec     3.10k   120.00     3.40k    70.00%
  Latency Distribution
     50%    1.10ms
     75%    1.40ms
     90%    1.70ms
     99%    2.50ms
  61234 requests in 10.00s, 9.87MB read
  Socket errors: connect 0, read 3, write 1, timeout 0
  Non-2xx or 3xx responses: 2
Requests/sec:   6123.40
Transfer/sec:      0.99MB
";
        let round = parse(summary).expect("parsed");
        assert!((round.rps - 6123.4).abs() < 1e-9);
        assert_eq!(round.requests, 61234);
        assert_eq!(round.p50, Duration::from_micros(1100));
        assert_eq!(round.p99, Duration::from_micros(2500));
        assert_eq!(round.errors, 6);
    }

    #[test]
    fn latencies_carry_their_unit() {
        assert_eq!(latency("812.00us").expect("us"), Duration::from_micros(812));
        assert_eq!(latency("1.01s").expect("s"), Duration::from_millis(1010));
        assert!(latency("12xs").is_err());
        assert!(parse("garbage").is_err());
    }
}
