//! Database layout and connection setup.
//!
//! `log` holds one row per revision. A row with `deleted = 1` is a tombstone: its key stopped
//! existing at that revision and its value is empty. `prev_revision` is the revision of the
//! value the write replaced (0 for a creation); compaction follows it to find superseded rows
//! without scanning by key. `current` maps every live key to its newest row, so the latest state
//! is a join and never a max-per-key query. `meta` holds the compacted revision, so that a read
//! transaction sees it consistently with the rows.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::{Revision, StoreError};

/// The layout version written to `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_revision ON log (key, revision);
CREATE TABLE IF NOT EXISTS current (
    key TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('compacted_revision', 0);
";

/// The row of `meta` holding the compacted revision.
pub(crate) const META_COMPACTED: &str = "compacted_revision";

/// Opens (creating if needed) the database for the writer and brings the schema up.
pub(crate) fn open_writer(
    path: &Path,
    busy_timeout: Duration,
    wal_size_limit: i64,
) -> Result<Connection, StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.display().to_string(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(busy_timeout).map_err(open_err)?;
    conn.set_prepared_statement_cache_capacity(32);

    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(open_err)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Unsupported {
            path: path.display().to_string(),
            reason: format!("schema version {version} is newer than {SCHEMA_VERSION}"),
        });
    }
    // auto_vacuum can only be chosen before the first table exists; on an older file this is
    // a harmless no-op.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
        .map_err(open_err)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unsupported {
            path: path.display().to_string(),
            reason: format!("the file system refused WAL mode (journal mode is {mode})"),
        });
    }
    // FULL makes every commit fsync the WAL: an acknowledged write survives power loss.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(open_err)?;
    conn.pragma_update(None, "journal_size_limit", wal_size_limit)
        .map_err(open_err)?;
    conn.execute_batch(SCHEMA).map_err(open_err)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(open_err)?;
    sync_parent_dir(path)?;
    Ok(conn)
}

/// Opens one read-only connection; the writer must have created the database first.
pub(crate) fn open_reader(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.display().to_string(),
        source,
    };
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(busy_timeout).map_err(open_err)?;
    conn.set_prepared_statement_cache_capacity(16);
    Ok(conn)
}

/// The newest revision written. Compaction always keeps the newest row (the retention is at
/// least one revision), so this needs no counter of its own, and a commit touches one page
/// fewer than it would with one: on a flash card, every page per lease renewal counts.
pub(crate) fn current_revision(conn: &Connection) -> rusqlite::Result<Revision> {
    conn.prepare_cached("SELECT coalesce(max(revision), 0) FROM log")?
        .query_row([], |r| r.get(0))
}

/// Reads one revision counter from `meta`.
pub(crate) fn meta(conn: &Connection, name: &str) -> rusqlite::Result<Revision> {
    let value = conn
        .prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?;
    Ok(value.unwrap_or(0))
}

/// Writes one revision counter to `meta`.
pub(crate) fn set_meta(conn: &Connection, name: &str, value: Revision) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE meta SET value = ?2 WHERE name = ?1")?
        .execute((name, value))?;
    Ok(())
}

/// Makes the directory entry of a newly created database file durable.
fn sync_parent_dir(path: &Path) -> Result<(), StoreError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })
}
