//! The node side of local volumes, run by every agent: the node says where it keeps
//! volumes ([`advertise`]), a pod's claims become directories on the node ([`resolve`],
//! [`ensure_dir`]), and released volumes with reclaim policy `Delete` that live here are
//! removed, directory first ([`reclaim`]).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

use crate::{PROVISIONED_BY, PROVISIONER, ROOT_ANNOTATION, StorageError};

/// How often the agent looks for released volumes to delete.
const RECLAIM_EVERY: Duration = Duration::from_secs(5);

/// `<data-dir>/storage`, given the agent's directory `<data-dir>/agent`.
pub fn storage_root(agent_dir: &Path) -> PathBuf {
    agent_dir.parent().unwrap_or(agent_dir).join("storage")
}

/// Records `root` on the node, where the provisioner reads it.
pub async fn advertise(client: &kube::Client, node: &str, root: &Path) -> Result<(), StorageError> {
    let nodes: Api<Node> = Api::all(client.clone());
    let patch = json!({"metadata": {"annotations": {ROOT_ANNOTATION: root.to_string_lossy()}}});
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(StorageError::api(format!(
            "annotating node {node} with its storage root"
        )))
}

/// The outcome of looking up a pod's claim.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Bound to a volume at this path on the node.
    Ready {
        /// The volume's directory.
        path: PathBuf,
        /// The claim's volume is read-only for the pod.
        read_only: bool,
    },
    /// Not usable yet; the message says why, for the pod's status.
    Waiting(String),
}

/// Follows `claim` in `namespace` to its volume's local path.
pub async fn resolve(
    client: &kube::Client,
    namespace: &str,
    claim: &str,
) -> Result<Claim, StorageError> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let Some(found) = claims
        .get_opt(claim)
        .await
        .map_err(StorageError::api(format!(
            "reading persistentvolumeclaim {claim}"
        )))?
    else {
        return Ok(Claim::Waiting(format!(
            "persistentvolumeclaim {claim:?} not found"
        )));
    };
    if found.metadata.deletion_timestamp.is_some() {
        return Ok(Claim::Waiting(format!(
            "persistentvolumeclaim {claim:?} is being deleted"
        )));
    }
    let bound = found.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    let volume = found
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .unwrap_or_default();
    if !bound || volume.is_empty() {
        return Ok(Claim::Waiting(format!(
            "waiting for persistentvolumeclaim {claim:?} to be bound to a volume"
        )));
    }
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    let Some(pv) = volumes
        .get_opt(&volume)
        .await
        .map_err(StorageError::api(format!(
            "reading persistentvolume {volume}"
        )))?
    else {
        return Ok(Claim::Waiting(format!(
            "persistentvolume {volume:?} not found"
        )));
    };
    let spec = pv.spec.unwrap_or_default();
    let path = spec
        .local
        .map(|l| l.path)
        .or_else(|| spec.host_path.map(|h| h.path));
    Ok(match path {
        Some(path) => Claim::Ready {
            path: PathBuf::from(path),
            read_only: false,
        },
        None => Claim::Waiting(format!(
            "persistentvolume {volume:?} is neither a local nor a hostPath volume"
        )),
    })
}

/// Creates a volume's directory on first use: mode 0777 (any container user may write, as
/// local-path-provisioner), group-owned by `fs_group` when the pod sets one.
pub fn ensure_dir(path: &Path, fs_group: Option<u32>) -> Result<(), StorageError> {
    let io = |action| {
        move |source| StorageError::Io {
            action,
            path: path.display().to_string(),
            source,
        }
    };
    if path.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(io("create directory"))?;
    // The umask narrowed the mode; set it as meant.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777))
        .map_err(io("set mode of"))?;
    if let Some(gid) = fs_group {
        std::os::unix::fs::chown(path, None, Some(gid)).map_err(io("change group of"))?;
    }
    Ok(())
}

/// Whether this node should delete `pv`: a released volume of closet's provisioner with
/// reclaim policy Delete, pinned to `node`, whose directory lies under `root`.
pub fn deletable_here<'a>(pv: &'a PersistentVolume, node: &str, root: &Path) -> Option<&'a str> {
    let ours = pv
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(PROVISIONED_BY))
        == Some(&PROVISIONER.to_owned());
    let released = pv.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Released");
    let spec = pv.spec.as_ref()?;
    let delete = spec.persistent_volume_reclaim_policy.as_deref() == Some("Delete");
    let here = spec
        .node_affinity
        .as_ref()
        .and_then(|a| a.required.as_ref())
        .is_some_and(|r| {
            r.node_selector_terms.iter().any(|t| {
                t.match_expressions.iter().flatten().any(|e| {
                    e.key == "kubernetes.io/hostname"
                        && e.operator == "In"
                        && e.values.iter().flatten().any(|v| v == node)
                })
            })
        });
    let path = spec.local.as_ref().map(|l| l.path.as_str())?;
    // Only directories the provisioner made, directly under the root, are ever removed.
    let inside = Path::new(path).parent() == Some(root)
        && Path::new(path)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("pvc-"));
    (ours && released && delete && here && inside).then_some(path)
}

/// Deletes this node's released `Delete` volumes until `shutdown` resolves.
pub async fn reclaim(
    client: kube::Client,
    node: String,
    root: PathBuf,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let work = async {
        let mut tick = tokio::time::interval(RECLAIM_EVERY);
        loop {
            tick.tick().await;
            if let Err(err) = reclaim_once(&client, &node, &root).await {
                tracing::warn!("deleting released volumes: {}", crate::error_chain(&err));
            }
        }
    };
    tokio::select! {
        () = work => {}
        () = shutdown => {}
    }
}

/// One pass of [`reclaim`].
pub async fn reclaim_once(
    client: &kube::Client,
    node: &str,
    root: &Path,
) -> Result<(), StorageError> {
    let api: Api<PersistentVolume> = Api::all(client.clone());
    let all = api
        .list(&ListParams::default())
        .await
        .map_err(StorageError::api("listing persistentvolumes"))?;
    for pv in &all.items {
        let Some(path) = deletable_here(pv, node, root) else {
            continue;
        };
        let name = pv.metadata.name.clone().unwrap_or_default();
        let dir = PathBuf::from(path);
        let removed = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        removed.map_err(|source| StorageError::Io {
            action: "remove",
            path: dir.display().to_string(),
            source,
        })?;
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {
                tracing::info!(volume = %name, path = %dir.display(), "deleted released volume")
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(err) => {
                return Err(StorageError::api(format!(
                    "deleting persistentvolume {name}"
                ))(err));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pv(phase: &str, policy: &str, node: &str, path: &str) -> PersistentVolume {
        serde_json::from_value(json!({
            "metadata": {"name": "pvc-1", "annotations": {PROVISIONED_BY: PROVISIONER}},
            "spec": {"persistentVolumeReclaimPolicy": policy, "local": {"path": path},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}},
            "status": {"phase": phase},
        }))
        .unwrap()
    }

    #[test]
    fn only_released_delete_volumes_of_this_node_under_the_root_go() {
        let root = Path::new("/data/storage");
        let ok = "/data/storage/pvc-1_ns_c";
        assert_eq!(
            deletable_here(&pv("Released", "Delete", "a", ok), "a", root),
            Some(ok)
        );
        assert_eq!(
            deletable_here(&pv("Bound", "Delete", "a", ok), "a", root),
            None
        );
        assert_eq!(
            deletable_here(&pv("Released", "Retain", "a", ok), "a", root),
            None
        );
        assert_eq!(
            deletable_here(&pv("Released", "Delete", "b", ok), "a", root),
            None
        );
        assert_eq!(
            deletable_here(&pv("Released", "Delete", "a", "/etc"), "a", root),
            None
        );
        assert_eq!(
            deletable_here(&pv("Released", "Delete", "a", "/data/storage/x"), "a", root),
            None
        );
    }

    #[test]
    fn a_new_volume_directory_is_world_writable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pvc-1_ns_c");
        ensure_dir(&path, None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o777);
        ensure_dir(&path, None).unwrap();
    }

    #[test]
    fn the_storage_root_sits_beside_the_agent_directory() {
        assert_eq!(
            storage_root(Path::new("/var/lib/closet/agent")),
            Path::new("/var/lib/closet/storage")
        );
    }
}
