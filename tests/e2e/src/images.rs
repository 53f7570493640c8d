//! Test images built here, from the host's `busybox-static` (`apt-get install busybox-static`),
//! since no internet registry is reachable: a small but complete userland with a shell,
//! `httpd`, `wget`, `nc` and the usual tools, `/etc/passwd` with root and nobody (65534), and
//! a world-writable `/tmp`. Its `wget` resolves names through the pod's resolv.conf with no
//! NSS modules or `nsswitch.conf` in the image: the static glibc (>= 2.34) has the `files`
//! and `dns` lookups built in. Its `wget -T` crashes; tests bound `wget` with `timeout`.
//!
//! [`busybox_archive`] gives an OCI archive for `ctr images import` or the agent's image drop
//! directory; [`busybox_multiarch_layout`] an index listing this machine's platform and one
//! other, for registry pushes. Like the rest of the test support, these panic with a message
//! saying what is missing rather than return errors. The other platform's image holds the same (host) binary: it is
//! there to exercise platform selection, not to run elsewhere.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context as _, bail};
use closet_image::spec::ContainerConfig;
use closet_image::{Compression, Entry, Image, ImageBuilder, Layer, OciLayout, Platform};

/// Where Debian's `busybox-static` installs the binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// The `PATH` the images set.
pub const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The uid and gid of the unprivileged user the images define (`nobody`).
pub const NOBODY: u64 = 65534;

/// Applets the tests rely on; building fails if the host's busybox lacks one.
pub const REQUIRED_APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "sleep", "httpd", "wget", "nc", "tar", "env", "id", "mkdir", "rm",
    "touch", "kill", "ps", "date", "grep", "true", "false", "hostname",
];

/// Whether the host has a busybox to build images from.
pub fn busybox_available() -> bool {
    Path::new(BUSYBOX).is_file()
}

/// The busybox filesystem: the binary, a link for each of its applets at the path busybox
/// itself lists (`bin/sh`, `usr/bin/wget`...), and the files a container expects.
pub fn busybox_entries() -> Vec<Entry> {
    try_busybox_entries().unwrap_or_else(|e| panic!("building the busybox image: {e:#}"))
}

fn try_busybox_entries() -> anyhow::Result<Vec<Entry>> {
    let binary = std::fs::read(BUSYBOX).with_context(|| {
        format!("reading {BUSYBOX}; install it with `apt-get install busybox-static`")
    })?;
    let listing = Command::new(BUSYBOX)
        .arg("--list-full")
        .output()
        .with_context(|| format!("running {BUSYBOX} --list-full"))?;
    if !listing.status.success() {
        bail!("{BUSYBOX} --list-full failed: {}", listing.status);
    }
    let applets: BTreeSet<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|l| l.trim().trim_start_matches('/').to_owned())
        .filter(|l| !l.is_empty() && l != "bin/busybox")
        .collect();
    let names: BTreeSet<&str> = applets
        .iter()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .collect();
    let missing: Vec<&&str> = REQUIRED_APPLETS
        .iter()
        .filter(|a| !names.contains(**a))
        .collect();
    if !missing.is_empty() {
        bail!("{BUSYBOX} lacks the applets {missing:?}");
    }

    let mut entries = vec![Entry::file(BUSYBOX, 0o755, binary)];
    entries.extend(
        applets
            .iter()
            .map(|path| Entry::symlink(path.as_str(), BUSYBOX)),
    );
    entries.extend([
        Entry::file(
            "etc/passwd",
            0o644,
            "root:x:0:0:root:/root:/bin/sh\n\
             nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        Entry::file("etc/group", 0o644, "root:x:0:\nnogroup:x:65534:\n"),
        Entry::file("etc/hostname", 0o644, "busybox\n"),
        Entry::dir("root", 0o700),
        Entry::dir("home", 0o755),
        Entry::dir("tmp", 0o1777),
        Entry::dir("var/tmp", 0o1777),
        Entry::dir("var/www", 0o755),
        Entry::dir("proc", 0o555),
        Entry::dir("sys", 0o555),
        Entry::dir("dev", 0o755),
    ]);
    Ok(entries)
}

/// The busybox layer, built once per test process (gzipping two megabytes is not free).
fn busybox_layer() -> Layer {
    static LAYER: OnceLock<Result<Layer, String>> = OnceLock::new();
    LAYER
        .get_or_init(|| {
            try_busybox_entries()
                .and_then(|entries| Ok(Layer::build(entries, Compression::Gzip)?))
                .map_err(|e| format!("{e:#}"))
        })
        .clone()
        .unwrap_or_else(|e| panic!("building the busybox image: {e}"))
}

/// How the busybox images run by default: `sh` as root, with [`PATH_ENV`].
pub fn busybox_config() -> ContainerConfig {
    ContainerConfig {
        env: vec![PATH_ENV.to_owned()],
        cmd: vec!["sh".to_owned()],
        ..ContainerConfig::default()
    }
}

/// The busybox image for `platform`.
pub fn busybox_image(platform: Platform) -> Image {
    busybox_image_with(platform, Vec::new(), busybox_config())
}

/// The busybox image for `platform` with `extra` files (test binaries, scripts, web pages)
/// in a second layer, run as `config` says.
pub fn busybox_image_with(platform: Platform, extra: Vec<Entry>, config: ContainerConfig) -> Image {
    let mut builder = ImageBuilder::new(platform)
        .with_config(config)
        .with_layer(busybox_layer());
    if !extra.is_empty() {
        let layer = Layer::build(extra, Compression::Gzip)
            .unwrap_or_else(|e| panic!("building the extra layer: {e}"));
        builder = builder.with_layer(layer);
    }
    builder
        .build()
        .unwrap_or_else(|e| panic!("building the busybox image: {e}"))
}

/// An OCI archive of the busybox image for this machine, named `reference`.
pub fn busybox_archive(reference: &str) -> Vec<u8> {
    archive(&single(reference, busybox_image(Platform::host())))
}

/// A layout holding `image` named `reference`.
pub fn single(reference: &str, image: Image) -> OciLayout {
    OciLayout::single(reference, &image)
        .unwrap_or_else(|e| panic!("naming the image {reference:?}: {e}"))
}

/// `layout` as an OCI archive.
pub fn archive(layout: &OciLayout) -> Vec<u8> {
    layout
        .to_archive()
        .unwrap_or_else(|e| panic!("writing the image archive: {e}"))
}

/// A platform that is not this machine's: `arm64`, or `amd64` on arm64 machines.
pub fn other_platform() -> Platform {
    if Platform::host().architecture == "arm64" {
        Platform::linux("amd64")
    } else {
        Platform::linux("arm64")
    }
}

/// The busybox image as a multi-arch index named `reference`: this machine's platform first,
/// then [`other_platform`].
pub fn busybox_multiarch_layout(reference: &str) -> OciLayout {
    let images = [
        busybox_image(Platform::host()),
        busybox_image(other_platform()),
    ];
    OciLayout::multi_arch(reference, &images)
        .unwrap_or_else(|e| panic!("naming the image {reference:?}: {e}"))
}

/// [`busybox_multiarch_layout`] as an OCI archive.
pub fn busybox_multiarch_archive(reference: &str) -> Vec<u8> {
    archive(&busybox_multiarch_layout(reference))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busybox_image_has_the_applets_and_files_tests_need() {
        if !busybox_available() {
            eprintln!("skipping: no {BUSYBOX} (apt-get install busybox-static)");
            return;
        }
        let entries = busybox_entries();
        let paths: BTreeSet<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        for path in ["bin/sh", "etc/passwd", "etc/group", "tmp", BUSYBOX] {
            assert!(paths.contains(path), "{path} missing");
        }
        let tmp = entries.iter().find(|e| e.path == "tmp").expect("tmp");
        assert_eq!(tmp.mode, 0o1777);

        let layout = busybox_multiarch_layout("closet.local/e2e/busybox:1");
        let [entry] = layout.index().manifests.as_slice() else {
            panic!("one image expected")
        };
        let index = layout.image_index(entry).expect("index");
        let platforms: Vec<_> = index.manifests.iter().map(|d| d.platform.clone()).collect();
        assert_eq!(platforms, [Some(Platform::host()), Some(other_platform())]);
        let manifest = layout.manifest(&index.manifests[0]).expect("manifest");
        let config = layout.config(&manifest.config).expect("config");
        assert_eq!(config.config.env, [PATH_ENV]);
    }
}
