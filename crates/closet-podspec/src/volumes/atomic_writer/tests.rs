#![allow(clippy::unwrap_used)]

use super::*;
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn file(data: &str, mode: u32) -> FileProjection {
    FileProjection {
        data: data.as_bytes().to_vec(),
        mode,
    }
}

fn payload(files: &[(&str, &str)]) -> Payload {
    files
        .iter()
        .map(|(path, data)| ((*path).to_owned(), file(data, 0o644)))
        .collect()
}

fn read(target: &Path, name: &str) -> String {
    fs::read_to_string(target.join(name)).unwrap()
}

fn version_dirs(target: &Path) -> Vec<String> {
    fs::read_dir(target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("..") && name != DATA_DIR)
        .collect()
}

#[test]
fn first_write_lays_out_versions_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path();
    let mut files = payload(&[("config.yaml", "a: 1\n"), ("sub/inner.txt", "inner")]);
    files.insert("secret".into(), file("s3cr3t", 0o400));
    assert!(write_payload(target, &files, None).unwrap());

    let data = fs::read_link(target.join(DATA_DIR)).unwrap();
    assert!(data.to_string_lossy().starts_with("..2"), "{data:?}");
    assert_eq!(
        fs::read_link(target.join("config.yaml")).unwrap(),
        Path::new("..data/config.yaml")
    );
    assert_eq!(
        fs::read_link(target.join("sub")).unwrap(),
        Path::new("..data/sub")
    );
    assert_eq!(read(target, "config.yaml"), "a: 1\n");
    assert_eq!(read(target, "sub/inner.txt"), "inner");
    assert_eq!(
        fs::metadata(target.join("secret")).unwrap().mode() & 0o7777,
        0o400
    );
    assert_eq!(version_dirs(target).len(), 1);
}

#[test]
fn unchanged_payload_is_not_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let files = payload(&[("a", "1"), ("./b//c", "2")]);
    assert!(write_payload(dir.path(), &files, None).unwrap());
    let before = fs::read_link(dir.path().join(DATA_DIR)).unwrap();
    assert!(!write_payload(dir.path(), &files, None).unwrap());
    assert_eq!(fs::read_link(dir.path().join(DATA_DIR)).unwrap(), before);
    // A visible link lost in a crash is put back.
    fs::remove_file(dir.path().join("a")).unwrap();
    assert!(!write_payload(dir.path(), &files, None).unwrap());
    assert_eq!(read(dir.path(), "a"), "1");
}

#[test]
fn update_keeps_the_old_files_readable_until_the_swap() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path();
    write_payload(target, &payload(&[("keep", "old"), ("gone", "bye")]), None).unwrap();
    let old_version = fs::read_link(target.join(DATA_DIR)).unwrap();
    let held = fs::File::open(target.join("keep")).unwrap();

    let mut seen_in_hook = None;
    let changed = write_with_hook(
        target,
        &payload(&[("keep", "new"), ("added", "hi")]),
        None,
        |new_dir| {
            // The new version is complete on disk, but readers still see the old one.
            seen_in_hook = Some((
                fs::read_to_string(new_dir.join("keep")).unwrap(),
                read(target, "keep"),
                read(target, "gone"),
            ));
        },
    )
    .unwrap();
    assert!(changed);
    assert_eq!(
        seen_in_hook.unwrap(),
        ("new".into(), "old".into(), "bye".into())
    );

    assert_eq!(read(target, "keep"), "new");
    assert_eq!(read(target, "added"), "hi");
    assert!(
        fs::symlink_metadata(target.join("gone")).is_err(),
        "removed names lose their link"
    );
    assert!(
        !target.join(&old_version).exists(),
        "the old version is deleted"
    );
    assert_eq!(version_dirs(target).len(), 1);
    // A process that opened the old file keeps reading the old contents.
    assert_eq!(io::read_to_string(held).unwrap(), "old");
}

#[test]
fn readers_never_see_a_mix() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().to_path_buf();
    let a = "A".repeat(64 * 1024);
    let b = "B".repeat(64 * 1024);
    write_payload(&target, &payload(&[("f", &a)]), None).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (target, stop, a, b) = (target.clone(), stop.clone(), a.clone(), b.clone());
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !stop.load(Ordering::Relaxed) {
                // Between the swap and the old directory's removal a lookup can race to
                // "not found"; what must never happen is a torn or mixed file.
                if let Ok(content) = fs::read_to_string(target.join("f")) {
                    assert!(
                        content == a || content == b,
                        "torn read of {} bytes",
                        content.len()
                    );
                    reads += 1;
                }
            }
            reads
        })
    };
    for round in 0..200 {
        let content = if round % 2 == 0 { &b } else { &a };
        write_payload(&target, &payload(&[("f", content)]), None).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}

#[test]
fn unsafe_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        "",
        "/etc/passwd",
        "../escape",
        "a/../../b",
        "..data",
        "..hidden/x",
        ".",
        &"n".repeat(256),
    ] {
        let err = write_payload(dir.path(), &payload(&[(bad, "x")]), None).unwrap_err();
        assert!(
            matches!(err, SpecError::InvalidField { .. }),
            "{bad:?}: {err}"
        );
    }
    assert!(!dir.path().join(DATA_DIR).exists());
}

#[test]
fn fs_group_owns_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Payload::new();
    files.insert("key".into(), file("v", 0o400));
    write_payload(dir.path(), &files, Some(3333)).unwrap();
    let meta = fs::metadata(dir.path().join("key")).unwrap();
    assert_eq!(meta.gid(), 3333);
    assert_eq!(meta.mode() & 0o7777, 0o440);
    // Same payload, same group: recognised as unchanged.
    assert!(!write_payload(dir.path(), &files, Some(3333)).unwrap());
}
