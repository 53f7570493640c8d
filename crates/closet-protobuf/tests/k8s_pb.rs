//! Objects kubectl never sends as protobuf (a rich Pod, CRDs, leases...) encoded by an
//! independent encoder, k8s-pb's prost messages, and decoded into the JSON Go would write.
//!
//! prost writes only the fields that are set, like Go does for pointers; fields Go always
//! writes (plain values) are set here explicitly to their zero value where the test is about
//! leaving them out.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde_json::{Value, json};

/// A request body as client-go writes it: magic, then `runtime.Unknown`.
fn body(api_version: &str, kind: &str, object: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(object.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = closet_protobuf::MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

fn decode(body: &[u8]) -> Value {
    closet_protobuf::decode(body).unwrap_or_else(|e| {
        panic!(
            "{e}: {:?}",
            std::error::Error::source(&e).map(|s| s.to_string())
        )
    })
}

fn s(text: &str) -> Option<String> {
    Some(text.to_string())
}

fn map<V>(pairs: &[(&str, V)]) -> BTreeMap<String, V>
where
    V: Clone,
{
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn quantity(text: &str) -> Quantity {
    Quantity { string: s(text) }
}

fn time(seconds: i64, nanos: i32) -> meta::Time {
    meta::Time {
        seconds: Some(seconds),
        nanos: Some(nanos),
    }
}

/// Go's value fields, always present in Go's encoding, at their zero values.
fn go_object_meta(name: &str) -> meta::ObjectMeta {
    meta::ObjectMeta {
        name: s(name),
        generate_name: s(""),
        namespace: s(""),
        self_link: s(""),
        uid: s(""),
        resource_version: s(""),
        generation: Some(0),
        creation_timestamp: Some(meta::Time::default()),
        ..Default::default()
    }
}

#[test]
fn pod_with_the_field_shapes_go_writes() {
    let container = core::Container {
        name: s("web"),
        image: s("nginx:1.27"),
        command: vec!["nginx".into(), "-g".into()],
        working_dir: s(""),
        ports: vec![core::ContainerPort {
            name: s("http"),
            host_port: Some(0),
            container_port: Some(80),
            protocol: s("TCP"),
            host_ip: s(""),
        }],
        env: vec![
            core::EnvVar {
                name: s("A"),
                value: s("1"),
                value_from: None,
            },
            core::EnvVar {
                name: s("B"),
                value: s(""),
                value_from: Some(core::EnvVarSource {
                    config_map_key_ref: Some(core::ConfigMapKeySelector {
                        local_object_reference: Some(core::LocalObjectReference { name: s("cm") }),
                        key: s("k"),
                        optional: Some(false),
                    }),
                    ..Default::default()
                }),
            },
        ],
        resources: Some(core::ResourceRequirements {
            limits: map(&[("cpu", quantity("500m")), ("memory", quantity("128Mi"))]),
            requests: map(&[("cpu", quantity("100m"))]),
            ..Default::default()
        }),
        volume_mounts: vec![core::VolumeMount {
            name: s("data"),
            read_only: Some(true),
            mount_path: s("/data"),
            sub_path: s(""),
            ..Default::default()
        }],
        liveness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                http_get: Some(core::HttpGetAction {
                    path: s("/healthz"),
                    port: Some(IntOrString {
                        r#type: Some(1),
                        int_val: Some(0),
                        str_val: s("http"),
                    }),
                    host: s(""),
                    scheme: s("HTTP"),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            initial_delay_seconds: Some(5),
            timeout_seconds: Some(0),
            period_seconds: Some(0),
            success_threshold: Some(0),
            failure_threshold: Some(0),
            termination_grace_period_seconds: None,
        }),
        readiness_probe: Some(core::Probe {
            handler: Some(core::ProbeHandler {
                tcp_socket: Some(core::TcpSocketAction {
                    port: Some(IntOrString {
                        r#type: Some(0),
                        int_val: Some(8080),
                        str_val: s(""),
                    }),
                    host: s(""),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        termination_message_path: s("/dev/termination-log"),
        image_pull_policy: s("IfNotPresent"),
        security_context: Some(core::SecurityContext {
            capabilities: Some(core::Capabilities {
                add: vec!["NET_ADMIN".into()],
                drop: vec![],
            }),
            privileged: Some(false),
            run_as_user: Some(0),
            ..Default::default()
        }),
        stdin: Some(false),
        stdin_once: Some(false),
        tty: Some(false),
        ..Default::default()
    };
    let pod = core::Pod {
        metadata: Some(meta::ObjectMeta {
            namespace: s("default"),
            labels: map(&[("app", "web".to_string())]),
            creation_timestamp: Some(time(1_700_000_000, 500)),
            owner_references: vec![meta::OwnerReference {
                api_version: s("apps/v1"),
                kind: s("ReplicaSet"),
                name: s("web-1"),
                uid: s("1f0e"),
                controller: Some(true),
                block_owner_deletion: Some(false),
            }],
            managed_fields: vec![meta::ManagedFieldsEntry {
                manager: s("kubectl"),
                operation: s("Update"),
                api_version: s("v1"),
                time: Some(time(1_700_000_000, 0)),
                fields_type: s("FieldsV1"),
                fields_v1: Some(meta::FieldsV1 {
                    raw: Some(br#"{"f:metadata":{"f:labels":{".":{}}}}"#.to_vec()),
                }),
                subresource: s(""),
            }],
            ..go_object_meta("web")
        }),
        spec: Some(core::PodSpec {
            volumes: vec![
                core::Volume {
                    name: s("data"),
                    volume_source: Some(core::VolumeSource {
                        empty_dir: Some(core::EmptyDirVolumeSource {
                            medium: s(""),
                            size_limit: Some(quantity("1Gi")),
                        }),
                        ..Default::default()
                    }),
                },
                core::Volume {
                    name: s("cfg"),
                    volume_source: Some(core::VolumeSource {
                        config_map: Some(core::ConfigMapVolumeSource {
                            local_object_reference: Some(core::LocalObjectReference {
                                name: s("cm"),
                            }),
                            items: vec![core::KeyToPath {
                                key: s("k"),
                                path: s("k.txt"),
                                mode: None,
                            }],
                            default_mode: Some(0o644),
                            optional: None,
                        }),
                        ..Default::default()
                    }),
                },
            ],
            containers: vec![container],
            restart_policy: s("Always"),
            termination_grace_period_seconds: Some(0),
            dns_policy: s(""),
            node_selector: map(&[("disk", "ssd".to_string())]),
            service_account_name: s(""),
            automount_service_account_token: Some(false),
            node_name: s(""),
            host_network: Some(false),
            host_pid: Some(false),
            host_ipc: Some(false),
            tolerations: vec![core::Toleration {
                key: s("k"),
                operator: s("Exists"),
                value: s(""),
                effect: s("NoSchedule"),
                toleration_seconds: Some(0),
            }],
            ..Default::default()
        }),
        status: Some(core::PodStatus::default()),
    };
    let expected = json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "creationTimestamp": "2023-11-14T22:13:20Z",
            "labels": {"app": "web"},
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "1f0e",
                "controller": true, "blockOwnerDeletion": false,
            }],
            "managedFields": [{
                "manager": "kubectl", "operation": "Update", "apiVersion": "v1",
                "time": "2023-11-14T22:13:20Z", "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}}}},
            }],
        },
        "spec": {
            "volumes": [
                {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                {"name": "cfg", "configMap": {
                    "name": "cm", "items": [{"key": "k", "path": "k.txt"}], "defaultMode": 420,
                }},
            ],
            "containers": [{
                "name": "web",
                "image": "nginx:1.27",
                "command": ["nginx", "-g"],
                "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "B", "valueFrom": {"configMapKeyRef": {
                        "name": "cm", "key": "k", "optional": false,
                    }}},
                ],
                "resources": {
                    "limits": {"cpu": "500m", "memory": "128Mi"},
                    "requests": {"cpu": "100m"},
                },
                "volumeMounts": [{"name": "data", "readOnly": true, "mountPath": "/data"}],
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                    "initialDelaySeconds": 5,
                },
                "readinessProbe": {"tcpSocket": {"port": 8080}},
                "terminationMessagePath": "/dev/termination-log",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {
                    "capabilities": {"add": ["NET_ADMIN"]},
                    "privileged": false,
                    "runAsUser": 0,
                },
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 0,
            "nodeSelector": {"disk": "ssd"},
            "automountServiceAccountToken": false,
            "tolerations": [{
                "key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 0,
            }],
        },
        "status": {},
    });
    assert_eq!(decode(&body("v1", "Pod", &pod)), expected);
}

#[test]
fn secret_bytes_are_base64() {
    let secret = core::Secret {
        metadata: Some(go_object_meta("s")),
        data: map(&[("bin", vec![0xff, 0x00, 0xfe]), ("empty", vec![])]),
        string_data: map(&[("plain", "text".to_string())]),
        r#type: s("Opaque"),
        immutable: Some(false),
    };
    assert_eq!(
        decode(&body("v1", "Secret", &secret)),
        json!({
            "kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"},
            "data": {"bin": "/wD+", "empty": ""},
            "stringData": {"plain": "text"},
            "type": "Opaque",
            "immutable": false,
        })
    );
}

#[test]
fn lease_micro_times_keep_microseconds() {
    use k8s_pb::api::coordination::v1::{Lease, LeaseSpec};
    let micro = |seconds, nanos| meta::MicroTime {
        seconds: Some(seconds),
        nanos: Some(nanos),
    };
    let lease = Lease {
        metadata: Some(go_object_meta("node-1")),
        spec: Some(LeaseSpec {
            holder_identity: s("node-1"),
            lease_duration_seconds: Some(40),
            acquire_time: Some(micro(1_700_000_000, 123_456_789)),
            renew_time: Some(micro(-62_135_596_800, 0)),
            lease_transitions: Some(0),
            ..Default::default()
        }),
    };
    assert_eq!(
        decode(&body("coordination.k8s.io/v1", "Lease", &lease)),
        json!({
            "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": "node-1"},
            "spec": {
                "holderIdentity": "node-1",
                "leaseDurationSeconds": 40,
                "acquireTime": "2023-11-14T22:13:20.123456Z",
                "leaseTransitions": 0,
            },
        })
    );
}

#[test]
fn controller_revision_data_is_embedded_json() {
    use k8s_pb::api::apps::v1::ControllerRevision;
    let revision = ControllerRevision {
        metadata: Some(go_object_meta("web-5d8")),
        data: Some(RawExtension {
            raw: Some(br#"{"spec":{"template":{"$patch":"replace"}}}"#.to_vec()),
        }),
        revision: Some(3),
    };
    assert_eq!(
        decode(&body("apps/v1", "ControllerRevision", &revision)),
        json!({
            "kind": "ControllerRevision", "apiVersion": "apps/v1",
            "metadata": {"name": "web-5d8"},
            "data": {"spec": {"template": {"$patch": "replace"}}},
            "revision": 3,
        })
    );
}

#[test]
fn crd_schemas_use_their_json_unions() {
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    let string_prop = ext::JsonSchemaProps {
        r#type: s("string"),
        r#enum: vec![
            ext::Json {
                raw: Some(br#""a""#.to_vec()),
            },
            ext::Json {
                raw: Some(b"null".to_vec()),
            },
        ],
        ..Default::default()
    };
    let schema = ext::JsonSchemaProps {
        r#type: s("object"),
        properties: map(&[("name", string_prop.clone())]),
        required: vec!["name".into()],
        additional_properties: Some(Box::new(ext::JsonSchemaPropsOrBool {
            allows: Some(false),
            schema: None,
        })),
        items: Some(Box::new(ext::JsonSchemaPropsOrArray {
            schema: Some(Box::new(string_prop.clone())),
            j_son_schemas: vec![],
        })),
        dependencies: map(&[(
            "name",
            ext::JsonSchemaPropsOrStringArray {
                schema: None,
                property: vec!["other".into()],
            },
        )]),
        default: Some(ext::Json {
            raw: Some(br#"{"name":"x"}"#.to_vec()),
        }),
        nullable: Some(false),
        x_kubernetes_preserve_unknown_fields: Some(false),
        x_kubernetes_int_or_string: Some(false),
        ..Default::default()
    };
    let crd = ext::CustomResourceDefinition {
        metadata: Some(go_object_meta("foos.example.com")),
        spec: Some(ext::CustomResourceDefinitionSpec {
            group: s("example.com"),
            names: Some(ext::CustomResourceDefinitionNames {
                plural: s("foos"),
                kind: s("Foo"),
                ..Default::default()
            }),
            scope: s("Namespaced"),
            versions: vec![ext::CustomResourceDefinitionVersion {
                name: s("v1"),
                served: Some(true),
                storage: Some(true),
                schema: Some(ext::CustomResourceValidation {
                    open_apiv3_schema: Some(schema),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    let decoded = decode(&body(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        &crd,
    ));
    assert_eq!(
        decoded["spec"]["versions"][0]["schema"]["openAPIV3Schema"],
        json!({
            "type": "object",
            "properties": {"name": {"type": "string", "enum": ["a", null]}},
            "required": ["name"],
            "additionalProperties": false,
            "items": {"type": "string", "enum": ["a", null]},
            "dependencies": {"name": ["other"]},
            "default": {"name": "x"},
            "x-kubernetes-preserve-unknown-fields": false,
        })
    );
    assert_eq!(
        decoded["spec"]["names"],
        json!({"plural": "foos", "kind": "Foo"})
    );
}

#[test]
fn review_extra_values_are_string_lists() {
    use k8s_pb::api::authorization::v1 as authz;
    let review = authz::SubjectAccessReview {
        metadata: Some(go_object_meta("")),
        spec: Some(authz::SubjectAccessReviewSpec {
            non_resource_attributes: Some(authz::NonResourceAttributes {
                path: s("/healthz"),
                verb: s("get"),
            }),
            user: s("alice"),
            groups: vec!["dev".into()],
            extra: map(&[(
                "scopes",
                authz::ExtraValue {
                    items: vec!["a".into(), "b".into()],
                },
            )]),
            uid: s(""),
            ..Default::default()
        }),
        status: Some(authz::SubjectAccessReviewStatus {
            allowed: Some(false),
            denied: Some(false),
            reason: s(""),
            evaluation_error: s(""),
        }),
    };
    assert_eq!(
        decode(&body(
            "authorization.k8s.io/v1",
            "SubjectAccessReview",
            &review
        )),
        json!({
            "kind": "SubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": {
                "nonResourceAttributes": {"path": "/healthz", "verb": "get"},
                "user": "alice",
                "groups": ["dev"],
                "extra": {"scopes": ["a", "b"]},
            },
            "status": {"allowed": false},
        })
    );
}

#[test]
fn priority_class_keeps_required_zero_and_drops_false_default() {
    use k8s_pb::api::scheduling::v1::PriorityClass;
    let class = PriorityClass {
        metadata: Some(go_object_meta("low")),
        value: Some(0),
        global_default: Some(false),
        description: s(""),
        preemption_policy: s("Never"),
    };
    assert_eq!(
        decode(&body("scheduling.k8s.io/v1", "PriorityClass", &class)),
        json!({
            "kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1",
            "metadata": {"name": "low"}, "value": 0, "preemptionPolicy": "Never",
        })
    );
}

#[test]
fn pvc_keeps_an_empty_storage_class() {
    // `storageClassName: ""` (a pointer to "") turns off the default class: it must survive.
    let claim = core::PersistentVolumeClaim {
        metadata: Some(go_object_meta("data")),
        spec: Some(core::PersistentVolumeClaimSpec {
            access_modes: vec!["ReadWriteOnce".into()],
            storage_class_name: s(""),
            resources: Some(core::VolumeResourceRequirements {
                requests: map(&[("storage", quantity("1Gi"))]),
                ..Default::default()
            }),
            volume_name: s(""),
            ..Default::default()
        }),
        status: None,
    };
    assert_eq!(
        decode(&body("v1", "PersistentVolumeClaim", &claim)),
        json!({
            "kind": "PersistentVolumeClaim", "apiVersion": "v1", "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                "storageClassName": "",
            },
        })
    );
}

#[test]
fn repeated_singular_messages_merge() {
    // Protobuf merges repeated occurrences of a singular message field: labels from both
    // `metadata` occurrences survive, the later name wins.
    let first = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("a"),
            labels: map(&[("one", "1".to_string())]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let second = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("b"),
            labels: map(&[("two", "2".to_string())]),
            ..Default::default()
        }),
        data: map(&[("k", "v".to_string())]),
        ..Default::default()
    };
    let mut raw = first.encode_to_vec();
    raw.extend(second.encode_to_vec());
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: s("v1"),
            kind: s("ConfigMap"),
        }),
        raw: Some(raw),
        ..Default::default()
    };
    let mut body = closet_protobuf::MAGIC.to_vec();
    body.extend(unknown.encode_to_vec());
    assert_eq!(
        decode(&body),
        json!({
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": "b", "labels": {"one": "1", "two": "2"}},
            "data": {"k": "v"},
        })
    );
}
