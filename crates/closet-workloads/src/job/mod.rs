//! The Job controller: runs a Job's pods to the wanted number of completions.
//!
//! Each reconcile lists the Job's pods live from the API (so pods it just created are never
//! missed or created twice), counts finished pods through the tracking finalizer
//! ([`track`]), decides what is next ([`decide`]), and writes status before acting on pods.
//! Finished Jobs with `ttlSecondsAfterFinished` are deleted when it expires; their pods go
//! with them through the garbage collector. `podFailurePolicy` and `successPolicy` are not
//! implemented: every failed pod counts against `backoffLimit`.

pub mod decide;
pub mod indexes;
mod orphans;
pub mod pods;
#[cfg(test)]
mod tests;
pub mod track;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;

use pods::{PodView, TRACKING_FINALIZER};

/// Why a Job reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
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

fn api_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> JobError {
    let action = action.into();
    move |source| JobError::Api { action, source }
}

/// Shared by every reconcile.
pub struct Context {
    client: kube::Client,
    recorder: closet_events::Recorder,
}

/// Runs the Job controller until `shutdown` resolves.
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let jobs: Api<Job> = Api::all(client.clone());
    let pods: Api<Pod> = Api::all(client.clone());
    let ctx = Arc::new(Context {
        recorder: closet_events::Recorder::new(client.clone(), "job-controller"),
        client,
    });
    tokio::spawn(orphans::sweep(ctx.client.clone()));
    Controller::new(jobs, watcher::Config::default())
        .owns(pods, watcher::Config::default())
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(job: Arc<Job>, err: &JobError, _: Arc<Context>) -> Action {
    tracing::warn!(job = %job.name_any(), error = %chain(err), "job reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

/// An error and its sources, for log lines.
fn chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// One reconcile of one Job.
#[tracing::instrument(skip_all, fields(job = %job.name_any(), namespace = job.namespace().unwrap_or_default()))]
pub async fn reconcile(job: Arc<Job>, ctx: Arc<Context>) -> Result<Action, JobError> {
    if job.metadata.deletion_timestamp.is_some() {
        // Pods still held by the tracking finalizer are let go so they can be collected.
        release_all(&ctx, &job).await?;
        return Ok(Action::await_change());
    }
    let ns = job.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let owned = owned_pods(&ctx, &job).await?;
    let views: Vec<PodView> = owned.iter().map(PodView::of).collect();
    let spec = job.spec.clone().unwrap_or_default();
    let indexed =
        (spec.completion_mode.as_deref() == Some("Indexed")).then(|| spec.completions.unwrap_or(0));

    let mut status = job.status.clone().unwrap_or_default();
    let release = track::track(&mut status, &views, indexed);
    let now = jiff::Timestamp::now();
    let was_finished = decide::finished(&status);
    let plan = decide::decide(&spec, &mut status, &views, now);

    // Status first: results recorded as uncounted must be durable before finalizers go.
    if job.status.as_ref() != Some(&status) {
        let mut next = (*job).clone();
        next.status = Some(status.clone());
        jobs.replace_status(&job.name_any(), &PostParams::default(), &next)
            .await
            .map_err(api_err(format!("update status of job {}", job.name_any())))?;
    }
    for name in &release {
        remove_finalizer(&pod_api, name).await?;
    }
    for name in &plan.delete {
        let gone = pod_api.delete(name, &DeleteParams::default()).await;
        ignore_missing(gone.map(|_| ()), format!("delete pod {name}"))?;
    }
    let reference = closet_events::reference(&*job);
    for index in &plan.create {
        let pod = pods::new_pod(&job, *index);
        let created = pod_api
            .create(&PostParams::default(), &pod)
            .await
            .map_err(api_err(format!("create pod for job {}", job.name_any())))?;
        let msg = format!("Created pod: {}", created.name_any());
        ctx.recorder
            .normal(&reference, "SuccessfulCreate", &msg)
            .await;
    }
    for n in &plan.notes {
        if n.warning {
            ctx.recorder.warning(&reference, n.reason, &n.message).await;
        } else {
            ctx.recorder.normal(&reference, n.reason, &n.message).await;
        }
    }
    if !release.is_empty() {
        // The next pass counts the released pods.
        return Ok(Action::requeue(Duration::from_millis(100)));
    }
    if was_finished || decide::finished(&status) {
        return expire(&jobs, &job, &status, now).await;
    }
    Ok(plan
        .requeue
        .map_or_else(Action::await_change, Action::requeue))
}

/// Deletes a finished Job whose `ttlSecondsAfterFinished` has passed.
async fn expire(
    jobs: &Api<Job>,
    job: &Job,
    status: &k8s_openapi::api::batch::v1::JobStatus,
    now: jiff::Timestamp,
) -> Result<Action, JobError> {
    let Some(ttl) = job.spec.as_ref().and_then(|s| s.ttl_seconds_after_finished) else {
        return Ok(Action::await_change());
    };
    let finished_at = status
        .conditions
        .iter()
        .flatten()
        .filter(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        .filter_map(|c| c.last_transition_time.as_ref().map(|t| t.0))
        .max()
        .unwrap_or(now);
    let due = finished_at + jiff::SignedDuration::from_secs(i64::from(ttl));
    if now < due {
        let wait = due.duration_since(now).as_secs().max(1).unsigned_abs();
        return Ok(Action::requeue(Duration::from_secs(wait)));
    }
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: job.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let gone = jobs.delete(&job.name_any(), &params).await;
    ignore_missing(
        gone.map(|_| ()),
        format!("delete expired job {}", job.name_any()),
    )?;
    Ok(Action::await_change())
}

/// The pods this Job controls: matching its selector and owned by its UID.
async fn owned_pods(ctx: &Context, job: &Job) -> Result<Vec<Pod>, JobError> {
    let ns = job.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let selector = job
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .map(pods::selector_string)
        .unwrap_or_default();
    let uid = job.uid().unwrap_or_default();
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(api_err(format!("list pods of job {}", job.name_any())))?;
    Ok(list
        .items
        .into_iter()
        .filter(|p| {
            p.owner_references()
                .iter()
                .any(|r| r.controller == Some(true) && r.uid == uid)
        })
        .collect())
}

async fn release_all(ctx: &Context, job: &Job) -> Result<(), JobError> {
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &job.namespace().unwrap_or_default());
    for pod in owned_pods(ctx, job).await? {
        if pod.finalizers().iter().any(|f| f == TRACKING_FINALIZER) {
            remove_finalizer(&api, &pod.name_any()).await?;
        }
    }
    Ok(())
}

async fn remove_finalizer(api: &Api<Pod>, name: &str) -> Result<(), JobError> {
    let Some(pod) = api
        .get_opt(name)
        .await
        .map_err(api_err(format!("read pod {name}")))?
    else {
        return Ok(());
    };
    let rest: Vec<&String> = pod
        .finalizers()
        .iter()
        .filter(|f| *f != TRACKING_FINALIZER)
        .collect();
    if rest.len() == pod.finalizers().len() {
        return Ok(());
    }
    let body = serde_json::json!({"metadata": {
        "finalizers": rest,
        "resourceVersion": pod.resource_version(),
    }});
    let patched = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&body))
        .await;
    ignore_missing(patched.map(|_| ()), format!("release pod {name}"))
}

fn ignore_missing(result: kube::Result<()>, action: String) -> Result<(), JobError> {
    match result {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other.map_err(api_err(action)),
    }
}
