//! Cache expiry and limits.

use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::*;

fn key(name: &str) -> Key {
    Key {
        name: name.into(),
        qtype: RecordType::A,
        qclass: DNSClass::IN,
    }
}

fn a_record(ttl: u32) -> Record {
    Record::from_rdata(
        Name::from_ascii("example.test.").unwrap(),
        ttl,
        RData::A(A::new(192, 0, 2, 1)),
    )
}

fn soa_record(ttl: u32, minimum: u32) -> Record {
    let n = Name::from_ascii("test.").unwrap();
    Record::from_rdata(
        n.clone(),
        ttl,
        RData::SOA(SOA::new(n.clone(), n, 1, 60, 60, 60, minimum)),
    )
}

fn answer(rcode: ResponseCode, answers: Vec<Record>, authorities: Vec<Record>) -> Answer {
    Answer {
        rcode,
        answers,
        authorities,
        additionals: vec![],
    }
}

#[test]
fn positive_answers_live_for_their_smallest_ttl_and_age() {
    let cache = Cache::new(CacheLimits::default());
    let now = Instant::now();
    let stored = answer(
        ResponseCode::NoError,
        vec![a_record(60), a_record(20)],
        vec![],
    );
    assert_eq!(cache.put(key("example.test"), stored, now), Some(20));
    let later = cache
        .get(&key("example.test"), now + Duration::from_secs(5))
        .unwrap();
    assert_eq!(
        later.answers.iter().map(|r| r.ttl).collect::<Vec<_>>(),
        [15, 15]
    );
    assert!(
        cache
            .get(&key("example.test"), now + Duration::from_secs(20))
            .is_none()
    );
    // Expired entries are dropped on the way.
    assert!(cache.is_empty());
}

#[test]
fn positive_ttls_are_capped() {
    let cache = Cache::new(CacheLimits {
        max_positive: Duration::from_secs(100),
        ..CacheLimits::default()
    });
    let stored = answer(ResponseCode::NoError, vec![a_record(86400)], vec![]);
    assert_eq!(cache.put(key("a"), stored, Instant::now()), Some(100));
}

#[test]
fn negative_answers_live_for_the_soa_minimum_capped_at_30s() {
    let cache = Cache::new(CacheLimits::default());
    let now = Instant::now();
    let nx = answer(ResponseCode::NXDomain, vec![], vec![soa_record(3600, 10)]);
    assert_eq!(cache.put(key("missing.test"), nx, now), Some(10));
    assert_eq!(
        cache
            .get(&key("missing.test"), now + Duration::from_secs(9))
            .unwrap()
            .rcode,
        ResponseCode::NXDomain
    );
    assert!(
        cache
            .get(&key("missing.test"), now + Duration::from_secs(10))
            .is_none()
    );

    let nodata = answer(ResponseCode::NoError, vec![], vec![soa_record(3600, 900)]);
    assert_eq!(cache.put(key("nodata.test"), nodata, now), Some(30));
}

#[test]
fn errors_and_unbounded_negatives_are_not_cached() {
    let cache = Cache::new(CacheLimits::default());
    let now = Instant::now();
    assert_eq!(
        cache.put(
            key("a"),
            answer(ResponseCode::ServFail, vec![], vec![]),
            now
        ),
        None
    );
    // NXDOMAIN without an SOA says nothing about how long it holds.
    assert_eq!(
        cache.put(
            key("b"),
            answer(ResponseCode::NXDomain, vec![], vec![]),
            now
        ),
        None
    );
    assert_eq!(
        cache.put(
            key("c"),
            answer(ResponseCode::NoError, vec![a_record(0)], vec![]),
            now
        ),
        None
    );
    assert!(cache.is_empty());
}

#[test]
fn the_cache_never_grows_past_its_capacity() {
    let cache = Cache::new(CacheLimits {
        capacity: 3,
        ..CacheLimits::default()
    });
    let now = Instant::now();
    // The first one expires quickly and is the first to go.
    cache.put(
        key("short"),
        answer(ResponseCode::NoError, vec![a_record(1)], vec![]),
        now,
    );
    for name in ["n1", "n2", "n3", "n4", "n5"] {
        cache.put(
            key(name),
            answer(ResponseCode::NoError, vec![a_record(60)], vec![]),
            now + Duration::from_secs(2),
        );
        assert!(cache.len() <= 3);
    }
    assert!(
        cache
            .get(&key("n5"), now + Duration::from_secs(3))
            .is_some()
    );
}
