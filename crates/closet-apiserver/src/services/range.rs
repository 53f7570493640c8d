//! The two ranges Services draw from: the service CIDR (IPv4) for cluster IPs and the
//! NodePort range. Parsing, membership and the few addresses that are never handed out
//! automatically.

use std::net::Ipv4Addr;

/// The default service CIDR, as k3s.
pub const DEFAULT_SERVICE_CIDR: &str = "10.43.0.0/16";
/// The default NodePort range, as upstream.
pub const DEFAULT_NODE_PORT_RANGE: &str = "30000-32767";
/// Offset of the cluster DNS address inside the service CIDR (10.43.0.10 by default); it is
/// reserved for the DNS Service, as the `kubernetes` Service's first address is.
pub const DNS_OFFSET: u32 = 10;

/// An IPv4 network such as `10.43.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceCidr {
    network: Ipv4Addr,
    prefix: u8,
}

impl ServiceCidr {
    /// Parses `a.b.c.d/n`. Host bits must be zero, and the network must leave room for the
    /// reserved addresses (a prefix of at most /28).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not a CIDR like {DEFAULT_SERVICE_CIDR}"))?;
        let network: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("{text:?}: {addr:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 28)
            .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to 28"))?;
        let cidr = Self { network, prefix };
        if u32::from(network) & !cidr.mask() != 0 {
            let base = Ipv4Addr::from(u32::from(network) & cidr.mask());
            return Err(format!(
                "{text:?} has host bits set; did you mean {base}/{prefix}?"
            ));
        }
        Ok(cidr)
    }

    fn mask(self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    /// How many addresses the network spans, network and broadcast included.
    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    /// Whether `ip` lies inside the network.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }

    /// The address `offset` places after the network address, if inside the network.
    pub fn nth(self, offset: u64) -> Option<Ipv4Addr> {
        if offset >= self.size() {
            return None;
        }
        let offset = u32::try_from(offset).ok()?;
        Some(Ipv4Addr::from(u32::from(self.network).checked_add(offset)?))
    }

    /// The `kubernetes` Service's address: the first after the network address.
    pub fn kubernetes_ip(self) -> Ipv4Addr {
        self.nth(1).unwrap_or(self.network)
    }

    /// The cluster DNS Service's address: the tenth after the network address.
    pub fn dns_ip(self) -> Ipv4Addr {
        self.nth(u64::from(DNS_OFFSET)).unwrap_or(self.network)
    }

    /// Whether `ip` may be handed out to a Service that did not ask for an address: inside
    /// the network, neither the network nor the broadcast address, and not one of the
    /// addresses kept for the `kubernetes` and DNS Services.
    pub fn assignable(self, ip: Ipv4Addr) -> bool {
        self.requestable(ip) && ip != self.kubernetes_ip() && ip != self.dns_ip()
    }

    /// Whether a Service may ask for `ip` explicitly: inside the network, and neither its
    /// network nor its broadcast address.
    pub fn requestable(self, ip: Ipv4Addr) -> bool {
        let broadcast = self.nth(self.size() - 1);
        self.contains(ip) && ip != self.network && Some(ip) != broadcast
    }
}

impl Default for ServiceCidr {
    fn default() -> Self {
        Self {
            network: Ipv4Addr::new(10, 43, 0, 0),
            prefix: 16,
        }
    }
}

impl std::fmt::Display for ServiceCidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An inclusive range of ports such as `30000-32767`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// The first port.
    pub first: u16,
    /// The last port.
    pub last: u16,
}

impl PortRange {
    /// Parses `first-last` (or a single port).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (first, last) = text.split_once('-').unwrap_or((text, text));
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    format!("{text:?} is not a port range like {DEFAULT_NODE_PORT_RANGE}")
                })
        };
        let (first, last) = (port(first)?, port(last)?);
        if first > last {
            return Err(format!("{text:?}: the first port is above the last"));
        }
        Ok(Self { first, last })
    }

    /// Whether `port` is inside the range.
    pub fn contains(self, port: i64) -> bool {
        (i64::from(self.first)..=i64::from(self.last)).contains(&port)
    }

    /// How many ports the range holds.
    pub fn size(self) -> u32 {
        u32::from(self.last - self.first) + 1
    }
}

impl Default for PortRange {
    fn default() -> Self {
        Self {
            first: 30000,
            last: 32767,
        }
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}
