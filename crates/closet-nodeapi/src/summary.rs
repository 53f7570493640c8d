//! The `/stats/summary` document: node and pod CPU and memory usage, in the shape of
//! kubelet's Summary API (the subset `metrics.k8s.io` needs), plus the quantity formatting
//! metrics-server uses for it.

use serde::{Deserialize, Serialize};

/// The whole summary of one node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// The node as a whole.
    pub node: NodeStats,
    /// Every pod with at least one running container.
    #[serde(default)]
    pub pods: Vec<PodStats>,
}

/// Usage of the whole node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeStats {
    /// The Node's name.
    pub node_name: String,
    /// CPU of the whole machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    /// Memory of the whole machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    /// The filesystem holding the node's data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fs: Option<FsStats>,
}

/// Which pod a [`PodStats`] describes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodReference {
    /// Pod name.
    pub name: String,
    /// Pod namespace.
    pub namespace: String,
    /// Pod uid.
    pub uid: String,
}

/// Usage of one pod: the sum of its containers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStats {
    /// The pod.
    pub pod_ref: PodReference,
    /// Sum of the containers' CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    /// Sum of the containers' memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
    /// Each container.
    #[serde(default)]
    pub containers: Vec<ContainerStats>,
    /// Each measurable volume (kubelet's field name is singular).
    #[serde(default, rename = "volume", skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeStats>,
}

/// Usage of one filesystem, or of one directory tree on it: `capacityBytes`,
/// `availableBytes` and `inodes`/`inodesFree` describe the filesystem, `usedBytes` and
/// `inodesUsed` the tree (for the node, the whole filesystem).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FsStats {
    /// When the numbers were measured, RFC 3339.
    pub time: String,
    /// Bytes an unprivileged writer may still use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
    /// Size of the filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_bytes: Option<u64>,
    /// Bytes in use (allocated blocks, as `du` counts them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_bytes: Option<u64>,
    /// Inodes still free on the filesystem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inodes_free: Option<u64>,
    /// Inodes the filesystem has in all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inodes: Option<u64>,
    /// Inodes in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inodes_used: Option<u64>,
}

/// Usage of one pod volume.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeStats {
    /// The numbers, inline as kubelet writes them.
    #[serde(flatten)]
    pub fs: FsStats,
    /// The volume's name in the pod spec.
    pub name: String,
    /// The claim behind a `persistentVolumeClaim` volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc_ref: Option<PvcReference>,
}

/// Which PersistentVolumeClaim a [`VolumeStats`] measures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PvcReference {
    /// Claim name.
    pub name: String,
    /// Claim namespace (the pod's).
    pub namespace: String,
}

/// Usage of one container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerStats {
    /// The container's name in the pod spec.
    pub name: String,
    /// CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuStats>,
    /// Memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStats>,
}

/// CPU usage at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CpuStats {
    /// When the sample was taken, RFC 3339.
    pub time: String,
    /// Average usage over the window, in billionths of a core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_nano_cores: Option<u64>,
    /// CPU time used since the start, in nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_core_nano_seconds: Option<u64>,
    /// The window `usageNanoCores` was averaged over, in seconds (closet's addition; kubelet
    /// leaves the window implicit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<f64>,
}

/// Memory usage at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStats {
    /// When the sample was taken, RFC 3339.
    pub time: String,
    /// All memory in use, page cache included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_bytes: Option<u64>,
    /// Memory that cannot be reclaimed easily: what `kubectl top` shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_set_bytes: Option<u64>,
    /// Memory still available (node only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_bytes: Option<u64>,
}

/// A CPU quantity in canonical form: whole cores, millicores, or nanocores, the shortest
/// exact one (`2`, `250m`, `1234567n`).
pub fn cpu_quantity(nano_cores: u64) -> String {
    if nano_cores == 0 {
        "0".to_owned()
    } else if nano_cores.is_multiple_of(1_000_000_000) {
        (nano_cores / 1_000_000_000).to_string()
    } else if nano_cores.is_multiple_of(1_000_000) {
        format!("{}m", nano_cores / 1_000_000)
    } else {
        format!("{nano_cores}n")
    }
}

/// A memory quantity in canonical binary form: the largest of `Gi`, `Mi`, `Ki` that divides
/// exactly, or plain bytes (`3Gi`, `2944Ki`, `1000`).
pub fn memory_quantity(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "Gi"), (1 << 20, "Mi"), (1 << 10, "Ki")];
    if bytes == 0 {
        return "0".to_owned();
    }
    for (size, suffix) in UNITS {
        if bytes.is_multiple_of(size) {
            return format!("{}{suffix}", bytes / size);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_canonical() {
        assert_eq!(cpu_quantity(0), "0");
        assert_eq!(cpu_quantity(2_000_000_000), "2");
        assert_eq!(cpu_quantity(250_000_000), "250m");
        assert_eq!(cpu_quantity(1_234_567), "1234567n");
        assert_eq!(memory_quantity(3 << 30), "3Gi");
        assert_eq!(memory_quantity(2944 * 1024), "2944Ki");
        assert_eq!(memory_quantity(1000), "1000");
    }

    #[test]
    fn volumes_use_kubelet_field_names() {
        let volume = VolumeStats {
            fs: FsStats {
                time: "2026-01-01T00:00:00Z".into(),
                available_bytes: Some(30),
                capacity_bytes: Some(100),
                used_bytes: Some(8192),
                inodes_free: Some(7),
                inodes: Some(10),
                inodes_used: Some(2),
            },
            name: "data".into(),
            pvc_ref: Some(PvcReference {
                name: "www".into(),
                namespace: "shop".into(),
            }),
        };
        let pod = PodStats {
            volumes: vec![volume.clone()],
            ..Default::default()
        };
        let json = serde_json::to_value(&pod).unwrap();
        assert_eq!(
            json["volume"],
            serde_json::json!([{
                "time": "2026-01-01T00:00:00Z",
                "availableBytes": 30,
                "capacityBytes": 100,
                "usedBytes": 8192,
                "inodesFree": 7,
                "inodes": 10,
                "inodesUsed": 2,
                "name": "data",
                "pvcRef": {"name": "www", "namespace": "shop"},
            }])
        );
        let back: PodStats = serde_json::from_value(json).unwrap();
        assert_eq!(back.volumes, [volume]);
        // No volumes, no `volume` key; no claim, no `pvcRef`.
        let bare = serde_json::to_value(PodStats::default()).unwrap();
        assert!(bare.get("volume").is_none(), "{bare}");
        let unclaimed = serde_json::to_value(VolumeStats::default()).unwrap();
        assert!(unclaimed.get("pvcRef").is_none(), "{unclaimed}");
        let node = NodeStats {
            fs: Some(FsStats::default()),
            ..Default::default()
        };
        assert!(serde_json::to_value(node).unwrap()["fs"].is_object());
    }

    #[test]
    fn summary_reads_kubelet_field_names() {
        let text = r#"{"node":{"nodeName":"n1","cpu":{"time":"t","usageNanoCores":5}},
            "pods":[{"podRef":{"name":"p","namespace":"d","uid":"u"},
              "containers":[{"name":"c","memory":{"time":"t","workingSetBytes":7}}]}]}"#;
        let summary: Summary = serde_json::from_str(text).unwrap();
        assert_eq!(summary.node.cpu.unwrap().usage_nano_cores, Some(5));
        assert_eq!(
            summary.pods[0].containers[0]
                .memory
                .as_ref()
                .unwrap()
                .working_set_bytes,
            Some(7)
        );
    }
}
