//! Checks `closet server` makes before it binds or writes anything that matters: the data dir
//! exists and sits on a local filesystem, no other closet owns it, and the port is free.

use std::fs::{DirBuilder, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, TcpSocket};

/// Why the server refused to start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PreflightError {
    /// The data dir could not be created or inspected.
    #[error("cannot create or open the data dir {}; check its parent's permissions or choose another --data-dir", path.display())]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The data dir is on a network or FUSE filesystem.
    #[error(
        "the data dir {} is on {kind}, a network or FUSE filesystem; SQLite's locks and fsync \
         are not reliable there and the database can be corrupted. Put --data-dir on a local \
         disk, or pass --force-unsafe-filesystem if you know this filesystem is safe",
        path.display()
    )]
    UnsafeFilesystem { path: PathBuf, kind: &'static str },
    /// Another process holds the lock.
    #[error(
        "another closet ({}) owns the data dir {}; stop it first, or give this server its own \
         --data-dir",
        pid.map_or_else(|| "PID unknown".to_owned(), |pid| format!("PID {pid}")),
        dir.display()
    )]
    Locked { dir: PathBuf, pid: Option<u32> },
    /// The lock file could not be opened or written.
    #[error("cannot lock {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The port is taken.
    #[error(
        "port {port} on {address} is already in use; stop whatever listens there or choose \
         another port with --https-listen-port"
    )]
    PortInUse { address: IpAddr, port: u16 },
    /// Binding failed for another reason.
    #[error("cannot listen on {addr}; check --bind-address and --https-listen-port")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// Creates the data dir (mode 0700, parents as needed) if it is missing.
pub(crate) fn create_data_dir(path: &Path) -> Result<(), PreflightError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| PreflightError::DataDir {
            path: path.to_path_buf(),
            source,
        })
}

/// The filesystem behind a `statfs` magic number, if SQLite cannot be trusted on it.
/// (Magic numbers from the kernel's `include/uapi/linux/magic.h` and the filesystems' own
/// sources; they are 32-bit values whatever the width of `f_type`.)
pub(crate) fn unsafe_filesystem(magic: u32) -> Option<&'static str> {
    match magic {
        0x0000_6969 => Some("NFS"),
        0xFF53_4D42 => Some("CIFS"),
        0xFE53_4D42 => Some("SMB2"),
        0x0000_517B => Some("SMB"),
        0x0102_1997 => Some("9p"),
        0x6573_5546 => Some("FUSE"),
        _ => None,
    }
}

/// Refuses a data dir on a filesystem from [`unsafe_filesystem`] unless `force` is set.
pub(crate) fn check_filesystem(path: &Path, force: bool) -> Result<(), PreflightError> {
    let stat = rustix::fs::statfs(path).map_err(|err| PreflightError::DataDir {
        path: path.to_path_buf(),
        source: err.into(),
    })?;
    // f_type is a signed or unsigned word depending on the architecture; the magic numbers
    // all fit 32 bits, and truncating undoes a sign extension of the larger ones.
    #[allow(clippy::unnecessary_cast)]
    let magic = stat.f_type as u32;
    match unsafe_filesystem(magic) {
        Some(kind) if force => {
            tracing::warn!(
                path = %path.display(),
                kind,
                "the data dir is on a network or FUSE filesystem; continuing because of \
                 --force-unsafe-filesystem"
            );
            Ok(())
        }
        Some(kind) => Err(PreflightError::UnsafeFilesystem {
            path: path.to_path_buf(),
            kind,
        }),
        None => Ok(()),
    }
}

/// An exclusive `flock` on `<data-dir>/closet.lock`, held for the life of the value (and so,
/// in practice, of the process: the kernel drops it when the process dies, however it dies).
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the lock without waiting and writes this process's PID into the file.
    pub(crate) fn acquire(path: &Path) -> Result<Self, PreflightError> {
        let lock_error = |source| PreflightError::Lock {
            path: path.to_path_buf(),
            source,
        };
        // No truncation on open: until the lock is ours, the PID in the file is the owner's.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(lock_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let pid = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                let dir = path.parent().unwrap_or(path).to_path_buf();
                return Err(PreflightError::Locked { dir, pid });
            }
            Err(TryLockError::Error(source)) => return Err(lock_error(source)),
        }
        file.set_len(0).map_err(lock_error)?;
        file.seek(SeekFrom::Start(0)).map_err(lock_error)?;
        writeln!(file, "{}", std::process::id()).map_err(lock_error)?;
        file.flush().map_err(lock_error)?;
        Ok(Self { _file: file })
    }
}

/// Binds the API port. `SO_REUSEADDR` lets a restarted server bind while connections of the
/// previous one linger in TIME_WAIT; it does not let two servers share a listening port.
pub(crate) fn bind(address: IpAddr, port: u16) -> Result<TcpListener, PreflightError> {
    let addr = SocketAddr::new(address, port);
    let bind_error = |source: std::io::Error| {
        if source.kind() == ErrorKind::AddrInUse {
            PreflightError::PortInUse { address, port }
        } else {
            PreflightError::Bind { addr, source }
        }
    };
    let socket = match address {
        IpAddr::V4(_) => TcpSocket::new_v4(),
        IpAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(bind_error)?;
    socket.set_reuseaddr(true).map_err(bind_error)?;
    socket.bind(addr).map_err(bind_error)?;
    socket.listen(1024).map_err(bind_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_and_fuse_filesystems_are_unsafe() {
        assert_eq!(unsafe_filesystem(0x6969), Some("NFS"));
        assert_eq!(unsafe_filesystem(0xFF53_4D42), Some("CIFS"));
        assert_eq!(unsafe_filesystem(0xFE53_4D42), Some("SMB2"));
        assert_eq!(unsafe_filesystem(0x517B), Some("SMB"));
        assert_eq!(unsafe_filesystem(0x0102_1997), Some("9p"));
        assert_eq!(unsafe_filesystem(0x6573_5546), Some("FUSE"));
    }

    #[test]
    fn local_filesystems_are_fine() {
        // ext4, xfs, btrfs, tmpfs, overlayfs, zfs
        for magic in [
            0xEF53,
            0x5846_5342,
            0x9123_683E,
            0x0102_1994,
            0x794C_7630,
            0x2FC1_2FC1,
        ] {
            assert_eq!(unsafe_filesystem(magic), None, "{magic:#x}");
        }
    }

    #[test]
    fn a_sign_extended_magic_still_matches() {
        // On architectures where f_type is a signed 64-bit word, CIFS reads as negative.
        let signed: i64 = i64::from(0xFF53_4D42_u32 as i32);
        assert_eq!(unsafe_filesystem(signed as u32), Some("CIFS"));
    }

    #[test]
    fn second_lock_on_the_same_file_fails_and_names_the_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("closet.lock");
        // flock belongs to the open file description, so a second open in this same process
        // conflicts with the first exactly as another process would.
        let first = DataDirLock::acquire(&path).expect("first lock");
        let err = DataDirLock::acquire(&path).expect_err("second lock must fail");
        match &err {
            PreflightError::Locked { pid, .. } => assert_eq!(*pid, Some(std::process::id())),
            other => panic!("unexpected error {other}"),
        }
        assert!(
            err.to_string()
                .contains(&format!("PID {}", std::process::id())),
            "{err}"
        );
        drop(first);
        DataDirLock::acquire(&path).expect("lock is free again once dropped");
    }

    #[test]
    fn the_temp_dir_filesystem_passes() {
        let dir = tempfile::tempdir().expect("tempdir");
        check_filesystem(dir.path(), false).expect("a local temp dir is safe");
    }

    #[tokio::test]
    async fn a_taken_port_names_the_port() {
        let first = bind("127.0.0.1".parse().expect("ip"), 0).expect("bind");
        let port = first.local_addr().expect("addr").port();
        let err = bind("127.0.0.1".parse().expect("ip"), port).expect_err("port taken");
        assert!(matches!(err, PreflightError::PortInUse { .. }), "{err}");
        assert!(err.to_string().contains(&port.to_string()), "{err}");
    }
}
