//! The CRI labels and annotations that tie sandboxes and containers back to their pods.
//!
//! The agent keeps no database of what it started: after a restart it lists sandboxes and
//! containers from containerd and recognises its own by these keys, which are the kubelet's
//! (`pkg/kubelet/kuberuntime/labels.go`), so `crictl` output reads the same as on any node.
//! Labels identify (they are filterable in CRI list calls); annotations carry the facts the agent
//! needs about a running container without the pod spec at hand.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};

/// Label: the pod's name.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
/// Label: the pod's namespace.
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// Label: the pod's UID.
pub const POD_UID: &str = "io.kubernetes.pod.uid";
/// Label: the container's name in the pod spec.
pub const CONTAINER_NAME: &str = "io.kubernetes.container.name";

/// Annotation: hash of the parts of the container spec whose change means a new container
/// (see [`container_hash`]).
pub const CONTAINER_HASH: &str = "io.kubernetes.container.hash";
/// Annotation: how many times this container had been restarted when this instance was created.
pub const CONTAINER_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
/// Annotation: where in the container the termination message is written.
pub const TERMINATION_MESSAGE_PATH: &str = "io.kubernetes.container.terminationMessagePath";
/// Annotation: `File` or `FallbackToLogsOnError`.
pub const TERMINATION_MESSAGE_POLICY: &str = "io.kubernetes.container.terminationMessagePolicy";
/// Annotation: the container's preStop handler as JSON, so it can run after an agent restart.
pub const PRE_STOP_HANDLER: &str = "io.kubernetes.container.preStopHandler";
/// Annotation: the container's ports as JSON.
pub const CONTAINER_PORTS: &str = "io.kubernetes.container.ports";
/// Annotation: the pod's `spec.terminationGracePeriodSeconds`.
pub const POD_TERMINATION_GRACE_PERIOD: &str = "io.kubernetes.pod.terminationGracePeriod";
/// Annotation: the pod's `metadata.deletionGracePeriodSeconds`, once it is being deleted.
pub const POD_DELETION_GRACE_PERIOD: &str = "io.kubernetes.pod.deletionGracePeriod";

/// Which pod a sandbox or container belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodKey {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.uid`; a pod recreated under the same name has a new one.
    pub uid: String,
}

impl PodKey {
    /// The key of a pod object (empty strings for missing metadata).
    pub fn of(pod: &Pod) -> PodKey {
        PodKey {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        }
    }

    /// Reads the key back from CRI labels; `None` when any of the three is missing or empty,
    /// which marks a sandbox or container that closet did not create.
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<PodKey> {
        let get = |key: &str| labels.get(key).filter(|value| !value.is_empty()).cloned();
        Some(PodKey {
            namespace: get(POD_NAMESPACE)?,
            name: get(POD_NAME)?,
            uid: get(POD_UID)?,
        })
    }

    /// The three labels, for building configs and for CRI list filters.
    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (POD_NAME.to_owned(), self.name.clone()),
            (POD_NAMESPACE.to_owned(), self.namespace.clone()),
            (POD_UID.to_owned(), self.uid.clone()),
        ])
    }
}

/// Which container of which pod a CRI container is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerKey {
    /// The pod.
    pub pod: PodKey,
    /// The container's name in the pod spec.
    pub container: String,
}

impl ContainerKey {
    /// Reads the key back from CRI container labels.
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<ContainerKey> {
        let pod = PodKey::from_labels(labels)?;
        let container = labels
            .get(CONTAINER_NAME)
            .filter(|name| !name.is_empty())?
            .clone();
        Some(ContainerKey { pod, container })
    }
}

/// What the annotations of a running container say about it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerAnnotations {
    /// [`CONTAINER_HASH`].
    pub hash: Option<String>,
    /// [`CONTAINER_RESTART_COUNT`].
    pub restart_count: Option<u32>,
    /// [`TERMINATION_MESSAGE_PATH`].
    pub termination_message_path: Option<String>,
    /// [`TERMINATION_MESSAGE_POLICY`].
    pub termination_message_policy: Option<String>,
    /// [`POD_TERMINATION_GRACE_PERIOD`], in seconds.
    pub termination_grace_period: Option<i64>,
    /// [`POD_DELETION_GRACE_PERIOD`], in seconds.
    pub deletion_grace_period: Option<i64>,
    /// [`PRE_STOP_HANDLER`], decoded.
    pub pre_stop: Option<LifecycleHandler>,
}

impl ContainerAnnotations {
    /// Decodes the annotations; a value that does not parse reads as absent.
    pub fn parse(annotations: &HashMap<String, String>) -> ContainerAnnotations {
        let get = |key: &str| annotations.get(key).cloned();
        ContainerAnnotations {
            hash: get(CONTAINER_HASH),
            restart_count: get(CONTAINER_RESTART_COUNT).and_then(|v| v.parse().ok()),
            termination_message_path: get(TERMINATION_MESSAGE_PATH),
            termination_message_policy: get(TERMINATION_MESSAGE_POLICY),
            termination_grace_period: get(POD_TERMINATION_GRACE_PERIOD)
                .and_then(|v| v.parse().ok()),
            deletion_grace_period: get(POD_DELETION_GRACE_PERIOD).and_then(|v| v.parse().ok()),
            pre_stop: get(PRE_STOP_HANDLER).and_then(|v| serde_json::from_str(&v).ok()),
        }
    }
}

/// Labels of a pod sandbox: the pod's own labels plus the three identifying ones.
pub fn sandbox_labels(pod: &Pod) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> = pod
        .metadata
        .labels
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    labels.extend(PodKey::of(pod).labels());
    labels
}

/// Annotations of a pod sandbox: the pod's annotations, unchanged.
pub fn sandbox_annotations(pod: &Pod) -> HashMap<String, String> {
    pod.metadata
        .annotations
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Labels of a container: the pod's identifying labels plus the container name.
pub fn container_labels(pod: &Pod, container: &Container) -> HashMap<String, String> {
    let mut labels = PodKey::of(pod).labels();
    labels.insert(CONTAINER_NAME.to_owned(), container.name.clone());
    labels
}

/// Annotations of a container instance created for restart number `restart_count`.
pub fn container_annotations(
    pod: &Pod,
    container: &Container,
    restart_count: u32,
) -> HashMap<String, String> {
    let mut annotations = HashMap::from([
        (CONTAINER_HASH.to_owned(), container_hash(container)),
        (
            CONTAINER_RESTART_COUNT.to_owned(),
            restart_count.to_string(),
        ),
        (
            TERMINATION_MESSAGE_PATH.to_owned(),
            container
                .termination_message_path
                .clone()
                .unwrap_or_default(),
        ),
        (
            TERMINATION_MESSAGE_POLICY.to_owned(),
            container
                .termination_message_policy
                .clone()
                .unwrap_or_default(),
        ),
    ]);
    if let Some(seconds) = pod.metadata.deletion_grace_period_seconds {
        annotations.insert(POD_DELETION_GRACE_PERIOD.to_owned(), seconds.to_string());
    }
    if let Some(seconds) = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
    {
        annotations.insert(POD_TERMINATION_GRACE_PERIOD.to_owned(), seconds.to_string());
    }
    if let Some(pre_stop) = container
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        && let Ok(json) = serde_json::to_string(pre_stop)
    {
        annotations.insert(PRE_STOP_HANDLER.to_owned(), json);
    }
    if let Some(ports) = container.ports.as_ref().filter(|p| !p.is_empty())
        && let Ok(json) = serde_json::to_string(ports)
    {
        annotations.insert(CONTAINER_PORTS.to_owned(), json);
    }
    annotations
}

/// A stable hash (hex FNV-1a, 64 bits) of the container's name and image.
///
/// Only the image of a pod's container can change after creation (everything else is immutable,
/// and resource resizes apply in place), so like the kubelet since 1.31 the hash covers exactly
/// the fields whose change means "replace the container". Hashing the whole spec would restart
/// every container whenever a later closet release defaults one more field.
pub fn container_hash(container: &Container) -> String {
    let mut hash = Fnv64::new();
    hash.write(container.name.as_bytes());
    hash.write(&[0]);
    hash.write(container.image.as_deref().unwrap_or_default().as_bytes());
    format!("{:x}", hash.finish())
}

/// FNV-1a: tiny, and unlike `std`'s hasher guaranteed to give the same value in every release.
struct Fnv64(u64);

impl Fnv64 {
    fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": "web", "namespace": "shop", "uid": "u-1",
                "labels": {"app": "web"}, "annotations": {"note": "x"},
                "deletionGracePeriodSeconds": 5
            },
            "spec": {
                "terminationGracePeriodSeconds": 30,
                "containers": [{
                    "name": "nginx", "image": "nginx:1.27",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "ports": [{"containerPort": 80}],
                    "lifecycle": {"preStop": {"exec": {"command": ["sleep", "1"]}}}
                }]
            }
        }))
        .unwrap()
    }

    #[test]
    fn sandbox_labels_round_trip_to_the_pod_key() {
        let pod = pod();
        let labels = sandbox_labels(&pod);
        assert_eq!(labels.get("app").unwrap(), "web");
        assert_eq!(PodKey::from_labels(&labels).unwrap(), PodKey::of(&pod));
        assert_eq!(sandbox_annotations(&pod).get("note").unwrap(), "x");
    }

    #[test]
    fn foreign_sandboxes_are_not_recognised() {
        let mut labels = PodKey::of(&pod()).labels();
        labels.insert(POD_UID.to_owned(), String::new());
        assert_eq!(PodKey::from_labels(&labels), None);
        assert_eq!(PodKey::from_labels(&HashMap::new()), None);
    }

    #[test]
    fn container_labels_and_annotations_round_trip() {
        let pod = pod();
        let container = &pod.spec.as_ref().unwrap().containers[0];
        let labels = container_labels(&pod, container);
        let key = ContainerKey::from_labels(&labels).unwrap();
        assert_eq!(key.container, "nginx");
        assert_eq!(key.pod.uid, "u-1");

        let parsed = ContainerAnnotations::parse(&container_annotations(&pod, container, 3));
        assert_eq!(parsed.restart_count, Some(3));
        assert_eq!(
            parsed.hash.as_deref(),
            Some(container_hash(container).as_str())
        );
        assert_eq!(parsed.termination_grace_period, Some(30));
        assert_eq!(parsed.deletion_grace_period, Some(5));
        assert_eq!(
            parsed.termination_message_path.as_deref(),
            Some("/dev/termination-log")
        );
        let pre_stop = parsed.pre_stop.unwrap();
        assert_eq!(pre_stop.exec.unwrap().command.unwrap(), ["sleep", "1"]);
    }

    #[test]
    fn hash_is_stable_and_tracks_the_image() {
        let pod = pod();
        let mut container = pod.spec.unwrap().containers[0].clone();
        let before = container_hash(&container);
        // The value is fixed forever: containers started by an older agent must still match.
        assert_eq!(before, container_hash(&container));
        container.args = Some(vec!["-g".into()]);
        assert_eq!(before, container_hash(&container));
        container.image = Some("nginx:1.28".into());
        assert_ne!(before, container_hash(&container));
    }

    #[test]
    fn fnv_matches_the_reference_vectors() {
        let mut hash = Fnv64::new();
        assert_eq!(hash.finish(), 0xcbf2_9ce4_8422_2325);
        hash.write(b"a");
        assert_eq!(hash.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
