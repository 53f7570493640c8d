//! Body builders shared by the hostile-input tests.

#![allow(dead_code, reason = "each test binary uses its own subset")]

use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message;

pub(crate) fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        ..Default::default()
    };
    let mut out = closet_protobuf::MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

pub(crate) fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(crate) fn len_field(out: &mut Vec<u8>, tag: u64, bytes: &[u8]) {
    varint(out, tag << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Bodies of about 3 MiB, the apiserver's request limit, built to make the decoder work hard.
pub(crate) fn big_bodies() -> Vec<(&'static str, Vec<u8>)> {
    const SIZE: usize = 3 << 20;
    let mut out = Vec::new();

    // 1.5 million empty owner references: the most JSON values per byte.
    let mut meta = Vec::new();
    while meta.len() < SIZE {
        len_field(&mut meta, 13, &[]);
    }
    let mut raw = Vec::new();
    len_field(&mut raw, 1, &meta);
    out.push(("empty messages", envelope("v1", "ConfigMap", raw)));

    // Distinct map keys.
    let mut raw = Vec::new();
    let mut i = 0u64;
    while raw.len() < SIZE {
        let mut entry = Vec::new();
        len_field(&mut entry, 1, format!("{i:x}").as_bytes());
        len_field(&mut entry, 2, b"v");
        len_field(&mut raw, 2, &entry);
        i += 1;
    }
    out.push(("map entries", envelope("v1", "ConfigMap", raw)));

    // The same singular message repeated: merged, not multiplied.
    let mut raw = Vec::new();
    while raw.len() < SIZE {
        let mut meta = Vec::new();
        len_field(&mut meta, 1, b"name");
        len_field(&mut raw, 1, &meta);
    }
    out.push(("repeated metadata", envelope("v1", "ConfigMap", raw)));

    // One large base64 value.
    let mut entry = Vec::new();
    len_field(&mut entry, 1, b"blob");
    len_field(&mut entry, 2, &vec![0xa5; SIZE]);
    let mut raw = Vec::new();
    len_field(&mut raw, 2, &entry);
    out.push(("bytes", envelope("v1", "Secret", raw)));

    // Unknown fields only.
    let mut raw = Vec::new();
    while raw.len() < SIZE {
        len_field(&mut raw, 999, b"ignored");
    }
    out.push(("unknown fields", envelope("v1", "Pod", raw)));
    out
}
