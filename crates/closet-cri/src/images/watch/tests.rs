//! `ImportDir` with a recording importer: what gets imported, when, and what is remembered.

use std::collections::BTreeSet;
use std::fs::File;
use std::sync::Mutex;

use super::*;
use crate::BoxFuture;
use crate::images::ImageImportError;

/// Records the file names it is asked to import; fails for the names in `failing`.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    failing: Mutex<BTreeSet<String>>,
}

impl Recorder {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("lock").clone()
    }

    fn fail(&self, name: &str, fail: bool) {
        let mut failing = self.failing.lock().expect("lock");
        if fail {
            failing.insert(name.to_owned());
        } else {
            failing.remove(name);
        }
    }
}

impl Importer for Recorder {
    fn import<'a>(
        &'a self,
        file: &'a Path,
    ) -> BoxFuture<'a, Result<Vec<String>, ImageImportError>> {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.calls.lock().expect("lock").push(name.clone());
        let fails = self.failing.lock().expect("lock").contains(&name);
        Box::pin(async move {
            if fails {
                Err(ImageImportError::Ctr {
                    file: name,
                    status: "exit status: 1".into(),
                    stderr: "ctr: unrecognized image format".into(),
                })
            } else {
                Ok(vec![format!("closet.local/{name}:1")])
            }
        })
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    recorder: Arc<Recorder>,
}

impl Fixture {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            recorder: Arc::new(Recorder::default()),
        }
    }

    /// A watcher whose settle time is long, so only files written "long ago" or seen twice
    /// unchanged count as finished.
    fn watcher(&self) -> ImportDir {
        ImportDir::new(self.dir.path(), self.recorder.clone())
            .with_settle(Duration::from_secs(3600))
    }

    /// Writes `content` to `name`, modified two hours ago.
    fn write_old(&self, name: &str, content: &str) -> PathBuf {
        let path = self.write_new(name, content);
        self.age(&path, 7200);
        path
    }

    /// Writes `content` to `name`, modified now.
    fn write_new(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        fs::write(&path, content).expect("write");
        path
    }

    fn age(&self, path: &Path, seconds: u64) {
        let when = SystemTime::now() - Duration::from_secs(seconds);
        File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(when))
            .expect("set mtime");
    }
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn archives_present_at_start_are_imported_once_even_across_restarts() {
    let f = Fixture::new();
    f.write_old("pause.tar", "a");
    f.write_old("busybox.tar.gz", "b");
    f.write_old("saved.docker", "c");
    let mut watcher = f.watcher();

    let report = watcher.scan().await;
    let imported: Vec<_> = report.imported.iter().map(|i| i.images.clone()).collect();
    assert_eq!(
        imported,
        [
            ["closet.local/busybox.tar.gz:1"],
            ["closet.local/pause.tar:1"],
            ["closet.local/saved.docker:1"]
        ]
    );
    assert!(watcher.scan().await.imported.is_empty());

    let mut restarted = f.watcher();
    assert_eq!(restarted.scan().await, ScanReport::default());
    assert_eq!(f.recorder.calls().len(), 3);
    let state = fs::read_to_string(f.dir.path().join(".imported.json")).expect("state");
    assert!(state.contains("closet.local/pause.tar:1"), "{state}");
}

#[tokio::test]
async fn partial_hidden_and_foreign_files_are_left_alone() {
    let f = Fixture::new();
    for name in [
        "notes.txt",
        "image.tar.partial",
        "image.tar.tmp",
        ".hidden.tar",
        ".tar",
        "image.tar.zst",
    ] {
        f.write_old(name, "x");
    }
    fs::create_dir(f.dir.path().join("dir.tar")).expect("mkdir");
    let mut watcher = f.watcher();
    assert_eq!(watcher.scan().await, ScanReport::default());
    assert!(f.recorder.calls().is_empty());
}

#[tokio::test]
async fn a_file_being_written_waits_until_it_stops_changing() {
    let f = Fixture::new();
    let mut watcher = f.watcher();
    let path = f.write_new("big.tar", "part one");
    assert_eq!(names(&watcher.scan().await.unsettled), ["big.tar"]);

    fs::write(&path, "part one, part two").expect("grow");
    assert_eq!(names(&watcher.scan().await.unsettled), ["big.tar"]);
    assert!(f.recorder.calls().is_empty());

    let report = watcher.scan().await;
    assert_eq!(report.imported.len(), 1);
    assert_eq!(f.recorder.calls(), ["big.tar"]);
}

#[tokio::test]
async fn a_failure_is_retried_only_when_the_file_changes_and_stops_nothing() {
    let f = Fixture::new();
    f.recorder.fail("bad.tar", true);
    let bad = f.write_old("bad.tar", "junk");
    f.write_old("good.tar", "fine");
    let mut watcher = f.watcher();

    let report = watcher.scan().await;
    assert_eq!(report.imported.len(), 1, "{report:?}");
    let [(file, error)] = report.failed.as_slice() else {
        panic!("one failure expected: {report:?}")
    };
    assert_eq!(file, &bad);
    assert!(error.contains("unrecognized image format"), "{error}");

    assert_eq!(watcher.scan().await, ScanReport::default());
    assert_eq!(f.recorder.calls(), ["bad.tar", "good.tar"]);

    f.recorder.fail("bad.tar", false);
    fs::write(&bad, "fixed").expect("rewrite");
    f.age(&bad, 7200);
    let report = watcher.scan().await;
    assert_eq!(report.imported.len(), 1, "{report:?}");
    assert_eq!(f.recorder.calls(), ["bad.tar", "good.tar", "bad.tar"]);
}

#[tokio::test]
async fn changed_content_is_imported_again_but_a_touch_is_not() {
    let f = Fixture::new();
    let path = f.write_old("app.tar", "v1");
    let mut watcher = f.watcher();
    watcher.scan().await;

    f.age(&path, 5400);
    assert_eq!(
        watcher.scan().await,
        ScanReport::default(),
        "same bytes, new mtime"
    );
    assert_eq!(watcher.scan().await, ScanReport::default());

    fs::write(&path, "v2").expect("rewrite");
    f.age(&path, 4000);
    assert_eq!(watcher.scan().await.imported.len(), 1);
    assert_eq!(f.recorder.calls(), ["app.tar", "app.tar"]);
}

#[tokio::test]
async fn a_removed_archive_put_back_is_imported_again() {
    let f = Fixture::new();
    let path = f.write_old("app.tar", "v1");
    let mut watcher = f.watcher();
    watcher.scan().await;
    fs::remove_file(&path).expect("remove");
    watcher.scan().await;
    let state = fs::read_to_string(f.dir.path().join(".imported.json")).expect("state");
    assert!(!state.contains("app.tar"), "{state}");

    f.write_old("app.tar", "v1");
    assert_eq!(watcher.scan().await.imported.len(), 1);
    assert_eq!(f.recorder.calls(), ["app.tar", "app.tar"]);
}

#[tokio::test]
async fn a_missing_directory_is_an_empty_scan_and_run_creates_it() {
    let f = Fixture::new();
    let dir = f.dir.path().join("agent/images");
    let mut watcher = ImportDir::new(&dir, f.recorder.clone());
    assert_eq!(watcher.scan().await, ScanReport::default());

    let running = tokio::spawn(
        ImportDir::new(&dir, f.recorder.clone())
            .with_interval(Duration::from_millis(20))
            .with_settle(Duration::ZERO)
            .run(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !dir.is_dir() {
        assert!(
            std::time::Instant::now() < deadline,
            "run never created {dir:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    fs::write(dir.join("late.tar"), "x").expect("write");
    while f.recorder.calls().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "run never imported late.tar"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.abort();
    assert_eq!(f.recorder.calls(), ["late.tar"]);
}
