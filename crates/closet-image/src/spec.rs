//! The OCI image-spec JSON documents closet writes and reads: descriptors, manifests,
//! indexes and image configs, with the media types and annotations that name them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An OCI image index (`index.json`, or a multi-arch image's index blob).
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// An OCI image manifest.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// An OCI image config.
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// An uncompressed layer tar.
pub const MEDIA_TYPE_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// A gzip-compressed layer tar.
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The full image reference containerd gives an image it imports (`ctr images import` reads
/// this before anything else; `ctr images export` writes it).
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// The OCI reference name: only the tag (or digest), as the image-layout spec defines it.
/// containerd falls back to it, prefixed with a made-up base name, when the full name is absent.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The `oci-layout` file's version.
pub const LAYOUT_VERSION: &str = "1.0.0";

/// What a descriptor's, config's or index entry's platform says.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// GOARCH naming: `amd64`, `arm64`, `arm`, `riscv64`...
    pub architecture: String,
    /// Always `linux` for closet.
    pub os: String,
    /// `v7` or `v6` for `arm`; none elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// A Linux platform with the given GOARCH architecture and no variant.
    pub fn linux(architecture: impl Into<String>) -> Self {
        Self {
            architecture: architecture.into(),
            os: "linux".to_owned(),
            variant: None,
        }
    }

    /// Sets the variant (`v7` for 32-bit ARM with VFPv3, `v6` for the first Raspberry Pis).
    pub fn with_variant(mut self, variant: impl Into<String>) -> Self {
        self.variant = Some(variant.into());
        self
    }

    /// The platform this crate was compiled for, in GOARCH naming, as containerd's default
    /// platform matcher on that machine expects it.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            "mips64" if cfg!(target_endian = "little") => "mips64le",
            "mips" if cfg!(target_endian = "little") => "mipsle",
            // arm, riscv64, s390x, mips64 and mips already use the GOARCH name.
            other => other,
        };
        let platform = Self::linux(arch);
        if arch == "arm" {
            let variant = if cfg!(target_feature = "v7") {
                "v7"
            } else {
                "v6"
            };
            platform.with_variant(variant)
        } else {
            platform
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// A reference to a blob: its media type, digest and size, and for index entries the
/// platform and naming annotations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the blob is.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// The blob's length in bytes.
    pub size: u64,
    /// The platform a manifest in an index is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Free-form metadata; in `index.json` the image names.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The full image name containerd would give this `index.json` entry, if it has one.
    pub fn image_name(&self) -> Option<&str> {
        self.annotations
            .get(ANNOTATION_IMAGE_NAME)
            .map(String::as_str)
    }
}

/// An image manifest: one platform's config and layers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MEDIA_TYPE_MANIFEST`]; optional in the spec, written so registries need not sniff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The image config blob.
    pub config: Descriptor,
    /// The layer blobs, bottom first.
    pub layers: Vec<Descriptor>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index: `index.json`, or a multi-arch image listing one manifest per platform.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// [`MEDIA_TYPE_INDEX`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The entries.
    pub manifests: Vec<Descriptor>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Index {
    /// An empty index with the schema version and media type set.
    pub fn new() -> Self {
        Self {
            schema_version: 2,
            media_type: Some(MEDIA_TYPE_INDEX.to_owned()),
            ..Self::default()
        }
    }
}

/// The image config blob: platform, how to run the image, and its layers' diff ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// GOARCH architecture.
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// Architecture variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// How a container from this image runs.
    #[serde(default)]
    pub config: ContainerConfig,
    /// The uncompressed layers' digests.
    pub rootfs: RootFs,
}

/// How a container from the image runs, with the image-spec's (Docker's) capitalised keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `user`, `uid`, `user:group` or `uid:gid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Ports such as `80/tcp`; the values are empty objects in the JSON.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, Empty>,
    /// `NAME=value` entries.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub env: Vec<String>,
    /// The executable and its first arguments.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub entrypoint: Vec<String>,
    /// Default arguments (or command, with no entrypoint).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_empty"
    )]
    pub cmd: Vec<String>,
    /// The working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Image labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl ContainerConfig {
    /// Adds an exposed port such as `80/tcp`.
    pub fn expose(mut self, port: impl Into<String>) -> Self {
        self.exposed_ports.insert(port.into(), Empty {});
        self
    }
}

/// The JSON `{}` that `ExposedPorts` maps each port to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// The image config's `rootfs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `sha256:` digests of the uncompressed layer tars, bottom first.
    pub diff_ids: Vec<String>,
}

/// Docker writes `null` for empty lists; read it as empty.
fn null_as_empty<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(Option::<Vec<String>>::deserialize(deserializer)?.unwrap_or_default())
}

/// The `oci-layout` file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LayoutFile {
    pub(crate) image_layout_version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_print_as_containerd_writes_them() {
        assert_eq!(Platform::linux("amd64").to_string(), "linux/amd64");
        assert_eq!(
            Platform::linux("arm").with_variant("v7").to_string(),
            "linux/arm/v7"
        );
    }

    #[test]
    fn the_host_platform_uses_goarch_names() {
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(host, Platform::linux("amd64"));
        #[cfg(target_arch = "aarch64")]
        assert_eq!(host, Platform::linux("arm64"));
    }

    #[test]
    fn docker_configs_with_null_lists_parse() {
        let json = r#"{"architecture":"amd64","os":"linux",
            "config":{"Env":null,"Cmd":["sh"],"Entrypoint":null,"ExposedPorts":{"80/tcp":{}}},
            "rootfs":{"type":"layers","diff_ids":[]}}"#;
        let config: ImageConfig = serde_json::from_str(json).expect("parse");
        assert!(config.config.env.is_empty());
        assert_eq!(config.config.cmd, ["sh"]);
        assert!(config.config.exposed_ports.contains_key("80/tcp"));
    }

    #[test]
    fn container_config_uses_the_spec_keys() {
        let config = ContainerConfig {
            user: Some("65534".into()),
            env: vec!["PATH=/bin".into()],
            entrypoint: vec!["/pause".into()],
            working_dir: Some("/".into()),
            ..ContainerConfig::default()
        }
        .expose("80/tcp");
        let json = serde_json::to_value(&config).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"User":"65534","ExposedPorts":{"80/tcp":{}},"Env":["PATH=/bin"],
                "Entrypoint":["/pause"],"WorkingDir":"/"})
        );
    }
}
