//! A Job's pods as the controller sees them, and the pods it creates.
//!
//! Every pod the controller creates carries the [`TRACKING_FINALIZER`], so a finished pod
//! cannot vanish before its result is counted in the Job's status.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference};
use kube::ResourceExt;

/// The finalizer that keeps a finished pod until the Job has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// The label and annotation carrying an Indexed Job pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// The environment variable an Indexed Job's containers read their index from.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// Where a pod stands, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Still running or about to.
    Active,
    /// Finished successfully.
    Succeeded,
    /// Finished unsuccessfully, or deleted before succeeding.
    Failed,
}

/// The facts about one pod the controller decides from.
#[derive(Clone, Debug, PartialEq)]
pub struct PodView {
    /// Pod name.
    pub name: String,
    /// Pod UID.
    pub uid: String,
    /// Where it stands.
    pub outcome: Outcome,
    /// Its completion index (Indexed Jobs).
    pub index: Option<i32>,
    /// Whether it still carries the tracking finalizer.
    pub tracked: bool,
    /// Whether it is Ready.
    pub ready: bool,
    /// When it finished, if known.
    pub finished_at: Option<jiff::Timestamp>,
}

impl PodView {
    /// Reads the facts from a pod.
    pub fn of(pod: &Pod) -> Self {
        let status = pod.status.as_ref();
        let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
        let deleting = pod.metadata.deletion_timestamp.is_some();
        let outcome = match phase {
            "Succeeded" => Outcome::Succeeded,
            "Failed" => Outcome::Failed,
            // A pod deleted before it succeeded counts as failed, as upstream counts it.
            _ if deleting => Outcome::Failed,
            _ => Outcome::Active,
        };
        let index = pod
            .annotations()
            .get(COMPLETION_INDEX)
            .or_else(|| pod.labels().get(COMPLETION_INDEX))
            .and_then(|i| i.parse().ok());
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let finished_at = status
            .and_then(|s| s.container_statuses.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
            .map(|t| t.0)
            .max()
            .or_else(|| pod.metadata.deletion_timestamp.as_ref().map(|t| t.0));
        Self {
            name: pod.name_any(),
            uid: pod.uid().unwrap_or_default(),
            outcome,
            index,
            tracked: pod.finalizers().iter().any(|f| f == TRACKING_FINALIZER),
            ready,
            finished_at,
        }
    }
}

/// The pod to create for `job`, with `index` for Indexed Jobs.
pub fn new_pod(job: &Job, index: Option<i32>) -> Pod {
    let name = job.name_any();
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let mut meta = template.metadata.unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    meta.name = None;
    meta.generate_name = Some(match index {
        Some(i) => format!("{name}-{i}-"),
        None => format!("{name}-"),
    });
    meta.namespace = job.namespace();
    meta.owner_references = Some(vec![OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: name.clone(),
        uid: job.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    meta.finalizers = Some(vec![TRACKING_FINALIZER.into()]);
    if let Some(i) = index {
        let i = i.to_string();
        meta.labels
            .get_or_insert_default()
            .insert(COMPLETION_INDEX.into(), i.clone());
        meta.annotations
            .get_or_insert_default()
            .insert(COMPLETION_INDEX.into(), i.clone());
        // As upstream's Indexed mode: a stable hostname and the index in every container's
        // environment, read through the downward API so the pod spec stays the template's.
        spec.hostname = Some(format!("{name}-{i}"));
        let env = EnvVar {
            name: INDEX_ENV.into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: None,
                    field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
                }),
                ..EnvVarSource::default()
            }),
        };
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            let vars = c.env.get_or_insert_default();
            if !vars.iter().any(|e| e.name == INDEX_ENV) {
                vars.push(env.clone());
            }
        }
    }
    Pod {
        metadata: meta,
        spec: Some(spec),
        status: None,
    }
}

/// A label selector in the query-string form the API accepts.
pub fn selector_string(sel: &LabelSelector) -> String {
    let mut parts: Vec<String> = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}
