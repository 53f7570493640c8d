//! One scheduling attempt: pre-filter, filter every node, score the feasible ones, pick the
//! best. Pure: it reads a [`Snapshot`] and returns a [`Decision`]; binding happens elsewhere.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{MAX_SCORE, NodeInfo, Snapshot, Status, fit_error};
use crate::registry::Profile;

/// What scheduling one pod decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Bind to this node.
    Node(String),
    /// No node fits; the FailedScheduling message.
    Unschedulable(String),
    /// A plugin could not decide.
    Error(String),
}

/// Schedules `pod` against `snapshot` with `profile`'s plugins.
pub fn schedule(profile: &Profile, pod: &Pod, snapshot: &Snapshot) -> Decision {
    let total = snapshot.nodes.len();
    for filter in &profile.filters {
        match filter.pre_filter(pod, snapshot) {
            Ok(()) => {}
            Err(Status::Unschedulable(reasons)) => {
                return Decision::Unschedulable(fit_error(
                    total,
                    Some(&reasons.join(", ")),
                    &BTreeMap::new(),
                ));
            }
            Err(Status::Error(why)) => return Decision::Error(format!("{}: {why}", filter.name())),
        }
    }
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut feasible: Vec<&NodeInfo> = Vec::new();
    'nodes: for node in &snapshot.nodes {
        for filter in &profile.filters {
            match filter.filter(pod, node, snapshot) {
                Ok(()) => {}
                Err(Status::Unschedulable(why)) => {
                    for reason in why {
                        *reasons.entry(reason).or_insert(0) += 1;
                    }
                    continue 'nodes;
                }
                Err(Status::Error(why)) => {
                    return Decision::Error(format!("{}: {why}", filter.name()));
                }
            }
        }
        feasible.push(node);
    }
    if feasible.is_empty() {
        return Decision::Unschedulable(fit_error(total, None, &reasons));
    }
    let mut totals = vec![0i64; feasible.len()];
    for (plugin, weight) in &profile.scores {
        match plugin.score(pod, &feasible, snapshot) {
            Ok(scores) => {
                for (sum, score) in totals.iter_mut().zip(scores) {
                    *sum += weight * score.clamp(0, MAX_SCORE);
                }
            }
            Err(Status::Unschedulable(why)) => {
                return Decision::Error(format!("{}: {}", plugin.name(), why.join(", ")));
            }
            Err(Status::Error(why)) => return Decision::Error(format!("{}: {why}", plugin.name())),
        }
    }
    // Highest score wins; ties go to the node with fewer pods, then the first by name.
    let best = feasible.iter().zip(&totals).max_by(|(a, sa), (b, sb)| {
        sa.cmp(sb)
            .then(b.pods.len().cmp(&a.pods.len()))
            .then(b.name().cmp(a.name()))
    });
    match best {
        Some((node, _)) => Decision::Node(node.name().to_owned()),
        None => Decision::Unschedulable(fit_error(total, None, &reasons)),
    }
}
