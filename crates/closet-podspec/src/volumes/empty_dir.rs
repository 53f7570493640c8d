//! emptyDir volumes, and the directories (or tmpfs mounts) the file-projecting kinds live in.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::fs::{PermissionsExt, lchown};
use std::path::Path;

use k8s_openapi::api::core::v1::EmptyDirVolumeSource;
use rustix::mount::{MountFlags, mount};

use crate::SpecError;
use crate::quantity::QuantityValue;
use crate::volumes::{mountinfo, ownership};

/// Everyone in the pod may use an emptyDir, whatever user its containers run as.
const EMPTY_DIR_MODE: u32 = 0o777;

/// Whether the emptyDir is memory-backed, and its tmpfs size in bytes. A size limit on a disk
/// emptyDir is accepted but not enforced: closet does not evict on local storage use yet.
pub(crate) fn medium(source: &EmptyDirVolumeSource) -> Result<(bool, Option<u64>), SpecError> {
    let size = match &source.size_limit {
        Some(limit) => {
            let value = QuantityValue::from_quantity(limit)
                .map_err(|e| SpecError::quantity("emptyDir.sizeLimit", &limit.0, e))?;
            u64::try_from(value.value()).ok().filter(|bytes| *bytes > 0)
        }
        None => None,
    };
    match source.medium.as_deref().unwrap_or_default() {
        "" => Ok((false, None)),
        "Memory" => Ok((true, size)),
        other if other.starts_with("HugePages") => {
            Err(SpecError::Unsupported("a HugePages emptyDir".into()))
        }
        other => Err(SpecError::InvalidField {
            field: "emptyDir.medium".into(),
            value: other.into(),
            reason: "must be empty or Memory".into(),
        }),
    }
}

/// Creates `dir` (mode 0777) and, for `tmpfs`, mounts a tmpfs of `size` bytes (the kernel's
/// default, half the memory, without one) on it unless one is there already. `fs_group` is
/// applied to a volume that was just created, never again: later the files are the pod's.
pub(crate) fn setup(
    dir: &Path,
    tmpfs: bool,
    size: Option<u64>,
    fs_group: Option<u32>,
) -> Result<(), SpecError> {
    let created = match fs::create_dir(dir) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = dir.parent().unwrap_or(dir);
            fs::create_dir_all(parent).map_err(|e| SpecError::io("create directory", parent, e))?;
            fs::create_dir(dir).map_err(|e| SpecError::io("create directory", dir, e))?;
            true
        }
        Err(e) => return Err(SpecError::io("create directory", dir, e)),
    };
    if created {
        set_mode(dir, EMPTY_DIR_MODE)?;
    }
    let mut mounted = false;
    if tmpfs
        && !mountinfo::is_mount_point(dir).map_err(|e| SpecError::io("read mounts for", dir, e))?
    {
        mount_tmpfs(dir, size)?;
        mounted = true;
    }
    if let Some(gid) = fs_group
        && (created || mounted)
    {
        lchown(dir, None, Some(gid)).map_err(|e| SpecError::io("change group of", dir, e))?;
        let mode = fs::metadata(dir)
            .map_err(|e| SpecError::io("inspect", dir, e))?
            .permissions()
            .mode();
        set_mode(dir, ownership::dir_mode(mode & 0o7777, false))?;
    }
    Ok(())
}

fn mount_tmpfs(dir: &Path, size: Option<u64>) -> Result<(), SpecError> {
    let data = size.map(|bytes| format!("size={bytes}"));
    let data = data.map(CString::new).transpose().map_err(|e| {
        SpecError::io(
            "mount tmpfs on",
            dir,
            io::Error::new(io::ErrorKind::InvalidInput, e),
        )
    })?;
    mount("tmpfs", dir, "tmpfs", MountFlags::empty(), data.as_deref())
        .map_err(|e| SpecError::io("mount tmpfs on", dir, e.into()))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), SpecError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| SpecError::io("set permissions of", path, e))
}
