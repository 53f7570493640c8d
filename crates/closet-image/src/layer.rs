//! Layer tars built from an in-memory list of entries, byte for byte reproducible: entries
//! sorted by path, missing parent directories added, every mtime zero, owners as given.

use std::collections::BTreeMap;
use std::io::{self, Write as _};

use crate::spec::{Descriptor, MEDIA_TYPE_LAYER, MEDIA_TYPE_LAYER_GZIP};
use crate::{ImageError, sha256_digest};

/// What a layer entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file with this content.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symbolic link to this target.
    Symlink(String),
}

/// One file, directory or symlink in a layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The path inside the image; a leading `/` or `./` is dropped.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Permission bits, including setuid, setgid and sticky (`0o1777` for `/tmp`).
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
}

impl Entry {
    /// A regular file owned by root.
    pub fn file(path: impl Into<String>, mode: u32, content: impl Into<Vec<u8>>) -> Self {
        Self::new(path, EntryKind::File(content.into()), mode)
    }

    /// A directory owned by root.
    pub fn dir(path: impl Into<String>, mode: u32) -> Self {
        Self::new(path, EntryKind::Dir, mode)
    }

    /// A symbolic link owned by root, mode `0o777` as Linux reports every symlink.
    pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Self {
        Self::new(path, EntryKind::Symlink(target.into()), 0o777)
    }

    /// Sets the owner.
    pub fn with_owner(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    fn new(path: impl Into<String>, kind: EntryKind, mode: u32) -> Self {
        Self {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
        }
    }
}

/// How a layer blob is stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar ([`MEDIA_TYPE_LAYER`]).
    None,
    /// A gzip-compressed tar ([`MEDIA_TYPE_LAYER_GZIP`]), what registries usually hold.
    #[default]
    Gzip,
}

/// A content-addressed blob: its bytes, digest and media type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blob {
    /// What the blob is.
    pub media_type: String,
    /// `sha256:<hex>` of `data`.
    pub digest: String,
    /// The content.
    pub data: Vec<u8>,
}

impl Blob {
    /// A blob of `data`, with its digest computed.
    pub fn new(media_type: impl Into<String>, data: Vec<u8>) -> Self {
        Self {
            media_type: media_type.into(),
            digest: sha256_digest(&data),
            data,
        }
    }

    /// A descriptor pointing at this blob.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.data.len() as u64,
            platform: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// A built layer: the (possibly compressed) blob and the digest of the uncompressed tar,
/// which the image config lists as the layer's diff id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// The layer blob as a manifest references it.
    pub blob: Blob,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
}

impl Layer {
    /// Builds a layer from `entries`. Paths are cleaned, sorted, and given parent directories
    /// (mode `0o755`, owned by root) where the list lacks them.
    pub fn build(
        entries: impl IntoIterator<Item = Entry>,
        compression: Compression,
    ) -> Result<Self, ImageError> {
        let tar = layer_tar(entries)?;
        let diff_id = sha256_digest(&tar);
        let blob = match compression {
            Compression::None => Blob::new(MEDIA_TYPE_LAYER, tar),
            Compression::Gzip => Blob::new(MEDIA_TYPE_LAYER_GZIP, gzip(&tar)?),
        };
        Ok(Self { blob, diff_id })
    }
}

/// The uncompressed tar [`Layer::build`] would pack.
pub fn layer_tar(entries: impl IntoIterator<Item = Entry>) -> Result<Vec<u8>, ImageError> {
    let entries = arrange(entries)?;
    let mut builder = tar::Builder::new(Vec::new());
    for (path, entry) in &entries {
        append(&mut builder, path, entry).map_err(|source| ImageError::WriteLayer {
            path: path.clone(),
            source,
        })?;
    }
    builder
        .into_inner()
        .map_err(|source| ImageError::WriteLayer {
            path: String::new(),
            source,
        })
}

fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, entry: &Entry) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_mode(entry.mode);
    header.set_uid(entry.uid);
    header.set_gid(entry.gid);
    header.set_mtime(0);
    match &entry.kind {
        EntryKind::File(content) => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(content.len() as u64);
            builder.append_data(&mut header, path, content.as_slice())
        }
        EntryKind::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            builder.append_data(&mut header, format!("{path}/"), io::empty())
        }
        EntryKind::Symlink(target) => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, path, target)
        }
    }
}

/// Cleans every path, refuses duplicates, and adds missing parent directories, sorted so
/// that each directory comes before its contents.
fn arrange(
    entries: impl IntoIterator<Item = Entry>,
) -> Result<BTreeMap<String, Entry>, ImageError> {
    let mut arranged = BTreeMap::new();
    for entry in entries {
        let path = clean_path(&entry.path)?;
        if arranged.insert(path.clone(), entry).is_some() {
            return Err(ImageError::DuplicatePath(path));
        }
    }
    let paths: Vec<String> = arranged.keys().cloned().collect();
    for path in &paths {
        let mut parent = path.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            parent = up;
            match arranged.get(parent) {
                Some(Entry {
                    kind: EntryKind::Dir,
                    ..
                }) => {}
                Some(_) => {
                    return Err(ImageError::ParentNotDirectory {
                        path: path.clone(),
                        parent: parent.to_owned(),
                    });
                }
                None => {
                    arranged.insert(parent.to_owned(), Entry::dir(parent, 0o755));
                }
            }
        }
    }
    Ok(arranged)
}

/// `/usr//bin/./sh` → `usr/bin/sh`; refuses `..`, which would let a layer write outside the
/// root, and paths that name the root itself.
fn clean_path(path: &str) -> Result<String, ImageError> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(ImageError::InvalidPath {
                    path: path.to_owned(),
                    reason: "`..` is not allowed",
                });
            }
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(ImageError::InvalidPath {
            path: path.to_owned(),
            reason: "names the root directory",
        });
    }
    Ok(parts.join("/"))
}

/// Gzip with a fixed header (no name, mtime zero), so equal input gives equal bytes.
pub(crate) fn gzip(data: &[u8]) -> Result<Vec<u8>, ImageError> {
    let wrap = |source| ImageError::WriteLayer {
        path: String::new(),
        source,
    };
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).map_err(wrap)?;
    encoder.finish().map_err(wrap)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    /// (path, entry type, mode, uid, gid, content or link target) of every tar entry.
    type Row = (String, tar::EntryType, u32, u64, u64, Vec<u8>);

    fn read_tar(data: &[u8]) -> Vec<Row> {
        let mut archive = tar::Archive::new(data);
        let mut rows = Vec::new();
        for entry in archive.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let header = entry.header().clone();
            assert_eq!(header.mtime().expect("mtime"), 0);
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let mut content = Vec::new();
            if header.entry_type() == tar::EntryType::Symlink {
                let target = entry.link_name().expect("link").expect("target");
                content = target.to_string_lossy().into_owned().into_bytes();
            } else {
                entry.read_to_end(&mut content).expect("read");
            }
            rows.push((
                path,
                header.entry_type(),
                header.mode().expect("mode"),
                header.uid().expect("uid"),
                header.gid().expect("gid"),
                content,
            ));
        }
        rows
    }

    #[test]
    fn entries_come_out_sorted_with_parents_and_owners() {
        let tar = layer_tar([
            Entry::symlink("/bin/sh", "busybox"),
            Entry::file("/bin/busybox", 0o755, b"ELF".to_vec()),
            Entry::dir("/tmp", 0o1777),
            Entry::file("home/user/.profile", 0o640, "x").with_owner(1000, 100),
        ])
        .expect("tar");
        let rows = read_tar(&tar);
        use tar::EntryType::{Directory, Regular, Symlink};
        let expected: Vec<Row> = vec![
            ("bin/".into(), Directory, 0o755, 0, 0, vec![]),
            ("bin/busybox".into(), Regular, 0o755, 0, 0, b"ELF".to_vec()),
            ("bin/sh".into(), Symlink, 0o777, 0, 0, b"busybox".to_vec()),
            ("home/".into(), Directory, 0o755, 0, 0, vec![]),
            ("home/user/".into(), Directory, 0o755, 0, 0, vec![]),
            (
                "home/user/.profile".into(),
                Regular,
                0o640,
                1000,
                100,
                b"x".to_vec(),
            ),
            ("tmp/".into(), Directory, 0o1777, 0, 0, vec![]),
        ];
        assert_eq!(rows, expected);
    }

    #[test]
    fn long_paths_and_link_targets_survive() {
        let deep = format!("{}/file", "d".repeat(120));
        let target = format!("/{}", "t".repeat(200));
        let tar = layer_tar([
            Entry::file(deep.clone(), 0o644, "deep"),
            Entry::symlink("link", target.clone()),
        ])
        .expect("tar");
        let rows = read_tar(&tar);
        assert!(rows.iter().any(|r| r.0 == deep && r.5 == b"deep"));
        assert!(
            rows.iter()
                .any(|r| r.0 == "link" && r.5 == target.as_bytes())
        );
    }

    #[test]
    fn building_twice_gives_the_same_bytes_in_any_input_order() {
        let a = || vec![Entry::file("a", 0o644, "1"), Entry::file("b/c", 0o600, "2")];
        let mut reversed = a();
        reversed.reverse();
        for compression in [Compression::None, Compression::Gzip] {
            let first = Layer::build(a(), compression).expect("layer");
            let second = Layer::build(reversed.clone(), compression).expect("layer");
            assert_eq!(first, second);
        }
    }

    #[test]
    fn gzip_layers_record_the_uncompressed_diff_id() {
        let entries = || vec![Entry::file("etc/hostname", 0o644, "closet\n")];
        let plain = Layer::build(entries(), Compression::None).expect("layer");
        let gzipped = Layer::build(entries(), Compression::Gzip).expect("layer");
        assert_eq!(plain.blob.media_type, MEDIA_TYPE_LAYER);
        assert_eq!(gzipped.blob.media_type, MEDIA_TYPE_LAYER_GZIP);
        assert_eq!(plain.diff_id, plain.blob.digest);
        assert_eq!(gzipped.diff_id, plain.diff_id);
        assert_eq!(gzipped.blob.digest, sha256_digest(&gzipped.blob.data));
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(gzipped.blob.data.as_slice())
            .read_to_end(&mut unzipped)
            .expect("gunzip");
        assert_eq!(unzipped, plain.blob.data);
        assert_eq!(
            gzipped.blob.descriptor().size,
            gzipped.blob.data.len() as u64
        );
    }

    #[test]
    fn bad_paths_are_refused() {
        let err = layer_tar([Entry::file("../etc/passwd", 0o644, "")]).expect_err("..");
        assert!(err.to_string().contains("`..`"), "{err}");
        assert!(layer_tar([Entry::dir("/", 0o755)]).is_err());
        let err = layer_tar([Entry::file("a", 0o644, ""), Entry::file("/a", 0o644, "")])
            .expect_err("duplicate");
        assert!(matches!(err, ImageError::DuplicatePath(p) if p == "a"));
        let err = layer_tar([Entry::file("a", 0o644, ""), Entry::file("a/b", 0o644, "")])
            .expect_err("file as parent");
        assert!(
            matches!(err, ImageError::ParentNotDirectory { .. }),
            "{err}"
        );
    }
}
