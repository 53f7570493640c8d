//! The garbage collector's reads and writes: confirming that owners are gone, deleting
//! dependents and editing owner references and finalizers. Every write is conditional (a UID
//! precondition or the resourceVersion seen), so a stale view can only cause a conflict,
//! which the next pass resolves from fresh data.

use kube::api::{
    Api, DeleteParams, DynamicObject, PartialObjectMeta, Patch, PatchParams, Preconditions,
    PropagationPolicy,
};
use serde_json::json;

use super::Kind;
use super::graph::{Action, Node, Policy, Unverified};

/// The kind an owner reference names: the exact version if watched, else the same group.
fn kind_of<'a>(kinds: &'a [Kind], api_version: &str, kind: &str) -> Option<&'a Kind> {
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    kinds
        .iter()
        .find(|k| k.resource.api_version == api_version && k.resource.kind == kind)
        .or_else(|| {
            kinds
                .iter()
                .find(|k| k.resource.group == group && k.resource.kind == kind)
        })
}

fn api(client: &kube::Client, k: &Kind, namespace: Option<&str>) -> Option<Api<DynamicObject>> {
    match (k.namespaced, namespace) {
        (true, Some(ns)) => Some(Api::namespaced_with(client.clone(), ns, &k.resource)),
        (true, None) => None,
        (false, _) => Some(Api::all_with(client.clone(), &k.resource)),
    }
}

/// Looks the owners up; returns the UIDs of those that no longer exist. An owner whose kind
/// is unknown, or whose lookup fails, stays undecided.
pub(super) async fn confirm_gone(
    client: &kube::Client,
    kinds: &[Kind],
    owners: &[Unverified],
) -> Vec<String> {
    let mut gone = Vec::new();
    for u in owners {
        let Some(k) = kind_of(kinds, &u.owner.api_version, &u.owner.kind) else {
            tracing::debug!(kind = %u.owner.kind, "garbage collector: owner kind unknown");
            continue;
        };
        // A namespaced owner of a cluster-scoped dependent is invalid: left undecided.
        let api: Api<PartialObjectMeta<DynamicObject>> = match (k.namespaced, &u.namespace) {
            (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &k.resource),
            (true, None) => continue,
            (false, _) => Api::all_with(client.clone(), &k.resource),
        };
        match api.get_opt(&u.owner.name).await {
            Ok(None) => gone.push(u.owner.uid.clone()),
            Ok(Some(found)) if found.metadata.uid.as_deref() != Some(&u.owner.uid) => {
                gone.push(u.owner.uid.clone());
            }
            Ok(Some(_)) => {}
            Err(err) => tracing::debug!(error = %err, "garbage collector: owner lookup failed"),
        }
    }
    gone
}

/// Makes one write; failures are logged and left to the next pass.
pub(super) async fn execute(client: &kube::Client, kinds: &[Kind], action: Action) {
    let node = match &action {
        Action::Delete(n, _) | Action::RemoveOwners(n, _) | Action::RemoveFinalizer(n, _) => n,
    };
    let Some(k) = kinds.get(node.kind) else {
        return;
    };
    let Some(api) = api(client, k, node.namespace.as_deref()) else {
        return;
    };
    let result = match &action {
        Action::Delete(n, policy) => delete(&api, n, *policy).await,
        Action::RemoveOwners(n, uids) => {
            let owners: Vec<_> = n.owners.iter().filter(|r| !uids.contains(&r.uid)).collect();
            let owners = if owners.is_empty() {
                json!(null)
            } else {
                json!(owners)
            };
            patch(&api, n, json!({"ownerReferences": owners})).await
        }
        Action::RemoveFinalizer(n, f) => {
            let rest: Vec<_> = n.finalizers.iter().filter(|x| x != f).collect();
            patch(&api, n, json!({"finalizers": rest})).await
        }
    };
    match result {
        Ok(()) => tracing::debug!(?action, "garbage collector"),
        // Gone already, or changed since seen: the next pass looks again.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
        Err(err) => tracing::warn!(
            object = %node.name,
            error = %crate::error_chain(&err),
            "garbage collector: write failed"
        ),
    }
}

async fn delete(api: &Api<DynamicObject>, n: &Node, policy: Policy) -> kube::Result<()> {
    let params = DeleteParams {
        propagation_policy: Some(match policy {
            Policy::Background => PropagationPolicy::Background,
            Policy::Foreground => PropagationPolicy::Foreground,
            Policy::Orphan => PropagationPolicy::Orphan,
        }),
        preconditions: Some(Preconditions {
            uid: Some(n.uid.clone()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    api.delete(&n.name, &params).await.map(|_| ())
}

async fn patch(api: &Api<DynamicObject>, n: &Node, meta: serde_json::Value) -> kube::Result<()> {
    let mut body = json!({"metadata": meta});
    // The resourceVersion seen makes the patch conditional on nothing having changed since.
    body["metadata"]["resourceVersion"] = json!(n.resource_version);
    api.patch(&n.name, &PatchParams::default(), &Patch::Merge(&body))
        .await
        .map(|_| ())
}
