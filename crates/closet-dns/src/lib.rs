//! Cluster DNS, run by every node agent on the cluster DNS address (the 10th address of
//! the service range, `10.43.0.10`).
//!
//! - [`index`]: Services and EndpointSlices watched through the API, built into a [`Zone`]
//!   after every batch of events ([`records`] takes what DNS needs from the objects,
//!   [`zone`] builds the names).
//! - [`answer`]: one question against the zone: `<svc>.<ns>.svc.<domain>` A/AAAA (the
//!   ClusterIP, or a headless Service's ready endpoints), `<hostname>.<svc>.<ns>.svc.<domain>`,
//!   SRV for named ports, PTR for ClusterIPs and endpoints, ExternalName CNAMEs, computed
//!   `<a-b-c-d>.<ns>.pod.<domain>` names, NXDOMAIN and NODATA with the zone's SOA.
//! - [`forward`]: everything else goes to the host's upstream resolvers ([`upstreams`]),
//!   through a positive and negative [`cache`].
//! - [`handler`] and [`server`]: packets in and out, UDP and TCP.
//!
//! Hickory-proto parses and encodes the messages; the server is our own, since the
//! answers follow Kubernetes' DNS conventions rather than a zone file's.

#![cfg_attr(
    test,
    allow(clippy::unwrap_used, reason = "tests fail loudly on purpose")
)]

pub mod answer;
pub mod cache;
pub mod forward;
pub mod handler;
pub mod index;
pub mod records;
pub mod server;
pub mod upstreams;
pub mod zone;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use answer::Outcome;
pub use handler::{Handler, Transport};
pub use index::Index;
pub use server::Listeners;
pub use zone::{Zone, ZoneSettings};

/// The cluster domain, as upstream's default.
pub const DEFAULT_DOMAIN: &str = "cluster.local";

/// Which address of the service range the cluster DNS server takes.
pub const DNS_ADDRESS_INDEX: u32 = 10;

/// The cluster DNS address for a service range: its 10th address.
pub fn cluster_dns_address(service_cidr: &str) -> Option<IpAddr> {
    zone::nth_address(service_cidr, DNS_ADDRESS_INDEX)
}

/// How the DNS server runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The cluster domain.
    pub domain: String,
    /// Ranges whose reverse names are the cluster's (the service and cluster CIDRs).
    pub reverse_ranges: Vec<String>,
    /// Upstream resolvers; empty means the host's, from its resolv.conf.
    pub upstreams: Vec<SocketAddr>,
}

impl Config {
    /// `cluster.local`, the reverse names of `ranges`, the host's upstreams.
    pub fn new(ranges: &[&str]) -> Config {
        Config {
            domain: DEFAULT_DOMAIN.to_owned(),
            reverse_ranges: ranges.iter().map(|r| (*r).to_owned()).collect(),
            upstreams: Vec::new(),
        }
    }
}

/// Serves cluster DNS on `listeners` from the API behind `client` until `shutdown`
/// resolves.
pub async fn run(
    client: kube::Client,
    listeners: Listeners,
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    let ranges: Vec<&str> = config.reverse_ranges.iter().map(String::as_str).collect();
    let index = Index::new(ZoneSettings::new(&config.domain, &ranges));
    let follow_host = config.upstreams.is_empty();
    let upstreams = if follow_host {
        upstreams::host_upstreams()
    } else {
        config.upstreams
    };
    if upstreams.is_empty() {
        tracing::warn!(
            "cluster DNS has no upstream resolvers (none in {}): names outside {} get SERVFAIL",
            upstreams::ETC_RESOLV_CONF,
            config.domain
        );
    }
    tracing::info!(
        address = %listeners.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        upstreams = ?upstreams,
        "cluster DNS serving"
    );
    let forwarder = Arc::new(forward::Forwarder::new(forward::ForwardSettings::new(
        upstreams,
    )));
    let handler = Arc::new(Handler::new(index.clone(), forwarder.clone()));
    let watch = async {
        index.watch(client, std::future::pending()).await;
        std::future::pending::<()>().await;
    };
    let follow = async {
        if follow_host {
            follow_host_upstreams(&forwarder).await;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = watch => {}
        () = follow => {}
        () = listeners.serve(handler, shutdown) => {}
    }
}

/// How often the host's resolver files are read again.
const UPSTREAM_REREAD: std::time::Duration = std::time::Duration::from_secs(10);

/// Keeps the forwarder on the host's resolvers as they change (a laptop moving between
/// networks, a DHCP lease naming a new server), reading the files every few seconds. An
/// empty list (a resolv.conf being rewritten) keeps the servers there were.
async fn follow_host_upstreams(forwarder: &forward::Forwarder) {
    loop {
        tokio::time::sleep(UPSTREAM_REREAD).await;
        let now = upstreams::host_upstreams();
        if !now.is_empty() && *now != *forwarder.upstreams() {
            tracing::info!(upstreams = ?now, "the host's resolvers changed; cluster DNS forwards to them now");
            forwarder.set_upstreams(now);
        }
    }
}
