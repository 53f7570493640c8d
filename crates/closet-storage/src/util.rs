//! Small helpers shared by the controllers.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::StorageError;

/// Removes `finalizer` from the object, guarded by its resourceVersion.
pub(crate) async fn remove_finalizer<K>(
    api: &Api<K>,
    obj: &K,
    finalizer: &str,
) -> Result<(), StorageError>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let meta = obj.meta();
    let name = meta.name.clone().unwrap_or_default();
    let Some(current) = meta.finalizers.as_ref() else {
        return Ok(());
    };
    if !current.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let kept: Vec<&String> = current.iter().filter(|f| *f != finalizer).collect();
    let patch = json!({"metadata": {"finalizers": kept, "resourceVersion": meta.resource_version}});
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(err) => Err(StorageError::api(format!(
            "removing finalizer {finalizer} from {name}"
        ))(err)),
    }
}

/// The claims a pod's volumes name.
pub(crate) fn claims_of(pod: &Pod) -> impl Iterator<Item = &str> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .map(|c| c.claim_name.as_str())
}

/// A pod that has stopped for good no longer holds its claims.
pub(crate) fn terminated(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// The class a claim asks for (`""`: none).
pub(crate) fn claim_class(claim: &PersistentVolumeClaim) -> String {
    let beta = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class"));
    beta.cloned()
        .or_else(|| {
            claim
                .spec
                .as_ref()
                .and_then(|s| s.storage_class_name.clone())
        })
        .unwrap_or_default()
}

/// The class of a volume (`""`: none).
pub(crate) fn volume_class(pv: &PersistentVolume) -> String {
    pv.spec
        .as_ref()
        .and_then(|s| s.storage_class_name.clone())
        .unwrap_or_default()
}

/// The storage a claim requests, in bytes (0 when absent or unreadable).
pub(crate) fn requested_bytes(claim: &PersistentVolumeClaim) -> u128 {
    claim
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map_or(0, bytes)
}

/// A quantity in bytes, rounded up; unparseable quantities are 0.
pub(crate) fn bytes(q: &Quantity) -> u128 {
    let s = q.0.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let Ok(value) = number.parse::<f64>() else {
        return 0;
    };
    let scale: f64 = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "m" => 1e-3,
        _ => return 0,
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "sizes are positive and far below u128::MAX"
    )]
    let out = (value * scale).ceil() as u128;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_in_bytes() {
        assert_eq!(bytes(&Quantity("1Gi".into())), 1 << 30);
        assert_eq!(bytes(&Quantity("500M".into())), 500_000_000);
        assert_eq!(bytes(&Quantity("1.5Ki".into())), 1536);
        assert_eq!(bytes(&Quantity("12".into())), 12);
        assert_eq!(bytes(&Quantity("x".into())), 0);
    }
}
