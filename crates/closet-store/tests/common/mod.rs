//! Helpers shared by the integration tests.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use closet_store::sqlite::{Options, SqliteStore};
use closet_store::{Event, Revision, StoreError, WatchItem, WatchStream};
use futures::StreamExt;

/// How long a test waits for an event that must arrive.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// Opens a store in `dir` with the given options.
pub(crate) fn open(dir: &Path, options: Options) -> Arc<SqliteStore> {
    SqliteStore::open(&dir.join("state.db"), options).unwrap()
}

/// The next item of a watch, failing the test if none comes in time.
pub(crate) async fn next(stream: &mut WatchStream) -> Option<Result<WatchItem, StoreError>> {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("watch item in time")
}

/// Reads a watch until it has covered `until`, returning the changes and checking that
/// revisions only go up.
pub(crate) async fn changes_until(stream: &mut WatchStream, until: Revision) -> Vec<Event> {
    let mut seen = 0;
    let mut events = Vec::new();
    while seen < until {
        let item = next(stream)
            .await
            .expect("stream open")
            .expect("no watch error");
        let rev = match item {
            WatchItem::Change(event) => {
                let rev = event.revision();
                events.push(event);
                rev
            }
            WatchItem::Progress(rev) => rev,
        };
        assert!(rev > seen, "watch went from {seen} back to {rev}");
        seen = rev;
    }
    assert_eq!(seen, until, "watch overshot");
    events
}
