//! What the node API needs to know about the agent's pods: the seam the agent implements.

use std::path::PathBuf;

/// One container as the agent knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The CRI container id of the current instance.
    pub container_id: String,
    /// Its CRI log file (the `log_path` the agent gave CreateContainer, made absolute).
    pub log_path: PathBuf,
    /// The log file of the instance before it, if the container has restarted and that file
    /// is still there (`kubectl logs --previous`).
    pub previous_log_path: Option<PathBuf>,
    /// Whether the current instance is running: a followed log ends once it is not and the
    /// file has nothing more.
    pub running: bool,
    /// Whether the container was created with a TTY (its log has no stderr).
    pub tty: bool,
}

/// One pod as the agent knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodInfo {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The API object's uid.
    pub uid: String,
    /// The CRI sandbox id (port-forward runs inside its network namespace).
    pub sandbox_id: String,
    /// Its containers: spec name and current CRI container id (empty if none exists yet).
    pub containers: Vec<(String, String)>,
    /// Its volumes whose usage is worth measuring (hostPath volumes are not: they are the
    /// host's directories, not the pod's).
    pub volumes: Vec<VolumeInfo>,
}

/// One prepared pod volume as the agent knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeInfo {
    /// The volume's name in the pod spec.
    pub name: String,
    /// The directory on the host that containers see.
    pub host_path: PathBuf,
    /// For a `persistentVolumeClaim` volume, the claim's name (in the pod's namespace).
    pub claim_name: Option<String>,
}

/// The agent's pods, looked up by the names the API uses. Implemented by the agent over its
/// own state; lookups must be cheap (they run on every log poll).
pub trait PodDirectory: Send + Sync {
    /// The container `container` of pod `namespace/pod`, if the agent runs it.
    fn container(&self, namespace: &str, pod: &str, container: &str) -> Option<ContainerInfo>;
    /// The pod `namespace/pod`, if the agent runs it.
    fn pod(&self, namespace: &str, pod: &str) -> Option<PodInfo>;
    /// Every pod the agent runs.
    fn pods(&self) -> Vec<PodInfo>;
}
