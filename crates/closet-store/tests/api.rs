//! Every `Store` method and every error it can return, on the SQLite backend.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use bytes::Bytes;
use closet_store::sqlite::Options;
use closet_store::{EventKind, KeyValue, ListRequest, Store, StoreError, WatchItem};
use common::{changes_until, next, open};
use futures::{FutureExt, StreamExt};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn list(prefix: &str) -> ListRequest {
    ListRequest {
        prefix: prefix.to_owned(),
        ..ListRequest::default()
    }
}

fn keys(items: &[KeyValue]) -> Vec<&str> {
    items.iter().map(|kv| kv.key.as_str()).collect()
}

#[tokio::test]
async fn create_assigns_revisions_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    assert_eq!(store.current_revision(), 0);

    let kv = store.create("/a/1", b("one")).await.unwrap();
    assert_eq!(
        kv,
        KeyValue {
            key: "/a/1".into(),
            value: b("one"),
            create_revision: 1,
            mod_revision: 1
        }
    );
    let err = store.create("/a/1", b("again")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadyExists { ref key } if key == "/a/1"),
        "{err}"
    );
    // A refused write takes no revision.
    assert_eq!(
        store.create("/a/2", b("two")).await.unwrap().mod_revision,
        2
    );
    assert_eq!(store.current_revision(), 2);
    assert_eq!(store.get("/a/1").await.unwrap().unwrap().value, b("one"));
}

#[tokio::test]
async fn update_checks_the_expected_revision() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    store.create("/a/1", b("v1")).await.unwrap();
    store.create("/a/other", b("x")).await.unwrap();

    let kv = store.update("/a/1", b("v2"), 1).await.unwrap();
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.value.clone()),
        (1, 3, b("v2"))
    );

    let err = store.update("/a/1", b("v3"), 1).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { ref key, expected: 1, current: 3 } if key == "/a/1"),
        "{err}"
    );
    let err = store.update("/a/missing", b("v"), 1).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { ref key } if key == "/a/missing"),
        "{err}"
    );
    assert_eq!(store.current_revision(), 3);
    assert_eq!(store.get("/a/1").await.unwrap().unwrap(), kv);
}

#[tokio::test]
async fn delete_with_and_without_precondition() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    store.create("/a/1", b("one")).await.unwrap();
    store.create("/a/2", b("two")).await.unwrap();

    let err = store.delete("/a/1", Some(2)).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                expected: 2,
                current: 1,
                ..
            }
        ),
        "{err}"
    );
    let gone = store.delete("/a/1", Some(1)).await.unwrap();
    assert_eq!(
        gone,
        KeyValue {
            key: "/a/1".into(),
            value: b("one"),
            create_revision: 1,
            mod_revision: 3
        }
    );
    let gone = store.delete("/a/2", None).await.unwrap();
    assert_eq!((gone.value, gone.mod_revision), (b("two"), 4));

    let err = store.delete("/a/1", None).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert_eq!(store.get("/a/1").await.unwrap(), None);

    // A key can come back; it starts a new life with a new create revision.
    let again = store.create("/a/1", b("new")).await.unwrap();
    assert_eq!((again.create_revision, again.mod_revision), (5, 5));
}

#[tokio::test]
async fn get_missing_is_none() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    assert_eq!(store.get("/nothing").await.unwrap(), None);
}

#[tokio::test]
async fn oversized_values_are_refused_before_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        dir.path(),
        Options {
            max_value_bytes: 4,
            ..Options::default()
        },
    );
    let err = store.create("/a/1", b("12345")).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::ValueTooLarge {
                size: 5,
                limit: 4,
                ..
            }
        ),
        "{err}"
    );
    store.create("/a/1", b("1234")).await.unwrap();
    let err = store.update("/a/1", b("123456"), 1).await.unwrap_err();
    assert!(matches!(err, StoreError::ValueTooLarge { .. }), "{err}");
    assert_eq!(store.current_revision(), 1);
}

#[tokio::test]
async fn list_pages_through_one_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    for key in ["/a/3", "/a/1", "/ab/x", "/a/2", "/b/1", "/a/4", "/a"] {
        store.create(key, b(key)).await.unwrap();
    }
    let all = store.list(list("/a/")).await.unwrap();
    assert_eq!(keys(&all.items), ["/a/1", "/a/2", "/a/3", "/a/4"]);
    assert_eq!((all.revision, all.more), (7, false));
    assert_eq!(all.items[0].value, b("/a/1"));

    let zero = store
        .list(ListRequest {
            limit: Some(0),
            ..list("/a/")
        })
        .await
        .unwrap();
    assert_eq!(zero.items.len(), 4);

    let page = store
        .list(ListRequest {
            limit: Some(2),
            ..list("/a/")
        })
        .await
        .unwrap();
    assert_eq!((keys(&page.items), page.more), (vec!["/a/1", "/a/2"], true));
    let page = store
        .list(ListRequest {
            limit: Some(2),
            start_after: Some("/a/2".into()),
            ..list("/a/")
        })
        .await
        .unwrap();
    // Exactly the rest: `more` must not be set when nothing follows.
    assert_eq!(
        (keys(&page.items), page.more),
        (vec!["/a/3", "/a/4"], false)
    );
    let page = store
        .list(ListRequest {
            limit: Some(3),
            start_after: Some("/a/3".into()),
            ..list("/a/")
        })
        .await
        .unwrap();
    assert_eq!((keys(&page.items), page.more), (vec!["/a/4"], false));

    let everything = store.list(list("")).await.unwrap();
    assert_eq!(everything.items.len(), 7);
}

#[tokio::test]
async fn list_at_an_old_revision_sees_the_old_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    store.create("/a/1", b("1a")).await.unwrap(); // 1
    store.create("/a/2", b("2a")).await.unwrap(); // 2
    store.update("/a/1", b("1b"), 1).await.unwrap(); // 3
    store.delete("/a/2", None).await.unwrap(); // 4
    store.create("/a/3", b("3a")).await.unwrap(); // 5

    let at = |revision, limit: Option<usize>, start_after: Option<&str>| {
        let req = ListRequest {
            revision: Some(revision),
            limit,
            start_after: start_after.map(str::to_owned),
            ..list("/a/")
        };
        store.list(req)
    };
    let old = at(2, None, None).await.unwrap();
    assert_eq!(old.revision, 2);
    assert_eq!(
        old.items
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.clone(), kv.mod_revision))
            .collect::<Vec<_>>(),
        [("/a/1", b("1a"), 1), ("/a/2", b("2a"), 2)]
    );
    let old = at(4, None, None).await.unwrap();
    assert_eq!(keys(&old.items), ["/a/1"]);
    assert_eq!(old.items[0].value, b("1b"));
    let page = at(3, Some(1), None).await.unwrap();
    assert_eq!((keys(&page.items), page.more), (vec!["/a/1"], true));
    let page = at(3, Some(1), Some("/a/1")).await.unwrap();
    assert_eq!((keys(&page.items), page.more), (vec!["/a/2"], false));
    assert!(at(0, None, None).await.unwrap().items.is_empty());
    assert_eq!(
        keys(&at(5, None, None).await.unwrap().items),
        ["/a/1", "/a/3"]
    );

    let err = at(6, None, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::FutureRevision {
                requested: 6,
                current: 5
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn list_below_the_compacted_revision_fails() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        retain_revisions: 2,
        compact_batch: 1,
        ..Options::default()
    };
    let store = open(dir.path(), options);
    store.create("/a/1", b("v1")).await.unwrap(); // 1
    store.create("/a/2", b("x")).await.unwrap(); // 2
    for rev in 1..=4 {
        let expected = if rev == 1 { 1 } else { rev + 1 };
        store
            .update("/a/1", b(&format!("v{}", rev + 1)), expected)
            .await
            .unwrap(); // 3..=6
    }
    assert_eq!(store.compact().await.unwrap(), 4);
    assert_eq!(store.compacted_revision(), 4);

    let err = store
        .list(ListRequest {
            revision: Some(3),
            ..list("/a/")
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Compacted {
                requested: 3,
                compacted: 4
            }
        ),
        "{err}"
    );
    // The compacted revision itself is still readable, exactly.
    let at4 = store
        .list(ListRequest {
            revision: Some(4),
            ..list("/a/")
        })
        .await
        .unwrap();
    let values: Vec<_> = at4
        .items
        .iter()
        .map(|kv| (kv.value.clone(), kv.mod_revision))
        .collect();
    assert_eq!(values, [(b("v3"), 4), (b("x"), 2)]);
    let at5 = store
        .list(ListRequest {
            revision: Some(5),
            ..list("/a/")
        })
        .await
        .unwrap();
    assert_eq!(at5.items[0].value, b("v4"));
}

#[tokio::test]
async fn watch_filters_by_prefix_and_reports_progress() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    let mut watch = store.watch("/a/", 0).unwrap();
    store.create("/a/1", b("v1")).await.unwrap(); // 1
    store.create("/b/1", b("x")).await.unwrap(); // 2
    store.create("/b/2", b("y")).await.unwrap(); // 3
    store.update("/a/1", b("v2"), 1).await.unwrap(); // 4
    store.delete("/a/1", Some(4)).await.unwrap(); // 5
    store.create("/b/3", b("z")).await.unwrap(); // 6

    let mut items = Vec::new();
    while items.last() != Some(&WatchItem::Progress(6)) {
        items.push(next(&mut watch).await.unwrap().unwrap());
    }
    let summary: Vec<_> = items
        .iter()
        .map(|item| match item {
            WatchItem::Change(e) => (Some(e.kind), e.revision()),
            WatchItem::Progress(rev) => (None, *rev),
        })
        .collect();
    // Consecutive progress marks may be coalesced, so accept either form for revisions 2-3.
    let coalesced = [
        (Some(EventKind::Created), 1),
        (None, 3),
        (Some(EventKind::Updated), 4),
        (Some(EventKind::Deleted), 5),
        (None, 6),
    ];
    let separate = [
        (Some(EventKind::Created), 1),
        (None, 2),
        (None, 3),
        (Some(EventKind::Updated), 4),
        (Some(EventKind::Deleted), 5),
        (None, 6),
    ];
    assert!(summary == coalesced || summary == separate, "{summary:?}");

    let WatchItem::Change(deleted) = &items[items.len() - 2] else {
        panic!("{items:?}")
    };
    assert_eq!(
        (deleted.kv.value.clone(), deleted.kv.mod_revision),
        (b("v2"), 5)
    );
    assert_eq!(deleted.prev.as_ref().map(|p| p.mod_revision), Some(4));
    let WatchItem::Change(updated) = &items[items.len() - 3] else {
        panic!("{items:?}")
    };
    assert_eq!(
        updated.prev.as_ref().map(|p| p.value.clone()),
        Some(b("v1"))
    );
}

#[tokio::test]
async fn watch_resumes_from_history_and_refuses_what_fell_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(
        dir.path(),
        Options {
            history_events: 3,
            ..Options::default()
        },
    );
    for i in 1..=5 {
        store.create(&format!("/a/{i}"), b("v")).await.unwrap();
    }
    let err = store.watch("/a/", 1).err().unwrap();
    assert!(
        matches!(
            err,
            StoreError::Compacted {
                requested: 1,
                compacted: 2
            }
        ),
        "{err}"
    );
    let mut watch = store.watch("/a/", 2).unwrap();
    let revs: Vec<_> = changes_until(&mut watch, 5)
        .await
        .iter()
        .map(|e| e.revision())
        .collect();
    assert_eq!(revs, [3, 4, 5]);
    // The next live event follows with no gap.
    store.create("/a/6", b("v")).await.unwrap();
    assert_eq!(changes_until(&mut watch, 6).await[0].kv.key, "/a/6");

    // A watch from a revision not written yet waits for it.
    let mut ahead = store.watch("/a/", 7).unwrap();
    store.create("/a/7", b("v")).await.unwrap();
    store.create("/a/8", b("v")).await.unwrap();
    assert_eq!(changes_until(&mut ahead, 8).await.len(), 1);
}

#[tokio::test]
async fn reopening_keeps_data_and_starts_an_empty_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Options::default());
    store.create("/a/1", b("v1")).await.unwrap();
    store.update("/a/1", b("v2"), 1).await.unwrap();
    store.create("/a/2", b("x")).await.unwrap();
    store.delete("/a/2", None).await.unwrap();
    drop(store);

    let store = open(dir.path(), Options::default());
    assert_eq!(store.current_revision(), 4);
    let kv = store.get("/a/1").await.unwrap().unwrap();
    assert_eq!(
        (kv.value, kv.create_revision, kv.mod_revision),
        (b("v2"), 1, 2)
    );
    assert_eq!(store.get("/a/2").await.unwrap(), None);
    let old = store
        .list(ListRequest {
            revision: Some(3),
            ..list("/a/")
        })
        .await
        .unwrap();
    assert_eq!(keys(&old.items), ["/a/1", "/a/2"]);

    let err = store.watch("/a/", 3).err().unwrap();
    assert!(
        matches!(
            err,
            StoreError::Compacted {
                requested: 3,
                compacted: 4
            }
        ),
        "{err}"
    );
    let mut watch = store.watch("/a/", 4).unwrap();
    assert!(watch.next().now_or_never().is_none(), "nothing new yet");
    assert_eq!(store.create("/a/3", b("v")).await.unwrap().mod_revision, 5);
    assert_eq!(changes_until(&mut watch, 5).await[0].kv.key, "/a/3");
}

#[tokio::test]
async fn works_behind_a_trait_object() {
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<dyn Store> = open(dir.path(), Options::default());
    store.create("/a/1", b("v")).await.unwrap();
    assert_eq!(store.list(list("/a/")).await.unwrap().items.len(), 1);
}
