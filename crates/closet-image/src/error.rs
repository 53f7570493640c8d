use std::io;

/// Everything that can fail while building, writing or reading an OCI image archive.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// An image reference does not parse.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A layer entry's path is empty, absolute after cleaning, or climbs out with `..`.
    #[error("invalid layer path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two layer entries have the same path.
    #[error("layer path {0:?} appears twice")]
    DuplicatePath(String),
    /// A path's parent is not a directory in the same layer.
    #[error("layer path {path:?} is below {parent:?}, which is not a directory")]
    ParentNotDirectory {
        /// The entry.
        path: String,
        /// Its parent entry.
        parent: String,
    },
    /// Writing a layer tar failed.
    #[error("writing layer entry {path:?}")]
    WriteLayer {
        /// The entry being written.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Writing the archive tar failed.
    #[error("writing archive entry {name:?}")]
    WriteArchive {
        /// The entry being written.
        name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An image built for an archive has no layers or no images were given.
    #[error("{0}")]
    Empty(&'static str),
    /// Two images in one multi-arch index are for the same platform.
    #[error("platform {0} appears twice in one image index")]
    DuplicatePlatform(String),
    /// Reading the archive tar (or its gzip stream) failed.
    #[error("reading image archive")]
    ReadArchive(#[source] io::Error),
    /// The archive lacks a file an OCI layout needs.
    #[error("image archive has no {0}; it is not an OCI image layout")]
    MissingFile(&'static str),
    /// `oci-layout` names a version closet does not read.
    #[error("image archive has OCI layout version {0:?}, not 1.0.0")]
    LayoutVersion(String),
    /// A JSON document in the archive does not parse.
    #[error("parsing {what} in image archive")]
    Json {
        /// Which document.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A blob's content does not match the digest it is stored under.
    #[error("blob {name} has digest {actual}")]
    DigestMismatch {
        /// The blob's file name in the archive.
        name: String,
        /// What its content hashes to.
        actual: String,
    },
    /// A descriptor names a blob the archive does not hold.
    #[error("image archive lacks blob {0}")]
    MissingBlob(String),
    /// A descriptor's size disagrees with its blob.
    #[error("blob {digest} is {actual} bytes, but its descriptor says {expected}")]
    SizeMismatch {
        /// The blob.
        digest: String,
        /// The descriptor's size.
        expected: u64,
        /// The blob's real size.
        actual: u64,
    },
    /// A descriptor has a media type closet does not know how to follow.
    #[error("descriptor {digest} has unsupported media type {media_type:?}")]
    MediaType {
        /// The blob.
        digest: String,
        /// Its media type.
        media_type: String,
    },
}
