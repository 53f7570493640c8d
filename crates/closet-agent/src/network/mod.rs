//! Node networking: the CNI config containerd uses for pods, and blackhole routes.

pub mod cni;
pub mod routes;
