//! The names and addresses the serving certificate must cover, and how they are found on the
//! host: the hostname, every local interface address, the loopback names, and `--tls-san`.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The subject alternative names of a serving certificate: DNS names and IP addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServingNames {
    /// DNS names, lower-cased.
    pub dns: BTreeSet<String>,
    /// IP addresses.
    pub ips: BTreeSet<IpAddr>,
}

impl ServingNames {
    /// The names every serving certificate carries: `localhost`, `127.0.0.1` and `::1`.
    pub fn loopback() -> Self {
        let mut names = Self::default();
        names.dns.insert("localhost".to_owned());
        names.ips.insert(IpAddr::V4(Ipv4Addr::LOCALHOST));
        names.ips.insert(IpAddr::V6(Ipv6Addr::LOCALHOST));
        names
    }

    /// The loopback names plus this host's name and interface addresses, plus `extra`
    /// (`--tls-san` values: each an IP address or a DNS name).
    ///
    /// Host facts come from `/proc`; if a file cannot be read the names it would have given
    /// are skipped with a warning rather than failing the start, since the loopback names and
    /// `--tls-san` still make a usable certificate.
    pub fn discover(extra: &[String]) -> Self {
        let mut names = Self::loopback();
        match std::fs::read_to_string("/proc/sys/kernel/hostname") {
            Ok(host) => names.add(host.trim()),
            Err(err) => {
                tracing::warn!(%err, "cannot read the hostname for the serving certificate")
            }
        }
        match std::fs::read_to_string("/proc/net/fib_trie") {
            Ok(text) => names.ips.extend(parse_fib_trie_local(&text)),
            Err(err) => tracing::warn!(%err, "cannot read IPv4 addresses from /proc/net/fib_trie"),
        }
        // A host without IPv6 has no such file at all, which is not worth a warning.
        if let Ok(text) = std::fs::read_to_string("/proc/net/if_inet6") {
            names.ips.extend(parse_if_inet6(&text));
        }
        for value in extra {
            names.add(value);
        }
        names
    }

    /// Adds one value: an IP address if it parses as one, otherwise a DNS name. Empty values
    /// are ignored; `[::1]`-style brackets are accepted for IPv6.
    pub fn add(&mut self, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let unbracketed = value.trim_start_matches('[').trim_end_matches(']');
        match unbracketed.parse::<IpAddr>() {
            Ok(ip) => {
                self.ips.insert(ip);
            }
            Err(_) => {
                self.dns.insert(value.to_ascii_lowercase());
            }
        }
    }

    /// True when every name and address in `self` is also in `other`.
    pub fn is_subset(&self, other: &ServingNames) -> bool {
        self.dns.is_subset(&other.dns) && self.ips.is_subset(&other.ips)
    }
}

/// The local IPv4 addresses in `/proc/net/fib_trie`: each `|-- a.b.c.d` line directly followed
/// by a `/32 host LOCAL` line is an address assigned to this host.
fn parse_fib_trie_local(text: &str) -> BTreeSet<IpAddr> {
    let mut found = BTreeSet::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("|-- ") {
            last = addr.trim().parse().ok();
        } else if line.starts_with("/32 host LOCAL") {
            if let Some(addr) = last {
                found.insert(IpAddr::V4(addr));
            }
        } else if !line.starts_with('/') {
            last = None;
        }
    }
    found
}

/// The IPv6 addresses in `/proc/net/if_inet6`: the first column is the address as 32 hex
/// digits. Link-local addresses (fe80::/10) are left out: they need a zone to be dialled, so
/// no client can use them to reach the server by certificate name.
fn parse_if_inet6(text: &str) -> BTreeSet<IpAddr> {
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(|hex| {
            u128::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 32)
        })
        .map(Ipv6Addr::from)
        .filter(|ip| (ip.segments()[0] & 0xffc0) != 0xfe80)
        .map(IpAddr::V6)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIB_TRIE: &str = "\
Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.168.1.0/24 2 0 2
        |-- 192.168.1.0
           /24 link UNICAST
        |-- 192.168.1.23
           /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
        |-- 192.168.1.23
           /32 host LOCAL
";

    #[test]
    fn fib_trie_yields_local_host_addresses_only() {
        let found = parse_fib_trie_local(FIB_TRIE);
        let expected: BTreeSet<IpAddr> = ["127.0.0.1", "192.168.1.23"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn if_inet6_skips_link_local() {
        let text = "\
00000000000000000000000000000001 01 80 10 80       lo
fe800000000000000a0027fffe123456 02 40 20 80     eth0
20010db8000000000000000000000042 02 40 00 80     eth0
";
        let found = parse_if_inet6(text);
        let expected: BTreeSet<IpAddr> = ["::1", "2001:db8::42"]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn add_sorts_values_into_ips_and_names() {
        let mut names = ServingNames::default();
        names.add("10.0.0.5");
        names.add("[fd00::1]");
        names.add("Closet.Home.Arpa");
        names.add("  ");
        assert!(names.ips.contains(&IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5))));
        assert!(names.ips.iter().any(|ip| ip.to_string() == "fd00::1"));
        assert_eq!(
            names.dns.iter().collect::<Vec<_>>(),
            vec!["closet.home.arpa"]
        );
    }

    #[test]
    fn discover_always_has_loopback_and_extras() {
        let names = ServingNames::discover(&["api.closet.lan".to_owned()]);
        assert!(ServingNames::loopback().is_subset(&names));
        assert!(names.dns.contains("api.closet.lan"));
    }
}
