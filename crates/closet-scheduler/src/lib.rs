//! The scheduler: places pods that name no node, binding them through `pods/binding`.
//!
//! Pods whose `spec.nodeName` is empty and whose `schedulerName` is `default-scheduler` (or
//! unset) wait in a [`queue`]; the loop in [`scheduler`] takes them one at a time, runs the
//! [`framework`]'s filter and score plugins (one module each under [`plugins`], listed in
//! [`registry`]) against a [`cache`] snapshot, and binds the pod to the best node, or
//! reports why none fits: a FailedScheduling event and a PodScheduled=False condition in
//! upstream's words (`0/3 nodes are available: 1 Insufficient memory, ...`).
//!
//! Start reading at [`scheduler::run`], then [`schedule::schedule`].

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

pub mod cache;
pub mod framework;
pub mod platforms;
pub mod plugins;
pub mod queue;
pub mod registry;
pub mod resources;
pub mod schedule;
pub mod scheduler;
pub mod selectors;

pub use scheduler::{Config, run, run_with};

/// Why binding a pod failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// Naming the chosen node on a WaitForFirstConsumer claim failed.
    #[error("selecting node {node} for claim {claim}")]
    SelectNode {
        /// `namespace/name` of the claim.
        claim: String,
        /// The chosen node.
        node: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// The `pods/binding` request failed.
    #[error("binding pod {pod} to {node}")]
    Bind {
        /// `namespace/name` of the pod.
        pod: String,
        /// The chosen node.
        node: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

impl SchedulerError {
    /// Whether the pod is gone or already bound, so retrying is pointless.
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Bind { source: kube::Error::Api(status), .. }
            if status.code == 404 || status.code == 409)
    }
}

/// An error and its sources, joined with `: `.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
