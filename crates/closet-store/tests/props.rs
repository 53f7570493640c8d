//! Property tests: random writes over a few keys, checked against an in-memory model.
//!
//! For every generated sequence the store must return what the model returns, a watcher from
//! the start must see exactly the model's event sequence, a resume from any retained revision
//! must see exactly the suffix, lists at any retained revision must see the model's snapshot
//! (also page by page), and everything older must fail with `Compacted`.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::collections::BTreeMap;

use bytes::Bytes;
use closet_store::sqlite::Options;
use closet_store::{Event, EventKind, KeyValue, ListRequest, Revision, Store, StoreError};
use common::{changes_until, open};
use proptest::prelude::*;

const KEYS: [&str; 4] = ["/a/1", "/a/2", "/a/3", "/b/1"];

#[derive(Clone, Debug)]
enum Op {
    Create {
        key: usize,
        value: u8,
    },
    /// `stale` sends a revision the key is not at.
    Update {
        key: usize,
        value: u8,
        stale: bool,
    },
    /// `None`: unconditional; `Some(stale)`: with a precondition.
    Delete {
        key: usize,
        precondition: Option<bool>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    prop_oneof![
        (key.clone(), any::<u8>()).prop_map(|(key, value)| Op::Create { key, value }),
        (key.clone(), any::<u8>(), prop::bool::weighted(0.2))
            .prop_map(|(key, value, stale)| Op::Update { key, value, stale }),
        (key, prop::option::of(prop::bool::weighted(0.3)))
            .prop_map(|(key, precondition)| Op::Delete { key, precondition }),
    ]
}

/// What the store should do, computed the obvious way.
#[derive(Default)]
struct Model {
    live: BTreeMap<String, KeyValue>,
    events: Vec<Event>,
    /// `snapshots[r]` is the state at revision `r`.
    snapshots: Vec<BTreeMap<String, KeyValue>>,
}

#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    AlreadyExists,
    NotFound,
    Conflict(Revision, Revision),
}

fn refusal(err: StoreError) -> Refusal {
    match err {
        StoreError::AlreadyExists { .. } => Refusal::AlreadyExists,
        StoreError::NotFound { .. } => Refusal::NotFound,
        StoreError::Conflict {
            expected, current, ..
        } => Refusal::Conflict(expected, current),
        other => panic!("unexpected store error: {other}"),
    }
}

impl Model {
    fn rev(&self) -> Revision {
        self.events.len() as Revision
    }

    /// The revision an update or delete sends: right, or deliberately wrong.
    fn expected(&self, key: &str, stale: bool) -> Revision {
        let at = self.live.get(key).map_or(1, |kv| kv.mod_revision);
        if stale { at + 1_000 } else { at }
    }

    fn apply(&mut self, key: &str, op: &Op, expected: Revision) -> Result<KeyValue, Refusal> {
        let rev = self.rev() + 1;
        let old = self.live.get(key).cloned();
        let event = match (op, old) {
            (Op::Create { .. }, Some(_)) => return Err(Refusal::AlreadyExists),
            (Op::Create { value, .. }, None) => {
                let kv = kv(key, *value, rev, rev);
                Event {
                    kind: EventKind::Created,
                    kv,
                    prev: None,
                }
            }
            (_, None) => return Err(Refusal::NotFound),
            (
                Op::Update { .. }
                | Op::Delete {
                    precondition: Some(_),
                    ..
                },
                Some(old),
            ) if old.mod_revision != expected => {
                return Err(Refusal::Conflict(expected, old.mod_revision));
            }
            (Op::Update { value, .. }, Some(old)) => {
                let kv = kv(key, *value, old.create_revision, rev);
                Event {
                    kind: EventKind::Updated,
                    kv,
                    prev: Some(old),
                }
            }
            (Op::Delete { .. }, Some(old)) => {
                let kv = KeyValue {
                    mod_revision: rev,
                    ..old.clone()
                };
                Event {
                    kind: EventKind::Deleted,
                    kv,
                    prev: Some(old),
                }
            }
        };
        if event.kind == EventKind::Deleted {
            self.live.remove(key);
        } else {
            self.live.insert(key.to_owned(), event.kv.clone());
        }
        self.snapshots.push(self.live.clone());
        self.events.push(event.clone());
        Ok(event.kv)
    }
}

fn kv(key: &str, value: u8, create_revision: Revision, mod_revision: Revision) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Bytes::from(vec![value]),
        create_revision,
        mod_revision,
    }
}

async fn list_paged(store: &dyn Store, rev: Revision) -> Result<Vec<KeyValue>, StoreError> {
    let mut items = Vec::new();
    let mut start_after = None;
    loop {
        let req = ListRequest {
            prefix: "/".into(),
            revision: Some(rev),
            start_after,
            limit: Some(2),
        };
        let page = store.list(req).await?;
        assert_eq!(page.revision, rev);
        start_after = page.items.last().map(|kv| kv.key.clone());
        items.extend(page.items);
        if !page.more {
            return Ok(items);
        }
    }
}

async fn check(ops: Vec<Op>, history: usize, retain: Revision, batch: usize) {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        history_events: history,
        retain_revisions: retain,
        compact_batch: batch,
        ..Options::default()
    };
    let store = open(dir.path(), options.clone());
    let mut all = store.watch("", 0).unwrap();
    let mut only_a = store.watch("/a/", 0).unwrap();
    let mut model = Model {
        snapshots: vec![BTreeMap::new()],
        ..Model::default()
    };

    for op in &ops {
        let (Op::Create { key, .. } | Op::Update { key, .. } | Op::Delete { key, .. }) = op;
        let key = KEYS[*key];
        let expected = match op {
            Op::Update { stale, .. }
            | Op::Delete {
                precondition: Some(stale),
                ..
            } => model.expected(key, *stale),
            _ => 0,
        };
        let got = match op {
            Op::Create { value, .. } => store.create(key, Bytes::from(vec![*value])).await,
            Op::Update { value, .. } => {
                store.update(key, Bytes::from(vec![*value]), expected).await
            }
            Op::Delete { precondition, .. } => {
                store.delete(key, precondition.map(|_| expected)).await
            }
        };
        assert_eq!(
            got.map_err(refusal),
            model.apply(key, op, expected),
            "{op:?}"
        );
    }
    let n = model.rev();
    assert_eq!(store.current_revision(), n);

    // Watchers from the start: the exact sequence, and the exact prefix-filtered sequence.
    assert_eq!(changes_until(&mut all, n).await, model.events);
    let a: Vec<Event> = model
        .events
        .iter()
        .filter(|e| e.kv.key.starts_with("/a/"))
        .cloned()
        .collect();
    assert_eq!(changes_until(&mut only_a, n).await, a);

    // Resumes: the suffix while it is in memory, `Compacted` before that.
    let floor = (n - history as Revision).max(0);
    for after in 0..n {
        match store.watch("", after) {
            Ok(mut watch) => {
                assert!(after >= floor, "resume from {after} below floor {floor}");
                assert_eq!(
                    changes_until(&mut watch, n).await,
                    model.events[after as usize..]
                );
            }
            Err(StoreError::Compacted {
                requested,
                compacted,
            }) => {
                assert!(
                    after < floor,
                    "resume from {after} refused above floor {floor}"
                );
                assert_eq!((requested, compacted), (after, floor));
            }
            Err(other) => panic!("watch from {after}: {other}"),
        }
    }

    // Lists before and after forcing compaction: exact snapshots, else `Compacted`.
    for forced in [false, true] {
        if forced {
            assert_eq!(store.compact().await.unwrap(), (n - retain.max(1)).max(0));
        }
        for rev in 0..=n {
            let expected: Vec<KeyValue> = model.snapshots[rev as usize].values().cloned().collect();
            match list_paged(&*store, rev).await {
                Ok(items) => assert_eq!(items, expected, "list at {rev}"),
                Err(StoreError::Compacted { compacted, .. }) => {
                    assert!(rev < compacted && compacted <= store.compacted_revision());
                }
                Err(other) => panic!("list at {rev}: {other}"),
            }
        }
    }
    let latest = store
        .list(ListRequest {
            prefix: "/".into(),
            ..ListRequest::default()
        })
        .await;
    assert_eq!(
        latest.unwrap().items,
        model.live.values().cloned().collect::<Vec<_>>()
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_the_model(
        ops in prop::collection::vec(op(), 0..40),
        history in 1usize..30,
        retain in 0i64..12,
        batch in 1usize..6,
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(check(ops, history, retain, batch));
    }
}
