//! The queue of pending pods: each pod that failed to schedule waits a back-off (1 s,
//! doubling to 60 s) unless a change in the cluster (a node, a pod leaving) may let it fit,
//! which makes every waiting pod due again.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// The first back-off.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// The longest back-off.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The back-off after `attempts` failures.
pub fn backoff(attempts: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX);
    INITIAL_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    attempts: u32,
    due: Instant,
}

/// Pods that failed to schedule, by uid, with when to try them next.
#[derive(Debug, Default)]
pub struct Queue {
    waiting: HashMap<String, Entry>,
}

impl Queue {
    /// Whether the pod with `uid` may be tried now.
    pub fn is_due(&self, uid: &str, now: Instant) -> bool {
        self.waiting.get(uid).is_none_or(|e| e.due <= now)
    }

    /// Records a failed attempt: the pod waits its next back-off.
    pub fn failed(&mut self, uid: &str, now: Instant) {
        let entry = self.waiting.entry(uid.to_owned()).or_insert(Entry {
            attempts: 0,
            due: now,
        });
        entry.attempts = entry.attempts.saturating_add(1);
        entry.due = now + backoff(entry.attempts);
    }

    /// Forgets the pod (bound, deleted or no longer ours).
    pub fn forget(&mut self, uid: &str) {
        self.waiting.remove(uid);
    }

    /// Keeps only the pods `pending` still names.
    pub fn retain(&mut self, pending: impl Fn(&str) -> bool) {
        self.waiting.retain(|uid, _| pending(uid));
    }

    /// Makes every waiting pod due now (the cluster changed); back-offs keep growing.
    pub fn flush(&mut self, now: Instant) {
        for entry in self.waiting.values_mut() {
            entry.due = now;
        }
    }

    /// When the next waiting pod becomes due.
    pub fn next_due(&self) -> Option<Instant> {
        self.waiting.values().map(|e| e.due).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(7), Duration::from_secs(60));
        assert_eq!(backoff(100), Duration::from_secs(60));
    }

    #[test]
    fn failed_pods_wait_until_due_or_flushed() {
        let mut q = Queue::default();
        let now = Instant::now();
        assert!(q.is_due("a", now));
        q.failed("a", now);
        assert!(!q.is_due("a", now));
        assert!(q.is_due("a", now + Duration::from_secs(1)));
        q.failed("a", now);
        assert_eq!(q.next_due(), Some(now + Duration::from_secs(2)));
        q.flush(now);
        assert!(q.is_due("a", now));
        q.retain(|_| false);
        assert_eq!(q.next_due(), None);
    }
}
