//! HTTP answers through a pod's network namespace, so the time covers a pod's path to a
//! ClusterIP (bridge, host routing, the proxy's DNAT): the bench starts itself again under
//! `nsenter --net=/proc/<client sandbox pid>/ns/net` in prober mode ([`serve`]): that child
//! reads one `ip:port` per line on stdin, starts a GET to it every [`ATTEMPT_EVERY`] (each
//! attempt on its own, since a SYN sent before the proxy's rule exists is dropped silently
//! and only retried a second later), and writes `ok` as soon as one gets a `200`, or `fail`
//! and the last error after [`GIVE_UP`]. The parent ([`Prober`]) times from its own clock.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinSet;

/// A new attempt starts this often until one succeeds.
const ATTEMPT_EVERY: Duration = Duration::from_millis(5);
/// How long one attempt (connect, request, answer) may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the prober keeps trying one address.
pub(crate) const GIVE_UP: Duration = Duration::from_secs(30);

/// The prober child, running in the client pod's network namespace.
pub(crate) struct Prober {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Prober {
    /// Starts this executable with `--http-prober` in the network namespace of `pid`.
    pub(crate) fn start(pid: u32) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let mut child = Command::new("nsenter")
            .arg(format!("--net=/proc/{pid}/ns/net"))
            .arg(exe)
            .arg("--http-prober")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the prober under nsenter")?;
        let stdin = child.stdin.take().context("the prober's stdin")?;
        let stdout = child.stdout.take().context("the prober's stdout")?;
        Ok(Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
        })
    }

    /// Asks for the first HTTP 200 from `target`; returns how long it took on this side,
    /// from the call to the answer.
    pub(crate) async fn first_answer(&mut self, target: SocketAddr) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.stdin
            .write_all(format!("{target}\n").as_bytes())
            .await
            .context("writing to the prober")?;
        self.stdin.flush().await?;
        let line = self
            .lines
            .next_line()
            .await
            .context("reading from the prober")?
            .context("the prober exited")?;
        let took = started.elapsed();
        match line.split_once(' ') {
            Some(("ok", _)) => Ok(took),
            _ => bail!("no HTTP answer from {target} inside the client pod: {line}"),
        }
    }

    /// Ends the prober (closing its stdin ends its loop) and waits for it; kills it by its
    /// PID if it lingers.
    pub(crate) async fn stop(mut self) {
        drop(self.stdin);
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Prober mode: the loop described in the module docs, on stdin and stdout.
pub(crate) fn serve() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        let mut out = tokio::io::stdout();
        while let Some(line) = lines.next_line().await? {
            let target: SocketAddr = line
                .trim()
                .parse()
                .with_context(|| format!("prober: not an address: {line:?}"))?;
            let started = Instant::now();
            let answer = match poll(target).await {
                Ok(()) => format!("ok {}\n", started.elapsed().as_micros()),
                Err(e) => format!("fail {} {e:#}\n", started.elapsed().as_micros()),
            };
            out.write_all(answer.as_bytes()).await?;
            out.flush().await?;
        }
        anyhow::Ok(())
    })
}

/// Starts an attempt every [`ATTEMPT_EVERY`] until one gets a 200 or [`GIVE_UP`] passes.
async fn poll(target: SocketAddr) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut attempts = JoinSet::new();
    let mut tick = tokio::time::interval(ATTEMPT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_error = String::from("no attempt finished");
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if started.elapsed() > GIVE_UP {
                    bail!("{last_error}");
                }
                attempts.spawn(tokio::time::timeout(ATTEMPT_TIMEOUT, get(target)));
            }
            Some(done) = attempts.join_next() => match done {
                Ok(Ok(Ok(()))) => return Ok(()),
                Ok(Ok(Err(e))) => last_error = format!("{e:#}"),
                Ok(Err(_)) => last_error = format!("no answer within {ATTEMPT_TIMEOUT:?}"),
                Err(e) => last_error = e.to_string(),
            },
        }
    }
}

/// One `GET /` over HTTP/1.0; Ok if the status line says 200.
async fn get(target: SocketAddr) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(target).await?;
    stream
        .write_all(format!("GET / HTTP/1.0\r\nHost: {target}\r\n\r\n").as_bytes())
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let status = answer.split(|&b| b == b'\n').next().unwrap_or_default();
    let status = String::from_utf8_lossy(status);
    if status.starts_with("HTTP/1.") && status.split(' ').nth(1) == Some("200") {
        Ok(())
    } else {
        bail!("answered {:?}", status.trim())
    }
}

/// Whether `nsenter` is there to start the prober and `wrk` with.
pub(crate) fn nsenter_available() -> bool {
    ["/usr/bin/nsenter", "/bin/nsenter"]
        .iter()
        .any(|p| Path::new(p).exists())
}
