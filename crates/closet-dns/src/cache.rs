//! The forwarder's cache: positive answers for their TTL (capped), NXDOMAIN and NODATA for
//! the SOA's negative TTL (capped at 30 s by default), never errors. Bounded in size: when
//! full, expired entries go first, then arbitrary ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

/// What a cached answer is filed under.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct Key {
    /// Lower-case name without the trailing dot.
    pub name: String,
    /// The asked type.
    pub qtype: RecordType,
    /// The asked class.
    pub qclass: DNSClass,
}

/// An upstream answer, without its header.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    /// NOERROR or NXDOMAIN (only those are cached).
    pub rcode: ResponseCode,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authorities: Vec<Record>,
    /// The additional section, without the OPT record.
    pub additionals: Vec<Record>,
}

/// Limits of the cache.
#[derive(Clone, Copy, Debug)]
pub struct CacheLimits {
    /// Most entries held.
    pub capacity: usize,
    /// Longest a positive answer is kept, whatever its TTL.
    pub max_positive: Duration,
    /// Longest a negative answer is kept, whatever its SOA says.
    pub max_negative: Duration,
}

impl Default for CacheLimits {
    fn default() -> Self {
        CacheLimits {
            capacity: 10_000,
            max_positive: Duration::from_secs(3600),
            max_negative: Duration::from_secs(30),
        }
    }
}

struct Entry {
    answer: Answer,
    stored: Instant,
    ttl: u32,
}

/// A bounded TTL cache of upstream answers.
pub struct Cache {
    limits: CacheLimits,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Cache {
    /// An empty cache.
    pub fn new(limits: CacheLimits) -> Cache {
        Cache {
            limits,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The answer for `key` at `now`, with TTLs lowered by the time it spent in the cache.
    pub fn get(&self, key: &Key, now: Instant) -> Option<Answer> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key)?;
        let age = u32::try_from(now.saturating_duration_since(entry.stored).as_secs())
            .unwrap_or(u32::MAX);
        if age >= entry.ttl {
            entries.remove(key);
            return None;
        }
        let mut answer = entry.answer.clone();
        for record in answer
            .answers
            .iter_mut()
            .chain(answer.authorities.iter_mut())
            .chain(answer.additionals.iter_mut())
        {
            record.ttl = record.ttl.saturating_sub(age).min(entry.ttl - age);
        }
        Some(answer)
    }

    /// Keeps `answer` for `key` if it may be cached; returns the TTL it got.
    pub fn put(&self, key: Key, answer: Answer, now: Instant) -> Option<u32> {
        let ttl = self.ttl_of(&answer)?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.limits.capacity && !entries.contains_key(&key) {
            entries.retain(|_, e| {
                u64::from(e.ttl) > now.saturating_duration_since(e.stored).as_secs()
            });
            while entries.len() >= self.limits.capacity {
                let Some(victim) = entries.keys().next().cloned() else {
                    break;
                };
                entries.remove(&victim);
            }
        }
        entries.insert(
            key,
            Entry {
                answer,
                stored: now,
                ttl,
            },
        );
        Some(ttl)
    }

    /// Number of entries, expired ones included.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long `answer` may be cached: the smallest answer TTL for positive answers, the
    /// SOA's negative TTL for NXDOMAIN and NODATA, nothing for errors or a TTL of 0.
    fn ttl_of(&self, answer: &Answer) -> Option<u32> {
        let cap = |limit: Duration| u32::try_from(limit.as_secs()).unwrap_or(u32::MAX);
        let ttl = match answer.rcode {
            ResponseCode::NoError if !answer.answers.is_empty() => answer
                .answers
                .iter()
                .map(|r| r.ttl)
                .min()?
                .min(cap(self.limits.max_positive)),
            ResponseCode::NoError | ResponseCode::NXDomain => answer
                .authorities
                .iter()
                .find_map(|r| match &r.data {
                    RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                    _ => None,
                })?
                .min(cap(self.limits.max_negative)),
            _ => return None,
        };
        (ttl > 0).then_some(ttl)
    }
}

#[cfg(test)]
mod tests;
