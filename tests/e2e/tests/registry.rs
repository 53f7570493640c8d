//! The local test registry: the multi-arch busybox image pushed over the OCI distribution API
//! reads back intact over HTTP, and containerd pulls it through CRI, choosing this machine's
//! platform; the busybox archive imports through `ctr` as the agent's drop directory would.
//!
//! Needs `docker-registry` and `busybox-static`; the containerd half also needs `containerd`,
//! `runc`, `ctr` and root. Missing pieces are printed and the test passes without them.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use closet_cri::images::CtrImporter;
use closet_cri::{
    Containerd, ContainerdConfig, CriClient, Runtime, RuntimeExt, cri, find_binaries,
};
use closet_e2e::images::{
    busybox_archive, busybox_available, busybox_image, busybox_multiarch_layout, other_platform,
};
use closet_e2e::registry::Registry;
use closet_image::spec::{Index, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST, Manifest};
use closet_image::{Platform, sha256_digest};
use hyper::{Method, StatusCode};

fn skip_reason() -> Option<String> {
    if !Registry::available() {
        return Some("no docker-registry (apt-get install docker-registry)".into());
    }
    if !busybox_available() {
        return Some("no /bin/busybox (apt-get install busybox-static)".into());
    }
    None
}

fn containerd_skip_reason() -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Err(e) = find_binaries(&path) {
        return Some(e.to_string());
    }
    if let Err(e) = CtrImporter::with_path("/unused", &path) {
        return Some(e.to_string());
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_owned));
    (uid.as_deref() != Some("0")).then(|| "containerd needs root".to_owned())
}

fn header<'a>(response: &'a hyper::Response<bytes::Bytes>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn a_pushed_multi_arch_image_reads_back_and_containerd_pulls_it() {
    if let Some(reason) = skip_reason() {
        eprintln!(
            "skipping a_pushed_multi_arch_image_reads_back_and_containerd_pulls_it: {reason}"
        );
        return;
    }
    let registry = Registry::start().expect("start docker-registry");
    let layout = busybox_multiarch_layout("closet.local/e2e/busybox:multi");
    let pushed = registry
        .push(&layout, "e2e/busybox:multi")
        .await
        .unwrap_or_else(|e| panic!("push: {e:#}\nregistry log:\n{}", registry.log()));

    // The tag names the index, byte for byte.
    let answer = registry
        .get(Method::GET, "/v2/e2e/busybox/manifests/multi")
        .await
        .expect("GET index");
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(header(&answer, "content-type"), MEDIA_TYPE_INDEX);
    assert_eq!(header(&answer, "docker-content-digest"), pushed);
    assert_eq!(sha256_digest(answer.body()), pushed);
    let index: Index = serde_json::from_slice(answer.body()).expect("index JSON");
    let platforms: Vec<Option<Platform>> =
        index.manifests.iter().map(|d| d.platform.clone()).collect();
    assert_eq!(platforms, [Some(Platform::host()), Some(other_platform())]);

    // Each platform's manifest, config and layer are there too.
    for descriptor in &index.manifests {
        let answer = registry
            .get(
                Method::GET,
                &format!("/v2/e2e/busybox/manifests/{}", descriptor.digest),
            )
            .await
            .expect("GET manifest");
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(header(&answer, "content-type"), MEDIA_TYPE_MANIFEST);
        let manifest: Manifest = serde_json::from_slice(answer.body()).expect("manifest JSON");
        let config = registry
            .get(
                Method::GET,
                &format!("/v2/e2e/busybox/blobs/{}", manifest.config.digest),
            )
            .await
            .expect("GET config");
        let config: serde_json::Value = serde_json::from_slice(config.body()).expect("config");
        let platform = descriptor.platform.as_ref().expect("platform");
        assert_eq!(config["architecture"], platform.architecture.as_str());
        for layer in &manifest.layers {
            let head = registry
                .get(
                    Method::HEAD,
                    &format!("/v2/e2e/busybox/blobs/{}", layer.digest),
                )
                .await
                .expect("HEAD layer");
            assert_eq!(head.status(), StatusCode::OK);
            assert_eq!(header(&head, "content-length"), layer.size.to_string());
        }
    }
    let catalog = registry
        .get(Method::GET, "/v2/_catalog")
        .await
        .expect("catalog");
    let catalog: serde_json::Value = serde_json::from_slice(catalog.body()).expect("catalog");
    assert_eq!(catalog["repositories"], serde_json::json!(["e2e/busybox"]));

    if let Some(reason) = containerd_skip_reason() {
        eprintln!("skipping the containerd half: {reason}");
        return;
    }
    pull_and_import(&registry, &pushed).await;
}

/// containerd pulls the pushed index through CRI and keeps this machine's platform; the
/// single-platform busybox archive imports through `ctr`.
async fn pull_and_import(registry: &Registry, index_digest: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ContainerdConfig::new(dir.path().join("agent"));
    // The test registry speaks plain HTTP; containerd needs to be told, per host.
    let hosts = config.registry_config_dir().join(registry.host());
    std::fs::create_dir_all(&hosts).expect("mkdir certs.d");
    std::fs::write(
        hosts.join("hosts.toml"),
        format!(
            "server = \"http://{0}\"\n\n[host.\"http://{0}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            registry.host()
        ),
    )
    .expect("write hosts.toml");
    let containerd = Containerd::start(config.clone())
        .await
        .expect("start containerd");
    let cri = containerd.client();

    let reference = registry.reference("e2e/busybox:multi");
    let pulled = cri
        .pull_image(cri::PullImageRequest {
            image: Some(cri::ImageSpec {
                image: reference.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("PullImage {reference}: {e:?}\n{}", registry.log()))
        .image_ref;
    let host_config = busybox_image(Platform::host()).config.digest;
    assert_eq!(pulled, host_config, "CRI chose this machine's platform");
    let images = wait_for_tags(cri, &[reference.as_str()]).await;
    let image = images
        .iter()
        .find(|i| i.repo_tags.contains(&reference))
        .expect("pulled image");
    let expected_digest = format!("{}/e2e/busybox@{index_digest}", registry.host());
    assert_eq!(image.repo_digests, [expected_digest]);

    let importer = CtrImporter::new(config.socket_path()).expect("ctr");
    let archive = busybox_archive("closet.local/e2e/busybox:1");
    let names = importer
        .import_bytes("busybox archive", archive)
        .await
        .expect("import");
    assert_eq!(names, ["closet.local/e2e/busybox:1"]);
    wait_for_tags(cri, &["closet.local/e2e/busybox:1"]).await;
    containerd.stop().await.expect("stop containerd");
}

/// Waits until CRI lists every tag in `wanted` (imports reach CRI through image events).
async fn wait_for_tags(cri: &CriClient, wanted: &[&str]) -> Vec<cri::Image> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let images = cri.all_images().await.expect("ListImages");
        let tags: BTreeSet<&str> = images
            .iter()
            .flat_map(|i| i.repo_tags.iter().map(String::as_str))
            .collect();
        if wanted.iter().all(|w| tags.contains(w)) {
            return images;
        }
        assert!(
            Instant::now() < deadline,
            "CRI never listed {wanted:?}: {tags:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
