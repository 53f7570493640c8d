//! The one writer thread and its group commit.
//!
//! The thread owns the only read-write connection. It takes everything queued (up to a cap),
//! applies it in one transaction, commits, and only then publishes the events and answers the
//! callers, so many concurrent writers cost one fsync. After any storage error it refuses every
//! later request: a failed fsync may have lost data SQLite already counted as written, and
//! retrying could acknowledge writes that are not on disk.

use std::sync::Arc;
use std::sync::mpsc::Receiver;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::compactor::{self, Signal};
use super::ops::{self, WriteOp};
use super::{Options, Shared};
use crate::{Event, KeyValue, Revision, StoreError};

/// Where the writer sends its answer.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Work for the writer thread.
pub(crate) enum Request {
    /// A client write.
    Write { op: WriteOp, reply: Reply<KeyValue> },
    /// One compaction step; answers with the new compacted revision.
    Compact {
        upto: Revision,
        max_rows: usize,
        reply: Reply<Revision>,
    },
    /// Vacuum and WAL reset, outside any transaction.
    Maintain { reply: Reply<()> },
    /// Runs raw SQL on the write connection, so tests can break the storage underneath.
    #[cfg(test)]
    Exec { sql: String, reply: Reply<()> },
}

impl Request {
    fn refuse(self, reason: &str) {
        let err = || StoreError::Unavailable {
            reason: reason.to_owned(),
        };
        // A caller that went away does not need an answer.
        let _ = match self {
            Request::Write { reply, .. } => reply.send(Err(err())).map_err(drop),
            Request::Compact { reply, .. } => reply.send(Err(err())).map_err(drop),
            Request::Maintain { reply } => reply.send(Err(err())).map_err(drop),
            #[cfg(test)]
            Request::Exec { reply, .. } => reply.send(Err(err())).map_err(drop),
        };
    }
}

/// What one batch member produced, held until the commit succeeded.
enum Outcome {
    Write(Result<Event, StoreError>),
    Compact(Revision),
}

/// State of the writer thread.
pub(crate) struct Writer {
    conn: Connection,
    requests: Receiver<Request>,
    shared: Arc<Shared>,
    signal: Arc<Signal>,
    options: Options,
    current: Revision,
    compacted: Revision,
}

impl Writer {
    pub(crate) fn new(
        conn: Connection,
        requests: Receiver<Request>,
        shared: Arc<Shared>,
        signal: Arc<Signal>,
        options: Options,
    ) -> Self {
        let current = shared.current_revision();
        let compacted = shared.compacted_revision();
        Self {
            conn,
            requests,
            shared,
            signal,
            options,
            current,
            compacted,
        }
    }

    /// Serves requests until every sender is gone.
    pub(crate) fn run(mut self) {
        while let Ok(first) = self.requests.recv() {
            let mut batch = vec![first];
            while batch.len() < self.options.write_batch {
                match self.requests.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.handle(batch);
        }
    }

    fn handle(&mut self, batch: Vec<Request>) {
        let mut in_txn = Vec::with_capacity(batch.len());
        let mut outside = Vec::new();
        for request in batch {
            match request {
                Request::Write { .. } | Request::Compact { .. } => in_txn.push(request),
                _ => outside.push(request),
            }
        }
        if !in_txn.is_empty() {
            self.commit(in_txn);
        }
        for request in outside {
            self.run_outside(request);
        }
    }

    fn commit(&mut self, batch: Vec<Request>) {
        if let Some(reason) = self.shared.failure() {
            batch.into_iter().for_each(|r| r.refuse(reason));
            return;
        }
        let outcomes = match self.apply(&batch) {
            Ok(outcomes) => outcomes,
            Err(err) => {
                let reason = self.fail(&err);
                batch.into_iter().for_each(|r| r.refuse(&reason));
                return;
            }
        };
        let mut published = Vec::new();
        for outcome in &outcomes {
            if let Outcome::Write(Ok(event)) = outcome {
                published.push(Arc::new(event.clone()));
            }
        }
        // Publishing before answering means a caller that got revision R and then asks for
        // current_revision() or starts a watch already sees R.
        self.shared.publish(published, self.current, self.compacted);
        for (request, outcome) in batch.into_iter().zip(outcomes) {
            let _ = match (request, outcome) {
                (Request::Write { reply, .. }, Outcome::Write(result)) => {
                    reply.send(result.map(|event| event.kv)).map_err(drop)
                }
                (Request::Compact { reply, .. }, Outcome::Compact(rev)) => {
                    reply.send(Ok(rev)).map_err(drop)
                }
                _ => Ok(()),
            };
        }
        if compactor::due(&self.shared, &self.options, self.options.compact_batch).is_some() {
            self.signal.notify();
        }
    }

    /// Runs the batch in one transaction. Any error here leaves nothing committed.
    fn apply(&mut self, batch: &[Request]) -> rusqlite::Result<Vec<Outcome>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut next = self.current + 1;
        let mut compacted = self.compacted;
        let mut outcomes = Vec::with_capacity(batch.len());
        for request in batch {
            match request {
                Request::Write { op, .. } => {
                    let result = ops::apply(&tx, op, next)?;
                    // A refused write takes no revision, so acknowledged revisions have no gaps.
                    if result.is_ok() {
                        next += 1;
                    }
                    outcomes.push(Outcome::Write(result));
                }
                Request::Compact { upto, max_rows, .. } => {
                    let upto = (*upto).min(next - 1);
                    compacted = compactor::step(&tx, compacted, upto, *max_rows)?;
                    outcomes.push(Outcome::Compact(compacted));
                }
                _ => {}
            }
        }
        tx.commit()?;
        self.current = next - 1;
        self.compacted = compacted;
        Ok(outcomes)
    }

    fn run_outside(&mut self, request: Request) {
        if let Some(reason) = self.shared.failure() {
            request.refuse(reason);
            return;
        }
        let (result, reply) = match request {
            Request::Maintain { reply } => (compactor::maintain(&self.conn), reply),
            #[cfg(test)]
            Request::Exec { sql, reply } => (self.conn.execute_batch(&sql), reply),
            other => {
                other.refuse("request sent on the wrong path");
                return;
            }
        };
        match result {
            Ok(()) => {
                let _ = reply.send(Ok(()));
            }
            Err(err) => {
                let reason = self.fail(&err);
                let _ = reply.send(Err(StoreError::Unavailable { reason }));
            }
        }
    }

    fn fail(&self, err: &rusqlite::Error) -> String {
        tracing::error!(error = %err, "store write failed; refusing all further writes");
        self.shared
            .fail(format!("write to the database failed: {err}"))
    }
}
