//! OCI image-layout archives: a tar holding `oci-layout`, `index.json` and
//! `blobs/sha256/<hex>`, the format `ctr images import` and `docker load` read.
//!
//! Each `index.json` entry carries the two annotations containerd 1.6's importer names an
//! image from: `io.containerd.image.name` with the full reference (used as is) and
//! `org.opencontainers.image.ref.name` with only the tag (the OCI spec's meaning, which
//! containerd prefixes with a made-up base name when the full name is missing).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read as _};

use crate::image::{Image, to_json};
use crate::layer::Blob;
use crate::spec::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, Descriptor, ImageConfig, Index, LAYOUT_VERSION,
    LayoutFile, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST, Manifest,
};
use crate::{ImageError, Reference, sha256_digest};

const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// How deep indexes may nest; real images use one level, a crafted archive could use more.
const MAX_DEPTH: usize = 8;

/// An OCI image layout in memory: the top-level index and every blob, by digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciLayout {
    index: Index,
    blobs: BTreeMap<String, Blob>,
}

impl Default for OciLayout {
    fn default() -> Self {
        Self::new()
    }
}

impl OciLayout {
    /// An empty layout.
    pub fn new() -> Self {
        Self {
            index: Index::new(),
            blobs: BTreeMap::new(),
        }
    }

    /// A layout holding one single-platform image named `reference`.
    pub fn single(reference: &str, image: &Image) -> Result<Self, ImageError> {
        let mut layout = Self::new();
        layout.add_image(reference, image)?;
        Ok(layout)
    }

    /// A layout holding one multi-arch image named `reference`: an index with one manifest
    /// per platform.
    pub fn multi_arch(reference: &str, images: &[Image]) -> Result<Self, ImageError> {
        let mut layout = Self::new();
        layout.add_multi_arch(reference, images)?;
        Ok(layout)
    }

    /// Adds a single-platform image named `reference` (normalized, so `busybox` becomes
    /// `docker.io/library/busybox:latest`). Returns its `index.json` entry.
    pub fn add_image(&mut self, reference: &str, image: &Image) -> Result<Descriptor, ImageError> {
        let reference = Reference::parse(reference)?;
        self.insert_image(image);
        self.push_entry(&reference, image.descriptor())
    }

    /// Adds a multi-arch image named `reference`: each image's blobs, an index blob listing
    /// their manifests with platforms, and an `index.json` entry pointing at that index.
    pub fn add_multi_arch(
        &mut self,
        reference: &str,
        images: &[Image],
    ) -> Result<Descriptor, ImageError> {
        let reference = Reference::parse(reference)?;
        if images.is_empty() {
            return Err(ImageError::Empty(
                "a multi-arch image needs at least one platform",
            ));
        }
        let mut platforms = BTreeSet::new();
        let mut index = Index::new();
        for image in images {
            if !platforms.insert(image.platform.clone()) {
                return Err(ImageError::DuplicatePlatform(image.platform.to_string()));
            }
            self.insert_image(image);
            index.manifests.push(image.descriptor());
        }
        let blob = Blob::new(MEDIA_TYPE_INDEX, to_json("image index", &index)?);
        let descriptor = blob.descriptor();
        self.insert(blob);
        self.push_entry(&reference, descriptor)
    }

    /// The top-level index (`index.json`).
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// A blob by digest.
    pub fn blob(&self, digest: &str) -> Option<&Blob> {
        self.blobs.get(digest)
    }

    /// Every blob, by digest order.
    pub fn blobs(&self) -> impl Iterator<Item = &Blob> {
        self.blobs.values()
    }

    /// The manifest `descriptor` points at.
    pub fn manifest(&self, descriptor: &Descriptor) -> Result<Manifest, ImageError> {
        self.json(descriptor, "manifest")
    }

    /// The image index `descriptor` points at.
    pub fn image_index(&self, descriptor: &Descriptor) -> Result<Index, ImageError> {
        self.json(descriptor, "image index")
    }

    /// The image config `descriptor` points at.
    pub fn config(&self, descriptor: &Descriptor) -> Result<ImageConfig, ImageError> {
        self.json(descriptor, "image config")
    }

    /// Writes the layout as a tar: `oci-layout`, `index.json`, then the blobs in digest
    /// order, all with fixed mtimes, so equal layouts give equal bytes.
    pub fn to_archive(&self) -> Result<Vec<u8>, ImageError> {
        let layout = LayoutFile {
            image_layout_version: LAYOUT_VERSION.to_owned(),
        };
        let mut builder = tar::Builder::new(Vec::new());
        append_file(&mut builder, "oci-layout", &to_json("oci-layout", &layout)?)?;
        append_file(
            &mut builder,
            "index.json",
            &to_json("index.json", &self.index)?,
        )?;
        for dir in ["blobs/", "blobs/sha256/"] {
            append_dir(&mut builder, dir)?;
        }
        for blob in self.blobs.values() {
            let hex = blob.digest.trim_start_matches("sha256:");
            append_file(&mut builder, &format!("blobs/sha256/{hex}"), &blob.data)?;
        }
        builder
            .into_inner()
            .map_err(|source| ImageError::WriteArchive {
                name: String::new(),
                source,
            })
    }

    /// Reads an OCI layout archive, plain or gzip-compressed, and checks it: every blob
    /// matches its digest, and every descriptor reachable from `index.json` names a blob of
    /// the stated size.
    pub fn from_archive(archive: &[u8]) -> Result<Self, ImageError> {
        let files = read_tar(archive)?;
        let layout: LayoutFile = parse(
            files
                .get("oci-layout")
                .ok_or(ImageError::MissingFile("oci-layout"))?,
            "oci-layout",
        )?;
        if layout.image_layout_version != LAYOUT_VERSION {
            return Err(ImageError::LayoutVersion(layout.image_layout_version));
        }
        let index: Index = parse(
            files
                .get("index.json")
                .ok_or(ImageError::MissingFile("index.json"))?,
            "index.json",
        )?;
        let mut blobs = BTreeMap::new();
        for (name, data) in files {
            let Some(hex) = name.strip_prefix("blobs/sha256/") else {
                continue;
            };
            let actual = sha256_digest(&data);
            if actual.trim_start_matches("sha256:") != hex {
                return Err(ImageError::DigestMismatch { name, actual });
            }
            // The media type lives in the descriptors; `verify` fills it in below.
            blobs.insert(
                actual.clone(),
                Blob {
                    media_type: String::new(),
                    digest: actual,
                    data,
                },
            );
        }
        let mut layout = Self { index, blobs };
        let entries = layout.index.manifests.clone();
        for descriptor in &entries {
            layout.verify(descriptor, 0)?;
        }
        Ok(layout)
    }

    /// Checks that `descriptor`'s blob is present with its size and records its media type,
    /// then does the same for everything it references.
    fn verify(&mut self, descriptor: &Descriptor, depth: usize) -> Result<(), ImageError> {
        let blob = self
            .blobs
            .get_mut(&descriptor.digest)
            .ok_or_else(|| ImageError::MissingBlob(descriptor.digest.clone()))?;
        let actual = blob.data.len() as u64;
        if actual != descriptor.size {
            return Err(ImageError::SizeMismatch {
                digest: descriptor.digest.clone(),
                expected: descriptor.size,
                actual,
            });
        }
        blob.media_type.clone_from(&descriptor.media_type);
        let children = match descriptor.media_type.as_str() {
            MEDIA_TYPE_INDEX | DOCKER_MANIFEST_LIST if depth < MAX_DEPTH => {
                self.image_index(descriptor)?.manifests
            }
            MEDIA_TYPE_MANIFEST | DOCKER_MANIFEST => {
                let manifest = self.manifest(descriptor)?;
                std::iter::once(manifest.config)
                    .chain(manifest.layers)
                    .collect()
            }
            MEDIA_TYPE_INDEX | DOCKER_MANIFEST_LIST => {
                return Err(ImageError::MediaType {
                    digest: descriptor.digest.clone(),
                    media_type: format!("{} nested deeper than {MAX_DEPTH}", descriptor.media_type),
                });
            }
            _ => Vec::new(),
        };
        for child in &children {
            self.verify(child, depth + 1)?;
        }
        Ok(())
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        descriptor: &Descriptor,
        what: &str,
    ) -> Result<T, ImageError> {
        let blob = self
            .blobs
            .get(&descriptor.digest)
            .ok_or_else(|| ImageError::MissingBlob(descriptor.digest.clone()))?;
        parse(&blob.data, &format!("{what} {}", descriptor.digest))
    }

    fn insert_image(&mut self, image: &Image) {
        for blob in image.blobs() {
            self.insert(blob.clone());
        }
    }

    fn insert(&mut self, blob: Blob) {
        self.blobs.entry(blob.digest.clone()).or_insert(blob);
    }

    fn push_entry(
        &mut self,
        reference: &Reference,
        mut descriptor: Descriptor,
    ) -> Result<Descriptor, ImageError> {
        descriptor
            .annotations
            .insert(ANNOTATION_IMAGE_NAME.to_owned(), reference.to_string());
        descriptor.annotations.insert(
            ANNOTATION_REF_NAME.to_owned(),
            reference.tag_or_digest().to_owned(),
        );
        // A later image under the same name replaces the earlier one, as a re-tag would.
        let name = reference.to_string();
        self.index
            .manifests
            .retain(|d| d.image_name() != Some(name.as_str()));
        self.index.manifests.push(descriptor.clone());
        Ok(descriptor)
    }
}

fn parse<T: serde::de::DeserializeOwned>(data: &[u8], what: &str) -> Result<T, ImageError> {
    serde_json::from_slice(data).map_err(|source| ImageError::Json {
        what: what.to_owned(),
        source,
    })
}

fn header(entry_type: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

fn append_file(
    builder: &mut tar::Builder<Vec<u8>>,
    name: &str,
    data: &[u8],
) -> Result<(), ImageError> {
    let mut header = header(tar::EntryType::Regular, 0o644, data.len() as u64);
    builder
        .append_data(&mut header, name, data)
        .map_err(|source| ImageError::WriteArchive {
            name: name.to_owned(),
            source,
        })
}

fn append_dir(builder: &mut tar::Builder<Vec<u8>>, name: &str) -> Result<(), ImageError> {
    let mut header = header(tar::EntryType::Directory, 0o755, 0);
    builder
        .append_data(&mut header, name, io::empty())
        .map_err(|source| ImageError::WriteArchive {
            name: name.to_owned(),
            source,
        })
}

/// Every regular file in the tar, by cleaned name (`./index.json` is `index.json`).
fn read_tar(archive: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, ImageError> {
    let gzipped = archive.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn io::Read + '_> = if gzipped {
        Box::new(flate2::read::GzDecoder::new(archive))
    } else {
        Box::new(archive)
    };
    let mut files = BTreeMap::new();
    let mut tar = tar::Archive::new(reader);
    for entry in tar.entries().map_err(ImageError::ReadArchive)? {
        let mut entry = entry.map_err(ImageError::ReadArchive)?;
        if !matches!(
            entry.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous
        ) {
            continue;
        }
        let name = entry
            .path()
            .map_err(ImageError::ReadArchive)?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(ImageError::ReadArchive)?;
        files.insert(name, data);
    }
    Ok(files)
}

#[cfg(test)]
mod tests;
