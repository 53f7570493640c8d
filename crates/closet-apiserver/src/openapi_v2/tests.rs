use std::collections::BTreeMap;

use super::pb::decode::{all, one, string};
use super::*;
use crate::registry::Registry;

/// A group-version-kind as kubectl compares it: (group, version, kind).
type Gvk<'a> = (&'a str, &'a str, &'a str);

/// The check of kubectl 1.27's `supportsQueryParam` (cli-runtime
/// `pkg/resource/query_param_verifier.go`), replayed on the wire bytes: the first path whose
/// PATCH carries the GVK decides. `None` is its "couldn't find GVK in openapi".
fn supports_query_param(doc: &[u8], gvk: Gvk<'_>, param: &str) -> Option<bool> {
    let paths = one(doc, 8).unwrap_or_default();
    for named in all(&paths, 2) {
        let patch = one(&one(&named, 2).unwrap_or_default(), 8).unwrap_or_default();
        if !has_gvk_extension(&all(&patch, 13), gvk) {
            continue;
        }
        let found = all(&patch, 8).iter().any(|item| {
            let query = one(item, 1)
                .and_then(|p| one(&p, 2))
                .and_then(|nb| one(&nb, 3))
                .unwrap_or_default();
            string(&query, 4) == param
        });
        return Some(found);
    }
    None
}

/// kubectl's `hasGVKExtension`: only the first GVK extension counts, read as a YAML map.
fn has_gvk_extension(extensions: &[Vec<u8>], (group, version, kind): Gvk<'_>) -> bool {
    for ext in extensions {
        let yaml = string(&one(ext, 2).unwrap_or_default(), 2);
        if yaml.is_empty() || string(ext, 1) != "x-kubernetes-group-version-kind" {
            continue;
        }
        let Ok(map) = serde_saphyr::from_str::<BTreeMap<String, String>>(&yaml) else {
            continue;
        };
        let field = |k: &str| map.get(k).map(String::as_str).unwrap_or("");
        return field("group") == group && field("version") == version && field("kind") == kind;
    }
    false
}

fn path_names(doc: &[u8]) -> Vec<String> {
    all(&one(doc, 8).unwrap_or_default(), 2)
        .iter()
        .map(|p| string(p, 1))
        .collect()
}

#[test]
fn every_builtin_kind_supports_field_validation_as_kubectl_1_27_reads_it() {
    let resources = Registry::builtin().all();
    let doc = document(&resources);
    for info in &resources {
        let gvk = (
            info.group.as_str(),
            info.version.as_str(),
            info.kind.as_str(),
        );
        assert_eq!(
            supports_query_param(&doc, gvk, "fieldValidation"),
            Some(true),
            "{gvk:?}"
        );
    }
    let scale = ("autoscaling", "v1", "Scale");
    assert_eq!(
        supports_query_param(&doc, scale, "fieldValidation"),
        Some(true)
    );
    // Custom kinds fall back to the Namespace answer, then to a CRD lookup.
    let unknown = ("example.com", "v1", "Widget");
    assert_eq!(supports_query_param(&doc, unknown, "fieldValidation"), None);
    assert_eq!(
        supports_query_param(&doc, ("", "v1", "Namespace"), "nope"),
        Some(false)
    );
}

#[test]
fn custom_resources_are_described_like_builtins() {
    let mut widget = (*Registry::builtin()
        .get("apps", "v1", "deployments")
        .unwrap())
    .clone();
    widget.group = "example.com".into();
    widget.kind = "Widget".into();
    widget.plural = "widgets".into();
    let doc = document(&[Arc::new(widget)]);
    let gvk = ("example.com", "v1", "Widget");
    assert_eq!(
        supports_query_param(&doc, gvk, "fieldValidation"),
        Some(true)
    );
    assert_eq!(
        path_names(&doc),
        [
            "/apis/example.com/v1/namespaces/{namespace}/widgets",
            "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}",
            "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/scale",
            "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status",
        ]
    );
}

#[test]
fn document_has_header_paths_and_operations() {
    let doc = document(&Registry::builtin().all());
    assert_eq!(string(&doc, 1), "2.0");
    assert_eq!(string(&one(&doc, 2).unwrap(), 2), "v1.35.0");
    let names = path_names(&doc);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "paths are sorted");
    for p in [
        "/api/v1/namespaces",
        "/api/v1/namespaces/{name}",
        "/api/v1/namespaces/{namespace}/configmaps",
    ] {
        assert!(names.iter().any(|n| n == p), "{p} missing");
    }

    let paths = all(&one(&doc, 8).unwrap(), 2);
    let item = |path: &str| {
        let named = paths.iter().find(|p| string(p, 1) == path).unwrap();
        one(named, 2).unwrap()
    };
    let collection = item("/api/v1/namespaces/{namespace}/configmaps");
    let post = one(&collection, 4).expect("collection has post");
    assert_eq!(
        all(&post, 7),
        [b"application/json".to_vec(), b"application/yaml".to_vec()]
    );
    assert!(one(&collection, 8).is_none(), "collections have no patch");
    // One `{namespace}` path parameter, required.
    let params = all(&collection, 9);
    assert_eq!(params.len(), 1);
    let path_param = one(&one(&one(&params[0], 1).unwrap(), 2).unwrap(), 4).unwrap();
    assert_eq!(string(&path_param, 4), "namespace");
    assert_eq!(string(&path_param, 2), "path");

    let object = item("/apis/apps/v1/namespaces/{namespace}/deployments/{name}");
    for field in [2, 3, 5, 8] {
        assert!(one(&object, field).is_some(), "operation {field} missing");
    }
    let patch = one(&object, 8).unwrap();
    assert_eq!(string(&patch, 5), "patchDeployment");
    assert!(all(&patch, 7).contains(&b"application/merge-patch+json".to_vec()));
    let subresource = item("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale");
    assert!(
        one(&subresource, 5).is_none(),
        "subresources have no delete"
    );
}

#[test]
fn gvk_values_stay_strings_in_yaml() {
    let mut info = (*Registry::builtin().get("", "v1", "namespaces").unwrap()).clone();
    info.kind = "true".into();
    let yaml = gvk_yaml(&info, None);
    assert_eq!(yaml, "group: \"\"\nkind: \"true\"\nversion: \"v1\"\n");
    let map: BTreeMap<String, String> = serde_saphyr::from_str(&yaml).unwrap();
    assert_eq!(map["kind"], "true");
    assert_eq!(map["group"], "");
}

#[test]
fn accept_negotiation() {
    assert!(accepts_protobuf(None));
    assert!(accepts_protobuf(Some("")));
    assert!(accepts_protobuf(Some(PROTOBUF_REQUESTED)));
    assert!(accepts_protobuf(Some(PROTOBUF)));
    // client-go's fallback to /swagger-2.0.0.pb-v1 sends its default Accept.
    assert!(accepts_protobuf(Some("application/json, */*")));
    assert!(accepts_protobuf(Some(
        "application/json;q=0.9, application/*;q=0.8"
    )));
    assert!(!accepts_protobuf(Some("application/json")));
    assert!(!accepts_protobuf(Some("application/json, */*;q=0")));
}

fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), v.parse().unwrap()))
        .collect()
}

#[test]
fn responses_carry_type_and_etag_and_revalidate() {
    let resources = Registry::builtin().all();
    let ok = respond(
        &resources,
        &headers(&[(header::ACCEPT, PROTOBUF_REQUESTED)]),
    )
    .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()[header::CONTENT_TYPE], PROTOBUF);
    // Go's mime.ParseMediaType, which client-go runs on it, takes no `@` in a subtype.
    assert!(!PROTOBUF.contains('@'));
    let etag = ok.headers()[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 66);

    let again = respond(&resources, &headers(&[(header::IF_NONE_MATCH, &etag)])).unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], etag.as_str());

    let stale = respond(&resources, &headers(&[(header::IF_NONE_MATCH, "\"0\"")])).unwrap();
    assert_eq!(stale.status(), StatusCode::OK);

    let json = headers(&[(header::ACCEPT, "application/json")]);
    let refused = respond(&resources, &json)
        .map(|_| ())
        .unwrap_err()
        .into_response();
    assert_eq!(refused.status(), StatusCode::NOT_ACCEPTABLE);
}

#[test]
fn document_is_deterministic() {
    let resources = Registry::builtin().all();
    let mut reversed = resources.clone();
    reversed.reverse();
    assert_eq!(document(&resources), document(&reversed));
}
