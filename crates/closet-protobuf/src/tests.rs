//! Schema-wide checks: random objects of every kind k8s-openapi knows, encoded from the table,
//! must decode to JSON that k8s-openapi's own types read back unchanged. A wrong JSON name,
//! a number where a string belongs or a missed inline shows up as a difference.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use serde_json::Value;

use crate::schema::{self, Kind, Message, Shape, Special};

/// xorshift64*: deterministic, so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn word(&mut self) -> String {
        const WORDS: &[&str] = &["", "a", "web", "kube-system", "x.y/z", "Ünïcode", "80"];
        WORDS[self.below(WORDS.len() as u64) as usize].to_string()
    }
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn key(out: &mut Vec<u8>, tag: u32, wire_type: u8) {
    varint(out, u64::from(tag) << 3 | u64::from(wire_type));
}

fn len(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    key(out, tag, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// A random, valid encoding of `msg`; messages below `depth` 0 stay empty.
fn encode(msg: &Message, rng: &mut Rng, depth: i32) -> Vec<u8> {
    let mut out = Vec::new();
    match msg.special {
        Special::Time | Special::MicroTime => {
            key(&mut out, 1, 0);
            varint(&mut out, rng.below(4_000_000_000));
            key(&mut out, 2, 0);
            varint(&mut out, rng.below(1_000_000_000));
        }
        Special::Quantity => {
            let q = ["1", "500m", "2Gi", "0", "1e3"][rng.below(5) as usize];
            len(&mut out, 1, q.as_bytes());
        }
        Special::IntOrString => {
            if rng.chance(50) {
                key(&mut out, 2, 0);
                varint(&mut out, rng.below(65536));
            } else {
                key(&mut out, 1, 0);
                varint(&mut out, 1);
                len(&mut out, 3, b"50%");
            }
        }
        Special::RawJson => len(&mut out, 1, br#"{"k":[1,"x",{"f:a":{}}]}"#),
        // An empty union is Go's `null`, which k8s-openapi cannot read back: give it a list.
        Special::SchemaOrStringArray => len(&mut out, 2, rng.word().as_bytes()),
        Special::SchemaOrArray => {
            let (_, field) = msg.field(2).unwrap();
            value(&mut out, 2, field.kind, Shape::Single, rng, depth.min(1));
        }
        Special::StringList => {
            for _ in 0..=rng.below(2) {
                len(&mut out, 1, rng.word().as_bytes());
            }
        }
        _ => {
            for field in msg.fields {
                // k8s-openapi has no default for a required time, so times are always set.
                let is_time = matches!(field.kind, Kind::Message(i)
                    if matches!(schema::message(i).special, Special::Time | Special::MicroTime));
                if !is_time && !rng.chance(60) {
                    continue;
                }
                let count = match field.shape {
                    Shape::Single => 1,
                    _ => 1 + rng.below(2),
                };
                for _ in 0..count {
                    value(&mut out, field.tag, field.kind, field.shape, rng, depth);
                }
            }
        }
    }
    out
}

fn value(out: &mut Vec<u8>, tag: u32, kind: Kind, shape: Shape, rng: &mut Rng, depth: i32) {
    if shape == Shape::Map {
        let mut entry = Vec::new();
        len(&mut entry, 1, format!("k{}", rng.below(3)).as_bytes());
        value(&mut entry, 2, kind, Shape::Single, rng, depth);
        len(out, tag, &entry);
        return;
    }
    match kind {
        Kind::String => len(out, tag, rng.word().as_bytes()),
        Kind::Bytes => len(out, tag, &rng.next().to_le_bytes()[..rng.below(8) as usize]),
        Kind::Bool => {
            key(out, tag, 0);
            varint(out, rng.below(2));
        }
        Kind::Int32 => {
            key(out, tag, 0);
            varint(out, i64::from(rng.below(2000) as i32 - 1000) as u64);
        }
        Kind::Int64 => {
            key(out, tag, 0);
            varint(out, rng.next() >> 1);
        }
        Kind::Double => {
            key(out, tag, 1);
            out.extend_from_slice(&(rng.below(1000) as f64 / 8.0).to_le_bytes());
        }
        Kind::Message(index) => {
            let special = schema::message(index).special;
            let inner = if depth > 0 || special != Special::None {
                encode(schema::message(index), rng, (depth - 1).max(0))
            } else {
                Vec::new()
            };
            len(out, tag, &inner);
        }
    }
}

/// Every key and value in `decoded` must appear unchanged in `typed`, which may add defaults
/// for required fields.
fn assert_within(decoded: &Value, typed: &Value, path: &str) {
    match (decoded, typed) {
        (Value::Object(d), Value::Object(t)) => {
            for (k, v) in d {
                let Some(tv) = t.get(k) else {
                    panic!("{path}.{k}: unknown to k8s-openapi (decoded {v})");
                };
                assert_within(v, tv, &format!("{path}.{k}"));
            }
        }
        (Value::Array(d), Value::Array(t)) => {
            assert_eq!(d.len(), t.len(), "{path}");
            for (i, (dv, tv)) in d.iter().zip(t).enumerate() {
                assert_within(dv, tv, &format!("{path}[{i}]"));
            }
        }
        _ => assert_eq!(decoded, typed, "{path}"),
    }
}

fn check<T>()
where
    T: k8s_openapi::Resource + serde::de::DeserializeOwned + serde::Serialize,
{
    let msg = schema::object(T::API_VERSION, T::KIND)
        .unwrap_or_else(|| panic!("no message for {} {}", T::API_VERSION, T::KIND));
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let raw = encode(msg, &mut rng, 7);
        let mut body = crate::MAGIC.to_vec();
        let mut meta = Vec::new();
        len(&mut meta, 1, T::API_VERSION.as_bytes());
        len(&mut meta, 2, T::KIND.as_bytes());
        len(&mut body, 1, &meta);
        len(&mut body, 2, &raw);
        let decoded = crate::decode(&body)
            .unwrap_or_else(|e| panic!("{} seed {seed}: {e}: {:?}", T::KIND, e.source_message()));
        let typed: T = serde_json::from_value(decoded.clone())
            .unwrap_or_else(|e| panic!("{} seed {seed}: k8s-openapi rejects it: {e}", T::KIND));
        let typed = serde_json::to_value(&typed).unwrap();
        assert_within(&decoded, &typed, &format!("{} seed {seed}", T::KIND));
    }
}

impl crate::ProtobufError {
    fn source_message(&self) -> Option<String> {
        std::error::Error::source(self).map(|s| s.to_string())
    }
}

macro_rules! check_all {
    ($( $($path:ident)::+ ),* $(,)?) => {
        #[test]
        fn random_objects_of_every_kind_read_back_through_k8s_openapi() {
            $(check::<k8s_openapi::$($path)::+>();)*
        }
    };
}

check_all!(
    api::admissionregistration::v1::MutatingWebhookConfiguration,
    api::admissionregistration::v1::ValidatingAdmissionPolicy,
    api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    api::admissionregistration::v1::ValidatingWebhookConfiguration,
    api::admissionregistration::v1alpha1::MutatingAdmissionPolicy,
    api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding,
    api::admissionregistration::v1beta1::MutatingAdmissionPolicy,
    api::admissionregistration::v1beta1::MutatingAdmissionPolicyBinding,
    api::apiserverinternal::v1alpha1::StorageVersion,
    api::apps::v1::ControllerRevision,
    api::apps::v1::DaemonSet,
    api::apps::v1::Deployment,
    api::apps::v1::ReplicaSet,
    api::apps::v1::StatefulSet,
    api::authentication::v1::SelfSubjectReview,
    api::authentication::v1::TokenRequest,
    api::authentication::v1::TokenReview,
    api::authorization::v1::LocalSubjectAccessReview,
    api::authorization::v1::SelfSubjectAccessReview,
    api::authorization::v1::SelfSubjectRulesReview,
    api::authorization::v1::SubjectAccessReview,
    api::autoscaling::v1::HorizontalPodAutoscaler,
    api::autoscaling::v1::Scale,
    api::autoscaling::v2::HorizontalPodAutoscaler,
    api::batch::v1::CronJob,
    api::batch::v1::Job,
    api::certificates::v1::CertificateSigningRequest,
    api::certificates::v1alpha1::ClusterTrustBundle,
    api::certificates::v1beta1::ClusterTrustBundle,
    api::certificates::v1beta1::PodCertificateRequest,
    api::coordination::v1::Lease,
    api::coordination::v1alpha2::LeaseCandidate,
    api::coordination::v1beta1::LeaseCandidate,
    api::core::v1::Binding,
    api::core::v1::ComponentStatus,
    api::core::v1::ConfigMap,
    api::core::v1::Endpoints,
    api::core::v1::Event,
    api::core::v1::LimitRange,
    api::core::v1::Namespace,
    api::core::v1::Node,
    api::core::v1::PersistentVolume,
    api::core::v1::PersistentVolumeClaim,
    api::core::v1::Pod,
    api::core::v1::PodTemplate,
    api::core::v1::ReplicationController,
    api::core::v1::ResourceQuota,
    api::core::v1::Secret,
    api::core::v1::Service,
    api::core::v1::ServiceAccount,
    api::discovery::v1::EndpointSlice,
    api::events::v1::Event,
    api::flowcontrol::v1::FlowSchema,
    api::flowcontrol::v1::PriorityLevelConfiguration,
    api::networking::v1::Ingress,
    api::networking::v1::IngressClass,
    api::networking::v1::IPAddress,
    api::networking::v1::NetworkPolicy,
    api::networking::v1::ServiceCIDR,
    api::networking::v1beta1::IPAddress,
    api::networking::v1beta1::ServiceCIDR,
    api::node::v1::RuntimeClass,
    api::policy::v1::Eviction,
    api::policy::v1::PodDisruptionBudget,
    api::rbac::v1::ClusterRole,
    api::rbac::v1::ClusterRoleBinding,
    api::rbac::v1::Role,
    api::rbac::v1::RoleBinding,
    api::resource::v1::DeviceClass,
    api::resource::v1::ResourceClaim,
    api::resource::v1::ResourceClaimTemplate,
    api::resource::v1::ResourceSlice,
    api::resource::v1alpha3::DeviceTaintRule,
    api::resource::v1beta1::DeviceClass,
    api::resource::v1beta1::ResourceClaim,
    api::resource::v1beta1::ResourceClaimTemplate,
    api::resource::v1beta1::ResourceSlice,
    api::resource::v1beta2::DeviceClass,
    api::resource::v1beta2::ResourceClaim,
    api::resource::v1beta2::ResourceClaimTemplate,
    api::resource::v1beta2::ResourceSlice,
    api::scheduling::v1::PriorityClass,
    api::scheduling::v1alpha1::Workload,
    api::storage::v1::CSIDriver,
    api::storage::v1::CSINode,
    api::storage::v1::CSIStorageCapacity,
    api::storage::v1::StorageClass,
    api::storage::v1::VolumeAttachment,
    api::storage::v1::VolumeAttributesClass,
    api::storage::v1beta1::VolumeAttributesClass,
    api::storagemigration::v1beta1::StorageVersionMigration,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    apimachinery::pkg::apis::meta::v1::APIGroup,
    apimachinery::pkg::apis::meta::v1::APIGroupList,
    apimachinery::pkg::apis::meta::v1::APIResourceList,
    apimachinery::pkg::apis::meta::v1::APIVersions,
    apimachinery::pkg::apis::meta::v1::Status,
    kube_aggregator::pkg::apis::apiregistration::v1::APIService,
);

#[test]
fn every_kind_k8s_openapi_knows_has_a_message() {
    // The macro above lists k8s-openapi's resources; this keeps the list honest about size.
    assert!(crate::kinds().count() >= 98);
    assert!(crate::supports("v1", "Pod"));
    assert!(!crate::supports("v1", "Nope"));
}
