//! The replicas a budget expects: the sum over its pods' distinct controllers, as upstream's
//! finders (a ReplicaSet owned by a Deployment counts with the Deployment's replicas).

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::Api;

/// Sums the replicas of the controllers of `pods`; an error names a pod without one.
pub async fn total(client: &kube::Client, namespace: &str, pods: &[Pod]) -> Result<i32, String> {
    let mut seen = BTreeSet::new();
    let mut sum: i32 = 0;
    for pod in pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(owner) = controller_of(pod.metadata.owner_references.as_deref()) else {
            return Err(format!("found no controller for pod {name:?}"));
        };
        let (uid, replicas) = replicas(client, namespace, owner)
            .await
            .ok_or_else(|| format!("found no controllers for pod {name:?}"))?;
        if seen.insert(uid) {
            sum = sum.saturating_add(replicas);
        }
    }
    Ok(sum)
}

fn controller_of(refs: Option<&[OwnerReference]>) -> Option<&OwnerReference> {
    refs?.iter().find(|r| r.controller == Some(true))
}

/// The uid and replica count of the controller `owner` names, following a ReplicaSet up to
/// its Deployment.
async fn replicas(
    client: &kube::Client,
    namespace: &str,
    owner: &OwnerReference,
) -> Option<(String, i32)> {
    let group = owner.api_version.split('/').next().unwrap_or("");
    match (group, owner.kind.as_str()) {
        ("apps", "ReplicaSet") => {
            let rs = Api::<ReplicaSet>::namespaced(client.clone(), namespace)
                .get_opt(&owner.name)
                .await
                .ok()??;
            if let Some(dep) = controller_of(rs.metadata.owner_references.as_deref())
                .filter(|r| r.kind == "Deployment")
            {
                let d = Api::<Deployment>::namespaced(client.clone(), namespace)
                    .get_opt(&dep.name)
                    .await
                    .ok()??;
                let replicas = d.spec.and_then(|s| s.replicas).unwrap_or(1);
                return Some((d.metadata.uid.unwrap_or_default(), replicas));
            }
            let replicas = rs.spec.and_then(|s| s.replicas).unwrap_or(1);
            Some((rs.metadata.uid.unwrap_or_default(), replicas))
        }
        ("apps", "StatefulSet") => {
            let s = Api::<StatefulSet>::namespaced(client.clone(), namespace)
                .get_opt(&owner.name)
                .await
                .ok()??;
            let replicas = s.spec.and_then(|s| s.replicas).unwrap_or(1);
            Some((s.metadata.uid.unwrap_or_default(), replicas))
        }
        ("v1", "ReplicationController") => {
            let rc = Api::<ReplicationController>::namespaced(client.clone(), namespace)
                .get_opt(&owner.name)
                .await
                .ok()??;
            let replicas = rc.spec.and_then(|s| s.replicas).unwrap_or(1);
            Some((rc.metadata.uid.unwrap_or_default(), replicas))
        }
        _ => None,
    }
}
