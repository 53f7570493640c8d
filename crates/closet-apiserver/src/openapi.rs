//! OpenAPI v3: the root listing every served group-version, and one document per
//! group-version (kubectl-wire.md §3.6).
//!
//! kubectl reads these before `create -f`, `replace -f` and `apply`: a PATCH operation tagged
//! with the object's group-version-kind and offering the `fieldValidation` parameter tells it
//! the server validates, so it sends `fieldValidation=Strict` instead of failing with
//! "failed to download openapi". The documents are derived from the registry; component
//! schemas (for `kubectl explain`) are not generated yet.

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceInfo;

/// Patch media types offered on every PATCH operation.
const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
];

/// `GET /openapi/v3`.
pub(crate) fn root(shared: &Shared) -> Response {
    let mut paths = Map::new();
    for (group, versions) in shared.registry.groups() {
        for version in versions {
            let gv_path = gv_path(&group, &version);
            let hash = digest(&document(shared, &group, &version));
            let url = format!("/openapi/v3/{gv_path}?hash={hash}");
            paths.insert(gv_path, json!({"serverRelativeURL": url}));
        }
    }
    let body = json!({"paths": paths}).to_string();
    (
        [
            (http::header::CONTENT_TYPE, "application/json"),
            (http::header::CACHE_CONTROL, "no-cache, private"),
        ],
        body,
    )
        .into_response()
}

/// `GET /openapi/v3/{api/v1 | apis/group/version}`, with ETag revalidation.
pub(crate) fn group_version(
    shared: &Shared,
    path: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let rest = path.trim_start_matches("/openapi/v3/");
    let (group, version) = match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["api", version] => (String::new(), version.to_string()),
        ["apis", group, version] => (group.to_string(), version.to_string()),
        _ => return Err(ApiError::path_not_found(path)),
    };
    if !shared
        .registry
        .groups()
        .iter()
        .any(|(g, vs)| *g == group && vs.contains(&version))
    {
        return Err(ApiError::path_not_found(path));
    }
    let doc = document(shared, &group, &version);
    let etag = format!("\"{}\"", digest(&doc));
    let cached = headers
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let common = [
        (http::header::ETAG, etag.clone()),
        (http::header::CACHE_CONTROL, "public, immutable".to_string()),
    ];
    if cached {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((
        common,
        [(http::header::CONTENT_TYPE, "application/json")],
        doc.to_string(),
    )
        .into_response())
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn digest(doc: &Value) -> String {
    let hash = Sha256::digest(doc.to_string().as_bytes());
    hash.iter().map(|b| format!("{b:02X}")).collect()
}

/// The document of one group-version.
fn document(shared: &Shared, group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for info in shared
        .registry
        .all()
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let base = format!("/{}", gv_path(group, version));
        let ns = if info.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let collection = format!("{base}{ns}/{}", info.plural);
        paths.insert(collection.clone(), collection_item(info));
        paths.insert(format!("{collection}/{{name}}"), object_item(info, None));
        for sub in info
            .subresources
            .iter()
            .filter(|s| matches!(s.as_str(), "status" | "scale"))
        {
            paths.insert(
                format!("{collection}/{{name}}/{sub}"),
                object_item(info, Some(sub)),
            );
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v{}.{}.0", crate::KUBERNETES_VERSION.0, crate::KUBERNETES_VERSION.1)},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

fn gvk(info: &ResourceInfo, sub: Option<&str>) -> Value {
    match sub {
        Some("scale") => json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
        _ => json!({"group": info.group, "version": info.version, "kind": info.kind}),
    }
}

fn operation(info: &ResourceInfo, action: &str, sub: Option<&str>, params: &[&str]) -> Value {
    let mut op = json!({
        "operationId": format!("{action}{}{}", info.kind, sub.unwrap_or("")),
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(info, sub),
        "parameters": params
            .iter()
            .map(|p| json!({"name": p, "in": "query", "schema": {"type": "string"}, "uniqueItems": true}))
            .collect::<Vec<_>>(),
    });
    let body_types: &[&str] = match action {
        "patch" => PATCH_TYPES,
        "post" | "put" => &["application/json", "application/yaml"],
        _ => &[],
    };
    if !body_types.is_empty() {
        let content: Map<String, Value> = body_types
            .iter()
            .map(|t| ((*t).to_string(), json!({"schema": {"type": "object"}})))
            .collect();
        op["requestBody"] = json!({"content": content, "required": true});
    }
    op
}

const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "pretty"];

fn collection_item(info: &ResourceInfo) -> Value {
    json!({
        "get": operation(info, "list", None, &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"]),
        "post": operation(info, "post", None, WRITE_PARAMS),
        "delete": operation(info, "deletecollection", None, &["labelSelector", "fieldSelector"]),
    })
}

fn object_item(info: &ResourceInfo, sub: Option<&str>) -> Value {
    let mut item = json!({
        "get": operation(info, "get", sub, &["pretty"]),
        "put": operation(info, "put", sub, WRITE_PARAMS),
        "patch": operation(info, "patch", sub, &["dryRun", "fieldManager", "fieldValidation", "force", "pretty"]),
    });
    if sub.is_none() {
        item["delete"] = operation(
            info,
            "delete",
            None,
            &["dryRun", "gracePeriodSeconds", "propagationPolicy"],
        );
    }
    item
}
