//! Node networking: the CNI config containerd uses for pods, blackhole routes for the cluster
//! ranges, routes to the other nodes' pods, and the cluster DNS address on its dummy interface.

pub mod cni;
pub mod dns_address;
pub mod peer_routes;
pub mod route_table;
pub mod routes;
