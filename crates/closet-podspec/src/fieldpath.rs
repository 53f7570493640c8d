//! Downward API values: pod fields (`fieldRef`) and container resources (`resourceFieldRef`),
//! shared by environment variables and downwardAPI volume files.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Container, ObjectFieldSelector, Pod, ResourceFieldSelector};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::SpecError;
use crate::quantity::QuantityValue;

/// The addresses only the node knows: they are not in the pod object the agent was handed.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StatusIps<'a> {
    pub(crate) host_ips: &'a [IpAddr],
    pub(crate) pod_ips: &'a [IpAddr],
}

/// The value of a `fieldRef`. `status` is `None` where status fields are not allowed
/// (downwardAPI volumes, whose files must not change with the pod's addresses).
pub(crate) fn pod_field(
    pod: &Pod,
    selector: &ObjectFieldSelector,
    status: Option<StatusIps<'_>>,
) -> Result<String, SpecError> {
    let path = selector.field_path.as_str();
    let error = |reason: &str| SpecError::FieldPath {
        path: path.to_owned(),
        reason: reason.into(),
    };
    if let Some(version) = selector.api_version.as_deref()
        && !version.is_empty()
        && version != "v1"
    {
        return Err(error(&format!("unsupported pod version {version:?}")));
    }
    let spec = pod.spec.as_ref();
    let meta = &pod.metadata;
    let joined = |ips: &[IpAddr]| {
        ips.iter()
            .map(IpAddr::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    if let Some((map_path, key)) = split_subscript(path) {
        return match map_path {
            "metadata.annotations" => Ok(map_value(meta.annotations.as_ref(), key)),
            "metadata.labels" => Ok(map_value(meta.labels.as_ref(), key)),
            _ => Err(error("this field does not support a subscript")),
        };
    }
    let value = match (path, status) {
        ("metadata.name", _) => meta.name.clone().unwrap_or_default(),
        ("metadata.namespace", _) => meta.namespace.clone().unwrap_or_default(),
        ("metadata.uid", _) => meta.uid.clone().unwrap_or_default(),
        ("metadata.labels", _) => format_map(meta.labels.as_ref()),
        ("metadata.annotations", _) => format_map(meta.annotations.as_ref()),
        ("spec.nodeName", Some(_)) => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        ("spec.serviceAccountName", Some(_)) => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        ("status.hostIP", Some(ips)) => ips
            .host_ips
            .first()
            .map(IpAddr::to_string)
            .unwrap_or_default(),
        ("status.hostIPs", Some(ips)) => joined(ips.host_ips),
        ("status.podIP", Some(ips)) => ips
            .pod_ips
            .first()
            .map(IpAddr::to_string)
            .unwrap_or_default(),
        ("status.podIPs", Some(ips)) => joined(ips.pod_ips),
        _ => return Err(error("not one of the fields the downward API exposes here")),
    };
    Ok(value)
}

/// `metadata.labels['key']` → (`metadata.labels`, `key`).
fn split_subscript(path: &str) -> Option<(&str, &str)> {
    let inner = path.strip_suffix("']")?;
    let (head, key) = inner.split_once("['")?;
    (!head.is_empty()).then_some((head, key))
}

fn map_value(map: Option<&BTreeMap<String, String>>, key: &str) -> String {
    map.and_then(|m| m.get(key)).cloned().unwrap_or_default()
}

/// `key="value"` lines in key order, values quoted the way Go's `%q` does, no final newline.
pub(crate) fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    let mut out = String::new();
    for (key, value) in map.into_iter().flatten() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(&closet_types::field::go_quote(value));
    }
    out
}

/// The value of a `resourceFieldRef`, in units of its divisor, rounded up. `own` is the
/// container the reference sits in (environment variables may leave `containerName` empty).
/// Limits the container does not set read as the node's allocatable amount, as upstream does.
pub(crate) fn resource_field(
    pod: &Pod,
    own: Option<&Container>,
    selector: &ResourceFieldSelector,
    node_allocatable: &BTreeMap<String, Quantity>,
) -> Result<String, SpecError> {
    let resource = selector.resource.as_str();
    let error = |reason: String| SpecError::ResourceField {
        resource: resource.to_owned(),
        reason,
    };
    let container = match selector
        .container_name
        .as_deref()
        .filter(|name| !name.is_empty())
    {
        Some(name) => find_container(pod, name)
            .ok_or_else(|| error(format!("container {name:?} is not in the pod")))?,
        None => own.ok_or_else(|| error("containerName is required here".into()))?,
    };
    let (kind, name) = resource
        .split_once('.')
        .ok_or_else(|| error("must be limits.<resource> or requests.<resource>".into()))?;
    let resources = container.resources.as_ref();
    let amount = match kind {
        "limits" => resources
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get(name))
            .or_else(|| {
                defaulted_from_node(name)
                    .then(|| node_allocatable.get(name))
                    .flatten()
            }),
        "requests" => resources
            .and_then(|r| r.requests.as_ref())
            .and_then(|l| l.get(name)),
        _ => {
            return Err(error(
                "must be limits.<resource> or requests.<resource>".into(),
            ));
        }
    };
    if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !name.starts_with("hugepages-") {
        return Err(error("unsupported container resource".into()));
    }
    let amount = match amount {
        Some(quantity) => QuantityValue::from_quantity(quantity)
            .map_err(|e| SpecError::quantity(resource, &quantity.0, e))?,
        None => QuantityValue::ZERO,
    };
    let divisor = match selector.divisor.as_ref() {
        Some(quantity) => QuantityValue::from_quantity(quantity)
            .map_err(|e| SpecError::quantity("divisor", &quantity.0, e))?,
        None => QuantityValue::ZERO,
    };
    let divisor = if divisor.is_zero() {
        QuantityValue::from_units(1)
    } else {
        divisor
    };
    let value = if name == "cpu" {
        ceil_div(amount.milli_value(), divisor.milli_value())
    } else {
        ceil_div(amount.value(), divisor.value())
    };
    value
        .map(|v| v.to_string())
        .ok_or_else(|| error("divisor is too small".into()))
}

/// Upstream fills missing limits from the node's allocatable amount only for these.
fn defaulted_from_node(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage")
}

fn find_container<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|container| container.name == name)
}

fn ceil_div(value: i64, divisor: i64) -> Option<i64> {
    if divisor <= 0 {
        return None;
    }
    let (value, divisor) = (i128::from(value), i128::from(divisor));
    let quotient = value.div_euclid(divisor) + i128::from(value.rem_euclid(divisor) != 0);
    i64::try_from(quotient).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": "web", "namespace": "shop", "uid": "u-1",
                "labels": {"app": "web", "tier": "front"},
                "annotations": {"note": "say \"hi\"\n"}
            },
            "spec": {
                "nodeName": "node-a", "serviceAccountName": "builder",
                "containers": [{
                    "name": "app", "image": "app",
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "64Mi"},
                        "limits": {"memory": "128Mi"}
                    }
                }]
            }
        }))
        .unwrap()
    }

    fn field(path: &str) -> Result<String, SpecError> {
        let selector = ObjectFieldSelector {
            field_path: path.into(),
            api_version: None,
        };
        let hosts = ["192.168.1.5".parse().unwrap(), "fd00::5".parse().unwrap()];
        let pods = ["10.42.0.7".parse().unwrap()];
        pod_field(
            &pod(),
            &selector,
            Some(StatusIps {
                host_ips: &hosts,
                pod_ips: &pods,
            }),
        )
    }

    #[test]
    fn pod_fields() {
        assert_eq!(field("metadata.name").unwrap(), "web");
        assert_eq!(field("metadata.namespace").unwrap(), "shop");
        assert_eq!(field("metadata.uid").unwrap(), "u-1");
        assert_eq!(field("metadata.labels['tier']").unwrap(), "front");
        assert_eq!(field("metadata.labels['absent']").unwrap(), "");
        assert_eq!(
            field("metadata.labels").unwrap(),
            "app=\"web\"\ntier=\"front\""
        );
        assert_eq!(
            field("metadata.annotations").unwrap(),
            "note=\"say \\\"hi\\\"\\n\""
        );
        assert_eq!(field("spec.nodeName").unwrap(), "node-a");
        assert_eq!(field("spec.serviceAccountName").unwrap(), "builder");
        assert_eq!(field("status.hostIP").unwrap(), "192.168.1.5");
        assert_eq!(field("status.hostIPs").unwrap(), "192.168.1.5,fd00::5");
        assert_eq!(field("status.podIP").unwrap(), "10.42.0.7");
        assert!(field("spec.restartPolicy").is_err());
        assert!(field("metadata.name['x']").is_err());
    }

    #[test]
    fn status_fields_are_refused_where_not_allowed() {
        let selector = ObjectFieldSelector {
            field_path: "status.podIP".into(),
            api_version: None,
        };
        assert!(pod_field(&pod(), &selector, None).is_err());
        let versioned = ObjectFieldSelector {
            field_path: "metadata.name".into(),
            api_version: Some("v2".into()),
        };
        assert!(pod_field(&pod(), &versioned, None).is_err());
    }

    fn resource(resource: &str, divisor: Option<&str>) -> Result<String, SpecError> {
        let pod = pod();
        let allocatable = BTreeMap::from([
            ("cpu".to_owned(), Quantity("4".into())),
            ("memory".to_owned(), Quantity("8Gi".into())),
        ]);
        let selector = ResourceFieldSelector {
            container_name: Some("app".into()),
            divisor: divisor.map(|d| Quantity(d.into())),
            resource: resource.into(),
        };
        resource_field(&pod, None, &selector, &allocatable)
    }

    #[test]
    fn resource_fields_round_up_in_divisor_units() {
        assert_eq!(resource("requests.cpu", None).unwrap(), "1");
        assert_eq!(resource("requests.cpu", Some("1m")).unwrap(), "250");
        assert_eq!(resource("requests.memory", Some("1Mi")).unwrap(), "64");
        assert_eq!(
            resource("limits.memory", None).unwrap(),
            (128u64 << 20).to_string()
        );
        assert_eq!(resource("limits.memory", Some("1G")).unwrap(), "1");
        // Unset limits are the node's allocatable amount.
        assert_eq!(resource("limits.cpu", None).unwrap(), "4");
        assert_eq!(resource("limits.cpu", Some("0")).unwrap(), "4");
        assert_eq!(resource("requests.ephemeral-storage", None).unwrap(), "0");
        assert!(resource("limits.gpu", None).is_err());
        assert!(resource("cpu", None).is_err());
    }
}
