//! Many writers at once, and watchers that keep up or do not.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use closet_store::sqlite::Options;
use closet_store::{Revision, Store, StoreError};
use common::{changes_until, next, open};

const TASKS: usize = 64;
const WRITES: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_get_distinct_gapless_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    let mut watch = store.watch("", 0).unwrap();
    store
        .create("/shared", Bytes::from_static(b"x"))
        .await
        .unwrap();

    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("/c/{t}");
                let mut revs = vec![
                    store
                        .create(&key, Bytes::from(vec![0]))
                        .await
                        .unwrap()
                        .mod_revision,
                ];
                for i in 1..WRITES {
                    // Refused writes in the same batches must not take revisions.
                    let err = store
                        .create("/shared", Bytes::from_static(b"y"))
                        .await
                        .unwrap_err();
                    assert!(matches!(err, StoreError::AlreadyExists { .. }), "{err}");
                    let last = *revs.last().unwrap();
                    let err = store
                        .update(&key, Bytes::new(), last + 100_000)
                        .await
                        .unwrap_err();
                    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
                    let kv = store
                        .update(&key, Bytes::from(vec![i as u8]), last)
                        .await
                        .unwrap();
                    revs.push(kv.mod_revision);
                }
                (key, revs)
            })
        })
        .collect();
    let mut acked: BTreeMap<String, Vec<Revision>> = BTreeMap::new();
    for task in tasks {
        let (key, revs) = task.await.unwrap();
        acked.insert(key, revs);
    }

    let total = (TASKS * WRITES) as Revision + 1;
    assert_eq!(store.current_revision(), total);
    let all: BTreeSet<Revision> = acked.values().flatten().copied().collect();
    assert_eq!(all.len(), TASKS * WRITES, "revisions are distinct");
    assert_eq!(
        all,
        (2..=total).collect::<BTreeSet<_>>(),
        "revisions have no gaps"
    );

    let events = changes_until(&mut watch, total).await;
    let revs: Vec<Revision> = events.iter().map(|e| e.revision()).collect();
    assert_eq!(
        revs,
        (1..=total).collect::<Vec<_>>(),
        "the watcher sees every write in order"
    );
    let mut per_key: BTreeMap<String, Vec<Revision>> = BTreeMap::new();
    for event in events.iter().skip(1) {
        per_key
            .entry(event.kv.key.clone())
            .or_default()
            .push(event.revision());
    }
    assert_eq!(
        per_key, acked,
        "each key's events match its acknowledged writes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_is_never_polled_is_dropped_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        dir.path(),
        Options {
            watch_buffer: 8,
            ..Options::default()
        },
    );
    let mut slow = store.watch("", 0).unwrap();

    let writers: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    store
                        .create(&format!("/s/{t}/{i}"), Bytes::from_static(b"v"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(store.current_revision(), 200, "the writer kept going");

    let mut seen = 0;
    loop {
        match next(&mut slow).await {
            Some(Ok(_)) => seen += 1,
            Some(Err(StoreError::WatcherTooSlow)) => break,
            other => panic!("expected WatcherTooSlow, got {other:?}"),
        }
    }
    assert!(
        seen < 200,
        "a lagging watcher must not get everything silently"
    );
    assert!(
        next(&mut slow).await.is_none(),
        "the stream ends after the error"
    );

    // A watcher that starts now still works.
    let mut fresh = store.watch("", 200).unwrap();
    store
        .create("/s/after", Bytes::from_static(b"v"))
        .await
        .unwrap();
    assert_eq!(changes_until(&mut fresh, 201).await.len(), 1);
}
