//! Finished Jobs beyond `successfulJobsHistoryLimit` / `failedJobsHistoryLimit` are deleted,
//! oldest first.

use k8s_openapi::api::batch::v1::{CronJobSpec, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PropagationPolicy};

use super::finished;

/// The names of Jobs to delete: the oldest finished ones beyond each limit.
pub(super) fn surplus(spec: &CronJobSpec, jobs: &[Job]) -> Vec<String> {
    let mut out = Vec::new();
    for (ok, limit) in [
        (true, spec.successful_jobs_history_limit.unwrap_or(3)),
        (false, spec.failed_jobs_history_limit.unwrap_or(1)),
    ] {
        let mut done: Vec<&Job> = jobs
            .iter()
            .filter(|j| finished(j) == Some(ok) && j.metadata.deletion_timestamp.is_none())
            .collect();
        done.sort_by_key(|j| {
            let start = j
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .map(|t| t.0);
            (
                start.or(j.metadata.creation_timestamp.as_ref().map(|t| t.0)),
                j.name_any(),
            )
        });
        let extra = done
            .len()
            .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
        out.extend(done.into_iter().take(extra).map(ResourceExt::name_any));
    }
    out
}

/// Deletes the surplus Jobs (their pods follow through the garbage collector).
pub(super) async fn clean(
    api: &Api<Job>,
    recorder: &closet_events::Recorder,
    reference: &ObjectReference,
    spec: &CronJobSpec,
    jobs: &[Job],
) {
    for name in surplus(spec, jobs) {
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => {
                let msg = format!("Deleted job {name}");
                recorder.normal(reference, "SuccessfulDelete", &msg).await;
            }
            Err(err) => tracing::debug!(job = %name, error = %err, "cronjob: history cleanup"),
        }
    }
}
