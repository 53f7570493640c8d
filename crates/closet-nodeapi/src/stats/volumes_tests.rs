//! Walks of real directory trees in a temporary directory.

use std::fs;
use std::io::Write;

use super::*;
use crate::VolumeInfo;

const MIB: u64 = 1 << 20;

/// Writes `len` bytes of data (not a hole) to `path`.
fn write(path: &Path, len: u64) {
    let mut file = fs::File::create(path).unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64);
        file.write_all(&chunk[..n as usize]).unwrap();
        left -= n;
    }
    file.sync_all().unwrap();
}

fn volume(name: &str, path: &Path, claim: Option<&str>) -> VolumeInfo {
    VolumeInfo {
        name: name.into(),
        host_path: path.to_path_buf(),
        claim_name: claim.map(str::to_owned),
    }
}

#[test]
fn files_and_nested_directories_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("a/b")).unwrap();
    write(&root.join("top"), MIB);
    write(&root.join("a/b/deep"), 2 * MIB);
    fs::write(root.join("a/empty"), b"").unwrap();
    let usage = walk(root).unwrap();
    // root, a, a/b, and three files.
    assert_eq!(usage.inodes, 6);
    assert!(usage.bytes >= 3 * MIB, "{usage:?}");
    assert!(usage.bytes < 4 * MIB, "{usage:?}");
}

#[test]
fn holes_count_as_du_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let sparse = fs::File::create(dir.path().join("sparse")).unwrap();
    sparse.set_len(64 * MIB).unwrap();
    let usage = walk(dir.path()).unwrap();
    assert_eq!(usage.inodes, 2);
    assert!(usage.bytes < MIB, "a hole occupies no blocks: {usage:?}");
}

#[test]
fn hard_links_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("sub")).unwrap();
    write(&root.join("file"), 2 * MIB);
    fs::hard_link(root.join("file"), root.join("sub/again")).unwrap();
    fs::hard_link(root.join("file"), root.join("third")).unwrap();
    let usage = walk(root).unwrap();
    assert_eq!(usage.inodes, 3, "root, sub and one file: {usage:?}");
    assert!(usage.bytes >= 2 * MIB && usage.bytes < 4 * MIB, "{usage:?}");
}

#[test]
fn symbolic_links_are_not_followed() {
    let outside = tempfile::tempdir().unwrap();
    write(&outside.path().join("big"), 4 * MIB);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::os::unix::fs::symlink(outside.path(), root.join("to-dir")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("big"), root.join("to-file")).unwrap();
    let usage = walk(root).unwrap();
    assert_eq!(usage.inodes, 3, "root and the two links: {usage:?}");
    assert!(usage.bytes < MIB, "{usage:?}");
}

#[test]
fn a_linked_root_is_measured_where_it_points() {
    let target = tempfile::tempdir().unwrap();
    write(&target.path().join("data"), MIB);
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("volume");
    std::os::unix::fs::symlink(target.path(), &link).unwrap();
    let usage = walk(&link).unwrap();
    assert_eq!(usage.inodes, 2);
    assert!(usage.bytes >= MIB, "{usage:?}");
}

#[test]
fn a_missing_root_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = walk(&dir.path().join("gone")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn the_filesystem_is_described_by_statvfs() {
    let dir = tempfile::tempdir().unwrap();
    let fs = filesystem(dir.path()).unwrap();
    assert!(fs.capacity > 0 && fs.available <= fs.capacity, "{fs:?}");
    assert!(
        fs.used <= fs.capacity && fs.inodes_free <= fs.inodes,
        "{fs:?}"
    );
    let node = node_fs(dir.path()).unwrap();
    assert_eq!(node.capacity_bytes, Some(fs.capacity));
    assert!(node_fs(&dir.path().join("gone")).is_none());
}

#[test]
fn walks_are_reused_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let scratch = dir.path().join("scratch");
    fs::create_dir(&data).unwrap();
    fs::create_dir(&scratch).unwrap();
    let volumes = [
        volume("www", &data, Some("www-web-0")),
        volume("cache", &scratch, None),
        volume("gone", &dir.path().join("gone"), None),
    ];
    let meter = VolumeMeter::default();
    let t0 = Instant::now();
    let first = meter.measure("shop", &volumes, t0);
    assert_eq!(first.len(), 2, "the vanished volume is left out: {first:?}");
    assert_eq!(first[0].name, "www");
    assert_eq!(
        first[0].pvc_ref,
        Some(PvcReference {
            name: "www-web-0".into(),
            namespace: "shop".into()
        })
    );
    assert_eq!(first[1].pvc_ref, None);
    assert_eq!(first[0].fs.inodes_used, Some(1));
    let capacity = first[0].fs.capacity_bytes.unwrap();
    assert!(capacity > first[0].fs.used_bytes.unwrap());

    write(&data.join("f"), 2 * MIB);
    let cached = meter.measure("shop", &volumes, t0 + Duration::from_secs(1));
    assert_eq!(cached[0].fs.used_bytes, first[0].fs.used_bytes);
    assert_eq!(cached[0].fs.inodes_used, Some(1));

    let later = meter.measure("shop", &volumes, t0 + USAGE_TTL);
    assert_eq!(later[0].fs.inodes_used, Some(2));
    assert!(later[0].fs.used_bytes.unwrap() >= 2 * MIB, "{later:?}");
}

#[tokio::test]
async fn fill_measures_the_pods_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir.path().join("f"), MIB);
    let listed = vec![PodInfo {
        namespace: "shop".into(),
        name: "web-0".into(),
        uid: "u".into(),
        sandbox_id: "s".into(),
        containers: Vec::new(),
        volumes: vec![volume("www", dir.path(), Some("www-web-0"))],
    }];
    let mut pods = vec![PodStats {
        pod_ref: crate::summary::PodReference {
            name: "web-0".into(),
            namespace: "shop".into(),
            uid: "u".into(),
        },
        ..Default::default()
    }];
    let node = fill(
        Arc::default(),
        &mut pods,
        &listed,
        Some(dir.path().to_path_buf()),
    )
    .await;
    assert!(node.unwrap().capacity_bytes.is_some());
    assert_eq!(pods[0].volumes.len(), 1);
    assert!(pods[0].volumes[0].fs.used_bytes.unwrap() >= MIB);
}
