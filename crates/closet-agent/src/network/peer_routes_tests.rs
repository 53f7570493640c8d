//! Route sync against the recording routing table.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use super::*;
use crate::network::route_table::RouteEntry;
use crate::network::route_table::fake::FakeRouteTable;

fn node(name: &str, pod_cidr: Option<&str>, ip: Option<&str>) -> Arc<Node> {
    let mut value = serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": { "name": name },
        "spec": {},
        "status": { "addresses": [{ "type": "Hostname", "address": name }] },
    });
    if let Some(cidr) = pod_cidr {
        value["spec"]["podCIDR"] = cidr.into();
        value["spec"]["podCIDRs"] = serde_json::json!([cidr]);
    }
    if let Some(ip) = ip {
        value["status"]["addresses"].as_array_mut().unwrap().insert(
            0,
            serde_json::json!({ "type": "InternalIP", "address": ip }),
        );
    }
    Arc::new(serde_json::from_value(value).unwrap())
}

fn route(dst: &str, via: &str) -> PeerRoute {
    PeerRoute {
        dst: Cidr::parse(dst).unwrap(),
        via: via.parse().unwrap(),
    }
}

fn entry(dst: &str, via: Option<&str>, ours: bool) -> RouteEntry {
    RouteEntry {
        dst: Cidr::parse(dst).unwrap(),
        gateway: via.map(|v| v.parse().unwrap()),
        ours,
    }
}

fn cluster() -> Vec<Arc<Node>> {
    vec![
        node("a", Some("10.42.0.0/24"), Some("172.31.5.2")),
        node("b", Some("10.42.1.0/24"), Some("172.31.5.3")),
        node("c", Some("10.42.2.0/24"), Some("172.31.5.4")),
    ]
}

async fn sync_nodes(own: &str, nodes: &[Arc<Node>], table: &FakeRouteTable) -> Outcome {
    let (wanted, _) = candidates(own, nodes);
    sync(own, &wanted, table).await.unwrap()
}

#[tokio::test]
async fn every_other_node_gets_a_route_through_its_address() {
    let table = FakeRouteTable::default();
    sync_nodes("a", &cluster(), &table).await;
    assert_eq!(
        table.take_calls(),
        [
            "replace 10.42.1.0/24 via 172.31.5.3",
            "replace 10.42.2.0/24 via 172.31.5.4"
        ]
    );
    // Nothing changed: nothing to do.
    sync_nodes("a", &cluster(), &table).await;
    assert!(table.take_calls().is_empty());
}

#[tokio::test]
async fn gone_and_changed_nodes_lose_or_move_their_routes() {
    let table = FakeRouteTable::default();
    sync_nodes("a", &cluster(), &table).await;
    table.take_calls();
    let mut nodes = cluster();
    nodes.remove(2);
    nodes[1] = node("b", Some("10.42.1.0/24"), Some("172.31.5.13"));
    let outcome = sync_nodes("a", &nodes, &table).await;
    assert_eq!(
        table.take_calls(),
        [
            "delete 10.42.2.0/24 via 172.31.5.4",
            "replace 10.42.1.0/24 via 172.31.5.13"
        ]
    );
    assert_eq!(outcome.deleted, [route("10.42.2.0/24", "172.31.5.4")]);
    assert_eq!(table.ours(), [route("10.42.1.0/24", "172.31.5.13")]);
}

#[tokio::test]
async fn routes_that_are_not_closets_are_never_touched() {
    let table = FakeRouteTable::default();
    *table.routes.lock().unwrap() = vec![
        entry("10.42.0.0/24", None, false),
        entry("10.42.0.0/16", None, false),
        entry("192.168.7.0/24", Some("172.31.5.1"), false),
        // Someone else's route to node c's pod range.
        entry("10.42.2.0/24", Some("172.31.5.99"), false),
    ];
    let outcome = sync_nodes("a", &cluster(), &table).await;
    assert_eq!(table.take_calls(), ["replace 10.42.1.0/24 via 172.31.5.3"]);
    assert_eq!(outcome.problems.len(), 1, "{outcome:?}");
    assert!(outcome.problems[0].contains("10.42.2.0/24"), "{outcome:?}");
    // Every node gone: only closet's route goes.
    sync_nodes("a", &cluster()[..1], &table).await;
    assert_eq!(table.take_calls(), ["delete 10.42.1.0/24 via 172.31.5.3"]);
    assert_eq!(table.routes.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_node_on_another_subnet_is_skipped_with_a_warning_naming_both() {
    let table = FakeRouteTable::default();
    table.reach.lock().unwrap().insert(
        "172.31.5.4".parse().unwrap(),
        Reach::Gateway("172.31.5.1".parse().unwrap()),
    );
    let outcome = sync_nodes("a", &cluster(), &table).await;
    assert_eq!(table.take_calls(), ["replace 10.42.1.0/24 via 172.31.5.3"]);
    assert_eq!(outcome.problems.len(), 1);
    let warning = &outcome.problems[0];
    assert!(
        warning.contains("node c") && warning.contains("node a"),
        "{warning}"
    );
    assert!(warning.contains("one LAN"), "{warning}");
}

#[tokio::test]
async fn a_route_that_stops_being_reachable_is_removed() {
    let table = FakeRouteTable::default();
    sync_nodes("a", &cluster(), &table).await;
    table.take_calls();
    table.reach.lock().unwrap().insert(
        "172.31.5.3".parse().unwrap(),
        Reach::Unreachable("no route".into()),
    );
    sync_nodes("a", &cluster(), &table).await;
    assert_eq!(table.take_calls(), ["delete 10.42.1.0/24 via 172.31.5.3"]);
}

#[test]
fn nodes_without_a_pod_cidr_or_address_wait_quietly() {
    let nodes = vec![
        node("a", Some("10.42.0.0/24"), Some("172.31.5.2")),
        node("b", None, Some("172.31.5.3")),
        node("c", Some("10.42.2.0/24"), None),
    ];
    let (wanted, problems) = candidates("a", &nodes);
    assert!(wanted.is_empty(), "{wanted:?}");
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn a_node_claiming_this_nodes_range_or_the_wrong_family_is_a_problem() {
    let nodes = vec![
        node("a", Some("10.42.0.0/24"), Some("172.31.5.2")),
        node("b", Some("10.42.0.0/24"), Some("172.31.5.3")),
        node("c", Some("10.42.2.0/24"), Some("fd00::3")),
    ];
    let (wanted, problems) = candidates("a", &nodes);
    assert!(wanted.is_empty(), "{wanted:?}");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("node b") && problems[0].contains("node a's own"));
    assert!(problems[1].contains("node c") && problems[1].contains("address family"));
}

#[test]
fn a_node_being_deleted_gets_no_route() {
    let mut nodes = cluster();
    let mut gone = (*nodes[1]).clone();
    gone.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::UNIX_EPOCH,
    ));
    nodes[1] = Arc::new(gone);
    let (wanted, _) = candidates("a", &nodes);
    let nodes: Vec<&str> = wanted.iter().map(|c| c.node.as_str()).collect();
    assert_eq!(nodes, ["c"]);
}
