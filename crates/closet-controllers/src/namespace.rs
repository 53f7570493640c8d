//! Namespace lifecycle: a deleted namespace empties itself, then goes away.
//!
//! Deleting a namespace marks it Terminating and leaves the `kubernetes` finalizer in
//! `spec.finalizers`. This controller deletes every namespaced object in it, and once
//! nothing is left, removes the finalizer through the `finalize` subresource; the apiserver
//! then removes the namespace. Objects held by their own finalizers keep the namespace
//! Terminating until they go, as upstream.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::discovery::{Discovery, Scope, verbs};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;

use crate::ControllerError;

/// The finalizer this controller owns.
pub const FINALIZER: &str = "kubernetes";

/// How soon a namespace that still has content is looked at again.
const RECHECK: Duration = Duration::from_secs(2);

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
    let ctx = Arc::new(Context { client });
    Controller::new(namespaces, watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "namespace reconcile");
            }
        })
        .await;
}

/// Empties a terminating namespace, then releases it.
pub async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    let holds = ns
        .spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|f| f == FINALIZER));
    if ns.metadata.deletion_timestamp.is_none() || !holds {
        return Ok(Action::await_change());
    }
    let remaining = delete_contents(&ctx.client, &name).await?;
    if remaining > 0 {
        tracing::debug!(namespace = %name, remaining, "waiting for the namespace to empty");
        return Ok(Action::requeue(RECHECK));
    }
    let mut released = (*ns).clone();
    if let Some(spec) = released.spec.as_mut() {
        spec.finalizers = Some(
            spec.finalizers
                .take()
                .unwrap_or_default()
                .into_iter()
                .filter(|f| f != FINALIZER)
                .collect(),
        );
    }
    let api: Api<Namespace> = Api::all(ctx.client.clone());
    match api
        .replace_subresource("finalize", &name, &PostParams::default(), &released)
        .await
    {
        Ok(_) => tracing::info!(namespace = %name, "namespace emptied and removed"),
        // Already gone: the goal is reached.
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(err) => return Err(ControllerError::api(format!("finalizing namespace {name}"))(err)),
    }
    Ok(Action::await_change())
}

/// Deletes every namespaced object in `namespace`; returns how many are still there
/// (objects being deleted gracefully or held by finalizers).
async fn delete_contents(client: &kube::Client, namespace: &str) -> Result<usize, ControllerError> {
    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .map_err(ControllerError::api("discovering resources"))?;
    let mut remaining = 0;
    for group in discovery.groups() {
        for (resource, caps) in group.recommended_resources() {
            if caps.scope != Scope::Namespaced
                || !caps.supports_operation(verbs::DELETE_COLLECTION)
                || !caps.supports_operation(verbs::LIST)
            {
                continue;
            }
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), namespace, &resource);
            api.delete_collection(&DeleteParams::background(), &ListParams::default())
                .await
                .map_err(ControllerError::api(format!(
                    "deleting {} in {namespace}",
                    resource.plural
                )))?;
            let left = api
                .list_metadata(&ListParams::default().limit(1))
                .await
                .map_err(ControllerError::api(format!(
                    "listing {} in {namespace}",
                    resource.plural
                )))?;
            remaining += left.items.len();
        }
    }
    Ok(remaining)
}

/// Failed reconciles are retried after a short pause; the API being briefly unavailable is
/// the usual cause.
pub fn error_policy(ns: Arc<Namespace>, err: &ControllerError, _ctx: Arc<Context>) -> Action {
    let namespace = ns.metadata.name.as_deref().unwrap_or("");
    tracing::warn!(namespace, error = %crate::error_chain(err), "namespace reconcile failed");
    Action::requeue(Duration::from_secs(5))
}
