//! subPath mounts that a container cannot turn against the host.
//!
//! A container can write symbolic links into its own volumes. If the agent simply joined
//! `volume/subPath` and handed that path to the runtime, a link planted there (`sub -> /etc`)
//! would make the runtime bind-mount a host directory into the next container. So, as
//! upstream does, the agent resolves the subPath itself, holding the result as a file
//! descriptor, and bind-mounts that descriptor (`/proc/self/fd/N`) onto a path only it controls;
//! the runtime gets that path. Resolution uses `openat2` with `RESOLVE_BENEATH`: symbolic links
//! that stay inside the volume still work (a configMap key is one), anything leading out of it
//! (an absolute link, `..` past the root, a magic `/proc` link) is refused by the kernel, and
//! there is no window between checking and using the path.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, fchmod, fstat, mkdirat, openat2};
use rustix::io::Errno;

use crate::volumes::mountinfo;

/// Why a subPath was refused or could not be set up. The reason names no host path: the
/// message reaches the pod's owner.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) reason: String,
    pub(crate) source: Option<io::Error>,
}

impl Failure {
    fn new(reason: impl Into<String>) -> Failure {
        Failure {
            reason: reason.into(),
            source: None,
        }
    }

    fn io(reason: impl Into<String>, source: impl Into<io::Error>) -> Failure {
        Failure {
            reason: reason.into(),
            source: Some(source.into()),
        }
    }
}

/// The components of a subPath: relative, no `..`, not empty.
pub(crate) fn relative_subpath(subpath: &str) -> Result<PathBuf, Failure> {
    let path = Path::new(subpath);
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => relative.push(name),
            Component::CurDir => {}
            Component::ParentDir => return Err(Failure::new("subPath must not contain '..'")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(Failure::new("subPath must be a relative path"));
            }
        }
    }
    if relative.as_os_str().is_empty() {
        return Err(Failure::new(
            "subPath must name something inside the volume",
        ));
    }
    Ok(relative)
}

/// Makes `target` a bind mount of `subpath` inside `volume_root`, creating the subPath as a
/// directory when it does not exist. A target that is already mounted (the container is
/// restarting, or the agent restarted) is left as it is.
pub(crate) fn bind(volume_root: &Path, subpath: &Path, target: &Path) -> Result<(), Failure> {
    if mountinfo::is_mount_point(target)
        .map_err(|e| Failure::io("cannot read the mount table", e))?
    {
        return Ok(());
    }
    // The volume root itself belongs to the agent or, for hostPath, to the node's owner; links
    // there are theirs to follow. Only what is below it can come from a container.
    let root_path =
        fs::canonicalize(volume_root).map_err(|e| Failure::io("the volume is not available", e))?;
    let root = rustix::fs::open(
        &root_path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Failure::io("the volume is not available", e))?;
    let source = match open_beneath(&root, subpath, OFlags::PATH) {
        Err(Errno::NOENT) => {
            make_dirs_beneath(&root, subpath)?;
            open_beneath(&root, subpath, OFlags::PATH)
        }
        other => other,
    }
    .map_err(refusal)?;
    let stat = fstat(&source).map_err(|e| Failure::io("cannot inspect the subPath", e))?;
    let is_dir = FileType::from_raw_mode(stat.st_mode) == FileType::Directory;
    prepare_target(target, is_dir)?;
    let proc_path = format!("/proc/self/fd/{}", source.as_raw_fd());
    if let Err(e) = rustix::mount::mount_bind(proc_path.as_str(), target) {
        let _ = if is_dir {
            fs::remove_dir(target)
        } else {
            fs::remove_file(target)
        };
        return Err(Failure::io("bind mount failed", e));
    }
    Ok(())
}

/// Opens `path` below `root`, following only links that stay below it.
fn open_beneath(root: &OwnedFd, path: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    let mut attempts = 0;
    loop {
        match openat2(root, path, flags | OFlags::CLOEXEC, Mode::empty(), resolve) {
            // The kernel asks for a retry when a rename raced with a `..` lookup.
            Err(Errno::AGAIN) if attempts < 16 => attempts += 1,
            result => return result,
        }
    }
}

fn refusal(errno: Errno) -> Failure {
    let reason = match errno {
        Errno::XDEV => "subPath leads outside the volume",
        Errno::LOOP => "subPath has too many levels of symbolic links",
        Errno::NOSYS => "subPath needs Linux 5.6 or newer (openat2)",
        Errno::NOTDIR => "a parent of the subPath is not a directory",
        _ => "subPath cannot be opened",
    };
    Failure::io(reason, errno)
}

/// Creates the missing directories of `path` below `root` with the volume root's mode, each
/// new one re-opened beneath the root before the next is made inside it.
fn make_dirs_beneath(root: &OwnedFd, path: &Path) -> Result<(), Failure> {
    let root_mode = fstat(root)
        .map_err(|e| Failure::io("cannot inspect the volume", e))?
        .st_mode
        & 0o7777;
    let mode = Mode::from_raw_mode(root_mode);
    let components: Vec<&OsStr> = path.iter().collect();
    let mut parent: Option<OwnedFd> = None;
    let mut prefix = PathBuf::new();
    for name in components {
        prefix.push(name);
        let parent_fd = parent.as_ref().map_or(root.as_fd(), |fd| fd.as_fd());
        let opened = match open_beneath(root, &prefix, OFlags::PATH | OFlags::DIRECTORY) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                match mkdirat(parent_fd, name, mode) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(Failure::io("cannot create the subPath", e)),
                }
                let dir = open_beneath(
                    root,
                    &prefix,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
                )
                .map_err(refusal)?;
                // mkdir's mode was narrowed by the umask; the volume's own mode is the intent.
                fchmod(&dir, mode).map_err(|e| Failure::io("cannot create the subPath", e))?;
                dir
            }
            Err(e) => return Err(refusal(e)),
        };
        parent = Some(opened);
    }
    Ok(())
}

/// Creates the agent-owned mount point: a directory for a directory, an empty file otherwise.
fn prepare_target(target: &Path, is_dir: bool) -> Result<(), Failure> {
    let fail = |e: io::Error| Failure::io("cannot create the subPath mount point", e);
    if let Some(parent) = target.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(parent)
            .map_err(fail)?;
    }
    match fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() == is_dir && !meta.file_type().is_symlink() => return Ok(()),
        Ok(meta) if meta.is_dir() => fs::remove_dir(target).map_err(fail)?,
        Ok(_) => fs::remove_file(target).map_err(fail)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail(e)),
    }
    if is_dir {
        fs::DirBuilder::new()
            .mode(0o750)
            .create(target)
            .map_err(fail)
    } else {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o640)
            .open(target)
            .map(drop)
            .map_err(fail)
    }
}

#[cfg(test)]
mod tests;
