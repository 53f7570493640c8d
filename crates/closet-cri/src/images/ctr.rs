use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::sync::oneshot;

use super::{ImageImportError, Importer};
use crate::BoxFuture;

/// The containerd namespace CRI keeps its images in; images imported elsewhere are invisible
/// to pods.
pub const CRI_NAMESPACE: &str = "k8s.io";

/// The snapshotter closet's containerd config gives CRI; `ctr` must unpack into the same one
/// or CRI would unpack again at the first pod.
const SNAPSHOTTER: &str = "overlayfs";

/// Imports archives with `ctr images import` into a containerd's CRI namespace.
///
/// The command line is `ctr --address <socket> --namespace k8s.io images import
/// --snapshotter overlayfs <file>`. Deliberately without `--all-platforms`: like a pull, it
/// keeps (and unpacks) only the content for this machine's platform, so a multi-arch index
/// imports as one image whose other platforms' blobs containerd's garbage collector drops.
/// Without `--base-name`, which would drop every image not under that name; the names come
/// from the archive's `io.containerd.image.name` annotations (docker archives: `RepoTags`).
/// CRI picks the new images up from containerd's image events; no label is needed.
#[derive(Clone, Debug)]
pub struct CtrImporter {
    ctr: PathBuf,
    socket: PathBuf,
}

impl CtrImporter {
    /// An importer for the containerd serving `socket`, with `ctr` from the process's `PATH`.
    pub fn new(socket: impl Into<PathBuf>) -> Result<Self, ImageImportError> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        Self::with_path(socket, &path)
    }

    /// Like [`CtrImporter::new`], looking for `ctr` on `path` (a `PATH`-style list).
    pub fn with_path(socket: impl Into<PathBuf>, path: &OsStr) -> Result<Self, ImageImportError> {
        let ctr = which("ctr", path).ok_or(ImageImportError::MissingCtr)?;
        Ok(Self::with_ctr(ctr, socket))
    }

    /// An importer running the given `ctr` binary.
    pub fn with_ctr(ctr: impl Into<PathBuf>, socket: impl Into<PathBuf>) -> Self {
        Self {
            ctr: ctr.into(),
            socket: socket.into(),
        }
    }

    /// Imports an archive file, plain or gzip-compressed (`ctr` reads only plain tars, so a
    /// gzipped one is decompressed into its stdin). Returns the imported images' names.
    pub async fn import_file(&self, file: &Path) -> Result<Vec<String>, ImageImportError> {
        let open_err = |source| ImageImportError::Open {
            path: file.to_path_buf(),
            source,
        };
        let mut reader = BufReader::new(File::open(file).map_err(open_err)?);
        let label = file.display().to_string();
        if is_gzip(&mut reader).map_err(open_err)? {
            let stream = flate2::bufread::MultiGzDecoder::new(reader);
            self.run(&label, Input::Stream(Box::new(stream))).await
        } else {
            self.run(&label, Input::Path(file)).await
        }
    }

    /// Imports an archive held in memory (such as `closet_image::pause::archive()`), named
    /// `label` in errors. Returns the imported images' names.
    pub async fn import_bytes(
        &self,
        label: &str,
        archive: Vec<u8>,
    ) -> Result<Vec<String>, ImageImportError> {
        let stream: Box<dyn Read + Send> = if archive.starts_with(&GZIP_MAGIC) {
            Box::new(flate2::read::MultiGzDecoder::new(io::Cursor::new(archive)))
        } else {
            Box::new(io::Cursor::new(archive))
        };
        self.run(label, Input::Stream(stream)).await
    }

    async fn run(&self, label: &str, input: Input<'_>) -> Result<Vec<String>, ImageImportError> {
        let mut command = tokio::process::Command::new(&self.ctr);
        command
            .arg("--address")
            .arg(&self.socket)
            .args(["--namespace", CRI_NAMESPACE])
            .args(["images", "import", "--snapshotter", SNAPSHOTTER])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let read_err = |source| ImageImportError::Read {
            file: label.to_owned(),
            source,
        };
        let feed = match input {
            Input::Path(path) => {
                command.arg(path).stdin(Stdio::null());
                None
            }
            Input::Stream(stream) => {
                let (pipe_out, pipe_in) = io::pipe().map_err(read_err)?;
                command.arg("-").stdin(pipe_out);
                Some((stream, pipe_in))
            }
        };
        let child = command.spawn().map_err(|source| ImageImportError::Spawn {
            ctr: self.ctr.clone(),
            file: label.to_owned(),
            source,
        })?;
        // The command still holds the pipe's read end; with it open, a feeder writing to a
        // `ctr` that died early would block forever instead of seeing EPIPE.
        drop(command);
        let fed = match feed {
            Some((stream, pipe_in)) => Some(spawn_feeder(stream, pipe_in).map_err(read_err)?),
            None => None,
        };
        let output = child.wait_with_output().await.map_err(read_err)?;
        if let Some(fed) = fed {
            match fed.await {
                Ok(Ok(_)) | Err(_) => {}
                // `ctr` stopped reading; its exit status and stderr say why.
                Ok(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => {}
                Ok(Err(e)) => return Err(read_err(e)),
            }
        }
        if !output.status.success() {
            return Err(ImageImportError::Ctr {
                file: label.to_owned(),
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        let names = imported_names(&String::from_utf8_lossy(&output.stdout));
        if names.is_empty() {
            return Err(ImageImportError::NoImages {
                file: label.to_owned(),
            });
        }
        Ok(names)
    }
}

impl Importer for CtrImporter {
    fn import<'a>(
        &'a self,
        file: &'a Path,
    ) -> BoxFuture<'a, Result<Vec<String>, ImageImportError>> {
        Box::pin(self.import_file(file))
    }
}

enum Input<'a> {
    Path(&'a Path),
    Stream(Box<dyn Read + Send>),
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

fn is_gzip(reader: &mut BufReader<File>) -> io::Result<bool> {
    use std::io::BufRead as _;
    Ok(reader.fill_buf()?.starts_with(&GZIP_MAGIC))
}

/// Copies `stream` into `ctr`'s stdin on a thread of its own (the decompression is
/// blocking work); the result arrives on the returned channel.
fn spawn_feeder(
    mut stream: Box<dyn Read + Send>,
    mut pipe_in: io::PipeWriter,
) -> io::Result<oneshot::Receiver<io::Result<u64>>> {
    let (done, result) = oneshot::channel();
    std::thread::Builder::new()
        .name("ctr-import-feed".to_owned())
        .spawn(move || {
            let copied = io::copy(&mut stream, &mut pipe_in);
            // Closing the pipe is what tells `ctr` the archive has ended.
            drop(pipe_in);
            let _ = done.send(copied);
        })?;
    Ok(result)
}

/// The image names in `ctr images import` output: one `unpacking <name> (<digest>)...done`
/// line per image.
fn imported_names(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| line.trim().strip_prefix("unpacking "))
        .filter_map(|rest| rest.split_once(" (").map(|(name, _)| name.to_owned()))
        .collect()
}

fn which(binary: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(binary))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests;
