//! The service proxy (DESIGN.md §2, §3): makes Services reachable on this node by
//! programming nftables from the Services and EndpointSlices the API holds.
//!
//! [`run`] watches both kinds through the node's API client and keeps one table of closet's
//! own, `ip closet`, in step with them: [`model`] turns the objects into the desired state,
//! [`render`] turns that into an nft script that replaces the table in one atomic
//! transaction, [`nft`] applies it, and [`sync`] decides when. Other tables (the host's
//! firewall, the CNI plugins' iptables-nft tables) are never touched.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

pub mod cidr;
pub mod host;
pub mod model;
pub mod nft;
pub mod render;
pub mod sync;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::Notify;

pub use cidr::Ipv4Cidr;
pub use nft::{Nft, NftError, Nftables};

/// What the proxy needs to know about its node.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// This node's name: endpoints on it are the local ones for `Local` traffic policies.
    pub node_name: String,
    /// The cluster (pod) CIDR: traffic from outside it to a ClusterIP is masqueraded, and
    /// pod traffic leaving it is masqueraded.
    pub cluster_cidr: Ipv4Cidr,
    /// The service CIDR, which ClusterIPs come from (logged; the agent blackholes it).
    pub service_cidr: Ipv4Cidr,
}

/// Runs the proxy until `shutdown` resolves, then removes its table. A missing `nft` or a
/// refused transaction is logged and retried; it never ends the proxy.
pub async fn run(
    client: kube::Client,
    config: ProxyConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let bridge_netfilter = match host::ensure_bridge_netfilter().await {
        Ok(()) => true,
        Err(why) => {
            tracing::warn!(
                "{why}; service traffic between pods on this node is masqueraded instead"
            );
            false
        }
    };
    let settings = render::RenderSettings {
        cluster_cidr: config.cluster_cidr,
        bridge_netfilter,
    };
    let changed = Arc::new(Notify::new());
    let (services, services_feed) = watch(Api::<Service>::all(client.clone()), changed.clone());
    let (slices, slices_feed) = watch(Api::<EndpointSlice>::all(client), changed.clone());
    let feeds = tokio::spawn(async move {
        tokio::join!(services_feed, slices_feed);
    });

    let mut shutdown = std::pin::pin!(shutdown);
    let caches = async {
        let _ = services.wait_until_ready().await;
        let _ = slices.wait_until_ready().await;
    };
    // Until both caches are filled, a table left by an earlier run keeps serving.
    tokio::select! {
        () = &mut shutdown => {
            feeds.abort();
            if let Err(err) = Nft.delete_table().await {
                tracing::debug!("removing the service rules: {}", error_chain(&err));
            }
            return;
        }
        () = caches => {}
    }
    tracing::info!(
        node = %config.node_name,
        cluster_cidr = %config.cluster_cidr,
        service_cidr = %config.service_cidr,
        bridge_netfilter,
        "service proxy running"
    );
    let node_name = config.node_name.clone();
    let script = move || {
        let services = services.state();
        let slices = slices.state();
        let desired = model::desired(
            services.iter().map(|s| &**s),
            slices.iter().map(|s| &**s),
            &node_name,
        );
        render::render(&desired, &settings)
    };
    sync::run(&Nft, script, changed, sync::Timing::default(), shutdown).await;
    feeds.abort();
}

/// A cache of `api`'s objects and the future that keeps it filled, notifying `changed` on
/// every event.
fn watch<K>(api: Api<K>, changed: Arc<Notify>) -> (Store<K>, impl Future<Output = ()> + Send)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    );
    let feed = async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                Ok(_) => changed.notify_one(),
                Err(err) => tracing::debug!("service proxy watch: {err}"),
            }
        }
    };
    (store, feed)
}

/// Why this machine cannot run the proxy, if it cannot: no `nft` on `path`. The text says
/// what to install; the node reports it in a condition.
pub fn missing_prerequisites(path: &std::ffi::OsStr) -> Option<String> {
    let found = std::env::split_paths(path).any(|dir| dir.join("nft").is_file());
    (!found).then(|| NftError::Missing.to_string())
}

/// An error and its causes, joined with ": ".
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
