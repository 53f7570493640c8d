use super::*;
use crate::layer::{Compression, Entry, Layer};
use crate::spec::{ContainerConfig, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_GZIP, Platform};
use crate::{ImageBuilder, sha256_digest};

fn image(platform: Platform) -> Image {
    let layer = Layer::build(
        [
            Entry::file("bin/hello", 0o755, "#!/bin/sh\necho hi\n"),
            Entry::dir("tmp", 0o1777),
        ],
        Compression::Gzip,
    )
    .expect("layer");
    ImageBuilder::new(platform)
        .with_config(ContainerConfig {
            cmd: vec!["/bin/hello".into()],
            ..ContainerConfig::default()
        })
        .with_layer(layer)
        .build()
        .expect("image")
}

/// (name, entry type, content) of every entry in a tar, in order.
fn entries(archive: &[u8]) -> Vec<(String, tar::EntryType, Vec<u8>)> {
    let mut tar = tar::Archive::new(archive);
    tar.entries()
        .expect("entries")
        .map(|entry| {
            let mut entry = entry.expect("entry");
            let name = entry.path().expect("path").to_string_lossy().into_owned();
            let kind = entry.header().entry_type();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).expect("read");
            (name, kind, data)
        })
        .collect()
}

/// A tar of regular files, for archives that closet would never write.
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        append_file(&mut builder, name, data).expect("append");
    }
    builder.into_inner().expect("finish")
}

#[test]
fn a_single_image_archive_has_the_layout_files_and_names() {
    let image = image(Platform::linux("amd64"));
    let layout = OciLayout::single("closet.local/pause:1", &image).expect("layout");
    let archive = layout.to_archive().expect("archive");

    let entries = entries(&archive);
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        &names[..4],
        ["oci-layout", "index.json", "blobs/", "blobs/sha256/"]
    );
    assert_eq!(
        names.len(),
        4 + 3,
        "layer, config and manifest blobs: {names:?}"
    );
    assert_eq!(entries[0].2, br#"{"imageLayoutVersion":"1.0.0"}"#);
    for (name, kind, data) in &entries[4..] {
        assert_eq!(*kind, tar::EntryType::Regular);
        let hex = name.strip_prefix("blobs/sha256/").expect("blob path");
        assert_eq!(sha256_digest(data), format!("sha256:{hex}"));
    }

    let index: Index = serde_json::from_slice(&entries[1].2).expect("index.json");
    assert_eq!(index.schema_version, 2);
    let [entry] = index.manifests.as_slice() else {
        panic!("one entry expected: {index:?}")
    };
    assert_eq!(entry.media_type, MEDIA_TYPE_MANIFEST);
    assert_eq!(entry.digest, image.manifest.digest);
    assert_eq!(entry.size, image.manifest.data.len() as u64);
    assert_eq!(entry.platform, Some(Platform::linux("amd64")));
    assert_eq!(entry.image_name(), Some("closet.local/pause:1"));
    assert_eq!(entry.annotations[ANNOTATION_REF_NAME], "1");

    let read = OciLayout::from_archive(&archive).expect("read back");
    assert_eq!(read, layout);
    let manifest = read.manifest(entry).expect("manifest");
    assert_eq!(manifest.config.media_type, MEDIA_TYPE_CONFIG);
    assert_eq!(manifest.layers[0].media_type, MEDIA_TYPE_LAYER_GZIP);
    let config = read.config(&manifest.config).expect("config");
    assert_eq!(config.config.cmd, ["/bin/hello"]);
    assert_eq!(
        read.blob(&manifest.layers[0].digest)
            .map(|b| b.data.len() as u64),
        Some(manifest.layers[0].size)
    );
}

#[test]
fn a_multi_arch_archive_names_an_index_of_platform_manifests() {
    let images = [
        image(Platform::linux("amd64")),
        image(Platform::linux("arm64")),
        image(Platform::linux("arm").with_variant("v7")),
    ];
    let layout = OciLayout::multi_arch("busybox:e2e", &images).expect("layout");
    let archive = layout.to_archive().expect("archive");
    let read = OciLayout::from_archive(&archive).expect("read back");
    assert_eq!(read, layout);

    let [entry] = read.index().manifests.as_slice() else {
        panic!("one entry expected")
    };
    assert_eq!(entry.media_type, MEDIA_TYPE_INDEX);
    assert_eq!(entry.platform, None);
    assert_eq!(entry.image_name(), Some("docker.io/library/busybox:e2e"));
    assert_eq!(entry.annotations[ANNOTATION_REF_NAME], "e2e");

    let index = read.image_index(entry).expect("nested index");
    let platforms: Vec<String> = index
        .manifests
        .iter()
        .map(|d| {
            d.platform
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64", "linux/arm/v7"]);
    for (descriptor, image) in index.manifests.iter().zip(&images) {
        assert_eq!(descriptor.digest, image.manifest.digest);
        let config = read.config(&read.manifest(descriptor).expect("manifest").config);
        assert_eq!(
            config.expect("config").architecture,
            image.platform.architecture
        );
    }
    // Same layer for every platform, stored once: 1 layer + 3 configs + 3 manifests + index.
    assert_eq!(read.blobs().count(), 8);
}

#[test]
fn archives_are_reproducible_and_readable_gzipped() {
    let build = || {
        let mut layout = OciLayout::new();
        layout
            .add_image("closet.local/a:1", &image(Platform::host()))
            .expect("add");
        layout
            .add_multi_arch("closet.local/b:1", &[image(Platform::linux("riscv64"))])
            .expect("add");
        layout.to_archive().expect("archive")
    };
    let archive = build();
    assert_eq!(archive, build());
    let gzipped = crate::layer::gzip(&archive).expect("gzip");
    let read = OciLayout::from_archive(&gzipped).expect("read gzipped");
    let names: Vec<_> = read
        .index()
        .manifests
        .iter()
        .map(|d| d.image_name())
        .collect();
    assert_eq!(names, [Some("closet.local/a:1"), Some("closet.local/b:1")]);
}

#[test]
fn adding_a_name_again_replaces_the_entry() {
    let mut layout = OciLayout::new();
    layout
        .add_image("closet.local/x:1", &image(Platform::linux("amd64")))
        .expect("add");
    let second = layout
        .add_image("closet.local/x:1", &image(Platform::linux("arm64")))
        .expect("add");
    assert_eq!(layout.index().manifests, [second]);
}

#[test]
fn bad_inputs_are_refused() {
    let images = [image(Platform::host()), image(Platform::host())];
    let err = OciLayout::multi_arch("x:1", &images).expect_err("duplicate platform");
    assert!(matches!(err, ImageError::DuplicatePlatform(_)), "{err}");
    assert!(OciLayout::multi_arch("x:1", &[]).is_err());
    assert!(OciLayout::single("Not A Reference", &images[0]).is_err());
}

#[test]
fn damaged_archives_are_refused() {
    let layout = OciLayout::single("x:1", &image(Platform::host())).expect("layout");
    let good = entries(&layout.to_archive().expect("archive"));
    let files: Vec<(&str, &[u8])> = good
        .iter()
        .filter(|e| e.1 == tar::EntryType::Regular)
        .map(|e| (e.0.as_str(), e.2.as_slice()))
        .collect();

    let mut flipped: Vec<(&str, Vec<u8>)> = files.iter().map(|(n, d)| (*n, d.to_vec())).collect();
    if let Some(last) = flipped.last_mut().and_then(|f| f.1.last_mut()) {
        *last ^= 1;
    }
    let flipped: Vec<(&str, &[u8])> = flipped.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    let err = OciLayout::from_archive(&tar_of(&flipped)).expect_err("flipped byte");
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");

    let without_last = &files[..files.len() - 1];
    let err = OciLayout::from_archive(&tar_of(without_last)).expect_err("missing blob");
    assert!(matches!(err, ImageError::MissingBlob(_)), "{err}");

    let mut old_version = files.clone();
    old_version[0].1 = br#"{"imageLayoutVersion":"0.9"}"#;
    let err = OciLayout::from_archive(&tar_of(&old_version)).expect_err("version");
    assert!(matches!(err, ImageError::LayoutVersion(_)), "{err}");

    let err = OciLayout::from_archive(&tar_of(&files[1..])).expect_err("no oci-layout");
    assert!(
        matches!(err, ImageError::MissingFile("oci-layout")),
        "{err}"
    );

    assert!(OciLayout::from_archive(b"not a tar at all, far too short").is_err());
}
