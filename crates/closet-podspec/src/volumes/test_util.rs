//! Helpers for tests that mount: a temporary directory that unmounts everything below it
//! before it is deleted, so a failing test cannot leave a bind mount whose removal would
//! recurse into the mounted source.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use crate::volumes::mountinfo;

/// Mount tests need root; elsewhere they report that they were skipped.
pub(crate) fn running_as_root() -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("skipped: mounting needs root");
    }
    root
}

pub(crate) struct MountSandbox {
    dir: tempfile::TempDir,
    canonical: PathBuf,
}

impl MountSandbox {
    pub(crate) fn new() -> MountSandbox {
        let dir = tempfile::tempdir().unwrap();
        let canonical = std::fs::canonicalize(dir.path()).unwrap();
        MountSandbox { dir, canonical }
    }

    /// The sandbox's canonical path (what the mount table shows).
    pub(crate) fn path(&self) -> &Path {
        &self.canonical
    }

    /// Creates and returns `<sandbox>/<name>`.
    pub(crate) fn dir(&self, name: &str) -> PathBuf {
        let path = self.canonical.join(name);
        std::fs::create_dir_all(&path).unwrap();
        path
    }
}

impl Drop for MountSandbox {
    fn drop(&mut self) {
        for _ in 0..8 {
            let Ok(mounts) = mountinfo::mounts_below(&self.canonical) else {
                break;
            };
            if mounts.is_empty() {
                break;
            }
            for mount in mounts {
                let _ = rustix::mount::unmount(&mount, rustix::mount::UnmountFlags::DETACH);
            }
        }
        let _ = &self.dir;
    }
}
