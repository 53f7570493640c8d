//! ControllerRevisions: a DaemonSet's template history, which `kubectl rollout history
//! daemonset` lists. Each revision holds the template as the patch upstream stores
//! (`{"spec":{"template":{..., "$patch":"replace"}}}`), is named `<ds>-<hash>` and labelled
//! with the template's labels plus `controller-revision-hash`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::DaemonSetError;
use crate::deployment::util::template_hash;
use crate::shared::ownership;

/// The label naming the revision a pod or revision belongs to.
pub const HASH_LABEL: &str = "controller-revision-hash";

/// The revision data for a DaemonSet's template.
pub fn patch_of(ds: &DaemonSet) -> Value {
    let template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let mut t = serde_json::to_value(template).unwrap_or_default();
    if let Some(map) = t.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({"spec": {"template": t}})
}

/// The current revision's hash, after making sure it exists with the highest revision
/// number, and pruning old ones past `revisionHistoryLimit` that no pod uses (`in_use`).
pub async fn sync(
    client: &kube::Client,
    ds: &DaemonSet,
    in_use: &[String],
) -> Result<String, DaemonSetError> {
    let ns = ds.metadata.namespace.clone().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let mut revisions: Vec<ControllerRevision> = api
        .list(&ListParams::default())
        .await
        .map_err(|e| DaemonSetError::api("listing controller revisions", e))?
        .items
        .into_iter()
        .filter(|r| ownership::controller_of(&r.metadata).is_some_and(|o| o.uid == uid))
        .collect();
    revisions.sort_by_key(|r| r.revision);
    let data = patch_of(ds);
    let max = revisions.last().map_or(0, |r| r.revision);
    let current = revisions
        .iter()
        .find(|r| r.data.as_ref().map(|d| &d.0) == Some(&data))
        .cloned();
    let hash = match current {
        Some(rev) => {
            let name = rev.metadata.name.clone().unwrap_or_default();
            if rev.revision < max {
                api.patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(&json!({"revision": max + 1})),
                )
                .await
                .map_err(|e| DaemonSetError::api(format!("renumbering revision {name}"), e))?;
            }
            rev.metadata
                .labels
                .and_then(|l| l.get(HASH_LABEL).cloned())
                .unwrap_or_default()
        }
        None => {
            let collisions = ds.status.as_ref().and_then(|s| s.collision_count);
            let template = ds
                .spec
                .as_ref()
                .map(|s| s.template.clone())
                .unwrap_or_default();
            let hash = template_hash(&template, collisions);
            let mut labels: BTreeMap<String, String> =
                template.metadata.and_then(|m| m.labels).unwrap_or_default();
            labels.insert(HASH_LABEL.into(), hash.clone());
            let name = format!("{}-{hash}", ds.metadata.name.as_deref().unwrap_or_default());
            let rev = ControllerRevision {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.clone()),
                    labels: Some(labels),
                    annotations: ds.metadata.annotations.clone().map(|mut a| {
                        a.remove("kubectl.kubernetes.io/last-applied-configuration");
                        a.remove("deprecated.daemonset.template.generation");
                        a
                    }),
                    owner_references: Some(vec![ownership::controller_ref(ds)]),
                    ..ObjectMeta::default()
                },
                data: Some(RawExtension(data)),
                revision: max + 1,
            };
            match api.create(&PostParams::default(), &rev).await {
                Ok(_) => {}
                // A revision of this name from another template: count the collision so the
                // next hash differs, and try again.
                Err(e) if crate::shared::is_status(&e, 409) => {
                    let count = collisions.unwrap_or(0) + 1;
                    let dsapi: Api<DaemonSet> = Api::namespaced(client.clone(), &ns);
                    let dsname = ds.metadata.name.clone().unwrap_or_default();
                    dsapi
                        .patch_status(
                            &dsname,
                            &PatchParams::default(),
                            &Patch::Merge(&json!({"status": {"collisionCount": count}})),
                        )
                        .await
                        .map_err(|e| DaemonSetError::api("counting a hash collision", e))?;
                    return Err(DaemonSetError::api(format!("revision {name} exists"), e));
                }
                Err(e) => return Err(DaemonSetError::api(format!("creating revision {name}"), e)),
            }
            hash
        }
    };
    let limit = ds
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    let old: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| {
            let h = r.metadata.labels.as_ref().and_then(|l| l.get(HASH_LABEL));
            h != Some(&hash) && !h.is_some_and(|h| in_use.contains(h))
        })
        .collect();
    let extra = old
        .len()
        .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
    for rev in old.into_iter().take(extra) {
        let name = rev.metadata.name.clone().unwrap_or_default();
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(e) if crate::shared::is_status(&e, 404) => {}
            Err(e) => return Err(DaemonSetError::api(format!("deleting revision {name}"), e)),
        }
    }
    Ok(hash)
}
