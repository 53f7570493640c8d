//! Removes the Endpoints and EndpointSlices this controller wrote once their Service is gone
//! or has lost its selector. (Slices also carry an owner reference for the garbage
//! collector; this does not wait for it.)

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use super::objects;
use crate::ControllerError;

/// Runs both cleanups until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let services = || Api::<Service>::all(client.clone());
    let eps = Controller::new(
        Api::<Endpoints>::all(client.clone()),
        watcher::Config::default().labels(&format!(
            "{}={}",
            objects::ENDPOINTS_MANAGED_BY_LABEL,
            objects::ENDPOINTS_MANAGER
        )),
    )
    .watches(services(), watcher::Config::default(), |s: Service| {
        let ns = s.metadata.namespace.unwrap_or_default();
        s.metadata
            .name
            .map(|n| ObjectRef::<Endpoints>::new(&n).within(&ns))
    })
    .graceful_shutdown_on(shutdown.clone())
    .run(endpoints, error_policy, Arc::new(client.clone()))
    .for_each(|_| async {});
    let slices = Controller::new(
        Api::<EndpointSlice>::all(client.clone()),
        watcher::Config::default().labels(&format!(
            "{}={}",
            objects::SLICE_MANAGED_BY_LABEL,
            objects::SLICE_MANAGER
        )),
    );
    let store = slices.store();
    let slices = slices
        .watches(services(), watcher::Config::default(), move |s: Service| {
            let namespace = s.metadata.namespace.clone();
            let name = s.metadata.name.clone();
            store
                .state()
                .into_iter()
                .filter(move |slice| {
                    slice.metadata.namespace == namespace
                        && slice
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(objects::SERVICE_NAME_LABEL))
                            == name.as_ref()
                })
                .map(|slice| ObjectRef::from_obj(&*slice))
        })
        .graceful_shutdown_on(shutdown)
        .run(slice, error_policy, Arc::new(client.clone()))
        .for_each(|_| async {});
    tokio::join!(eps, slices);
}

fn error_policy<K>(_: Arc<K>, err: &ControllerError, _: Arc<kube::Client>) -> Action {
    tracing::debug!(error = %crate::error_chain(err), "endpoints cleanup");
    Action::requeue(Duration::from_secs(5))
}

/// Whether `namespace/name` is a Service with a selector.
async fn selects(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<bool, ControllerError> {
    let svc = Api::<Service>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(ControllerError::api(format!(
            "reading service {namespace}/{name}"
        )))?;
    Ok(svc
        .and_then(|s| s.spec)
        .and_then(|s| s.selector)
        .is_some_and(|s| !s.is_empty()))
}

async fn endpoints(
    ep: Arc<Endpoints>,
    client: Arc<kube::Client>,
) -> Result<Action, ControllerError> {
    let namespace = ep.metadata.namespace.clone().unwrap_or_default();
    let name = ep.metadata.name.clone().unwrap_or_default();
    if !selects(&client, &namespace, &name).await? {
        delete(
            Api::<Endpoints>::namespaced((*client).clone(), &namespace),
            &name,
        )
        .await?;
    }
    Ok(Action::await_change())
}

async fn slice(
    s: Arc<EndpointSlice>,
    client: Arc<kube::Client>,
) -> Result<Action, ControllerError> {
    let namespace = s.metadata.namespace.clone().unwrap_or_default();
    let name = s.metadata.name.clone().unwrap_or_default();
    let service = s
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(objects::SERVICE_NAME_LABEL))
        .cloned()
        .unwrap_or_default();
    if !selects(&client, &namespace, &service).await? {
        delete(
            Api::<EndpointSlice>::namespaced((*client).clone(), &namespace),
            &name,
        )
        .await?;
        return Ok(Action::await_change());
    }
    Ok(Action::await_change())
}

async fn delete<K>(api: Api<K>, name: &str) -> Result<(), ControllerError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(err) => Err(ControllerError::api(format!("deleting {name}"))(err)),
    }
}
