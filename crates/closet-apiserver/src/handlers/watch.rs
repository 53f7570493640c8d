//! WATCH: chunked, one JSON event per line, pushed from the store's fan-out.
//!
//! Semantics follow upstream (kubectl-wire.md §3.4): with `resourceVersion` unset or `0` the
//! stream starts with ADDED events for the current state; with `N` it carries only changes
//! after N, or answers 410 if N is older than the retained history. Label and field
//! selectors turn "started matching" into ADDED and "stopped matching" into DELETED.

use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use closet_store::{Event, EventKind, Revision, WatchItem, WatchStream};
use closet_types::params::ListParams;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::Call;
use super::list::scan;
use crate::Shared;
use crate::codec::Output;
use crate::error::{ApiError, ApiResult};
use crate::filter::Filter;
use crate::object;

/// How often an idle watch that asked for bookmarks gets one.
const BOOKMARK_EVERY: Duration = Duration::from_secs(30);

/// Longest watch a client may ask for: a year. (No timeout at all means "until closed".)
const MAX_WATCH_SECONDS: i64 = 365 * 24 * 3600;

/// Events buffered per watch before the sender waits on the client.
const STREAM_BUFFER: usize = 64;

type Line = Result<bytes::Bytes, std::io::Error>;

/// Starts a watch stream.
pub(crate) async fn watch(
    shared: &Shared,
    call: Call,
    params: ListParams,
    filter: Filter,
) -> ApiResult<Response> {
    if params
        .timeout_seconds
        .is_some_and(|t| !(0..=MAX_WATCH_SECONDS).contains(&t))
    {
        return Err(ApiError::bad_request(format!(
            "timeoutSeconds must be between 0 and {MAX_WATCH_SECONDS}"
        )));
    }
    let rv = params
        .resource_version
        .as_deref()
        .filter(|rv| !rv.is_empty());
    let initial = params
        .send_initial_events
        .unwrap_or(matches!(rv, None | Some("0")));
    let mut encoder = Encoder {
        info: call.info.clone(),
        output: call.output,
        include: call.include_object(),
        first: true,
    };
    let mut initial_lines = Vec::new();
    let start: Revision = if initial {
        // The initial state is read as one consistent snapshot, then the watch continues
        // from exactly that revision: no gap, no repeat. Events are encoded as they are
        // read, so a large initial state is held as bytes, not as decoded objects.
        let mut unpaged = params.clone();
        unpaged.limit = None;
        unpaged.continue_token = None;
        unpaged.resource_version = None;
        unpaged.resource_version_match = None;
        let page = scan(shared, &call, &unpaged, &filter, |obj| {
            initial_lines.push(encoder.event("ADDED", obj));
            Ok(())
        })
        .await?;
        page.revision
    } else {
        object::parse_revision(rv.unwrap_or("0"))?
    };
    let prefix = call.info.prefix_for(call.namespace());
    let stream = shared
        .store
        .watch(&prefix, start)
        .map_err(ApiError::from_store_general)?;

    // The initial-events-end bookmark is for clients that asked for streaming lists
    // explicitly and accept bookmarks.
    let asked_streaming = form_urlencoded::parse(call.query.as_bytes())
        .any(|(k, v)| k == "sendInitialEvents" && v == "true");
    let session = Session {
        encoder,
        filter,
        last: start,
        bookmarks: params.allow_watch_bookmarks,
        initial_end_bookmark: asked_streaming && params.allow_watch_bookmarks,
        timeout: params
            .timeout_seconds
            .filter(|t| *t > 0)
            .map(|t| Duration::from_secs(t as u64)),
    };
    let (tx, rx) = mpsc::channel::<Line>(STREAM_BUFFER);
    tokio::spawn(session.run(initial_lines, stream, tx));
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Ok(([(http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// One running watch.
struct Session {
    encoder: Encoder,
    filter: Filter,
    /// The newest revision this watch has seen (bookmarks report it).
    last: Revision,
    bookmarks: bool,
    initial_end_bookmark: bool,
    timeout: Option<Duration>,
}

impl Session {
    /// Streams until the client goes away, the timeout passes, or the store ends the watch.
    async fn run(
        mut self,
        initial: Vec<bytes::Bytes>,
        mut stream: WatchStream,
        tx: mpsc::Sender<Line>,
    ) {
        for line in initial {
            if send(&tx, line).await.is_err() {
                return;
            }
        }
        if self.initial_end_bookmark
            && send(&tx, self.encoder.bookmark(self.last, true))
                .await
                .is_err()
        {
            return;
        }
        let deadline = self.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        loop {
            let line = tokio::select! {
                _ = tx.closed() => return,
                _ = sleep_until(deadline) => return,
                _ = ticker.tick(), if self.bookmarks => self.encoder.bookmark(self.last, false),
                item = stream.next() => match item {
                    Some(Ok(WatchItem::Progress(rev))) => {
                        self.last = rev;
                        continue;
                    }
                    Some(Ok(WatchItem::Change(event))) => {
                        self.last = event.revision();
                        let Some((kind, obj)) = translate(&event, &self.filter) else { continue };
                        self.encoder.event(kind, obj)
                    }
                    Some(Err(err)) => {
                        // Too slow or compacted: the client must relist, as after a 410.
                        let status = ApiError::expired(format!("watch closed: {err}")).to_status();
                        let _ = send(&tx, self.encoder.line(json!({"type": "ERROR", "object": status}))).await;
                        return;
                    }
                    None => return,
                },
            };
            if send(&tx, line).await.is_err() {
                return;
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn send(tx: &mpsc::Sender<Line>, line: bytes::Bytes) -> Result<(), ()> {
    tx.send(Ok(line)).await.map_err(|_| ())
}

/// What a watcher with `filter` sees for a committed change, if anything.
fn translate(event: &Event, filter: &Filter) -> Option<(&'static str, Value)> {
    let now = object::from_kv(&event.kv).ok()?;
    let now_matches = filter.matches(&now);
    let before_matches = event
        .prev
        .as_ref()
        .and_then(|p| object::from_kv(p).ok())
        .is_some_and(|p| filter.matches(&p));
    match event.kind {
        EventKind::Created => now_matches.then_some(("ADDED", now)),
        EventKind::Deleted => before_matches.then_some(("DELETED", now)),
        EventKind::Updated => match (before_matches, now_matches) {
            (true, true) => Some(("MODIFIED", now)),
            (false, true) => Some(("ADDED", now)),
            (true, false) => Some(("DELETED", now)),
            (false, false) => None,
        },
    }
}

/// Renders events in the negotiated form.
struct Encoder {
    /// The resource watched.
    info: std::sync::Arc<crate::registry::ResourceInfo>,
    /// The negotiated form.
    output: Output,
    /// What Table rows carry.
    include: closet_types::IncludeObject,
    /// Whether the next Table event is the first; only that one carries column definitions,
    /// as upstream sends them.
    first: bool,
}

impl Encoder {
    fn event(&mut self, kind: &str, obj: Value) -> bytes::Bytes {
        let object = match self.output {
            Output::Table => {
                let mut table = crate::table::from_objects(
                    &self.info,
                    std::slice::from_ref(&obj),
                    None,
                    self.include,
                );
                if !self.first {
                    table["columnDefinitions"] = json!([]);
                }
                self.first = false;
                table
            }
            Output::Metadata => crate::codec::partial(&obj),
            _ => obj,
        };
        self.line(json!({"type": kind, "object": object}))
    }

    fn bookmark(&self, revision: Revision, initial_events_end: bool) -> bytes::Bytes {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let object = json!({
            "kind": self.info.kind,
            "apiVersion": self.info.api_version(),
            "metadata": metadata,
        });
        self.line(json!({"type": "BOOKMARK", "object": object}))
    }

    fn line(&self, value: Value) -> bytes::Bytes {
        let mut bytes = serde_json::to_vec(&value).unwrap_or_default();
        bytes.push(b'\n');
        bytes::Bytes::from(bytes)
    }
}
