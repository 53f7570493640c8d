#![allow(clippy::unwrap_used)]

use super::*;
use crate::volumes::{PreparedVolume, VolumeKind};
use serde_json::json;
use std::os::unix::fs::MetadataExt;

fn volumes() -> VolumeMap {
    let mut map = VolumeMap::default();
    map.insert(
        "data",
        PreparedVolume {
            kind: VolumeKind::EmptyDir,
            host_path: "/pods/u/volumes/e/data".into(),
            read_only: false,
        },
    );
    map.insert(
        "config",
        PreparedVolume {
            kind: VolumeKind::ConfigMap,
            host_path: "/pods/u/volumes/c/config".into(),
            read_only: true,
        },
    );
    map
}

fn container(mounts: serde_json::Value) -> Container {
    serde_json::from_value(json!({"name": "app", "volumeMounts": mounts})).unwrap()
}

fn env() -> Vec<cri::KeyValue> {
    vec![
        cri::KeyValue {
            key: "POD".into(),
            value: "web-0".into(),
        },
        cri::KeyValue {
            key: "EMPTY".into(),
            value: String::new(),
        },
    ]
}

#[test]
fn plain_mounts() {
    let mounts = mounts_for(
        &container(json!([
            {"name": "data", "mountPath": "/data"},
            {"name": "data", "mountPath": "/ro", "readOnly": true, "mountPropagation": "HostToContainer"},
            {"name": "config", "mountPath": "/etc/app", "mountPropagation": "None"}
        ])),
        &env(),
        &volumes(),
        Path::new("/nonexistent"),
    )
    .unwrap();
    assert_eq!(mounts.len(), 3);
    assert_eq!(
        (
            mounts[0].container_path.as_str(),
            mounts[0].host_path.as_str()
        ),
        ("/data", "/pods/u/volumes/e/data")
    );
    assert!(!mounts[0].readonly);
    assert!(mounts[1].readonly);
    assert_eq!(
        mounts[1].propagation,
        cri::MountPropagation::PropagationHostToContainer as i32
    );
    // Projected kinds are always read-only.
    assert!(mounts[2].readonly);
    assert_eq!(
        mounts[2].propagation,
        cri::MountPropagation::PropagationPrivate as i32
    );
}

#[test]
fn refusals_name_the_mount_and_container() {
    let missing = mounts_for(
        &container(json!([{"name": "nope", "mountPath": "/x"}])),
        &env(),
        &volumes(),
        Path::new("/"),
    )
    .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "cannot find volume \"nope\" to mount into container \"app\""
    );
    assert_eq!(missing.reason(), "CreateContainerConfigError");

    let backstep = mounts_for(
        &container(json!([{"name": "data", "mountPath": "/x", "subPath": "../../etc"}])),
        &env(),
        &volumes(),
        Path::new("/"),
    )
    .unwrap_err();
    assert_eq!(
        backstep.to_string(),
        "failed to prepare subPath for volumeMount \"data\" of container \"app\": subPath must not contain '..'"
    );

    let expr = mounts_for(
        &container(
            json!([{"name": "data", "mountPath": "/x", "subPathExpr": "$(POD)/$(EMPTY)/$(UNSET)"}]),
        ),
        &env(),
        &volumes(),
        Path::new("/"),
    )
    .unwrap_err();
    assert!(
        expr.to_string()
            .ends_with("subPathExpr: missing value for EMPTY, UNSET"),
        "{expr}"
    );

    let propagation = mounts_for(
        &container(json!([{"name": "data", "mountPath": "/x", "mountPropagation": "Sideways"}])),
        &env(),
        &volumes(),
        Path::new("/"),
    )
    .unwrap_err();
    assert!(
        propagation
            .to_string()
            .starts_with("invalid mountPropagation"),
        "{propagation}"
    );

    let rro = mounts_for(
        &container(json!([{"name": "data", "mountPath": "/x", "readOnly": true, "recursiveReadOnly": "Enabled"}])),
        &env(),
        &volumes(),
        Path::new("/"),
    )
    .unwrap_err();
    assert!(rro.to_string().contains("recursiveReadOnly"), "{rro}");
}

#[test]
fn subpath_expr_expands_from_the_environment() {
    let mount: VolumeMount = serde_json::from_value(
        json!({"name": "data", "mountPath": "/x", "subPathExpr": "logs/$(POD)"}),
    )
    .unwrap();
    assert_eq!(
        subpath_of(&mount, &env()).unwrap().as_deref(),
        Some("logs/web-0")
    );
    let plain: VolumeMount =
        serde_json::from_value(json!({"name": "data", "mountPath": "/x", "subPath": ""})).unwrap();
    assert_eq!(subpath_of(&plain, &env()).unwrap(), None);
}

#[test]
fn termination_log_files_are_world_writable_and_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let file = termination_log_file(dir.path(), "app", 3).unwrap();
    assert_eq!(file, dir.path().join("containers/app/3"));
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o666);
    fs::write(&file, "crashed").unwrap();
    termination_log_file(dir.path(), "app", 3).unwrap();
    assert_eq!(fs::read_to_string(&file).unwrap(), "");
}
