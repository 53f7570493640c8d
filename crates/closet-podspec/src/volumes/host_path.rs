//! hostPath volumes: the `type` checks upstream makes before handing the path to the runtime.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::HostPathVolumeSource;

use crate::SpecError;

/// Checks (or creates) the path as its `type` asks and returns it.
pub(crate) fn check(source: &HostPathVolumeSource) -> Result<PathBuf, SpecError> {
    let path = PathBuf::from(&source.path);
    let kind = source.type_.as_deref().unwrap_or_default();
    // Type checks follow symbolic links, like upstream's: a link to a socket is a socket.
    let meta = match fs::metadata(&path) {
        Ok(meta) => Some(meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(SpecError::io("inspect", path, e)),
    };
    let missing = || SpecError::HostPathMissing { path: path.clone() };
    let mismatch = |expected| SpecError::HostPathType {
        path: path.clone(),
        expected,
    };
    let file_type = meta.as_ref().map(fs::Metadata::file_type);
    match (kind, file_type) {
        ("", _) => {}
        ("DirectoryOrCreate", None) => make_dir(&path)?,
        ("FileOrCreate", None) => make_file(&path)?,
        ("DirectoryOrCreate" | "Directory", Some(t)) if t.is_dir() => {}
        ("DirectoryOrCreate" | "Directory", Some(_)) => return Err(mismatch("directory")),
        ("FileOrCreate" | "File", Some(t)) if t.is_file() => {}
        ("FileOrCreate" | "File", Some(_)) => return Err(mismatch("file")),
        ("Socket", Some(t)) if t.is_socket() => {}
        ("Socket", Some(_)) => return Err(mismatch("socket file")),
        ("CharDevice", Some(t)) if t.is_char_device() => {}
        ("CharDevice", Some(_)) => return Err(mismatch("character device")),
        ("BlockDevice", Some(t)) if t.is_block_device() => {}
        ("BlockDevice", Some(_)) => return Err(mismatch("block device")),
        ("Directory" | "File" | "Socket" | "CharDevice" | "BlockDevice", None) => {
            return Err(missing());
        }
        (other, _) => {
            return Err(SpecError::InvalidField {
                field: "hostPath.type".into(),
                value: other.into(),
                reason: "not a hostPath type".into(),
            });
        }
    }
    Ok(path)
}

fn make_dir(path: &Path) -> Result<(), SpecError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        .map_err(|e| SpecError::io("create directory", path, e))
}

/// Creates an empty file; like upstream, the parent directory must exist.
fn make_file(path: &Path) -> Result<(), SpecError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path)
        .map(drop)
        .map_err(|e| SpecError::io("create file", path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::net::UnixListener;

    fn source(path: &Path, kind: &str) -> HostPathVolumeSource {
        HostPathVolumeSource {
            path: path.to_string_lossy().into_owned(),
            type_: Some(kind.into()),
        }
    }

    #[test]
    fn types_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, b"x").unwrap();
        let socket = dir.path().join("sock");
        let _listener = UnixListener::bind(&socket).unwrap();

        check(&source(dir.path(), "Directory")).unwrap();
        check(&source(&file, "File")).unwrap();
        check(&source(&socket, "Socket")).unwrap();
        check(&source(Path::new("/dev/null"), "CharDevice")).unwrap();
        check(&source(&file, "")).unwrap();

        let err = check(&source(&file, "Directory")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "hostPath type check failed: {} is not a directory",
                file.display()
            )
        );
        assert_eq!(err.reason(), "ContainerCreating");
        assert_eq!(err.event_reason(), "FailedMount");
        let err = check(&source(dir.path(), "FileOrCreate")).unwrap_err();
        assert!(err.to_string().ends_with("is not a file"), "{err}");
        assert!(
            check(&source(&file, "Socket"))
                .unwrap_err()
                .to_string()
                .ends_with("is not a socket file")
        );
        assert!(check(&source(&file, "CharDevice")).is_err());
        assert!(check(&source(Path::new("/dev/null"), "BlockDevice")).is_err());
        let err = check(&source(&dir.path().join("absent"), "File")).unwrap_err();
        assert!(err.to_string().ends_with("does not exist"), "{err}");
        assert!(check(&source(&file, "Weird")).is_err());
    }

    #[test]
    fn or_create_types_create() {
        let dir = tempfile::tempdir().unwrap();
        let new_dir = dir.path().join("a/b");
        check(&source(&new_dir, "DirectoryOrCreate")).unwrap();
        assert!(new_dir.is_dir());
        let new_file = dir.path().join("f");
        check(&source(&new_file, "FileOrCreate")).unwrap();
        assert!(new_file.is_file());
        assert!(check(&source(&dir.path().join("no/parent"), "FileOrCreate")).is_err());
    }
}
