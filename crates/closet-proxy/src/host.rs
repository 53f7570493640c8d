//! Host settings the proxy depends on.
//!
//! Pods on one node share the bridge `closet0`. When a pod reaches a Service whose chosen
//! endpoint sits on the same bridge, the request is routed (the ClusterIP is not on the
//! bridge's subnet), DNATed, and sent to the endpoint; the endpoint's reply goes straight
//! back across the bridge, switched rather than routed. Unless bridged IPv4 traffic passes
//! through the IP hooks (`br_netfilter` with `net.bridge.bridge-nf-call-iptables = 1`, the
//! setting kube-proxy requires too), conntrack never sees that reply, the client receives
//! it from the pod's own address instead of the ClusterIP, and the connection is reset.
//! The proxy turns the setting on; where it cannot, it masquerades all service traffic
//! instead, so replies come back through the node (at the cost of the client's address).

use std::path::Path;

const CALL_IPTABLES: &str = "/proc/sys/net/bridge/bridge-nf-call-iptables";

/// Makes sure bridged IPv4 traffic passes the IP hooks: loads `br_netfilter` if its sysctls
/// are missing and sets `bridge-nf-call-iptables` to 1. Says why when that is impossible.
pub async fn ensure_bridge_netfilter() -> Result<(), String> {
    let path = Path::new(CALL_IPTABLES);
    if !path.exists() {
        let loaded = tokio::process::Command::new("modprobe")
            .arg("br_netfilter")
            .output()
            .await;
        if !path.exists() {
            let detail = match loaded {
                Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                Err(e) => e.to_string(),
            };
            return Err(format!(
                "the kernel module br_netfilter is not loaded and `modprobe br_netfilter` did not load it ({detail})"
            ));
        }
    }
    match std::fs::read_to_string(path) {
        Ok(value) if value.trim() == "1" => Ok(()),
        _ => std::fs::write(path, "1\n").map_err(|e| {
            format!("cannot set net.bridge.bridge-nf-call-iptables=1 in {CALL_IPTABLES}: {e}")
        }),
    }
}
