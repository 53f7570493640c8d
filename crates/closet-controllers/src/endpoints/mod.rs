//! Endpoints and EndpointSlices from Services and their pods.
//!
//! One reconcile per Service with a selector writes both views of its pods: the core/v1
//! Endpoints (ready pods in `addresses`, the others in `notReadyAddresses`, terminating pods
//! left out unless `publishNotReadyAddresses`) and the discovery.k8s.io/v1 EndpointSlices
//! (every pod with an IP, terminating ones too, with ready/serving/terminating conditions;
//! at most 100 per slice; owned by the Service). Services without a selector are left to
//! whoever manages their endpoints. Any pod change in a namespace requeues that namespace's
//! Services, so a pod whose labels change away is dropped too. [`cleanup`] removes the
//! objects of deleted Services.

pub mod build;
pub mod cleanup;
pub mod objects;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::ControllerError;

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
}

/// Runs the endpoints controllers (and their cleanup) until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let signal = async move {
        shutdown.await;
        let _ = tx.send(true);
    };
    tokio::join!(
        signal,
        services(client.clone(), stopped()),
        cleanup::run(client, stopped()),
    );
}

async fn services(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let services: Api<Service> = Api::all(client.clone());
    let controller = Controller::new(services, watcher::Config::default());
    let store = controller.store();
    let by_name = |name: Option<String>, namespace: Option<String>| {
        name.map(|n| ObjectRef::<Service>::new(&n).within(namespace.as_deref().unwrap_or("")))
    };
    controller
        .watches(
            Api::<Pod>::all(client.clone()),
            watcher::Config::default(),
            move |pod: Pod| {
                let namespace = pod.metadata.namespace.clone();
                store
                    .state()
                    .into_iter()
                    .filter(move |s| s.metadata.namespace == namespace)
                    .map(|s| ObjectRef::from_obj(&*s))
            },
        )
        .watches(
            Api::<Endpoints>::all(client.clone()),
            watcher::Config::default(),
            move |ep: Endpoints| by_name(ep.metadata.name, ep.metadata.namespace),
        )
        .owns(
            Api::<EndpointSlice>::all(client.clone()),
            watcher::Config::default(),
        )
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %crate::error_chain(&err), "endpoints reconcile");
            }
        })
        .await;
}

/// Retries soon: conflicts with other writers are expected.
pub fn error_policy(svc: Arc<Service>, err: &ControllerError, _: Arc<Context>) -> Action {
    tracing::warn!(
        service = %svc.metadata.name.as_deref().unwrap_or_default(),
        error = %crate::error_chain(err),
        "endpoints"
    );
    Action::requeue(Duration::from_secs(1))
}

/// Writes one Service's Endpoints and EndpointSlices.
pub async fn reconcile(svc: Arc<Service>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    let Some(selector) = svc
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .filter(|s| !s.is_empty())
    else {
        return Ok(Action::await_change());
    };
    if svc.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = svc.metadata.namespace.clone().unwrap_or_default();
    let name = svc.metadata.name.clone().unwrap_or_default();
    let pods: Vec<Pod> = Api::<Pod>::namespaced(ctx.client.clone(), &namespace)
        .list(&ListParams::default())
        .await
        .map_err(ControllerError::api(format!(
            "listing pods for service {namespace}/{name}"
        )))?
        .items
        .into_iter()
        .filter(|p| {
            crate::selector::matches_map(
                &selector,
                p.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()),
            )
        })
        .collect();
    let desired = objects::endpoints(&svc, &build::members(&svc, &pods, false));
    write_endpoints(&ctx.client, &namespace, &name, desired).await?;
    let slices = objects::slices(&svc, &build::members(&svc, &pods, true));
    write_slices(&ctx.client, &namespace, &name, slices).await?;
    Ok(Action::requeue(Duration::from_secs(300)))
}

async fn write_endpoints(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    mut desired: Endpoints,
) -> Result<(), ControllerError> {
    let api: Api<Endpoints> = Api::namespaced(client.clone(), namespace);
    let what = || format!("writing endpoints {namespace}/{name}");
    match api
        .get_opt(name)
        .await
        .map_err(ControllerError::api(what()))?
    {
        None => {
            api.create(&PostParams::default(), &desired)
                .await
                .map_err(ControllerError::api(what()))?;
        }
        Some(current) => {
            if current.subsets == desired.subsets
                && current.metadata.labels == desired.metadata.labels
            {
                return Ok(());
            }
            desired.metadata.resource_version = current.metadata.resource_version;
            desired.metadata.annotations = current.metadata.annotations;
            api.replace(name, &PostParams::default(), &desired)
                .await
                .map_err(ControllerError::api(what()))?;
        }
    }
    Ok(())
}

async fn write_slices(
    client: &kube::Client,
    namespace: &str,
    service: &str,
    desired: Vec<EndpointSlice>,
) -> Result<(), ControllerError> {
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), namespace);
    let what = || format!("writing endpoint slices of {namespace}/{service}");
    let selector = format!(
        "{}={service},{}={}",
        objects::SERVICE_NAME_LABEL,
        objects::SLICE_MANAGED_BY_LABEL,
        objects::SLICE_MANAGER
    );
    let current = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(ControllerError::api(what()))?
        .items;
    for mut slice in desired.iter().cloned() {
        let slice_name = slice.metadata.name.clone().unwrap_or_default();
        match current
            .iter()
            .find(|c| c.metadata.name == slice.metadata.name)
        {
            None => {
                api.create(&PostParams::default(), &slice)
                    .await
                    .map_err(ControllerError::api(what()))?;
            }
            Some(c) => {
                let same = c.endpoints == slice.endpoints
                    && c.ports == slice.ports
                    && c.address_type == slice.address_type
                    && c.metadata.labels == slice.metadata.labels;
                if same {
                    continue;
                }
                slice.metadata.resource_version = c.metadata.resource_version.clone();
                api.replace(&slice_name, &PostParams::default(), &slice)
                    .await
                    .map_err(ControllerError::api(what()))?;
            }
        }
    }
    for stale in current
        .iter()
        .filter(|c| !desired.iter().any(|d| d.metadata.name == c.metadata.name))
    {
        let stale_name = stale.metadata.name.clone().unwrap_or_default();
        match api.delete(&stale_name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(err) => return Err(ControllerError::api(what())(err)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
