//! The agent's table of the pods it runs, by namespace and name, as the node API looks them
//! up (logs, exec, port-forward, volume usage). Workers refresh their pod's row after every
//! sync.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::RwLock;

use closet_nodeapi::VolumeInfo;
use closet_podspec::volumes::{VolumeKind, VolumeMap};
use k8s_openapi::api::core::v1::Pod;

use super::runtime_view::{PodRuntime, RunState};

/// One pod's row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRow {
    /// The pod's uid.
    pub uid: String,
    /// The newest sandbox.
    pub sandbox_id: String,
    /// Per container name: the newest instance and the one before it.
    pub containers: BTreeMap<String, ContainerRow>,
    /// The prepared volumes whose usage the node reports.
    pub volumes: Vec<VolumeInfo>,
}

/// One container's row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerRow {
    /// The newest instance's CRI id.
    pub container_id: String,
    /// Its log file.
    pub log_path: PathBuf,
    /// The previous instance's log file.
    pub previous_log_path: Option<PathBuf>,
    /// Whether the newest instance runs.
    pub running: bool,
    /// Whether it has a TTY.
    pub tty: bool,
}

/// Every pod the agent runs, by `(namespace, name)`.
#[derive(Debug, Default)]
pub struct PodTable {
    rows: RwLock<BTreeMap<(String, String), PodRow>>,
}

impl PodTable {
    /// Replaces a pod's row from the runtime's view of it and its prepared volumes.
    pub fn update(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        runtime: &PodRuntime,
        tty: &BTreeMap<String, bool>,
        volumes: Vec<VolumeInfo>,
    ) {
        let mut row = PodRow {
            uid: uid.to_owned(),
            sandbox_id: runtime.sandbox().map(|s| s.id.clone()).unwrap_or_default(),
            containers: BTreeMap::new(),
            volumes,
        };
        for c in &runtime.containers {
            if row.containers.contains_key(&c.name) {
                continue;
            }
            let Some(latest) = runtime.latest(&c.name) else {
                continue;
            };
            row.containers.insert(
                c.name.clone(),
                ContainerRow {
                    container_id: latest.id.clone(),
                    log_path: PathBuf::from(&latest.log_path),
                    previous_log_path: runtime
                        .previous(&c.name)
                        .map(|p| PathBuf::from(&p.log_path))
                        .filter(|p| p.exists()),
                    running: latest.state == RunState::Running,
                    tty: tty.get(&c.name).copied().unwrap_or(false),
                },
            );
        }
        self.rows
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((namespace.to_owned(), name.to_owned()), row);
    }

    /// Forgets a pod.
    pub fn remove(&self, namespace: &str, name: &str) {
        self.rows
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// A pod's row.
    pub fn get(&self, namespace: &str, name: &str) -> Option<PodRow> {
        self.rows
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Every row.
    pub fn all(&self) -> Vec<((String, String), PodRow)> {
        self.rows
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The prepared volumes the node API reports usage for: all but hostPath volumes, which are
/// the host's own directories (kubelet does not measure those either). Claims carry their
/// name, for the summary's `pvcRef`.
pub fn measurable_volumes(pod: &Pod, prepared: Option<&VolumeMap>) -> Vec<VolumeInfo> {
    let Some(prepared) = prepared else {
        return Vec::new();
    };
    let claim_of = |name: &str| {
        pod.spec
            .iter()
            .flat_map(|s| s.volumes.iter().flatten())
            .find(|v| v.name == name)
            .and_then(|v| v.persistent_volume_claim.as_ref())
            .map(|c| c.claim_name.clone())
    };
    prepared
        .iter()
        .filter(|(_, v)| v.kind != VolumeKind::HostPath)
        .map(|(name, v)| VolumeInfo {
            name: name.to_owned(),
            host_path: v.host_path.clone(),
            claim_name: if v.kind == VolumeKind::PersistentVolumeClaim {
                claim_of(name)
            } else {
                None
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use closet_podspec::volumes::PreparedVolume;

    use super::*;

    #[test]
    fn claims_are_named_and_host_paths_left_out() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0", "namespace": "shop"},
            "spec": {"containers": [{"name": "app"}], "volumes": [
                {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-0"}},
                {"name": "scratch", "emptyDir": {}},
                {"name": "logs", "hostPath": {"path": "/var/log"}},
            ]}
        }))
        .unwrap();
        let mut prepared = VolumeMap::default();
        let mut add = |name: &str, kind, path: &str| {
            prepared.insert(
                name,
                PreparedVolume {
                    kind,
                    host_path: PathBuf::from(path),
                    read_only: false,
                },
            );
        };
        add(
            "www",
            VolumeKind::PersistentVolumeClaim,
            "/data/storage/pvc-1",
        );
        add(
            "scratch",
            VolumeKind::EmptyDir,
            "/data/pods/u/volumes/e/scratch",
        );
        add("logs", VolumeKind::HostPath, "/var/log");
        let volumes = measurable_volumes(&pod, Some(&prepared));
        assert_eq!(
            volumes,
            [
                VolumeInfo {
                    name: "scratch".into(),
                    host_path: "/data/pods/u/volumes/e/scratch".into(),
                    claim_name: None,
                },
                VolumeInfo {
                    name: "www".into(),
                    host_path: "/data/storage/pvc-1".into(),
                    claim_name: Some("www-web-0".into()),
                },
            ]
        );
        assert!(measurable_volumes(&pod, None).is_empty());
    }
}
