//! The node agent's container runtime (DESIGN.md §6, issue 4).
//!
//! Two pieces: [`Containerd`] runs the distribution's `containerd` as a supervised child with its
//! config, state and socket under `<data-dir>/agent/`, so it never touches a system containerd;
//! and [`Runtime`] is the seam the agent talks through, implemented over CRI v1 gRPC by
//! [`CriClient`] and, for unit tests, by `fake::FakeRuntime` (feature `test-util`).
//!
//! Start reading at [`Containerd::start`], then [`Runtime`].

mod client;
mod config;
mod error;
pub mod images;
mod runtime;
mod supervisor;

#[cfg(any(test, feature = "test-util"))]
pub mod fake;

pub use client::CriClient;
pub use config::{ContainerdConfig, DEFAULT_CNI_BIN_DIR, DEFAULT_SANDBOX_IMAGE};
pub use error::CriError;
/// The CRI v1 messages, re-exported so callers need no direct `k8s-cri` dependency.
pub use k8s_cri::v1 as cri;
pub use runtime::{BoxFuture, CRI_VERSION, Runtime, RuntimeExt};
pub use supervisor::{Containerd, find_binaries};
