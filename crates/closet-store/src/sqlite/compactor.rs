//! Continuous compaction of the revision log.
//!
//! Compacting up to revision `C` keeps, for every key, the newest row at or below `C` unless it
//! is a tombstone, plus everything above `C`; a list at any revision `>= C` therefore still
//! sees its exact snapshot. Rather than asking "which rows are superseded" per key, a step
//! walks the rows just above the old compacted revision in order: each row supersedes the row
//! named by its `prev_revision`, and a tombstone also removes itself. Every row is visited
//! once, through the primary key only.
//!
//! The compactor thread only decides *when*; the deletions run on the writer thread as
//! ordinary batch members, so there is still one writer and they share its fsyncs.

use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::schema::{self, META_COMPACTED};
use super::writer::Request;
use super::{Options, Shared};
use crate::Revision;

/// Deletes superseded rows above `from` and at most `upto`, visiting at most `max_rows` rows.
/// Returns the new compacted revision.
pub(crate) fn step(
    conn: &Connection,
    from: Revision,
    upto: Revision,
    max_rows: usize,
) -> rusqlite::Result<Revision> {
    if upto <= from {
        return Ok(from);
    }
    let limit = i64::try_from(max_rows.max(1)).unwrap_or(i64::MAX);
    let rows: Vec<(Revision, Revision, bool)> = conn
        .prepare_cached(
            "SELECT revision, prev_revision, deleted FROM log
             WHERE revision > ?1 AND revision <= ?2 ORDER BY revision LIMIT ?3",
        )?
        .query_map((from, upto, limit), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut delete = conn.prepare_cached("DELETE FROM log WHERE revision = ?1")?;
    for &(rev, prev, deleted) in &rows {
        if prev > 0 {
            delete.execute([prev])?;
        }
        if deleted {
            delete.execute([rev])?;
        }
    }
    // A short page means the whole window was visited, even revisions with no row left.
    let reached = match rows.last() {
        Some(&(rev, _, _)) if rows.len() >= max_rows.max(1) => rev,
        _ => upto,
    };
    schema::set_meta(conn, META_COMPACTED, reached)?;
    Ok(reached)
}

/// Returns free pages to the file system after a large deletion and resets the WAL.
///
/// Runs outside any transaction. Free pages are otherwise reused by later inserts, so the
/// vacuum only fires when they are a large share of the file: under steady churn it would
/// just move pages back and forth and wear the disk.
pub(crate) fn maintain(conn: &Connection) -> rusqlite::Result<()> {
    let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
    let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    if free > 256 && free * 4 > pages {
        conn.execute_batch("PRAGMA incremental_vacuum")?;
    }
    // TRUNCATE leaves a zero-length WAL, so an idle store has nothing left to checkpoint.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(())
}

/// Wakes the compactor thread, or tells it to stop.
#[derive(Debug, Default)]
pub(crate) struct Signal {
    state: Mutex<SignalState>,
    cond: Condvar,
}

#[derive(Debug, Default)]
struct SignalState {
    wake: bool,
    stop: bool,
}

impl Signal {
    /// Asks for one compaction round.
    pub(crate) fn notify(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.wake = true;
        self.cond.notify_one();
    }

    /// Asks the thread to exit.
    pub(crate) fn stop(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.stop = true;
        self.cond.notify_one();
    }

    fn stopped(&self) -> bool {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stop
    }

    /// Blocks until notified; false once stopped.
    fn wait(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while !state.wake && !state.stop {
            state = self.cond.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.wake = false;
        !state.stop
    }
}

/// The revision compaction may advance to now, if that is worth a transaction.
pub(crate) fn due(shared: &Shared, options: &Options, min_rows: usize) -> Option<Revision> {
    let target = shared.current_revision() - options.retain_revisions;
    let backlog = target - shared.compacted_revision();
    (backlog > 0 && backlog >= i64::try_from(min_rows).unwrap_or(i64::MAX)).then_some(target)
}

/// The compactor thread: sleeps until the writer reports a backlog, then compacts it in small
/// transactions and resets the WAL. It never touches the disk while nothing is written.
pub(crate) fn run(
    requests: Sender<Request>,
    shared: Arc<Shared>,
    signal: Arc<Signal>,
    options: Options,
) {
    loop {
        // A round runs down to the target seen when it started, not chasing new writes: under
        // constant churn that would turn into one tiny compaction per write.
        if let Some(goal) = due(&shared, &options, options.compact_batch) {
            while shared.compacted_revision() < goal {
                if signal.stopped() {
                    return;
                }
                let (reply, done) = oneshot::channel();
                let max_rows = options.compact_batch;
                let request = Request::Compact {
                    upto: goal,
                    max_rows,
                    reply,
                };
                if requests.send(request).is_err() || !matches!(done.blocking_recv(), Ok(Ok(_))) {
                    return;
                }
            }
            tracing::debug!(compacted = goal, "compacted the revision log");
            let (reply, done) = oneshot::channel();
            if requests.send(Request::Maintain { reply }).is_err()
                || !matches!(done.blocking_recv(), Ok(Ok(())))
            {
                return;
            }
        }
        if !signal.wait() {
            return;
        }
    }
}
