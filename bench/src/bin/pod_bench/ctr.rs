//! The raw baseline: `ctr run -d` of the same pause image on the agent's own containerd,
//! in a namespace of its own so the CRI plugin never sees these containers. Each command's
//! wall time is one sample: `ctr run -d` returns once the task has started.
//!
//! This is one container without networking, while a closet pod is a sandbox (a pause
//! container, a network namespace, the CNI bridge, veth and address) plus its container.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::Command;

/// The containerd namespace of the baseline's containers.
const NAMESPACE: &str = "closet-bench";
/// How long one `ctr` command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// `ctr` against one containerd socket.
pub(crate) struct Ctr {
    socket: PathBuf,
    /// Every container this run created and has not yet removed.
    live: Vec<String>,
}

impl Ctr {
    /// Copies the pause image from the CRI namespace into the baseline's namespace (an
    /// export and an import through `ctr`, all local), so both sides start the same image.
    pub(crate) async fn prepare(
        socket: &Path,
        image: &str,
        scratch: &Path,
    ) -> anyhow::Result<Self> {
        let ctr = Self {
            socket: socket.to_owned(),
            live: Vec::new(),
        };
        let archive = scratch.join("pause-image.tar");
        let archive_arg = archive.to_string_lossy().into_owned();
        ctr.run_ok("k8s.io", &["images", "export", &archive_arg, image])
            .await?;
        ctr.run_ok(NAMESPACE, &["images", "import", &archive_arg])
            .await?;
        Ok(ctr)
    }

    /// Starts one container per id at once; returns each `ctr run -d` wall time, in order,
    /// and the wall time of the whole batch.
    pub(crate) async fn run_batch(
        &mut self,
        image: &str,
        ids: &[String],
    ) -> anyhow::Result<(Vec<Duration>, Duration)> {
        self.live.extend(ids.iter().cloned());
        let this = &*self;
        let t0 = Instant::now();
        let runs = ids.iter().map(|id| async move {
            let start = Instant::now();
            this.run_ok(NAMESPACE, &["run", "-d", "--null-io", image, id])
                .await?;
            anyhow::Ok(start.elapsed())
        });
        let times = futures::future::try_join_all(runs).await?;
        Ok((times, t0.elapsed()))
    }

    /// Kills and removes every container this run started (tasks first, then containers
    /// with their snapshots); returns how many are left over.
    pub(crate) async fn remove_all(&mut self) -> usize {
        let ids = std::mem::take(&mut self.live);
        let this = &*self;
        let removals = ids.iter().map(|id| async move {
            let _ = this
                .run(NAMESPACE, &["tasks", "kill", "-s", "SIGKILL", id])
                .await;
            // `rm -f` waits for nothing: it deletes the task even if the kill is still
            // landing.
            let _ = this.run(NAMESPACE, &["tasks", "rm", "-f", id]).await;
            match this.run(NAMESPACE, &["containers", "rm", id]).await {
                Ok(out) if out.status.success() => None,
                _ => Some(id.clone()),
            }
        });
        let failed: Vec<String> = futures::future::join_all(removals)
            .await
            .into_iter()
            .flatten()
            .collect();
        let left = failed.len();
        self.live = failed;
        left
    }

    /// The wall time of `ctr containers ls -q`: `ctr`'s own start-up and one round trip to
    /// containerd, which every `ctr run -d` sample includes too.
    pub(crate) async fn overhead(&self) -> anyhow::Result<Duration> {
        let start = Instant::now();
        self.run_ok(NAMESPACE, &["containers", "ls", "-q"]).await?;
        Ok(start.elapsed())
    }

    /// The ids `ctr containers ls` still lists in the baseline's namespace.
    pub(crate) async fn listed(&self) -> anyhow::Result<Vec<String>> {
        let out = self.run_ok(NAMESPACE, &["containers", "ls", "-q"]).await?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    async fn run_ok(&self, namespace: &str, args: &[&str]) -> anyhow::Result<std::process::Output> {
        let out = self.run(namespace, args).await?;
        if !out.status.success() {
            bail!(
                "ctr -n {namespace} {} failed with {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(out)
    }

    async fn run(&self, namespace: &str, args: &[&str]) -> anyhow::Result<std::process::Output> {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(&self.socket)
            .args(["-n", namespace])
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match tokio::time::timeout(COMMAND_TIMEOUT, cmd.output()).await {
            Ok(out) => out.with_context(|| format!("running ctr {}", args.join(" "))),
            Err(_) => bail!("ctr {} took over {COMMAND_TIMEOUT:?}", args.join(" ")),
        }
    }
}
