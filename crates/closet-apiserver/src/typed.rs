//! Type checks of built-in kinds: an object must decode into its k8s-openapi type, as
//! upstream's decoder demands (a string where an integer belongs, `1e309`, `2^64` for an
//! `int32`...). The object itself stays JSON; only the check uses the typed form.

use k8s_openapi::api::{
    admissionregistration::v1 as admission, apps::v1 as apps, autoscaling::v2 as autoscaling,
    batch::v1 as batch, coordination::v1 as coordination, core::v1 as core,
    discovery::v1 as discovery, events::v1 as events, networking::v1 as networking,
    policy::v1 as policy, rbac::v1 as rbac, scheduling::v1 as scheduling, storage::v1 as storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::registry::ResourceInfo;

/// Why an object does not decode as its type.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TypedError {
    /// A required field is absent: upstream's validation answers 422 `Required value`.
    Missing {
        /// The field's path, e.g. `spec.template.spec.containers[0].name`.
        field: String,
    },
    /// A value of the wrong type: upstream's decoder answers 400. Names the field.
    Malformed(String),
}

fn decode<T: DeserializeOwned>(obj: &Value) -> Result<(), TypedError> {
    serde_path_to_error::deserialize::<_, T>(obj)
        .map(|_| ())
        .map_err(|err| {
            let path = err.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let inner = err.into_inner().to_string();
            // serde words a missing field as "missing field `name`".
            let missing = inner
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
                .map(str::to_string);
            match missing {
                Some(name) if path.is_empty() => TypedError::Missing { field: name },
                Some(name) => TypedError::Missing {
                    field: format!("{path}.{name}"),
                },
                None if path.is_empty() => TypedError::Malformed(inner),
                None => TypedError::Malformed(format!("{path}: {inner}")),
            }
        })
}

/// Checks that `obj` decodes as its built-in type; custom kinds and kinds without a typed
/// form pass. The error names the field, e.g. `spec.replicas: invalid type: string "x",
/// expected i32`.
pub(crate) fn check(info: &ResourceInfo, obj: &Value) -> Result<(), TypedError> {
    if info.custom.is_some() {
        return Ok(());
    }
    match (info.group.as_str(), info.kind.as_str()) {
        ("", "Namespace") => decode::<core::Namespace>(obj),
        ("", "Pod") => decode::<core::Pod>(obj),
        ("", "Service") => decode::<core::Service>(obj),
        ("", "Endpoints") => decode::<core::Endpoints>(obj),
        ("", "ConfigMap") => decode::<core::ConfigMap>(obj),
        ("", "Secret") => decode::<core::Secret>(obj),
        ("", "ServiceAccount") => decode::<core::ServiceAccount>(obj),
        ("", "Event") => decode::<core::Event>(obj),
        ("", "Node") => decode::<core::Node>(obj),
        ("", "PersistentVolume") => decode::<core::PersistentVolume>(obj),
        ("", "PersistentVolumeClaim") => decode::<core::PersistentVolumeClaim>(obj),
        ("", "LimitRange") => decode::<core::LimitRange>(obj),
        ("", "ResourceQuota") => decode::<core::ResourceQuota>(obj),
        ("apps", "Deployment") => decode::<apps::Deployment>(obj),
        ("apps", "ReplicaSet") => decode::<apps::ReplicaSet>(obj),
        ("apps", "StatefulSet") => decode::<apps::StatefulSet>(obj),
        ("apps", "DaemonSet") => decode::<apps::DaemonSet>(obj),
        ("apps", "ControllerRevision") => decode::<apps::ControllerRevision>(obj),
        ("batch", "Job") => decode::<batch::Job>(obj),
        ("batch", "CronJob") => decode::<batch::CronJob>(obj),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            decode::<autoscaling::HorizontalPodAutoscaler>(obj)
        }
        ("networking.k8s.io", "Ingress") => decode::<networking::Ingress>(obj),
        ("networking.k8s.io", "IngressClass") => decode::<networking::IngressClass>(obj),
        ("networking.k8s.io", "NetworkPolicy") => decode::<networking::NetworkPolicy>(obj),
        ("discovery.k8s.io", "EndpointSlice") => decode::<discovery::EndpointSlice>(obj),
        ("events.k8s.io", "Event") => decode::<events::Event>(obj),
        ("coordination.k8s.io", "Lease") => decode::<coordination::Lease>(obj),
        ("scheduling.k8s.io", "PriorityClass") => decode::<scheduling::PriorityClass>(obj),
        ("policy", "PodDisruptionBudget") => decode::<policy::PodDisruptionBudget>(obj),
        ("rbac.authorization.k8s.io", "Role") => decode::<rbac::Role>(obj),
        ("rbac.authorization.k8s.io", "RoleBinding") => decode::<rbac::RoleBinding>(obj),
        ("rbac.authorization.k8s.io", "ClusterRole") => decode::<rbac::ClusterRole>(obj),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            decode::<rbac::ClusterRoleBinding>(obj)
        }
        ("storage.k8s.io", "StorageClass") => decode::<storage::StorageClass>(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            decode::<apiextensions::CustomResourceDefinition>(obj)
        }
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            decode::<admission::MutatingWebhookConfiguration>(obj)
        }
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            decode::<admission::ValidatingWebhookConfiguration>(obj)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use serde_json::json;

    #[test]
    fn wrong_types_are_named_by_path() {
        let reg = Registry::builtin();
        let deploy = reg.get("apps", "v1", "deployments").unwrap();
        let ok = json!({"metadata": {"name": "d"}, "spec": {"replicas": 2, "selector": {}, "template": {}}});
        assert!(check(&deploy, &ok).is_ok());
        let huge = json!({"metadata": {"name": "d"}, "spec": {"replicas": 18446744073709551616.0_f64, "selector": {}, "template": {}}});
        let Err(TypedError::Malformed(err)) = check(&deploy, &huge) else {
            panic!("2^64 replicas must be malformed");
        };
        assert!(err.starts_with("spec.replicas"), "{err}");
        let cms = reg.get("", "v1", "configmaps").unwrap();
        assert!(check(&cms, &json!({"metadata": {"name": "c"}, "data": {"a": 1}})).is_err());
    }
}
