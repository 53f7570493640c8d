//! The node agent: registers the Node, renews its Lease and runs bound pods through CRI.
