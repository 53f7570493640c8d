//! The CronJob controller: creates a Job for every scheduled time, honouring
//! `concurrencyPolicy`, `suspend`, `startingDeadlineSeconds` and the history limits, and keeps
//! `status.active`, `lastScheduleTime` and `lastSuccessfulTime`.
//!
//! Each reconcile lists the CronJob's Jobs live, cleans up history, looks back for the latest
//! missed time ([`times::due`]), creates its Job under a deterministic name (so a repeated
//! reconcile cannot create two), and requeues for the next time. Schedules are read by
//! [`schedule`]; `spec.timeZone` names an IANA zone (UTC when unset).

mod history;
pub mod schedule;
pub mod times;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;

use schedule::Schedule;

/// The annotation recording the time a Job was scheduled for.
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// Why a CronJob reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum CronJobError {
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

fn api_err(action: impl Into<String>) -> impl FnOnce(kube::Error) -> CronJobError {
    let action = action.into();
    move |source| CronJobError::Api { action, source }
}

/// Shared by every reconcile.
pub struct Context {
    client: kube::Client,
    recorder: closet_events::Recorder,
}

/// Runs the CronJob controller until `shutdown` resolves.
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let ctx = Arc::new(Context {
        recorder: closet_events::Recorder::new(client.clone(), "cronjob-controller"),
        client: client.clone(),
    });
    Controller::new(
        Api::<CronJob>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(Api::<Job>::all(client), watcher::Config::default())
    .graceful_shutdown_on(shutdown)
    .run(reconcile, error_policy, ctx)
    .for_each(|_| async {})
    .await;
}

fn error_policy(cj: Arc<CronJob>, err: &CronJobError, _: Arc<Context>) -> Action {
    tracing::warn!(cronjob = %cj.name_any(), error = %err, source = ?std::error::Error::source(err), "cronjob reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

/// Whether a Job has finished, and how.
pub fn finished(job: &Job) -> Option<bool> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    conds
        .iter()
        .filter(|c| c.status == "True")
        .find_map(|c| match c.type_.as_str() {
            "Complete" => Some(true),
            "Failed" => Some(false),
            _ => None,
        })
}

/// One reconcile of one CronJob.
#[tracing::instrument(skip_all, fields(cronjob = %cj.name_any(), namespace = cj.namespace().unwrap_or_default()))]
pub async fn reconcile(cj: Arc<CronJob>, ctx: Arc<Context>) -> Result<Action, CronJobError> {
    let ns = cj.namespace().unwrap_or_default();
    let name = cj.name_any();
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &ns);
    let uid = cj.uid().unwrap_or_default();
    let jobs: Vec<Job> = jobs_api
        .list(&ListParams::default())
        .await
        .map_err(api_err(format!("list jobs of cronjob {name}")))?
        .items
        .into_iter()
        .filter(|j| {
            j.owner_references()
                .iter()
                .any(|r| r.controller == Some(true) && r.uid == uid)
        })
        .collect();
    let spec = cj.spec.clone().unwrap_or_default();
    let mut status = cj.status.clone().unwrap_or_default();
    let reference = closet_events::reference(&*cj);

    let mut active: Vec<ObjectReference> = jobs
        .iter()
        .filter(|j| finished(j).is_none() && j.metadata.deletion_timestamp.is_none())
        .map(job_reference)
        .collect();
    active.sort_by(|a, b| a.name.cmp(&b.name));
    let last_ok = jobs
        .iter()
        .filter(|j| finished(j) == Some(true))
        .filter_map(|j| j.status.as_ref()?.completion_time.clone())
        .max_by_key(|t| t.0);
    if let Some(t) = last_ok
        && status
            .last_successful_time
            .as_ref()
            .is_none_or(|old| old.0 < t.0)
    {
        status.last_successful_time = Some(t);
    }
    history::clean(&jobs_api, &ctx.recorder, &reference, &spec, &jobs).await;

    let mut requeue = None;
    if spec.suspend != Some(true) && cj.metadata.deletion_timestamp.is_none() {
        requeue = schedule_next(&ctx, &cj, &jobs, &mut active, &mut status).await?;
    }
    status.active = (!active.is_empty()).then_some(active);
    if cj.status.clone().unwrap_or_default() != status {
        let mut next = (*cj).clone();
        next.status = Some(status);
        Api::<CronJob>::namespaced(ctx.client.clone(), &ns)
            .replace_status(&name, &PostParams::default(), &next)
            .await
            .map_err(api_err(format!("update status of cronjob {name}")))?;
    }
    Ok(requeue.map_or_else(Action::await_change, Action::requeue))
}

/// Starts the Job for the latest due time, if any; returns when to look again.
async fn schedule_next(
    ctx: &Context,
    cj: &CronJob,
    jobs: &[Job],
    active: &mut Vec<ObjectReference>,
    status: &mut k8s_openapi::api::batch::v1::CronJobStatus,
) -> Result<Option<Duration>, CronJobError> {
    let name = cj.name_any();
    let reference = closet_events::reference(cj);
    let spec = cj.spec.clone().unwrap_or_default();
    let schedule = match Schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(err) => {
            let msg = format!("invalid schedule: {}: {err}", spec.schedule);
            ctx.recorder
                .warning(&reference, "InvalidSchedule", &msg)
                .await;
            return Ok(None);
        }
    };
    let tz = match spec.time_zone.as_deref() {
        None => jiff::tz::TimeZone::UTC,
        Some(z) => match schedule::time_zone(z) {
            Some(tz) => tz,
            None => {
                let msg = format!("invalid timeZone: {z:?}: unknown time zone {z}");
                ctx.recorder
                    .warning(&reference, "UnknownTimeZone", &msg)
                    .await;
                return Ok(None);
            }
        },
    };
    let now = jiff::Timestamp::now().to_zoned(tz.clone());
    let created = cj
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(now.timestamp(), |t| t.0);
    let mut earliest = status.last_schedule_time.as_ref().map_or(created, |t| t.0);
    if let Some(sds) = spec.starting_deadline_seconds {
        let floor = now.timestamp() - jiff::SignedDuration::from_secs(sds);
        earliest = earliest.max(floor);
    }
    let due = times::due(&schedule, &earliest.to_zoned(tz), &now);
    // Look again just after the next scheduled time.
    let requeue = schedule.next(&now).map(|n| {
        let wait = n.timestamp().duration_since(now.timestamp());
        Duration::try_from(wait).unwrap_or_default() + Duration::from_millis(100)
    });
    if due.too_many {
        let msg = "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew";
        ctx.recorder
            .warning(&reference, "TooManyMissedTimes", msg)
            .await;
    }
    let Some(at) = due.most_recent else {
        return Ok(requeue);
    };
    if let Some(sds) = spec.starting_deadline_seconds
        && at.timestamp() + jiff::SignedDuration::from_secs(sds) < now.timestamp()
    {
        let msg = format!("Missed scheduled time to start a job: {}", at.timestamp());
        ctx.recorder.warning(&reference, "MissSchedule", &msg).await;
        return Ok(requeue);
    }
    let job_name = times::job_name(&name, &at);
    if jobs.iter().any(|j| j.name_any() == job_name) {
        return Ok(requeue);
    }
    let jobs_api: Api<Job> =
        Api::namespaced(ctx.client.clone(), &cj.namespace().unwrap_or_default());
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => return Ok(requeue),
        Some("Replace") => {
            for old in active.drain(..) {
                let params = DeleteParams {
                    propagation_policy: Some(PropagationPolicy::Background),
                    ..DeleteParams::default()
                };
                let old_name = old.name.unwrap_or_default();
                match jobs_api.delete(&old_name, &params).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(api_err(format!("delete job {old_name}"))(e)),
                }
                let msg = format!("Deleted job {old_name}");
                ctx.recorder
                    .normal(&reference, "SuccessfulDelete", &msg)
                    .await;
            }
        }
        _ => {}
    }
    let job = new_job(cj, &job_name, &at);
    match jobs_api.create(&PostParams::default(), &job).await {
        Ok(created) => {
            let msg = format!("Created job {job_name}");
            ctx.recorder
                .normal(&reference, "SuccessfulCreate", &msg)
                .await;
            active.push(job_reference(&created));
        }
        // The name is the scheduled time: it exists, so that time was handled.
        Err(kube::Error::Api(s)) if s.code == 409 => {}
        Err(e) => return Err(api_err(format!("create job {job_name}"))(e)),
    }
    status.last_schedule_time = Some(Time(at.timestamp()));
    Ok(requeue)
}

/// The Job for a scheduled time, from the CronJob's template.
pub fn new_job(cj: &CronJob, name: &str, at: &jiff::Zoned) -> Job {
    let template = cj
        .spec
        .as_ref()
        .map(|s| s.job_template.clone())
        .unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP.into(), at.timestamp().to_string());
    Job {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: cj.namespace(),
            labels: meta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "CronJob".into(),
                name: cj.name_any(),
                uid: cj.uid().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..ObjectMeta::default()
        },
        spec: Some(template.spec.unwrap_or_default()),
        status: None,
    }
}

fn job_reference(j: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: Some(j.name_any()),
        namespace: j.namespace(),
        uid: j.uid(),
        resource_version: j.resource_version(),
        ..ObjectReference::default()
    }
}
