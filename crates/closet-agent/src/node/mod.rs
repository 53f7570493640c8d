//! The agent's Node: registration, status reports and the Lease heartbeat.
//!
//! Writes are kept few because every one lands on the server's disk, often an SD card: the
//! Lease is renewed every 10 s (that is the heartbeat), while the Node's status is written
//! when something in it changes and otherwise every 5 minutes, as upstream.

pub mod facts;
pub mod object;

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{ContainerImage, Node, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::AgentError;
use facts::HostFacts;
use object::NodeReport;

/// How often the Lease is renewed.
pub const LEASE_RENEW: Duration = Duration::from_secs(10);
/// How long a Lease stays valid without renewal.
pub const LEASE_DURATION_SECONDS: i32 = 40;
/// The namespace node Leases live in.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// How often the status is checked for changes.
pub const STATUS_CHECK: Duration = Duration::from_secs(10);
/// How often the status is written even when nothing changed.
pub const STATUS_REPORT: Duration = Duration::from_secs(300);

/// Creates the Node if it does not exist, and makes sure it carries the agent's labels.
pub async fn register(
    client: &kube::Client,
    name: &str,
    facts: &HostFacts,
) -> Result<Node, AgentError> {
    let api: Api<Node> = Api::all(client.clone());
    let existing = api
        .get_opt(name)
        .await
        .map_err(AgentError::api(format!("reading node {name}")))?;
    match existing {
        None => {
            let node = api
                .create(&PostParams::default(), &object::new_node(name, facts))
                .await
                .map_err(AgentError::api(format!("registering node {name}")))?;
            tracing::info!(node = %name, "registered node");
            Ok(node)
        }
        Some(_) => {
            let patch = json!({ "metadata": { "labels": object::labels(name, facts) } });
            api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(AgentError::api(format!("updating node {name}'s labels")))
        }
    }
}

/// Waits until the server has assigned the node its pod CIDR, and returns it.
pub async fn wait_for_pod_cidr(client: &kube::Client, name: &str) -> Result<String, AgentError> {
    let api: Api<Node> = Api::all(client.clone());
    let mut waited = Duration::ZERO;
    let step = Duration::from_millis(200);
    loop {
        let node = api
            .get(name)
            .await
            .map_err(AgentError::api(format!("reading node {name}")))?;
        if let Some(cidr) = node.spec.and_then(|s| s.pod_cidr).filter(|c| !c.is_empty()) {
            return Ok(cidr);
        }
        if waited == Duration::from_secs(10) {
            tracing::warn!(node = %name, "still waiting for the server to assign this node a pod CIDR");
        }
        tokio::time::sleep(step).await;
        waited += step;
    }
}

/// Most images a node reports, largest first, as upstream's kubelet caps them.
pub const MAX_REPORTED_IMAGES: usize = 50;

/// The images the runtime holds, as Node `status.images`: names are the repo tags and
/// digests, largest images first. `None` when the runtime cannot be asked.
pub async fn images(runtime: &dyn closet_cri::Runtime) -> Option<Vec<ContainerImage>> {
    use closet_cri::RuntimeExt as _;
    let mut images: Vec<ContainerImage> = runtime
        .all_images()
        .await
        .map_err(|err| tracing::debug!(error = %err, "listing images for the node status"))
        .ok()?
        .into_iter()
        .map(|image| ContainerImage {
            names: Some(
                image
                    .repo_tags
                    .into_iter()
                    .chain(image.repo_digests)
                    .collect(),
            ),
            size_bytes: i64::try_from(image.size).ok(),
        })
        .filter(|image| image.names.as_ref().is_some_and(|n| !n.is_empty()))
        .collect();
    images.sort_by(|a, b| {
        b.size_bytes
            .cmp(&a.size_bytes)
            .then_with(|| a.names.cmp(&b.names))
    });
    images.truncate(MAX_REPORTED_IMAGES);
    Some(images)
}

/// Writes the node's status now if it differs from `last` or the report is due.
pub async fn report_status(
    client: &kube::Client,
    report: &NodeReport<'_>,
    facts: &HostFacts,
    last: Option<&NodeStatus>,
    force: bool,
) -> Result<Option<NodeStatus>, AgentError> {
    let now = jiff::Timestamp::now();
    let status = object::status(report, facts, last, now);
    let changed = last.is_none_or(|l| object::meaningfully_different(l, &status));
    if !changed && !force {
        return Ok(None);
    }
    let api: Api<Node> = Api::all(client.clone());
    api.patch_status(
        report.name,
        &PatchParams::default(),
        &Patch::Merge(&json!({ "status": status })),
    )
    .await
    .map_err(AgentError::api(format!(
        "reporting node {}'s status",
        report.name
    )))?;
    Ok(Some(status))
}

/// Whether the Node's Ready condition on the server differs from the one last written: the
/// node lifecycle controller sets it to Unknown when this agent was silent too long (paused,
/// cut off), and the agent must then report again at once instead of at the next periodic
/// report. A failed read counts as no difference.
pub async fn server_disagrees(
    client: &kube::Client,
    name: &str,
    last: Option<&NodeStatus>,
) -> bool {
    let ready = |s: Option<&NodeStatus>| {
        s.and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status.clone())
    };
    let Some(last) = last else {
        return false;
    };
    let api: Api<Node> = Api::all(client.clone());
    match api.get_status(name).await {
        Ok(node) => ready(node.status.as_ref()) != ready(Some(last)),
        Err(_) => false,
    }
}

/// Renews the node's Lease once, creating it if needed.
pub async fn renew_lease(client: &kube::Client, name: &str) -> Result<(), AgentError> {
    let api: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let now = MicroTime(jiff::Timestamp::now());
    match api
        .get_opt(name)
        .await
        .map_err(AgentError::api(format!("reading lease {name}")))?
    {
        Some(mut lease) => {
            let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
            spec.holder_identity = Some(name.to_owned());
            spec.lease_duration_seconds = Some(LEASE_DURATION_SECONDS);
            spec.renew_time = Some(now);
            api.replace(name, &PostParams::default(), &lease)
                .await
                .map_err(AgentError::api(format!("renewing lease {name}")))?;
        }
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.to_owned()),
                    namespace: Some(LEASE_NAMESPACE.to_owned()),
                    owner_references: None,
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(name.to_owned()),
                    lease_duration_seconds: Some(LEASE_DURATION_SECONDS),
                    renew_time: Some(now),
                    ..Default::default()
                }),
            };
            api.create(&PostParams::default(), &lease)
                .await
                .map_err(AgentError::api(format!("creating lease {name}")))?;
        }
    }
    Ok(())
}
