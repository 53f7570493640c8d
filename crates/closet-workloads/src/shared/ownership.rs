//! Controller references and adoption, with the semantics of upstream's
//! `ControllerRefManager`: a controller adopts orphans its selector matches, releases
//! children that stop matching, and never touches what another controller owns.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::Resource;
use kube::api::{Api, Patch, PatchParams};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::selector;

/// The owner reference marked `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// A controller reference to `owner` (`controller` and `blockOwnerDeletion` set).
pub fn controller_ref<P>(owner: &P) -> OwnerReference
where
    P: Resource<DynamicType = ()>,
{
    OwnerReference {
        api_version: P::api_version(&()).into_owned(),
        kind: P::kind(&()).into_owned(),
        name: owner.meta().name.clone().unwrap_or_default(),
        uid: owner.meta().uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What the controller should do with one candidate child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Already ours and still matching.
    Keep,
    /// An orphan that matches: take it.
    Adopt,
    /// Ours but no longer matching: let it go.
    Release,
    /// Not ours and not to be taken.
    Ignore,
}

/// Decides what a controller with `owner_uid` and `selector` does with a child. A controller
/// being deleted adopts nothing and releases nothing; children being deleted are not adopted
/// or released either.
pub fn decide(
    owner_uid: &str,
    owner_deleting: bool,
    selector: &LabelSelector,
    child: &ObjectMeta,
) -> Claim {
    let labels = child.labels.clone().unwrap_or_default();
    let matching = !selector::is_empty(selector) && selector::matches(selector, &labels);
    let deleting = child.deletion_timestamp.is_some();
    match controller_of(child) {
        Some(r) if r.uid == owner_uid => {
            if matching {
                Claim::Keep
            } else if owner_deleting || deleting {
                Claim::Ignore
            } else {
                Claim::Release
            }
        }
        Some(_) => Claim::Ignore,
        None if matching && !owner_deleting && !deleting => Claim::Adopt,
        None => Claim::Ignore,
    }
}

/// Claims `candidates` for the owner: returns the children it controls afterwards (kept and
/// adopted ones). Adoption and release are patches guarded by the child's resourceVersion, so
/// a child changed meanwhile is left for the next pass; a child that is gone is skipped.
pub async fn claim<K>(
    api_for: impl Fn(&str) -> Api<K>,
    owner: &OwnerReference,
    owner_deleting: bool,
    selector: &LabelSelector,
    candidates: Vec<std::sync::Arc<K>>,
) -> Result<Vec<std::sync::Arc<K>>, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let mut owned = Vec::new();
    for child in candidates {
        let meta = child.meta();
        let ns = meta.namespace.clone().unwrap_or_default();
        let name = meta.name.clone().unwrap_or_default();
        let refs: Vec<OwnerReference> = meta.owner_references.clone().unwrap_or_default();
        let patch = match decide(&owner.uid, owner_deleting, selector, meta) {
            Claim::Keep => {
                owned.push(child);
                continue;
            }
            Claim::Ignore => continue,
            Claim::Adopt => {
                let mut refs = refs;
                refs.push(owner.clone());
                json!({"metadata": {"resourceVersion": meta.resource_version, "uid": meta.uid, "ownerReferences": refs}})
            }
            Claim::Release => {
                let refs: Vec<_> = refs.into_iter().filter(|r| r.uid != owner.uid).collect();
                json!({"metadata": {"resourceVersion": meta.resource_version, "uid": meta.uid, "ownerReferences": refs}})
            }
        };
        let adopting = patch["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["uid"] == owner.uid.as_str()));
        match api_for(&ns)
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(updated) if adopting => owned.push(std::sync::Arc::new(updated)),
            Ok(_) => {}
            // Changed or gone meanwhile: the next reconcile sees its new state.
            Err(err) if super::is_status(&err, 404) || super::is_status(&err, 409) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(v: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn adopt_keep_release_ignore() {
        let sel: LabelSelector =
            serde_json::from_value(json!({"matchLabels": {"app": "a"}})).unwrap();
        let mine = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u1", "controller": true}]);
        let theirs = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "o", "uid": "u2", "controller": true}]);
        let m = |labels: serde_json::Value, refs: serde_json::Value| {
            meta(json!({"labels": labels, "ownerReferences": refs}))
        };
        assert_eq!(
            decide("u1", false, &sel, &m(json!({"app": "a"}), mine.clone())),
            Claim::Keep
        );
        assert_eq!(
            decide("u1", false, &sel, &m(json!({"app": "a"}), json!([]))),
            Claim::Adopt
        );
        assert_eq!(
            decide("u1", true, &sel, &m(json!({"app": "a"}), json!([]))),
            Claim::Ignore
        );
        assert_eq!(
            decide("u1", false, &sel, &m(json!({"app": "b"}), mine.clone())),
            Claim::Release
        );
        assert_eq!(
            decide("u1", true, &sel, &m(json!({"app": "b"}), mine)),
            Claim::Ignore
        );
        assert_eq!(
            decide("u1", false, &sel, &m(json!({"app": "a"}), theirs)),
            Claim::Ignore
        );
        assert_eq!(
            decide("u1", false, &sel, &m(json!({"app": "b"}), json!([]))),
            Claim::Ignore
        );
    }
}
