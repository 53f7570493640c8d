//! SPDY/3.1 framing and sessions, for port-forward and for exec through containerd's streaming server.
