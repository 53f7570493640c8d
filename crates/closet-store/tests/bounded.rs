//! The database and WAL stay bounded when the same keys are rewritten forever, and an idle
//! store leaves its files alone.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use closet_store::Store;
use closet_store::sqlite::Options;
use common::open;
use rusqlite::{Connection, OpenFlags};

const KEYS: usize = 10;
const REWRITES: usize = 5_000;
const RETAIN: i64 = 1_000;
const BATCH: usize = 500;

#[derive(Debug, Default, Clone, Copy)]
struct Sizes {
    rows: i64,
    db: u64,
    wal: u64,
}

fn sizes(dir: &Path) -> Sizes {
    let db = dir.join("state.db");
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let conn = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let rows = conn
        .query_row("SELECT count(*) FROM log", [], |r| r.get(0))
        .unwrap();
    Sizes {
        rows,
        db: len(&db),
        wal: len(&dir.join("state.db-wal")),
    }
}

fn max(a: Sizes, b: Sizes) -> Sizes {
    Sizes {
        rows: a.rows.max(b.rows),
        db: a.db.max(b.db),
        wal: a.wal.max(b.wal),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rewriting_the_same_keys_keeps_the_files_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        retain_revisions: RETAIN,
        compact_batch: BATCH,
        wal_size_limit: 1 << 20,
        ..Options::default()
    };
    let store = open(dir.path(), options);

    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (dir, done) = (dir.path().to_owned(), done.clone());
        tokio::task::spawn_blocking(move || {
            let mut worst = Sizes::default();
            while !done.load(Ordering::Relaxed) {
                worst = max(worst, sizes(&dir));
                std::thread::sleep(Duration::from_millis(50));
            }
            worst
        })
    };
    let writers: Vec<_> = (0..KEYS)
        .map(|k| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("/leases/node-{k}");
                let value = Bytes::from(vec![b'x'; 200]);
                let mut rev = store
                    .create(&key, value.clone())
                    .await
                    .unwrap()
                    .mod_revision;
                for _ in 1..REWRITES {
                    rev = store
                        .update(&key, value.clone(), rev)
                        .await
                        .unwrap()
                        .mod_revision;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let worst = sampler.await.unwrap();
    let total = (KEYS * REWRITES) as i64;
    assert_eq!(store.current_revision(), total);

    let compacted = store.compact().await.unwrap();
    assert_eq!(compacted, total - RETAIN);
    let end = sizes(dir.path());
    eprintln!("worst while writing: {worst:?}; after compaction: {end:?}");

    // Without compaction the log would hold 50,000 rows and several MiB.
    assert_eq!(
        end.rows,
        RETAIN + KEYS as i64,
        "retained revisions plus one row per key"
    );
    assert!(worst.rows < RETAIN + 4 * BATCH as i64, "{worst:?}");
    assert!(worst.db < 2 << 20, "{worst:?}");
    // Checkpoints run every 1000 pages (4 MiB); a reader can delay one, not stop them.
    assert!(worst.wal < 8 << 20, "{worst:?}");
    assert!(end.db < 2 << 20 && end.wal == 0, "{end:?}");
    drop(store);
}

#[tokio::test]
async fn an_idle_store_does_not_touch_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        retain_revisions: 10,
        compact_batch: 20,
        ..Options::default()
    };
    let store = open(dir.path(), options);
    for i in 0..100 {
        store
            .create(&format!("/k/{i}"), Bytes::from_static(b"v"))
            .await
            .unwrap();
    }
    store.compact().await.unwrap();
    // Let a background round that was already due finish.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stamp = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .map(|m| (m.len(), m.modified().unwrap()))
            .ok()
    };
    let before = (stamp("state.db"), stamp("state.db-wal"));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!((stamp("state.db"), stamp("state.db-wal")), before);
    assert_eq!(store.compacted_revision(), 90);
}
