//! The node agent's HTTPS API (logs, exec, attach, port-forward, stats) and the apiserver's proxy to it.
