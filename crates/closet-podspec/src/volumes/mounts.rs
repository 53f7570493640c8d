//! A container's volumeMounts → CRI mounts (upstream's `makeMounts`), and its termination
//! message file.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use closet_cri::cri;
use k8s_openapi::api::core::v1::{Container, VolumeMount};

use crate::SpecError;
use crate::expansion;
use crate::volumes::{VolumeMap, subpath};

/// The CRI mounts for `container`'s volumeMounts, in order. `env` is the container's resolved
/// environment, which `subPathExpr` expands against. A subPath is bind-mounted (safely, see
/// the `subpath` module) under `<pod_dir>/volume-subpaths/` and that path is what the runtime
/// mounts.
pub fn mounts_for(
    container: &Container,
    env: &[cri::KeyValue],
    volumes: &VolumeMap,
    pod_dir: &Path,
) -> Result<Vec<cri::Mount>, SpecError> {
    let mut mounts = Vec::new();
    let mut pod_dir_canonical: Option<PathBuf> = None;
    for (index, mount) in container.volume_mounts.iter().flatten().enumerate() {
        let volume = volumes
            .get(&mount.name)
            .ok_or_else(|| SpecError::MountVolumeMissing {
                volume: mount.name.clone(),
                container: container.name.clone(),
            })?;
        let subpath_error = |failure: subpath::Failure| SpecError::SubPath {
            mount: mount.name.clone(),
            container: container.name.clone(),
            reason: failure.reason,
            source: failure.source,
        };
        let mut host_path = volume.host_path.clone();
        if let Some(subpath) = subpath_of(mount, env).map_err(subpath_error)? {
            let relative = subpath::relative_subpath(&subpath).map_err(subpath_error)?;
            let pod_dir = match &pod_dir_canonical {
                Some(dir) => dir.clone(),
                None => {
                    let dir = fs::canonicalize(pod_dir)
                        .map_err(|e| SpecError::io("resolve", pod_dir, e))?;
                    pod_dir_canonical = Some(dir.clone());
                    dir
                }
            };
            let target = pod_dir
                .join("volume-subpaths")
                .join(&mount.name)
                .join(&container.name)
                .join(index.to_string());
            subpath::bind(&volume.host_path, &relative, &target).map_err(subpath_error)?;
            host_path = target;
        }
        mounts.push(cri::Mount {
            container_path: mount.mount_path.clone(),
            host_path: host_path.to_string_lossy().into_owned(),
            readonly: mount.read_only.unwrap_or(false) || volume.read_only,
            propagation: propagation(mount)? as i32,
            recursive_read_only: recursive_read_only(mount)?,
            ..Default::default()
        });
    }
    Ok(mounts)
}

/// The mount's subPath: `subPath`, or `subPathExpr` expanded; `None` for the whole volume.
/// Like upstream, a variable that is unset or empty makes `subPathExpr` fail rather than
/// silently mount the volume root.
fn subpath_of(
    mount: &VolumeMount,
    env: &[cri::KeyValue],
) -> Result<Option<String>, subpath::Failure> {
    if let Some(expr) = mount.sub_path_expr.as_deref().filter(|e| !e.is_empty()) {
        let vars: HashMap<&str, &str> = env
            .iter()
            .map(|kv| (kv.key.as_str(), kv.value.as_str()))
            .collect();
        let mut missing = BTreeSet::new();
        let expanded = expansion::expand(expr, |name| match vars.get(name) {
            Some(value) if !value.is_empty() => (*value).to_owned(),
            _ => {
                missing.insert(name.to_owned());
                String::new()
            }
        });
        if !missing.is_empty() {
            let names: Vec<String> = missing.into_iter().collect();
            return Err(subpath::Failure {
                reason: format!("subPathExpr: missing value for {}", names.join(", ")),
                source: None,
            });
        }
        return Ok(Some(expanded));
    }
    Ok(mount.sub_path.clone().filter(|s| !s.is_empty()))
}

fn propagation(mount: &VolumeMount) -> Result<cri::MountPropagation, SpecError> {
    match mount.mount_propagation.as_deref() {
        None | Some("None") => Ok(cri::MountPropagation::PropagationPrivate),
        Some("HostToContainer") => Ok(cri::MountPropagation::PropagationHostToContainer),
        Some("Bidirectional") => Ok(cri::MountPropagation::PropagationBidirectional),
        Some(other) => Err(SpecError::InvalidField {
            field: "mountPropagation".into(),
            value: other.into(),
            reason: "must be None, HostToContainer or Bidirectional".into(),
        }),
    }
}

/// containerd 1.6 cannot make mounts recursively read-only, so `IfPossible` means no and
/// `Enabled` is refused, as upstream does on such a runtime.
fn recursive_read_only(mount: &VolumeMount) -> Result<bool, SpecError> {
    match mount.recursive_read_only.as_deref() {
        None | Some("Disabled" | "IfPossible") => Ok(false),
        Some("Enabled") => Err(SpecError::Unsupported(format!(
            "recursiveReadOnly: Enabled (volumeMount {:?}) on this runtime",
            mount.name
        ))),
        Some(other) => Err(SpecError::InvalidField {
            field: "recursiveReadOnly".into(),
            value: other.into(),
            reason: "must be Disabled, IfPossible or Enabled".into(),
        }),
    }
}

/// Creates (empty) `<pod_dir>/containers/<container>/<attempt>`, world-writable so any user
/// the container runs as can write its termination message, and returns its path.
pub fn termination_log_file(
    pod_dir: &Path,
    container: &str,
    attempt: u32,
) -> Result<PathBuf, SpecError> {
    let dir = pod_dir.join("containers").join(container);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(&dir)
        .map_err(|e| SpecError::io("create directory", &dir, e))?;
    let file = dir.join(attempt.to_string());
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o666)
        .open(&file)
        .map_err(|e| SpecError::io("create", &file, e))?;
    // The umask narrowed the mode at creation.
    fs::set_permissions(&file, fs::Permissions::from_mode(0o666))
        .map_err(|e| SpecError::io("set permissions of", &file, e))?;
    Ok(file)
}

#[cfg(test)]
mod tests;
