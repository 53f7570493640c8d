//! The backend's image, built here from the host's `busybox-static` (no registry is reachable
//! from a benchmark): the busybox binary with links for the few applets the backend's script
//! runs (`sh`, `mkdir`, `hostname`, `httpd`), dropped into the agent's image directory as an
//! OCI archive (the offline import a user without internet takes) and waited for in CRI.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use closet_cri::{CriClient, RuntimeExt};
use closet_image::{Compression, ContainerConfig, Entry, ImageBuilder, Layer, OciLayout, Platform};

/// The image's name in the runtime.
pub(crate) const BUSYBOX: &str = "closet.local/svc-bench/busybox:1";
/// Where Debian's `busybox-static` installs the binary.
const HOST_BUSYBOX: &str = "/bin/busybox";
/// The applets the backend's script runs.
const APPLETS: &[&str] = &["sh", "mkdir", "hostname", "httpd", "sleep"];
/// How long the agent may take to import the archive.
const IMPORT_TIMEOUT: Duration = Duration::from_secs(90);

/// Writes the image archive into `<data_dir>/agent/images` and waits until the runtime at
/// `cri` lists it.
pub(crate) async fn import(data_dir: &Path, cri: &CriClient) -> anyhow::Result<Duration> {
    let archive = archive()?;
    let dir = data_dir.join("agent").join("images");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let partial = dir.join("svc-bench-busybox.tar.partial");
    std::fs::write(&partial, archive).with_context(|| format!("writing {}", partial.display()))?;
    // Dated a minute back, the archive counts as complete at the agent's next scan instead of
    // after two scans that see it unchanged.
    std::fs::File::options()
        .write(true)
        .open(&partial)
        .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(60)))
        .with_context(|| format!("dating {}", partial.display()))?;
    std::fs::rename(&partial, dir.join("svc-bench-busybox.tar"))
        .context("renaming the image archive")?;

    let started = Instant::now();
    loop {
        let images = cri.all_images().await.context("listing images")?;
        if images
            .iter()
            .any(|i| i.repo_tags.iter().any(|t| t == BUSYBOX))
        {
            return Ok(started.elapsed());
        }
        if started.elapsed() > IMPORT_TIMEOUT {
            bail!("the agent did not import {BUSYBOX} within {IMPORT_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The OCI archive of the image.
fn archive() -> anyhow::Result<Vec<u8>> {
    let binary = std::fs::read(HOST_BUSYBOX).with_context(|| {
        format!("reading {HOST_BUSYBOX}; install it with `apt-get install busybox-static`")
    })?;
    let target = HOST_BUSYBOX.trim_start_matches('/');
    let mut entries = vec![Entry::file(target, 0o755, binary)];
    entries.extend(
        APPLETS
            .iter()
            .map(|a| Entry::symlink(format!("bin/{a}"), HOST_BUSYBOX)),
    );
    entries.extend([
        Entry::file("etc/passwd", 0o644, "root:x:0:0:root:/root:/bin/sh\n"),
        Entry::file("etc/group", 0o644, "root:x:0:\n"),
        Entry::dir("tmp", 0o1777),
        Entry::dir("proc", 0o555),
        Entry::dir("sys", 0o555),
        Entry::dir("dev", 0o755),
    ]);
    let layer = Layer::build(entries, Compression::Gzip).context("building the image layer")?;
    let config = ContainerConfig {
        env: vec!["PATH=/bin".to_owned()],
        cmd: vec!["sh".to_owned()],
        ..ContainerConfig::default()
    };
    let image = ImageBuilder::new(Platform::host())
        .with_config(config)
        .with_layer(layer)
        .build()
        .context("building the image")?;
    OciLayout::single(BUSYBOX, &image)
        .and_then(|layout| layout.to_archive())
        .context("writing the image archive")
}
