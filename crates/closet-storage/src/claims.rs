//! The claim side of the volume controller: binds claims to volumes, provisions local
//! volumes for claims of a closet class, and holds deleted claims until no pod uses them.
//!
//! A claim binds to an existing volume of its class that is Available, large enough and
//! offers its access modes (the smallest such one), or to the volume `spec.volumeName`
//! names. Failing that, a claim of a class whose provisioner is [`crate::PROVISIONER`] gets a
//! new volume on its node: the node the scheduler selected (`volume.kubernetes.io/selected-node`),
//! or for WaitForFirstConsumer claims without it, the node a pod using the claim was bound
//! to; Immediate claims take any node that keeps local volumes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use closet_events::Recorder;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{LocalVolumeSource, ObjectReference};
use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeSpec, Pod, VolumeNodeAffinity,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde_json::json;

use crate::util::{self, claim_class, requested_bytes, volume_class};
use crate::{
    PROVISIONED_BY, PROVISIONER, PVC_PROTECTION, ROOT_ANNOTATION, SELECTED_NODE, StorageError,
};

/// How soon a claim waiting for something outside the watches is looked at again.
const RECHECK: Duration = Duration::from_secs(5);

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
    events: Recorder,
}

/// Runs the claim controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let claims: Api<PersistentVolumeClaim> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let ctx = Arc::new(Context {
        events: Recorder::new(client.clone(), "persistentvolume-controller"),
        client,
    });
    Controller::new(claims, watcher::Config::default())
        .watches(pods, watcher::Config::default(), |pod: Pod| {
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            util::claims_of(&pod)
                .map(|c| ObjectRef::new(c).within(&ns))
                .collect::<Vec<_>>()
        })
        .watches(
            volumes,
            watcher::Config::default(),
            |pv: PersistentVolume| {
                pv.spec.and_then(|s| s.claim_ref).and_then(|r| {
                    Some(ObjectRef::new(r.name.as_deref()?).within(r.namespace.as_deref()?))
                })
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "claim reconcile");
            }
        })
        .await;
}

/// Brings one claim a step closer to Bound, or releases a deleted one.
pub async fn reconcile(
    claim: Arc<PersistentVolumeClaim>,
    ctx: Arc<Context>,
) -> Result<Action, StorageError> {
    let ns = claim.metadata.namespace.clone().unwrap_or_default();
    let name = claim.metadata.name.clone().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let users = users(&ctx.client, &ns, &name).await?;
    if claim.metadata.deletion_timestamp.is_some() {
        let running: Vec<&Pod> = users.iter().filter(|p| !util::terminated(p)).collect();
        if running.is_empty() {
            util::remove_finalizer(&api, &claim, PVC_PROTECTION).await?;
            return Ok(Action::await_change());
        }
        tracing::debug!(claim = %format!("{ns}/{name}"), pods = running.len(), "claim in use");
        return Ok(Action::requeue(RECHECK));
    }
    let volume_name = claim
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .unwrap_or_default();
    let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref());
    if phase == Some("Bound") && !volume_name.is_empty() {
        return Ok(Action::await_change());
    }
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let all = pvs
        .list(&ListParams::default())
        .await
        .map_err(StorageError::api("listing persistentvolumes"))?
        .items;
    let chosen = if volume_name.is_empty() {
        best_match(&claim, &all)
    } else {
        all.into_iter()
            .find(|pv| pv.metadata.name.as_deref() == Some(volume_name.as_str()))
            .filter(|pv| claimable_by(pv, &claim))
    };
    if let Some(pv) = chosen {
        bind(&ctx, &pv, &claim).await?;
        return Ok(Action::await_change());
    }
    if !volume_name.is_empty() {
        return Ok(Action::requeue(RECHECK));
    }
    provision(&ctx, &claim, &users).await
}

/// The pods in `ns` whose volumes name `claim`.
async fn users(client: &kube::Client, ns: &str, claim: &str) -> Result<Vec<Pod>, StorageError> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let all = pods
        .list(&ListParams::default())
        .await
        .map_err(StorageError::api(format!("listing pods in {ns}")))?
        .items;
    Ok(all
        .into_iter()
        .filter(|p| util::claims_of(p).any(|c| c == claim))
        .collect())
}

/// Creates a volume for a claim of a closet class once its node is known, then binds it.
async fn provision(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
    users: &[Pod],
) -> Result<Action, StorageError> {
    let class_name = claim_class(claim);
    if class_name.is_empty() {
        return Ok(Action::await_change());
    }
    let classes: Api<StorageClass> = Api::all(ctx.client.clone());
    let Some(class) = classes
        .get_opt(&class_name)
        .await
        .map_err(StorageError::api(format!(
            "reading storageclass {class_name}"
        )))?
    else {
        return Ok(Action::requeue(RECHECK));
    };
    if class.provisioner != PROVISIONER {
        return Ok(Action::await_change());
    }
    let reference = closet_events::reference(claim);
    let nodes: Api<Node> = Api::all(ctx.client.clone());
    let immediate = class.volume_binding_mode.as_deref() == Some("Immediate");
    let Some(node) = claim_node(claim, users, immediate, &nodes).await? else {
        ctx.events
            .normal(
                &reference,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
            .await;
        return Ok(Action::await_change());
    };
    let Some(root) = nodes
        .get_opt(&node)
        .await
        .map_err(StorageError::api(format!("reading node {node}")))?
        .and_then(|n| n.metadata.annotations?.get(ROOT_ANNOTATION).cloned())
    else {
        tracing::debug!(%node, "node does not say where it keeps volumes yet");
        return Ok(Action::requeue(RECHECK));
    };
    let pv = new_volume(claim, &class, &node, &root);
    let pv_name = pv.metadata.name.clone().unwrap_or_default();
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let created = match pvs.create(&PostParams::default(), &pv).await {
        Ok(created) => {
            ctx.events
                .normal(
                    &reference,
                    "ProvisioningSucceeded",
                    &format!("Successfully provisioned volume {pv_name} on node {node}"),
                )
                .await;
            created
        }
        Err(kube::Error::Api(s)) if s.code == 409 => pvs.get(&pv_name).await.map_err(
            StorageError::api(format!("reading persistentvolume {pv_name}")),
        )?,
        Err(err) => {
            let err = StorageError::api(format!("creating persistentvolume {pv_name}"))(err);
            ctx.events
                .warning(&reference, "ProvisioningFailed", &crate::error_chain(&err))
                .await;
            return Err(err);
        }
    };
    bind(ctx, &created, claim).await?;
    Ok(Action::await_change())
}

/// The node a new volume for `claim` goes to, if known yet.
async fn claim_node(
    claim: &PersistentVolumeClaim,
    users: &[Pod],
    immediate: bool,
    nodes: &Api<Node>,
) -> Result<Option<String>, StorageError> {
    let selected = claim
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SELECTED_NODE))
        .filter(|n| !n.is_empty());
    if let Some(node) = selected {
        return Ok(Some(node.clone()));
    }
    // Without a scheduler that selects nodes for claims, the node of the first pod bound
    // with this claim decides: that pod is waiting for the volume there.
    let bound = users
        .iter()
        .filter(|p| !util::terminated(p))
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .find(|n| !n.is_empty());
    if bound.is_some() || !immediate {
        return Ok(bound);
    }
    let all = nodes
        .list(&ListParams::default())
        .await
        .map_err(StorageError::api("listing nodes"))?
        .items;
    Ok(all
        .into_iter()
        .filter(|n| {
            n.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key(ROOT_ANNOTATION))
        })
        .find_map(|n| n.metadata.name))
}

/// The directory of a claim's volume under a node's storage root.
pub fn volume_path(root: &str, claim: &PersistentVolumeClaim) -> String {
    format!(
        "{}/pvc-{}_{}_{}",
        root.trim_end_matches('/'),
        claim.metadata.uid.as_deref().unwrap_or_default(),
        claim.metadata.namespace.as_deref().unwrap_or_default(),
        claim.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The volume provisioned for `claim` on `node`, already pointing at the claim.
pub fn new_volume(
    claim: &PersistentVolumeClaim,
    class: &StorageClass,
    node: &str,
    root: &str,
) -> PersistentVolume {
    let spec = claim.spec.clone().unwrap_or_default();
    let request = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .cloned();
    let capacity = request.map(|q| BTreeMap::from([("storage".to_owned(), q)]));
    let uid = claim.metadata.uid.clone().unwrap_or_default();
    PersistentVolume {
        metadata: ObjectMeta {
            name: Some(format!("pvc-{uid}")),
            annotations: Some(BTreeMap::from([(
                PROVISIONED_BY.to_owned(),
                PROVISIONER.to_owned(),
            )])),
            ..Default::default()
        },
        spec: Some(PersistentVolumeSpec {
            access_modes: spec.access_modes.clone(),
            capacity,
            claim_ref: Some(claim_ref(claim)),
            local: Some(LocalVolumeSource {
                path: volume_path(root, claim),
                fs_type: None,
            }),
            node_affinity: Some(VolumeNodeAffinity {
                required: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "kubernetes.io/hostname".to_owned(),
                            operator: "In".to_owned(),
                            values: Some(vec![node.to_owned()]),
                        }]),
                        match_fields: None,
                    }],
                }),
            }),
            persistent_volume_reclaim_policy: Some(
                class
                    .reclaim_policy
                    .clone()
                    .unwrap_or_else(|| "Delete".to_owned()),
            ),
            storage_class_name: class.metadata.name.clone(),
            volume_mode: spec
                .volume_mode
                .clone()
                .or_else(|| Some("Filesystem".to_owned())),
            mount_options: class.mount_options.clone(),
            ..Default::default()
        }),
        status: None,
    }
}

fn claim_ref(claim: &PersistentVolumeClaim) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".to_owned()),
        kind: Some("PersistentVolumeClaim".to_owned()),
        namespace: claim.metadata.namespace.clone(),
        name: claim.metadata.name.clone(),
        uid: claim.metadata.uid.clone(),
        resource_version: claim.metadata.resource_version.clone(),
        field_path: None,
    }
}

/// Whether `pv` may be bound to `claim`: not deleting, and free or already reserved for it.
fn claimable_by(pv: &PersistentVolume, claim: &PersistentVolumeClaim) -> bool {
    if pv.metadata.deletion_timestamp.is_some() {
        return false;
    }
    match pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) {
        None => pv.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Released"),
        Some(r) => {
            r.name == claim.metadata.name
                && r.namespace == claim.metadata.namespace
                && r.uid
                    .as_ref()
                    .is_none_or(|u| Some(u) == claim.metadata.uid.as_ref())
        }
    }
}

/// The smallest volume `claim` may bind to: reserved for it, or free, of its class, large
/// enough, and offering every access mode it asks for.
pub fn best_match(
    claim: &PersistentVolumeClaim,
    pvs: &[PersistentVolume],
) -> Option<PersistentVolume> {
    let class = claim_class(claim);
    let want = requested_bytes(claim);
    let modes = claim
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.clone())
        .unwrap_or_default();
    let reserved = pvs.iter().find(|pv| {
        pv.spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .is_some()
            && claimable_by(pv, claim)
    });
    if let Some(pv) = reserved {
        return Some(pv.clone());
    }
    pvs.iter()
        .filter(|pv| claimable_by(pv, claim))
        .filter(|pv| volume_class(pv) == class)
        .filter(|pv| {
            let offered = pv
                .spec
                .as_ref()
                .and_then(|s| s.access_modes.clone())
                .unwrap_or_default();
            modes.iter().all(|m| offered.contains(m))
        })
        .map(|pv| (capacity(pv), pv))
        .filter(|(size, _)| *size >= want)
        .min_by_key(|(size, _)| *size)
        .map(|(_, pv)| pv.clone())
}

fn capacity(pv: &PersistentVolume) -> u128 {
    pv.spec
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"))
        .map_or(0, util::bytes)
}

/// Points `pv` at `claim` and `claim` at `pv`, then marks both Bound. Each step is
/// guarded by the object's resourceVersion, so two claims never take one volume.
async fn bind(
    ctx: &Context,
    pv: &PersistentVolume,
    claim: &PersistentVolumeClaim,
) -> Result<(), StorageError> {
    let pv_name = pv.metadata.name.clone().unwrap_or_default();
    let ns = claim.metadata.namespace.clone().unwrap_or_default();
    let name = claim.metadata.name.clone().unwrap_or_default();
    let pvs: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let has_ref = pv
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_some();
    if !has_ref {
        let patch = json!({
            "metadata": {
                "resourceVersion": pv.metadata.resource_version,
                "annotations": {"pv.kubernetes.io/bound-by-controller": "yes"},
            },
            "spec": {"claimRef": claim_ref(claim)},
        });
        pvs.patch(&pv_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(StorageError::api(format!(
                "reserving {pv_name} for {ns}/{name}"
            )))?;
    }
    pvs.patch_status(
        &pv_name,
        &PatchParams::default(),
        &Patch::Merge(&json!({"status": {"phase": "Bound"}})),
    )
    .await
    .map_err(StorageError::api(format!("marking {pv_name} bound")))?;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    let patch = json!({
        "metadata": {
            "resourceVersion": claim.metadata.resource_version,
            "annotations": {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
            },
        },
        "spec": {"volumeName": pv_name},
    });
    claims
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(StorageError::api(format!(
            "binding {ns}/{name} to {pv_name}"
        )))?;
    let spec = pv.spec.clone().unwrap_or_default();
    let status = json!({"status": {
        "phase": "Bound",
        "accessModes": spec.access_modes,
        "capacity": spec.capacity,
    }});
    claims
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .map_err(StorageError::api(format!("marking {ns}/{name} bound")))?;
    tracing::info!(claim = %format!("{ns}/{name}"), volume = %pv_name, "bound");
    Ok(())
}

/// Failed reconciles are retried after a short pause.
pub fn error_policy(
    claim: Arc<PersistentVolumeClaim>,
    err: &StorageError,
    _ctx: Arc<Context>,
) -> Action {
    let name = claim.metadata.name.as_deref().unwrap_or_default();
    tracing::warn!(claim = name, error = %crate::error_chain(err), "claim reconcile failed");
    Action::requeue(Duration::from_secs(2))
}

#[cfg(test)]
mod tests;
