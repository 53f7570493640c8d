//! Reads on a small pool of read-only connections, off the async workers.
//!
//! Each read runs in its own transaction, so the current and compacted revisions and the rows it
//! returns come from one snapshot even while the writer and the compactor carry on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rusqlite::{Connection, Row, ToSql};
use tokio::sync::Semaphore;

use super::ops;
use super::schema::{self, META_COMPACTED};
use crate::{KeyValue, ListRequest, ListResponse, Revision, StoreError};

/// Read-only connections, each used by one blocking task at a time.
pub(crate) struct ReadPool {
    path: PathBuf,
    busy_timeout: Duration,
    conns: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    /// Opens `size` connections to the database at `path`.
    pub(crate) fn open(
        path: &Path,
        size: usize,
        busy_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let conns = (0..size)
            .map(|_| schema::open_reader(path, busy_timeout))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            path: path.to_owned(),
            busy_timeout,
            permits: Arc::new(Semaphore::new(conns.len())),
            conns: Mutex::new(conns),
        })
    }

    /// Runs `f` on a free connection in the blocking thread pool.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let closed = |_| StoreError::Unavailable {
            reason: "the read pool is closed".to_owned(),
        };
        let permit = self.permits.clone().acquire_owned().await.map_err(closed)?;
        let pool = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let idle = pool.conns.lock().unwrap_or_else(|e| e.into_inner()).pop();
            // A connection is only missing if a read panicked while holding it; replace it.
            let mut conn = match idle {
                Some(conn) => conn,
                None => schema::open_reader(&pool.path, pool.busy_timeout)?,
            };
            let result = f(&mut conn);
            pool.conns
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(conn);
            drop(permit);
            result
        });
        task.await.map_err(|err| StoreError::Unavailable {
            reason: format!("read task failed: {err}"),
        })?
    }
}

/// The latest value of `key`.
pub(crate) fn get(conn: &mut Connection, key: &str) -> Result<Option<KeyValue>, StoreError> {
    ops::latest(conn, key).map_err(StoreError::Database)
}

/// One page of a prefix at one revision.
pub(crate) fn list(conn: &mut Connection, req: &ListRequest) -> Result<ListResponse, StoreError> {
    let tx = conn.transaction().map_err(StoreError::Database)?;
    let current = schema::current_revision(&tx).map_err(StoreError::Database)?;
    let compacted = schema::meta(&tx, META_COMPACTED).map_err(StoreError::Database)?;
    let at = match req.revision {
        None => current,
        Some(rev) if rev > current => {
            return Err(StoreError::FutureRevision {
                requested: rev,
                current,
            });
        }
        Some(rev) if rev < compacted => {
            return Err(StoreError::Compacted {
                requested: rev,
                compacted,
            });
        }
        Some(rev) => rev,
    };
    let limit = req.limit.filter(|l| *l > 0);
    // One row more than asked tells whether another page exists.
    let fetch = limit.map_or(-1, |l| {
        i64::try_from(l).unwrap_or(i64::MAX).saturating_add(1)
    });
    let range = KeyRange::new(&req.prefix, req.start_after.as_deref());

    let mut items = if at == current {
        let sql = format!(
            "SELECT c.key, l.value, l.create_revision, l.revision
             FROM current c JOIN log l ON l.revision = c.revision
             WHERE {} ORDER BY c.key LIMIT ?",
            range.condition("c.key"),
        );
        query(&tx, &sql, &range, &[&fetch])
    } else {
        // SQLite takes the bare columns from the row that holds max(revision), i.e. the newest
        // row of each key at or below the requested revision.
        let sql = format!(
            "SELECT key, value, create_revision, revision FROM (
                 SELECT key, value, create_revision, deleted, max(revision) AS revision
                 FROM log WHERE {} AND revision <= ? GROUP BY key
             ) WHERE deleted = 0 ORDER BY key LIMIT ?",
            range.condition("key"),
        );
        query(&tx, &sql, &range, &[&at, &fetch])
    }
    .map_err(StoreError::Database)?;

    let more = limit.is_some_and(|l| items.len() > l);
    if let Some(l) = limit {
        items.truncate(l);
    }
    Ok(ListResponse {
        items,
        revision: at,
        more,
    })
}

fn query(
    conn: &Connection,
    sql: &str,
    range: &KeyRange,
    extra: &[&dyn ToSql],
) -> rusqlite::Result<Vec<KeyValue>> {
    let mut params: Vec<&dyn ToSql> = vec![&range.lower];
    if let Some(upper) = &range.upper {
        params.push(upper);
    }
    params.extend_from_slice(extra);
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params.as_slice(), row_to_kv)?;
    rows.collect()
}

fn row_to_kv(row: &Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: row.get(0)?,
        value: Bytes::from(row.get::<_, Vec<u8>>(1)?),
        create_revision: row.get::<_, Revision>(2)?,
        mod_revision: row.get::<_, Revision>(3)?,
    })
}

/// The key bounds of a list, written so SQLite can answer them from an index range.
struct KeyRange {
    lower: String,
    lower_inclusive: bool,
    upper: Option<String>,
}

impl KeyRange {
    fn new(prefix: &str, start_after: Option<&str>) -> Self {
        let upper = prefix_end(prefix);
        match start_after {
            Some(after) if after >= prefix => Self {
                lower: after.to_owned(),
                lower_inclusive: false,
                upper,
            },
            _ => Self {
                lower: prefix.to_owned(),
                lower_inclusive: true,
                upper,
            },
        }
    }

    fn condition(&self, column: &str) -> String {
        let op = if self.lower_inclusive { ">=" } else { ">" };
        match self.upper {
            Some(_) => format!("{column} {op} ? AND {column} < ?"),
            None => format!("{column} {op} ?"),
        }
    }
}

/// The smallest string greater than every string that starts with `prefix`, if one exists.
///
/// Keys compare as UTF-8 bytes, which is code point order, so bumping the last character that
/// can be bumped gives the bound.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::prefix_end;

    #[test]
    fn prefix_end_bumps_the_last_character() {
        assert_eq!(prefix_end("/a/").as_deref(), Some("/a0"));
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10FFFF}"), None);
    }

    #[test]
    fn prefix_end_bounds_every_extension() {
        let prefix = "/core/pods/";
        let end = prefix_end(prefix).unwrap_or_default();
        for key in [
            "/core/pods/",
            "/core/pods/a",
            "/core/pods/\u{10FFFF}\u{10FFFF}",
        ] {
            assert!(key >= prefix && key < end.as_str(), "{key}");
        }
        assert!("/core/pods0" >= end.as_str());
    }
}
