//! The `kube-root-ca.crt` ConfigMap of every namespace: key `ca.crt` holds the cluster CA
//! certificate (PEM) that the apiserver's serving certificate chains to, so pods can verify
//! the API they talk to. Recreated when deleted and put back when edited, as upstream's
//! root-ca-cert-publisher does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use crate::ControllerError;

/// The ConfigMap's name.
pub const CONFIGMAP: &str = "kube-root-ca.crt";
/// The key holding the certificate.
pub const KEY: &str = "ca.crt";
/// The annotation upstream puts on the ConfigMap to say what it is.
const DESCRIPTION: &str = "kubernetes.io/description";
const DESCRIPTION_TEXT: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
    ca_pem: String,
}

/// Runs the controller until `shutdown` resolves, publishing `ca_pem`; without a
/// certificate there is nothing to publish and it returns at once.
pub async fn run(
    client: kube::Client,
    ca_pem: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let Some(ca_pem) = ca_pem else {
        return;
    };
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let config_maps: Api<ConfigMap> = Api::all(client.clone());
    let ctx = Arc::new(Context { client, ca_pem });
    Controller::new(namespaces, watcher::Config::default())
        .watches(config_maps, watcher::Config::default(), |cm: ConfigMap| {
            let ns = cm.metadata.namespace.clone()?;
            (cm.metadata.name.as_deref() == Some(CONFIGMAP)).then(|| ObjectRef::new(&ns))
        })
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "root-ca reconcile");
            }
        })
        .await;
}

/// The data the ConfigMap must hold.
fn wanted_data(ca_pem: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(KEY.to_owned(), ca_pem.to_owned())])
}

/// Creates the namespace's `kube-root-ca.crt`, or puts its data back.
pub async fn reconcile(ns: Arc<Namespace>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    if ns.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &name);
    let wanted = wanted_data(&ctx.ca_pem);
    let existing = api
        .get_opt(CONFIGMAP)
        .await
        .map_err(ControllerError::api(format!("reading {name}/{CONFIGMAP}")))?;
    let result = match existing {
        None => {
            let cm = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(CONFIGMAP.to_owned()),
                    namespace: Some(name.clone()),
                    annotations: Some(BTreeMap::from([(
                        DESCRIPTION.to_owned(),
                        DESCRIPTION_TEXT.to_owned(),
                    )])),
                    ..Default::default()
                },
                data: Some(wanted),
                ..Default::default()
            };
            api.create(&PostParams::default(), &cm).await.map(|_| ())
        }
        Some(cm) if cm.data.as_ref() == Some(&wanted) && cm.binary_data.is_none() => Ok(()),
        Some(mut cm) => {
            // Only the data is put back; labels and annotations someone added stay.
            cm.data = Some(wanted);
            cm.binary_data = None;
            api.replace(CONFIGMAP, &PostParams::default(), &cm)
                .await
                .map(|_| ())
        }
    };
    match result {
        Ok(()) => {}
        // Raced with another writer or a deletion: the watch brings the namespace back.
        Err(kube::Error::Api(status)) if matches!(status.code, 403 | 404 | 409) => {
            return Ok(Action::requeue(Duration::from_secs(1)));
        }
        Err(err) => {
            return Err(ControllerError::api(format!(
                "publishing {name}/{CONFIGMAP}"
            ))(err));
        }
    }
    Ok(Action::await_change())
}

/// Failed reconciles are retried after a short pause.
pub fn error_policy(ns: Arc<Namespace>, err: &ControllerError, _ctx: Arc<Context>) -> Action {
    let namespace = ns.metadata.name.as_deref().unwrap_or("");
    tracing::warn!(namespace, error = %crate::error_chain(err), "root-ca reconcile failed");
    Action::requeue(Duration::from_secs(5))
}
