//! The embedded SQLite backend (DESIGN.md §4).
//!
//! [`SqliteStore::open`] starts two threads: the writer (`writer.rs`), which owns the only
//! read-write connection and commits queued writes in groups, and the compactor
//! (`compactor.rs`), which trims the revision log through the writer. Reads run on a pool of
//! read-only connections in tokio's blocking pool (`reader.rs`); watches are served from memory
//! (`src/watch.rs`). The table layout is described in `schema.rs`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::watch::{Hub, HubLimits};
use crate::{
    BoxFuture, Event, KeyValue, ListRequest, ListResponse, Revision, Store, StoreError, WatchStream,
};

mod compactor;
mod ops;
mod options;
mod reader;
mod schema;
mod writer;

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;

pub use options::Options;

use compactor::Signal;
use ops::WriteOp;
use reader::ReadPool;
use writer::{Request, Writer};

/// State shared by the store handle, the writer and the compactor.
pub(crate) struct Shared {
    current: AtomicI64,
    compacted: AtomicI64,
    failure: OnceLock<String>,
    hub: Hub,
}

impl Shared {
    pub(crate) fn current_revision(&self) -> Revision {
        self.current.load(Ordering::Acquire)
    }

    pub(crate) fn compacted_revision(&self) -> Revision {
        self.compacted.load(Ordering::Acquire)
    }

    /// Why writes are refused, once they are.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// Enters the failed state (the first reason wins) and returns the reason.
    pub(crate) fn fail(&self, reason: String) -> String {
        let _ = self.failure.set(reason);
        self.failure.get().cloned().unwrap_or_default()
    }

    /// Makes a committed batch visible.
    pub(crate) fn publish(&self, events: Vec<Arc<Event>>, current: Revision, compacted: Revision) {
        self.hub.publish(events);
        self.current.store(current, Ordering::Release);
        self.compacted.store(compacted, Ordering::Release);
    }
}

/// A [`Store`] in one SQLite file, with group commit and an in-memory watch fan-out.
///
/// Dropping the last handle stops the background threads after they finish the work already
/// queued, and waits for them.
pub struct SqliteStore {
    path: PathBuf,
    options: Options,
    shared: Arc<Shared>,
    requests: Option<Sender<Request>>,
    reads: Arc<ReadPool>,
    signal: Arc<Signal>,
    writer: Option<JoinHandle<()>>,
    compactor: Option<JoinHandle<()>>,
}

impl SqliteStore {
    /// Opens or creates the database at `path` and starts the writer and compactor threads.
    ///
    /// Blocks briefly on file I/O. It needs no runtime itself, but `get` and `list` must then
    /// be awaited inside a tokio runtime. The watch history starts empty: a watch from before
    /// the current revision fails with [`StoreError::Compacted`].
    ///
    /// Only one store, in one process, may have a file open at a time: a second writer would
    /// make the first one's commits fail, and a failed commit stops the store for good.
    pub fn open(path: &Path, options: Options) -> Result<Arc<Self>, StoreError> {
        let options = options.normalized();
        let conn = schema::open_writer(path, options.busy_timeout, options.wal_size_limit)?;
        let db_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let current = schema::current_revision(&conn).map_err(db_err)?;
        let compacted = schema::meta(&conn, schema::META_COMPACTED).map_err(db_err)?;
        let reads = ReadPool::open(path, options.read_connections, options.busy_timeout)?;

        let limits = HubLimits {
            history_events: options.history_events,
            history_bytes: options.history_bytes,
            buffer: options.watch_buffer,
        };
        let shared = Arc::new(Shared {
            current: AtomicI64::new(current),
            compacted: AtomicI64::new(compacted),
            failure: OnceLock::new(),
            hub: Hub::new(current, limits),
        });
        let signal = Arc::new(Signal::default());
        let (requests, queue) = mpsc::channel();

        let writer = Writer::new(conn, queue, shared.clone(), signal.clone(), options.clone());
        let writer = spawn("closet-store-writer", path, move || writer.run())?;
        let compactor = {
            let (requests, shared, signal) = (requests.clone(), shared.clone(), signal.clone());
            let options = options.clone();
            spawn("closet-store-compactor", path, move || {
                compactor::run(requests, shared, signal, options)
            })
        };
        // Dropping the sender lets the writer thread finish if the compactor failed to start.
        let compactor = match compactor {
            Ok(handle) => handle,
            Err(err) => {
                drop(requests);
                let _ = writer.join();
                return Err(err);
            }
        };
        tracing::info!(path = %path.display(), current, compacted, "store opened");
        Ok(Arc::new(Self {
            path: path.to_owned(),
            options,
            shared,
            requests: Some(requests),
            reads: Arc::new(reads),
            signal,
            writer: Some(writer),
            compactor: Some(compactor),
        }))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why the store refuses writes, if it does.
    pub fn failure(&self) -> Option<String> {
        self.shared.failure().map(str::to_owned)
    }

    /// Compacts the log down to `current - retain_revisions` now, instead of waiting for a
    /// full batch to be due, then resets the WAL. Returns the compacted revision.
    pub async fn compact(&self) -> Result<Revision, StoreError> {
        while let Some(upto) = compactor::due(&self.shared, &self.options, 1) {
            let max_rows = self.options.compact_batch;
            wait(self.submit(|reply| Request::Compact {
                upto,
                max_rows,
                reply,
            })?)
            .await?;
        }
        wait(self.submit(|reply| Request::Maintain { reply })?).await?;
        Ok(self.shared.compacted_revision())
    }

    /// Queues a request for the writer and returns where its answer will arrive.
    fn submit<T>(
        &self,
        request: impl FnOnce(writer::Reply<T>) -> Request,
    ) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError> {
        if let Some(reason) = self.shared.failure() {
            return Err(StoreError::Unavailable {
                reason: reason.to_owned(),
            });
        }
        let (reply, answer) = oneshot::channel();
        let sender = self.requests.as_ref().ok_or_else(writer_stopped)?;
        sender.send(request(reply)).map_err(|_| writer_stopped())?;
        Ok(answer)
    }

    fn write(&self, op: WriteOp) -> BoxFuture<'_, Result<KeyValue, StoreError>> {
        let answer = self.submit(|reply| Request::Write { op, reply });
        Box::pin(async move { wait(answer?).await })
    }

    fn check_size(&self, key: &str, value: &Bytes) -> Result<(), StoreError> {
        let limit = self.options.max_value_bytes;
        if value.len() > limit {
            return Err(StoreError::ValueTooLarge {
                key: key.to_owned(),
                size: value.len(),
                limit,
            });
        }
        Ok(())
    }

    #[cfg(test)]
    pub(crate) async fn exec_for_test(&self, sql: &str) -> Result<(), StoreError> {
        let sql = sql.to_owned();
        wait(self.submit(|reply| Request::Exec { sql, reply })?).await
    }
}

/// The writer's answer; a dropped reply means the writer thread is gone.
async fn wait<T>(answer: oneshot::Receiver<Result<T, StoreError>>) -> Result<T, StoreError> {
    answer.await.unwrap_or_else(|_| Err(writer_stopped()))
}

fn writer_stopped() -> StoreError {
    StoreError::Unavailable {
        reason: "the writer thread stopped".to_owned(),
    }
}

fn spawn(
    name: &str,
    path: &Path,
    body: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(body)
        .map_err(|source| StoreError::Io {
            path: path.display().to_string(),
            source,
        })
}

// === impl Store for SqliteStore ===

impl Store for SqliteStore {
    fn create(&self, key: &str, value: Bytes) -> BoxFuture<'_, Result<KeyValue, StoreError>> {
        if let Err(err) = self.check_size(key, &value) {
            return Box::pin(std::future::ready(Err(err)));
        }
        self.write(WriteOp::Create {
            key: key.to_owned(),
            value,
        })
    }

    fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> BoxFuture<'_, Result<KeyValue, StoreError>> {
        if let Err(err) = self.check_size(key, &value) {
            return Box::pin(std::future::ready(Err(err)));
        }
        self.write(WriteOp::Update {
            key: key.to_owned(),
            value,
            expected,
        })
    }

    fn delete(
        &self,
        key: &str,
        expected: Option<Revision>,
    ) -> BoxFuture<'_, Result<KeyValue, StoreError>> {
        self.write(WriteOp::Delete {
            key: key.to_owned(),
            expected,
        })
    }

    fn get(&self, key: &str) -> BoxFuture<'_, Result<Option<KeyValue>, StoreError>> {
        let key = key.to_owned();
        Box::pin(self.reads.run(move |conn| reader::get(conn, &key)))
    }

    fn list(&self, req: ListRequest) -> BoxFuture<'_, Result<ListResponse, StoreError>> {
        Box::pin(self.reads.run(move |conn| reader::list(conn, &req)))
    }

    fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        self.shared.hub.watch(prefix, after)
    }

    fn current_revision(&self) -> Revision {
        self.shared.current_revision()
    }

    fn compacted_revision(&self) -> Revision {
        self.shared.compacted_revision()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // The compactor holds a sender too; it has to go first or the writer never sees the
        // queue close.
        self.signal.stop();
        if let Some(handle) = self.compactor.take() {
            let _ = handle.join();
        }
        self.requests = None;
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}
