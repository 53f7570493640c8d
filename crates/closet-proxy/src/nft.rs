//! The seam to nftables: [`Nftables`] applies a script in one transaction and removes
//! closet's table. [`Nft`] runs the `nft` command (package `nftables`); [`RecordingNft`]
//! records scripts for unit tests and fails on request.

use std::future::Future;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::render;

/// Why an nft transaction did not happen.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// The `nft` command is not installed.
    #[error(
        "`nft` is not installed, so Services are not reachable through this node; install the package `nftables` (`apt-get install nftables`)"
    )]
    Missing,
    /// `nft` could not be started or fed.
    #[error("running `nft`")]
    Run(#[source] std::io::Error),
    /// `nft` refused the script; nothing was changed.
    #[error("`nft -f` refused the ruleset: {0}")]
    Rejected(String),
}

/// Applies nft scripts, each in one atomic transaction.
pub trait Nftables: Send + Sync + 'static {
    /// Applies `script` whole, or not at all.
    fn apply(&self, script: &str) -> impl Future<Output = Result<(), NftError>> + Send;

    /// Removes closet's table, if there is one.
    fn delete_table(&self) -> impl Future<Output = Result<(), NftError>> + Send {
        async move { self.apply(&render::delete_script()).await }
    }
}

/// The real thing: `nft -f -` with the script on stdin.
#[derive(Clone, Debug, Default)]
pub struct Nft;

impl Nft {
    /// Checks `script` without applying it (`nft -c -f -`): the kernel validates the
    /// transaction and then aborts it.
    pub async fn check(&self, script: &str) -> Result<(), NftError> {
        run_nft(&["-c", "-f", "-"], script).await
    }
}

impl Nftables for Nft {
    async fn apply(&self, script: &str) -> Result<(), NftError> {
        run_nft(&["-f", "-"], script).await
    }
}

async fn run_nft(args: &[&str], script: &str) -> Result<(), NftError> {
    let mut child = Command::new("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => NftError::Missing,
            _ => NftError::Run(e),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .await
            .map_err(NftError::Run)?;
        // Dropping stdin closes it: nft reads to the end before it starts.
    }
    let output = child.wait_with_output().await.map_err(NftError::Run)?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // nft repeats the offending line under each error; the first lines say enough.
        let text: Vec<&str> = stderr.lines().take(12).collect();
        Err(NftError::Rejected(text.join("\n")))
    }
}

/// What [`RecordingNft`] saw.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Every script applied successfully, in order.
    pub applied: Vec<String>,
    /// How many attempts failed.
    pub failures: usize,
    /// How many of the next attempts are to fail.
    pub fail_next: usize,
}

/// A recording fake for unit tests: keeps every script and fails when asked to.
#[derive(Clone, Debug, Default)]
pub struct RecordingNft(pub Arc<Mutex<Recorded>>);

impl RecordingNft {
    /// The scripts applied so far.
    pub fn applied(&self) -> Vec<String> {
        self.lock().applied.clone()
    }

    /// Makes the next `n` attempts fail.
    pub fn fail_next(&self, n: usize) {
        self.lock().fail_next = n;
    }

    /// How many attempts failed.
    pub fn failures(&self) -> usize {
        self.lock().failures
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Nftables for RecordingNft {
    async fn apply(&self, script: &str) -> Result<(), NftError> {
        let mut recorded = self.lock();
        if recorded.fail_next > 0 {
            recorded.fail_next -= 1;
            recorded.failures += 1;
            return Err(NftError::Rejected("refused on purpose".to_owned()));
        }
        recorded.applied.push(script.to_owned());
        Ok(())
    }
}
