#![allow(clippy::unwrap_used)]

use super::*;
use crate::volumes::test_util::{MountSandbox, running_as_root};
use k8s_openapi::api::core::v1::Container;
use serde_json::json;
use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};

struct Objects {
    config_maps: BTreeMap<String, ConfigMap>,
    secrets: BTreeMap<String, Secret>,
    allocatable: BTreeMap<String, Quantity>,
    claims: BTreeMap<String, Result<PathBuf, String>>,
    tokens: BTreeMap<crate::volumes::TokenKey, String>,
}

impl Objects {
    fn new() -> Objects {
        let mut objects = Objects {
            config_maps: BTreeMap::new(),
            secrets: BTreeMap::new(),
            allocatable: BTreeMap::new(),
            claims: BTreeMap::new(),
            tokens: BTreeMap::new(),
        };
        objects.set_config("v1");
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "creds"}, "data": {"password": "aHVudGVyMg=="}
        }))
        .unwrap();
        objects.secrets.insert("creds".into(), secret);
        objects
    }

    fn set_config(&mut self, version: &str) {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "settings"}, "data": {"app.conf": format!("version={version}")}
        }))
        .unwrap();
        self.config_maps.insert("settings".into(), cm);
    }

    fn ctx(&self) -> VolumeContext<'_> {
        VolumeContext {
            config_maps: &self.config_maps,
            secrets: &self.secrets,
            node_allocatable: &self.allocatable,
            claims: &self.claims,
            service_account_tokens: &self.tokens,
        }
    }
}

fn pod(volumes: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
        "spec": {
            "securityContext": {"fsGroup": 2000},
            "containers": [{"name": "app", "image": "app"}],
            "volumes": volumes
        }
    }))
    .unwrap()
}

#[test]
fn config_map_volume_updates_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let mut objects = Objects::new();
    let pod = pod(json!([{"name": "config", "configMap": {"name": "settings"}}]));
    let map = prepare(&pod, dir.path(), &objects.ctx()).unwrap();
    let config = map.get("config").unwrap();
    assert_eq!(config.kind, VolumeKind::ConfigMap);
    assert!(config.read_only);
    assert!(
        config
            .host_path
            .ends_with("volumes/kubernetes.io~configmap/config")
    );
    let file = config.host_path.join("app.conf");
    assert_eq!(fs::read_to_string(&file).unwrap(), "version=v1");
    assert_eq!(fs::metadata(&file).unwrap().gid(), 2000);

    objects.set_config("v2");
    prepare(&pod, dir.path(), &objects.ctx()).unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), "version=v2");
}

#[test]
fn empty_dir_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let pod = pod(json!([{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}]));
    let map = prepare(&pod, dir.path(), &Objects::new().ctx()).unwrap();
    let scratch = map.get("scratch").unwrap();
    let meta = fs::metadata(&scratch.host_path).unwrap();
    assert!(meta.is_dir());
    assert_eq!(meta.gid(), 2000);
    assert_eq!(meta.mode() & 0o7777, 0o2777);
    // A second sync leaves what the containers did alone.
    fs::write(scratch.host_path.join("work"), "x").unwrap();
    prepare(&pod, dir.path(), &Objects::new().ctx()).unwrap();
    assert_eq!(
        fs::read_to_string(scratch.host_path.join("work")).unwrap(),
        "x"
    );
}

#[test]
fn unsupported_and_failing_volumes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let objects = Objects::new();
    let nfs = pod(json!([{"name": "data", "nfs": {"server": "s", "path": "/"}}]));
    let err = prepare(&nfs, dir.path(), &objects.ctx()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "volume \"data\": nfs volumes are not supported yet"
    );
    assert_eq!(err.reason(), "ContainerCreating");

    let file = dir.path().join("plain-file");
    fs::write(&file, "x").unwrap();
    let host = pod(json!([{"name": "host", "hostPath": {"path": file, "type": "Directory"}}]));
    let err = prepare(&host, dir.path(), &objects.ctx()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "volume \"host\": hostPath type check failed: {} is not a directory",
            file.display()
        )
    );
    assert_eq!(err.event_reason(), "FailedMount");

    let missing = pod(json!([{"name": "cfg", "configMap": {"name": "absent"}}]));
    let err = prepare(&missing, dir.path(), &objects.ctx()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "volume \"cfg\": configmap \"absent\" not found"
    );
}

#[test]
fn memory_volumes_are_tmpfs_and_cleanup_removes_everything() {
    if !running_as_root() {
        return;
    }
    let sandbox = MountSandbox::new();
    let pod_dir = sandbox.path().join("pods/u-1");
    let objects = Objects::new();
    let pod = pod(json!([
        {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        {"name": "creds", "secret": {"secretName": "creds", "defaultMode": 0o400}},
        {"name": "meta", "downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}
    ]));
    let map = prepare(&pod, &pod_dir, &objects.ctx()).unwrap();
    for name in ["cache", "creds", "meta"] {
        let path = &map.get(name).unwrap().host_path;
        assert!(
            mountinfo::is_mount_point(path).unwrap(),
            "{name} is not a tmpfs mount"
        );
    }
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let cache = map
        .get("cache")
        .unwrap()
        .host_path
        .to_string_lossy()
        .into_owned();
    let line = mounts.lines().find(|l| l.contains(&cache)).unwrap();
    assert!(line.contains("size=16384k"), "{line}");
    let secret = map.get("creds").unwrap().host_path.join("password");
    assert_eq!(fs::read_to_string(&secret).unwrap(), "hunter2");
    assert_eq!(
        fs::metadata(&secret).unwrap().mode() & 0o7777,
        0o440,
        "0400 plus fsGroup read"
    );
    assert_eq!(
        fs::read_to_string(map.get("meta").unwrap().host_path.join("name")).unwrap(),
        "web"
    );

    // Preparing again mounts nothing twice.
    prepare(&pod, &pod_dir, &objects.ctx()).unwrap();
    let count = mountinfo::mount_points()
        .unwrap()
        .iter()
        .filter(|m| m.starts_with(&pod_dir))
        .count();
    assert_eq!(count, 3);

    cleanup(&pod_dir).unwrap();
    assert!(!pod_dir.exists());
    assert!(mountinfo::mounts_below(sandbox.path()).unwrap().is_empty());
    cleanup(&pod_dir).unwrap();
}

#[test]
fn subpath_link_to_etc_in_an_empty_dir_is_refused() {
    if !running_as_root() {
        return;
    }
    let sandbox = MountSandbox::new();
    let pod_dir = sandbox.path().join("pod");
    let pod = pod(json!([{"name": "scratch", "emptyDir": {}}]));
    let map = prepare(&pod, &pod_dir, &Objects::new().ctx()).unwrap();
    // What a malicious first container could leave behind for the next one.
    symlink("/etc", map.get("scratch").unwrap().host_path.join("conf")).unwrap();
    let container: Container = serde_json::from_value(json!({
        "name": "victim",
        "volumeMounts": [{"name": "scratch", "mountPath": "/conf", "subPath": "conf"}]
    }))
    .unwrap();
    let err = mounts_for(&container, &[], &map, &pod_dir).unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to prepare subPath for volumeMount \"scratch\" of container \"victim\": subPath leads outside the volume"
    );
    assert_eq!(err.reason(), "CreateContainerConfigError");
    assert!(
        !err.to_string().contains("/etc"),
        "no host paths in user-facing messages"
    );
    cleanup(&pod_dir).unwrap();
}

#[test]
fn subpath_mounts_are_bound_and_cleaned_up_without_touching_their_source() {
    if !running_as_root() {
        return;
    }
    let sandbox = MountSandbox::new();
    let host_data = sandbox.dir("host-data");
    fs::write(host_data.join("keep.txt"), "precious").unwrap();
    let pod_dir = sandbox.path().join("pod");
    let pod = pod(json!([
        {"name": "host", "hostPath": {"path": sandbox.path(), "type": "Directory"}},
        {"name": "config", "configMap": {"name": "settings"}}
    ]));
    let map = prepare(&pod, &pod_dir, &Objects::new().ctx()).unwrap();
    let container: Container = serde_json::from_value(json!({
        "name": "app",
        "volumeMounts": [
            {"name": "host", "mountPath": "/data", "subPath": "host-data"},
            {"name": "config", "mountPath": "/etc/app.conf", "subPath": "app.conf"}
        ]
    }))
    .unwrap();
    let mounts = mounts_for(&container, &[], &map, &pod_dir).unwrap();
    let data_target = PathBuf::from(&mounts[0].host_path);
    assert!(data_target.ends_with("volume-subpaths/host/app/0"));
    assert_eq!(
        fs::read_to_string(data_target.join("keep.txt")).unwrap(),
        "precious"
    );
    let conf_target = PathBuf::from(&mounts[1].host_path);
    assert!(conf_target.ends_with("volume-subpaths/config/app/1"));
    assert_eq!(fs::read_to_string(&conf_target).unwrap(), "version=v1");
    assert!(mounts[1].readonly);

    cleanup(&pod_dir).unwrap();
    assert!(!pod_dir.exists());
    assert_eq!(
        fs::read_to_string(host_data.join("keep.txt")).unwrap(),
        "precious"
    );
}

#[test]
fn cleanup_does_not_follow_links_out_of_the_pod_dir() {
    let sandbox = tempfile::tempdir().unwrap();
    let outside = sandbox.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("file"), "keep").unwrap();
    let pod_dir = sandbox.path().join("pod");
    let pod = pod(json!([{"name": "scratch", "emptyDir": {}}]));
    let map = prepare(&pod, &pod_dir, &Objects::new().ctx()).unwrap();
    symlink(&outside, map.get("scratch").unwrap().host_path.join("link")).unwrap();
    cleanup(&pod_dir).unwrap();
    assert!(!pod_dir.exists());
    assert_eq!(fs::read_to_string(outside.join("file")).unwrap(), "keep");
}

#[test]
fn claims_mount_their_volume_directory_or_say_why_they_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut objects = Objects::new();
    let pvc = pod(
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": "www", "readOnly": true}}]),
    );
    let err = prepare(&pvc, dir.path(), &objects.ctx()).unwrap_err();
    assert_eq!(err.reason(), "ContainerCreating");
    objects.claims.insert(
        "www".into(),
        Err("waiting for persistentvolumeclaim \"www\" to be bound".into()),
    );
    let err = prepare(&pvc, dir.path(), &objects.ctx()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "volume \"data\": waiting for persistentvolumeclaim \"www\" to be bound"
    );
    let volume = dir.path().join("pvc-1");
    objects.claims.insert("www".into(), Ok(volume.clone()));
    let map = prepare(&pvc, &dir.path().join("pod"), &objects.ctx()).unwrap();
    let data = map.get("data").unwrap();
    assert_eq!(data.kind, VolumeKind::PersistentVolumeClaim);
    assert_eq!(data.host_path, volume);
    assert!(data.read_only);
}
