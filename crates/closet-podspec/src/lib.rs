//! Pod spec to CRI: sandbox and container configs, environment, volumes on disk.
//!
//! The node agent fetches objects and talks to containerd; this crate decides what to ask for,
//! following the kubelet's behaviour (`pkg/kubelet/kuberuntime`, `pkg/kubelet/kubelet_pods.go`,
//! `pkg/volume`). Everything here is pure except [`volumes`], which works on the host
//! filesystem (directories, atomic file projection, tmpfs and subPath bind mounts).
//!
//! A pod start, in the order the agent calls it:
//! 1. [`env::referenced_objects`] — which ConfigMaps and Secrets to fetch;
//! 2. [`volumes::prepare`] — the pod's volumes under its directory;
//! 3. [`sandbox::sandbox_config`] — `RunPodSandbox`;
//! 4. per container: [`env::resolve_env`], [`volumes::mounts_for`],
//!    [`volumes::termination_log_file`], then [`container::container_config`] —
//!    `CreateContainer`; after the pull, [`container::check_non_root`];
//! 5. when the pod is gone: [`volumes::cleanup`].
//!
//! [`labels`] holds the keys that let the agent recognise its sandboxes and containers after a
//! restart. Every failure is a [`SpecError`] whose [`SpecError::reason`] is the container
//! waiting reason to report.

pub mod container;
pub mod dns;
pub mod env;
pub mod error;
pub mod expansion;
mod fieldpath;
pub mod image;
pub mod labels;
pub mod quantity;
pub mod resources;
pub mod sandbox;
pub mod security;
pub mod service_env;
pub mod volumes;

pub use error::SpecError;
