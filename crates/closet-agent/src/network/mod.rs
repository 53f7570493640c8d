//! Node networking: the CNI config containerd uses for pods, blackhole routes, and the
//! cluster DNS address on its dummy interface.

pub mod cni;
pub mod dns_address;
pub mod routes;
