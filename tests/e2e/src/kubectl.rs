//! Running the real `kubectl` (the plain one on the PATH) against a cluster: one-shot commands
//! with a timeout, and long-running ones (`get -w`) in the background.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::Cluster;
use crate::process::run_with_timeout;

/// How long one kubectl command may run (scaled by the patience).
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// Whether a `kubectl` runs from the PATH.
pub fn kubectl_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("kubectl")
            .args(["version", "--client"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// What one kubectl run printed.
#[derive(Debug)]
pub struct KubectlOutput {
    /// The arguments, for messages.
    pub args: Vec<String>,
    /// How it exited.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl KubectlOutput {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The command and everything it printed, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "kubectl {} exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.args.join(" "),
            self.status,
            self.stdout,
            self.stderr
        )
    }
}

/// The base kubectl command for `cluster`, with its own `--cache-dir`.
pub(crate) fn command(cluster: &Cluster, cache_dir: &Path, namespace: Option<&str>) -> Command {
    let mut cmd = Command::new("kubectl");
    cmd.env("KUBECONFIG", cluster.kubeconfig())
        // No stray user config (aliases, kuberc) may change what kubectl sends.
        .env("HOME", cache_dir)
        .arg("--cache-dir")
        .arg(cache_dir);
    if let Some(ns) = namespace {
        cmd.args(["--namespace", ns]);
    }
    cmd
}

/// Runs kubectl to completion; times out (failing with the server log) after a minute.
pub(crate) fn run(
    cluster: &Cluster,
    cache_dir: &Path,
    namespace: Option<&str>,
    args: &[&str],
    stdin: Option<&str>,
) -> KubectlOutput {
    let mut cmd = command(cluster, cache_dir, namespace);
    cmd.args(args);
    finish(cluster, cmd, args, stdin)
}

/// Runs a prepared kubectl command to completion, with the same timeout.
fn finish(
    cluster: &Cluster,
    mut cmd: Command,
    args: &[&str],
    stdin: Option<&str>,
) -> KubectlOutput {
    let timeout = crate::scaled(KUBECTL_TIMEOUT);
    match run_with_timeout(&mut cmd, stdin.map(str::as_bytes), timeout) {
        Ok(out) => KubectlOutput {
            args: args.iter().map(|a| a.to_string()).collect(),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Err(e) => cluster.fail(e),
    }
}

/// A kubectl running in the background (`get -w`), its stdout read line by line.
/// Dropping it kills the process by its PID.
pub struct Background {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Background {
    pub(crate) fn spawn(mut cmd: Command) -> Result<Self, String> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let sink = stderr.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&text);
            }
        });
        Ok(Self {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        })
    }

    /// Waits up to `timeout` (scaled) for a stdout line matching `want`, and returns it.
    pub fn wait_for_line(
        &mut self,
        timeout: Duration,
        want: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        if let Some(line) = self.seen.iter().find(|l| want(l)) {
            return Ok(line.clone());
        }
        let deadline = Instant::now() + crate::scaled(timeout);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no matching line in time; {}", self.describe()));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("kubectl closed its output; {}", self.describe()));
                }
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Every stdout line read so far, and stderr.
    pub fn describe(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        let status = match self.child.try_wait() {
            Ok(Some(s)) => format!("exited with {s}"),
            _ => "still running".to_string(),
        };
        format!(
            "kubectl {status}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.seen.join("\n"),
            self.stderr.lock().unwrap_or_else(|e| e.into_inner())
        )
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// === impl Cluster ===

impl Cluster {
    /// Runs `kubectl args...` (cluster-wide, default namespace); does not check the result.
    pub fn kubectl(&self, args: &[&str]) -> KubectlOutput {
        run(
            self,
            &self.scratch().join("kubectl-cache"),
            None,
            args,
            None,
        )
    }

    /// Runs `kubectl args...` with extra environment variables (`EDITOR` for `kubectl edit`);
    /// does not check the result.
    pub fn kubectl_env(&self, args: &[&str], env: &[(&str, &str)]) -> KubectlOutput {
        let mut cmd = command(self, &self.scratch().join("kubectl-cache"), None);
        cmd.args(args);
        for (key, value) in env {
            cmd.env(key, value);
        }
        finish(self, cmd, args, None)
    }

    /// Runs kubectl, fails (with the server log) unless it exits 0, and returns stdout.
    #[track_caller]
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        if !out.success() {
            self.fail(out.describe());
        }
        out.stdout
    }

    /// Runs kubectl, fails unless it exits non-zero, and returns stderr.
    #[track_caller]
    pub fn kubectl_err(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        if out.success() {
            self.fail(format!("expected a failure; {}", out.describe()));
        }
        out.stderr
    }
}
