#![allow(clippy::unwrap_used)]

use super::*;
use crate::volumes::test_util::{MountSandbox, running_as_root};
use std::os::unix::fs::{PermissionsExt, symlink};

fn relative(subpath: &str) -> PathBuf {
    relative_subpath(subpath).unwrap()
}

#[test]
fn backsteps_and_absolute_paths_are_refused() {
    for bad in ["..", "../x", "a/../../b", "a/..", "/etc", ".", ""] {
        assert!(relative_subpath(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(relative("./a//b/"), Path::new("a/b"));
}

#[test]
fn planted_links_out_of_the_volume_are_refused() {
    if !running_as_root() {
        return;
    }
    let sandbox = MountSandbox::new();
    let volume = sandbox.dir("volume");
    symlink("/etc", volume.join("etc-link")).unwrap();
    symlink("../../../../../../../etc", volume.join("climb")).unwrap();
    fs::create_dir(volume.join("dir")).unwrap();
    symlink("/", volume.join("dir/root")).unwrap();
    symlink("/proc/self/root/etc", volume.join("magic")).unwrap();
    for (index, subpath) in [
        "etc-link",
        "climb",
        "dir/root/etc",
        "etc-link/passwd",
        "magic",
    ]
    .iter()
    .enumerate()
    {
        let target = sandbox.path().join(format!("target/{index}"));
        let failure = bind(&volume, &relative(subpath), &target).unwrap_err();
        assert!(
            failure.reason.contains("outside the volume")
                || failure.reason.contains("cannot be opened"),
            "{subpath}: {}",
            failure.reason
        );
        assert!(
            !mountinfo::is_mount_point(&target).unwrap(),
            "{subpath} got mounted"
        );
    }
}

#[test]
fn links_inside_the_volume_are_followed() {
    if !running_as_root() {
        return;
    }
    let sandbox = MountSandbox::new();
    let volume = sandbox.dir("volume");
    // The atomic writer's layout: key -> ..data/key -> ..<version>/key
    fs::create_dir(volume.join("..v1")).unwrap();
    fs::write(volume.join("..v1/app.conf"), "listen 80").unwrap();
    symlink("..v1", volume.join("..data")).unwrap();
    symlink("..data/app.conf", volume.join("app.conf")).unwrap();

    let target = sandbox.path().join("subpaths/config/app/0");
    bind(&volume, &relative("app.conf"), &target).unwrap();
    assert!(mountinfo::is_mount_point(&target).unwrap());
    assert!(target.is_file());
    assert_eq!(fs::read_to_string(&target).unwrap(), "listen 80");

    // Binding again (a container restart) keeps the one mount.
    bind(&volume, &relative("app.conf"), &target).unwrap();
    let mounts = mountinfo::mount_points().unwrap();
    assert_eq!(mounts.iter().filter(|m| **m == target).count(), 1);
}

#[test]
fn missing_directories_are_created_with_the_volume_mode() {
    if !running_as_root() {
        return;
    }
    let sandbox = MountSandbox::new();
    let volume = sandbox.dir("volume");
    fs::set_permissions(&volume, fs::Permissions::from_mode(0o777)).unwrap();
    let target = sandbox.path().join("subpaths/data/app/1");
    bind(&volume, &relative("logs/app"), &target).unwrap();
    let created = fs::metadata(volume.join("logs/app")).unwrap();
    assert!(created.is_dir());
    assert_eq!(created.permissions().mode() & 0o777, 0o777);
    fs::write(target.join("out.log"), "line").unwrap();
    assert_eq!(
        fs::read_to_string(volume.join("logs/app/out.log")).unwrap(),
        "line"
    );
}

#[test]
fn a_link_swapped_in_after_creation_is_still_refused() {
    if !running_as_root() {
        return;
    }
    let sandbox = MountSandbox::new();
    let volume = sandbox.dir("volume");
    // The container replaced an intermediate directory with a link to the host's root.
    symlink("/", volume.join("data")).unwrap();
    let failure = bind(
        &volume,
        &relative("data/new/dir"),
        &sandbox.path().join("t"),
    )
    .unwrap_err();
    assert!(
        failure.reason.contains("outside the volume"),
        "{}",
        failure.reason
    );
    assert!(!Path::new("/new").exists());
}
