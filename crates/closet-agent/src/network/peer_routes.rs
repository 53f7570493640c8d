//! Routes to the other nodes' pods (host-gateway mode): for every other Node that has a pod
//! CIDR and an InternalIP, this node routes the pod CIDR through that address, so a pod here
//! reaches a pod there directly, with no tunnel. That needs the nodes on one LAN: a node
//! whose address this machine only reaches through a router is skipped with a warning.
//!
//! [`run`] watches Nodes and reconciles the routing table whenever the wanted routes change
//! (and every [`RESYNC`], to repair routes someone removed). [`sync`] is one reconcile: it
//! replaces missing or changed routes and deletes closet's routes to nodes that are gone, and
//! never touches a route without closet's protocol marker
//! ([`ROUTE_PROTO`](super::route_table::ROUTE_PROTO)).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector;
use kube::runtime::watcher::{self, Event};

use super::route_table::{Cidr, PeerRoute, Reach, RouteTable};

/// How often the routes are reconciled even when no Node changed.
pub const RESYNC: Duration = Duration::from_secs(30);

/// A route some Node asks for, before checking that its address is on a local network.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Candidate {
    /// The Node's name.
    pub node: String,
    /// The route to its pods.
    pub route: PeerRoute,
}

/// The routes to every node other than `own` that has pod CIDRs and an InternalIP of the
/// same family, and the problems that kept a node's routes out (a node still waiting for
/// its pod CIDR or address is no problem: it gets its route once it has both).
pub fn candidates(own: &str, nodes: &[Arc<Node>]) -> (Vec<Candidate>, Vec<String>) {
    let own_cidrs: BTreeSet<Cidr> = nodes
        .iter()
        .filter(|n| n.metadata.name.as_deref() == Some(own))
        .flat_map(|n| pod_cidrs(n))
        .collect();
    let mut wanted = Vec::new();
    let mut problems = Vec::new();
    for node in nodes {
        let Some(name) = node.metadata.name.as_deref() else {
            continue;
        };
        if name == own || node.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let addresses = internal_ips(node);
        for cidr in pod_cidrs(node) {
            if own_cidrs.contains(&cidr) {
                problems.push(format!(
                    "node {name} claims pod CIDR {cidr}, which is node {own}'s own; no route to it"
                ));
                continue;
            }
            let Some(via) = addresses
                .iter()
                .copied()
                .find(|a| a.is_ipv4() == cidr.addr.is_ipv4())
            else {
                if !addresses.is_empty() {
                    problems.push(format!(
                        "node {name} has pod CIDR {cidr} but no InternalIP of that address family; pods on node {own} cannot reach its pods"
                    ));
                }
                continue;
            };
            wanted.push(Candidate {
                node: name.to_owned(),
                route: PeerRoute { dst: cidr, via },
            });
        }
    }
    wanted.sort();
    (wanted, problems)
}

/// `spec.podCIDRs`, or `spec.podCIDR` when the list is empty, parsed.
fn pod_cidrs(node: &Node) -> Vec<Cidr> {
    let Some(spec) = &node.spec else {
        return Vec::new();
    };
    let listed = spec.pod_cidrs.clone().unwrap_or_default();
    let texts = if listed.is_empty() {
        spec.pod_cidr.iter().cloned().collect()
    } else {
        listed
    };
    texts.iter().filter_map(|t| Cidr::parse(t)).collect()
}

/// The node's InternalIP addresses, in the order it reports them.
fn internal_ips(node: &Node) -> Vec<IpAddr> {
    node.status
        .iter()
        .flat_map(|s| s.addresses.iter().flatten())
        .filter(|a| a.type_ == "InternalIP")
        .filter_map(|a| a.address.parse().ok())
        .collect()
}

/// What one reconcile did and what it could not do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Routes added or changed.
    pub replaced: Vec<PeerRoute>,
    /// Closet's routes removed.
    pub deleted: Vec<PeerRoute>,
    /// Why a node's pods are unreachable from here, one line each, naming both nodes.
    pub problems: Vec<String>,
}

/// Brings the routing table in line with `wanted`, the candidates of [`candidates`]:
/// candidates whose address is not on an attached network are skipped, a destination that
/// already has a route of someone else's is left alone, and closet's routes to destinations
/// no longer wanted are deleted. Errors from single routes are reported, not fatal.
pub async fn sync(
    own: &str,
    wanted: &[Candidate],
    table: &dyn RouteTable,
) -> Result<Outcome, String> {
    let mut outcome = Outcome::default();
    let mut keep: Vec<PeerRoute> = Vec::new();
    for candidate in wanted {
        let PeerRoute { dst, via } = candidate.route;
        let node = &candidate.node;
        match table.reach(via).await {
            Reach::OnLink => keep.push(candidate.route),
            Reach::Gateway(router) => outcome.problems.push(format!(
                "node {node}'s address {via} is not on a network node {own} is attached to (it is reached through the router {router}); host-gateway routing needs all nodes on one LAN, so pods on node {own} cannot reach pods on node {node} ({dst})"
            )),
            Reach::Local => outcome.problems.push(format!(
                "node {node} reports the address {via}, which belongs to node {own} itself; no route to its pods ({dst})"
            )),
            Reach::Unreachable(why) => outcome.problems.push(format!(
                "node {node}'s address {via} is unreachable from node {own} ({why}); pods on node {own} cannot reach pods on node {node} ({dst})"
            )),
        }
    }
    let table_now = table.list().await?;
    let wanted_dsts: BTreeSet<Cidr> = keep.iter().map(|r| r.dst).collect();
    for entry in table_now.iter().filter(|e| e.ours) {
        if let Some(via) = entry.gateway
            && !wanted_dsts.contains(&entry.dst)
        {
            let route = PeerRoute {
                dst: entry.dst,
                via,
            };
            match table.delete(route).await {
                Ok(()) => outcome.deleted.push(route),
                Err(why) => outcome.problems.push(why),
            }
        }
    }
    for route in keep {
        let same_dst = table_now.iter().filter(|e| e.dst == route.dst);
        let mut current = None;
        let mut foreign = false;
        for entry in same_dst {
            if entry.ours {
                current = entry.gateway;
            } else {
                foreign = true;
            }
        }
        if foreign {
            outcome.problems.push(format!(
                "{} already has a route on node {own} that closet did not add; leaving it (pods there may be unreachable)",
                route.dst
            ));
            continue;
        }
        if current == Some(route.via) {
            continue;
        }
        match table.replace(route).await {
            Ok(()) => outcome.replaced.push(route),
            Err(why) => outcome.problems.push(why),
        }
    }
    Ok(outcome)
}

/// Watches Nodes and keeps the routes to their pods until `shutdown` resolves. Routes stay
/// when it returns: pods keep their connectivity while the agent restarts.
pub async fn run(
    client: kube::Client,
    own: String,
    table: Arc<dyn RouteTable>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let api: Api<Node> = Api::all(client);
    let (store, writer) = reflector::store::<Node>();
    let events = reflector::reflector(
        writer,
        watcher::watcher(api, watcher::Config::default()).default_backoff(),
    );
    let mut events = std::pin::pin!(events);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut resync = tokio::time::interval(RESYNC);
    resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut synced = false;
    let mut applied: Option<Vec<Candidate>> = None;
    let mut reported: BTreeSet<String> = BTreeSet::new();
    loop {
        let force = tokio::select! {
            () = &mut shutdown => break,
            event = events.next() => match event {
                Some(Ok(Event::InitDone)) => { synced = true; false }
                Some(Ok(_)) => false,
                Some(Err(err)) => { tracing::warn!("watching nodes for pod routes: {err}"); continue }
                None => break,
            },
            _ = resync.tick() => true,
        };
        if !synced {
            continue;
        }
        let (wanted, mut problems) = candidates(&own, &store.state());
        if !force && applied.as_ref() == Some(&wanted) {
            continue;
        }
        match sync(&own, &wanted, table.as_ref()).await {
            Ok(outcome) => {
                for route in &outcome.replaced {
                    tracing::info!(node = %own, "routing pods {route}");
                }
                for route in &outcome.deleted {
                    tracing::info!(node = %own, "removed the pod route {route}");
                }
                problems.extend(outcome.problems);
                applied = Some(wanted);
            }
            Err(why) => problems.push(format!("cannot read the routing table: {why}")),
        }
        // Each problem once while it lasts, not at every resync.
        let now: BTreeSet<String> = problems.into_iter().collect();
        for problem in now.difference(&reported) {
            tracing::warn!("{problem}");
        }
        reported = now;
    }
}

#[cfg(test)]
#[path = "peer_routes_tests.rs"]
mod tests;
