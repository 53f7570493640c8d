//! `ImagePlatform`: a node whose `kubernetes.io/os`/`kubernetes.io/arch` labels name a
//! platform none of the pod's images offers cannot run the pod, unless it already holds the
//! image. Images whose platforms are unknown (registry unreachable, offline) never filter.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;

use crate::framework::{Filter, NodeInfo, Snapshot, Status};
use crate::platforms::{Platform, normalize_image};

/// The images of the pod's containers and init containers.
pub fn images(pod: &Pod) -> Vec<String> {
    let spec = crate::plugins::spec(pod);
    spec.init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .filter_map(|c| c.image.clone())
        .collect()
}

/// The node's platform from its labels, falling back to its reported system info.
pub fn node_platform(node: &NodeInfo) -> Option<Platform> {
    let labels = node.labels();
    let info = node.node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let arch = labels
        .get("kubernetes.io/arch")
        .cloned()
        .or_else(|| info.map(|i| i.architecture.clone()))?;
    let os = labels
        .get("kubernetes.io/os")
        .cloned()
        .or_else(|| info.map(|i| i.operating_system.clone()))
        .unwrap_or_else(|| "linux".to_owned());
    (!arch.is_empty()).then_some(Platform {
        os,
        architecture: arch,
    })
}

/// Why `image`, offering `offered`, cannot run on `node`, if it cannot.
pub fn fits(
    image: &str,
    offered: &[Platform],
    node: &Platform,
    held: &BTreeSet<String>,
) -> Result<(), String> {
    if offered.is_empty() || offered.contains(node) || held.contains(&normalize_image(image)) {
        return Ok(());
    }
    let only: BTreeSet<String> = offered.iter().map(ToString::to_string).collect();
    Err(format!(
        "image \"{image}\" has no {node} variant (only {})",
        only.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

/// The plugin.
pub struct ImagePlatform;

impl Filter for ImagePlatform {
    fn name(&self) -> &'static str {
        "ImagePlatform"
    }

    fn filter(&self, pod: &Pod, node: &NodeInfo, snapshot: &Snapshot) -> Result<(), Status> {
        let Some(platform) = node_platform(node) else {
            return Ok(());
        };
        for image in images(pod) {
            if let Some(offered) = snapshot.platforms.get(&image) {
                fits(&image, offered, &platform, &node.images).map_err(Status::unschedulable)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux(arch: &str) -> Platform {
        Platform {
            os: "linux".into(),
            architecture: arch.into(),
        }
    }

    #[test]
    fn nodes_of_other_architectures_are_filtered_unless_they_hold_the_image() {
        let arm = [linux("arm64")];
        let none = BTreeSet::new();
        assert_eq!(
            fits("x", &arm, &linux("amd64"), &none),
            Err("image \"x\" has no linux/amd64 variant (only linux/arm64)".to_owned())
        );
        assert!(fits("x", &arm, &linux("arm64"), &none).is_ok());
        assert!(
            fits("x", &[], &linux("amd64"), &none).is_ok(),
            "unknown never filters"
        );
        let held = BTreeSet::from(["docker.io/library/x:latest".to_owned()]);
        assert!(fits("x", &arm, &linux("amd64"), &held).is_ok());
    }
}
