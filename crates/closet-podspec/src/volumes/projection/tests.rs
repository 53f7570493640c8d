#![allow(clippy::unwrap_used)]

use super::*;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde_json::json;
use std::path::PathBuf;

struct Objects {
    config_maps: BTreeMap<String, ConfigMap>,
    secrets: BTreeMap<String, Secret>,
    allocatable: BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    claims: BTreeMap<String, Result<PathBuf, String>>,
    tokens: BTreeMap<crate::volumes::TokenKey, String>,
}

impl Objects {
    fn new() -> Objects {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "web-config"},
            "data": {"nginx.conf": "worker_processes 1;", "mime.types": "types {}"},
            "binaryData": {"logo.png": "iVBORw=="}
        }))
        .unwrap();
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "tls"},
            "data": {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}
        }))
        .unwrap();
        Objects {
            config_maps: BTreeMap::from([("web-config".into(), cm)]),
            secrets: BTreeMap::from([("tls".into(), secret)]),
            allocatable: BTreeMap::new(),
            claims: BTreeMap::new(),
            tokens: BTreeMap::from([(
                crate::volumes::TokenKey {
                    audience: String::new(),
                    expiration_seconds: 3607,
                },
                "issued.jwt.token".to_owned(),
            )]),
        }
    }

    fn ctx(&self) -> VolumeContext<'_> {
        VolumeContext {
            config_maps: &self.config_maps,
            secrets: &self.secrets,
            node_allocatable: &self.allocatable,
            claims: &self.claims,
            service_account_tokens: &self.tokens,
        }
    }
}

fn pod() -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop", "labels": {"b": "2", "a": "1", "a.b": "3"}},
        "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "64Mi"}}}]}
    }))
    .unwrap()
}

fn text(payload: &Payload, path: &str) -> String {
    String::from_utf8(payload[path].data.clone()).unwrap()
}

#[test]
fn config_map_all_keys_with_default_mode() {
    let objects = Objects::new();
    let source: ConfigMapVolumeSource =
        serde_json::from_value(json!({"name": "web-config"})).unwrap();
    let payload = config_map_payload(&pod(), &source, &objects.ctx()).unwrap();
    assert_eq!(
        payload.keys().collect::<Vec<_>>(),
        ["logo.png", "mime.types", "nginx.conf"]
    );
    assert_eq!(payload["logo.png"].data, [0x89, b'P', b'N', b'G']);
    assert!(payload.values().all(|f| f.mode == 0o644));
}

#[test]
fn config_map_items_and_modes() {
    let objects = Objects::new();
    let source: ConfigMapVolumeSource = serde_json::from_value(json!({
        "name": "web-config", "defaultMode": 0o600,
        "items": [
            {"key": "nginx.conf", "path": "conf/nginx.conf"},
            {"key": "mime.types", "path": "mime", "mode": 0o444}
        ]
    }))
    .unwrap();
    let payload = config_map_payload(&pod(), &source, &objects.ctx()).unwrap();
    assert_eq!(payload.len(), 2);
    assert_eq!(text(&payload, "conf/nginx.conf"), "worker_processes 1;");
    assert_eq!(payload["conf/nginx.conf"].mode, 0o600);
    assert_eq!(payload["mime"].mode, 0o444);
}

#[test]
fn missing_objects_and_keys() {
    let objects = Objects::new();
    let ctx = objects.ctx();
    let missing: ConfigMapVolumeSource = serde_json::from_value(json!({"name": "nope"})).unwrap();
    let err = config_map_payload(&pod(), &missing, &ctx).unwrap_err();
    assert_eq!(err.to_string(), "configmap \"nope\" not found");
    let optional: ConfigMapVolumeSource =
        serde_json::from_value(json!({"name": "nope", "optional": true})).unwrap();
    assert!(
        config_map_payload(&pod(), &optional, &ctx)
            .unwrap()
            .is_empty()
    );

    let bad_key: SecretVolumeSource = serde_json::from_value(json!({
        "secretName": "tls", "items": [{"key": "ca.crt", "path": "ca.crt"}]
    }))
    .unwrap();
    let err = secret_payload(&pod(), &bad_key, &ctx).unwrap_err();
    assert_eq!(
        err.to_string(),
        "couldn't find key ca.crt in Secret shop/tls"
    );
    let optional_key: SecretVolumeSource = serde_json::from_value(json!({
        "secretName": "tls", "optional": true,
        "items": [{"key": "ca.crt", "path": "ca.crt"}, {"key": "tls.key", "path": "key"}]
    }))
    .unwrap();
    let payload = secret_payload(&pod(), &optional_key, &ctx).unwrap();
    assert_eq!(payload.keys().collect::<Vec<_>>(), ["key"]);
    assert_eq!(text(&payload, "key"), "key");
}

#[test]
fn projected_sources_merge() {
    let objects = Objects::new();
    let source: ProjectedVolumeSource = serde_json::from_value(json!({
        "defaultMode": 0o440,
        "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
            {"configMap": {"name": "web-config", "items": [{"key": "nginx.conf", "path": "ca.crt"}]}},
            {"secret": {"name": "absent", "optional": true}},
            {"downwardAPI": {"items": [
                {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                {"path": "mem", "mode": 0o400, "resourceFieldRef": {"containerName": "app", "resource": "limits.memory", "divisor": "1Mi"}}
            ]}}
        ]
    }))
    .unwrap();
    let payload = projected_payload(&pod(), &source, &objects.ctx()).unwrap();
    assert_eq!(
        payload.keys().collect::<Vec<_>>(),
        ["ca.crt", "labels", "mem", "namespace", "token"]
    );
    assert_eq!(text(&payload, "namespace"), "shop");
    assert_eq!(text(&payload, "labels"), "a.b=\"3\"\na=\"1\"\nb=\"2\"");
    assert_eq!(text(&payload, "mem"), "64");
    assert_eq!(payload["mem"].mode, 0o400);
    assert_eq!(payload["token"].mode, 0o440);
    assert_eq!(text(&payload, "token"), "issued.jwt.token");
}

#[test]
fn a_token_projection_without_an_issued_token_fails() {
    let objects = Objects::new();
    let source: ProjectedVolumeSource = serde_json::from_value(json!({
        "sources": [{"serviceAccountToken": {"path": "token", "audience": "vault"}}]
    }))
    .unwrap();
    let err = projected_payload(&pod(), &source, &objects.ctx()).unwrap_err();
    assert!(
        matches!(err, SpecError::ServiceAccountToken { ref audience } if audience == "vault"),
        "{err}"
    );
}

#[test]
fn token_requests_list_each_audience_and_lifetime_once() {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"containers": [], "volumes": [
            {"name": "a", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
            {"name": "b", "projected": {"sources": [
                {"serviceAccountToken": {"path": "t", "expirationSeconds": 3600}},
                {"serviceAccountToken": {"path": "v", "audience": "vault", "expirationSeconds": 7200}}
            ]}}
        ]}
    }))
    .unwrap();
    let wanted: Vec<_> = crate::volumes::token_requests(&pod).into_iter().collect();
    assert_eq!(
        wanted,
        [
            crate::volumes::TokenKey {
                audience: String::new(),
                expiration_seconds: 3600
            },
            crate::volumes::TokenKey {
                audience: "vault".into(),
                expiration_seconds: 7200
            },
        ]
    );
}

#[test]
fn downward_api_refuses_status_fields() {
    let objects = Objects::new();
    let items: Vec<DownwardAPIVolumeFile> =
        serde_json::from_value(json!([{"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}}]))
            .unwrap();
    let mut payload = Payload::new();
    assert!(downward_api_payload(&pod(), &items, None, &objects.ctx(), &mut payload).is_err());
}
