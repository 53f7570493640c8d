#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

struct Fixture {
    config_maps: BTreeMap<String, ConfigMap>,
    secrets: BTreeMap<String, Secret>,
    allocatable: BTreeMap<String, Quantity>,
    services: BTreeMap<String, String>,
    host_ips: Vec<IpAddr>,
    pod_ips: Vec<IpAddr>,
}

impl Fixture {
    fn new() -> Fixture {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "settings"},
            "data": {"LEVEL": "debug", "COLOR": "blue", "bad=key": "x"}
        }))
        .unwrap();
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "creds"},
            // "hunter2" and "admin"
            "data": {"PASSWORD": "aHVudGVyMg==", "USER": "YWRtaW4="}
        }))
        .unwrap();
        Fixture {
            config_maps: BTreeMap::from([("settings".into(), cm)]),
            secrets: BTreeMap::from([("creds".into(), secret)]),
            allocatable: BTreeMap::from([("memory".into(), Quantity("2Gi".into()))]),
            services: BTreeMap::from([
                ("KUBERNETES_SERVICE_HOST".into(), "10.43.0.1".into()),
                ("LEVEL".into(), "from-service".into()),
            ]),
            host_ips: vec!["192.168.1.10".parse().unwrap()],
            pod_ips: vec!["10.42.0.9".parse().unwrap()],
        }
    }

    fn ctx(&self) -> EnvContext<'_> {
        EnvContext {
            config_maps: &self.config_maps,
            secrets: &self.secrets,
            host_ips: &self.host_ips,
            pod_ips: &self.pod_ips,
            node_allocatable: &self.allocatable,
            service_env: &self.services,
        }
    }
}

fn pod(container: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"}},
        "spec": {"nodeName": "node-a", "serviceAccountName": "default", "containers": [container]}
    }))
    .unwrap()
}

fn resolve(container: serde_json::Value) -> Result<Vec<(String, String)>, SpecError> {
    let fixture = Fixture::new();
    let pod = pod(container);
    let container = &pod.spec.as_ref().unwrap().containers[0];
    let env = resolve_env(&pod, container, &fixture.ctx())?;
    Ok(env.into_iter().map(|kv| (kv.key, kv.value)).collect())
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn env_from_then_env_with_expansion_against_earlier_names() {
    let env = resolve(json!({
        "name": "app",
        "envFrom": [
            {"configMapRef": {"name": "settings"}},
            {"secretRef": {"name": "creds"}, "prefix": "DB_"}
        ],
        "env": [
            {"name": "URL", "value": "http://$(DB_USER):$(DB_PASSWORD)@$(HOST)"},
            {"name": "HOST", "value": "db"},
            {"name": "LEVEL", "value": "info-$(LEVEL)"},
            {"name": "LITERAL", "value": "$$(HOST)"},
            {"name": "SVC", "value": "$(KUBERNETES_SERVICE_HOST)"}
        ]
    }))
    .unwrap();
    assert_eq!(
        env,
        pairs(&[
            ("COLOR", "blue"),
            ("LEVEL", "info-debug"),
            ("DB_PASSWORD", "hunter2"),
            ("DB_USER", "admin"),
            // HOST is defined later, so it stays unexpanded, as upstream.
            ("URL", "http://admin:hunter2@$(HOST)"),
            ("HOST", "db"),
            ("LITERAL", "$(HOST)"),
            ("SVC", "10.43.0.1"),
            ("KUBERNETES_SERVICE_HOST", "10.43.0.1"),
        ])
    );
}

#[test]
fn field_and_resource_refs() {
    let env = resolve(json!({
        "name": "app",
        "resources": {"requests": {"cpu": "500m"}},
        "env": [
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
            {"name": "POD_IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
            {"name": "CPU_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}}
        ]
    }))
    .unwrap();
    let services = pairs(&[
        ("KUBERNETES_SERVICE_HOST", "10.43.0.1"),
        ("LEVEL", "from-service"),
    ]);
    let mut want = pairs(&[
        ("POD", "web"),
        ("NS", "shop"),
        ("APP", "web"),
        ("NODE", "node-a"),
        ("SA", "default"),
        ("HOST_IP", "192.168.1.10"),
        ("POD_IPS", "10.42.0.9"),
        ("CPU_M", "500"),
        // No memory limit: the node's allocatable 2Gi.
        ("MEM", "2048"),
    ]);
    want.extend(services);
    assert_eq!(env, want);
}

#[test]
fn missing_references_name_the_object_and_key() {
    let err = resolve(json!({
        "name": "app",
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "NOPE"}}}]
    }))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "couldn't find key NOPE in ConfigMap shop/settings"
    );
    assert_eq!(err.reason(), "CreateContainerConfigError");

    let err = resolve(json!({
        "name": "app",
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k"}}}]
    }))
    .unwrap_err();
    assert_eq!(err.to_string(), "secret \"absent\" not found");

    let err = resolve(json!({"name": "app", "envFrom": [{"configMapRef": {"name": "gone"}}]}))
        .unwrap_err();
    assert_eq!(err.to_string(), "configmap \"gone\" not found");

    let err = resolve(json!({
        "name": "app",
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "TOKEN"}}}]
    }))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "couldn't find key TOKEN in Secret shop/creds"
    );
}

#[test]
fn optional_references_drop_the_variable() {
    let env = resolve(json!({
        "name": "app",
        "envFrom": [{"configMapRef": {"name": "gone", "optional": true}}],
        "env": [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "NOPE", "optional": true}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": true}}},
            {"name": "C", "value": ""}
        ]
    }))
    .unwrap();
    assert_eq!(env[0], ("C".to_owned(), String::new()));
    assert!(!env.iter().any(|(k, _)| k == "A" || k == "B"));
}

#[test]
fn invalid_env_from_keys_are_skipped() {
    let env = resolve(json!({"name": "app", "envFrom": [{"configMapRef": {"name": "settings"}}]}))
        .unwrap();
    assert!(env.iter().all(|(k, _)| k != "bad=key"));
    assert!(env.iter().any(|(k, _)| k == "COLOR"));
    assert!(
        is_env_var_name("1badkey"),
        "1.35 accepts any printable ASCII but '='"
    );
    assert!(!is_env_var_name(""));
    assert!(!is_env_var_name("tab\there"));
}

#[test]
fn referenced_objects_cover_env_volumes_and_pull_secrets() {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "imagePullSecrets": [{"name": "registry"}],
            "initContainers": [{"name": "init", "envFrom": [{"secretRef": {"name": "init-secret"}}]}],
            "containers": [{
                "name": "app",
                "env": [
                    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "a"}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "env-secret", "key": "b"}}}
                ],
                "envFrom": [{"configMapRef": {"name": "from-cm"}}]
            }],
            "volumes": [
                {"name": "v1", "configMap": {"name": "vol-cm"}},
                {"name": "v2", "secret": {"secretName": "vol-secret"}},
                {"name": "v3", "projected": {"sources": [
                    {"configMap": {"name": "proj-cm"}},
                    {"secret": {"name": "proj-secret"}},
                    {"serviceAccountToken": {"path": "token"}}
                ]}}
            ]
        }
    }))
    .unwrap();
    let found = referenced_objects(&pod);
    let set = |names: &[&str]| {
        names
            .iter()
            .map(|n| (*n).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        found.config_maps,
        set(&["env-cm", "from-cm", "proj-cm", "vol-cm"])
    );
    assert_eq!(
        found.secrets,
        set(&[
            "env-secret",
            "init-secret",
            "proj-secret",
            "registry",
            "vol-secret"
        ])
    );
}
