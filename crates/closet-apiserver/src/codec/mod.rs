//! Media types in and out: decoding request bodies and choosing the response form.
//!
//! Bodies are JSON or YAML, always turned into `serde_json::Value` so that every kind
//! (built-in or custom) travels the same path and unknown fields survive byte-for-byte.

mod strict;

use serde_json::Value;

pub use strict::duplicate_fields;

use crate::error::{ApiError, ApiResult};

/// Largest accepted request body, as upstream (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// What form a response should take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The object or list as JSON.
    Json,
    /// The object or list as YAML.
    Yaml,
    /// A `meta.k8s.io/v1` Table.
    Table,
    /// Only metadata: `PartialObjectMetadata` (lists: `PartialObjectMetadataList`), as
    /// controllers that watch many kinds ask for.
    Metadata,
}

/// Picks the response form from an `Accept` header: the first acceptable entry wins, as in
/// upstream's negotiation. Protobuf is skipped (typed clients list JSON after it).
pub fn negotiate(accept: Option<&str>) -> ApiResult<Output> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(Output::Json);
    };
    for entry in accept.split(',') {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let params: Vec<(String, String)> = parts
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        match media.as_str() {
            "application/json" | "application/*" | "*/*" => match param("as") {
                None => return Ok(Output::Json),
                Some("Table") if param("g") == Some("meta.k8s.io") && param("v") == Some("v1") => {
                    return Ok(Output::Table);
                }
                Some("PartialObjectMetadata" | "PartialObjectMetadataList")
                    if param("g") == Some("meta.k8s.io") && param("v") == Some("v1") =>
                {
                    return Ok(Output::Metadata);
                }
                // Table v1beta1, PartialObjectMetadata and other views we do not serve.
                Some(_) => continue,
            },
            "application/yaml" => return Ok(Output::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable())
}

/// The media type of a request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BodyType {
    Json,
    Yaml,
    /// `k8s\0` + runtime.Unknown, as `kubectl create <generator>` and `auth` send.
    Protobuf,
}

fn body_type(content_type: Option<&str>) -> ApiResult<BodyType> {
    let Some(ct) = content_type else {
        // kubectl sends some PUTs (scale) with no Content-Type: treat them as JSON.
        return Ok(BodyType::Json);
    };
    let media = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "" | "application/json" => Ok(BodyType::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" => Ok(BodyType::Yaml),
        closet_protobuf::MEDIA_TYPE => Ok(BodyType::Protobuf),
        _ => Err(ApiError::unsupported_media_type()),
    }
}

/// Decodes a JSON or YAML request body into an object. Rejects bodies that are not a single
/// JSON object, nesting deeper than the decoder's limit, and YAML alias bombs.
pub fn decode_object(content_type: Option<&str>, body: &[u8]) -> ApiResult<Value> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let value = match body_type(content_type)? {
        BodyType::Json => serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body of the request could not be decoded as JSON: {e}"
            ))
        })?,
        BodyType::Yaml => decode_yaml(body)?,
        BodyType::Protobuf => closet_protobuf::decode(body).map_err(|err| {
            if err.is_unsupported() {
                ApiError::unsupported_media_type()
            } else {
                ApiError::bad_request(format!(
                    "the body of the request could not be decoded as protobuf: {}",
                    crate::error::error_chain(&err)
                ))
            }
        })?,
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a single object, not a list or scalar",
        ));
    }
    Ok(value)
}

/// Decodes an optional body (DELETE options): empty means `None`.
pub fn decode_optional(content_type: Option<&str>, body: &[u8]) -> ApiResult<Option<Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    decode_object(content_type, body).map(Some)
}

fn decode_yaml(body: &[u8]) -> ApiResult<Value> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the body of the request is not valid UTF-8"))?;
    let mut budget = serde_saphyr::Budget::default();
    // Tight limits: a request body is at most 3 MiB, so anything that expands much beyond
    // that is an alias bomb, not a manifest.
    budget.max_aliases = 1_000;
    budget.max_anchors = 10_000;
    budget.max_recorded_anchor_events = 200_000;
    budget.max_recorded_anchor_bytes = MAX_BODY_BYTES;
    budget.max_nodes = 200_000;
    budget.max_events = 600_000;
    budget.max_depth = 100;
    budget.max_documents = 1;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    serde_saphyr::from_str_with_options::<Value>(text, options).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request could not be decoded as YAML: {e}"
        ))
    })
}

/// The metadata-only view of an object.
pub fn partial(obj: &Value) -> Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| serde_json::json!({})),
    })
}

/// Serializes a response value in the negotiated form (Table is already a JSON value here).
pub fn encode(value: &Value, output: Output) -> (&'static str, Vec<u8>) {
    match output {
        Output::Yaml => match serde_saphyr::to_string(value) {
            Ok(text) => ("application/yaml", text.into_bytes()),
            Err(_) => (
                "application/json",
                serde_json::to_vec(value).unwrap_or_default(),
            ),
        },
        Output::Json | Output::Table | Output::Metadata => (
            "application/json",
            serde_json::to_vec(value).unwrap_or_default(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None).unwrap(), Output::Json);
        assert_eq!(negotiate(Some(TABLE)).unwrap(), Output::Table);
        assert_eq!(
            negotiate(Some("application/vnd.kubernetes.protobuf,application/json")).unwrap(),
            Output::Json
        );
        assert_eq!(
            negotiate(Some(
                "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
            ))
            .unwrap(),
            Output::Json
        );
        assert_eq!(negotiate(Some("application/yaml")).unwrap(), Output::Yaml);
        let meta =
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
        assert_eq!(negotiate(Some(meta)).unwrap(), Output::Metadata);
        assert_eq!(negotiate(Some("text/html")).unwrap_err().code(), 406);
    }

    #[test]
    fn bodies() {
        assert!(decode_object(None, br#"{"a":1}"#).is_ok());
        assert!(decode_object(Some("application/json; charset=utf-8"), br#"{"a":1}"#).is_ok());
        assert_eq!(
            decode_object(Some("application/yaml"), b"a: 1\nb: [x]\n").unwrap()["b"][0],
            "x"
        );
        assert_eq!(decode_object(None, b"[1]").unwrap_err().code(), 400);
        assert_eq!(decode_object(None, b"{").unwrap_err().code(), 400);
        assert_eq!(
            decode_object(Some("text/plain"), b"{}").unwrap_err().code(),
            415
        );
        let deep = "[".repeat(10_000);
        assert_eq!(
            decode_object(None, deep.as_bytes()).unwrap_err().code(),
            400
        );
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(decode_object(None, &big).unwrap_err().code(), 413);
    }

    #[test]
    fn yaml_alias_bomb_is_rejected() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            let refs = vec![format!("*a{prev}"); 10].join(", ");
            doc.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = decode_object(Some("application/yaml"), doc.as_bytes()).unwrap_err();
        assert_eq!(err.code(), 400);
        let deep = format!("{}x{}", "[".repeat(5000), "]".repeat(5000));
        let err = decode_object(Some("application/yaml"), deep.as_bytes()).unwrap_err();
        assert_eq!(err.code(), 400);
    }
}
