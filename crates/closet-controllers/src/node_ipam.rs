//! Pod CIDRs for nodes: every Node gets its own /24 (by default) out of the cluster CIDR,
//! recorded in `spec.podCIDR` / `spec.podCIDRs`, from which its agent's CNI config hands out
//! pod addresses. Assignments are never moved: a node keeps its range for its lifetime, so
//! running pods keep their addresses across restarts.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::watcher;
use serde_json::json;

use crate::ControllerError;

/// The default cluster CIDR, as k3s.
pub const DEFAULT_CLUSTER_CIDR: &str = "10.42.0.0/16";
/// The default prefix length of each node's range.
pub const DEFAULT_NODE_PREFIX: u8 = 24;

/// An IPv4 network: address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ipv4Net {
    /// The network address (host bits zero).
    pub addr: Ipv4Addr,
    /// The prefix length, 0..=32.
    pub prefix: u8,
}

impl Ipv4Net {
    /// Parses `a.b.c.d/n`, refusing host bits set and prefixes over 32.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a CIDR like 10.42.0.0/16"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{text:?}: {addr:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to 32"))?;
        let net = Self { addr, prefix };
        if net.network() != addr {
            return Err(format!(
                "{text:?} has host bits set; did you mean {}?",
                net.with_addr(net.network())
            ));
        }
        Ok(net)
    }

    fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    fn with_addr(self, addr: Ipv4Addr) -> Self {
        Self {
            addr,
            prefix: self.prefix,
        }
    }

    /// The `index`-th subnet of length `prefix` inside this network, if there is one.
    pub fn subnet(self, prefix: u8, index: u32) -> Option<Self> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let bits = u32::from(prefix - self.prefix);
        if bits < 32 && index >= (1u32 << bits) {
            return None;
        }
        let step = if prefix == 32 {
            1
        } else {
            1u32 << (32 - u32::from(prefix))
        };
        let base = u32::from(self.network());
        let addr = base.checked_add(index.checked_mul(step)?)?;
        Some(Self {
            addr: Ipv4Addr::from(addr),
            prefix,
        })
    }
}

impl std::fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The first subnet of `cluster` with `prefix` that no node holds yet.
pub fn next_free(cluster: Ipv4Net, prefix: u8, taken: &BTreeSet<String>) -> Option<Ipv4Net> {
    (0u32..)
        .map_while(|i| cluster.subnet(prefix, i))
        .find(|net| !taken.contains(&net.to_string()))
}

/// What reconcile needs.
pub struct Context {
    client: kube::Client,
    cluster: Ipv4Net,
    prefix: u8,
}

/// Runs the allocator until `shutdown` resolves. One reconcile at a time, so two new nodes
/// can never be handed the same range.
pub async fn run(
    client: kube::Client,
    cluster: Ipv4Net,
    prefix: u8,
    shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    let nodes: Api<Node> = Api::all(client.clone());
    let ctx = Arc::new(Context {
        client,
        cluster,
        prefix,
    });
    Controller::new(nodes, watcher::Config::default())
        .with_config(controller::Config::default().concurrency(1))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(err) = result {
                tracing::debug!(error = %err, "node IPAM reconcile");
            }
        })
        .await;
}

/// Gives a node without a pod CIDR the next free one.
pub async fn reconcile(node: Arc<Node>, ctx: Arc<Context>) -> Result<Action, ControllerError> {
    let has_cidr = |node: &Node| {
        node.spec
            .as_ref()
            .and_then(|s| s.pod_cidr.as_ref())
            .is_some_and(|c| !c.is_empty())
    };
    if has_cidr(&node) || node.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let name = node.metadata.name.clone().unwrap_or_default();
    let api: Api<Node> = Api::all(ctx.client.clone());
    // The cached object may predate this controller's own assignment (another change to the
    // node can arrive first): only the API's current copy says whether a range is still due.
    match api
        .get_opt(&name)
        .await
        .map_err(ControllerError::api(format!("reading node {name}")))?
    {
        Some(current) if !has_cidr(&current) => {}
        _ => return Ok(Action::await_change()),
    }
    let taken: BTreeSet<String> = api
        .list(&ListParams::default())
        .await
        .map_err(ControllerError::api("listing nodes"))?
        .items
        .iter()
        .filter_map(|n| n.spec.as_ref()?.pod_cidr.clone())
        .collect();
    let Some(cidr) = next_free(ctx.cluster, ctx.prefix, &taken) else {
        tracing::warn!(
            node = %name,
            "the cluster CIDR {} has no free /{} left for this node",
            ctx.cluster,
            ctx.prefix
        );
        return Ok(Action::requeue(Duration::from_secs(60)));
    };
    let patch = json!({ "spec": { "podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()] } });
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(ControllerError::api(format!(
            "assigning {cidr} to node {name}"
        )))?;
    tracing::info!(node = %name, "assigned pod CIDR {cidr}");
    Ok(Action::await_change())
}

fn error_policy(_node: Arc<Node>, err: &ControllerError, _ctx: Arc<Context>) -> Action {
    tracing::warn!("pod CIDR allocation: {}", crate::error_chain(err));
    Action::requeue(Duration::from_secs(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_handed_out_in_order_skipping_taken_ones() {
        let cluster = Ipv4Net::parse("10.42.0.0/16").unwrap();
        let mut taken = BTreeSet::new();
        assert_eq!(
            next_free(cluster, 24, &taken).unwrap().to_string(),
            "10.42.0.0/24"
        );
        taken.insert("10.42.0.0/24".to_owned());
        taken.insert("10.42.2.0/24".to_owned());
        assert_eq!(
            next_free(cluster, 24, &taken).unwrap().to_string(),
            "10.42.1.0/24"
        );
        taken.insert("10.42.1.0/24".to_owned());
        assert_eq!(
            next_free(cluster, 24, &taken).unwrap().to_string(),
            "10.42.3.0/24"
        );
    }

    #[test]
    fn a_full_cluster_cidr_has_nothing_left() {
        let cluster = Ipv4Net::parse("10.42.0.0/23").unwrap();
        let taken: BTreeSet<String> = ["10.42.0.0/24", "10.42.1.0/24"].map(str::to_owned).into();
        assert_eq!(next_free(cluster, 24, &taken), None);
        assert_eq!(cluster.subnet(24, 2), None);
        assert_eq!(cluster.subnet(16, 0), None);
    }

    #[test]
    fn cidrs_with_host_bits_or_bad_prefixes_are_refused_with_a_suggestion() {
        let err = Ipv4Net::parse("10.42.1.0/16").unwrap_err();
        assert!(err.contains("did you mean 10.42.0.0/16"), "{err}");
        assert!(Ipv4Net::parse("10.42.0.0/33").is_err());
        assert!(Ipv4Net::parse("10.42.0.0").is_err());
        assert!(Ipv4Net::parse("::/0").is_err());
    }
}
