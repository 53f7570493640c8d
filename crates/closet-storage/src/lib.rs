//! Local volumes: the `local-path` StorageClass, its provisioner, PV/PVC binding, and the
//! node side that turns a bound claim into a directory on the node.
//!
//! The controller side runs in `closet server` ([`run`]):
//!
//! - [`classes`] makes sure the two built-in classes exist (`local-path`, the default, which
//!   retains data, and `local-path-delete`), without overwriting classes a user changed;
//! - [`claims`] binds claims to volumes, provisions a volume for a claim of a closet class
//!   once the claim's node is known, and releases the `kubernetes.io/pvc-protection`
//!   finalizer when no running pod uses a deleted claim;
//! - [`volumes`] keeps volume phases (Available, Bound, Released) and the
//!   `kubernetes.io/pv-protection` finalizer.
//!
//! The node side ([`node`]) runs in every agent: it advertises where the node keeps volumes,
//! resolves a pod's claims to local paths, and deletes the directories of released volumes
//! whose reclaim policy is `Delete`.
//!
//! A provisioned volume lives on one node, at
//! `<data-dir>/storage/pvc-<uid>_<namespace>_<claim>`, and carries a node affinity for that
//! node's `kubernetes.io/hostname`.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

pub mod claims;
pub mod classes;
pub mod node;
mod util;
pub mod volumes;

use std::future::Future;

/// The provisioner name of closet's local volumes, as StorageClasses name it.
pub const PROVISIONER: &str = "closet.dev/local-path";
/// The default StorageClass: volumes are kept after their claim goes.
pub const DEFAULT_CLASS: &str = "local-path";
/// The StorageClass whose volumes are deleted with their claim.
pub const DELETE_CLASS: &str = "local-path-delete";
/// The node annotation that says where the node keeps local volumes (`<data-dir>/storage`).
pub const ROOT_ANNOTATION: &str = "storage.closet.dev/local-path-root";
/// Set by the scheduler on a WaitForFirstConsumer claim: the node its first pod runs on.
pub const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The claim finalizer held while pods use the claim.
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
/// The volume finalizer held while the volume is bound.
pub const PV_PROTECTION: &str = "kubernetes.io/pv-protection";
/// Marks a volume made by a provisioner, with the provisioner's name.
pub const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A request to the API failed.
    #[error("{action}")]
    Api {
        /// What the controller was doing.
        action: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
    /// A local directory could not be created or removed.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl StorageError {
    fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| Self::Api { action, source }
    }
}

/// An error and its sources, joined with `: `, for log lines and messages.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Runs the controller side until `shutdown` resolves.
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let signal = tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    tokio::join!(
        classes::run(client.clone(), stopped()),
        claims::run(client.clone(), stopped()),
        volumes::run(client, stopped()),
    );
    signal.abort();
}
