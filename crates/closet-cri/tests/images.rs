//! Imports closet's pause image and test images into a private containerd with `ctr`, sees
//! them through CRI, and runs a pod sandbox on the imported pause image (issue: "Pause image",
//! "Offline images").
//!
//! Needs `containerd`, `runc` and `ctr` (`apt-get install containerd runc`) and root; without
//! them it prints why and passes, so CI, which installs them and runs as root, exercises it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use closet_cri::cri;
use closet_cri::images::{CtrImporter, ImportDir};
use closet_cri::{Containerd, ContainerdConfig, Runtime, RuntimeExt, find_binaries};
use closet_image::spec::ContainerConfig;
use closet_image::{Compression, Entry, ImageBuilder, Layer, OciLayout, Platform};

const MULTI_ARCH: &str = "closet.local/test/multi:1";
const SINGLE: &str = "closet.local/test/single:1";

fn skip_reason() -> Option<String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Err(e) = find_binaries(&path) {
        return Some(e.to_string());
    }
    if let Err(e) = CtrImporter::with_path("/unused", &path) {
        return Some(e.to_string());
    }
    if !rustix::process::geteuid().is_root() {
        return Some("containerd needs root".to_owned());
    }
    None
}

/// A one-file image for `platform`.
fn test_image(platform: Platform, note: &str) -> closet_image::Image {
    let layer = Layer::build(
        [Entry::file("etc/closet-test", 0o644, note.as_bytes())],
        Compression::Gzip,
    )
    .expect("layer");
    ImageBuilder::new(platform)
        .with_config(ContainerConfig {
            cmd: vec!["/bin/true".into()],
            ..ContainerConfig::default()
        })
        .with_layer(layer)
        .build()
        .expect("image")
}

/// A platform other than this machine's, so the index really has a foreign entry.
fn foreign_platform() -> Platform {
    if Platform::host().architecture == "arm64" {
        Platform::linux("amd64")
    } else {
        Platform::linux("arm64")
    }
}

/// Waits until CRI lists every name in `wanted`; CRI learns of imports from containerd's
/// image events, a moment after `ctr` returns.
async fn wait_for_images(cri: &closet_cri::CriClient, wanted: &[&str]) -> Vec<cri::Image> {
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
            "CRI never listed {wanted:?}; it has {tags:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sandbox_config() -> cri::PodSandboxConfig {
    cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: "pause-test".into(),
            uid: "00000000-0000-0000-0000-000000000001".into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        // No hostname: with the host's UTS namespace runc refuses to set one.
        linux: Some(cri::LinuxPodSandboxConfig {
            security_context: Some(cri::LinuxSandboxSecurityContext {
                // The host's network namespace: no CNI plugin is needed.
                namespace_options: Some(cri::NamespaceOption {
                    network: cri::NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The sandbox's PID from CRI's verbose status (`info.info` is containerd's JSON).
fn sandbox_pid(status: &cri::PodSandboxStatusResponse) -> u32 {
    let info = status.info.get("info").expect("verbose info");
    let info: serde_json::Value = serde_json::from_str(info).expect("info JSON");
    let pid = info["pid"].as_u64().expect("pid in info");
    u32::try_from(pid).expect("pid fits u32")
}

/// CAP_SYS_RESOURCE, which lowering a process's `oom_score_adj` needs.
const CAP_SYS_RESOURCE: u32 = 24;

/// Why a sandbox cannot start here, if it cannot: containerd 1.6 gives every sandbox
/// `oom_score_adj` -998, which runc can only set with CAP_SYS_RESOURCE, unless the config
/// turns on `restrict_oom_score_adj` (some VMs and LXC containers withhold the capability).
fn sandbox_skip_reason(config: &ContainerdConfig) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|caps| u64::from_str_radix(caps.trim(), 16).ok())
        .unwrap_or(0);
    let restricted = config
        .render()
        .is_ok_and(|text| text.contains("restrict_oom_score_adj = true"));
    (effective & (1 << CAP_SYS_RESOURCE) == 0 && !restricted).then(|| {
        "this process lacks CAP_SYS_RESOURCE and closet's containerd config does not set \
         restrict_oom_score_adj, so runc cannot give the sandbox its oom_score_adj"
            .to_owned()
    })
}

/// The end of containerd's log, for failure messages.
fn log_tail(config: &ContainerdConfig) -> String {
    let log = std::fs::read_to_string(config.log_path()).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[tokio::test]
async fn imported_images_are_listed_by_cri_and_run_a_sandbox() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping imported_images_are_listed_by_cri_and_run_a_sandbox: {reason}");
        return;
    }
    assert_eq!(
        closet_image::pause::IMAGE,
        closet_cri::DEFAULT_SANDBOX_IMAGE
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ContainerdConfig::new(dir.path().join("agent"));
    let containerd = Containerd::start(config.clone())
        .await
        .expect("start containerd");
    let cri = containerd.client();
    let importer = Arc::new(CtrImporter::new(config.socket_path()).expect("ctr"));

    // The pause image, from memory, as the agent imports it at start.
    let names = importer
        .import_bytes("the pause image", closet_image::pause::archive())
        .await
        .expect("import pause");
    assert_eq!(names, [closet_image::pause::IMAGE]);

    // A gzipped multi-arch archive and a plain single-platform one, through the drop dir.
    let images_dir = config.agent_dir.join("images");
    std::fs::create_dir_all(&images_dir).expect("mkdir images");
    let multi = OciLayout::multi_arch(
        MULTI_ARCH,
        &[
            test_image(Platform::host(), "host"),
            test_image(foreign_platform(), "foreign"),
        ],
    )
    .expect("multi-arch layout");
    let gzipped = {
        use std::io::Write as _;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder
            .write_all(&multi.to_archive().expect("archive"))
            .expect("gzip");
        encoder.finish().expect("gzip")
    };
    std::fs::write(images_dir.join("multi.tar.gz"), gzipped).expect("write");
    let single =
        OciLayout::single(SINGLE, &test_image(Platform::host(), "single")).expect("single layout");
    std::fs::write(
        images_dir.join("single.tar"),
        single.to_archive().expect("archive"),
    )
    .expect("write");
    std::fs::write(images_dir.join("junk.tar"), b"not an image").expect("write");

    let mut watcher = ImportDir::new(&images_dir, importer.clone()).with_settle(Duration::ZERO);
    let report = watcher.scan().await;
    let imported: BTreeSet<String> = report
        .imported
        .iter()
        .flat_map(|i| i.images.clone())
        .collect();
    assert_eq!(
        imported,
        BTreeSet::from([MULTI_ARCH.to_owned(), SINGLE.to_owned()])
    );
    let [(junk, error)] = report.failed.as_slice() else {
        panic!("junk.tar should fail alone: {report:?}")
    };
    assert!(junk.ends_with("junk.tar"));
    assert!(error.contains("junk.tar"), "{error}");
    assert!(watcher.scan().await.imported.is_empty());

    let images = wait_for_images(cri, &[closet_image::pause::IMAGE, MULTI_ARCH, SINGLE]).await;
    let multi_image = images
        .iter()
        .find(|i| i.repo_tags.iter().any(|t| t == MULTI_ARCH))
        .expect("multi-arch image");
    // CRI identifies an image by its config digest: the host platform's config was chosen.
    let host_config = &test_image(Platform::host(), "host").config.digest;
    assert_eq!(&multi_image.id, host_config);

    if let Some(reason) = sandbox_skip_reason(&config) {
        eprintln!("skipping the sandbox half: {reason}");
        containerd.stop().await.expect("stop containerd");
        return;
    }

    // A pod sandbox on the imported pause image; nothing may be pulled.
    let sandbox = cri
        .run_pod_sandbox(cri::RunPodSandboxRequest {
            config: Some(sandbox_config()),
            runtime_handler: String::new(),
        })
        .await
        .unwrap_or_else(|e| panic!("RunPodSandbox: {e:?}\n{}", log_tail(&config)))
        .pod_sandbox_id;
    let status = cri
        .pod_sandbox_status(cri::PodSandboxStatusRequest {
            pod_sandbox_id: sandbox.clone(),
            verbose: true,
        })
        .await
        .expect("PodSandboxStatus");
    assert_eq!(
        status.status.as_ref().map(|s| s.state),
        Some(cri::PodSandboxState::SandboxReady as i32)
    );
    let pid = sandbox_pid(&status);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("sandbox cmdline");
    assert_eq!(cmdline, b"/pause\0", "the sandbox runs closet's pause");
    let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    assert!(
        proc_status.lines().any(|l| l.starts_with("Uid:\t65535\t")),
        "pause runs as 65535: {proc_status}"
    );

    cri.stop_pod_sandbox(cri::StopPodSandboxRequest {
        pod_sandbox_id: sandbox.clone(),
    })
    .await
    .expect("StopPodSandbox");
    cri.remove_pod_sandbox(cri::RemovePodSandboxRequest {
        pod_sandbox_id: sandbox,
    })
    .await
    .expect("RemovePodSandbox");
    assert!(cri.all_sandboxes().await.expect("sandboxes").is_empty());
    containerd.stop().await.expect("stop containerd");
}
