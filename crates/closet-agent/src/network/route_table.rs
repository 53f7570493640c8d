//! The host's routing table, as far as routes to other nodes' pod ranges need it: list the
//! main table, replace and delete closet's own routes, and ask how an address is reached.
//!
//! Routes closet adds carry the routing protocol number [`ROUTE_PROTO`] (`ip route ...
//! proto 0xc1`), so they can be told apart from the host's own routes; deletions always
//! name it, so the kernel refuses to remove a route closet did not add. [`IpRouteTable`]
//! runs `ip` (iproute2) with JSON output; `fake::FakeRouteTable` records calls for unit
//! tests.

use std::fmt;
use std::net::IpAddr;

use futures::future::BoxFuture;

/// The routing protocol number that marks closet's routes. It is not assigned in iproute2's
/// `rt_protos` list nor used by the common routing daemons, so no other program's routes
/// carry it.
pub const ROUTE_PROTO: u8 = 0xc1;

/// An IP network: address (host bits cleared) and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n` or `x::y/n`; a bare address is a host route (/32 or /128), as `ip`
    /// prints them. Host bits are cleared.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr.parse::<IpAddr>().ok()?, Some(prefix.parse().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return None;
        }
        let addr = match addr {
            IpAddr::V4(v4) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V4((u32::from(v4) & mask).into())
            }
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
        };
        Some(Self { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A route to another node's pod range through that node's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerRoute {
    /// The other node's pod CIDR.
    pub dst: Cidr,
    /// The other node's address.
    pub via: IpAddr,
}

impl fmt::Display for PeerRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} via {}", self.dst, self.via)
    }
}

/// One route of the main table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    /// Its destination.
    pub dst: Cidr,
    /// Its gateway, if it has one.
    pub gateway: Option<IpAddr>,
    /// Whether it carries closet's protocol number.
    pub ours: bool,
}

/// How this machine reaches an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Directly, on an attached network (what a host-gateway route needs).
    OnLink,
    /// Through a router.
    Gateway(IpAddr),
    /// It is one of this machine's own addresses.
    Local,
    /// Not at all.
    Unreachable(String),
}

/// The routing table operations route sync needs.
pub trait RouteTable: Send + Sync {
    /// Every route of the main table, IPv4 and IPv6.
    fn list(&self) -> BoxFuture<'_, Result<Vec<RouteEntry>, String>>;
    /// Adds `route` with closet's protocol number, or replaces the route to its destination.
    fn replace(&self, route: PeerRoute) -> BoxFuture<'_, Result<(), String>>;
    /// Removes closet's route to `route.dst` through `route.via`.
    fn delete(&self, route: PeerRoute) -> BoxFuture<'_, Result<(), String>>;
    /// How `addr` is reached from here.
    fn reach(&self, addr: IpAddr) -> BoxFuture<'_, Reach>;
}

/// The `ip` arguments that add or replace `route`.
pub fn replace_args(route: PeerRoute) -> Vec<String> {
    let mut args = vec!["route".to_owned(), "replace".to_owned()];
    args.extend(route_selector(route));
    args
}

/// The `ip` arguments that delete closet's `route`.
pub fn delete_args(route: PeerRoute) -> Vec<String> {
    let mut args = vec!["route".to_owned(), "del".to_owned()];
    args.extend(route_selector(route));
    args
}

fn route_selector(route: PeerRoute) -> [String; 5] {
    [
        route.dst.to_string(),
        "via".to_owned(),
        route.via.to_string(),
        "proto".to_owned(),
        format!("{ROUTE_PROTO:#x}"),
    ]
}

/// Routes from `ip -j route show` output; `ours` marks them all as closet's (for output
/// filtered by `proto`). Entries without a usable destination (`default` aside) are skipped.
pub fn parse_routes(json: &[u8], ours: bool) -> Vec<RouteEntry> {
    let routes: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
    routes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|route| {
            let dst = match route["dst"].as_str()? {
                "default" => return None,
                dst => Cidr::parse(dst)?,
            };
            let gateway = route["gateway"].as_str().and_then(|g| g.parse().ok());
            Some(RouteEntry { dst, gateway, ours })
        })
        .collect()
}

/// What `ip -j route get <addr>` output says about reaching the address.
pub fn parse_reach(json: &[u8]) -> Reach {
    let routes: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
    let Some(route) = routes.as_array().and_then(|r| r.first()) else {
        return Reach::Unreachable("`ip route get` gave no route".to_owned());
    };
    if route["type"].as_str() == Some("local") {
        return Reach::Local;
    }
    match route["gateway"].as_str().and_then(|g| g.parse().ok()) {
        Some(gateway) => Reach::Gateway(gateway),
        None => Reach::OnLink,
    }
}

/// The real routing table, through `ip`.
#[derive(Clone, Copy, Debug, Default)]
pub struct IpRouteTable;

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

impl RouteTable for IpRouteTable {
    fn list(&self) -> BoxFuture<'_, Result<Vec<RouteEntry>, String>> {
        Box::pin(async {
            let proto = format!("{ROUTE_PROTO:#x}");
            let mut ours = Vec::new();
            let mut all = Vec::new();
            for family in ["-4", "-6"] {
                let marked =
                    super::ip(&strings(&["-j", family, "route", "show", "proto", &proto])).await?;
                ours.extend(parse_routes(&marked, true));
                let every = super::ip(&strings(&["-j", family, "route", "show"])).await?;
                all.extend(parse_routes(&every, false));
            }
            // Every route of the full listing, marked as closet's when the filtered listing
            // has it too.
            for entry in &mut all {
                entry.ours = ours
                    .iter()
                    .any(|o| o.dst == entry.dst && o.gateway == entry.gateway);
            }
            Ok(all)
        })
    }

    fn replace(&self, route: PeerRoute) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { super::ip(&replace_args(route)).await.map(drop) })
    }

    fn delete(&self, route: PeerRoute) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { super::ip(&delete_args(route)).await.map(drop) })
    }

    fn reach(&self, addr: IpAddr) -> BoxFuture<'_, Reach> {
        Box::pin(async move {
            match super::ip(&strings(&["-j", "route", "get", &addr.to_string()])).await {
                Ok(json) => parse_reach(&json),
                Err(why) => Reach::Unreachable(why),
            }
        })
    }
}

/// A routing table in memory that records every change, for unit tests.
#[cfg(test)]
pub mod fake {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    /// Starts with the routes given; `reach` answers [`Reach::OnLink`] unless told otherwise.
    #[derive(Debug, Default)]
    pub struct FakeRouteTable {
        /// The table.
        pub routes: Mutex<Vec<RouteEntry>>,
        /// Every replace and delete, as `replace <dst> via <gw>` / `delete <dst> via <gw>`.
        pub calls: Mutex<Vec<String>>,
        /// Answers for `reach` other than on-link.
        pub reach: Mutex<HashMap<IpAddr, Reach>>,
    }

    impl FakeRouteTable {
        /// The recorded calls, taken (the record starts empty again).
        pub fn take_calls(&self) -> Vec<String> {
            std::mem::take(&mut *lock(&self.calls))
        }

        /// Closet's routes in the table.
        pub fn ours(&self) -> Vec<PeerRoute> {
            let mut ours: Vec<PeerRoute> = lock(&self.routes)
                .iter()
                .filter(|r| r.ours)
                .filter_map(|r| {
                    Some(PeerRoute {
                        dst: r.dst,
                        via: r.gateway?,
                    })
                })
                .collect();
            ours.sort();
            ours
        }
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    impl RouteTable for FakeRouteTable {
        fn list(&self) -> BoxFuture<'_, Result<Vec<RouteEntry>, String>> {
            let routes = lock(&self.routes).clone();
            Box::pin(async move { Ok(routes) })
        }

        fn replace(&self, route: PeerRoute) -> BoxFuture<'_, Result<(), String>> {
            lock(&self.calls).push(format!("replace {route}"));
            let mut routes = lock(&self.routes);
            routes.retain(|r| r.dst != route.dst);
            routes.push(RouteEntry {
                dst: route.dst,
                gateway: Some(route.via),
                ours: true,
            });
            Box::pin(async { Ok(()) })
        }

        fn delete(&self, route: PeerRoute) -> BoxFuture<'_, Result<(), String>> {
            lock(&self.calls).push(format!("delete {route}"));
            let mut routes = lock(&self.routes);
            let before = routes.len();
            routes.retain(|r| !(r.ours && r.dst == route.dst && r.gateway == Some(route.via)));
            let found = routes.len() < before;
            Box::pin(async move {
                if found {
                    Ok(())
                } else {
                    Err(format!("no route {route}"))
                }
            })
        }

        fn reach(&self, addr: IpAddr) -> BoxFuture<'_, Reach> {
            let reach = lock(&self.reach)
                .get(&addr)
                .cloned()
                .unwrap_or(Reach::OnLink);
            Box::pin(async move { reach })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_normalise_and_print() {
        assert_eq!(
            Cidr::parse("10.42.1.7/24").unwrap().to_string(),
            "10.42.1.0/24"
        );
        assert_eq!(
            Cidr::parse("172.31.5.9").unwrap().to_string(),
            "172.31.5.9/32"
        );
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
        assert_eq!(
            Cidr::parse("fd00:42::1/64").unwrap().to_string(),
            "fd00:42::/64"
        );
        assert_eq!(Cidr::parse("10.42.0.0/33"), None);
        assert_eq!(Cidr::parse("default"), None);
    }

    #[test]
    fn commands_carry_the_protocol_marker() {
        let route = PeerRoute {
            dst: Cidr::parse("10.42.1.0/24").unwrap(),
            via: "172.31.5.3".parse().unwrap(),
        };
        assert_eq!(
            replace_args(route).join(" "),
            "route replace 10.42.1.0/24 via 172.31.5.3 proto 0xc1"
        );
        assert_eq!(
            delete_args(route).join(" "),
            "route del 10.42.1.0/24 via 172.31.5.3 proto 0xc1"
        );
    }

    #[test]
    fn route_listings_parse() {
        let json = br#"[{"dst":"default","gateway":"172.31.250.1","dev":"d0","flags":[]},
            {"dst":"10.42.6.0/24","gateway":"172.31.250.4","dev":"d0","protocol":"193","flags":[]},
            {"type":"blackhole","dst":"10.42.0.0/16","flags":[]},
            {"dst":"172.31.250.0/24","dev":"d0","protocol":"kernel","scope":"link","flags":[]}]"#;
        let routes = parse_routes(json, false);
        assert_eq!(routes.len(), 3);
        assert_eq!(routes[0].dst.to_string(), "10.42.6.0/24");
        assert_eq!(routes[0].gateway, Some("172.31.250.4".parse().unwrap()));
        assert_eq!(routes[1].gateway, None);
        assert!(parse_routes(b"not json", true).is_empty());
    }

    #[test]
    fn route_get_tells_on_link_gateway_and_local_apart() {
        let on_link = br#"[{"dst":"172.31.250.9","dev":"d0","prefsrc":"172.31.250.2","flags":[],"uid":0,"cache":[]}]"#;
        assert_eq!(parse_reach(on_link), Reach::OnLink);
        let routed = br#"[{"dst":"192.168.9.9","gateway":"172.31.250.1","dev":"d0","flags":[]}]"#;
        assert_eq!(
            parse_reach(routed),
            Reach::Gateway("172.31.250.1".parse().unwrap())
        );
        let local = br#"[{"type":"local","dst":"172.31.250.2","dev":"lo","flags":[]}]"#;
        assert_eq!(parse_reach(local), Reach::Local);
        assert!(matches!(parse_reach(b"[]"), Reach::Unreachable(_)));
    }
}
