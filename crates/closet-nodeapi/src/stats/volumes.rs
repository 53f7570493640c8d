//! Filesystem usage of pod volumes and of the node: what `df` and `du` would say.
//!
//! Capacity, free space and inodes come from `statvfs` of the filesystem a directory is on,
//! which is cheap. What a volume uses comes from walking its tree, which is not: a volume
//! with a million files takes seconds. So walks run on the blocking pool, and each path's
//! result is kept for [`USAGE_TTL`] (kubelet, too, measures volumes about once a minute);
//! k9s and `kubectl df-pv` polling the summary every few seconds reuse it.

use std::collections::{HashMap, HashSet};
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::PodInfo;
use crate::summary::{FsStats, PodStats, PvcReference, VolumeStats};

/// How long a walked tree's usage is reused.
pub(crate) const USAGE_TTL: Duration = Duration::from_secs(60);

/// `st_blocks` counts 512-byte units whatever the filesystem's block size.
const STAT_BLOCK: u64 = 512;

/// What a walk of one tree found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TreeUsage {
    /// Allocated bytes (blocks, so sparse files count what they occupy, as `du` does).
    pub(crate) bytes: u64,
    /// Inodes: files, directories, links and the rest, the root included.
    pub(crate) inodes: u64,
}

/// Adds up the allocated blocks and the inodes of `root` and everything below it.
///
/// `root` itself is followed if it is a symbolic link (containers see what it points to);
/// below it, links count as themselves and are never followed. Directories on another
/// filesystem (something mounted inside the volume) are left out, as `du -x` does; a file
/// with several hard links in the tree counts once. Entries that vanish or cannot be read
/// while the walk runs are skipped: only an unreadable `root` is an error.
pub(crate) fn walk(root: &Path) -> io::Result<TreeUsage> {
    let top = std::fs::metadata(root)?;
    let device = top.dev();
    let mut usage = TreeUsage::default();
    let mut linked = HashSet::new();
    let mut count = |meta: &Metadata, usage: &mut TreeUsage| {
        if !meta.is_dir() && meta.nlink() > 1 && !linked.insert(meta.ino()) {
            return;
        }
        usage.bytes = usage
            .bytes
            .saturating_add(meta.blocks().saturating_mul(STAT_BLOCK));
        usage.inodes += 1;
    };
    count(&top, &mut usage);
    let mut pending = if top.is_dir() {
        vec![root.to_path_buf()]
    } else {
        Vec::new()
    };
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            // `DirEntry::metadata` does not follow links; a mount point shows the mounted
            // filesystem's root, hence its own device.
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.dev() != device {
                continue;
            }
            count(&meta, &mut usage);
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    Ok(usage)
}

/// The filesystem `path` is on, from `statvfs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Filesystem {
    /// Size in bytes.
    pub(crate) capacity: u64,
    /// Bytes an unprivileged writer may still use.
    pub(crate) available: u64,
    /// Bytes in use by anything.
    pub(crate) used: u64,
    /// Inodes in all.
    pub(crate) inodes: u64,
    /// Inodes free.
    pub(crate) inodes_free: u64,
}

/// `statvfs(path)`.
pub(crate) fn filesystem(path: &Path) -> io::Result<Filesystem> {
    let st = rustix::fs::statvfs(path).map_err(io::Error::from)?;
    let bytes = |blocks: u64| blocks.saturating_mul(st.f_frsize);
    Ok(Filesystem {
        capacity: bytes(st.f_blocks),
        available: bytes(st.f_bavail),
        used: bytes(st.f_blocks.saturating_sub(st.f_bfree)),
        inodes: st.f_files,
        inodes_free: st.f_ffree,
    })
}

/// The node's `fs` entry: the whole filesystem holding `path`.
pub(crate) fn node_fs(path: &Path) -> Option<FsStats> {
    let fs = filesystem(path)
        .inspect_err(|err| tracing::debug!(path = %path.display(), %err, "statvfs failed"))
        .ok()?;
    Some(FsStats {
        time: jiff::Timestamp::now().to_string(),
        available_bytes: Some(fs.available),
        capacity_bytes: Some(fs.capacity),
        used_bytes: Some(fs.used),
        inodes_free: Some(fs.inodes_free),
        inodes: Some(fs.inodes),
        inodes_used: Some(fs.inodes.saturating_sub(fs.inodes_free)),
    })
}

/// One walk's result, kept for [`USAGE_TTL`].
#[derive(Clone, Copy, Debug)]
struct Walked {
    at: Instant,
    time: jiff::Timestamp,
    usage: TreeUsage,
}

/// Measures volume directories, reusing recent walks.
#[derive(Debug, Default)]
pub(crate) struct VolumeMeter {
    walked: Mutex<HashMap<PathBuf, Walked>>,
}

impl VolumeMeter {
    /// Measures every volume of `volumes` that is still there, at `now`. Blocking: call it
    /// on the blocking pool.
    ///
    /// The cache stays locked for the whole batch, so a second summary asked for while a
    /// first one walks waits and then reuses its walks instead of walking the same trees.
    pub(crate) fn measure(
        &self,
        namespace: &str,
        volumes: &[crate::VolumeInfo],
        now: Instant,
    ) -> Vec<VolumeStats> {
        let mut walked = self.walked.lock().unwrap_or_else(|e| e.into_inner());
        walked.retain(|_, w| now.saturating_duration_since(w.at) < USAGE_TTL);
        let mut out = Vec::new();
        for volume in volumes {
            let path = &volume.host_path;
            let fresh = match walked.get(path) {
                Some(w) => Some(*w),
                None => match walk(path) {
                    Ok(usage) => {
                        let w = Walked {
                            at: now,
                            time: jiff::Timestamp::now(),
                            usage,
                        };
                        walked.insert(path.clone(), w);
                        Some(w)
                    }
                    // A pod being torn down loses its volume directories: leave the volume out.
                    Err(err) => {
                        tracing::debug!(path = %path.display(), %err, "volume not measured");
                        None
                    }
                },
            };
            let (Some(w), Ok(fs)) = (fresh, filesystem(path)) else {
                continue;
            };
            out.push(VolumeStats {
                fs: FsStats {
                    time: w.time.to_string(),
                    available_bytes: Some(fs.available),
                    capacity_bytes: Some(fs.capacity),
                    used_bytes: Some(w.usage.bytes),
                    inodes_free: Some(fs.inodes_free),
                    inodes: Some(fs.inodes),
                    inodes_used: Some(w.usage.inodes),
                },
                name: volume.name.clone(),
                pvc_ref: volume.claim_name.as_ref().map(|claim| PvcReference {
                    name: claim.clone(),
                    namespace: namespace.to_owned(),
                }),
            });
        }
        out
    }
}

/// Fills in each pod's `volume` entries and the node's `fs` (if `node_path` is given), off
/// the async threads. A failure leaves the numbers out, never the summary.
pub(crate) async fn fill(
    meter: Arc<VolumeMeter>,
    pods: &mut [PodStats],
    listed: &[PodInfo],
    node_path: Option<PathBuf>,
) -> Option<FsStats> {
    let jobs: Vec<(usize, String, Vec<crate::VolumeInfo>)> = pods
        .iter()
        .enumerate()
        .filter_map(|(i, stats)| {
            let info = listed
                .iter()
                .find(|p| p.namespace == stats.pod_ref.namespace && p.name == stats.pod_ref.name)?;
            (!info.volumes.is_empty()).then(|| (i, info.namespace.clone(), info.volumes.clone()))
        })
        .collect();
    let measured = tokio::task::spawn_blocking(move || {
        let now = Instant::now();
        let volumes: Vec<(usize, Vec<VolumeStats>)> = jobs
            .into_iter()
            .map(|(i, namespace, volumes)| (i, meter.measure(&namespace, &volumes, now)))
            .collect();
        (volumes, node_path.as_deref().and_then(node_fs))
    })
    .await;
    match measured {
        Ok((volumes, node)) => {
            for (i, stats) in volumes {
                if let Some(pod) = pods.get_mut(i) {
                    pod.volumes = stats;
                }
            }
            node
        }
        Err(err) => {
            tracing::warn!(%err, "measuring volumes failed");
            None
        }
    }
}

#[cfg(test)]
#[path = "volumes_tests.rs"]
mod tests;
