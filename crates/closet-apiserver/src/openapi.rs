//! OpenAPI v3: the root listing every served group-version, and one document per
//! group-version (kubectl-wire.md §3.6).
//!
//! kubectl reads these before `create -f`, `replace -f` and `apply`: a PATCH operation tagged
//! with the object's group-version-kind and offering the `fieldValidation` parameter tells it
//! the server validates, so it sends `fieldValidation=Strict` instead of failing with
//! "failed to download openapi". `kubectl explain` walks `components.schemas`: for built-in
//! kinds they come from `closet_schema` (k8s-openapi's schemas with upstream's merge metadata),
//! for custom resources from their CRD's `openAPIV3Schema`. Paths and operations are derived
//! from the registry.
//!
//! Cost: a document's schemas are generated the first time that group-version is asked for,
//! never for the root. The root's `hash` is therefore a digest of what a document is made of
//! (its registry entries, custom schemas and this build), not of its bytes; the `ETag` is the
//! digest of the bytes, computed once per distinct document and remembered, so a revalidation
//! answered 304 builds nothing.

mod custom;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::Shared;
use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceInfo;
use custom::{custom_name, custom_schemas};

/// Patch media types offered on every PATCH operation.
pub(crate) const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

/// Offered for built-in kinds only: strategic merge patch needs merge keys, which custom
/// resources do not have (upstream answers 415 for them, and kubectl then sends merge
/// patches).
pub(crate) const STRATEGIC: &str = "application/strategic-merge-patch+json";

/// Media types of request and response bodies.
const BODY_TYPES: &[&str] = &["application/json", "application/yaml"];

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

/// `GET /openapi/v3`.
pub(crate) fn root(shared: &Shared) -> Response {
    let all = shared.registry.all();
    let mut paths = Map::new();
    for (group, versions) in shared.registry.groups() {
        for version in versions {
            let gv_path = gv_path(&group, &version);
            let hash = fingerprint(&group, &version, &resources_of(&all, &group, &version));
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
    let resources = resources_of(&shared.registry.all(), &group, &version);
    let fingerprint = fingerprint(&group, &version, &resources);
    let if_none_match = headers
        .get(http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let matches = |etag: &str| if_none_match.split(',').any(|t| t.trim() == etag);
    let known = known_etag(&fingerprint);
    // A revalidation of a document already rendered once builds nothing.
    let body = match &known {
        Some(etag) if matches(etag) => None,
        _ => Some(Parts::new(&group, &version, &resources).render()),
    };
    let etag = match (known, &body) {
        (Some(etag), _) => etag,
        (None, body) => {
            let bytes = body.as_deref().unwrap_or_default().as_bytes();
            let etag = format!("\"{}\"", hex_digest(bytes));
            remember_etag(fingerprint, etag.clone());
            etag
        }
    };
    let common = [
        (http::header::ETAG, etag.clone()),
        (http::header::CACHE_CONTROL, "public, immutable".to_string()),
    ];
    match body {
        Some(body) if !matches(&etag) => Ok((
            common,
            [(http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()),
        _ => Ok((StatusCode::NOT_MODIFIED, common).into_response()),
    }
}

/// ETags of documents already rendered, by fingerprint. A fingerprint changes only when the
/// registry does (CRDs), so this stays small; it is cleared if CRD churn ever grows it.
fn etags() -> &'static Mutex<HashMap<String, String>> {
    static ETAGS: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    ETAGS.get_or_init(Default::default)
}

fn known_etag(fingerprint: &str) -> Option<String> {
    let etags = etags().lock().unwrap_or_else(|e| e.into_inner());
    etags.get(fingerprint).cloned()
}

fn remember_etag(fingerprint: String, etag: String) {
    let mut etags = etags().lock().unwrap_or_else(|e| e.into_inner());
    if etags.len() >= 256 {
        etags.clear();
    }
    etags.insert(fingerprint, etag);
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn hex_digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02X}")).collect()
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The registry entries of one group-version.
fn resources_of(all: &[Arc<ResourceInfo>], group: &str, version: &str) -> Vec<Arc<ResourceInfo>> {
    all.iter()
        .filter(|r| r.group == group && r.version == version)
        .cloned()
        .collect()
}

/// A digest of what a group-version's document is made of: this build (the code that derives
/// paths and the built-in schemas) and the registry entries, whose `Debug` form covers every
/// field paths and custom schemas are derived from. Cheap, so the root and a revalidation
/// never build a document.
fn fingerprint(group: &str, version: &str, resources: &[Arc<ResourceInfo>]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(concat!("closet ", env!("CARGO_PKG_VERSION"), "\n"));
    hasher.update(format!("{group}/{version}\n{resources:?}"));
    hex(&hasher.finalize())
}

// === impl Parts ===

/// What one group-version document is made of, before its built-in schemas are spliced in.
struct Parts {
    group: String,
    version: String,
    paths: Map<String, Value>,
    /// Schemas of the group-version's custom resources, from their CRDs.
    custom: Map<String, Value>,
}

impl Parts {
    fn new(group: &str, version: &str, resources: &[Arc<ResourceInfo>]) -> Self {
        let mut custom = Map::new();
        for info in resources {
            custom_schemas(info, &mut custom);
        }
        // Only a name lookup: schemas are generated when a document is rendered, not here.
        let builtin = closet_schema::group_versions().any(|gv| gv == (group, version));
        // Custom resources' documents carry the meta schemas alongside theirs; built-in
        // documents have them already.
        let meta = builtin || !custom.is_empty();
        let mut paths = Map::new();
        for info in resources {
            let kind = definition(info);
            add_paths(
                &mut paths,
                info,
                Refs {
                    kind: kind.as_deref(),
                    meta,
                },
            );
        }
        Self {
            group: group.to_string(),
            version: version.to_string(),
            paths,
            custom,
        }
    }

    /// The document as JSON text.
    fn render(self) -> String {
        let builtin = closet_schema::schemas_json(&self.group, &self.version);
        let merged;
        let schemas: &str = match (&builtin, self.custom.is_empty()) {
            // The usual case: splice the cached serialization in as it is.
            (Some(json), true) => json,
            (None, true) => "{}",
            (_, false) => {
                let mut all = match &builtin {
                    Some(json) => serde_json::from_str(json).unwrap_or_default(),
                    None => closet_schema::meta_schemas(),
                };
                all.extend(self.custom);
                merged = Value::Object(all).to_string();
                &merged
            }
        };
        let (major, minor) = crate::KUBERNETES_VERSION;
        let head = json!({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": format!("v{major}.{minor}.0")},
            "paths": self.paths,
        })
        .to_string();
        let head = head.strip_suffix('}').unwrap_or(&head);
        format!("{head},\"components\":{{\"schemas\":{schemas}}}}}")
    }
}

/// The definition name of a resource's kind, if the document has a schema for it.
fn definition(info: &ResourceInfo) -> Option<String> {
    match &info.custom {
        Some(custom) => custom
            .schema
            .as_ref()
            .map(|_| custom_name(&info.group, &info.version, &info.kind)),
        None => closet_schema::definition_name(&info.group, &info.version, &info.kind),
    }
}

// === operations ===

/// How an operation refers to the schemas: the kind's definition (if the document has one)
/// and whether the meta schemas (Status, DeleteOptions) are present.
#[derive(Clone, Copy)]
struct Refs<'a> {
    kind: Option<&'a str>,
    meta: bool,
}

impl Refs<'_> {
    fn object(&self) -> Value {
        self.kind
            .map_or_else(|| json!({"type": "object"}), schema_ref)
    }

    fn list(&self) -> Value {
        self.kind.map_or_else(
            || json!({"type": "object"}),
            |k| schema_ref(&format!("{k}List")),
        )
    }

    fn meta(&self, kind: &str) -> Value {
        if self.meta {
            schema_ref(&format!("{META}.{kind}"))
        } else {
            json!({"type": "object"})
        }
    }
}

fn add_paths(paths: &mut Map<String, Value>, info: &ResourceInfo, refs: Refs<'_>) {
    let base = format!("/{}", gv_path(&info.group, &info.version));
    let ns = if info.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let collection = format!("{base}{ns}/{}", info.plural);
    let ns_param = info.namespaced.then(|| path_param("namespace"));
    if info.is_review() {
        let mut item = json!({"post": operation(info, "post", None, WRITE_PARAMS, refs)});
        item["parameters"] = json!(ns_param.iter().collect::<Vec<_>>());
        paths.insert(collection, item);
        return;
    }
    let mut item = collection_item(info, refs);
    item["parameters"] = json!(ns_param.iter().collect::<Vec<_>>());
    paths.insert(collection.clone(), item);
    let named: Vec<Value> = [Some(path_param("name")), ns_param]
        .into_iter()
        .flatten()
        .collect();
    let mut item = object_item(info, None, refs);
    item["parameters"] = json!(named);
    paths.insert(format!("{collection}/{{name}}"), item);
    for sub in info
        .subresources
        .iter()
        .filter(|s| matches!(s.as_str(), "status" | "scale"))
    {
        // Built-in documents with a scale subresource carry autoscaling/v1 Scale, as upstream's
        // do; a custom resource's document has no such schema.
        let scale;
        let refs = if sub == "scale" {
            scale = closet_schema::definition_name("autoscaling", "v1", "Scale");
            Refs {
                kind: scale.as_deref().filter(|_| info.custom.is_none()),
                ..refs
            }
        } else {
            refs
        };
        let mut item = object_item(info, Some(sub), refs);
        item["parameters"] = json!(named);
        paths.insert(format!("{collection}/{{name}}/{sub}"), item);
    }
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}, "uniqueItems": true})
}

fn gvk(info: &ResourceInfo, sub: Option<&str>) -> Value {
    match sub {
        Some("scale") => json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}),
        _ => json!({"group": info.group, "version": info.version, "kind": info.kind}),
    }
}

fn content(types: &[&str], schema: &Value) -> Value {
    let content: Map<String, Value> = types
        .iter()
        .map(|t| ((*t).to_string(), json!({"schema": schema})))
        .collect();
    Value::Object(content)
}

fn operation(
    info: &ResourceInfo,
    action: &str,
    sub: Option<&str>,
    params: &[&str],
    refs: Refs<'_>,
) -> Value {
    let (request, response) = match action {
        "list" => (None, refs.list()),
        "post" | "put" => (Some((BODY_TYPES.to_vec(), refs.object())), refs.object()),
        "patch" => {
            let mut types = PATCH_TYPES.to_vec();
            if info.custom.is_none() {
                types.push(STRATEGIC);
            }
            (Some((types, json!({"type": "object"}))), refs.object())
        }
        "delete" => (
            Some((BODY_TYPES.to_vec(), refs.meta("DeleteOptions"))),
            refs.meta("Status"),
        ),
        "deletecollection" => (None, refs.meta("Status")),
        _ => (None, refs.object()),
    };
    let ok = json!({"description": "OK", "content": content(BODY_TYPES, &response)});
    let mut responses = json!({"200": ok});
    if matches!(action, "post" | "put" | "patch") {
        responses["201"] =
            json!({"description": "Created", "content": content(BODY_TYPES, &response)});
    }
    let mut op = json!({
        "operationId": format!("{action}{}{}", info.kind, sub.unwrap_or("")),
        "responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(info, sub),
        "parameters": params
            .iter()
            .map(|p| json!({"name": p, "in": "query", "schema": {"type": "string"}, "uniqueItems": true}))
            .collect::<Vec<_>>(),
    });
    if let Some((types, schema)) = request {
        op["requestBody"] =
            json!({"content": content(&types, &schema), "required": action != "delete"});
    }
    op
}

const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "pretty"];

fn collection_item(info: &ResourceInfo, refs: Refs<'_>) -> Value {
    json!({
        "get": operation(info, "list", None, &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"], refs),
        "post": operation(info, "post", None, WRITE_PARAMS, refs),
        "delete": operation(info, "deletecollection", None, &["labelSelector", "fieldSelector"], refs),
    })
}

fn object_item(info: &ResourceInfo, sub: Option<&str>, refs: Refs<'_>) -> Value {
    let mut item = json!({
        "get": operation(info, "get", sub, &["pretty"], refs),
        "put": operation(info, "put", sub, WRITE_PARAMS, refs),
        "patch": operation(info, "patch", sub, &["dryRun", "fieldManager", "fieldValidation", "force", "pretty"], refs),
    });
    if sub.is_none() {
        item["delete"] = operation(
            info,
            "delete",
            None,
            &["dryRun", "gracePeriodSeconds", "propagationPolicy"],
            refs,
        );
    }
    item
}

#[cfg(test)]
mod tests;
