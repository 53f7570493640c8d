//! `fsGroup`: volume files group-owned by the pod's group and usable by it
//! (upstream's `SetVolumeOwnership`).

use std::fs;
use std::os::unix::fs::{PermissionsExt, lchown};
use std::path::Path;

use crate::SpecError;

const READ_WRITE: u32 = 0o660;
const READ_ONLY: u32 = 0o440;
const SEARCH: u32 = 0o110;
const SET_GID: u32 = 0o2000;

/// The mode a file ends up with under `fsGroup`: group (and owner) may read it, and write it
/// too unless the volume is read-only.
pub(crate) fn file_mode(mode: u32, read_only: bool) -> u32 {
    mode | if read_only { READ_ONLY } else { READ_WRITE }
}

/// The mode a directory ends up with under `fsGroup`: also searchable, and set-group-ID so new
/// files inherit the group.
pub(crate) fn dir_mode(mode: u32, read_only: bool) -> u32 {
    file_mode(mode, read_only) | SEARCH | SET_GID
}

/// Gives `root` and everything below it to group `gid`. Symbolic links are re-owned but never
/// followed.
pub(crate) fn apply_fs_group(root: &Path, gid: u32, read_only: bool) -> Result<(), SpecError> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).map_err(|e| SpecError::io("inspect", &path, e))?;
        lchown(&path, None, Some(gid)).map_err(|e| SpecError::io("change group of", &path, e))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        let wanted = if kind.is_dir() {
            dir_mode(mode, read_only)
        } else {
            file_mode(mode, read_only)
        };
        if wanted != mode {
            fs::set_permissions(&path, fs::Permissions::from_mode(wanted))
                .map_err(|e| SpecError::io("set permissions of", &path, e))?;
        }
        if kind.is_dir() {
            let entries = fs::read_dir(&path).map_err(|e| SpecError::io("read", &path, e))?;
            for entry in entries {
                pending.push(entry.map_err(|e| SpecError::io("read", &path, e))?.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::fs::{MetadataExt, symlink};

    #[test]
    fn group_owns_everything_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        let outside_gid = fs::metadata(outside.path()).unwrap().gid();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/file"), b"x").unwrap();
        fs::set_permissions(
            dir.path().join("sub/file"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        symlink(outside.path(), dir.path().join("escape")).unwrap();

        apply_fs_group(dir.path(), 4242, false).unwrap();

        let file = fs::metadata(dir.path().join("sub/file")).unwrap();
        assert_eq!(file.gid(), 4242);
        assert_eq!(file.mode() & 0o7777, 0o660);
        let sub = fs::metadata(dir.path().join("sub")).unwrap();
        assert_eq!(sub.mode() & 0o2000, 0o2000);
        assert_eq!(
            fs::symlink_metadata(dir.path().join("escape"))
                .unwrap()
                .gid(),
            4242
        );
        assert_eq!(
            fs::metadata(outside.path()).unwrap().gid(),
            outside_gid,
            "link target untouched"
        );
    }
}
