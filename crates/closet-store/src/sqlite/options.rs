//! Tunables of the SQLite backend.

use std::time::Duration;

use crate::Revision;

/// Settings of a [`super::SqliteStore`]. The defaults suit a small cluster on a flash card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Most events kept in memory for watch resumes. A watch from before the oldest retained
    /// event gets [`crate::StoreError::Compacted`] and the client relists.
    pub history_events: usize,
    /// Most bytes of keys and values (old and new) kept in that history; whichever of the two
    /// limits is hit first evicts the oldest events.
    pub history_bytes: usize,
    /// How many events a watcher may fall behind the newest one before its stream ends with
    /// [`crate::StoreError::WatcherTooSlow`]. The writer never waits for watchers, but events
    /// not yet read by some watcher stay in memory, so this times the largest event bounds
    /// that memory.
    pub watch_buffer: usize,
    /// Revisions of history kept in the database behind the current one, i.e. how far back
    /// `list` with an explicit revision (paging through a snapshot) still works. At least 1:
    /// the newest row is what records the current revision.
    pub retain_revisions: Revision,
    /// Log rows visited per compaction transaction. Compaction waits until at least this
    /// many revisions are due, so a quiet store does not write for it.
    pub compact_batch: usize,
    /// Most requests committed in one group-commit transaction.
    pub write_batch: usize,
    /// Read-only connections serving `get` and `list` concurrently.
    pub read_connections: usize,
    /// Size in bytes the WAL file is cut back to after each checkpoint
    /// (`PRAGMA journal_size_limit`).
    pub wal_size_limit: i64,
    /// How long a connection waits for a lock held by another one before failing.
    pub busy_timeout: Duration,
    /// Largest value accepted for one key; bigger writes fail with
    /// [`crate::StoreError::ValueTooLarge`] before reaching the database.
    pub max_value_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            history_events: 10_000,
            history_bytes: 16 << 20,
            watch_buffer: 4_096,
            retain_revisions: 10_000,
            compact_batch: 500,
            write_batch: 1_000,
            read_connections: 4,
            wal_size_limit: 8 << 20,
            busy_timeout: Duration::from_secs(5),
            max_value_bytes: 8 << 20,
        }
    }
}

impl Options {
    /// The same settings with every value moved into its usable range.
    pub(crate) fn normalized(mut self) -> Self {
        self.watch_buffer = self.watch_buffer.clamp(1, 1 << 20);
        self.retain_revisions = self.retain_revisions.max(1);
        self.compact_batch = self.compact_batch.max(1);
        self.write_batch = self.write_batch.max(1);
        self.read_connections = self.read_connections.max(1);
        self.wal_size_limit = self.wal_size_limit.max(0);
        self
    }
}
