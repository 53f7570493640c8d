//! The one error type of the store.

use crate::Revision;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `create` found the key already present.
    #[error("key {key} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// The key does not exist.
    #[error("key {key} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// A compare-and-swap precondition failed.
    #[error("key {key} is at revision {current}, not {expected}")]
    Conflict {
        /// The key.
        key: String,
        /// The revision the caller expected.
        expected: Revision,
        /// The key's current revision.
        current: Revision,
    },
    /// The requested revision is older than the retained history.
    #[error("revision {requested} has been compacted (oldest available is {compacted})")]
    Compacted {
        /// What the caller asked for.
        requested: Revision,
        /// The oldest revision still available.
        compacted: Revision,
    },
    /// The requested revision is newer than anything written.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        /// What the caller asked for.
        requested: Revision,
        /// The current revision.
        current: Revision,
    },
    /// A watcher fell too far behind the writer and was dropped.
    #[error("watcher fell too far behind and was closed")]
    WatcherTooSlow,
    /// The store stopped accepting writes after a storage failure; it never retries on its own.
    #[error("store is unavailable: {reason}")]
    Unavailable {
        /// What broke.
        reason: String,
    },
    /// A value is larger than the store accepts for one key.
    #[error("value for key {key} is {size} bytes, more than the limit of {limit}")]
    ValueTooLarge {
        /// The key.
        key: String,
        /// The size of the rejected value.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The database file could not be opened or set up.
    #[error("cannot open database {path}")]
    Open {
        /// The database file.
        path: String,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The database file exists but this build cannot use it.
    #[error("database {path} is not usable: {reason}")]
    Unsupported {
        /// The database file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The database reported an error.
    #[error("database error")]
    Database(#[source] rusqlite::Error),
    /// An I/O error on the database files.
    #[error("i/o error on {path}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}
