//! The `default` ServiceAccount of every namespace: created when the namespace appears and
//! again whenever it is deleted, as upstream's serviceaccounts-controller does. Pods that
//! name no account run as `default`, so it must always be there.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::ControllerError;

/// The account every namespace has.
pub const DEFAULT_ACCOUNT: &str = "default";

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let accounts: Api<ServiceAccount> = Api::all(client.clone());
    let ctx = Arc::new(Context { client });
    Controller::new(namespaces, watcher::Config::default())
        // A deleted `default` account wakes its namespace up.
        .watches(
            accounts,
            watcher::Config::default(),
            |sa: ServiceAccount| {
                let ns = sa.metadata.namespace.clone()?;
                (sa.metadata.name.as_deref() == Some(DEFAULT_ACCOUNT)).then(|| ObjectRef::new(&ns))
            },
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "serviceaccount reconcile");
            }
        })
        .await;
}

/// Creates the namespace's `default` account if it is missing.
pub async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    // A terminating namespace refuses new objects; creating there would only fail.
    if ns.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(ctx.client.clone(), &name);
    let existing = accounts
        .get_opt(DEFAULT_ACCOUNT)
        .await
        .map_err(ControllerError::api(format!(
            "reading {name}/{DEFAULT_ACCOUNT}"
        )))?;
    if existing.is_some_and(|sa| sa.metadata.deletion_timestamp.is_none()) {
        return Ok(Action::await_change());
    }
    let account = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT_ACCOUNT.to_owned()),
            namespace: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    match accounts.create(&PostParams::default(), &account).await {
        Ok(_) => tracing::info!(namespace = %name, "created the default service account"),
        // Someone else made it (or the old one is still going away; its deletion event
        // brings this namespace back).
        Err(kube::Error::Api(status)) if status.code == 409 => {}
        // The namespace started terminating in between.
        Err(kube::Error::Api(status)) if status.code == 403 || status.code == 404 => {}
        Err(err) => {
            return Err(ControllerError::api(format!(
                "creating {name}/{DEFAULT_ACCOUNT}"
            ))(err));
        }
    }
    Ok(Action::await_change())
}

/// Failed reconciles are retried after a short pause.
pub fn error_policy(ns: Arc<Namespace>, err: &ControllerError, _ctx: Arc<Context>) -> Action {
    let namespace = ns.metadata.name.as_deref().unwrap_or("");
    tracing::warn!(namespace, error = %crate::error_chain(err), "serviceaccount reconcile failed");
    Action::requeue(Duration::from_secs(5))
}
