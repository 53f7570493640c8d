//! Which resolvers the forwarder asks: the host's, as pods would see them.
//!
//! The host's `/etc/resolv.conf` is read the way the kubelet reads it for pods
//! (`closet_podspec::dns::ResolvConf::for_pods`): a loopback stub such as systemd-resolved's
//! `127.0.0.53` is replaced by the servers in `/run/systemd/resolve/resolv.conf`. Unlike a
//! pod, the forwarder runs in the host's network namespace, so when nothing but loopback
//! servers is configured (a local dnsmasq), those are used rather than none.

use std::net::{IpAddr, SocketAddr};

use closet_podspec::dns::ResolvConf;

/// The host's resolver configuration.
pub const ETC_RESOLV_CONF: &str = "/etc/resolv.conf";
/// systemd-resolved's list of the real upstream servers.
pub const SYSTEMD_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";

/// The upstream servers named by `etc` (the text of `/etc/resolv.conf`) and `systemd` (the
/// text of systemd-resolved's upstream file, if it exists), on port 53.
pub fn from_resolv_conf(etc: &str, systemd: Option<&str>) -> Vec<SocketAddr> {
    let mut servers = ResolvConf::for_pods(etc, systemd).nameservers;
    if servers.is_empty() {
        servers = ResolvConf::parse(etc).nameservers;
    }
    let mut out = Vec::new();
    for server in servers {
        if let Ok(ip) = server.parse::<IpAddr>() {
            let addr = SocketAddr::new(ip, 53);
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    out
}

/// The host's upstream servers, read from the files now.
pub fn host_upstreams() -> Vec<SocketAddr> {
    let etc = std::fs::read_to_string(ETC_RESOLV_CONF).unwrap_or_default();
    let systemd = std::fs::read_to_string(SYSTEMD_RESOLV_CONF).ok();
    from_resolv_conf(&etc, systemd.as_deref())
}

/// Parses an upstream given in a setting: `1.2.3.4`, `1.2.3.4:5353`, `[::1]:5353`.
pub fn parse_upstream(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{text:?} is not an address or address:port"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter().map(|a| a.parse().unwrap()).collect()
    }

    #[test]
    fn the_stub_resolver_gives_way_to_systemd_resolved_upstreams() {
        let etc = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch home.lan\n";
        let systemd = "nameserver 192.168.1.1\nnameserver 2001:db8::1\n";
        assert_eq!(
            from_resolv_conf(etc, Some(systemd)),
            addrs(&["192.168.1.1:53", "[2001:db8::1]:53"])
        );
    }

    #[test]
    fn plain_servers_are_kept_in_order_and_loopback_dropped() {
        let etc = "# comment\nnameserver 192.168.1.1\nnameserver 127.0.0.1\nnameserver 1.1.1.1\nnameserver 192.168.1.1\n";
        assert_eq!(
            from_resolv_conf(etc, None),
            addrs(&["192.168.1.1:53", "1.1.1.1:53"])
        );
    }

    #[test]
    fn only_loopback_servers_are_used_as_a_last_resort() {
        assert_eq!(
            from_resolv_conf("nameserver 127.0.0.1\n", None),
            addrs(&["127.0.0.1:53"])
        );
        assert!(from_resolv_conf("", None).is_empty());
        assert!(from_resolv_conf("nameserver fe80::1%eth0\n", None).is_empty());
    }

    #[test]
    fn settings_take_addresses_with_or_without_a_port() {
        assert_eq!(
            parse_upstream("127.0.0.1:5353"),
            Ok(addrs(&["127.0.0.1:5353"])[0])
        );
        assert_eq!(parse_upstream("10.0.0.1"), Ok(addrs(&["10.0.0.1:53"])[0]));
        assert_eq!(parse_upstream("[::1]:53"), Ok(addrs(&["[::1]:53"])[0]));
        assert!(parse_upstream("dns.example").is_err());
    }
}
