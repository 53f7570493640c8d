//! OpenAPI v2 (`/openapi/v2`), served only as gnostic's protobuf `Document`, for kubectl 1.27
//! and 1.28.
//!
//! Those kubectl versions parse the v2 document before every validated `create -f`,
//! `replace -f` and `apply`, even when the OpenAPI v3 check ([`crate::openapi`]) already says
//! the server validates; a 404 there aborts the command. When v3 fails they also ask v2 whether
//! a kind supports `fieldValidation`: the first path whose PATCH operation carries the kind's
//! `x-kubernetes-group-version-kind` decides, so every PATCH, PUT and POST here offers the
//! parameter. client-go requests this document as protobuf only (kubectl-wire.md §1.6), so
//! there is no JSON form. Like the v3 documents it has no definitions yet, which makes
//! kubectl's client-side schema check a no-op and `kubectl explain` (1.27) find nothing.

mod pb;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use closet_types::Status;
use http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::Shared;
use crate::error::ApiResult;
use crate::registry::ResourceInfo;
use pb::Message;

/// The media type client-go asks for.
const PROTOBUF_REQUESTED: &str = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
/// The media type this endpoint answers with, as upstream's kube-openapi handler does: the
/// requested one is not a valid MIME type (`@` is a separator), and client-go rejects a response
/// carrying it with "mime: unexpected content after media subtype". Also accepted in `Accept`.
const PROTOBUF: &str = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Body media types of POST and PUT.
const BODY_TYPES: &[&str] = &["application/json", "application/yaml"];

/// `GET /openapi/v2` (and the pre-1.10 `/swagger-2.0.0.pb-v1` client-go falls back to).
pub(crate) async fn serve(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    respond(&shared.registry.all(), &headers).unwrap_or_else(IntoResponse::into_response)
}

/// The response for `resources`: 406 unless the client takes protobuf, 304 when its cached
/// copy (`If-None-Match`) is current. The document is rebuilt per request because
/// CustomResourceDefinitions change the registry at run time.
fn respond(resources: &[Arc<ResourceInfo>], headers: &HeaderMap) -> ApiResult<Response> {
    if !accepts_protobuf(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())) {
        // `ApiError::not_acceptable()` would list the object media types, which this path
        // does not produce.
        return Err(Status::not_acceptable(&[PROTOBUF]).into());
    }
    let doc = document(resources);
    let etag = format!("\"{}\"", hex(&Sha256::digest(&doc)));
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    // The URL has no content hash (unlike v3's), so clients must revalidate every time.
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, "no-cache, private".to_string()),
        (header::VARY, "Accept".to_string()),
    ];
    if cached {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((common, [(header::CONTENT_TYPE, PROTOBUF)], doc).into_response())
}

/// Whether an `Accept` header admits the protobuf document; no header admits anything.
fn accepts_protobuf(accept: Option<&str>) -> bool {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return true;
    };
    accept.split(',').any(|entry| {
        let mut parts = entry.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let refused = parts.any(|p| {
            p.split_once('=')
                .is_some_and(|(k, v)| k.trim() == "q" && v.trim().parse::<f32>() == Ok(0.0))
        });
        !refused
            && matches!(
                media.as_str(),
                PROTOBUF_REQUESTED | PROTOBUF | "*/*" | "application/*"
            )
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

// === gnostic openapi.v2 messages (OpenAPIv2.proto; field numbers in the calls) ===

/// `Document`: swagger = 1, info = 2, paths = 8. Paths are sorted, as upstream's are.
fn document(resources: &[Arc<ResourceInfo>]) -> Vec<u8> {
    let mut paths = BTreeMap::new();
    for info in resources {
        let base = if info.group.is_empty() {
            format!("/api/{}", info.version)
        } else {
            format!("/apis/{}/{}", info.group, info.version)
        };
        let ns = if info.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let collection = format!("{base}{ns}/{}", info.plural);
        let object = format!("{collection}/{{name}}");
        for sub in info
            .subresources
            .iter()
            .filter(|s| matches!(s.as_str(), "status" | "scale"))
        {
            paths.insert(format!("{object}/{sub}"), object_item(info, Some(sub)));
        }
        paths.insert(collection, collection_item(info));
        paths.insert(object, object_item(info, None));
    }
    let (major, minor) = crate::KUBERNETES_VERSION;
    let info = Message::new()
        .string(1, "Kubernetes")
        .string(2, &format!("v{major}.{minor}.0"));
    let paths = Message::new().messages(
        2,
        paths
            .into_iter()
            .map(|(name, item)| Message::new().string(1, &name).message(2, item)),
    );
    Message::new()
        .string(1, "2.0")
        .message(2, info)
        .message(8, paths)
        .into_bytes()
}

/// Query parameters by operation, with their swagger types.
const LIST_PARAMS: &[(&str, &str)] = &[
    ("labelSelector", "string"),
    ("fieldSelector", "string"),
    ("limit", "integer"),
    ("continue", "string"),
    ("resourceVersion", "string"),
    ("watch", "boolean"),
];
const WRITE_PARAMS: &[(&str, &str)] = &[
    ("dryRun", "string"),
    ("fieldManager", "string"),
    ("fieldValidation", "string"),
    ("pretty", "string"),
];
const PATCH_PARAMS: &[(&str, &str)] = &[
    ("dryRun", "string"),
    ("fieldManager", "string"),
    ("fieldValidation", "string"),
    ("force", "boolean"),
    ("pretty", "string"),
];
const DELETE_PARAMS: &[(&str, &str)] = &[
    ("dryRun", "string"),
    ("gracePeriodSeconds", "integer"),
    ("propagationPolicy", "string"),
];
const DELETE_COLLECTION_PARAMS: &[(&str, &str)] = &[
    ("labelSelector", "string"),
    ("fieldSelector", "string"),
    ("dryRun", "string"),
];

/// `PathItem` of a collection: get = 2, post = 4, delete = 5, parameters = 9.
fn collection_item(info: &ResourceInfo) -> Message {
    Message::new()
        .message(2, operation(info, "list", None, LIST_PARAMS))
        .message(4, operation(info, "post", None, WRITE_PARAMS))
        .message(
            5,
            operation(info, "deletecollection", None, DELETE_COLLECTION_PARAMS),
        )
        .messages(9, path_params(info, false))
}

/// `PathItem` of an object or its subresource: get = 2, put = 3, delete = 5, patch = 8.
fn object_item(info: &ResourceInfo, sub: Option<&str>) -> Message {
    let mut item = Message::new()
        .message(2, operation(info, "get", sub, &[("pretty", "string")]))
        .message(3, operation(info, "put", sub, WRITE_PARAMS));
    if sub.is_none() {
        item = item.message(5, operation(info, "delete", None, DELETE_PARAMS));
    }
    item.message(8, operation(info, "patch", sub, PATCH_PARAMS))
        .messages(9, path_params(info, true))
}

/// `Operation`: operation_id = 5, produces = 6, consumes = 7, parameters = 8, responses = 9,
/// vendor_extension = 13.
fn operation(
    info: &ResourceInfo,
    action: &str,
    sub: Option<&str>,
    params: &[(&str, &str)],
) -> Message {
    let with_strategic: Vec<&str> = crate::openapi::PATCH_TYPES
        .iter()
        .copied()
        .chain([crate::openapi::STRATEGIC])
        .collect();
    let consumes: &[&str] = match action {
        "patch" if info.custom.is_none() => &with_strategic,
        "patch" => crate::openapi::PATCH_TYPES,
        "post" | "put" => BODY_TYPES,
        _ => &[],
    };
    let ok = Message::new().message(1, Message::new().string(1, "OK"));
    let responses = Message::new().message(1, Message::new().string(1, "200").message(2, ok));
    Message::new()
        .string(5, &format!("{action}{}{}", info.kind, sub.unwrap_or("")))
        .strings(6, BODY_TYPES)
        .strings(7, consumes)
        .messages(8, params.iter().map(|(name, ty)| query_param(name, ty)))
        .message(9, responses)
        .message(13, extension("x-kubernetes-action", &yaml_string(action)))
        .message(
            13,
            extension("x-kubernetes-group-version-kind", &gvk_yaml(info, sub)),
        )
}

/// The `ParametersItem` of a query parameter: parameter = 1 → non_body_parameter = 2 →
/// query_parameter_sub_schema = 3 { in = 2, name = 4, type = 6, unique_items = 20 }.
fn query_param(name: &str, ty: &str) -> Message {
    let schema = Message::new()
        .string(2, "query")
        .string(4, name)
        .string(6, ty)
        .bool(20, true);
    Message::new().message(
        1,
        Message::new().message(2, Message::new().message(3, schema)),
    )
}

/// The `ParametersItem`s of the path's `{namespace}` and `{name}`: path_parameter_sub_schema
/// = 4 { required = 1, in = 2, name = 4, type = 5, unique_items = 19 }.
fn path_params(info: &ResourceInfo, object: bool) -> Vec<Message> {
    let names = [
        info.namespaced.then_some("namespace"),
        object.then_some("name"),
    ];
    names
        .into_iter()
        .flatten()
        .map(|name| {
            let schema = Message::new()
                .bool(1, true)
                .string(2, "path")
                .string(4, name)
                .string(5, "string")
                .bool(19, true);
            Message::new().message(
                1,
                Message::new().message(2, Message::new().message(4, schema)),
            )
        })
        .collect()
}

/// A `NamedAny` vendor extension: name = 1, value = 2 → `Any` { yaml = 2 }.
fn extension(name: &str, yaml: &str) -> Message {
    Message::new()
        .string(1, name)
        .message(2, Message::new().string(2, yaml))
}

/// The GVK as the YAML map kubectl unmarshals into `map[string]string`. Values are quoted so
/// that no group, kind or version can read as a YAML bool or number.
fn gvk_yaml(info: &ResourceInfo, sub: Option<&str>) -> String {
    let (group, version, kind) = match sub {
        Some("scale") => ("autoscaling", "v1", "Scale"),
        _ => (
            info.group.as_str(),
            info.version.as_str(),
            info.kind.as_str(),
        ),
    };
    format!(
        "group: {}\nkind: {}\nversion: {}\n",
        yaml_string(group),
        yaml_string(kind),
        yaml_string(version)
    )
}

/// A double-quoted YAML scalar; JSON string syntax is a subset of it.
fn yaml_string(value: &str) -> String {
    serde_json::Value::from(value).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
