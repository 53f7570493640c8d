//! Malformed and hostile bodies: every one is an error (or a plain object), quickly, without
//! a panic, and nothing allocates more than the body warrants.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use closet_protobuf::{ProtobufError, decode};

use common::{big_bodies, envelope, len_field, varint};
use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;

fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pb"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(out.len() >= 20);
    out
}

#[test]
fn non_protobuf_bodies_lack_the_magic() {
    for body in [
        &b""[..],
        b"k8s",
        b"{\"kind\":\"Pod\"}",
        b"k8s\x01\x0a\x00",
        b"\x00k8s",
    ] {
        assert!(
            matches!(decode(body), Err(ProtobufError::Magic)),
            "{body:?}"
        );
    }
}

#[test]
fn envelope_problems_are_named() {
    assert!(matches!(
        decode(b"k8s\0"),
        Err(ProtobufError::MissingTypeMeta("apiVersion"))
    ));
    let no_kind = envelope("v1", "", vec![]);
    assert!(matches!(
        decode(&no_kind),
        Err(ProtobufError::MissingTypeMeta("kind"))
    ));
    let bad_utf8 = [b"k8s\0".as_slice(), &[0x0a, 0x04, 0x0a, 0x02, 0xff, 0xfe]].concat();
    let err = decode(&bad_utf8).unwrap_err();
    assert!(matches!(err, ProtobufError::Envelope(_)), "{err}");
    assert!(!err.is_unsupported());

    let unknown = decode(&envelope("example.com/v1", "Widget", vec![])).unwrap_err();
    assert!(unknown.is_unsupported(), "{unknown}");
    assert_eq!(
        unknown.to_string(),
        "no protobuf serialization for apiVersion \"example.com/v1\", kind \"Widget\""
    );

    let mut gzip = Unknown::decode(&envelope("v1", "Pod", vec![])[4..]).unwrap();
    gzip.content_encoding = Some("gzip".into());
    let body = [b"k8s\0".as_slice(), &gzip.encode_to_vec()].concat();
    assert!(decode(&body).unwrap_err().is_unsupported());
    gzip.content_encoding = None;
    gzip.content_type = Some("application/json".into());
    let body = [b"k8s\0".as_slice(), &gzip.encode_to_vec()].concat();
    assert!(decode(&body).unwrap_err().is_unsupported());
}

#[test]
fn an_envelope_without_raw_is_an_empty_object() {
    let value = decode(&envelope("v1", "Namespace", vec![])).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"kind": "Namespace", "apiVersion": "v1"})
    );
}

#[test]
fn errors_name_the_field() {
    // metadata (field 1) sent as a varint.
    let err = decode(&envelope("v1", "ConfigMap", vec![0x08, 0x01])).unwrap_err();
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(source, "metadata: expected length-delimited, found varint");
    // metadata.labels["k"] with a value that is not UTF-8.
    let mut entry = Vec::new();
    len_field(&mut entry, 1, b"k");
    len_field(&mut entry, 2, &[0xc3, 0x28]);
    let mut meta = Vec::new();
    len_field(&mut meta, 11, &entry);
    let mut raw = Vec::new();
    len_field(&mut raw, 1, &meta);
    let err = decode(&envelope("v1", "ConfigMap", raw)).unwrap_err();
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(source, "metadata.labels[\"k\"]: string is not valid UTF-8");
}

#[test]
fn huge_lengths_fail_fast() {
    let started = Instant::now();
    // The envelope's first field claims 2^62 bytes.
    let mut body = b"k8s\0".to_vec();
    varint(&mut body, 1 << 3 | 2);
    varint(&mut body, 1 << 62);
    body.extend_from_slice(b"tiny");
    assert!(matches!(decode(&body), Err(ProtobufError::Envelope(_))));
    // Inside the object: metadata claims u64::MAX bytes.
    let mut raw = Vec::new();
    varint(&mut raw, 1 << 3 | 2);
    varint(&mut raw, u64::MAX);
    assert!(matches!(
        decode(&envelope("v1", "Pod", raw)),
        Err(ProtobufError::Object { .. })
    ));
    // A varint that never ends.
    let mut raw = vec![0x08];
    raw.extend([0xff; 20]);
    assert!(decode(&envelope("v1", "Pod", raw)).is_err());
    assert!(started.elapsed() < Duration::from_millis(100));
}

#[test]
fn every_truncation_and_byte_flip_of_real_bodies_is_handled() {
    for (name, body) in fixtures() {
        for cut in 0..body.len() {
            // Whatever the answer, it must come back (a panic fails the test).
            let _ = decode(&body[..cut]);
        }
        // Cutting inside the object (the last bytes) is always an error.
        assert!(decode(&body[..body.len() - 1]).is_err(), "{name}");
        for i in 0..body.len() {
            for flip in [0x00, 0xff, 0x80, 0x7f, body[i] ^ 0x01] {
                let mut mutated = body.clone();
                mutated[i] = flip;
                let _ = decode(&mutated);
            }
        }
    }
}

/// A CRD whose schema nests `not` `levels` deep.
fn nested_crd(levels: usize) -> Vec<u8> {
    let mut schema = ext::JsonSchemaProps {
        r#type: Some("string".into()),
        ..Default::default()
    };
    for _ in 0..levels {
        schema = ext::JsonSchemaProps {
            not: Some(Box::new(schema)),
            ..Default::default()
        };
    }
    let crd = ext::CustomResourceDefinition {
        spec: Some(ext::CustomResourceDefinitionSpec {
            versions: vec![ext::CustomResourceDefinitionVersion {
                schema: Some(ext::CustomResourceValidation {
                    open_apiv3_schema: Some(schema),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    envelope(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        crd.encode_to_vec(),
    )
}

#[test]
fn nesting_is_bounded() {
    let value = decode(&nested_crd(90)).unwrap();
    let mut schema = &value["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    for _ in 0..90 {
        schema = &schema["not"];
    }
    assert_eq!(schema["type"], "string");

    let err = decode(&nested_crd(150)).unwrap_err();
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        source.ends_with("messages nested deeper than 100 levels"),
        "{source}"
    );

    // Far deeper than any stack would survive if the bound were missing: built by hand (prost's
    // own encoder would recurse too), back to front so each level is written once.
    let not_tag = 28; // JSONSchemaProps.not
    let mut reversed = Vec::new();
    for _ in 0..200_000 {
        let mut head = Vec::new();
        varint(&mut head, not_tag << 3 | 2);
        varint(&mut head, reversed.len() as u64);
        reversed.extend(head.iter().rev());
    }
    reversed.reverse();
    let inner = reversed;
    let mut validation = Vec::new();
    len_field(&mut validation, 1, &inner);
    let mut version = Vec::new();
    len_field(&mut version, 4, &validation);
    let mut spec = Vec::new();
    len_field(&mut spec, 7, &version);
    let mut raw = Vec::new();
    len_field(&mut raw, 2, &spec);
    let body = envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", raw);
    let err = decode(&body).unwrap_err();
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(
        source.ends_with("messages nested deeper than 100 levels"),
        "{source}"
    );
}

#[test]
fn three_mebibyte_bodies_decode_in_linear_time() {
    for (name, body) in big_bodies() {
        let started = Instant::now();
        let result = decode(&body);
        let elapsed = started.elapsed();
        assert!(result.is_ok(), "{name}: {:?}", result.err());
        // Generous for a debug build on a loaded two-core machine; linear work takes far less.
        assert!(elapsed < Duration::from_secs(10), "{name}: {elapsed:?}");
    }
}
