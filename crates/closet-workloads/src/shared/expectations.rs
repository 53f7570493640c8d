//! Expectations: what a controller has just written and not yet seen in its cache.
//!
//! A reconcile that creates pods and runs again before the watch delivers them would see too
//! few pods and create more. Upstream counts pending adds and deletes per controller; here
//! the controller remembers the names it created and the uids it deleted, and holds off
//! creating or deleting until its cache shows all of them (or they are too old to wait for,
//! after which the cache is trusted again, as upstream's five-minute TTL does).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an expectation is waited for before the cache is trusted anyway.
pub const TTL: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Pending {
    created: HashSet<String>,
    deleted: HashSet<String>,
    since: Option<Instant>,
}

/// Pending writes per controller key (`namespace/name`).
#[derive(Default)]
pub struct Expectations {
    pending: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    /// Remembers that the controller `key` created the child `name`.
    pub fn created(&self, key: &str, name: &str) {
        self.with(key, |p| {
            p.created.insert(name.to_owned());
        });
    }

    /// Remembers that the controller `key` deleted the child with `uid`.
    pub fn deleted(&self, key: &str, uid: &str) {
        self.with(key, |p| {
            p.deleted.insert(uid.to_owned());
        });
    }

    fn with(&self, key: &str, f: impl FnOnce(&mut Pending)) {
        if let Ok(mut map) = self.pending.lock() {
            let p = map.entry(key.to_owned()).or_default();
            p.since.get_or_insert_with(Instant::now);
            f(p);
        }
    }

    /// Whether the cache shows every write of `key`: each created name is `seen`, each
    /// deleted uid is `gone`. Observed writes are forgotten.
    pub fn satisfied(
        &self,
        key: &str,
        seen: impl Fn(&str) -> bool,
        gone: impl Fn(&str) -> bool,
    ) -> bool {
        let Ok(mut map) = self.pending.lock() else {
            return true;
        };
        let Some(p) = map.get_mut(key) else {
            return true;
        };
        p.created.retain(|n| !seen(n));
        p.deleted.retain(|u| !gone(u));
        let expired = p.since.is_some_and(|s| s.elapsed() > TTL);
        if expired || (p.created.is_empty() && p.deleted.is_empty()) {
            map.remove(key);
            return true;
        }
        false
    }

    /// Forgets everything about `key` (its controller is gone).
    pub fn forget(&self, key: &str) {
        if let Ok(mut map) = self.pending.lock() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_until_the_cache_shows_every_write() {
        let e = Expectations::default();
        assert!(e.satisfied("ns/a", |_| false, |_| false));
        e.created("ns/a", "p1");
        e.created("ns/a", "p2");
        e.deleted("ns/a", "u9");
        assert!(!e.satisfied("ns/a", |n| n == "p1", |_| false));
        assert!(!e.satisfied("ns/a", |n| n == "p2", |_| false));
        assert!(e.satisfied("ns/a", |_| false, |u| u == "u9"));
        assert!(e.satisfied("ns/b", |_| false, |_| false));
        e.created("ns/c", "x");
        e.forget("ns/c");
        assert!(e.satisfied("ns/c", |_| false, |_| false));
    }
}
