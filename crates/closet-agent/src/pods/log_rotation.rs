//! Container log rotation, as the kubelet does it: when a running container's CRI log file
//! passes the size limit, it is renamed aside and the runtime reopens a fresh one
//! (`ReopenContainerLog`); only the newest few rotated files are kept. Without this a chatty
//! pod would fill a home lab's SD card.

use std::path::{Path, PathBuf};

use closet_cri::{Runtime, cri};

/// The size a log file may reach before it is rotated (upstream's `containerLogMaxSize`).
pub const MAX_SIZE: u64 = 10 * 1024 * 1024;
/// How many files a container's log may span, the current one included
/// (upstream's `containerLogMaxFiles`).
pub const MAX_FILES: usize = 5;

/// Rotates `log` (the log file of running container `id`) if it has grown past `max_size`,
/// keeping at most `max_files - 1` rotated files beside it. Returns whether it rotated.
pub async fn rotate_if_needed(
    runtime: &dyn Runtime,
    id: &str,
    log: &Path,
    max_size: u64,
    max_files: usize,
) -> bool {
    let size = std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    if size <= max_size {
        return false;
    }
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%d-%H%M%S%.f")
        .to_string();
    let rotated = PathBuf::from(format!("{}.{stamp}", log.display()));
    if std::fs::rename(log, &rotated).is_err() {
        return false;
    }
    if let Err(err) = runtime
        .reopen_container_log(cri::ReopenContainerLogRequest {
            container_id: id.to_owned(),
        })
        .await
    {
        // The runtime still writes to the renamed file; put it back so nothing is lost.
        let _ = std::fs::rename(&rotated, log);
        tracing::warn!(
            "reopening the log of container {id}: {}",
            crate::error_text(&err)
        );
        return false;
    }
    prune(log, max_files.saturating_sub(1));
    true
}

/// Removes all but the newest `keep` rotated files of `log` (`<log>.<timestamp>`).
fn prune(log: &Path, keep: usize) {
    let (Some(dir), Some(name)) = (log.parent(), log.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let prefix = format!("{name}.");
    let mut rotated: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|e| e.path())
        .collect();
    // Timestamps sort as text.
    rotated.sort();
    let excess = rotated.len().saturating_sub(keep);
    for old in rotated.into_iter().take(excess) {
        let _ = std::fs::remove_file(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_log_past_the_limit_is_rotated_reopened_and_old_files_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("0.log");
        let fake = closet_cri::fake::FakeRuntime::new();
        std::fs::write(&log, vec![b'x'; 100]).unwrap();
        assert!(!rotate_if_needed(&fake, "c1", &log, 1000, 3).await);
        for round in 0..4 {
            std::fs::write(&log, vec![b'x'; 2000]).unwrap();
            assert!(
                rotate_if_needed(&fake, "c1", &log, 1000, 3).await,
                "round {round}"
            );
            // Distinct timestamps.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert!(!log.exists(), "the runtime (here a fake) reopens the file");
        let rotated = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(rotated, 2, "max 3 files: the current one and two rotated");
        assert_eq!(
            fake.calls()
                .iter()
                .filter(|c| **c == "ReopenContainerLog")
                .count(),
            4
        );
    }
}
