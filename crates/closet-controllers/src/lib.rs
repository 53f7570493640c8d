//! Control loops that make desired state real. Each controller is an ordinary Kubernetes
//! client built on `kube::Client` and kube-runtime (DESIGN.md §2): in `closet server` the
//! client calls the apiserver's router in-process, elsewhere it would go over HTTPS, and the
//! code is the same.
//!
//! Every controller has the shape `reconcile(object, context) -> Action` plus an error policy
//! (STYLE.md §4); start with [`namespace`], then [`run`], which starts them all.

pub mod namespace;

use std::future::Future;

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// A request to the API failed.
    #[error("{action}")]
    Api {
        /// What the controller was doing.
        action: String,
        /// The cause.
        #[source]
        source: kube::Error,
    },
}

impl ControllerError {
    fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| Self::Api { action, source }
    }
}

/// An error and its sources, joined with `: `, for log lines.
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

/// Runs every controller until `shutdown` resolves.
pub async fn run(client: kube::Client, shutdown: impl Future<Output = ()> + Send + Sync + 'static) {
    namespace::run(client, shutdown).await;
}
