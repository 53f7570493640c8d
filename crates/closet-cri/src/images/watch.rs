//! The offline image drop directory: every archive in it is imported once, when it appears
//! and again whenever it changes.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::state::{ImportState, Record, Stamp, hash_file};
use super::{Importer, error_chain};

/// File names the watcher imports: tars, gzipped tars, and the names `docker save` and OCI
/// tools suggest.
const ARCHIVE_SUFFIXES: [&str; 5] = [".tar", ".tar.gz", ".tgz", ".oci", ".docker"];

/// Suffixes of files still being written by tools that rename when done.
const PARTIAL_SUFFIXES: [&str; 2] = [".partial", ".tmp"];

/// How often [`ImportDir::run`] scans.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// How long ago a file must have been modified to count as finished without waiting a scan.
const DEFAULT_SETTLE: Duration = Duration::from_secs(5);

/// Watches a directory (the agent's `<data-dir>/agent/images/`) and imports every image
/// archive in it that is new or changed.
///
/// An archive is imported once it is finished: last modified at least the settle time ago
/// (so archives present at start are imported by the first scan), or unchanged in size and
/// mtime since the previous scan. Names starting with `.` or ending in `.partial`
/// or `.tmp` are never touched. A failed import is logged and retried only after the file
/// changes (or the agent restarts). Successful imports are remembered in `.imported.json` in the same directory, by
/// size, mtime and sha256, so a restart imports nothing twice and a touched but identical
/// file is not imported again.
pub struct ImportDir {
    dir: PathBuf,
    importer: Arc<dyn Importer>,
    interval: Duration,
    settle: Duration,
    state: ImportState,
    /// Each candidate's stamp at the previous scan.
    seen: BTreeMap<String, Stamp>,
    /// Files whose import failed, with the stamp they failed at.
    failed: BTreeMap<String, Stamp>,
}

/// What one scan did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Archives imported by this scan.
    pub imported: Vec<ImportedArchive>,
    /// Archives whose import failed in this scan, with the error.
    pub failed: Vec<(PathBuf, String)>,
    /// Archives seen but not yet finished (still changing, or too recently written).
    pub unsettled: Vec<PathBuf>,
}

/// One archive an import succeeded for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedArchive {
    /// The archive.
    pub file: PathBuf,
    /// The images it created.
    pub images: Vec<String>,
}

impl ImportDir {
    /// A watcher for `dir` importing through `importer`, with the state `dir` holds.
    pub fn new(dir: impl Into<PathBuf>, importer: Arc<dyn Importer>) -> Self {
        let dir = dir.into();
        let state = ImportState::load(&dir);
        Self {
            dir,
            importer,
            interval: DEFAULT_INTERVAL,
            settle: DEFAULT_SETTLE,
            state,
            seen: BTreeMap::new(),
            failed: BTreeMap::new(),
        }
    }

    /// Sets how often [`ImportDir::run`] scans (default 5 s).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets how long ago a file must have been modified to count as finished without being
    /// seen unchanged by two scans (default 5 s).
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    /// The directory watched.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the directory, so users find where to drop archives, then scans it at once
    /// and every interval, forever.
    pub async fn run(mut self) {
        if let Err(e) = fs::create_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "creating the image drop directory");
        }
        loop {
            self.scan().await;
            tokio::time::sleep(self.interval).await;
        }
    }

    /// Scans once: imports every finished archive that is new or changed.
    pub async fn scan(&mut self) -> ScanReport {
        let mut report = ScanReport::default();
        let candidates = match self.candidates() {
            Ok(candidates) => candidates,
            Err(e) => {
                if e.kind() != io::ErrorKind::NotFound {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "listing image archives");
                }
                BTreeMap::new()
            }
        };
        let mut state_changed = self.forget_removed(&candidates);
        for (name, (stamp, modified)) in &candidates {
            let path = self.dir.join(name);
            let recorded = self.state.files.get(name);
            if recorded.is_some_and(|r| r.stamp == *stamp) || self.failed.get(name) == Some(stamp) {
                continue;
            }
            let unchanged_since_last_scan = self.seen.get(name) == Some(stamp);
            let left_alone = SystemTime::now()
                .duration_since(*modified)
                .is_ok_and(|age| age >= self.settle);
            if !(unchanged_since_last_scan || left_alone) {
                report.unsettled.push(path);
                continue;
            }
            let sha256 = match hash(&path).await {
                Ok(sha256) => sha256,
                Err(e) => {
                    tracing::debug!(file = %path.display(), error = %e, "image archive vanished");
                    continue;
                }
            };
            if let Some(record) = self.state.files.get_mut(name)
                && record.sha256 == sha256
            {
                // Touched or copied over with the same bytes: nothing to import.
                record.stamp = *stamp;
                state_changed = true;
                continue;
            }
            match self.importer.import(&path).await {
                Ok(images) => {
                    tracing::info!(file = %path.display(), images = %images.join(", "), "imported image archive");
                    self.failed.remove(name);
                    self.state.files.insert(
                        name.clone(),
                        Record {
                            stamp: *stamp,
                            sha256,
                            images: images.clone(),
                        },
                    );
                    state_changed = true;
                    report.imported.push(ImportedArchive { file: path, images });
                }
                Err(e) => {
                    let error = error_chain(&e);
                    tracing::warn!(file = %path.display(), %error, "image archive import failed; retrying when the file changes");
                    self.failed.insert(name.clone(), *stamp);
                    report.failed.push((path, error));
                }
            }
        }
        self.seen = candidates.into_iter().map(|(n, (s, _))| (n, s)).collect();
        if state_changed && let Err(e) = self.state.save(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "saving image import state");
        }
        report
    }

    /// Regular files (or symlinks to them) with archive names, by name, with their stamp and
    /// modification time.
    fn candidates(&self) -> io::Result<BTreeMap<String, (Stamp, SystemTime)>> {
        let mut candidates = BTreeMap::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if !is_archive_name(&name) {
                continue;
            }
            // Following symlinks: a link to an archive elsewhere is imported like a copy.
            let Ok(metadata) = fs::metadata(entry.path()) else {
                continue;
            };
            if !metadata.is_file() {
                continue;
            }
            let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            candidates.insert(name, (Stamp::of(&metadata), modified));
        }
        Ok(candidates)
    }

    /// Drops what is remembered about files that are gone, so one put back is imported
    /// again. Returns whether the saved state changed.
    fn forget_removed(&mut self, present: &BTreeMap<String, (Stamp, SystemTime)>) -> bool {
        self.failed.retain(|name, _| present.contains_key(name));
        let before = self.state.files.len();
        self.state
            .files
            .retain(|name, _| present.contains_key(name));
        before != self.state.files.len()
    }
}

async fn hash(path: &Path) -> io::Result<String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || hash_file(&path))
        .await
        .map_err(io::Error::other)?
}

fn is_archive_name(name: &str) -> bool {
    !name.starts_with('.')
        && !PARTIAL_SUFFIXES.iter().any(|s| name.ends_with(s))
        && ARCHIVE_SUFFIXES
            .iter()
            .any(|s| name.len() > s.len() && name.ends_with(s))
}

#[cfg(test)]
mod tests;
