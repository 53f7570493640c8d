//! The plugin registry: names mapped to factories, and the default profile (which filters
//! run, which scores run and with what weight).

use crate::framework::{Filter, Score};
use crate::plugins::{
    host_ports, image_platform, inter_pod_affinity, least_allocated, node_affinity, node_name,
    node_unschedulable, owner_spread, resources_fit, taints, topology_spread, volumes,
};

/// Makes a filter plugin.
pub type FilterFactory = fn() -> Box<dyn Filter>;
/// Makes a score plugin.
pub type ScoreFactory = fn() -> Box<dyn Score>;

/// Every filter plugin by name, in the order the default profile runs them (cheap first).
pub const FILTERS: &[(&str, FilterFactory)] = &[
    ("NodeUnschedulable", || {
        Box::new(node_unschedulable::NodeUnschedulable)
    }),
    ("NodeName", || Box::new(node_name::NodeName)),
    ("TaintToleration", || Box::new(taints::TaintToleration)),
    ("NodeAffinity", || Box::new(node_affinity::NodeAffinity)),
    ("NodePorts", || Box::new(host_ports::NodePorts)),
    ("NodeResourcesFit", || Box::new(resources_fit::ResourcesFit)),
    ("VolumeBinding", || Box::new(volumes::VolumeBinding)),
    ("ImagePlatform", || Box::new(image_platform::ImagePlatform)),
    ("PodTopologySpread", || {
        Box::new(topology_spread::TopologySpread)
    }),
    ("InterPodAffinity", || {
        Box::new(inter_pod_affinity::InterPodAffinity)
    }),
];

/// Every score plugin by name, with its default weight.
pub const SCORES: &[(&str, ScoreFactory, i64)] = &[
    (
        "NodeResourcesLeastAllocated",
        || Box::new(least_allocated::LeastAllocated),
        1,
    ),
    ("OwnerSpread", || Box::new(owner_spread::OwnerSpread), 2),
    ("NodeAffinity", || Box::new(node_affinity::NodeAffinity), 2),
    (
        "InterPodAffinity",
        || Box::new(inter_pod_affinity::InterPodAffinity),
        2,
    ),
    (
        "PodTopologySpread",
        || Box::new(topology_spread::TopologySpread),
        2,
    ),
];

/// The plugins one scheduler runs.
pub struct Profile {
    /// Filters, in order; a node fails at the first that rejects it.
    pub filters: Vec<Box<dyn Filter>>,
    /// Scores and their weights.
    pub scores: Vec<(Box<dyn Score>, i64)>,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            filters: FILTERS.iter().map(|(_, make)| make()).collect(),
            scores: SCORES.iter().map(|(_, make, w)| (make(), *w)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_names_match_the_plugins() {
        for (name, make) in FILTERS {
            assert_eq!(make().name(), *name);
        }
        for (name, make, weight) in SCORES {
            assert_eq!(make().name(), *name);
            assert!(*weight > 0);
        }
    }
}
