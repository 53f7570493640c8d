//! Every request-body decoder on the same bytes: JSON and YAML through the apiserver's
//! `decode_object` (and `decode_optional`, DELETE's), the strict duplicate-field scan, and
//! protobuf through `closet_protobuf::decode`, both as given and behind the `k8s\0` magic so
//! that the fuzzer reaches the envelope without having to guess it.
//!
//! A decoder may refuse anything, but only with a 4xx, and what it accepts must be an
//! object that serializes again. Panics, stack overflows, timeouts and runaway memory are
//! the findings.

#![no_main]

use closet_apiserver::codec;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/json"),
    Some("application/yaml"),
    Some("application/vnd.kubernetes.protobuf"),
];

fn check_decoded(what: &str, result: Result<Value, closet_apiserver::error::ApiError>) {
    match result {
        Ok(value) => {
            assert!(value.is_object(), "{what} accepted a non-object");
            serde_json::to_vec(&value).expect("a decoded body serializes again");
        }
        Err(err) => {
            let code = err.code();
            assert!((400..500).contains(&code), "{what} refused with {code}");
        }
    }
}

fn check_protobuf(body: &[u8]) {
    match closet_protobuf::decode(body) {
        Ok(value) => {
            assert!(value.is_object(), "protobuf decoded to a non-object");
            serde_json::to_vec(&value).expect("a decoded protobuf body serializes again");
        }
        Err(err) => {
            let _ = (err.to_string(), err.is_unsupported());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for content_type in CONTENT_TYPES {
        check_decoded("decode_object", codec::decode_object(*content_type, data));
    }
    if let Err(err) = codec::decode_optional(Some("application/json"), data) {
        assert!((400..500).contains(&err.code()));
    }
    let _ = codec::duplicate_fields(data);
    check_protobuf(data);
    let mut framed = closet_protobuf::MAGIC.to_vec();
    framed.extend_from_slice(data);
    check_protobuf(&framed);
});
