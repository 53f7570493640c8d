//! Node networking: the CNI config containerd uses for pods, blackhole routes for the cluster
//! ranges, and routes to the other nodes' pods.

pub mod cni;
pub mod peer_routes;
pub mod route_table;
pub mod routes;
