//! Images that arrive without a registry (DESIGN.md §6): the pause image built into closet,
//! and archives dropped into `<data-dir>/agent/images/`.
//!
//! containerd 1.6 has no import call in its API that the agent could use directly (the
//! Transfer service arrived in 1.7), so [`CtrImporter`] runs containerd's own CLI,
//! `ctr images import`, against closet's containerd. [`ImportDir`] watches a directory and
//! imports every archive that appears or changes, through the [`Importer`] seam so it can
//! be tested without containerd.

mod ctr;
mod state;
mod watch;

use std::path::PathBuf;

pub use ctr::{CRI_NAMESPACE, CtrImporter};
pub use watch::{ImportDir, ImportedArchive, ScanReport};

use crate::BoxFuture;

/// Imports one image archive and returns the names of the images it created.
pub trait Importer: Send + Sync {
    /// Imports the archive at `file` (an OCI layout or docker-archive tar, possibly gzipped).
    fn import<'a>(
        &'a self,
        file: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<Vec<String>, ImageImportError>>;
}

/// Everything that can fail while importing image archives.
#[derive(Debug, thiserror::Error)]
pub enum ImageImportError {
    /// containerd's CLI is missing.
    #[error("`ctr` not found on PATH; install it with `apt-get install containerd`")]
    MissingCtr,
    /// The archive could not be opened.
    #[error("opening image archive {path}")]
    Open {
        /// The archive.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `ctr` could not be started.
    #[error("starting {ctr} to import {file}")]
    Spawn {
        /// The `ctr` binary.
        ctr: PathBuf,
        /// The archive being imported.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading (or decompressing) the archive while feeding it to `ctr` failed.
    #[error("reading image archive {file}")]
    Read {
        /// The archive.
        file: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `ctr images import` failed.
    #[error("ctr could not import {file} ({status}): {stderr}")]
    Ctr {
        /// The archive.
        file: String,
        /// How `ctr` exited.
        status: String,
        /// What `ctr` printed on stderr.
        stderr: String,
    },
    /// `ctr` succeeded but created no image: the archive names none.
    #[error(
        "no named image in {file}: an OCI archive needs an io.containerd.image.name or \
         org.opencontainers.image.ref.name annotation, a docker archive RepoTags"
    )]
    NoImages {
        /// The archive.
        file: String,
    },
}

/// `error: cause: cause...`, for log lines that must say everything on one line.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
