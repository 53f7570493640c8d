//! The DaemonSet controller: one pod on every node the template fits ([`placement`]),
//! replaced by the update strategy when the template changes, with the template history kept
//! as ControllerRevisions ([`history`]).
//!
//! Pods are pinned with required node affinity on `metadata.name` and placed by the
//! scheduler (which must honour `matchFields`), as upstream does. The rolling update
//! ([`update`]) deletes old pods within `maxUnavailable`, or with `maxSurge` starts the new
//! pod beside the old one and deletes the old one once the new is available.

pub mod history;
pub mod placement;
pub mod update;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use closet_events::Recorder;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use serde_json::json;

use crate::shared::expectations::Expectations;
use crate::shared::{informer, ownership, pod, selector};

/// Why a DaemonSet reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum DaemonSetError {
    /// The caches did not fill.
    #[error("caches not ready")]
    CachesNotReady,
    /// A request to the API failed.
    #[error("{action}")]
    Api {
        /// What the controller was doing.
        action: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

impl DaemonSetError {
    fn api(action: impl Into<String>, source: kube::Error) -> Self {
        Self::Api {
            action: action.into(),
            source,
        }
    }
}

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    expectations: Expectations,
    recorder: Recorder,
}

/// Runs the DaemonSet controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (sets, set_events) = informer::informer(
        Api::<DaemonSet>::all(client.clone()),
        watcher::Config::default(),
    );
    let (pods, pod_events) =
        informer::informer(Api::<Pod>::all(client.clone()), watcher::Config::default());
    let (nodes, node_events) =
        informer::informer(Api::<Node>::all(client.clone()), watcher::Config::default());
    let queue = futures::stream::select(
        futures::stream::select(
            informer::own(set_events, sets.clone()),
            informer::map_to(pod_events, sets.clone(), |p, sets| {
                informer::owners_of(p, sets, "DaemonSet", |s: &DaemonSet| {
                    s.spec.as_ref().map(|s| &s.selector)
                })
            }),
        ),
        // Any node change may change where daemon pods belong.
        informer::map_to(
            node_events,
            sets.clone(),
            |_: &Node, sets: &Store<DaemonSet>| {
                sets.state()
                    .iter()
                    .map(|ds| ObjectRef::from_obj(ds.as_ref()))
                    .collect()
            },
        ),
    );
    let ctx = Arc::new(Context {
        recorder: Recorder::new(client.clone(), "daemonset-controller"),
        client,
        pods,
        nodes,
        expectations: Expectations::default(),
    });
    informer::drive(
        "daemonset",
        sets,
        Box::pin(queue),
        reconcile,
        error_policy,
        ctx,
        shutdown,
    )
    .await;
}

fn revision_of(p: &Pod) -> Option<&String> {
    p.metadata.labels.as_ref()?.get(history::HASH_LABEL)
}

/// One node's view: whether the pod belongs there and the DaemonSet's pods on it.
pub struct NodeState {
    /// The node's name.
    pub name: String,
    /// Where the template fits.
    pub fit: placement::Fit,
    /// The DaemonSet's active pods for the node, oldest first.
    pub pods: Vec<Arc<Pod>>,
}

/// Places, replaces and removes one DaemonSet's pods and reports its status.
pub async fn reconcile(ds: Arc<DaemonSet>, ctx: Arc<Context>) -> Result<Action, DaemonSetError> {
    if !informer::caches_ready(&[&ctx.pods, &ctx.nodes]).await {
        return Err(DaemonSetError::CachesNotReady);
    }
    let spec = ds.spec.clone().unwrap_or_default();
    if ds.metadata.deletion_timestamp.is_some() || selector::is_empty(&spec.selector) {
        return Ok(Action::await_change());
    }
    let ns = ds.metadata.namespace.clone().unwrap_or_default();
    let key = informer::key(ds.as_ref());
    let candidates: Vec<Arc<Pod>> = ctx
        .pods
        .state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(&ns))
        .collect();
    let client = ctx.client.clone();
    let owned = ownership::claim(
        |ns| Api::<Pod>::namespaced(client.clone(), ns),
        &ownership::controller_ref(ds.as_ref()),
        false,
        &spec.selector,
        candidates.clone(),
    )
    .await
    .map_err(|e| DaemonSetError::api(format!("claiming pods of {key}"), e))?;
    let in_use: Vec<String> = owned
        .iter()
        .filter_map(|p| revision_of(p).cloned())
        .collect();
    let hash = history::sync(&ctx.client, &ds, &in_use).await?;

    let template_spec = spec.template.spec.clone().unwrap_or_default();
    let mut by_node: BTreeMap<String, Vec<Arc<Pod>>> = BTreeMap::new();
    let mut failed = Vec::new();
    for p in &owned {
        let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
        if phase == Some("Failed") {
            failed.push(p.clone());
            continue;
        }
        if !pod::is_active(p) {
            continue;
        }
        let node = p
            .spec
            .as_ref()
            .and_then(placement::target_node)
            .unwrap_or_default();
        by_node.entry(node).or_default().push(p.clone());
    }
    let mut nodes: Vec<NodeState> = ctx
        .nodes
        .state()
        .iter()
        .map(|n| {
            let name = n.metadata.name.clone().unwrap_or_default();
            let mut pods = by_node.remove(&name).unwrap_or_default();
            pods.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
            NodeState {
                fit: placement::fit(&template_spec, n),
                name,
                pods,
            }
        })
        .collect();
    // Pods for nodes that no longer exist go too.
    let orphaned: Vec<Arc<Pod>> = by_node.into_values().flatten().collect();

    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let now = jiff::Timestamp::now();
    let seen = |n: &str| ctx.pods.get(&ObjectRef::new(n).within(&ns)).is_some();
    let gone = |uid: &str| {
        !candidates
            .iter()
            .any(|p| p.metadata.uid.as_deref() == Some(uid) && pod::is_active(p))
    };
    if ctx.expectations.satisfied(&key, seen, gone) {
        let plan = update::plan(&spec, &mut nodes, &hash, min_ready, now);
        let deletes: Vec<Arc<Pod>> = plan
            .delete
            .into_iter()
            .chain(failed)
            .chain(orphaned)
            .collect();
        apply(&ds, &ctx, &hash, &plan.create, &deletes).await?;
    }
    let status = status(&ds, &nodes, &hash, min_ready, now);
    if ds.status.as_ref() != Some(&status) {
        let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ns);
        api.patch_status(
            ds.metadata.name.as_deref().unwrap_or_default(),
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .map_err(|e| DaemonSetError::api(format!("updating status of {key}"), e))?;
    }
    let wake = owned
        .iter()
        .filter_map(|p| pod::until_available(p, min_ready, now))
        .min();
    Ok(match wake {
        Some(d) => Action::requeue(d + Duration::from_millis(100)),
        None => Action::await_change(),
    })
}

async fn apply(
    ds: &DaemonSet,
    ctx: &Context,
    hash: &str,
    create: &[String],
    delete: &[Arc<Pod>],
) -> Result<(), DaemonSetError> {
    let ns = ds.metadata.namespace.clone().unwrap_or_default();
    let name = ds.metadata.name.clone().unwrap_or_default();
    let key = informer::key(ds);
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let reference = closet_events::reference(ds);
    let template = ds
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    for node in create {
        let mut p = pod::from_template(&template, &name, &ns, ownership::controller_ref(ds));
        p.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(history::HASH_LABEL.into(), hash.to_owned());
        let mut pod_spec = placement::with_default_tolerations(&p.spec.clone().unwrap_or_default());
        placement::pin_to_node(&mut pod_spec, node);
        p.spec = Some(pod_spec);
        match api.create(&PostParams::default(), &p).await {
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
            }
            Err(e) => {
                let message = format!("Error creating: {}", crate::shared::error_chain(&e));
                ctx.recorder
                    .warning(&reference, "FailedCreate", &message)
                    .await;
                return Err(DaemonSetError::api(
                    format!("creating a pod for node {node}"),
                    e,
                ));
            }
        }
    }
    for p in delete {
        pod::delete_owned(&api, p, &ctx.expectations, &key, &ctx.recorder, &reference)
            .await
            .map_err(|e| {
                let name = p.metadata.name.as_deref().unwrap_or_default();
                DaemonSetError::api(format!("deleting pod {name}"), e)
            })?;
    }
    Ok(())
}

/// The status `kubectl rollout status daemonset` reads.
pub fn status(
    ds: &DaemonSet,
    nodes: &[NodeState],
    hash: &str,
    min_ready: i32,
    now: jiff::Timestamp,
) -> DaemonSetStatus {
    let count = |f: &dyn Fn(&NodeState) -> bool| {
        i32::try_from(nodes.iter().filter(|n| f(n)).count()).unwrap_or(i32::MAX)
    };
    let wanted = |n: &NodeState| n.fit.should_run || (n.fit.should_continue && !n.pods.is_empty());
    let desired = count(&|n| wanted(n));
    let first = |n: &NodeState| n.pods.first().cloned();
    let ready = count(&|n| wanted(n) && first(n).is_some_and(|p| pod::is_ready(&p)));
    let available =
        count(&|n| wanted(n) && n.pods.iter().any(|p| pod::is_available(p, min_ready, now)));
    let old = ds.status.clone().unwrap_or_default();
    DaemonSetStatus {
        desired_number_scheduled: desired,
        current_number_scheduled: count(&|n| wanted(n) && !n.pods.is_empty()),
        number_misscheduled: count(&|n| !wanted(n) && !n.pods.is_empty()),
        number_ready: ready,
        number_available: Some(available),
        number_unavailable: Some((desired - available).max(0)),
        updated_number_scheduled: Some(count(&|n| {
            wanted(n)
                && n.pods
                    .iter()
                    .any(|p| revision_of(p).map(String::as_str) == Some(hash))
        })),
        observed_generation: ds.metadata.generation,
        collision_count: old.collision_count,
        conditions: old.conditions,
    }
}

fn error_policy(ds: Arc<DaemonSet>, err: &DaemonSetError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(daemonset = %informer::key(ds.as_ref()), "daemonset: {}", crate::shared::error_chain(err));
    Action::requeue(Duration::from_secs(2))
}
