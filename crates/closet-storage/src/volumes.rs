//! The volume side of the volume controller: keeps each volume's phase true to its claim,
//! and holds a deleted volume (`kubernetes.io/pv-protection`) while it is bound.
//!
//! A volume without a claim reference is Available; one whose claim is bound to it is
//! Bound; one whose claim is gone (or was replaced by a new claim of the same name) is
//! Released. Released volumes keep their data: with reclaim policy `Retain` until an
//! administrator deletes them, with `Delete` until the agent of their node removes the
//! directory and the object ([`crate::node::reclaim`]).

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde_json::json;

use crate::{PV_PROTECTION, StorageError, util};

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
}

/// Runs the volume controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let claims: Api<PersistentVolumeClaim> = Api::all(client.clone());
    Controller::new(volumes, watcher::Config::default())
        .watches(
            claims,
            watcher::Config::default(),
            |claim: PersistentVolumeClaim| {
                claim
                    .spec
                    .and_then(|s| s.volume_name)
                    .filter(|v| !v.is_empty())
                    .map(|v| ObjectRef::new(&v))
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "volume reconcile");
            }
        })
        .await;
}

/// What a volume's phase should be, given its claim as it is now (`None`: no such claim).
pub fn desired_phase(pv: &PersistentVolume, claim: Option<&PersistentVolumeClaim>) -> &'static str {
    let name = pv.metadata.name.as_deref().unwrap_or_default();
    let Some(reference) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) else {
        return "Available";
    };
    let Some(claim) = claim else {
        return if reference.uid.is_some() {
            "Released"
        } else {
            "Available"
        };
    };
    if reference.uid.is_some() && reference.uid != claim.metadata.uid {
        return "Released";
    }
    let points_here = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()) == Some(name);
    let current = pv.status.as_ref().and_then(|s| s.phase.as_deref());
    match (points_here, current) {
        (true, _) => "Bound",
        // Reserved for the claim, which has not taken it yet.
        (false, Some("Bound")) => "Bound",
        (false, _) => "Available",
    }
}

/// Sets the volume's phase, and releases the finalizer of a deleted volume no longer bound.
pub async fn reconcile(
    pv: Arc<PersistentVolume>,
    ctx: Arc<Context>,
) -> Result<Action, StorageError> {
    let name = pv.metadata.name.clone().unwrap_or_default();
    let api: Api<PersistentVolume> = Api::all(ctx.client.clone());
    let reference = pv.spec.as_ref().and_then(|s| s.claim_ref.clone());
    let claim = match reference
        .as_ref()
        .and_then(|r| Some((r.namespace.clone()?, r.name.clone()?)))
    {
        Some((ns, claim_name)) => {
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
            claims
                .get_opt(&claim_name)
                .await
                .map_err(StorageError::api(format!(
                    "reading claim {ns}/{claim_name}"
                )))?
        }
        None => None,
    };
    let phase = desired_phase(&pv, claim.as_ref());
    let current = pv.status.as_ref().and_then(|s| s.phase.as_deref());
    if current != Some(phase) {
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {"phase": phase}})),
        )
        .await
        .map_err(StorageError::api(format!("setting {name} {phase}")))?;
        tracing::info!(volume = %name, phase, "volume phase");
    }
    if pv.metadata.deletion_timestamp.is_some() && phase != "Bound" {
        util::remove_finalizer(&api, &pv, PV_PROTECTION).await?;
    }
    Ok(Action::await_change())
}

/// Failed reconciles are retried after a short pause.
pub fn error_policy(pv: Arc<PersistentVolume>, err: &StorageError, _ctx: Arc<Context>) -> Action {
    let name = pv.metadata.name.as_deref().unwrap_or_default();
    tracing::warn!(volume = name, error = %crate::error_chain(err), "volume reconcile failed");
    Action::requeue(Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pv(claim_ref: serde_json::Value, phase: &str) -> PersistentVolume {
        serde_json::from_value(json!({
            "metadata": {"name": "pv1"},
            "spec": {"claimRef": claim_ref},
            "status": {"phase": phase},
        }))
        .unwrap()
    }

    fn claim(uid: &str, volume: Option<&str>) -> PersistentVolumeClaim {
        serde_json::from_value(json!({
            "metadata": {"name": "c", "namespace": "n", "uid": uid},
            "spec": {"volumeName": volume},
        }))
        .unwrap()
    }

    #[test]
    fn phases_follow_the_claim() {
        let r = json!({"name": "c", "namespace": "n", "uid": "u1"});
        assert_eq!(
            desired_phase(&pv(json!(null), "Pending"), None),
            "Available"
        );
        assert_eq!(desired_phase(&pv(r.clone(), "Bound"), None), "Released");
        assert_eq!(
            desired_phase(&pv(r.clone(), "Bound"), Some(&claim("u2", Some("pv1")))),
            "Released"
        );
        assert_eq!(
            desired_phase(&pv(r.clone(), "Pending"), Some(&claim("u1", Some("pv1")))),
            "Bound"
        );
        assert_eq!(
            desired_phase(&pv(r.clone(), "Bound"), Some(&claim("u1", None))),
            "Bound"
        );
        assert_eq!(
            desired_phase(&pv(r, "Available"), Some(&claim("u1", None))),
            "Available"
        );
        let unbound_ref = json!({"name": "c", "namespace": "n"});
        assert_eq!(
            desired_phase(&pv(unbound_ref, "Available"), None),
            "Available"
        );
    }
}
