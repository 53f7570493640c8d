//! The embedded node agent's setup inside `closet server`: its name, address, certificates
//! and in-process API client.

use anyhow::Context;
use closet_apiserver::ApiServer;
use closet_cli::ServerArgs;
use closet_pki::ClusterTls;
use closet_pki::node::{NodeCredentials, issue_node, node_user};

/// The agent's options from the server's flags; issues (or reuses) the node's certificates
/// directly from the cluster CA, since the server holds it.
pub(crate) fn options(
    args: &ServerArgs,
    network: &crate::commands::server::Network,
    tls: &ClusterTls,
) -> anyhow::Result<closet_agent::NodeOptions> {
    let name = match &args.node_name {
        Some(name) => name.clone(),
        None => node_name_from_hostname(&rustix::system::uname().nodename().to_string_lossy()),
    };
    let agent_dir = args.data_dir.join("agent");
    let mut config = closet_agent::AgentConfig::new(name.clone(), &agent_dir);
    config.node_ip = args.node_ip;
    config.server_ip = server_ip(args);
    config.node_api_port = args.node_api_port;
    config.service_cidr = network.service_cidr.to_string();
    config.cluster_cidr = network.cluster_cidr.to_string();
    config.dns = dns_settings(args.disable_dns, &args.dns_upstream)?;
    let address = node_address(args);
    let addresses = vec![address.to_string()];
    let tls_dir = agent_dir.join("tls");
    let credentials = match NodeCredentials::load(&tls_dir)? {
        Some(creds)
            if creds.fits(&name, &addresses)
                && creds
                    .expires_in()
                    .is_some_and(|s| s > closet_pki::RENEW_BEFORE) =>
        {
            creds
        }
        _ => {
            let creds = issue_node(&tls.ca, &name, &addresses)
                .context("issuing the node's certificates")?;
            creds
                .store(&tls_dir)
                .context("storing the node's certificates")?;
            creds
        }
    };
    let node_api_tls = closet_nodeapi::tls::server_config(
        &credentials.ca_pem,
        &credentials.serving.cert_pem,
        &credentials.serving.key_pem,
    )
    .context("building the node API's TLS config")?;
    Ok(closet_agent::NodeOptions {
        agent: config,
        runtime_endpoint: args.container_runtime_endpoint.clone(),
        node_api_tls,
    })
}

/// The server's own address when it listens on one particular, non-loopback address.
fn server_ip(args: &ServerArgs) -> Option<std::net::IpAddr> {
    (!args.bind_address.is_unspecified() && !args.bind_address.is_loopback())
        .then_some(args.bind_address)
}

/// The address other nodes reach this machine at: `--node-ip`, or the local address that
/// routes towards the bind address (the default route's when bound to every address). The
/// embedded agent reports it as the node's InternalIP, and the `kubernetes` Service's
/// endpoints point at it.
pub(crate) fn node_address(args: &ServerArgs) -> std::net::IpAddr {
    args.node_ip
        .unwrap_or_else(|| closet_agent::node::facts::primary_address(server_ip(args)))
}

/// The node-local DNS server's settings from `--disable-dns` and `--dns-upstream`.
pub(crate) fn dns_settings(
    disabled: bool,
    upstreams: &[String],
) -> anyhow::Result<closet_agent::DnsSettings> {
    let upstreams = upstreams
        .iter()
        .map(|u| closet_dns::upstreams::parse_upstream(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| anyhow::anyhow!("--dns-upstream: {why}"))?;
    Ok(closet_agent::DnsSettings {
        disabled,
        upstreams,
    })
}

/// The agent's in-process API client, as the node's own user.
pub(crate) fn node_client(api: &ApiServer, node: &str) -> kube::Client {
    let identity = closet_apiserver::auth::User {
        name: node_user(node),
        groups: vec![closet_pki::node::NODE_GROUP.to_owned()],
    };
    crate::commands::server::client_for(api.router_as(identity), "closet-agent")
}

/// A hostname as a node name: lowercase, and only what a DNS subdomain allows.
pub(crate) fn node_name_from_hostname(hostname: &str) -> String {
    let name: String = hostname
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    if name.is_empty() {
        "closet".to_owned()
    } else {
        name.chars().take(253).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_become_valid_node_names() {
        assert_eq!(node_name_from_hostname("Pi-Kitchen"), "pi-kitchen");
        assert_eq!(node_name_from_hostname("my_laptop"), "my-laptop");
        assert_eq!(node_name_from_hostname("__"), "closet");
    }
}
