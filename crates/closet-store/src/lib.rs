//! The versioned object store behind the apiserver (DESIGN.md §4).
//!
//! Every write takes the next global [`Revision`], which the apiserver shows to clients as
//! `metadata.resourceVersion`. Values are opaque bytes (the apiserver stores JSON without
//! `resourceVersion`; it fills that in from [`KeyValue::mod_revision`] on the way out).
//!
//! Start with [`Store`], the trait every backend implements, then [`sqlite::SqliteStore`], the
//! embedded backend: one writer thread with group commit, a push-based watch fan-out with a
//! bounded in-memory history, and continuous compaction of the revision log.

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

mod error;
pub mod sqlite;
mod watch;

pub use error::StoreError;

/// A global, strictly increasing write counter. The first write of a fresh store is revision 1.
pub type Revision = i64;

/// One stored value and the revisions that describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key, e.g. `/core/configmaps/default/app-config`.
    pub key: String,
    /// The stored bytes.
    pub value: Bytes,
    /// The revision that created this key (kept across updates).
    pub create_revision: Revision,
    /// The revision of the write that produced this value; for a deletion event, the revision
    /// of the deletion itself.
    pub mod_revision: Revision,
}

/// What a committed write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The key did not exist before.
    Created,
    /// The key existed and got a new value.
    Updated,
    /// The key was removed.
    Deleted,
}

/// One committed change, as seen by watchers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The new value; for [`EventKind::Deleted`] the last value before deletion, with
    /// `mod_revision` set to the deletion's revision.
    pub kv: KeyValue,
    /// The value before this write, if the key existed. Watchers need it to turn "stopped
    /// matching a label selector" into a DELETED event, as upstream does.
    pub prev: Option<KeyValue>,
}

impl Event {
    /// The revision at which this change was committed.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// An item of a watch stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchItem {
    /// A change to a key under the watched prefix.
    Change(Event),
    /// The stream has seen every revision up to this one; nothing under the prefix changed in
    /// between. Lets the apiserver send truthful bookmarks.
    Progress(Revision),
}

/// A watch: ordered by revision, no gaps, no duplicates. It ends with
/// `Err(StoreError::WatcherTooSlow)` if its consumer falls too far behind, and never blocks the
/// writer.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchItem, StoreError>> + Send>>;

/// Which slice of a prefix to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Keys that start with this string. Callers end it with `/` to avoid sibling matches.
    pub prefix: String,
    /// Read the state as of this revision; `None` reads the latest committed state.
    /// A revision older than the compacted one fails with [`StoreError::Compacted`].
    pub revision: Option<Revision>,
    /// Only keys strictly greater than this one (paging).
    pub start_after: Option<String>,
    /// At most this many items; `None` or `Some(0)` means all.
    pub limit: Option<usize>,
}

/// The answer to a [`ListRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListResponse {
    /// Items in key order.
    pub items: Vec<KeyValue>,
    /// The revision the list was read at (the store's current revision when `revision` was
    /// `None`). Continue pages pass it back to read the same snapshot.
    pub revision: Revision,
    /// True when `limit` cut the list short.
    pub more: bool,
}

/// A versioned key-value store with compare-and-swap writes and push-based watches.
///
/// Every write method returns only after its write is durable.
pub trait Store: Send + Sync + 'static {
    /// Creates `key`. Fails with [`StoreError::AlreadyExists`] if it exists.
    fn create(&self, key: &str, value: Bytes) -> BoxFuture<'_, Result<KeyValue, StoreError>>;

    /// Replaces the value of `key` if its current `mod_revision` is `expected`.
    /// Fails with [`StoreError::NotFound`] or [`StoreError::Conflict`].
    fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> BoxFuture<'_, Result<KeyValue, StoreError>>;

    /// Deletes `key`, if `expected` is `None` or equals its current `mod_revision`.
    /// Returns the last value, with `mod_revision` set to the deletion's revision.
    fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> BoxFuture<'_, Result<KeyValue, StoreError>>;

    /// The latest value of `key`, if any.
    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<KeyValue>, StoreError>>;

    /// A consistent slice of the keys under a prefix, at one revision.
    fn list(&self, req: ListRequest) -> BoxFuture<'_, Result<ListResponse, StoreError>>;

    /// Changes under `prefix` with revisions strictly greater than `after`.
    /// Fails with [`StoreError::Compacted`] if `after` is older than the retained history.
    fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError>;

    /// The revision of the newest durable write (0 for an empty store).
    fn current_revision(&self) -> Revision;

    /// The oldest revision that `list` can still read at.
    fn compacted_revision(&self) -> Revision;
}

/// A boxed, sendable future, so that [`Store`] stays object-safe (`Arc<dyn Store>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
