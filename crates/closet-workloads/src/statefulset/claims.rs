//! The claims of a StatefulSet's pods: created from the claim templates before the pod,
//! never deleted by the controller itself. `persistentVolumeClaimRetentionPolicy` works
//! through owner references, as upstream: `whenDeleted: Delete` makes the set an owner of
//! each claim and `whenScaled: Delete` makes a condemned pod the owner of its claims, so
//! the garbage collector removes the claims with their owner.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use super::identity::{claims_for, set_name};
use super::{Context, StatefulSetError};

/// `whenDeleted` and `whenScaled`: whether each is `Delete`.
fn retention(set: &StatefulSet) -> (bool, bool) {
    let policy = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let delete = |v: Option<&String>| v.is_some_and(|v| v == "Delete");
    (
        delete(policy.and_then(|p| p.when_deleted.as_ref())),
        delete(policy.and_then(|p| p.when_scaled.as_ref())),
    )
}

fn reference(api_version: &str, kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        uid: uid.to_owned(),
        controller: None,
        block_owner_deletion: Some(true),
    }
}

/// The owner references a claim should have: its foreign owners, plus the set and the
/// condemned pod as the retention policy asks.
pub fn desired_owners(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    condemned_pod: Option<&Pod>,
) -> Vec<OwnerReference> {
    let (when_deleted, when_scaled) = retention(set);
    let set_uid = set.metadata.uid.clone().unwrap_or_default();
    let mut owners: Vec<OwnerReference> = claim
        .metadata
        .owner_references
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o.uid != set_uid && !(o.kind == "Pod" && o.name.starts_with(set_name(set))))
        .collect();
    if when_deleted {
        owners.push(reference("apps/v1", "StatefulSet", set_name(set), &set_uid));
    }
    if let Some(pod) = condemned_pod.filter(|_| when_scaled) {
        owners.push(reference(
            "v1",
            "Pod",
            pod.metadata.name.as_deref().unwrap_or_default(),
            pod.metadata.uid.as_deref().unwrap_or_default(),
        ));
    }
    owners
}

/// Creates the missing claims of the pod at `ordinal` and fixes the owners of existing ones.
/// Returns the name of a claim being deleted, which the pod must wait for.
pub async fn ensure(
    ctx: &Context,
    set: &StatefulSet,
    ordinal: i32,
    condemned_pod: Option<&Pod>,
) -> Result<Option<String>, StatefulSetError> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    for mut claim in claims_for(set, ordinal) {
        let name = claim.metadata.name.clone().unwrap_or_default();
        let existing = api
            .get_opt(&name)
            .await
            .map_err(StatefulSetError::api(format!("reading claim {ns}/{name}")))?;
        match existing {
            Some(found) if found.metadata.deletion_timestamp.is_some() => return Ok(Some(name)),
            Some(found) => {
                let owners = desired_owners(&found, set, condemned_pod);
                if found.metadata.owner_references.clone().unwrap_or_default() != owners {
                    let patch = json!({"metadata": {
                        "ownerReferences": owners,
                        "resourceVersion": found.metadata.resource_version,
                    }});
                    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await
                        .map_err(StatefulSetError::api(format!(
                            "updating owners of {ns}/{name}"
                        )))?;
                }
            }
            None if condemned_pod.is_some() => {}
            None => {
                let owners = desired_owners(&claim, set, None);
                claim.metadata.owner_references = (!owners.is_empty()).then_some(owners);
                match api.create(&PostParams::default(), &claim).await {
                    Ok(_) => {
                        let pod = super::identity::pod_name(set, ordinal);
                        let message = format!(
                            "create Claim {name} Pod {pod} in StatefulSet {} success",
                            set_name(set)
                        );
                        ctx.events
                            .normal(&closet_events::reference(set), "SuccessfulCreate", &message)
                            .await;
                    }
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(err) => {
                        let err = StatefulSetError::api(format!("creating claim {ns}/{name}"))(err);
                        let message = format!(
                            "create Claim {name} for StatefulSet {} failed: {}",
                            set_name(set),
                            crate::statefulset::error_chain(&err)
                        );
                        ctx.events
                            .warning(&closet_events::reference(set), "FailedCreate", &message)
                            .await;
                        return Err(err);
                    }
                }
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(when_deleted: &str, when_scaled: &str) -> StatefulSet {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "n", "uid": "set-uid"},
            "spec": {"selector": {}, "template": {},
                     "persistentVolumeClaimRetentionPolicy":
                        {"whenDeleted": when_deleted, "whenScaled": when_scaled}},
        }))
        .unwrap()
    }

    #[test]
    fn retention_policies_become_owner_references() {
        let claim: PersistentVolumeClaim = serde_json::from_value(json!({
            "metadata": {"name": "www-web-1", "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "keep", "uid": "k"}]}
        }))
        .unwrap();
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": "web-1", "uid": "p"}})).unwrap();
        let uids = |o: Vec<OwnerReference>| o.into_iter().map(|o| o.uid).collect::<Vec<_>>();
        assert_eq!(
            uids(desired_owners(&claim, &set("Retain", "Retain"), Some(&pod))),
            ["k"]
        );
        assert_eq!(
            uids(desired_owners(&claim, &set("Delete", "Retain"), Some(&pod))),
            ["k", "set-uid"]
        );
        assert_eq!(
            uids(desired_owners(&claim, &set("Retain", "Delete"), Some(&pod))),
            ["k", "p"]
        );
        assert_eq!(
            uids(desired_owners(&claim, &set("Retain", "Delete"), None)),
            ["k"]
        );
    }
}
