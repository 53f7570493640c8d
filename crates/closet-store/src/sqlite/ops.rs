//! The three write operations, each checked against `current` inside the batch transaction.
//!
//! Every function returns `rusqlite::Result<Result<Event, StoreError>>`: the outer error is a
//! storage failure that dooms the whole batch, the inner one a failed precondition that only
//! concerns its caller and consumes no revision.

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension};

use crate::{Event, EventKind, KeyValue, Revision, StoreError};

/// One write, as queued for the writer thread.
#[derive(Debug)]
pub(crate) enum WriteOp {
    /// See [`crate::Store::create`].
    Create { key: String, value: Bytes },
    /// See [`crate::Store::update`].
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
    },
    /// See [`crate::Store::delete`].
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

/// Applies `op` at revision `rev` if its precondition holds.
pub(crate) fn apply(
    conn: &Connection,
    op: &WriteOp,
    rev: Revision,
) -> rusqlite::Result<Result<Event, StoreError>> {
    match op {
        WriteOp::Create { key, value } => create(conn, key, value, rev),
        WriteOp::Update {
            key,
            value,
            expected,
        } => update(conn, key, value, *expected, rev),
        WriteOp::Delete { key, expected } => delete(conn, key, *expected, rev),
    }
}

fn create(
    conn: &Connection,
    key: &str,
    value: &Bytes,
    rev: Revision,
) -> rusqlite::Result<Result<Event, StoreError>> {
    let exists = conn
        .prepare_cached("SELECT revision FROM current WHERE key = ?1")?
        .query_row([key], |r| r.get::<_, Revision>(0))
        .optional()?;
    if exists.is_some() {
        return Ok(Err(StoreError::AlreadyExists {
            key: key.to_owned(),
        }));
    }
    append(conn, rev, key, value, rev, 0, false)?;
    conn.prepare_cached("INSERT INTO current (key, revision) VALUES (?1, ?2)")?
        .execute((key, rev))?;
    let kv = KeyValue {
        key: key.to_owned(),
        value: value.clone(),
        create_revision: rev,
        mod_revision: rev,
    };
    Ok(Ok(Event {
        kind: EventKind::Created,
        kv,
        prev: None,
    }))
}

fn update(
    conn: &Connection,
    key: &str,
    value: &Bytes,
    expected: Revision,
    rev: Revision,
) -> rusqlite::Result<Result<Event, StoreError>> {
    let Some(old) = latest(conn, key)? else {
        return Ok(Err(StoreError::NotFound {
            key: key.to_owned(),
        }));
    };
    if old.mod_revision != expected {
        return Ok(Err(conflict(key, expected, &old)));
    }
    append(
        conn,
        rev,
        key,
        value,
        old.create_revision,
        old.mod_revision,
        false,
    )?;
    conn.prepare_cached("UPDATE current SET revision = ?2 WHERE key = ?1")?
        .execute((key, rev))?;
    let kv = KeyValue {
        key: key.to_owned(),
        value: value.clone(),
        create_revision: old.create_revision,
        mod_revision: rev,
    };
    Ok(Ok(Event {
        kind: EventKind::Updated,
        kv,
        prev: Some(old),
    }))
}

fn delete(
    conn: &Connection,
    key: &str,
    expected: Option<Revision>,
    rev: Revision,
) -> rusqlite::Result<Result<Event, StoreError>> {
    let Some(old) = latest(conn, key)? else {
        return Ok(Err(StoreError::NotFound {
            key: key.to_owned(),
        }));
    };
    if let Some(expected) = expected.filter(|e| *e != old.mod_revision) {
        return Ok(Err(conflict(key, expected, &old)));
    }
    // The tombstone keeps no value: events carry it from memory, and nothing reads it later.
    append(
        conn,
        rev,
        key,
        &Bytes::new(),
        old.create_revision,
        old.mod_revision,
        true,
    )?;
    conn.prepare_cached("DELETE FROM current WHERE key = ?1")?
        .execute([key])?;
    let kv = KeyValue {
        mod_revision: rev,
        ..old.clone()
    };
    Ok(Ok(Event {
        kind: EventKind::Deleted,
        kv,
        prev: Some(old),
    }))
}

fn conflict(key: &str, expected: Revision, old: &KeyValue) -> StoreError {
    StoreError::Conflict {
        key: key.to_owned(),
        expected,
        current: old.mod_revision,
    }
}

/// The live value of `key`, if any.
pub(crate) fn latest(conn: &Connection, key: &str) -> rusqlite::Result<Option<KeyValue>> {
    conn.prepare_cached(
        "SELECT l.value, l.create_revision, l.revision
         FROM current c JOIN log l ON l.revision = c.revision
         WHERE c.key = ?1",
    )?
    .query_row([key], |r| {
        Ok(KeyValue {
            key: key.to_owned(),
            value: Bytes::from(r.get::<_, Vec<u8>>(0)?),
            create_revision: r.get(1)?,
            mod_revision: r.get(2)?,
        })
    })
    .optional()
}

fn append(
    conn: &Connection,
    rev: Revision,
    key: &str,
    value: &[u8],
    create_revision: Revision,
    prev_revision: Revision,
    deleted: bool,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO log (revision, key, value, create_revision, prev_revision, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute((rev, key, value, create_revision, prev_revision, deleted))?;
    Ok(())
}
