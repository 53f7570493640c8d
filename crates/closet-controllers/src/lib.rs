//! Control loops that make desired state real. Each controller is an ordinary Kubernetes
//! client built on `kube::Client` and kube-runtime (DESIGN.md §2): in `closet server` the
//! client calls the apiserver's router in-process, elsewhere it would go over HTTPS, and the
//! code is the same.
//!
//! Every controller has the shape `reconcile(object, context) -> Action` plus an error policy
//! (STYLE.md §4); start with [`namespace`], then [`run`], which starts them all.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

pub mod disruption;
pub mod endpoints;
pub mod gc;
pub mod namespace;
pub mod node_ipam;
pub mod node_lifecycle;
pub mod root_ca;
pub mod selector;
pub mod service_lb;
pub mod serviceaccount;

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

/// Cluster-wide settings the controllers need.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The range node pod CIDRs are carved from.
    pub cluster_cidr: node_ipam::Ipv4Net,
    /// The prefix length of each node's pod CIDR.
    pub node_cidr_prefix: u8,
    /// Silence after which the node lifecycle controller marks a node Unknown.
    pub node_monitor_grace_period: std::time::Duration,
    /// The cluster CA certificate (PEM) published as `kube-root-ca.crt` in every
    /// namespace; unset, that ConfigMap is not managed.
    pub root_ca_pem: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cluster_cidr: node_ipam::Ipv4Net::parse(node_ipam::DEFAULT_CLUSTER_CIDR).unwrap_or(
                node_ipam::Ipv4Net {
                    addr: std::net::Ipv4Addr::new(10, 42, 0, 0),
                    prefix: 16,
                },
            ),
            node_cidr_prefix: node_ipam::DEFAULT_NODE_PREFIX,
            node_monitor_grace_period: node_lifecycle::DEFAULT_GRACE_PERIOD,
            root_ca_pem: None,
        }
    }
}

/// Runs every controller until `shutdown` resolves.
pub async fn run(
    client: kube::Client,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
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
        namespace::run(client.clone(), stopped()),
        node_ipam::run(
            client.clone(),
            settings.cluster_cidr,
            settings.node_cidr_prefix,
            stopped()
        ),
        node_lifecycle::run(
            client.clone(),
            node_lifecycle::Config {
                grace_period: settings.node_monitor_grace_period,
            },
            stopped()
        ),
        endpoints::run(client.clone(), stopped()),
        gc::run(client.clone(), stopped()),
        disruption::run(client.clone(), stopped()),
        serviceaccount::run(client.clone(), stopped()),
        service_lb::run(client.clone(), stopped()),
        root_ca::run(client, settings.root_ca_pem.clone(), stopped()),
    );
    signal.abort();
}
