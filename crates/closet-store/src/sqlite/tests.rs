//! Tests that reach into the backend: storage failures and the exact rows compaction keeps.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use rusqlite::Connection;

use super::{Options, SqliteStore};
use crate::{ListRequest, Store, StoreError};

fn open(dir: &Path, options: Options) -> Arc<SqliteStore> {
    SqliteStore::open(&dir.join("state.db"), options).unwrap()
}

fn unavailable(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Unavailable { reason }) => reason,
        other => panic!("expected unavailable, got {other:?}"),
    }
}

/// Revisions left in the log, read through a separate connection.
fn log_revisions(dir: &Path) -> Vec<i64> {
    let conn = Connection::open(dir.join("state.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT revision FROM log ORDER BY revision")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test]
async fn a_storage_error_makes_the_store_unavailable_for_good() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    store
        .create("/a/1", Bytes::from_static(b"v1"))
        .await
        .unwrap();
    // SQLite clamps the cap to the current size: the next write that needs a page fails with
    // SQLITE_FULL, the same error a full disk gives.
    store
        .exec_for_test("PRAGMA max_page_count = 1")
        .await
        .unwrap();

    let big = Bytes::from(vec![7u8; 1 << 20]);
    let (a, b, c) = tokio::join!(
        store.create("/a/big", big.clone()),
        store.create("/a/small", Bytes::from_static(b"s")),
        store.update("/a/1", Bytes::from_static(b"v2"), 1),
    );
    let reason = unavailable(a);
    assert!(reason.contains("full"), "{reason}");
    // Writes committed in the same batch fail with it; the others are refused afterwards.
    unavailable(b);
    unavailable(c);
    assert_eq!(store.failure().as_deref(), Some(reason.as_str()));

    // It never recovers on its own, even for writes that would fit.
    store
        .exec_for_test("PRAGMA max_page_count = 1000000")
        .await
        .unwrap_err();
    unavailable(store.create("/a/2", Bytes::from_static(b"x")).await);
    unavailable(store.delete("/a/1", None).await);
    unavailable(store.compact().await);
    assert_eq!(store.current_revision(), 1);

    // Reads still answer from what was committed.
    assert_eq!(
        store.get("/a/1").await.unwrap().unwrap().value.as_ref(),
        b"v1"
    );
    assert_eq!(store.get("/a/big").await.unwrap(), None);
    drop(store);

    // A new process (here: a new handle) starts healthy on the intact file.
    let store = open(dir.path(), Options::default());
    assert_eq!(store.current_revision(), 1);
    assert_eq!(
        store
            .create("/a/2", Bytes::from_static(b"x"))
            .await
            .unwrap()
            .mod_revision,
        2
    );
}

#[tokio::test]
async fn compaction_keeps_exactly_what_snapshots_need() {
    let dir = tempfile::tempdir().unwrap();
    // A batch this large never starts on its own, so the test controls compaction.
    let options = Options {
        retain_revisions: 2,
        compact_batch: 1_000,
        ..Options::default()
    };
    let store = open(dir.path(), options);
    let v = |s: &'static str| Bytes::from_static(s.as_bytes());
    store.create("/k/a", v("a1")).await.unwrap(); // 1
    store.create("/k/b", v("b1")).await.unwrap(); // 2
    store.update("/k/a", v("a2"), 1).await.unwrap(); // 3
    store.delete("/k/b", None).await.unwrap(); // 4  tombstone
    store.create("/k/c", v("c1")).await.unwrap(); // 5
    store.update("/k/c", v("c2"), 5).await.unwrap(); // 6
    store.create("/k/d", v("d1")).await.unwrap(); // 7
    assert_eq!(log_revisions(dir.path()), [1, 2, 3, 4, 5, 6, 7]);

    assert_eq!(store.compact().await.unwrap(), 5);
    // 1 is superseded by 3, 2 by the tombstone 4, which goes too; 5 is the newest of /k/c at
    // or below 5 and stays until 6 is compacted.
    assert_eq!(log_revisions(dir.path()), [3, 5, 6, 7]);
    for rev in 5..=7 {
        let req = ListRequest {
            prefix: "/k/".into(),
            revision: Some(rev),
            ..Default::default()
        };
        let list = store.list(req).await.unwrap();
        let expected: &[(&str, i64)] = match rev {
            5 => &[("/k/a", 3), ("/k/c", 5)],
            6 => &[("/k/a", 3), ("/k/c", 6)],
            _ => &[("/k/a", 3), ("/k/c", 6), ("/k/d", 7)],
        };
        let got: Vec<_> = list
            .items
            .iter()
            .map(|kv| (kv.key.as_str(), kv.mod_revision))
            .collect();
        assert_eq!(got, expected, "at revision {rev}");
    }

    store.delete("/k/d", None).await.unwrap(); // 8
    store.update("/k/a", v("a3"), 3).await.unwrap(); // 9
    assert_eq!(store.compact().await.unwrap(), 7);
    assert_eq!(log_revisions(dir.path()), [3, 6, 7, 8, 9]);
    // Nothing more is due: compact() is a no-op and keeps the revision.
    assert_eq!(store.compact().await.unwrap(), 7);
    drop(store);

    let store = open(dir.path(), Options::default());
    assert_eq!(
        (store.current_revision(), store.compacted_revision()),
        (9, 7)
    );
}

#[tokio::test]
async fn options_are_clamped_into_range() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        watch_buffer: 0,
        retain_revisions: -5,
        compact_batch: 0,
        write_batch: 0,
        read_connections: 0,
        ..Options::default()
    };
    let store = open(dir.path(), options);
    store.create("/a", Bytes::from_static(b"v")).await.unwrap();
    store
        .update("/a", Bytes::from_static(b"w"), 1)
        .await
        .unwrap();
    assert_eq!(store.get("/a").await.unwrap().unwrap().mod_revision, 2);
    // A retention below one revision becomes one.
    assert_eq!(store.compact().await.unwrap(), 1);
    let mut watch = store.watch("", 2).unwrap();
    store
        .update("/a", Bytes::from_static(b"x"), 2)
        .await
        .unwrap();
    let item = futures::StreamExt::next(&mut watch).await.unwrap().unwrap();
    assert!(
        matches!(item, crate::WatchItem::Change(ref e) if e.revision() == 3),
        "{item:?}"
    );
}
