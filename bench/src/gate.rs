//! Waiting for the machine's node agents to go away. Every closet agent on a machine shares
//! the `closet0` bridge and the default pod CIDR, so a pod benchmark beside another agent
//! (an end-to-end test, another benchmark) would disturb both. A server runs an agent unless
//! `--disable-agent` is on its command line or `disable-agent: true` is in its `--config`.

use std::time::{Duration, Instant};

use anyhow::bail;

use crate::procs::{self, Proc};

/// A node bench's turn on the machine: waits (checking every 30 s, for at most 20 minutes)
/// until no other node agent runs, and says how long that took.
pub fn take_turn(bench: &str) -> anyhow::Result<()> {
    let waited = wait_for_no_agents(Duration::from_secs(30), Duration::from_secs(20 * 60))?;
    eprintln!(
        "{bench}: no other node agent running (waited {:.0} s)",
        waited.as_secs_f64()
    );
    Ok(())
}

/// Waits until no other `closet server` with an agent runs, seen idle on two checks
/// `interval` apart, for at most `patience`. Returns how long it waited.
pub fn wait_for_no_agents(interval: Duration, patience: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut idle_checks = 0;
    loop {
        let busy = agent_servers(&procs::all());
        if busy.is_empty() {
            idle_checks += 1;
            if idle_checks == 2 {
                return Ok(started.elapsed());
            }
        } else {
            idle_checks = 0;
            eprintln!(
                "closet-bench: waiting for {} closet server(s) with an agent: {}",
                busy.len(),
                busy.iter()
                    .map(|p| p.pid.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if started.elapsed() + interval > patience {
            bail!(
                "other closet servers with a node agent kept running for {patience:?}; \
                 run again when they are done (or pass --no-wait)"
            );
        }
        std::thread::sleep(if idle_checks == 1 {
            // The re-check: a test suite may be between two clusters.
            Duration::from_secs(5).min(interval)
        } else {
            interval
        });
    }
}

/// The PIDs of `closet server` processes with an agent running now, besides this run's
/// `own` server.
pub fn other_agents(own: u32) -> Vec<u32> {
    agent_servers(&procs::all())
        .into_iter()
        .map(|p| p.pid)
        .filter(|&pid| pid != own)
        .collect()
}

/// The `closet server` processes among `procs` that run a node agent.
fn agent_servers(procs: &[Proc]) -> Vec<Proc> {
    procs
        .iter()
        .filter(|p| is_server(&p.cmdline) && runs_agent(&p.cmdline, read_config))
        .cloned()
        .collect()
}

/// `…/closet server …` (not this benchmark, whose arguments never say `server` second).
fn is_server(cmdline: &str) -> bool {
    let mut args = cmdline.split(' ');
    let program = args.next().unwrap_or_default();
    program.rsplit('/').next() == Some("closet") && args.next() == Some("server")
}

/// Whether the server's flags, or the config file they name, leave the agent on.
fn runs_agent(cmdline: &str, read: impl Fn(&str) -> String) -> bool {
    let args: Vec<&str> = cmdline.split(' ').collect();
    if args
        .iter()
        .any(|a| *a == "--disable-agent" || *a == "--disable-agent=true")
    {
        return false;
    }
    let config = args
        .windows(2)
        .find(|w| w[0] == "--config")
        .map(|w| w[1].to_owned())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix("--config=").map(str::to_owned))
        });
    let Some(config) = config else {
        return true;
    };
    !read(&config)
        .lines()
        .any(|l| l.split('#').next().unwrap_or_default().trim() == "disable-agent: true")
}

fn read_config(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_told_from_other_commands() {
        assert!(is_server(
            "/work/target/debug/closet server --data-dir /tmp/x"
        ));
        assert!(is_server("closet server"));
        assert!(!is_server("/work/target/release/pod_bench --rounds 3"));
        assert!(!is_server("/usr/bin/closet agent --server https://x"));
        assert!(!is_server("/bin/grep closet server"));
    }

    #[test]
    fn the_agent_is_off_by_flag_or_by_config_file() {
        let none = |_: &str| String::new();
        let off = |_: &str| "node-name: x\ndisable-agent: true\n".to_owned();
        assert!(runs_agent("closet server --data-dir d", none));
        assert!(!runs_agent("closet server --disable-agent", none));
        assert!(!runs_agent("closet server --config /tmp/c.yaml", off));
        assert!(!runs_agent("closet server --config=/tmp/c.yaml", off));
        assert!(runs_agent("closet server --config /tmp/c.yaml", none));
    }
}
