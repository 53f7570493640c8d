//! The pause image: PID 1 of every pod sandbox, built from `pause/pause.c` by this crate's
//! build script and packed for the architecture closet is built for. The agent imports it
//! at start, so pods run on a machine that has never reached a registry.

use crate::layer::{Compression, Entry, Layer};
use crate::spec::{ContainerConfig, Platform};
use crate::{Image, ImageBuilder, ImageError, OciLayout};

/// The reference the agent imports the pause image under and containerd's CRI plugin runs
/// sandboxes from (`sandbox_image`).
pub const IMAGE: &str = "closet.local/pause:1";

/// The static pause executable for the build target.
pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/pause"));

/// Where the executable sits in the image.
pub const PATH: &str = "/pause";

/// The pause image for [`Platform::host`]: one layer holding [`BINARY`] at [`PATH`], run as
/// the same unprivileged user as Kubernetes' own pause image.
pub fn image() -> Result<Image, ImageError> {
    let layer = Layer::build([Entry::file(PATH, 0o755, BINARY)], Compression::Gzip)?;
    ImageBuilder::new(Platform::host())
        .with_config(ContainerConfig {
            entrypoint: vec![PATH.to_owned()],
            user: Some("65535:65535".to_owned()),
            ..ContainerConfig::default()
        })
        .with_layer(layer)
        .build()
}

/// The pause image as an OCI archive named [`IMAGE`], ready for `ctr images import`.
pub fn archive() -> Vec<u8> {
    // Every input is a constant of this crate, and the tests build it, so this cannot fail
    // at run time.
    image()
        .and_then(|image| OciLayout::single(IMAGE, &image))
        .and_then(|layout| layout.to_archive())
        .expect("the pause image is built from constants")
}

#[cfg(test)]
mod tests;
