//! End-to-end test support: the real `closet` binary, the real `kubectl` and kube-rs, over TLS
//! on 127.0.0.1.
//!
//! Start at [`Cluster::start`]: it runs `closet server` in a temporary data dir on a free port
//! and waits until it serves. [`test_ns!`] gives a test its own namespace and working directory
//! on a (possibly shared) cluster, [`Cluster::kubectl`] and [`TestNs::kubectl`] run kubectl
//! against it, [`Cluster::client`] builds a kube-rs client, [`raw`] speaks hand-written HTTP/1.1
//! for requests no well-behaved client would send, and [`eventually`] retries an assertion
//! with a patience that `CLOSET_TEST_PATIENCE` scales. [`StandaloneAgent`] joins one
//! `closet agent` to a server without its own agent; [`MultiNode`] runs several agents, each
//! in its own network namespace on a bridge ([`netns`]), as separate machines on one LAN.
//!
//! The suite needs `target/debug/closet` (`cargo build -p closet`), or the binary named by
//! `CLOSET_E2E_BINARY`; tests that drive kubectl skip, with a printed reason, when no
//! `kubectl` is on the PATH.

mod cluster;
mod eventually;
pub mod images;
mod kubectl;
mod multinode;
mod namespace;
pub mod netns;
pub mod node;
mod process;
pub mod raw;
pub mod registry;
mod standalone;

use std::sync::Once;

pub use cluster::{Cluster, closet_binary};
pub use eventually::{eventually, eventually_async, patience, scaled, try_eventually};
pub use kubectl::{Background, KubectlOutput, kubectl_available};
pub use multinode::{MultiNode, NetnsNode};
pub use namespace::{TestNs, unique_name};
pub use process::{run_with_timeout, run_with_timeout_child};
pub use standalone::StandaloneAgent;

/// Installs rustls's ring provider as the process default, once. kube-rs and the raw client
/// both build rustls configurations and need one; a second install is harmless.
pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Returns early from a test, with a printed reason, when `kubectl` is not on the PATH.
#[macro_export]
macro_rules! require_kubectl {
    () => {
        if !$crate::kubectl_available() {
            let test = std::thread::current()
                .name()
                .unwrap_or(module_path!())
                .to_string();
            eprintln!("skipping {test}: no `kubectl` on the PATH");
            return;
        }
    };
}

/// A fresh namespace and working directory for one test on `$cluster`:
/// `let ns = test_ns!(cluster);`. The namespace name is derived from the test's name.
#[macro_export]
macro_rules! test_ns {
    ($cluster:expr) => {
        $crate::TestNs::new($cluster)
    };
}
