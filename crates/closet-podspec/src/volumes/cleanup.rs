//! Removing a pod's directory once its containers are gone.

use std::fs;
use std::io;
use std::path::Path;

use rustix::io::Errno;
use rustix::mount::{UnmountFlags, unmount};

use crate::SpecError;
use crate::volumes::mountinfo;

/// How many passes over the mount table: a path can be mounted over more than once.
const UNMOUNT_PASSES: usize = 8;

/// Unmounts every tmpfs and subPath bind mount below `pod_dir`, then deletes the directory.
///
/// Deletion starts only when the mount table shows nothing mounted below `pod_dir` any more:
/// a subPath of a hostPath volume is a bind mount of host data, and removing files through it
/// would delete that data. The removal itself never follows symbolic links, so links a
/// container planted in an emptyDir cannot lead it outside. A mount still busy (a container
/// still running) is an error and leaves everything in place for a later retry. A missing
/// `pod_dir` is success.
pub fn cleanup(pod_dir: &Path) -> Result<(), SpecError> {
    let pod_dir = match fs::canonicalize(pod_dir) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(SpecError::io("resolve", pod_dir, e)),
    };
    let read_mounts = |dir: &Path| {
        mountinfo::mounts_below(dir).map_err(|e| SpecError::io("read mounts for", dir, e))
    };
    for _ in 0..UNMOUNT_PASSES {
        let mounts = read_mounts(&pod_dir)?;
        if mounts.is_empty() {
            break;
        }
        for mount in mounts {
            match unmount(&mount, UnmountFlags::empty()) {
                // Gone already (an outer unmount took it along, or someone else cleaned up).
                Ok(()) | Err(Errno::INVAL | Errno::NOENT) => {}
                Err(e) => return Err(SpecError::io("unmount", mount, e.into())),
            }
        }
    }
    let remaining = read_mounts(&pod_dir)?;
    if let Some(mount) = remaining.first() {
        return Err(SpecError::io(
            "unmount",
            mount.clone(),
            io::Error::other(
                "still mounted after repeated unmounts; not deleting the pod directory",
            ),
        ));
    }
    if mountinfo::is_mount_point(&pod_dir)
        .map_err(|e| SpecError::io("read mounts for", &pod_dir, e))?
    {
        return Err(SpecError::io(
            "remove",
            pod_dir,
            io::Error::other("the pod directory itself is a mount point"),
        ));
    }
    // std's remove_dir_all opens each directory without following links (CVE-2022-21658 fix)
    // and unlinks links themselves.
    match fs::remove_dir_all(&pod_dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(SpecError::io("remove", pod_dir, e)),
    }
}
