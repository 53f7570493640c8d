//! The watch fan-out: a bounded history of recent events plus a broadcast of new ones.
//!
//! The writer publishes each committed batch under the history lock, and a new watcher copies
//! its backlog and subscribes under the same lock, so it sees history-then-live with no gap and
//! no duplicate. The broadcast never waits for receivers; one that falls more than its capacity
//! behind is told so and its stream ends.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast::{self, Receiver, error::RecvError, error::TryRecvError};

use crate::{Event, Revision, StoreError, WatchItem, WatchStream};

/// Rough per-event overhead counted against the byte budget besides keys and values.
const EVENT_OVERHEAD: usize = 96;

/// Limits of the fan-out.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HubLimits {
    /// Events kept for resumes.
    pub(crate) history_events: usize,
    /// Bytes of keys and values kept for resumes.
    pub(crate) history_bytes: usize,
    /// How far a watcher may fall behind the newest event.
    pub(crate) buffer: usize,
}

/// History and broadcast of committed events.
pub(crate) struct Hub {
    history: Mutex<History>,
    sender: broadcast::Sender<Arc<Event>>,
}

struct History {
    events: VecDeque<Arc<Event>>,
    bytes: usize,
    /// Every event after this revision is in `events`.
    floor: Revision,
    limits: HubLimits,
}

impl Hub {
    /// A hub whose history starts empty at `current`.
    pub(crate) fn new(current: Revision, limits: HubLimits) -> Self {
        let (sender, _) = broadcast::channel(limits.buffer.clamp(1, 1 << 20));
        let history = History {
            events: VecDeque::new(),
            bytes: 0,
            floor: current,
            limits,
        };
        Self {
            history: Mutex::new(history),
            sender,
        }
    }

    /// Records a committed batch and hands it to every watcher.
    pub(crate) fn publish(&self, events: Vec<Arc<Event>>) {
        if events.is_empty() {
            return;
        }
        let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        for event in events {
            history.bytes += event_size(&event);
            history.events.push_back(Arc::clone(&event));
            // No receivers is not an error: the event is still in the history.
            let _ = self.sender.send(event);
        }
        history.trim();
    }

    /// A stream of the events after `after` whose key starts with `prefix`.
    pub(crate) fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        if after < history.floor {
            return Err(StoreError::Compacted {
                requested: after,
                compacted: history.floor,
            });
        }
        let receiver = self.sender.subscribe();
        let skip = history.events.partition_point(|e| e.revision() <= after);
        let backlog: VecDeque<Arc<Event>> = history.events.range(skip..).cloned().collect();
        drop(history);
        let cursor = Cursor {
            prefix: prefix.to_owned(),
            last: after,
            backlog,
            receiver,
            pending: None,
            done: false,
        };
        Ok(Box::pin(futures::stream::unfold(
            cursor,
            |mut cursor| async move {
                let item = cursor.next().await?;
                Some((item, cursor))
            },
        )))
    }
}

impl History {
    fn trim(&mut self) {
        while self.events.len() > self.limits.history_events
            || (self.bytes > self.limits.history_bytes && !self.events.is_empty())
        {
            if let Some(old) = self.events.pop_front() {
                self.bytes = self.bytes.saturating_sub(event_size(&old));
                self.floor = old.revision();
            }
        }
    }
}

fn event_size(event: &Event) -> usize {
    let prev = event.prev.as_ref().map_or(0, |p| p.value.len());
    event.kv.key.len() + event.kv.value.len() + prev + EVENT_OVERHEAD
}

/// The state of one watch stream.
struct Cursor {
    prefix: String,
    /// The newest revision already accounted for.
    last: Revision,
    backlog: VecDeque<Arc<Event>>,
    receiver: Receiver<Arc<Event>>,
    /// A matching event found while coalescing progress; it goes out next.
    pending: Option<Arc<Event>>,
    done: bool,
}

impl Cursor {
    async fn next(&mut self) -> Option<Result<WatchItem, StoreError>> {
        if self.done {
            return None;
        }
        if let Some(event) = self.pending.take() {
            return Some(Ok(WatchItem::Change(Event::clone(&event))));
        }
        // Events outside the prefix collapse into one progress mark, covering whatever is
        // already at hand; waiting for more would delay it.
        let mut progress = None;
        loop {
            let event = if let Some(event) = self.backlog.pop_front() {
                event
            } else if progress.is_some() {
                match self.receiver.try_recv() {
                    Ok(event) => event,
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    Err(TryRecvError::Lagged(_)) => return Some(self.too_slow()),
                }
            } else {
                match self.receiver.recv().await {
                    Ok(event) => event,
                    Err(RecvError::Closed) => return None,
                    Err(RecvError::Lagged(_)) => return Some(self.too_slow()),
                }
            };
            if event.revision() <= self.last {
                continue;
            }
            self.last = event.revision();
            if !event.kv.key.starts_with(&self.prefix) {
                progress = Some(event.revision());
                continue;
            }
            if let Some(rev) = progress {
                self.pending = Some(event);
                return Some(Ok(WatchItem::Progress(rev)));
            }
            return Some(Ok(WatchItem::Change(Event::clone(&event))));
        }
        progress.map(|rev| Ok(WatchItem::Progress(rev)))
    }

    fn too_slow(&mut self) -> Result<WatchItem, StoreError> {
        self.done = true;
        Err(StoreError::WatcherTooSlow)
    }
}
