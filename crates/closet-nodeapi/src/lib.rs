//! The node agent's own HTTPS API and the apiserver's client for it (DESIGN.md §5, §6).
//!
//! kubectl never talks to a node: `kubectl logs`, `exec`, `attach`, `port-forward` and `top`
//! go to the apiserver, which proxies them here, as upstream's apiserver does to the kubelet.
//! The node API serves kubelet's paths:
//!
//! | path | what |
//! |---|---|
//! | `/containerLogs/{ns}/{pod}/{container}` | the container's CRI log file, as text |
//! | `/exec/{ns}/{pod}/{container}` | a command in the container (WebSocket or SPDY) |
//! | `/attach/{ns}/{pod}/{container}` | the container's own stdio (WebSocket or SPDY) |
//! | `/portForward/{ns}/{pod}` | TCP into the pod (WebSocket tunnel or SPDY) |
//! | `/stats/summary` | node and pod CPU and memory usage, node filesystem and pod volume usage |
//! | `/healthz` | liveness |
//!
//! It listens on HTTPS and serves only clients presenting a certificate from the cluster CA
//! whose CN is [`APISERVER_CLIENT_CN`] ([`tls::server_config`] and the accept loop of
//! [`NodeApi::serve`]). Exec, attach and port-forward are carried out by the container
//! runtime's streaming server (containerd's, plain HTTP on loopback): the node API asks CRI
//! for a one-time URL and bridges the client's stream to it.
//!
//! The client half, [`client::NodeClient`], is what the apiserver uses to reach a node; it
//! builds without the `server` feature, so the apiserver does not link CRI code.
//!
//! Start reading at [`NodeApi`] (server) or [`client::NodeClient`] (apiserver side).

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

pub mod client;
pub mod summary;
pub mod tls;
mod upgrade;

#[cfg(feature = "server")]
mod directory;
#[cfg(feature = "server")]
pub mod exec;
#[cfg(feature = "server")]
mod logs;
#[cfg(feature = "server")]
mod portforward;
#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
mod stats;
#[cfg(feature = "server")]
mod status;
#[cfg(feature = "server")]
mod streaming;
#[cfg(feature = "test-util")]
pub mod testing;

#[cfg(feature = "server")]
pub use directory::{ContainerInfo, PodDirectory, PodInfo, VolumeInfo};
#[cfg(feature = "server")]
pub use server::NodeApi;

/// The CN of the client certificate the apiserver presents to node APIs; the only client a
/// node API serves.
pub const APISERVER_CLIENT_CN: &str = "closet-apiserver";

/// The port a node API listens on unless configured otherwise: kubelet's port, so that tools
/// reading `status.daemonEndpoints.kubeletEndpoint` find what they expect.
pub const DEFAULT_PORT: u16 = 10250;
