//! The sync loop: on every change (after a short debounce that folds bursts of watch events
//! into one), render the whole table and apply it in one transaction, but only when the
//! script differs from the last one applied. One transaction at a time; a failed one is
//! retried with back-off. On shutdown the table is removed.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::nft::{NftError, Nftables};

/// Timing of the loop.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How long to wait after a change for more changes before syncing.
    pub debounce: Duration,
    /// The first retry delay after a failed transaction; it doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// The longest retry delay.
    pub max_backoff: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(50),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// Runs until `shutdown` resolves: `script()` renders the current state, `changed` is
/// notified whenever that state may have changed. Removes the table before returning.
pub async fn run<N: Nftables>(
    nft: &N,
    script: impl Fn() -> String,
    changed: Arc<Notify>,
    timing: Timing,
    shutdown: impl Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_applied: Option<String> = None;
    let mut backoff = timing.min_backoff;
    let mut reported_missing = false;
    loop {
        let wanted = script();
        if last_applied.as_deref() != Some(wanted.as_str()) {
            match nft.apply(&wanted).await {
                Ok(()) => {
                    tracing::debug!(bytes = wanted.len(), "service rules applied");
                    if reported_missing {
                        tracing::info!("`nft` found: Services are reachable again");
                        reported_missing = false;
                    }
                    last_applied = Some(wanted);
                    backoff = timing.min_backoff;
                }
                Err(err) => {
                    match &err {
                        // Said once; the node's condition keeps saying it.
                        NftError::Missing if reported_missing => {}
                        NftError::Missing => {
                            tracing::warn!("{err}");
                            reported_missing = true;
                        }
                        _ => tracing::warn!(
                            "applying the service rules failed, retrying in {backoff:?}: {}",
                            crate::error_chain(&err)
                        ),
                    }
                    last_applied = None;
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(timing.max_backoff);
                    continue;
                }
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = changed.notified() => {}
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(timing.debounce) => {}
        }
    }
    if last_applied.is_some() || !reported_missing {
        match nft.delete_table().await {
            Ok(()) => tracing::info!("service rules removed"),
            Err(NftError::Missing) => {}
            Err(err) => tracing::warn!("removing the service rules: {}", crate::error_chain(&err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nft::RecordingNft;
    use std::sync::Mutex;

    fn quick() -> Timing {
        Timing {
            debounce: Duration::from_millis(1),
            min_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
        }
    }

    async fn wait_until(what: &str, check: impl Fn() -> bool) {
        for _ in 0..2000 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("never happened: {what}");
    }

    #[tokio::test]
    async fn applies_changes_once_each_retries_failures_and_removes_the_table() {
        let nft = RecordingNft::default();
        let state = Arc::new(Mutex::new("v1".to_owned()));
        let changed = Arc::new(Notify::new());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = {
            let nft = nft.clone();
            let state = state.clone();
            let changed = changed.clone();
            tokio::spawn(async move {
                run(
                    &nft,
                    move || state.lock().unwrap().clone(),
                    changed,
                    quick(),
                    async move {
                        let _ = stop_rx.await;
                    },
                )
                .await;
            })
        };
        wait_until("first apply", || nft.applied() == ["v1"]).await;

        // A notification without a change applies nothing.
        changed.notify_one();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(nft.applied(), ["v1"]);

        // A change that fails twice is retried until it lands.
        nft.fail_next(2);
        *state.lock().unwrap() = "v2".to_owned();
        changed.notify_one();
        wait_until("v2 after retries", || nft.applied() == ["v1", "v2"]).await;
        assert_eq!(nft.failures(), 2);

        stop_tx.send(()).unwrap();
        task.await.unwrap();
        let applied = nft.applied();
        assert_eq!(applied.len(), 3, "{applied:?}");
        assert_eq!(applied[2], crate::render::delete_script());
    }
}
