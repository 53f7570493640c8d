//! A pod's volumes on the host, under the pod's directory (upstream's layout):
//!
//! ```text
//! <pod_dir>/volumes/kubernetes.io~empty-dir/<name>      emptyDir (tmpfs for medium Memory)
//! <pod_dir>/volumes/kubernetes.io~configmap/<name>      atomic-writer layout, on disk
//! <pod_dir>/volumes/kubernetes.io~secret/<name>         atomic-writer layout, on tmpfs
//! <pod_dir>/volumes/kubernetes.io~projected/<name>      atomic-writer layout, on tmpfs
//! <pod_dir>/volumes/kubernetes.io~downward-api/<name>   atomic-writer layout, on tmpfs
//! <pod_dir>/volume-subpaths/<volume>/<container>/<n>    subPath bind mounts
//! <pod_dir>/containers/<container>/<attempt>            termination message files
//! ```
//!
//! hostPath volumes are the host path itself. [`prepare`] is idempotent and meant to be called
//! on every pod sync: file-projecting volumes are rewritten atomically when their source
//! objects (or, for downwardAPI, the pod's labels and annotations) change. Mounting needs root.

mod atomic_writer;
mod cleanup;
mod empty_dir;
mod host_path;
mod mountinfo;
mod mounts;
mod ownership;
mod projection;
mod subpath;
#[cfg(test)]
mod test_util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Volume};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::SpecError;

pub use atomic_writer::{FileProjection, Payload, write_payload};
pub use cleanup::cleanup;
pub use mounts::{mounts_for, termination_log_file};

/// What volume preparation needs besides the pod.
#[derive(Clone, Copy, Debug)]
pub struct VolumeContext<'a> {
    /// The pod's ConfigMaps that exist, by name; absent means not found.
    pub config_maps: &'a BTreeMap<String, ConfigMap>,
    /// The pod's Secrets that exist, by name; absent means not found.
    pub secrets: &'a BTreeMap<String, Secret>,
    /// The node's `status.allocatable`, for downwardAPI `resourceFieldRef` without limits.
    pub node_allocatable: &'a BTreeMap<String, Quantity>,
    /// The pod's claims by name: the bound volume's directory on this node, or why the
    /// claim cannot be used yet. The caller resolves claims and creates the directories.
    pub claims: &'a BTreeMap<String, Result<PathBuf, String>>,
    /// Service account tokens issued for the pod, one per projection's audience and
    /// lifetime (see [`token_requests`]); a missing one fails the volume.
    pub service_account_tokens: &'a BTreeMap<TokenKey, String>,
}

/// What a `serviceAccountToken` projection asks the API for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TokenKey {
    /// The audience; empty for the API server's own.
    pub audience: String,
    /// The lifetime asked for, in seconds.
    pub expiration_seconds: i64,
}

/// The lifetime of a projected token that names none (the API's default).
pub const DEFAULT_TOKEN_EXPIRATION_SECONDS: i64 = 3600;

/// Every distinct token the pod's projected volumes need.
pub fn token_requests(pod: &Pod) -> std::collections::BTreeSet<TokenKey> {
    pod.spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| v.projected.as_ref())
        .flat_map(|p| p.sources.iter().flatten())
        .filter_map(|s| s.service_account_token.as_ref())
        .map(|t| TokenKey {
            audience: t.audience.clone().unwrap_or_default(),
            expiration_seconds: t
                .expiration_seconds
                .unwrap_or(DEFAULT_TOKEN_EXPIRATION_SECONDS),
        })
        .collect()
}

/// The kind of a prepared volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeKind {
    /// `emptyDir`.
    EmptyDir,
    /// `hostPath`.
    HostPath,
    /// `configMap`.
    ConfigMap,
    /// `secret`.
    Secret,
    /// `projected`.
    Projected,
    /// `downwardAPI`.
    DownwardApi,
    /// `persistentVolumeClaim`: the bound volume's directory.
    PersistentVolumeClaim,
}

impl VolumeKind {
    /// The plugin directory name under `<pod_dir>/volumes/` (`None` for hostPath and claims,
    /// which are mounted from where they are).
    pub fn plugin_dir(self) -> Option<&'static str> {
        match self {
            VolumeKind::EmptyDir => Some("kubernetes.io~empty-dir"),
            VolumeKind::HostPath => None,
            VolumeKind::ConfigMap => Some("kubernetes.io~configmap"),
            VolumeKind::Secret => Some("kubernetes.io~secret"),
            VolumeKind::Projected => Some("kubernetes.io~projected"),
            VolumeKind::DownwardApi => Some("kubernetes.io~downward-api"),
            VolumeKind::PersistentVolumeClaim => None,
        }
    }
}

/// A volume ready to be mounted into containers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedVolume {
    /// What kind of volume it is.
    pub kind: VolumeKind,
    /// Where it is on the host.
    pub host_path: PathBuf,
    /// Mounted read-only whatever the volumeMount says (the file-projecting kinds).
    pub read_only: bool,
}

/// The pod's prepared volumes by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeMap {
    volumes: BTreeMap<String, PreparedVolume>,
}

impl VolumeMap {
    /// The volume called `name`.
    pub fn get(&self, name: &str) -> Option<&PreparedVolume> {
        self.volumes.get(name)
    }

    /// Adds or replaces a volume.
    pub fn insert(&mut self, name: impl Into<String>, volume: PreparedVolume) {
        self.volumes.insert(name.into(), volume);
    }

    /// All volumes, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &PreparedVolume)> {
        self.volumes
            .iter()
            .map(|(name, volume)| (name.as_str(), volume))
    }
}

/// `<pod_dir>/volumes/<plugin>/<name>`.
pub fn volume_dir(pod_dir: &Path, kind: VolumeKind, name: &str) -> PathBuf {
    let plugin = kind.plugin_dir().unwrap_or("kubernetes.io~host-path");
    pod_dir.join("volumes").join(plugin).join(name)
}

/// Sets up every volume of `pod` under `pod_dir` (creating it) and says where each one is.
/// The first volume that fails stops the work; its error names the volume.
pub fn prepare(pod: &Pod, pod_dir: &Path, ctx: &VolumeContext<'_>) -> Result<VolumeMap, SpecError> {
    std::fs::create_dir_all(pod_dir).map_err(|e| SpecError::io("create directory", pod_dir, e))?;
    let pod_dir =
        std::fs::canonicalize(pod_dir).map_err(|e| SpecError::io("resolve", pod_dir, e))?;
    let mut map = VolumeMap::default();
    for volume in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let prepared =
            prepare_one(pod, &pod_dir, volume, ctx).map_err(|e| e.in_volume(&volume.name))?;
        map.insert(volume.name.clone(), prepared);
    }
    Ok(map)
}

fn prepare_one(
    pod: &Pod,
    pod_dir: &Path,
    volume: &Volume,
    ctx: &VolumeContext<'_>,
) -> Result<PreparedVolume, SpecError> {
    let fs_group = fs_group(pod);
    let dir = |kind| volume_dir(pod_dir, kind, &volume.name);
    let projected = |kind, payload: Payload, on_tmpfs: bool| -> Result<PreparedVolume, SpecError> {
        let host_path = dir(kind);
        empty_dir::setup(&host_path, on_tmpfs, None, None)?;
        write_payload(&host_path, &payload, fs_group)?;
        Ok(PreparedVolume {
            kind,
            host_path,
            read_only: true,
        })
    };
    if let Some(source) = &volume.empty_dir {
        let host_path = dir(VolumeKind::EmptyDir);
        let (memory, size) = empty_dir::medium(source)?;
        empty_dir::setup(&host_path, memory, size, fs_group)?;
        return Ok(PreparedVolume {
            kind: VolumeKind::EmptyDir,
            host_path,
            read_only: false,
        });
    }
    if let Some(source) = &volume.host_path {
        let host_path = host_path::check(source)?;
        return Ok(PreparedVolume {
            kind: VolumeKind::HostPath,
            host_path,
            read_only: false,
        });
    }
    if let Some(source) = &volume.persistent_volume_claim {
        let not_ready = |why: String| SpecError::ClaimNotReady {
            volume: volume.name.clone(),
            why,
        };
        return match ctx.claims.get(&source.claim_name) {
            Some(Ok(path)) => Ok(PreparedVolume {
                kind: VolumeKind::PersistentVolumeClaim,
                host_path: path.clone(),
                read_only: source.read_only.unwrap_or(false),
            }),
            Some(Err(why)) => Err(not_ready(why.clone())),
            None => Err(not_ready(format!(
                "persistentvolumeclaim {:?} not resolved",
                source.claim_name
            ))),
        };
    }
    // Secret material and pod metadata stay in memory, as upstream; ConfigMaps go to disk.
    if let Some(source) = &volume.config_map {
        return projected(
            VolumeKind::ConfigMap,
            projection::config_map_payload(pod, source, ctx)?,
            false,
        );
    }
    if let Some(source) = &volume.secret {
        return projected(
            VolumeKind::Secret,
            projection::secret_payload(pod, source, ctx)?,
            true,
        );
    }
    if let Some(source) = &volume.projected {
        return projected(
            VolumeKind::Projected,
            projection::projected_payload(pod, source, ctx)?,
            true,
        );
    }
    if let Some(source) = &volume.downward_api {
        let mut payload = Payload::new();
        let items = source.items.as_deref().unwrap_or_default();
        projection::downward_api_payload(pod, items, source.default_mode, ctx, &mut payload)?;
        return projected(VolumeKind::DownwardApi, payload, true);
    }
    Err(SpecError::UnsupportedVolume {
        volume: volume.name.clone(),
        kind: source_kind(volume),
    })
}

fn fs_group(pod: &Pod) -> Option<u32> {
    let gid = pod.spec.as_ref()?.security_context.as_ref()?.fs_group?;
    u32::try_from(gid).ok()
}

/// The API name of a volume source closet does not implement.
fn source_kind(volume: &Volume) -> &'static str {
    let kinds: &[(&'static str, bool)] = &[
        (
            "persistentVolumeClaim",
            volume.persistent_volume_claim.is_some(),
        ),
        ("ephemeral", volume.ephemeral.is_some()),
        ("csi", volume.csi.is_some()),
        ("image", volume.image.is_some()),
        ("nfs", volume.nfs.is_some()),
        ("iscsi", volume.iscsi.is_some()),
        ("gitRepo", volume.git_repo.is_some()),
        ("cephfs", volume.cephfs.is_some()),
        ("rbd", volume.rbd.is_some()),
        ("fc", volume.fc.is_some()),
        ("flexVolume", volume.flex_volume.is_some()),
        ("glusterfs", volume.glusterfs.is_some()),
        (
            "awsElasticBlockStore",
            volume.aws_elastic_block_store.is_some(),
        ),
        ("azureDisk", volume.azure_disk.is_some()),
        ("azureFile", volume.azure_file.is_some()),
        ("cinder", volume.cinder.is_some()),
        ("gcePersistentDisk", volume.gce_persistent_disk.is_some()),
        ("vsphereVolume", volume.vsphere_volume.is_some()),
        ("portworxVolume", volume.portworx_volume.is_some()),
        ("quobyte", volume.quobyte.is_some()),
        ("scaleIO", volume.scale_io.is_some()),
        ("storageos", volume.storageos.is_some()),
        (
            "photonPersistentDisk",
            volume.photon_persistent_disk.is_some(),
        ),
        ("flocker", volume.flocker.is_some()),
    ];
    kinds
        .iter()
        .find(|(_, set)| *set)
        .map_or("source-less", |(kind, _)| kind)
}

#[cfg(test)]
mod tests;
