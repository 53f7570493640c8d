//! The `closet server` child process: finding the release binary, starting it on a free port
//! of 127.0.0.1, timing it to `/readyz`, reading its memory and disk counters from `/proc`,
//! and stopping it by its PID.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::probe::Probe;

/// How long a start may take before the benchmark gives up.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long SIGTERM may take before the benchmark gives up.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Pause between two `/readyz` probes; small, since it bounds the start-up resolution.
const PROBE_INTERVAL: Duration = Duration::from_millis(2);

/// `target/release/closet` of this workspace (or of `CARGO_TARGET_DIR`), or an error that
/// says how to build it.
pub fn release_binary() -> anyhow::Result<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("bench/ has no parent directory")?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let binary = target.join("release").join("closet");
    if !binary.is_file() {
        bail!(
            "{} is missing: build it first with `cargo build --release -p closet` \
             (the benchmark measures the release binary only)",
            binary.display()
        );
    }
    Ok(binary)
}

/// Memory numbers of a process, from `/proc/PID/status`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    /// Resident set size now (`VmRSS`), in bytes.
    pub rss: u64,
    /// Peak resident set size (`VmHWM`), in bytes.
    pub hwm: u64,
}

/// What the benchmarked server runs besides the API.
#[derive(Clone, Copy, Debug)]
pub enum Role<'a> {
    /// The API server alone (`--disable-agent`).
    ApiOnly,
    /// The API server and its node agent, as the node with this name.
    Node(&'a str),
}

impl Role<'_> {
    /// How long a start may take: a node starts containerd too.
    fn start_timeout(self) -> Duration {
        match self {
            Role::ApiOnly => START_TIMEOUT,
            Role::Node(_) => START_TIMEOUT * 2,
        }
    }

    /// What the watchdog sends when the benchmark dies: SIGKILL for the API alone, SIGTERM
    /// for a node, so that the agent stops its containerd (the pods outlive it by design and
    /// need cleaning up by hand; `pod_bench` prints its run directory at start).
    fn watchdog_signal(self) -> &'static str {
        match self {
            Role::ApiOnly => "-9",
            Role::Node(_) => "-TERM",
        }
    }
}

/// A running `closet server` owned by this process. Dropping it kills the server (SIGKILL);
/// [`Server::stop`] ends it with SIGTERM and times the shutdown.
pub struct Server {
    child: Child,
    watchdog: Option<Child>,
    port: u16,
    scratch: PathBuf,
}

impl Server {
    /// Starts the server with its data dir, kubeconfig and log under `scratch` (which may hold
    /// the data of an earlier run: a warm start) and waits for `/readyz` to answer 200.
    /// Returns the server and the time from spawning the process to that first 200.
    pub fn start(binary: &Path, scratch: &Path, probe: &Probe) -> anyhow::Result<(Self, Duration)> {
        Self::start_as(binary, scratch, probe, Role::ApiOnly)
    }

    /// [`Server::start`] in the given [`Role`].
    pub fn start_as(
        binary: &Path,
        scratch: &Path,
        probe: &Probe,
        role: Role<'_>,
    ) -> anyhow::Result<(Self, Duration)> {
        let port = free_port()?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(scratch.join("server.log"))
            .context("opening the server log")?;
        let mut cmd = Command::new(binary);
        cmd.arg("server")
            .arg("--data-dir")
            .arg(scratch.join("data"))
            .args(["--https-listen-port", &port.to_string()])
            .args(["--bind-address", "127.0.0.1"])
            .arg("--write-kubeconfig")
            .arg(scratch.join("kubeconfig.yaml"))
            // Benchmarks stay on this machine: no registry lookups over the network.
            .arg("--registry-lookups-local-only");
        match role {
            Role::ApiOnly => {
                cmd.arg("--disable-agent");
            }
            Role::Node(name) => {
                // Defaults only: no file a user may have in /etc/closet applies.
                cmd.args(["--config", "/dev/null"])
                    .args(["--node-name", name])
                    .args(["--node-api-port", "0"])
                    .env("NO_COLOR", "1");
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Settings from the caller's environment would make runs incomparable.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("CLOSET_") {
                cmd.env_remove(key);
            }
        }
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut server = Self {
            watchdog: watchdog(child.id(), role.watchdog_signal()),
            child,
            port,
            scratch: scratch.to_owned(),
        };
        let timeout = role.start_timeout();
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "closet server exited with {status} before it was ready; its log:\n{}",
                    server.log_tail()
                );
            }
            if let Ok(200) = probe.status(port, "/readyz") {
                return Ok((server, started.elapsed()));
            }
            if started.elapsed() > timeout {
                bail!(
                    "closet server not ready after {timeout:?}; its log:\n{}",
                    server.log_tail()
                );
            }
            std::thread::sleep(PROBE_INTERVAL);
        }
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The HTTPS port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> PathBuf {
        self.scratch.join("kubeconfig.yaml")
    }

    /// The server's `--data-dir`.
    pub fn data_dir(&self) -> PathBuf {
        self.scratch.join("data")
    }

    /// The SQLite database file and its WAL.
    pub fn db_files(&self) -> (PathBuf, PathBuf) {
        let db = self.data_dir().join("server").join("db").join("state.db");
        let wal = db.with_file_name("state.db-wal");
        (db, wal)
    }

    /// Sizes in bytes of the database file and the WAL (0 when absent).
    pub fn db_sizes(&self) -> (u64, u64) {
        let (db, wal) = self.db_files();
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        (size(&db), size(&wal))
    }

    /// `VmRSS` and `VmHWM` of the server now.
    pub fn memory(&self) -> anyhow::Result<Memory> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let kib = |field: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .with_context(|| format!("{path} has no {field}"))?;
            let value = line.trim().trim_end_matches("kB").trim();
            Ok(value.parse::<u64>()? * 1024)
        };
        Ok(Memory {
            rss: kib("VmRSS:")?,
            hwm: kib("VmHWM:")?,
        })
    }

    /// Bytes the server has caused to be written to storage (`write_bytes` of
    /// `/proc/PID/io`), since it started.
    pub fn write_bytes(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/io", self.pid());
        let io = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        io.lines()
            .find_map(|l| l.strip_prefix("write_bytes:")?.trim().parse().ok())
            .with_context(|| format!("{path} has no write_bytes"))
    }

    /// Sends SIGTERM and waits for the exit; returns how long the shutdown took.
    pub fn stop(mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        signal(self.pid(), "-TERM");
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!(
                        "closet server exited with {status} after SIGTERM; its log:\n{}",
                        self.log_tail()
                    );
                }
                return Ok(started.elapsed());
            }
            if started.elapsed() > STOP_TIMEOUT {
                bail!("closet server still running {STOP_TIMEOUT:?} after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The last lines of the server log, for error messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.scratch.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Sends a signal with `kill(1)`, by PID (the workspace forbids unsafe code, so no libc).
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A shell that sends `sig` to the server (by PID) if this benchmark dies without stopping
/// it, for example on Ctrl-C; it exits on its own when the server is gone.
fn watchdog(server: u32, sig: &str) -> Option<Child> {
    let script = r#"
        while kill -0 "$1" 2>/dev/null; do
            kill -0 "$2" 2>/dev/null || { kill "$3" "$1" 2>/dev/null; exit 0; }
            sleep 1
        done
    "#;
    Command::new("sh")
        .args(["-c", script, "closet-bench-watchdog"])
        .arg(server.to_string())
        .arg(std::process::id().to_string())
        .arg(sig)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}
