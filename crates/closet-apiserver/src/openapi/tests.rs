//! The documents as kubectl reads them: every `$ref` resolves, operations name their kinds,
//! ETags revalidate, review kinds take POSTs only, custom resources get their CRD's schema.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::sync::Arc;

use closet_store::sqlite::{Options, SqliteStore};
use http_body_util::BodyExt;

use super::custom::{custom_name, custom_schemas};
use super::*;
use crate::{ApiServer, Config};

struct Fixture {
    _dir: tempfile::TempDir,
    api: ApiServer,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let api = ApiServer::new(store, Config::default());
    Fixture { _dir: dir, api }
}

fn shared(f: &Fixture) -> &Arc<Shared> {
    &f.api.shared
}

async fn body(response: Response) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

async fn document(f: &Fixture, gv_path: &str) -> (Value, String) {
    let path = format!("/openapi/v3/{gv_path}");
    let response = group_version(shared(f), &path, &HeaderMap::new()).unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let etag = response.headers()[http::header::ETAG]
        .to_str()
        .unwrap()
        .to_string();
    (body(response).await, etag)
}

fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r);
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_document_resolves_its_refs() {
    let f = fixture();
    let root = body(root(shared(&f))).await;
    let paths = root["paths"].as_object().unwrap();
    assert!(paths.contains_key("api/v1") && paths.contains_key("apis/apps/v1"));
    for gv_path in paths.keys() {
        let (doc, _) = document(&f, gv_path).await;
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        assert!(!schemas.is_empty(), "{gv_path}");
        let mut found = Vec::new();
        refs(&doc, &mut found);
        for r in found {
            let name = r.trim_start_matches("#/components/schemas/");
            assert!(schemas.contains_key(name), "{gv_path}: dangling {r}");
        }
    }
}

#[tokio::test]
async fn operations_reference_the_kind() {
    let f = fixture();
    let (doc, _) = document(&f, "apis/apps/v1").await;
    let item = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
    let deployment = "#/components/schemas/io.k8s.api.apps.v1.Deployment";
    assert_eq!(
        item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        deployment
    );
    assert_eq!(
        item["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        deployment
    );
    let patch = &item["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"]["kind"],
        "Deployment"
    );
    assert!(
        patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation")
    );
    let types = patch["requestBody"]["content"].as_object().unwrap();
    assert!(types.contains_key("application/merge-patch+json"));
    assert!(types.contains_key("application/strategic-merge-patch+json"));
    assert!(types.contains_key("application/apply-patch+yaml"));
    let scale = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
    assert_eq!(
        scale["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.autoscaling.v1.Scale"
    );
    let list = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["get"];
    assert_eq!(
        list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentList"
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]["kind"],
        "Deployment"
    );
}

#[tokio::test]
async fn every_builtin_kind_has_a_schema() {
    let f = fixture();
    for info in shared(&f).registry.all() {
        let name = closet_schema::definition_name(&info.group, &info.version, &info.kind);
        assert!(
            name.is_some(),
            "{}/{} {}",
            info.group,
            info.version,
            info.kind
        );
    }
}

#[tokio::test]
async fn etag_revalidation() {
    let f = fixture();
    let (_, etag) = document(&f, "api/v1").await;
    let mut headers = HeaderMap::new();
    headers.insert(http::header::IF_NONE_MATCH, etag.parse().unwrap());
    let response = group_version(shared(&f), "/openapi/v3/api/v1", &headers).unwrap();
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(response.headers()[http::header::ETAG], etag.as_str());
    // The same document again: the same ETag.
    let (_, again) = document(&f, "api/v1").await;
    assert_eq!(again, etag);
    let unknown = group_version(
        shared(&f),
        "/openapi/v3/apis/example.com/v1",
        &HeaderMap::new(),
    );
    assert!(unknown.is_err());
}

#[tokio::test]
async fn review_kinds_only_take_posts() {
    let f = fixture();
    let (doc, _) = document(&f, "apis/authorization.k8s.io/v1").await;
    let item = &doc["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"];
    assert!(item["post"].is_object());
    assert!(item["get"].is_null());
    assert!(
        doc["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/{name}"].is_null()
    );
}

#[test]
fn custom_resources_get_their_crd_schema() {
    use crate::crd::CustomInfo;
    let widget = ResourceInfo {
        group: "example.com".into(),
        version: "v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
        singular: "widget".into(),
        short_names: Vec::new(),
        categories: Vec::new(),
        namespaced: true,
        subresources: vec!["status".into()],
        name_rule: crate::registry::NameRule::Subdomain,
        field_selectors: Vec::new(),
        verbs: Vec::new(),
        custom: Some(Arc::new(CustomInfo {
            schema: Some(
                json!({"type": "object", "properties": {"spec": {"type": "object", "description": "The widget."}}}),
            ),
            ..CustomInfo::default()
        })),
    };
    let mut out = Map::new();
    custom_schemas(&widget, &mut out);
    let schema = &out["com.example.v1.Widget"];
    assert_eq!(
        schema["x-kubernetes-group-version-kind"][0]["kind"],
        "Widget"
    );
    assert_eq!(schema["properties"]["spec"]["description"], "The widget.");
    assert_eq!(
        schema["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert_eq!(
        out["com.example.v1.WidgetList"]["x-kubernetes-group-version-kind"][0]["kind"],
        "WidgetList"
    );
    assert_eq!(
        custom_name("a.b.example.com", "v2", "X"),
        "com.example.b.a.v2.X"
    );
}
