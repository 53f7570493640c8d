//! Routes for the cluster and service ranges, so that a packet for a cluster address that
//! nothing on this machine claims never leaves through the default gateway onto the home
//! network:
//!
//! - the cluster (pod) range is blackholed; more specific routes (the node's own pod bridge,
//!   routes to other nodes' pod ranges) still win;
//! - the service range goes into the pod bridge, from the bridge's own address. A route
//!   lookup must succeed for the node itself (and host-network pods) to reach a ClusterIP:
//!   the proxy's DNAT in the output hook comes after it, and a blackhole fails `connect()`
//!   first. A packet for a service address that no rule rewrote goes nowhere but the bridge,
//!   whose only ports are pods. A blackhole with a higher metric stays behind that route, for
//!   when the bridge is gone.
//!
//! Routes go through `ip` (iproute2, on every Debian-family system) rather than netlink
//! bindings: a few idempotent commands at start-up do not justify the dependency.

use super::ip;

/// The metric of the blackhole behind the service range's route into the bridge.
const SERVICE_FALLBACK_METRIC: &str = "4242";

/// Installs (or keeps) a blackhole route for each CIDR.
pub async fn install_blackholes(cidrs: &[&str]) -> Result<(), String> {
    for cidr in cidrs {
        ip(&["route", "replace", "blackhole", cidr]).await?;
    }
    Ok(())
}

/// Routes `service_cidr` into `bridge` from the bridge's gateway address in `pod_cidr`
/// (creating the bridge, as the CNI bridge plugin would on the first pod, if it is not there
/// yet), with a blackhole of a higher metric behind it. Replaces the metric-0 blackhole that
/// earlier versions installed for the range.
pub async fn route_services(
    service_cidr: &str,
    bridge: &str,
    pod_cidr: &str,
) -> Result<(), String> {
    let (net, prefix) =
        parse_v4(pod_cidr).ok_or_else(|| format!("{pod_cidr:?} is not an IPv4 CIDR"))?;
    let gateway = std::net::Ipv4Addr::from(u32::from(net).wrapping_add(1));
    if ip(&["link", "show", "dev", bridge]).await.is_err() {
        ip(&["link", "add", bridge, "type", "bridge"]).await?;
    }
    // The address the bridge plugin gives the bridge (`isGateway`); "exists" is fine.
    let _ = ip(&["addr", "add", &format!("{gateway}/{prefix}"), "dev", bridge]).await;
    ip(&["link", "set", bridge, "up"]).await?;
    let gateway = gateway.to_string();
    ip(&[
        "route",
        "replace",
        service_cidr,
        "dev",
        bridge,
        "src",
        &gateway,
    ])
    .await?;
    ip(&[
        "route",
        "replace",
        "blackhole",
        service_cidr,
        "metric",
        SERVICE_FALLBACK_METRIC,
    ])
    .await
    .map(drop)
}

/// Removes IPv4 addresses from the pod bridge that do not belong to `pod_cidr`: left behind
/// by an earlier cluster on this machine, they make the bridge plugin refuse every new pod
/// ("already has an IP address different from ..."). The node's own gateway address stays,
/// so running pods keep their connectivity.
pub async fn fix_bridge_addresses(bridge: &str, pod_cidr: &str) -> Result<(), String> {
    let Ok(shown) = ip(&["-j", "-4", "addr", "show", "dev", bridge]).await else {
        // No bridge yet: the first pod creates it.
        return Ok(());
    };
    let links: serde_json::Value = serde_json::from_slice(&shown).unwrap_or_default();
    for stale in stale_addresses(&links, pod_cidr) {
        tracing::info!(
            "removing {stale} from {bridge}: it is not in this node's pod CIDR {pod_cidr}"
        );
        let _ = ip(&["addr", "del", &stale, "dev", bridge]).await;
    }
    Ok(())
}

/// The `addr/prefix` entries of `ip -j addr show` output outside `pod_cidr`.
fn stale_addresses(links: &serde_json::Value, pod_cidr: &str) -> Vec<String> {
    let Some((net, prefix)) = parse_v4(pod_cidr) else {
        return Vec::new();
    };
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    links
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
        .filter_map(|info| {
            let local = info["local"].as_str()?;
            let len = info["prefixlen"].as_u64()?;
            let ip: std::net::Ipv4Addr = local.parse().ok()?;
            let inside = u32::from(ip) & mask == u32::from(net) & mask && len == u64::from(prefix);
            (!inside).then(|| format!("{local}/{len}"))
        })
        .collect()
}

fn parse_v4(cidr: &str) -> Option<(std::net::Ipv4Addr, u32)> {
    let (addr, prefix) = cidr.split_once('/')?;
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
    Some((addr.parse().ok()?, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_outside_the_pod_cidr_are_stale() {
        let links = serde_json::json!([{ "ifname": "closet0", "addr_info": [
            { "family": "inet", "local": "10.42.0.1", "prefixlen": 24 },
            { "family": "inet", "local": "10.42.1.1", "prefixlen": 24 }
        ]}]);
        assert_eq!(stale_addresses(&links, "10.42.1.0/24"), ["10.42.0.1/24"]);
        assert!(stale_addresses(&links, "10.42.0.0/16").len() == 2);
        assert!(stale_addresses(&serde_json::json!([]), "10.42.1.0/24").is_empty());
    }
}
