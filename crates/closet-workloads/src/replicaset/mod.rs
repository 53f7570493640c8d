//! The ReplicaSet controller: keeps `spec.replicas` pods from the template running.
//!
//! Each reconcile claims the pods in the namespace (adopting matching orphans, releasing
//! pods that stopped matching), creates or deletes pods to reach the wanted count unless
//! earlier writes are still on their way to the cache ([`Expectations`]), and writes the
//! status. Events go out as `replicaset-controller`.

pub mod rank;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use closet_events::Recorder;
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use serde_json::json;

use crate::shared::expectations::Expectations;
use crate::shared::informer;
use crate::shared::{ownership, pod};

/// Upstream's cap on pods created or deleted in one pass.
const BURST: usize = 500;

/// Why a ReplicaSet reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaSetError {
    /// The caches did not fill.
    #[error("caches not ready")]
    CachesNotReady,
    /// Adopting or releasing pods failed.
    #[error("claiming pods of {0}")]
    Claim(String, #[source] kube::Error),
    /// Creating or deleting pods failed.
    #[error("{action} for {rs}")]
    Pods {
        /// What was being done.
        action: String,
        /// The ReplicaSet.
        rs: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// Writing the status failed.
    #[error("updating status of {0}")]
    Status(String, #[source] kube::Error),
}

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    expectations: Expectations,
    recorder: Recorder,
}

/// Runs the ReplicaSet controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (sets, set_events) = informer::informer(
        Api::<ReplicaSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let (pods, pod_events) =
        informer::informer(Api::<Pod>::all(client.clone()), watcher::Config::default());
    let queue = futures::stream::select(
        informer::own(set_events, sets.clone()),
        informer::map_to(pod_events, sets.clone(), |p, sets| {
            informer::owners_of(p, sets, "ReplicaSet", |s: &ReplicaSet| {
                s.spec.as_ref().map(|s| &s.selector)
            })
        }),
    );
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), "replicaset-controller"),
        client,
        pods,
        expectations: Expectations::default(),
    });
    informer::drive(
        "replicaset",
        sets,
        Box::pin(queue),
        reconcile,
        error_policy,
        ctx,
        shutdown,
    )
    .await;
}

/// Brings one ReplicaSet's pods and status in line with its spec.
pub async fn reconcile(rs: Arc<ReplicaSet>, ctx: Arc<Context>) -> Result<Action, ReplicaSetError> {
    if !informer::caches_ready(&[&ctx.pods]).await {
        return Err(ReplicaSetError::CachesNotReady);
    }
    let ns = rs.metadata.namespace.clone().unwrap_or_default();
    let name = rs.metadata.name.clone().unwrap_or_default();
    let key = informer::key(rs.as_ref());
    let spec = rs.spec.clone().unwrap_or_default();
    let deleting = rs.metadata.deletion_timestamp.is_some();
    let candidates: Vec<Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(&ns) && pod::is_active(p))
        .collect();
    let owner = ownership::controller_ref(rs.as_ref());
    let client = ctx.client.clone();
    let owned = ownership::claim(
        |ns| Api::<Pod>::namespaced(client.clone(), ns),
        &owner,
        deleting,
        &spec.selector,
        candidates.clone(),
    )
    .await
    .map_err(|e| ReplicaSetError::Claim(key.clone(), e))?;

    let seen = |n: &str| ctx.pods.get(&ObjectRef::new(n).within(&ns)).is_some();
    let gone = |uid: &str| {
        !candidates
            .iter()
            .any(|p| p.metadata.uid.as_deref() == Some(uid))
    };
    let mut failure = None;
    let mut result = Ok(());
    if !deleting && ctx.expectations.satisfied(&key, seen, gone) {
        let want = usize::try_from(spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
        if let Err((reason, err)) = manage(&rs, &owned, &candidates, want, &ctx).await {
            failure = Some((reason, err.to_string()));
            result = Err(err);
        }
    }
    let now = jiff::Timestamp::now();
    let new_status = status::compute(&rs, &owned, failure, now);
    let old_status = rs.status.clone().unwrap_or_default();
    if status::differs(&old_status, &new_status) {
        let api: Api<ReplicaSet> = Api::namespaced(ctx.client.clone(), &ns);
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": new_status})),
        )
        .await
        .map_err(|e| ReplicaSetError::Status(key.clone(), e))?;
    }
    result?;
    // A pod that is Ready but not yet available for minReadySeconds needs another look then.
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let wake = owned
        .iter()
        .filter_map(|p| pod::until_available(p, min_ready, now))
        .min();
    Ok(match wake {
        Some(d) => Action::requeue(d + Duration::from_millis(100)),
        None => Action::await_change(),
    })
}

/// Creates or deletes pods so `owned` reaches `want`.
async fn manage(
    rs: &ReplicaSet,
    owned: &[Arc<Pod>],
    related: &[Arc<Pod>],
    want: usize,
    ctx: &Context,
) -> Result<(), (&'static str, ReplicaSetError)> {
    let ns = rs.metadata.namespace.clone().unwrap_or_default();
    let name = rs.metadata.name.clone().unwrap_or_default();
    let key = informer::key(rs);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let reference = closet_events::reference(rs);
    if owned.len() < want {
        let Some(template) = rs.spec.as_ref().and_then(|s| s.template.clone()) else {
            return Ok(());
        };
        let missing = (want - owned.len()).min(BURST);
        let pod = pod::from_template(&template, &name, &ns, ownership::controller_ref(rs));
        let (_, err) = pod::slow_start(missing, || async {
            match api.create(&PostParams::default(), &pod).await {
                Ok(created) => {
                    let created_name = created.metadata.name.unwrap_or_default();
                    ctx.expectations.created(&key, &created_name);
                    ctx.recorder
                        .normal(
                            &reference,
                            "SuccessfulCreate",
                            &format!("Created pod: {created_name}"),
                        )
                        .await;
                    Ok(())
                }
                Err(e) => Err(e),
            }
        })
        .await;
        if let Some(source) = err {
            let message = format!("Error creating: {}", crate::shared::error_chain(&source));
            ctx.recorder
                .warning(&reference, "FailedCreate", &message)
                .await;
            return Err((
                "FailedCreate",
                ReplicaSetError::Pods {
                    action: "creating pods".into(),
                    rs: key,
                    source,
                },
            ));
        }
    } else if owned.len() > want {
        let mut victims = owned.to_vec();
        // Siblings: pods of any controller on the same nodes count toward crowding, as
        // upstream ranks by related pods (those of the owning Deployment's ReplicaSets).
        let related: Vec<Arc<Pod>> = related
            .iter()
            .filter(|p| {
                ownership::controller_of(&p.metadata).map(|r| &r.kind)
                    == Some(&"ReplicaSet".to_owned())
            })
            .cloned()
            .collect();
        rank::sort_for_deletion(&mut victims, &related);
        let extra = (owned.len() - want).min(BURST);
        let deletes = victims[..extra].iter().map(|p| {
            let api = api.clone();
            let key = key.clone();
            let reference = reference.clone();
            async move {
                pod::delete_owned(&api, p, &ctx.expectations, &key, &ctx.recorder, &reference).await
            }
        });
        let results = futures::future::join_all(deletes).await;
        if let Some(source) = results.into_iter().find_map(Result::err) {
            return Err((
                "FailedDelete",
                ReplicaSetError::Pods {
                    action: "deleting pods".into(),
                    rs: key,
                    source,
                },
            ));
        }
    }
    Ok(())
}

fn error_policy(rs: Arc<ReplicaSet>, err: &ReplicaSetError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(replicaset = %informer::key(rs.as_ref()), "replicaset: {}", crate::shared::error_chain(err));
    Action::requeue(Duration::from_secs(2))
}
