//! OCI image archives built by closet: the pause image every pod sandbox runs, and the
//! images tests build for themselves, since no internet registry is reachable.
//!
//! Build a [`Layer`] from in-memory [`Entry`]s, an [`Image`] for one [`Platform`] with
//! [`ImageBuilder`], and name one image (or several platforms as a multi-arch index) in an
//! [`OciLayout`], which writes the tar `ctr images import` reads and reads such tars back.
//! Everything is deterministic: equal inputs give equal bytes and digests.
//!
//! Start reading at [`pause::archive`] for a complete example.

mod digest;
mod error;
mod image;
mod layer;
mod layout;
pub mod pause;
mod reference;
pub mod spec;

pub use digest::sha256_digest;
pub use error::ImageError;
pub use image::{Image, ImageBuilder};
pub use layer::{Blob, Compression, Entry, EntryKind, Layer, layer_tar};
pub use layout::OciLayout;
pub use reference::Reference;
pub use spec::{ContainerConfig, Descriptor, Platform};
