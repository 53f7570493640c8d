//! Why a pod could not be turned into CRI requests or volumes, in words its owner can act on.

use std::io;
use std::path::PathBuf;

use crate::quantity::QuantityError;

/// Waiting reasons and event reasons the agent reports, as upstream spells them.
pub mod reasons {
    /// Waiting reason: the container's configuration could not be built (a missing ConfigMap
    /// key, a refused subPath, runAsNonRoot violated ...).
    pub const CREATE_CONTAINER_CONFIG_ERROR: &str = "CreateContainerConfigError";
    /// Waiting reason: the runtime refused to create the container (the agent's CRI errors).
    pub const CREATE_CONTAINER_ERROR: &str = "CreateContainerError";
    /// Waiting reason: the image reference cannot be parsed.
    pub const INVALID_IMAGE_NAME: &str = "InvalidImageName";
    /// Waiting reason while the sandbox or the volumes are not ready yet.
    pub const CONTAINER_CREATING: &str = "ContainerCreating";
    /// Event reason: a volume could not be set up.
    pub const FAILED_MOUNT: &str = "FailedMount";
    /// Event reason: the sandbox could not be created.
    pub const FAILED_CREATE_POD_SANDBOX: &str = "FailedCreatePodSandBox";
    /// Event reason: the container could not be created or started.
    pub const FAILED: &str = "Failed";
    /// Event reason: the image reference is unusable.
    pub const INSPECT_FAILED: &str = "InspectFailed";
}

/// Why a pod spec could not be translated, or its volumes prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A ConfigMap the pod needs does not exist (and the reference is not optional).
    #[error("configmap \"{name}\" not found")]
    ConfigMapNotFound {
        /// The ConfigMap's name.
        name: String,
    },
    /// No service account token could be had for a `serviceAccountToken` projection.
    #[error("no service account token for audience {audience:?} could be requested")]
    ServiceAccountToken {
        /// The audience the projection asks for (empty: the API server's own).
        audience: String,
    },
    /// A Secret the pod needs does not exist (and the reference is not optional).
    #[error("secret \"{name}\" not found")]
    SecretNotFound {
        /// The Secret's name.
        name: String,
    },
    /// A ConfigMap exists but lacks a key the pod asks for.
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKeyNotFound {
        /// The pod's namespace.
        namespace: String,
        /// The ConfigMap's name.
        name: String,
        /// The missing key.
        key: String,
    },
    /// A Secret exists but lacks a key the pod asks for.
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKeyNotFound {
        /// The pod's namespace.
        namespace: String,
        /// The Secret's name.
        name: String,
        /// The missing key.
        key: String,
    },
    /// A downward API `fieldRef` names a field that cannot be exposed.
    #[error("unsupported fieldPath {path:?}: {reason}")]
    FieldPath {
        /// The `fieldPath` as written.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A downward API `resourceFieldRef` cannot be resolved.
    #[error("resourceFieldRef {resource:?}: {reason}")]
    ResourceField {
        /// The `resource` as written.
        resource: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A resource quantity in the spec does not parse.
    #[error("invalid quantity {value:?} for {field}")]
    Quantity {
        /// Where the quantity was found, e.g. `resources.limits.memory`.
        field: String,
        /// The text as written.
        value: String,
        /// Why it was refused.
        #[source]
        source: QuantityError,
    },
    /// `runAsNonRoot` is set but the container would run as root, or that cannot be verified.
    #[error("{detail} (pod: \"{pod}\", container: {container})")]
    RunAsNonRoot {
        /// `namespace/name` of the pod.
        pod: String,
        /// The container's name.
        container: String,
        /// What breaks the policy.
        detail: String,
    },
    /// The container's image reference cannot be parsed.
    #[error("invalid image name {image:?}: {reason}")]
    InvalidImageName {
        /// The image as written.
        image: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The pod's hostname, subdomain or FQDN cannot be used.
    #[error("{0}")]
    Hostname(String),
    /// A field holds a value closet does not accept (a propagation mode, a path, a policy).
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidField {
        /// Which field.
        field: String,
        /// The value as written.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The spec asks for something closet cannot do yet.
    #[error("{0} is not supported")]
    Unsupported(String),
    /// A volume kind closet does not implement.
    #[error("volume {volume:?}: {kind} volumes are not supported yet")]
    UnsupportedVolume {
        /// The volume's name.
        volume: String,
        /// The volume source, as the API names it (`persistentVolumeClaim`, `nfs` ...).
        kind: &'static str,
    },
    /// A persistentVolumeClaim volume's claim cannot be used yet (not bound, not found).
    #[error("volume {volume:?}: {why}")]
    ClaimNotReady {
        /// The volume's name.
        volume: String,
        /// Why, for the pod's status.
        why: String,
    },
    /// A volume could not be set up; the inner error says why.
    #[error("volume {volume:?}: {source}")]
    Volume {
        /// The volume's name.
        volume: String,
        /// What went wrong.
        #[source]
        source: Box<SpecError>,
    },
    /// A hostPath exists but is not of the requested `type`.
    #[error("hostPath type check failed: {} is not a {expected}", path.display())]
    HostPathType {
        /// The path on the host.
        path: PathBuf,
        /// What `type` asked for.
        expected: &'static str,
    },
    /// A hostPath of type `Directory`, `File`, `Socket` ... does not exist.
    #[error("hostPath {} does not exist", path.display())]
    HostPathMissing {
        /// The path on the host.
        path: PathBuf,
    },
    /// A volumeMount names a volume the pod does not have.
    #[error("cannot find volume {volume:?} to mount into container {container:?}")]
    MountVolumeMissing {
        /// The volume name in the mount.
        volume: String,
        /// The container's name.
        container: String,
    },
    /// A subPath could not be used safely. Host paths are deliberately left out of the message.
    #[error(
        "failed to prepare subPath for volumeMount {mount:?} of container {container:?}: {reason}"
    )]
    SubPath {
        /// The volumeMount's volume name.
        mount: String,
        /// The container's name.
        container: String,
        /// Why, without host paths.
        reason: String,
        /// The system error, when there was one.
        #[source]
        source: Option<io::Error>,
    },
    /// A host file operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`create directory`, `write` ...).
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The system error.
        #[source]
        source: io::Error,
    },
}

impl SpecError {
    /// The waiting reason a container shows while this error stands: `CreateContainerConfigError`
    /// for configuration problems, `InvalidImageName` for an unusable image reference, and
    /// `ContainerCreating` while volumes or the sandbox cannot be set up (upstream reports
    /// those as events, not as a container state).
    pub fn reason(&self) -> &'static str {
        match self {
            SpecError::InvalidImageName { .. } => reasons::INVALID_IMAGE_NAME,
            SpecError::Volume { .. }
            | SpecError::UnsupportedVolume { .. }
            | SpecError::ClaimNotReady { .. }
            | SpecError::HostPathType { .. }
            | SpecError::HostPathMissing { .. }
            | SpecError::Hostname(_) => reasons::CONTAINER_CREATING,
            _ => reasons::CREATE_CONTAINER_CONFIG_ERROR,
        }
    }

    /// The reason of the Warning event the agent records for this error.
    pub fn event_reason(&self) -> &'static str {
        match self {
            SpecError::InvalidImageName { .. } => reasons::INSPECT_FAILED,
            SpecError::Volume { .. }
            | SpecError::UnsupportedVolume { .. }
            | SpecError::ClaimNotReady { .. }
            | SpecError::HostPathType { .. }
            | SpecError::HostPathMissing { .. } => reasons::FAILED_MOUNT,
            SpecError::Hostname(_) => reasons::FAILED_CREATE_POD_SANDBOX,
            _ => reasons::FAILED,
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SpecError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn in_volume(self, volume: &str) -> Self {
        match self {
            already @ (SpecError::Volume { .. }
            | SpecError::UnsupportedVolume { .. }
            | SpecError::ClaimNotReady { .. }) => already,
            other => SpecError::Volume {
                volume: volume.to_owned(),
                source: Box::new(other),
            },
        }
    }

    pub(crate) fn quantity(field: impl Into<String>, value: &str, source: QuantityError) -> Self {
        SpecError::Quantity {
            field: field.into(),
            value: value.to_owned(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_follow_the_stage() {
        let missing = SpecError::ConfigMapNotFound { name: "cfg".into() };
        assert_eq!(missing.to_string(), "configmap \"cfg\" not found");
        assert_eq!(missing.reason(), "CreateContainerConfigError");
        let in_volume = SpecError::ConfigMapNotFound { name: "cfg".into() }.in_volume("config");
        assert_eq!(
            in_volume.to_string(),
            "volume \"config\": configmap \"cfg\" not found"
        );
        assert_eq!(in_volume.reason(), "ContainerCreating");
        assert_eq!(in_volume.event_reason(), "FailedMount");
        let image = SpecError::InvalidImageName {
            image: "A".into(),
            reason: "x".into(),
        };
        assert_eq!(image.reason(), "InvalidImageName");
    }
}
