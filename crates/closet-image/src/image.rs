//! One platform's image: layers, the config that lists their diff ids, and the manifest
//! that ties them together.

use std::collections::BTreeMap;

use crate::ImageError;
use crate::layer::{Blob, Layer};
use crate::spec::{
    ContainerConfig, Descriptor, ImageConfig, MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST, Manifest,
    Platform, RootFs,
};

/// Assembles an [`Image`] for one platform.
#[derive(Clone, Debug)]
pub struct ImageBuilder {
    platform: Platform,
    config: ContainerConfig,
    layers: Vec<Layer>,
}

impl ImageBuilder {
    /// An image for `platform` with no layers and an empty run config.
    pub fn new(platform: Platform) -> Self {
        Self {
            platform,
            config: ContainerConfig::default(),
            layers: Vec::new(),
        }
    }

    /// Sets how a container from the image runs (entrypoint, cmd, env, user...).
    pub fn with_config(mut self, config: ContainerConfig) -> Self {
        self.config = config;
        self
    }

    /// Adds a layer on top of the ones already added.
    pub fn with_layer(mut self, layer: Layer) -> Self {
        self.layers.push(layer);
        self
    }

    /// Writes the config and manifest blobs.
    pub fn build(self) -> Result<Image, ImageError> {
        if self.layers.is_empty() {
            return Err(ImageError::Empty("an image needs at least one layer"));
        }
        let config = ImageConfig {
            architecture: self.platform.architecture.clone(),
            os: self.platform.os.clone(),
            variant: self.platform.variant.clone(),
            config: self.config,
            rootfs: RootFs {
                kind: "layers".to_owned(),
                diff_ids: self.layers.iter().map(|l| l.diff_id.clone()).collect(),
            },
        };
        let config = Blob::new(MEDIA_TYPE_CONFIG, to_json("image config", &config)?);
        let layers: Vec<Blob> = self.layers.into_iter().map(|l| l.blob).collect();
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_MANIFEST.to_owned()),
            config: config.descriptor(),
            layers: layers.iter().map(Blob::descriptor).collect(),
            annotations: BTreeMap::new(),
        };
        let manifest = Blob::new(MEDIA_TYPE_MANIFEST, to_json("manifest", &manifest)?);
        Ok(Image {
            platform: self.platform,
            manifest,
            config,
            layers,
        })
    }
}

/// A built single-platform image: every blob it consists of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// The platform it runs on.
    pub platform: Platform,
    /// The manifest blob.
    pub manifest: Blob,
    /// The config blob.
    pub config: Blob,
    /// The layer blobs, bottom first.
    pub layers: Vec<Blob>,
}

impl Image {
    /// The manifest's descriptor, with the platform, as an index lists it.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            platform: Some(self.platform.clone()),
            ..self.manifest.descriptor()
        }
    }

    /// Every blob: layers, config, then manifest (the order a registry push needs).
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        self.layers.iter().chain([&self.config, &self.manifest])
    }
}

pub(crate) fn to_json(what: &str, value: &impl serde::Serialize) -> Result<Vec<u8>, ImageError> {
    serde_json::to_vec(value).map_err(|source| ImageError::Json {
        what: what.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::{Compression, Entry};
    use crate::sha256_digest;

    #[test]
    fn config_and_manifest_point_at_the_layers() {
        let layer =
            Layer::build([Entry::file("hello", 0o755, "hi")], Compression::Gzip).expect("layer");
        let image = ImageBuilder::new(Platform::linux("arm").with_variant("v7"))
            .with_config(ContainerConfig {
                entrypoint: vec!["/hello".into()],
                ..ContainerConfig::default()
            })
            .with_layer(layer.clone())
            .build()
            .expect("image");

        let manifest: Manifest = serde_json::from_slice(&image.manifest.data).expect("manifest");
        assert_eq!(manifest.config.digest, sha256_digest(&image.config.data));
        assert_eq!(manifest.config.size, image.config.data.len() as u64);
        assert_eq!(manifest.layers, [layer.blob.descriptor()]);

        let config: ImageConfig = serde_json::from_slice(&image.config.data).expect("config");
        assert_eq!(config.architecture, "arm");
        assert_eq!(config.variant.as_deref(), Some("v7"));
        assert_eq!(config.rootfs.diff_ids, [layer.diff_id]);
        assert_eq!(config.config.entrypoint, ["/hello"]);

        let descriptor = image.descriptor();
        assert_eq!(descriptor.digest, sha256_digest(&image.manifest.data));
        assert_eq!(descriptor.platform.as_ref(), Some(&image.platform));
        assert_eq!(image.blobs().count(), 3);
    }

    #[test]
    fn an_image_without_layers_is_refused() {
        assert!(ImageBuilder::new(Platform::host()).build().is_err());
    }
}
