//! Node networking: the CNI config containerd uses for pods, routes that keep the cluster
//! ranges on the node, routes to the other nodes' pods, and the cluster DNS address on its dummy interface.

pub mod cni;
pub mod dns_address;
pub mod peer_routes;
pub mod route_table;
pub mod routes;
